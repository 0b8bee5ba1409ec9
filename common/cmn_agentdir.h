/* The agent directory (issue 26 item 1; R-I3): who is who between the
 * telephony provider's operators and the CRM's agents, for every service
 * that maps agents (ingest fills agent.crm_id; pop-service's click-to-call
 * reads it the other way). Its sources, merged into one cmn_agentmap_t:
 *   - CALLBUS_AGENT_MAP_FILE, a file (a mounted ConfigMap or Secret) of
 *     entries in cmn_agentmap.h's format, one a line; re-read when it
 *     changes, no restart;
 *   - CALLBUS_AGENT_MAP, the same entries in one variable (small setups; an
 *     environment string holds at most 128 KiB, about 6,000 agents).
 * An operator in both: the file's entry wins.
 *
 * Reloading: a timer on the service's event loop stat()s the file every
 * CALLBUS_AGENT_MAP_RELOAD_S. stat follows symlinks, so Kubernetes' atomic
 * update of a mounted ConfigMap (the `..data` symlink swapped to a new
 * directory) shows as a new inode; an edit in place as a new mtime or size.
 * A changed file is read whole and parsed into a new map; a file that
 * changed again while being read is left for the next tick. A file that is
 * gone, unreadable or malformed keeps the last good map: logged once per
 * version at error, counted in agent_directory_reloads_total{result="failed"}.
 *
 * Threads: everything here runs on the loop thread (the one that called
 * cmn_agentdir_new). The map is immutable and replaced by pointer only in
 * the timer's callback, so a reader on the loop sees one consistent map,
 * and the strings a look-up returns stay valid until the reader returns to
 * the loop: copy them to keep them longer (ingest copies the CRM id into
 * the event it builds). */
#ifndef CMN_AGENTDIR_H
#define CMN_AGENTDIR_H

#include "cmn_agentmap.h"
#include "cmn_config.h"

#include <event2/event.h>
#include <stddef.h>

/* The settings, as a service's configuration holds them. */
typedef struct {
    char *map;     /* CALLBUS_AGENT_MAP */
    char *file;    /* CALLBUS_AGENT_MAP_FILE; "" none */
    long reload_s; /* CALLBUS_AGENT_MAP_RELOAD_S */
} cmn_agentdir_cfg_t;

/* The three rows of a service's configuration table, for a
 * cmn_agentdir_cfg_t at offset `off` of its configuration struct: one
 * description for every service. */
#define CMN_AGENTDIR_CFG_SPEC(off)                                                                 \
    CMN_CFG_STR("CALLBUS_AGENT_MAP", "", (off) + offsetof(cmn_agentdir_cfg_t, map),                \
                "Operator to CRM agent map, provider:operator=crm_id,... (R-I3); small setups "    \
                "(at most about 6,000 agents fit in one variable)."),                              \
        CMN_CFG_STR("CALLBUS_AGENT_MAP_FILE", "", (off) + offsetof(cmn_agentdir_cfg_t, file),      \
                    "A file of the same entries, one a line, '#' comment lines (a mounted "        \
                    "ConfigMap or Secret); re-read when it changes, no restart; its entries win "  \
                    "over CALLBUS_AGENT_MAP's; empty: none."),                                     \
        CMN_CFG_NUM("CALLBUS_AGENT_MAP_RELOAD_S", "5", 1, 3600,                                    \
                    (off) + offsetof(cmn_agentdir_cfg_t, reload_s),                                \
                    "How often CALLBUS_AGENT_MAP_FILE is checked for a change.")

typedef struct cmn_agentdir cmn_agentdir_t;

/* Loads the sources and, with a file, arms the reload timer on `base`
 * (NULL: a batch job, the callbus-reconcile run: loaded once, no reload).
 * -1 with errstr (the source, line and entry) when a source is malformed
 * or the file cannot be read: a service does not start on half a
 * directory. The settings are copied. */
int cmn_agentdir_new(struct event_base *base, const cmn_agentdir_cfg_t *cfg, cmn_agentdir_t **out,
                     char *errstr, size_t errsz) __attribute__((warn_unused_result));

/* The map now, borrowed until the loop next runs (see Threads above). */
const cmn_agentmap_t *cmn_agentdir_map(const cmn_agentdir_t *d);
/* cmn_agentmap_lookup / cmn_agentmap_operator on the map now. */
const char *cmn_agentdir_lookup(const cmn_agentdir_t *d, const char *provider,
                                const char *provider_agent_id);
const char *cmn_agentdir_operator(const cmn_agentdir_t *d, const char *provider,
                                  const char *crm_id);

/* What the timer does, now: 1 a new map is in place, 0 nothing changed
 * (or the file is being written), -1 the changed file is unusable (the
 * last good map kept). Loop thread. */
int cmn_agentdir_check(cmn_agentdir_t *d);

/* NULL-safe. The maps it handed out are freed with it. */
void cmn_agentdir_free(cmn_agentdir_t *d);

#endif
