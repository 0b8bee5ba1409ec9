/* Kafka consumer on the libevent loop, with offsets that follow effects:
 * a message's offset is stored (and later auto-committed) only when the
 * service has called cmn_consumer_done() for it AND for every earlier
 * message of its partition. Effects may complete out of order; the stored
 * offset never passes a message whose effect is not yet durable.
 *
 * Consumer group with cooperative-sticky assignment; static membership when
 * an instance id is given. Partitions taken away in a rebalance drop their
 * in-flight bookkeeping: the new owner replays from the committed offset,
 * which is harmless because every effect is idempotent. */
#ifndef CMN_CONSUMER_H
#define CMN_CONSUMER_H

#include <event2/event.h>
#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cmn_consumer cmn_consumer_t;

/* Where a message came from; what cmn_consumer_done() takes back. */
typedef struct {
    const char *topic; /* borrowed from the consumer: valid until cmn_consumer_free */
    int32_t partition;
    int64_t offset;
} cmn_msg_pos_t;

/* Called on the loop for each message. `msg` is borrowed for the call only;
 * copy what you keep. The service must call cmn_consumer_done(pos) exactly
 * once when the message's effect is durable (at once if it has none). */
typedef void (*cmn_message_fn)(void *ctx, const cmn_msg_pos_t *pos, const rd_kafka_message_t *msg);

typedef struct {
    const char *brokers;
    const char *group_id;
    const char *const *topics;
    size_t n_topics;
    const char *instance_id; /* static membership (pod name); NULL = dynamic */
    int max_in_flight;       /* pause fetching beyond this many undone messages (default 1000) */
    int session_timeout_ms;  /* default 10000 */
    cmn_message_fn on_message;
    void *ctx;
} cmn_consumer_opts_t;

cmn_consumer_t *cmn_consumer_new(struct event_base *base, const cmn_consumer_opts_t *opts,
                                 char *errstr, size_t errsz);

/* Marks a message's effect durable. Unknown positions (partition revoked
 * meanwhile) are ignored. */
void cmn_consumer_done(cmn_consumer_t *c, const cmn_msg_pos_t *pos);

/* Messages handed out and not yet done. */
int cmn_consumer_in_flight(const cmn_consumer_t *c);
/* Partitions currently assigned to this member. */
int cmn_consumer_assigned(const cmn_consumer_t *c);

/* The service's own back-pressure (ticket-service: its waiting events hold
 * too much memory): hold=1 pauses fetching after the current message,
 * hold=0 lets it go on (unless max_in_flight still holds it). */
void cmn_consumer_hold(cmn_consumer_t *c, int hold);

/* Stop handing out messages (shutdown: finish in-flight work next). */
void cmn_consumer_stop(cmn_consumer_t *c);
/* Commits what is stored (synchronously), leaves the group, frees. The
 * loop must not be running other consumer work. NULL-safe. */
void cmn_consumer_close(cmn_consumer_t *c);

#endif
