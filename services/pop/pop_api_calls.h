/* pop-service's click-to-call route (issue 24 item 1; docs/pop.md
 * "Click-to-call"):
 *   POST /v1/calls  {"number": "...", "ticket_id": "..."?} with the agent's
 *                   session (cookie or Bearer; JSON only, as every POST)
 * places the call through the configured provider as the signed-in agent
 * (pop_dial.h) and answers 202 {"status": "placed", "provider", "call_id",
 * "ticket_id"}; a refusal, ours or the provider's, is a JSON error with the
 * provider's reason ({"error", "provider", "provider_code"}; 429 with
 * Retry-After). Click-to-call off: 501. Loop thread only. */
#ifndef POP_API_CALLS_H
#define POP_API_CALLS_H

#include "cmn_http.h"
#include "pop_api.h"
#include "pop_dial.h"

typedef struct pop_api_calls pop_api_calls_t;

/* Borrows everything; dial NULL: click-to-call off (the route says so).
 * NULL when out of memory or the route cannot be added. */
pop_api_calls_t *pop_api_calls_new(cmn_http_t *http, pop_api_t *api, pop_dial_t *dial);
/* Requests not answered yet. */
size_t pop_api_calls_in_flight(const pop_api_calls_t *o);
void pop_api_calls_free(pop_api_calls_t *o);

#endif
