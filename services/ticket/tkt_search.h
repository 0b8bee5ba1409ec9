/* GET /v1/contacts/search?q=...  (issue 24 item 2): the CRM's contacts
 * whose name or e-mail match what an agent typed, for pop-service's
 * "find the customer to link" of an unknown caller (Deskie's flow). A read
 * through ticket-service because it owns the CRM client and its rate
 * budget (interactive lane). Bearer auth with the IVR's tokens (pop-service
 * holds them for its R-P2 look-up); pop-service checks the agent.
 *
 * Answer: 200 {"contacts": [{"id", "name", "email", "url"}]} (up to
 * TKT_CRM_MAX_LIST, as the CRM orders them); 400 without a usable q (1..100
 * characters of UTF-8); 401; 502 when the CRM failed; 504 past the
 * deadline. Everything on the loop thread. */
#ifndef TKT_SEARCH_H
#define TKT_SEARCH_H

#include "cmn_http.h"
#include "tkt_crm.h"

#include <event2/event.h>

typedef struct {
    struct event_base *base;
    tkt_crm_t *crm;
    const char *token;
    const char *token_previous; /* "" or NULL: none */
    int deadline_ms;
} tkt_search_deps_t;

typedef struct tkt_search tkt_search_t;

/* Registers the route on `http`; deps' pointers are borrowed. NULL: out of
 * memory or the route was refused. */
tkt_search_t *tkt_search_new(const tkt_search_deps_t *deps, cmn_http_t *http);
/* After the CRM adapter is freed (its cancelled requests answer here). */
void tkt_search_free(tkt_search_t *s);

#endif
