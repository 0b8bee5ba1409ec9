/* Drives a librdkafka queue from a libevent loop: librdkafka writes a byte
 * to a pipe when the queue goes from empty to non-empty (queue io event);
 * libevent wakes us, and we drain the queue with 0-timeout polls. A 1 s
 * timer polls as well so an idle client still serves its callbacks in time
 * (and a consumer stays within max.poll.interval.ms). Internal to common. */
#ifndef CMN_KAFKA_LOOP_H
#define CMN_KAFKA_LOOP_H

#include <event2/event.h>
#include <librdkafka/rdkafka.h>

typedef void (*cmn_kafka_drain_fn)(void *ctx);

typedef struct {
    int fds[2];
    struct event *readable;
    struct event *tick;
    cmn_kafka_drain_fn drain;
    void *ctx;
} cmn_kafka_loop_t;

/* Borrows `queue` only for the call. Returns 0 or -1 (errstr set). */
int cmn_kafka_loop_attach(cmn_kafka_loop_t *kl, struct event_base *base, rd_kafka_queue_t *queue,
                          cmn_kafka_drain_fn drain, void *ctx, char *errstr, size_t errsz);
/* Stops watching; the queue must have had io events disabled first. */
void cmn_kafka_loop_detach(cmn_kafka_loop_t *kl);

#endif
