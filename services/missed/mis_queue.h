/* The grouper's per-replica job queue: the consumer of call-events, and
 * one event at a time through its steps. An event of a customer waits its
 * turn in fetch order; the head is read (its customer's state, mis_store),
 * decided (mis_rules), its op delivered to missed-call-ops, then its new
 * state stored; only then may its offset move (cmn_consumer_done). A step
 * that fails is tried again after retry_ms, from the read (deciding again
 * is harmless: the same op id comes out). A stored state carries the
 * offset it applied, so a replayed event after it is skipped. Events of
 * no customer, and messages that are not canonical events, are done at
 * once. On a rebalance what waits is given to the partitions' next owner.
 *
 * Loop thread only. The queue owns its consumer, its events and its retry
 * timer; the deps are borrowed and must outlive it. */
#ifndef MIS_QUEUE_H
#define MIS_QUEUE_H

#include "cmn_consumer.h"
#include "cmn_producer.h"
#include "mis_rules.h"
#include "mis_store.h"

#include <event2/event.h>
#include <stddef.h>

typedef struct mis_queue mis_queue_t;

typedef struct {
    struct event_base *base;
    mis_store_t *store;
    cmn_producer_t *producer; /* missed-call-ops */
    const mis_policy_t *policy;
    long retry_ms;
    /* The retry timer cannot be armed: the service must exit (cmn_service_fatal). */
    void (*on_fatal)(void *ctx, const char *reason);
    void *fatal_ctx;
} mis_queue_deps_t;

/* Registers its metrics. NULL out of memory. */
mis_queue_t *mis_queue_new(const mis_queue_deps_t *deps) __attribute__((warn_unused_result));
/* Creates the consumer on deps->base from opts (borrowed; its on_message,
 * on_revoke and ctx are the queue's, set here). -1 with errstr set. */
int mis_queue_consume(mis_queue_t *q, cmn_consumer_opts_t *opts, char *errstr, size_t errsz)
    __attribute__((warn_unused_result));

/* Shutdown (a cmn_service_drain_t's stop): fetch no more. */
void mis_queue_stop(mis_queue_t *q);
/* Events fetched whose effects are not durable yet (a drain's pending). */
size_t mis_queue_pending(const mis_queue_t *q);
/* Commits what is stored and closes the consumer, within timeout_ms
 * (cmn_consumer_close_within): unfinished events are replayed by the next
 * owner (their offsets never passed them). NULL-safe; idempotent. */
void mis_queue_close(mis_queue_t *q, int timeout_ms);
/* Frees the events still queued, the timer and the queue; after Redis's
 * pending callbacks ran (cmn_redis_close), which call into the head.
 * Closes the consumer first if still open. NULL-safe. */
void mis_queue_free(mis_queue_t *q);

#endif
