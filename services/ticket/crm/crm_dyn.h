/* The Microsoft Dynamics 365 (Dataverse Web API) implementation of the CRM
 * adapter (tkt_crm.h), on the shared layer (crm_adapter.h): our operations
 * as the requests of crm_dyn_request, answers read by crm_dyn_parse, every
 * request carrying the Entra ID token of crm_dyn_token. The mapping and the
 * limits it honours: docs/dynamics.md. */
#ifndef CRM_DYN_H
#define CRM_DYN_H

#include "cmn_phone.h"
#include "crm_provider.h"
#include "tkt_crm.h"

#include <event2/event.h>
#include <stddef.h>

typedef struct {
    /* The organisation, "https://org.crm.dynamics.com" (or the emulator's
     * http://127.0.0.1:PORT): Web API root = url + /api/data/v9.2, forms
     * url + /main.aspx, token scope url + /.default. */
    const char *url;
    int allow_plain_http;
    const char *authority;     /* NULL / "": https://login.microsoftonline.com */
    const char *tenant_id;     /* GUID or domain */
    const char *client_id;     /* the application user's app registration */
    const char *client_secret; /* secret: never logged */
    const char *phone_attrs;   /* "telephone1,mobilephone" (NULL: that) */
    const char *app_id;        /* optional model-driven app id for form URLs */
    cmn_phone_lookup_t lookup_form;
    const cmn_country_t *country; /* borrowed (static in cmn_phone) */
    /* Name-based GUIDs of our creations are made in this namespace (NULL:
     * a fixed one of callbus). */
    const char *id_namespace;
    /* The contact (GUID) a withheld-number call's case is made for: a case
     * needs a customer, and such a call has no contact. NULL / "": none,
     * and such a case is refused (a permanent failure: dead-lettered). */
    const char *withheld_contact;
    /* The incident's text column the call markers (R-M1, R-M3) are added
     * to, space-separated. NULL / "": markers are not written. */
    const char *marker_column;
    int interactive_ttl_ms;
    size_t interactive_max_queued;
    int rate_limit;      /* requests per window; 0 = Dataverse's 6,000 */
    int rate_window_ms;  /* 0 = 300,000 (5 minutes, sliding) */
    double rate_safety;  /* 0 = 0.9 */
    int max_in_flight;   /* 0 = 8; at most 52 (Dataverse's concurrency limit) */
    int timeout_ms;      /* 0 = 10,000 */
    int max_tries;       /* 0 = 5 */
    int backoff_base_ms; /* 0 = 500 */
    int backoff_max_ms;  /* 0 = 30,000 */
} crm_dyn_cfg_t;

#define CRM_DYN_RATE_LIMIT 6000
#define CRM_DYN_RATE_WINDOW_MS 300000
#define CRM_DYN_MAX_IN_FLIGHT 52

/* A new adapter on `base` (borrowed, must outlive it), or NULL with the
 * reason in errstr. cfg's strings are copied. ops->free ends what is
 * pending (each callback once, "shut down"). */
tkt_crm_t *crm_dyn_new(struct event_base *base, const crm_dyn_cfg_t *cfg, char *errstr,
                       size_t errsz);

/* For tests; `crm` must come from crm_dyn_new(). */
size_t crm_dyn_requests_sent(const tkt_crm_t *crm);
size_t crm_dyn_token_fetch_count(const tkt_crm_t *crm);

#endif
