/* rec_publish.h: a plain librdkafka producer (no event loop: the reconciler
 * is a batch job), with the guarantees ingest's cmn_producer has. */
#include "rec_publish.h"
#include "cmn_producer.h"
#include "cmn_topics.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rec_publish {
    rd_kafka_t *rk;
    int timeout_ms;
};

/* Counts the failed reports of a flush (rd_kafka_opaque: an int). */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    int *failed = m->_private;
    if (m->err && failed)
        (*failed)++;
}

rec_publish_t *rec_publish_new(const char *brokers, int timeout_ms, char *errstr, size_t errsz)
{
    char timeout[16];
    snprintf(timeout, sizeof timeout, "%d", timeout_ms);
    const char *const fixed[][2] = {
        {"enable.idempotence", "true"},
        {"acks", "all"},
        {"message.timeout.ms", timeout},
    };
    rec_publish_t *p = calloc(1, sizeof *p);
    rd_kafka_conf_t *conf = p ? cmn_kafka_conf_new(brokers, errstr, errsz) : NULL;
    if (!conf)
        goto fail;
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    if (cmn_kafka_conf_finish(conf, fixed, 3, errstr, errsz) < 0)
        goto fail;
    if (!(p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, errsz)))
        goto fail;
    p->timeout_ms = timeout_ms;
    return p;
fail:
    if (conf)
        rd_kafka_conf_destroy(conf);
    free(p);
    return NULL;
}

void rec_publish_free(rec_publish_t *p)
{
    if (!p)
        return;
    rd_kafka_destroy(p->rk);
    free(p);
}

int rec_publish_events(rec_publish_t *p, const cmn_event_t *ev, size_t n, char *errstr,
                       size_t errsz)
{
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        char *text = cmn_event_encode(&ev[i]);
        const char *key = cmn_event_key(&ev[i]);
        rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__NOENT;
        if (text) {
            /* produceva, as cmn_producer: the RD_KAFKA_V_*() macros are GNU
             * statement expressions, refused under clang's -Wpedantic */
            rd_kafka_vu_t vus[] = {
                {.vtype = RD_KAFKA_VTYPE_TOPIC, .u.cstr = cmn_topic(CMN_TOPIC_CALL_EVENTS)},
                {.vtype = RD_KAFKA_VTYPE_KEY, .u.mem = {(void *)key, strlen(key)}},
                {.vtype = RD_KAFKA_VTYPE_VALUE, .u.mem = {text, strlen(text)}},
                {.vtype = RD_KAFKA_VTYPE_MSGFLAGS, .u.i = RD_KAFKA_MSG_F_COPY},
                {.vtype = RD_KAFKA_VTYPE_OPAQUE, .u.ptr = &failed},
            };
            rd_kafka_error_t *error = rd_kafka_produceva(p->rk, vus, sizeof vus / sizeof vus[0]);
            err = error ? rd_kafka_error_code(error) : RD_KAFKA_RESP_ERR_NO_ERROR;
            if (error)
                rd_kafka_error_destroy(error);
        }
        free(text);
        if (err) {
            failed++;
            snprintf(errstr, errsz, "%s: %s", ev[i].event_id, rd_kafka_err2str(err));
        }
    }
    /* every report is in once the flush returns (the message timeout is shorter) */
    if (rd_kafka_flush(p->rk, p->timeout_ms + 5000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(errstr, errsz, "call-events: deliveries still pending");
        return -1;
    }
    if (failed)
        snprintf(errstr, errsz, "call-events: %d event(s) not stored", failed);
    return failed ? -1 : 0;
}
