/* pop-service's HTTP API (docs/pop.md): agent sessions (R-P1), the pop
 * stream (R-P5), pop acknowledgements (pop_ack.h), agent actions (R-C4,
 * R-P6) and the agent page.
 *
 * Who may do what: an agent signs in with the company's OpenID Connect
 * provider (pop_api_oidc.c: an ID token for POST /v1/sessions/oidc); a
 * machine client that already knows who the agent is (a CTI desktop)
 * logs the agent in with the provisioning secret
 * (CALLBUS_POP_PROVISIONING_SECRET, Bearer, POST /v1/sessions), never
 * asked of an agent; callbus keeps no passwords of its own. A login answers a
 * session token, also set as an HttpOnly SameSite=Strict cookie so the
 * page's EventSource carries it without it ever being in a URL. Every
 * other call takes that token (cookie or Bearer) and acts for that agent
 * only; unknown, expired or ended tokens get 401. */
#ifndef POP_API_H
#define POP_API_H

#include "cmn_http.h"
#include "cmn_producer.h"
#include "pop_ack.h"
#include "pop_config.h"
#include "pop_hub.h"
#include "pop_session.h"
#include "pop_store.h"

typedef struct pop_api pop_api_t;

/* Borrows everything. Adds its routes to http. */
pop_api_t *pop_api_new(cmn_http_t *http, const pop_config_t *cfg, pop_store_t *store,
                       pop_hub_t *hub, cmn_producer_t *producer, pop_ack_t *acks);
/* Requests waiting for Redis or Kafka (shutdown waits for them). */
size_t pop_api_in_flight(const pop_api_t *a);

/* The request's body when it is a JSON object without duplicate keys
 * (caller owns it), else NULL. */
json_t *pop_api_body_object(struct evhttp_request *req);

/* For the sign-in routes (pop_api_oidc.c): each answers req. */
/* Opens who's session as POST /v1/sessions does (token, cookie, 201
 * body); 0, or -1 when req was answered with an error at once. who's
 * strings are copied before it returns. */
int pop_api_open_session(pop_api_t *a, struct evhttp_request *req, const pop_login_t *who);
/* The request's session (cookie or Bearer) may live until until_ms if it
 * is crm_id's (else 401); 200 with the session's body. */
void pop_api_extend_session(pop_api_t *a, struct evhttp_request *req, const char *crm_id,
                            int64_t until_ms);
/* Ends crm_id's session and its streams on every replica: 200, or 404
 * when the agent has none. */
void pop_api_revoke(pop_api_t *a, struct evhttp_request *req, const char *crm_id);
/* For other modules' routes (pop_api_calls.c, pop_api_search.c): resolves the request's
 * session (cookie or Bearer). 0: cb is called once, later, with the
 * agent's session (borrowed for the call; the caller then answers req), or
 * with who NULL when req was already answered (401, 503). -1: req was
 * answered at once and cb is not called. */
typedef void (*pop_api_agent_fn)(void *ctx, const pop_session_info_t *who);
int pop_api_with_agent(pop_api_t *a, struct evhttp_request *req, pop_api_agent_fn cb, void *ctx)
    __attribute__((warn_unused_result));
/* The pages' Content-Security-Policy (own scripts; the OpenID Connect
 * issuer for the sign-in), for other modules' pages (pop_api_stats.c).
 * Borrowed: lives as long as a. */
const char *pop_api_csp(const pop_api_t *a);
void pop_api_free(pop_api_t *a);

#endif
