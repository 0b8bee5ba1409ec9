/* pop-service's HTTP API (docs/pop.md): agent sessions (R-P1), the pop
 * stream (R-P5), pop acknowledgements (pop_ack.h), agent actions (R-C4,
 * R-P6) and the agent page.
 *
 * Who may do what: the provisioning secret (CALLBUS_POP_PROVISIONING_SECRET,
 * Bearer) logs an agent in: whatever already knows who the agent is (the
 * contact center's SSO portal, the CTI desktop, an operator) vouches for
 * them, so callbus keeps no passwords of its own. The login answers a
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
#include "pop_store.h"

typedef struct pop_api pop_api_t;

/* Borrows everything. Adds its routes to http. */
pop_api_t *pop_api_new(cmn_http_t *http, const pop_config_t *cfg, pop_store_t *store,
                       pop_hub_t *hub, cmn_producer_t *producer, pop_ack_t *acks);
/* Requests waiting for Redis or Kafka (shutdown waits for them). */
size_t pop_api_in_flight(const pop_api_t *a);
void pop_api_free(pop_api_t *a);

#endif
