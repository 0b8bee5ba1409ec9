/* The IVR's synchronous API (Webex flows, TVox scripts):
 *   GET  /v1/ivr/lookup?number=...   R-V1: the caller's name and id and
 *        their most recent unresolved ticket (or most recent, policy
 *        lookup_case) with the number a caller is told, or "none found"
 *   POST /v1/ivr/tickets {call_id, number, ticket_type}   R-V2/R-T8: create
 *        the ticket on the caller's contact, bind it to the call, return its id
 *   GET  /v1/contacts/search?q=...   issue 24 item 2, for pop-service (an
 *        agent's "find the customer to link" of an unknown caller): the
 *        CRM's contacts whose name or e-mail match q (1..100 characters),
 *        {"contacts": [{id, name, email, url}]}; 502 when the CRM failed
 * Bearer-token auth: the current token, or the previous one while a
 * rotation is in progress (its use counted). The IVR has a caller on the
 * line: every answer comes within the configured deadline (504 past it);
 * look-ups are cached briefly; while the CRM keeps failing, a circuit
 * breaker answers "unknown" at once instead of holding the caller. */
#ifndef TKT_IVR_H
#define TKT_IVR_H

#include "cmn_http.h"
#include "cmn_phone.h"
#include "cmn_redis.h"
#include "tkt_crm.h"
#include "tkt_mirror.h"
#include "tkt_rules.h"
#include "tkt_store.h"

typedef struct {
    struct event_base *base;
    tkt_crm_t *crm;
    tkt_mirror_t *mirror; /* NULL: every look-up searches the CRM (issue 26 item 3) */
    cmn_redis_t *redis;
    tkt_store_t *store;
    const tkt_policy_t *policy;
    const cmn_country_t *country;
    cmn_phone_lookup_t lookup_form;
    const char *token;
    const char *token_previous; /* also accepted during a rotation; "" or NULL: none */
    int deadline_ms;
    int cache_s;
} tkt_ivr_deps_t;

typedef struct tkt_ivr tkt_ivr_t;

/* Registers the routes on `http`; deps' pointers are borrowed. */
tkt_ivr_t *tkt_ivr_new(const tkt_ivr_deps_t *deps, cmn_http_t *http);
void tkt_ivr_free(tkt_ivr_t *ivr);

#endif
