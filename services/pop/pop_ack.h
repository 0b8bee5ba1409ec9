/* Acknowledged pops, with a fallback (R-P5, issue 22 item 4; docs/pop.md
 * "Acknowledgements and the fallback").
 *
 * pop_store_deliver puts each new pop in a Redis sorted set scored by its
 * deadline (delivery + CALLBUS_POP_ACK_TIMEOUT_MS, Redis' clock). The page
 * (or CRM app) that displayed it acknowledges it (POST /v1/pops/ack, on
 * any replica): pop_ack_one takes it out of the set. Every replica sweeps
 * the set: an overdue pop is claimed by exactly one of them (its score
 * moved a lease ahead, atomically), which sends the fallback — a
 * pop.unacknowledged agent action for ticket-service to display the ticket
 * or profile through the CRM's own channel — and removes the pop from the
 * set only once Kafka stored that action. A replica that dies before or
 * during the fallback leaves the pop in the set: another replica claims it
 * when the lease runs out. A pop with nothing to display (a ringing
 * notice, a new-case form) is counted as "no_channel"; a fallback Kafka
 * would not take for CALLBUS_POP_FALLBACK_GIVE_UP_S is dropped, counted.
 * A pop's first acknowledgement (in time or late) is also published on
 * agent-actions as pop.acknowledged, its action id derived from the pop
 * id, for the statistics' pops acknowledged (R-S1, issue 25 item 3): sent
 * once the ack is stored, not retried (a Kafka failure loses that one
 * count, logged; the ack itself stands).
 *
 * Metrics (admin /metrics): pop_acknowledged_total{kind},
 * pop_ack_late_total, pop_ack_latency_ms (histogram, first acks),
 * pop_fallback_total{result="sent"|"no_channel"|"dropped"}.
 *
 * Loop thread only. Borrows store and producer (outlive it). */
#ifndef POP_ACK_H
#define POP_ACK_H

#include "cmn_producer.h"
#include "pop_store.h"

#include <event2/event.h>

typedef struct pop_ack pop_ack_t;

typedef struct {
    long sweep_ms;   /* how often this replica sweeps */
    long lease_ms;   /* a claimed pop is claimable again after this (its claimer died) */
    long give_up_ms; /* a pop this old (since delivery) is dropped, not sent */
} pop_ack_opts_t;

/* Starts sweeping at once. NULL out of memory. */
pop_ack_t *pop_ack_new(struct event_base *base, pop_store_t *store, cmn_producer_t *producer,
                       const pop_ack_opts_t *o) __attribute__((warn_unused_result));
/* Sweeps no more (shutdown); fallbacks already sent finish. */
void pop_ack_stop(pop_ack_t *a);
/* Fallbacks sent to Kafka and not yet reported. */
size_t pop_ack_in_flight(const pop_ack_t *a);
/* After the producer is closed (its reports point into a). NULL-safe. */
void pop_ack_free(pop_ack_t *a);

typedef enum {
    POP_ACK_IN_TIME = 1, /* first ack, before the deadline: counted */
    POP_ACK_LATE,        /* first ack, after it: counted late; the fallback went or goes */
    POP_ACK_REPEATED,    /* acknowledged before: nothing counted */
    POP_ACK_UNKNOWN,     /* no such pop of this agent (another's, or expired) */
} pop_ack_result_t;

/* err non-NULL: Redis trouble, result meaningless. */
typedef void (*pop_ack_fn)(void *ctx, pop_ack_result_t result, const char *err);
/* The agent's acknowledgement of one of their pops. 0 (cb will be
 * called) or -1 (Redis unavailable). */
int pop_ack_one(pop_ack_t *a, const char *agent, const char *pop_id, pop_ack_fn cb, void *ctx)
    __attribute__((warn_unused_result));

const char *pop_ack_result_name(pop_ack_result_t r);

#endif
