/* The Zendesk Support implementation of the CRM adapter (tkt_crm.h): every
 * operation as Zendesk's documented REST requests, over crm_curl (libcurl
 * multi on the loop) and behind crm_ratelimit (priorities, the account's
 * requests-per-minute budget, 429 Retry-After, backoff). The same code talks
 * to https://{subdomain}.zendesk.com and to tests/emulators/zendesk. Requests per
 * operation, priorities and retry rules: docs/zendesk-adapter.md. */
#ifndef CRM_ZENDESK_H
#define CRM_ZENDESK_H

#include "crm_provider.h"
#include "tkt_crm.h"

#include <event2/event.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *base_url; /* "https://acme.zendesk.com" (or the emulator's http://127.0.0.1:PORT) */
    int allow_plain_http; /* http:// to another host too (crm_curl_url_check) */
    /* Interactive requests (IVR look-ups): dropped unsent once queued this
     * long (the IVR has answered 504 by then), at most this many queued;
     * 0 = no limit. */
    int interactive_ttl_ms;
    size_t interactive_max_queued;
    const char *email;      /* API user; auth is Basic "{email}/token:{api_token}" */
    const char *api_token;  /* secret: never logged */
    int rate_limit_per_min; /* the plan's account limit (Team 200 ... 2500); 0 = 700 */
    double rate_safety;     /* share of it we use; 0 = 0.9 */
    int rate_window_ms;     /* budget window; 0 = 60000 (tests shorten it) */
    int timeout_ms;         /* one HTTP exchange; 0 = 10000 */
    int max_in_flight;      /* parallel requests; 0 = 8 */
    int max_tries;          /* per request, for 5xx / network errors; 0 = 5 */
    int backoff_base_ms;    /* 0 = 500 */
    int backoff_max_ms;     /* 0 = 30000 */
    int job_poll_first_ms;  /* first job_status poll after update_many; 0 = 200 */
    int job_poll_max_ms;    /* polls back off up to this; 0 = 2000 */
    int job_timeout_ms;     /* give a bulk job up (items retryable) after; 0 = 120000 */
} crm_zendesk_cfg_t;

/* Returns a new adapter on `base` (borrowed; must outlive it), or NULL with
 * the reason in errstr. cfg's strings are copied. The result's ops->free
 * cancels what is still pending: each pending callback then runs once, with
 * ok = 0 and error "shut down". Neither free nor any op may be called from
 * the adapter's own callbacks during free. */
tkt_crm_t *crm_zendesk_new(struct event_base *base, const crm_zendesk_cfg_t *cfg, char *errstr,
                           size_t errsz);

/* For benchmarks and tests; `crm` must come from crm_zendesk_new(). */
size_t crm_zendesk_requests_sent(const tkt_crm_t *crm); /* HTTP attempts, retries included */
size_t crm_zendesk_rate_limited(const tkt_crm_t *crm);  /* 429 answers received */
size_t crm_zendesk_retries(const tkt_crm_t *crm);       /* 5xx / network retries scheduled */

#endif
