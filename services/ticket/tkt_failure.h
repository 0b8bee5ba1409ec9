/* The one classification of ticket-service's failures (issue 19 item 4):
 * whether asking again can ever succeed. Every path that gets a CRM answer
 * which is not a success asks here; the adapters only report what they
 * know in the result (its HTTP status, closed, refused).
 *
 *   permanent  the CRM (a 4xx other than those below) or the adapter
 *              (res->refused) refused the op as asked: the same answer
 *              for ever. The event goes to the dead-letter topic.
 *   transient  no answer, 5xx, 408, 425, 429 (overload), 409 (a
 *              conflict that resolves), 401/403 (our credentials, not the
 *              op: the op waits until they work again), and any failure
 *              outside the CRM (Redis, Kafka, memory). Retried with
 *              backoff until CALLBUS_TICKET_RETRY_LIMIT_S, then dead-lettered.
 *
 * A write refused because its ticket is closed (res->closed) is neither:
 * R-T7/R-T10 send it elsewhere before anything is classified.
 * Pure functions, any thread. */
#ifndef TKT_FAILURE_H
#define TKT_FAILURE_H

#include "tkt_crm.h"

#include <stdint.h>

typedef enum { TKT_FAIL_NONE, TKT_FAIL_TRANSIENT, TKT_FAIL_PERMANENT } tkt_failure_t;

/* What res says about asking again (TKT_FAIL_NONE for a success). */
tkt_failure_t tkt_failure_of(const tkt_crm_result_t *res);

/* Whether an HTTP answer that is not a success (0: none) may succeed when
 * asked again: the "transient" row above. The adapters mark a bulk
 * request's items retryable with it when the whole request failed. */
int tkt_failure_status_transient(int http_status);

/* A transient failure first seen at first_ms (monotonic) and still there at
 * now_ms has outlived limit_ms (> 0): it is given up on (dead-lettered). */
int tkt_failure_outlived(int64_t first_ms, int64_t now_ms, int64_t limit_ms);

/* "permanent" / "retry_limit": the decision as a dead letter names it. */
#define TKT_DECISION_PERMANENT "permanent"
#define TKT_DECISION_RETRY_LIMIT "retry_limit"

#endif
