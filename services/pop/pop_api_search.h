/* GET /v1/contacts/search?q=... (issue 24 item 2, Deskie's unknown caller):
 * the signed-in agent searches the CRM's contacts by name or e-mail to link
 * the caller to one (then POST /v1/actions contact.linked). pop-service
 * checks the agent's session and asks ticket-service, which owns the CRM
 * client (pop_lookup_search, GET /v1/contacts/search there).
 *
 * Answers: 200 {"contacts": [{id, name, email, url}]}; 400 without q; 401
 * without a session; 503 when ticket-service or Redis could not answer, or
 * no look-up URL is configured (CALLBUS_POP_LOOKUP_URL). Loop thread. */
#ifndef POP_API_SEARCH_H
#define POP_API_SEARCH_H

#include "cmn_http.h"
#include "pop_api.h"
#include "pop_lookup.h"

typedef struct pop_api_search pop_api_search_t;

/* Borrows everything (the session checked through api); lookup may be
 * NULL (then 503). */
pop_api_search_t *pop_api_search_new(cmn_http_t *http, pop_api_t *api, pop_lookup_t *lookup);
/* Before the look-up client is freed, answers nothing itself: the client
 * answers what is pending ("shutting down"), which replies 503. */
void pop_api_search_free(pop_api_search_t *s);

#endif
