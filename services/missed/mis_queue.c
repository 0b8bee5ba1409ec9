/* The grouper's per-replica job queue (mis_queue.h). Effects, in order,
 * before an offset may move: the op delivered to Kafka, then the
 * customer's new state stored. A crash in between replays the event from
 * the state before it: same op id, which ticket-service recognises. */
#include "mis_queue.h"

#include "cmn_log.h"
#include "cmn_metrics.h"
#include "cmn_missed_op.h"
#include "cmn_topics.h"

#include <stdlib.h>
#include <string.h>

/* One fetched event waiting its turn (owns ev's strings). */
typedef struct job {
    struct job *next;
    cmn_msg_pos_t pos;
    cmn_event_t ev;
} job_t;

struct mis_queue {
    mis_queue_deps_t deps;
    cmn_consumer_t *consumer; /* NULL before mis_queue_consume and once closed */
    job_t *head, *tail;       /* the head is the one being worked on */
    size_t queued;
    int busy;            /* the head has a Redis or Kafka step outstanding */
    struct event *retry; /* the head's next try after a failed step */
    mis_plan_t plan;     /* the head's decision */
    cmn_metric_t *m_grouped, *m_opened, *m_closed_in, *m_closed_out, *m_ign_abandoned, *m_ign_hours,
        *m_undecodable, *m_replayed, *m_failed;
};

static void work(mis_queue_t *q);

static void job_free(job_t *j)
{
    cmn_event_clear(&j->ev);
    free(j);
}

/* The head's effects are durable (or it has none): its offset may move. */
static void head_done(mis_queue_t *q)
{
    job_t *j = q->head;
    q->head = j->next;
    if (!q->head)
        q->tail = NULL;
    q->queued--;
    q->busy = 0;
    cmn_consumer_done(q->consumer, &j->pos);
    job_free(j);
    work(q);
}

/* A Redis or Kafka step failed: try the head again later, from its read
 * (deciding again is harmless: the same op id comes out). */
static void head_failed(mis_queue_t *q, const char *step)
{
    static const struct timeval zero;
    struct timeval tv = zero;
    q->busy = 0;
    LOG_WARN("event %s: %s failed; tried again in %ld ms", q->head->ev.event_id, step,
             q->deps.retry_ms);
    cmn_metric_add(q->m_failed, 1);
    tv.tv_sec = q->deps.retry_ms / 1000;
    tv.tv_usec = (q->deps.retry_ms % 1000) * 1000;
    if (event_add(q->retry, &tv) < 0)
        q->deps.on_fatal(q->deps.fatal_ctx, "retry timer");
}

static void count(mis_queue_t *q, const mis_plan_t *p)
{
    cmn_metric_add(q->m_grouped, p->grouped);
    cmn_metric_add(q->m_opened, p->opened);
    cmn_metric_add(q->m_closed_in, p->closed_inbound);
    cmn_metric_add(q->m_closed_out, p->closed_outbound);
    cmn_metric_add(q->m_ign_abandoned, p->ignored == MIS_IGNORED_ABANDONED);
    cmn_metric_add(q->m_ign_hours, p->ignored == MIS_IGNORED_OUTSIDE_HOURS);
}

static void on_stored(void *ctx, int ok)
{
    mis_queue_t *q = ctx;
    if (!ok) {
        head_failed(q, "storing the state");
        return;
    }
    count(q, &q->plan); /* once the event's effects are all durable */
    head_done(q);
}

static void store_state(mis_queue_t *q)
{
    job_t *j = q->head;
    if (!q->plan.changed) {
        count(q, &q->plan);
        head_done(q);
        return;
    }
    q->plan.state.partition = j->pos.partition;
    q->plan.state.offset = j->pos.offset;
    if (mis_store_put(q->deps.store, j->ev.customer_number, &q->plan.state, on_stored, q) < 0) {
        head_failed(q, "storing the state (redis not connected)");
        return;
    }
}

static void on_delivered(void *opaque, rd_kafka_resp_err_t err, int32_t partition, int64_t offset)
{
    mis_queue_t *q = opaque;
    (void)partition;
    (void)offset;
    if (err) {
        head_failed(q, rd_kafka_err2str(err));
        return;
    }
    store_state(q);
}

static void produce_op(mis_queue_t *q)
{
    const cmn_missed_op_t *op = &q->plan.op;
    char *text = cmn_missed_op_encode(op);
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__INVALID_ARG;
    if (text)
        err = cmn_producer_send(q->deps.producer, cmn_topic(CMN_TOPIC_MISSED_OPS),
                                op->customer_number, strlen(op->customer_number), text,
                                strlen(text), on_delivered, q);
    free(text);
    if (err) {
        head_failed(q, text ? rd_kafka_err2str(err) : "encoding the op");
        return;
    }
    LOG_CALL(CMN_LOG_INFO, q->head->ev.call_id, "%s %s (group %s, count %ld)",
             cmn_missed_op_name(op->op), op->op_id, op->group_id, op->count);
}

static void on_state(void *ctx, int ok, const mis_state_t *st)
{
    mis_queue_t *q = ctx;
    job_t *j = q->head;
    if (!ok) {
        head_failed(q, "reading the state");
        return;
    }
    if (st->partition == j->pos.partition && j->pos.offset <= st->offset) {
        cmn_metric_add(q->m_replayed, 1); /* applied before a restart or rebalance */
        head_done(q);
        return;
    }
    if (mis_decide(q->deps.policy, &j->ev, st, &q->plan) < 0)
        LOG_CALL(CMN_LOG_WARN, j->ev.call_id, "event %s: %s; skipped", j->ev.event_id,
                 q->plan.note);
    else if (q->plan.note)
        LOG_CALL(CMN_LOG_DEBUG, j->ev.call_id, "event %s: %s", j->ev.event_id, q->plan.note);
    if (q->plan.has_op) {
        produce_op(q);
        return;
    }
    store_state(q);
}

/* Starts the head's steps unless one is outstanding or a retry waits. */
static void work(mis_queue_t *q)
{
    if (!q->head || q->busy || evtimer_pending(q->retry, NULL))
        return;
    q->busy = 1;
    if (mis_store_get(q->deps.store, q->head->ev.customer_number, on_state, q) < 0)
        head_failed(q, "reading the state (redis not connected)");
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    work(arg);
}

/* Only events of a customer need the queue; the rest are done at once. */
static int grouper_relevant(const cmn_event_t *ev)
{
    return ev->customer_number && !ev->internal && ev->type != CMN_EV_AGENT_LOGIN &&
           ev->type != CMN_EV_AGENT_LOGOUT;
}

static void on_message(void *ctx, const cmn_msg_pos_t *pos, const rd_kafka_message_t *m)
{
    mis_queue_t *q = ctx;
    char err[256], field[64];
    job_t *j = calloc(1, sizeof *j);
    if (!j) {
        LOG_ERROR("%s[%d]@%lld not taken (out of memory): delivered again", pos->topic,
                  pos->partition, (long long)pos->offset);
        cmn_consumer_retry(q->consumer, pos);
        return;
    }
    if (cmn_event_decode(m->payload, m->len, &j->ev, err, sizeof err, field, sizeof field) < 0) {
        LOG_ERROR("%s[%d]@%lld: not a canonical event (%s: %s); skipped", pos->topic,
                  pos->partition, (long long)pos->offset, field, err);
        cmn_metric_add(q->m_undecodable, 1);
        free(j);
        cmn_consumer_done(q->consumer, pos);
        return;
    }
    if (!grouper_relevant(&j->ev)) {
        job_free(j);
        cmn_consumer_done(q->consumer, pos);
        return;
    }
    j->pos = *pos;
    if (q->tail)
        q->tail->next = j;
    else
        q->head = j;
    q->tail = j;
    q->queued++;
    work(q);
}

/* Partitions leaving: what waits is given to their next owner; the head,
 * if its steps are under way, finishes (the revocation waits for it). */
static void on_revoke(void *ctx, int lost)
{
    mis_queue_t *q = ctx;
    job_t **pp = &q->head, *prev = NULL;
    size_t given = 0;
    (void)lost;
    while (*pp) {
        job_t *j = *pp;
        if ((j == q->head && q->busy) || !cmn_consumer_revoking(q->consumer, &j->pos)) {
            prev = j;
            pp = &j->next;
            continue;
        }
        if (j == q->head)
            event_del(q->retry);
        *pp = j->next;
        cmn_consumer_retry(q->consumer, &j->pos);
        job_free(j);
        q->queued--;
        given++;
    }
    q->tail = prev;
    if (given)
        LOG_INFO("rebalance: %zu queued event(s) left to the partitions' next owner", given);
    work(q);
}

static double in_flight(void *ctx)
{
    return (double)((mis_queue_t *)ctx)->queued;
}

static void metrics(mis_queue_t *q)
{
    q->m_grouped = cmn_metrics_counter("missed_calls_grouped_total",
                                       "Missed calls put in a group (R-M2, R-S1)", NULL);
    q->m_opened = cmn_metrics_counter("missed_groups_opened_total",
                                      "Missed-call groups opened (R-M1, R-S1)", NULL);
    q->m_closed_in =
        cmn_metrics_counter("missed_groups_closed_total",
                            "Groups ended by a conversation (R-M3, R-S1)", "by=\"inbound\"");
    q->m_closed_out =
        cmn_metrics_counter("missed_groups_closed_total",
                            "Groups ended by a conversation (R-M3, R-S1)", "by=\"outbound\"");
    q->m_ign_abandoned = cmn_metrics_counter("missed_calls_ignored_total",
                                             "Missed calls that make no ticket (R-M1, R-M4)",
                                             "reason=\"abandoned_off\"");
    q->m_ign_hours = cmn_metrics_counter("missed_calls_ignored_total",
                                         "Missed calls that make no ticket (R-M1, R-M4)",
                                         "reason=\"outside_hours\"");
    q->m_undecodable =
        cmn_metrics_counter("missed_events_undecodable_total",
                            "Messages on call-events that are not canonical events", NULL);
    q->m_replayed = cmn_metrics_counter("missed_events_replayed_total",
                                        "Events skipped as already applied (replays)", NULL);
    q->m_failed =
        cmn_metrics_counter("missed_step_failures_total",
                            "Redis or Kafka steps that failed and were tried again", NULL);
    cmn_metrics_gauge_fn("missed_events_in_flight", "Events fetched whose effects are not durable",
                         NULL, in_flight, q);
}

mis_queue_t *mis_queue_new(const mis_queue_deps_t *deps)
{
    mis_queue_t *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->deps = *deps;
    if (!(q->retry = evtimer_new(deps->base, on_retry, q))) {
        free(q);
        return NULL;
    }
    metrics(q);
    return q;
}

int mis_queue_consume(mis_queue_t *q, cmn_consumer_opts_t *opts, char *errstr, size_t errsz)
{
    opts->on_message = on_message;
    opts->on_revoke = on_revoke;
    opts->ctx = q;
    q->consumer = cmn_consumer_new(q->deps.base, opts, errstr, errsz);
    return q->consumer ? 0 : -1;
}

void mis_queue_stop(mis_queue_t *q)
{
    cmn_consumer_stop(q->consumer);
}

size_t mis_queue_pending(const mis_queue_t *q)
{
    return q->queued;
}

void mis_queue_close(mis_queue_t *q, int timeout_ms)
{
    if (!q)
        return;
    cmn_consumer_close_within(q->consumer, timeout_ms);
    q->consumer = NULL;
}

void mis_queue_free(mis_queue_t *q)
{
    if (!q)
        return;
    mis_queue_close(q, CMN_CONSUMER_CLOSE_MS);
    while (q->head) {
        job_t *j = q->head;
        q->head = j->next;
        job_free(j);
    }
    event_free(q->retry);
    free(q);
}
