/* The stats service's per-replica job queue (issue 25 item 3): the
 * consumer of its seven topics (group `stats`), and one message at a time
 * through its steps: the state it needs read (sta_store_read), its plan
 * made (sta_decide), the plan applied with the partition's offset in one
 * atomic step (sta_store_apply); only then may its offset move
 * (cmn_consumer_done). A Redis step that fails is tried again, from the
 * read, after retry_ms doubled per failure up to max_retry_ms; nothing is
 * committed meanwhile. Messages that add nothing, and messages that are
 * not what their topic carries, are done at once. On a rebalance what
 * waits is given to the partitions' next owner, whose applies the offset
 * guard keeps from counting twice.
 *
 * Loop thread only. The queue owns its consumer, jobs and timer; deps are
 * borrowed and must outlive it. */
#ifndef STA_QUEUE_H
#define STA_QUEUE_H

#include "cmn_consumer.h"
#include "sta_metrics.h"
#include "sta_store.h"

#include <event2/event.h>
#include <stddef.h>

typedef struct sta_queue sta_queue_t;

typedef struct {
    struct event_base *base;
    sta_store_t *store;
    sta_metrics_t *metrics;
    long retry_ms, max_retry_ms;
    /* The retry timer cannot be armed: the service must exit. */
    void (*on_fatal)(void *ctx, const char *reason);
    void *fatal_ctx;
} sta_queue_deps_t;

/* NULL out of memory. */
sta_queue_t *sta_queue_new(const sta_queue_deps_t *deps) __attribute__((warn_unused_result));
/* Creates the consumer of the seven topics (prefixed) from opts (borrowed;
 * topics, on_message, on_revoke and ctx are set here). -1 with errstr. */
int sta_queue_consume(sta_queue_t *q, cmn_consumer_opts_t *opts, char *errstr, size_t errsz)
    __attribute__((warn_unused_result));
void sta_queue_stop(sta_queue_t *q);
size_t sta_queue_pending(const sta_queue_t *q);
/* Commits what is stored and closes the consumer within timeout_ms.
 * NULL-safe; idempotent. */
void sta_queue_close(sta_queue_t *q, int timeout_ms);
/* After Redis's pending callbacks ran (cmn_redis_close). NULL-safe. */
void sta_queue_free(sta_queue_t *q);

#endif
