/* Idempotent producer with delivery reports on the libevent loop. */
#include "cmn_producer.h"
#include "cmn_config.h"
#include "cmn_kafka_loop.h"
#include "cmn_log.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cmn_producer {
    rd_kafka_t *rk;
    rd_kafka_queue_t *main_queue;
    cmn_kafka_loop_t loop;
    int brokers_up;
    int fatal;
    int closed; /* cmn_producer_close ran: sends are refused */
    cmn_producer_fatal_fn on_fatal;
    void *fatal_ctx;
    struct event *test_fatal;
};

/* What travels with a message as its opaque; freed in the delivery report. */
typedef struct {
    cmn_delivery_fn cb;
    void *opaque;
} delivery_t;

rd_kafka_conf_t *cmn_kafka_conf_new(const char *brokers, char *errstr, size_t errsz)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, errsz) != RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return conf;
}

int cmn_kafka_conf_finish(rd_kafka_conf_t *conf, const char *const (*fixed)[2], size_t n_fixed,
                          char *errstr, size_t errsz)
{
    char *errors = NULL;
    size_t errors_len = 0;
    FILE *errs = open_memstream(&errors, &errors_len);
    if (!errs) {
        snprintf(errstr, errsz, "out of memory");
        return -1;
    }
    int bad = cmn_config_kafka_passthrough(conf, errs);
    fclose(errs);
    if (bad)
        snprintf(errstr, errsz, "%s", errors);
    free(errors);
    if (bad)
        return -1;
    for (size_t i = 0; i < n_fixed; i++)
        if (rd_kafka_conf_set(conf, fixed[i][0], fixed[i][1], errstr, errsz) != RD_KAFKA_CONF_OK)
            return -1;
    return 0;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *conf_opaque)
{
    delivery_t *d = msg->_private;
    if (d) {
        d->cb(d->opaque, msg->err, msg->partition, msg->offset);
        free(d);
    }
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    cmn_producer_t *p = opaque;
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
        p->brokers_up = 0;
    if (err == RD_KAFKA_RESP_ERR__FATAL && !p->fatal) {
        char why[512];
        rd_kafka_fatal_error(rk, why, sizeof why);
        p->fatal = 1;
        LOG_ERROR("kafka producer fatal error: %s", why);
        if (p->on_fatal)
            p->on_fatal(p->fatal_ctx, why);
        return;
    }
    LOG_WARN("kafka producer: %s: %s", rd_kafka_err2name(err), reason);
}

/* Counts brokers in state UP from the statistics JSON (once a second). */
static int on_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    cmn_producer_t *p = opaque;
    json_t *stats = json_loadb(json, len, 0, NULL);
    json_t *brokers = json_object_get(stats, "brokers");
    const char *name;
    json_t *b;
    int up = 0;
    json_object_foreach(brokers, name, b)
    {
        const char *state = json_string_value(json_object_get(b, "state"));
        if (state && strcmp(state, "UP") == 0)
            up++;
    }
    p->brokers_up = up;
    json_decref(stats);
    return 0; /* we did not keep json: librdkafka frees it */
}

static void drain(void *ctx)
{
    cmn_producer_t *p = ctx;
    while (rd_kafka_poll(p->rk, 0) > 0)
        ;
}

static void on_test_fatal(evutil_socket_t fd, short what, void *arg)
{
    cmn_producer_t *p = arg;
    LOG_WARN("CALLBUS_TEST_KAFKA_FATAL_AFTER_MS: injecting a fatal error");
    if (rd_kafka_test_fatal_error(p->rk, RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
                                  "injected by CALLBUS_TEST_KAFKA_FATAL_AFTER_MS"))
        LOG_ERROR("librdkafka refused to inject a fatal error");
}

static int set_all(rd_kafka_conf_t *conf, const cmn_producer_opts_t *o, char *errstr, size_t errsz)
{
    char timeout[16], qmax[16], linger[16];
    snprintf(timeout, sizeof timeout, "%d",
             o->message_timeout_ms > 0 ? o->message_timeout_ms : 10000);
    snprintf(qmax, sizeof qmax, "%d", o->queue_max_messages > 0 ? o->queue_max_messages : 100000);
    snprintf(linger, sizeof linger, "%d", o->linger_ms >= 0 ? o->linger_ms : 1);
    const char *kv[][2] = {
        {"message.timeout.ms", timeout}, {"queue.buffering.max.messages", qmax},
        {"linger.ms", linger},           {"statistics.interval.ms", "1000"},
        {"compression.type", "lz4"},
    };
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        if (rd_kafka_conf_set(conf, kv[i][0], kv[i][1], errstr, errsz) != RD_KAFKA_CONF_OK)
            return -1;
    return 0;
}

cmn_producer_t *cmn_producer_new(struct event_base *base, const cmn_producer_opts_t *opts,
                                 char *errstr, size_t errsz)
{
    cmn_producer_t *p = calloc(1, sizeof *p);
    rd_kafka_conf_t *conf = NULL;
    if (!p) {
        snprintf(errstr, errsz, "out of memory");
        return NULL;
    }
    p->on_fatal = opts->on_fatal;
    p->fatal_ctx = opts->fatal_ctx;
    /* Durability is not negotiable: pass-through settings cannot turn it off. */
    static const char *const fixed[][2] = {{"enable.idempotence", "true"}, {"acks", "all"}};
    conf = cmn_kafka_conf_new(opts->brokers, errstr, errsz);
    if (!conf || set_all(conf, opts, errstr, errsz) < 0 ||
        cmn_kafka_conf_finish(conf, fixed, 2, errstr, errsz) < 0)
        goto fail;
    rd_kafka_conf_set_opaque(conf, p);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_error_cb(conf, on_error);
    rd_kafka_conf_set_stats_cb(conf, on_stats);
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, errsz);
    if (!p->rk)
        goto fail;
    conf = NULL; /* rd_kafka_new took ownership */
    p->main_queue = rd_kafka_queue_get_main(p->rk);
    if (cmn_kafka_loop_attach(&p->loop, base, p->main_queue, drain, p, errstr, errsz) < 0)
        goto fail;
    if (opts->test_fatal_after_ms > 0) {
        struct timeval after = {opts->test_fatal_after_ms / 1000,
                                (opts->test_fatal_after_ms % 1000) * 1000};
        if (!(p->test_fatal = evtimer_new(base, on_test_fatal, p)) ||
            evtimer_add(p->test_fatal, &after) < 0) {
            snprintf(errstr, errsz, "libevent: no timer");
            goto fail;
        }
    }
    return p;
fail:
    if (conf)
        rd_kafka_conf_destroy(conf);
    cmn_producer_free(p);
    return NULL;
}

rd_kafka_resp_err_t cmn_producer_send(cmn_producer_t *p, const char *topic, const void *key,
                                      size_t keylen, const void *value, size_t valuelen,
                                      cmn_delivery_fn cb, void *opaque)
{
    if (p->closed)
        return RD_KAFKA_RESP_ERR__DESTROY;
    if (p->fatal)
        return RD_KAFKA_RESP_ERR__FATAL;
    delivery_t *d = malloc(sizeof *d);
    if (!d)
        return RD_KAFKA_RESP_ERR__QUEUE_FULL;
    d->cb = cb;
    d->opaque = opaque;
    /* produceva, not producev: the RD_KAFKA_V_*() macros expand to GNU
     * statement expressions (not ISO C, refused under -Wpedantic by clang).
     * The same message: librdkafka copies key and value (F_COPY). */
    rd_kafka_vu_t vus[] = {
        {.vtype = RD_KAFKA_VTYPE_TOPIC, .u.cstr = topic},
        {.vtype = RD_KAFKA_VTYPE_KEY, .u.mem = {(void *)key, keylen}},
        {.vtype = RD_KAFKA_VTYPE_VALUE, .u.mem = {(void *)value, valuelen}},
        {.vtype = RD_KAFKA_VTYPE_MSGFLAGS, .u.i = RD_KAFKA_MSG_F_COPY},
        {.vtype = RD_KAFKA_VTYPE_OPAQUE, .u.ptr = d},
    };
    rd_kafka_error_t *error = rd_kafka_produceva(p->rk, vus, sizeof vus / sizeof vus[0]);
    if (!error)
        return RD_KAFKA_RESP_ERR_NO_ERROR;
    rd_kafka_resp_err_t err = rd_kafka_error_code(error);
    rd_kafka_error_destroy(error);
    free(d);
    return err;
}

int cmn_producer_reachable(const cmn_producer_t *p)
{
    return p->brokers_up > 0 && !p->fatal;
}

int cmn_producer_queue_len(const cmn_producer_t *p)
{
    return rd_kafka_outq_len(p->rk);
}

int cmn_producer_flush(cmn_producer_t *p, int timeout_ms)
{
    rd_kafka_flush(p->rk, timeout_ms);
    drain(p);
    return rd_kafka_outq_len(p->rk);
}

void cmn_producer_close(cmn_producer_t *p)
{
    if (!p || p->closed)
        return;
    p->closed = 1; /* before the reports: a send from inside one is refused */
    if (!p->rk)
        return;
    /* Undelivered messages still own their delivery_t: purge them so
     * their reports (with an error) run here and free it. */
    rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    drain(p);
}

void cmn_producer_free(cmn_producer_t *p)
{
    if (!p)
        return;
    cmn_producer_close(p);
    if (p->test_fatal)
        event_free(p->test_fatal);
    if (p->main_queue) {
        rd_kafka_queue_io_event_enable(p->main_queue, -1, NULL, 0);
        rd_kafka_queue_destroy(p->main_queue);
    }
    cmn_kafka_loop_detach(&p->loop);
    if (p->rk)
        rd_kafka_destroy(p->rk);
    free(p);
}
