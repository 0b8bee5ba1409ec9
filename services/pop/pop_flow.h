/* From consumed events to delivered pops: merge the event into the call's
 * state (pop_store), decide (pop_rules), add the pop to the agent's stream
 * and the bus once (pop_store_deliver), publish it on `screen-pops`, and
 * only then report the event done (its offset may move: offsets follow
 * effects). Redis or Kafka trouble retries the event's steps later (each is
 * idempotent by the pop id); nothing is skipped. */
#ifndef POP_FLOW_H
#define POP_FLOW_H

#include "cmn_producer.h"
#include "pop_lookup.h"
#include "pop_store.h"

#include <event2/event.h>
#include <stddef.h>

typedef struct pop_flow pop_flow_t;
typedef void (*pop_flow_done_fn)(void *ctx);

/* Borrows everything; new_case_url may hold {phone}. lookup (NULL: none)
 * gives the ringing notice the caller's contact (R-P2) when it answers
 * within lookup_wait_ms; a later answer still joins the call's state, for
 * the answer's pop. */
pop_flow_t *pop_flow_new(struct event_base *base, pop_store_t *store, cmn_producer_t *producer,
                         const char *new_case_url, pop_lookup_t *lookup, long lookup_wait_ms);
/* A message of call-events / ticket-events. Returns 0 (done will be
 * called once), or -1 when it is not a valid event (err says why; the
 * caller logs, counts and moves on) or out of memory (err "out of
 * memory": the caller gives the message back). */
int pop_flow_call_event(pop_flow_t *f, const char *payload, size_t len, pop_flow_done_fn done,
                        void *ctx, char *err, size_t errsz) __attribute__((warn_unused_result));
int pop_flow_ticket_event(pop_flow_t *f, const char *payload, size_t len, pop_flow_done_fn done,
                          void *ctx, char *err, size_t errsz) __attribute__((warn_unused_result));
size_t pop_flow_in_flight(const pop_flow_t *f);
/* Jobs still retrying are dropped without calling done (shutdown: their
 * events are replayed). NULL-safe. */
void pop_flow_free(pop_flow_t *f);

#endif
