/* Provider operator -> CRM agent mapping (R-I3): one immutable map, built
 * from text and never changed after; cmn_agentdir.h keeps the current one
 * and replaces it whole when its sources change.
 *
 * Text format (the CALLBUS_AGENT_MAP variable and the CALLBUS_AGENT_MAP_FILE
 * file alike): entries separated by ',' or line ends,
 *   callgear:101=900001
 *   twilio:alice=900003, webex:3b2a...=900004
 * each provider, the operator id as the event carries it (Twilio's
 * "client:alice" arrives as "alice"; an id may itself contain ':'), and the
 * CRM user id after the last '='. Blanks around an entry are ignored, and so
 * is a line whose first non-blank character is '#' (a comment). A call
 * handled by an unmapped operator is ignored for ticketing downstream; the
 * mapping only states who is who.
 *
 * Look-ups both ways are hash look-ups (tens of thousands of agents). An
 * operator mapped twice at one provider: the first entry wins, and so for an
 * agent with two operators at one provider (cmn_agentmap_operator). */
#ifndef CMN_AGENTMAP_H
#define CMN_AGENTMAP_H

#include <stddef.h>

typedef struct cmn_agentmap cmn_agentmap_t;

/* One source of entries: `name` heads its error messages ("CALLBUS_AGENT_MAP",
 * a file's path; NULL: none), `text` is the entries (NULL: none). */
typedef struct {
    const char *name;
    const char *text;
} cmn_agentmap_src_t;

/* Returns a new map of every source's entries, in order (earlier sources win
 * a duplicate), or NULL with errstr naming the source, the line and the
 * malformed entry. The texts are copied. */
cmn_agentmap_t *cmn_agentmap_build(const cmn_agentmap_src_t *srcs, size_t n, char *errstr,
                                   size_t errsz);
/* cmn_agentmap_build of one unnamed source: a new map (empty for an empty
 * spec), or NULL with errstr. */
cmn_agentmap_t *cmn_agentmap_parse(const char *spec, char *errstr, size_t errsz);
/* Borrowed CRM id (lives as long as the map), or NULL when the operator is
 * not mapped. */
const char *cmn_agentmap_lookup(const cmn_agentmap_t *m, const char *provider,
                                const char *provider_agent_id);
/* The other way (click-to-call places a call as the agent's operator,
 * issue 24 item 1): the provider's operator id of a CRM agent, borrowed, or
 * NULL when the agent has none at that provider. */
const char *cmn_agentmap_operator(const cmn_agentmap_t *m, const char *provider,
                                  const char *crm_id);
/* Entries (duplicates included). */
size_t cmn_agentmap_size(const cmn_agentmap_t *m);
/* Bytes the map holds (its text, entries and indexes), for a gauge. */
size_t cmn_agentmap_bytes(const cmn_agentmap_t *m);
void cmn_agentmap_free(cmn_agentmap_t *m);

#endif
