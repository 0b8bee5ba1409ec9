/* Kafka consumer on the libevent loop, with offsets that follow effects:
 * a message's offset is stored (and later auto-committed) only when the
 * service has called cmn_consumer_done() for it AND for every earlier
 * message of its partition. Effects may complete out of order; the stored
 * offset never passes a message whose effect is not yet durable.
 *
 * Consumer group with cooperative-sticky assignment, or `range` for a
 * co-partitioned consumer (opts.co_partitioned: partition p of every
 * subscribed topic goes to the same member, so one customer's messages of
 * all the topics are handled by one process); static membership when an
 * instance id is given.
 *
 * Rebalances: when partitions are revoked, the consumer stops handing out
 * their messages, tells the service (on_revoke), and completes the
 * revocation only once none of their messages is in flight any more (each
 * done, or given up with cmn_consumer_retry), or once revoke_timeout_ms has
 * passed (logged): what was done by then is committed, so the next owner
 * replays only what this member did not finish. The group waits for us
 * meanwhile (librdkafka keeps heartbeating while the application has not
 * called incremental_unassign, or, with `range`'s eager protocol, assign:
 * there every partition is revoked at each rebalance and the wait is the
 * same). Lost partitions (session expired) are
 * dropped at once: another member may already own them. */
#ifndef CMN_CONSUMER_H
#define CMN_CONSUMER_H

#include <event2/event.h>
#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cmn_consumer cmn_consumer_t;

/* Where a message came from; what cmn_consumer_done() takes back. */
typedef struct {
    /* Interned by the consumer: valid until cmn_consumer_close, also after
     * the partition was revoked (a done() then is ignored). */
    const char *topic;
    int32_t partition;
    int64_t offset;
} cmn_msg_pos_t;

/* Called on the loop for each message. `msg` is borrowed for the call only;
 * copy what you keep. The service must call cmn_consumer_done(pos) exactly
 * once when the message's effect is durable (at once if it has none), or
 * cmn_consumer_retry(pos) when it did not process it. */
typedef void (*cmn_message_fn)(void *ctx, const cmn_msg_pos_t *pos, const rd_kafka_message_t *msg);

/* Called on the loop when partitions are being taken away (`lost`: already
 * gone, nothing the service finishes will be stored). The service should
 * finish their work now (flush what it batches) or give up work that has
 * not started (cmn_consumer_retry); cmn_consumer_revoking() tells which
 * positions are concerned. */
typedef void (*cmn_revoke_fn)(void *ctx, int lost);

/* A fatal consumer error (e.g. another member fenced this static member:
 * the same CALLBUS_KAFKA_INSTANCE_ID twice): the consumer will never fetch
 * again; the service should exit non-zero so the orchestrator restarts it.
 * Called once, on the loop. */
typedef void (*cmn_consumer_fatal_fn)(void *ctx, const char *reason);

typedef struct {
    const char *brokers;
    const char *group_id;
    const char *const *topics;
    size_t n_topics;
    const char *instance_id; /* static membership (pod name); NULL = dynamic */
    int max_in_flight;       /* pause fetching beyond this many undone messages (default 1000) */
    /* Pause one partition alone beyond this many of its undone messages (a
     * hot key's backlog waits in Kafka; other partitions flow); 0 = none. */
    int max_in_flight_per_partition;
    int session_timeout_ms; /* default 10000 */
    int revoke_timeout_ms;  /* longest wait for a revoked partition's work (default 10000) */
    /* Partition p of every topic on one member (`range` assignment). The
     * topics must have the same partition count: cmn_consumer_new refuses
     * to start when the broker says otherwise, and an assignment that is
     * not co-partitioned all the same is logged as an error. */
    int co_partitioned;
    cmn_message_fn on_message;
    cmn_revoke_fn on_revoke; /* may be NULL */
    void *ctx;
    cmn_consumer_fatal_fn on_fatal; /* may be NULL: logged only */
    void *fatal_ctx;
} cmn_consumer_opts_t;

cmn_consumer_t *cmn_consumer_new(struct event_base *base, const cmn_consumer_opts_t *opts,
                                 char *errstr, size_t errsz);

/* Marks a message's effect durable. Unknown positions (partition revoked
 * meanwhile) are ignored. */
void cmn_consumer_done(cmn_consumer_t *c, const cmn_msg_pos_t *pos);

/* The message was not processed: hold its offset and deliver it again.
 * The partition is sought back to it, so the messages after it that were
 * already handed out are delivered again too (a done() still to come for
 * one of them counts for its new delivery: its effect is durable either
 * way). On a partition being revoked the message is given up instead: it
 * no longer holds the revocation back, its offset is never stored, and the
 * next owner replays it. Unknown positions are ignored. */
void cmn_consumer_retry(cmn_consumer_t *c, const cmn_msg_pos_t *pos);

/* 1 when pos's partition is being revoked (see on_revoke). */
int cmn_consumer_revoking(const cmn_consumer_t *c, const cmn_msg_pos_t *pos);

/* Messages handed out and not yet done. */
int cmn_consumer_in_flight(const cmn_consumer_t *c);
/* Partitions currently assigned to this member and not being revoked. */
int cmn_consumer_assigned(const cmn_consumer_t *c);

/* The service's own back-pressure (ticket-service: its waiting events hold
 * too much memory): hold=1 pauses fetching after the current message,
 * hold=0 lets it go on (unless max_in_flight still holds it). */
void cmn_consumer_hold(cmn_consumer_t *c, int hold);

/* Stop handing out messages (shutdown: finish in-flight work next). */
void cmn_consumer_stop(cmn_consumer_t *c);
/* Commits what is stored, leaves the group, frees; blocks the calling
 * thread up to timeout_ms for the commit and the group's answer, then
 * frees anyway (a broker that is gone or hung never holds a shutdown past
 * it: the next owner replays from the last commit). The loop must not be
 * running other consumer work. NULL-safe. */
void cmn_consumer_close_within(cmn_consumer_t *c, int timeout_ms);
/* cmn_consumer_close_within with CMN_CONSUMER_CLOSE_MS. */
#define CMN_CONSUMER_CLOSE_MS 10000
void cmn_consumer_close(cmn_consumer_t *c);

/* Test seam: every allocation of the consumer's bookkeeping goes through
 * this (malloc). Weak, so a test binary may define its own to inject
 * allocation failures; services never do. */
void *cmn_consumer_alloc(size_t size);

#endif
