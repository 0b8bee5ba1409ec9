/* Kafka producer on the libevent loop: idempotent (acks=all, ordered
 * retries); a message counts as stored only when its delivery report says
 * so, and that report is delivered on the loop through the callback given
 * to cmn_producer_send. Nothing here blocks the loop except
 * cmn_producer_flush, which is for shutdown. */
#ifndef CMN_PRODUCER_H
#define CMN_PRODUCER_H

#include <event2/event.h>
#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cmn_producer cmn_producer_t;

/* err is RD_KAFKA_RESP_ERR_NO_ERROR when stored; partition/offset then say where. */
typedef void (*cmn_delivery_fn)(void *opaque, rd_kafka_resp_err_t err, int32_t partition,
                                int64_t offset);
/* Called once, on the loop, when librdkafka reports a fatal error: the
 * owner should stop taking work, flush and exit non-zero. */
typedef void (*cmn_producer_fatal_fn)(void *ctx, const char *reason);

typedef struct {
    const char *brokers;
    int message_timeout_ms; /* how long a message may wait for the broker before failing */
    int queue_max_messages; /* local queue bound; beyond it send() answers QUEUE_FULL */
    int linger_ms;          /* batching delay; small keeps webhook latency low */
    cmn_producer_fatal_fn on_fatal;
    void *fatal_ctx;
    /* Tests only (CALLBUS_TEST_KAFKA_FATAL_AFTER_MS): > 0 makes librdkafka
     * raise a fatal error this long after start (rd_kafka_test_fatal_error),
     * so the real error path up to on_fatal runs. */
    int test_fatal_after_ms;
} cmn_producer_opts_t;

/* Returns NULL with errstr set on failure. Applies CALLBUS_KAFKA_X_* pass-through. */
cmn_producer_t *cmn_producer_new(struct event_base *base, const cmn_producer_opts_t *opts,
                                 char *errstr, size_t errsz);

/* Queues a copy of key and value. Returns RD_KAFKA_RESP_ERR_NO_ERROR, after
 * which `cb(opaque, ...)` is called exactly once on the loop; or an error
 * (e.g. RD_KAFKA_RESP_ERR__QUEUE_FULL), after which it is never called. */
rd_kafka_resp_err_t cmn_producer_send(cmn_producer_t *p, const char *topic, const void *key,
                                      size_t keylen, const void *value, size_t valuelen,
                                      cmn_delivery_fn cb, void *opaque)
    __attribute__((warn_unused_result));

/* 1 while at least one broker connection is up (from librdkafka's stats,
 * refreshed every second) and no fatal error happened. */
int cmn_producer_reachable(const cmn_producer_t *p);
int cmn_producer_queue_len(const cmn_producer_t *p);

/* Blocking: waits up to timeout_ms for outstanding deliveries (their
 * callbacks run). Returns how many messages are still not delivered. */
int cmn_producer_flush(cmn_producer_t *p, int timeout_ms);
/* Teardown, after the last flush: every message still undelivered (a
 * broker unreachable past the grace) is purged and its callback runs now,
 * with an error, so that it reaches its owner while that owner is alive;
 * the message was never acknowledged, so its event is replayed. From then
 * on cmn_producer_send refuses (RD_KAFKA_RESP_ERR__DESTROY), also from
 * inside those callbacks, so nothing is queued that no callback would free.
 * The rule for every owner: close the producer before freeing anything a
 * delivery callback points into. Idempotent, NULL-safe, on the loop's
 * thread (with the loop no longer running). */
void cmn_producer_close(cmn_producer_t *p);
/* Closes (cmn_producer_close) if not done yet, then frees. Flushes
 * nothing: call cmn_producer_flush first. NULL-safe. */
void cmn_producer_free(cmn_producer_t *p);

/* Shared by producer and consumer: a new conf with the brokers set. */
rd_kafka_conf_t *cmn_kafka_conf_new(const char *brokers, char *errstr, size_t errsz);
/* After the client's defaults: the operator's CALLBUS_KAFKA_X_* settings,
 * then `fixed` (what the client's guarantees rest on), which always win.
 * Returns 0, or -1 with what librdkafka refused in errstr. */
int cmn_kafka_conf_finish(rd_kafka_conf_t *conf, const char *const (*fixed)[2], size_t n_fixed,
                          char *errstr, size_t errsz);

#endif
