/* ticket-service's CRM usage records (tkt_usage.h). */
#include "tkt_usage.h"

#include "cmn_log.h"
#include "cmn_metrics.h"
#include "cmn_time.h"
#include "cmn_topics.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The families are counted where the requests are made and saved
 * (crm/crm_adapter.c count_response, tkt_batch.c, tkt_bulkcreate.c,
 * tkt_reads.c); their names are read from there literally, as the
 * dashboard's check reads them. */
static const char *const saved_families[] = {"ticket_batch_requests_saved_total",
                                             "ticket_bulk_create_requests_saved_total",
                                             "ticket_status_reads_saved_total"};

void tkt_usage_sums(double *requests, double *saved)
{
    *requests = cmn_metrics_family_sum("crm_requests_total");
    *saved = 0;
    for (size_t i = 0; i < sizeof saved_families / sizeof saved_families[0]; i++)
        *saved += cmn_metrics_family_sum(saved_families[i]);
}

void tkt_usage_mark_init(tkt_usage_mark_t *m, double requests, double saved, int64_t now_ms)
{
    memset(m, 0, sizeof *m);
    m->requests = requests;
    m->saved = saved;
    m->since_ms = now_ms;
}

int tkt_usage_next(tkt_usage_mark_t *m, double requests, double saved, int64_t now_ms,
                   tkt_usage_delta_t *out)
{
    /* The counters only grow (a batch adds its ops' savings and takes its
     * one request off in the same step): whole numbers, never negative. */
    long long dr = (long long)(requests - m->requests), ds = (long long)(saved - m->saved);
    if (dr <= 0 && ds <= 0)
        return 0;
    out->requests = dr > 0 ? dr : 0;
    out->saved = ds > 0 ? ds : 0;
    out->from_ms = m->since_ms;
    out->to_ms = now_ms > m->since_ms ? now_ms : m->since_ms;
    out->seq = ++m->seq;
    m->requests += (double)out->requests;
    m->saved += (double)out->saved;
    m->since_ms = out->to_ms;
    return 1;
}

char *tkt_usage_record(const char *process_id, const tkt_usage_delta_t *d)
{
    char id[256], from[CMN_TIME_TEXT_MAX], to[CMN_TIME_TEXT_MAX];
    snprintf(id, sizeof id, "usage-%s-%llu", process_id, d->seq);
    cmn_time_format(d->from_ms, from, sizeof from);
    cmn_time_format(d->to_ms, to, sizeof to);
    json_t *o = json_pack("{s:i, s:s, s:s, s:I, s:I, s:s, s:s, s:s}", "schema_version", 1,
                          "event_id", id, "type", "crm.usage", "requests", (json_int_t)d->requests,
                          "saved", (json_int_t)d->saved, "from", from, "to", to, "occurred_at", to);
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    return text;
}

/* ---- the publisher ---------------------------------------------------------- */

struct tkt_usage {
    cmn_producer_t *producer;
    struct event *timer;
    char instance[128];
    char process_id[200]; /* instance, start time, pid: unique to this run */
    tkt_usage_mark_t mark;
    int final_sent;
    cmn_metric_t *m_records, *m_lost;
};

static void on_delivered(void *opaque, rd_kafka_resp_err_t err, int32_t partition, int64_t offset)
{
    tkt_usage_t *u = opaque;
    (void)partition;
    (void)offset;
    if (!err)
        return;
    /* Not sent again: the broker may have it (a timed-out ack), and a
     * second id for the same delta could count it twice. */
    cmn_metric_add(u->m_lost, 1);
    LOG_WARN("a CRM usage record was not delivered (%s): its delta is not counted",
             rd_kafka_err2str(err));
}

static void publish(tkt_usage_t *u)
{
    double requests, saved;
    tkt_usage_delta_t d;
    tkt_usage_mark_t before = u->mark;
    tkt_usage_sums(&requests, &saved);
    if (!tkt_usage_next(&u->mark, requests, saved, cmn_time_now_ms(), &d))
        return; /* nothing made or saved since the last record */
    char *text = tkt_usage_record(u->process_id, &d);
    rd_kafka_resp_err_t err =
        text ? cmn_producer_send(u->producer, cmn_topic(CMN_TOPIC_CRM_USAGE), u->instance,
                                 strlen(u->instance), text, strlen(text), on_delivered, u)
             : RD_KAFKA_RESP_ERR__FAIL;
    free(text);
    if (err) {
        u->mark = before; /* never queued: the next record carries this delta */
        LOG_WARN("CRM usage record not queued (%s); the next one carries its delta",
                 rd_kafka_err2str(err));
        return;
    }
    cmn_metric_add(u->m_records, 1);
    LOG_DEBUG("CRM usage %llu: %lld requests, %lld saved", d.seq, d.requests, d.saved);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    tkt_usage_t *u = arg;
    (void)fd;
    (void)what;
    if (!u->final_sent)
        publish(u);
}

tkt_usage_t *tkt_usage_new(struct event_base *base, cmn_producer_t *producer, const char *instance,
                           long interval_s)
{
    struct timeval every = {.tv_sec = interval_s > 0 ? interval_s : 1};
    tkt_usage_t *u = calloc(1, sizeof *u);
    if (!u)
        return NULL;
    u->producer = producer;
    snprintf(u->instance, sizeof u->instance, "%s", instance && *instance ? instance : "ticket");
    int64_t start = cmn_time_now_ms();
    snprintf(u->process_id, sizeof u->process_id, "%s.%lld.%ld", u->instance, (long long)start,
             (long)getpid());
    double requests, saved;
    tkt_usage_sums(&requests, &saved);
    tkt_usage_mark_init(&u->mark, requests, saved, start);
    u->m_records = cmn_metrics_counter("ticket_usage_records_total",
                                       "CRM usage records published on crm-usage (R-S1)", NULL);
    u->m_lost =
        cmn_metrics_counter("ticket_usage_records_lost_total",
                            "CRM usage records the broker did not take (not counted)", NULL);
    if (!(u->timer = event_new(base, -1, EV_PERSIST, on_tick, u)) ||
        event_add(u->timer, &every) < 0) {
        tkt_usage_free(u);
        return NULL;
    }
    return u;
}

void tkt_usage_publish_final(tkt_usage_t *u)
{
    if (!u || u->final_sent)
        return;
    publish(u);
    u->final_sent = 1;
}

void tkt_usage_free(tkt_usage_t *u)
{
    if (!u)
        return;
    if (u->timer)
        event_free(u->timer);
    free(u);
}
