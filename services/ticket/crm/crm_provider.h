/* The CRMs ticket-service can talk to, as a table of providers (in the
 * manner of librdkafka's SASL mechanisms): each CRM is one entry of this
 * folder exporting a const crm_provider_t, and one row of the table
 * (CRM_PROVIDERS below); CALLBUS_CRM picks the row by name. A provider owns its
 * settings (names, defaults, help: its part of --config-markdown), the
 * check of what it needs before it can start, its per-CRM limits and the
 * constructor of its adapter (tkt_crm.h). The core never names a CRM.
 * Everything here runs on the service's thread at start-up. */
#ifndef CRM_PROVIDER_H
#define CRM_PROVIDER_H

#include "cmn_config.h"
#include "cmn_phone.h"
#include "tkt_crm.h"

#include <event2/event.h>
#include <stddef.h>
#include <stdio.h>

/* THE TABLE: one row per CRM, X(CALLBUS_CRM's value, its provider), in
 * the order --config-markdown lists them. Adding a CRM is its files in this
 * folder and one row here. */
#define CRM_PROVIDERS(X)                                                                           \
    X(zendesk, crm_zendesk_provider)                                                               \
    X(dynamics, crm_dyn_provider)

/* CALLBUS_CRM's choices, "zendesk|dynamics", from the table: a constant for
 * the settings table (a string literal past its leading '|'). */
#define CRM_PROVIDER_NAME_(name, provider) "|" #name
#define CRM_PROVIDER_NAMES (&(CRM_PROVIDERS(CRM_PROVIDER_NAME_))[1])

/* What ticket-service's own settings ask of whichever CRM runs (strings
 * borrowed from the caller for the call they are passed to). */
typedef struct {
    const char *name; /* CALLBUS_CRM */
    cmn_phone_lookup_t lookup_form;
    const cmn_country_t *country; /* borrowed (static in cmn_phone) */
    int rate_limit;               /* requests per the CRM's window; 0: the CRM's documented one */
    int time_scale;               /* benchmarks: the CRM's rate windows this many times shorter */
    int timeout_ms;               /* one request */
    int allow_plain_http;         /* http:// to another host too (crm_curl_url_check) */
    int interactive_ttl_ms;       /* an IVR caller waits this long, no longer */
    size_t interactive_max_queued;
    int display;   /* CALLBUS_TICKET_CRM_DISPLAY: open tickets through the CRM's own API */
    int field_map; /* CALLBUS_TICKET_FIELDS is set: custom fields are written */
} crm_shared_cfg_t;

typedef struct crm_provider {
    const char *name; /* CALLBUS_CRM's value */
    /* Its settings, read from the environment into a block of
     * settings_size bytes (offsets into it); listed by --config-markdown. */
    const cmn_cfg_spec_t *settings;
    size_t n_settings;
    size_t settings_size;
    /* Writes one ticket may take per 10 minutes (the batch keeps under it). */
    int ticket_write_limit;
    /* Each setting missing, or one the CRM cannot honour, on its own line
     * to errs; a warning may be written too. Returns the number of problems
     * (0: it can start). */
    int (*check)(const void *settings, const crm_shared_cfg_t *shared, FILE *errs);
    /* The adapter, or NULL with the reason in errstr. The settings may be
     * freed once it returns (the adapter copies what it keeps). */
    tkt_crm_t *(*create)(struct event_base *base, const void *settings,
                         const crm_shared_cfg_t *shared, char *errstr, size_t errsz);
} crm_provider_t;

#define CRM_PROVIDER_DECLARE_(name, provider) extern const crm_provider_t provider;
CRM_PROVIDERS(CRM_PROVIDER_DECLARE_)

/* The provider called `name`; NULL for an unknown or NULL name. */
const crm_provider_t *crm_provider_find(const char *name);
/* The table, for listings and tests: index < crm_provider_count(). */
size_t crm_provider_count(void);
const crm_provider_t *crm_provider_at(size_t index);

/* Every provider's settings as Markdown rows (cmn_config_print_markdown). */
void crm_provider_print_markdown(FILE *out);

/* Reads p's settings from the environment, logs them (secrets masked),
 * checks them (problems to errs) and makes the adapter; the settings are
 * freed before it returns. NULL with errstr: "the CRM's settings (above)"
 * after a failed check, else the constructor's reason. base is borrowed
 * and must outlive the adapter. */
tkt_crm_t *crm_provider_start(const crm_provider_t *p, struct event_base *base,
                              const crm_shared_cfg_t *shared, FILE *errs, char *errstr,
                              size_t errsz);

/* For checks: settings a CRM cannot start without. */
typedef struct {
    const char *name; /* CALLBUS_... */
    const char *value;
} crm_required_t;

/* One line per empty one ("X: required with CALLBUS_CRM=<crm>, not set");
 * returns how many. */
int crm_provider_require(const char *crm, const crm_required_t *req, size_t n, FILE *errs);

#endif
