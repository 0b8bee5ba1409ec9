/* The stats service's job queue (sta_queue.h). */
#include "sta_queue.h"

#include "cmn_log.h"
#include "cmn_metrics.h"
#include "cmn_topics.h"

#include <stdlib.h>
#include <string.h>

typedef struct job {
    struct job *next;
    cmn_msg_pos_t pos;
    sta_msg_t msg;
} job_t;

/* What Redis said is applied of a partition (its stored offset only
 * grows): messages at or below it are done without asking again, so a
 * re-read from offset 0 or a replay after a rebalance costs one round trip
 * per partition, not one per message. */
#define MAX_GUARDS 1024
typedef struct {
    char topic[256];
    int32_t partition;
    int64_t applied;
} guard_t;

struct sta_queue {
    guard_t guards[MAX_GUARDS];
    size_t n_guards;
    sta_queue_deps_t deps;
    cmn_consumer_t *consumer;
    job_t *head, *tail;
    size_t queued;
    int busy;
    int failures; /* of the head in a row: the back-off's exponent */
    struct event *retry;
    sta_plan_t plan; /* the head's */
    cmn_metric_t *m_failed;
};

static void work(sta_queue_t *q);

static void job_free(job_t *j)
{
    sta_msg_clear(&j->msg);
    free(j);
}

static guard_t *guard_of(sta_queue_t *q, const cmn_msg_pos_t *pos, int create)
{
    for (size_t i = 0; i < q->n_guards; i++)
        if (q->guards[i].partition == pos->partition && strcmp(q->guards[i].topic, pos->topic) == 0)
            return &q->guards[i];
    if (!create || q->n_guards == MAX_GUARDS)
        return NULL; /* not remembered: asked each time, as before */
    guard_t *g = &q->guards[q->n_guards++];
    snprintf(g->topic, sizeof g->topic, "%s", pos->topic);
    g->partition = pos->partition;
    g->applied = -1;
    return g;
}

static void note_applied(sta_queue_t *q, const cmn_msg_pos_t *pos, int64_t stored)
{
    guard_t *g = guard_of(q, pos, 1);
    if (g && stored > g->applied)
        g->applied = stored;
}

static int known_applied(sta_queue_t *q, const cmn_msg_pos_t *pos)
{
    const guard_t *g = guard_of(q, pos, 0);
    return g && pos->offset <= g->applied;
}

/* The head is over: out of the queue, its offset handed back. */
static void pop_head(sta_queue_t *q, const char *result)
{
    job_t *j = q->head;
    q->head = j->next;
    if (!q->head)
        q->tail = NULL;
    q->queued--;
    q->busy = 0;
    q->failures = 0;
    sta_metrics_event(q->deps.metrics, j->msg.src, result);
    if (q->consumer) /* closed at shutdown: the next owner finds it applied */
        cmn_consumer_done(q->consumer, &j->pos);
    job_free(j);
}

static void head_done(sta_queue_t *q, const char *result)
{
    pop_head(q, result);
    work(q);
}

static void head_failed(sta_queue_t *q, const char *step)
{
    long ms = q->deps.retry_ms;
    struct timeval tv;
    for (int i = 0; i < q->failures && ms < q->deps.max_retry_ms; i++)
        ms *= 2;
    if (ms > q->deps.max_retry_ms)
        ms = q->deps.max_retry_ms;
    q->failures++;
    q->busy = 0;
    cmn_metric_add(q->m_failed, 1);
    LOG_WARN("%s[%d]@%lld: %s failed; tried again in %ld ms", q->head->pos.topic,
             q->head->pos.partition, (long long)q->head->pos.offset, step, ms);
    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    if (event_add(q->retry, &tv) < 0)
        q->deps.on_fatal(q->deps.fatal_ctx, "retry timer");
}

static void on_applied(void *ctx, sta_apply_result_t res, int64_t stored)
{
    sta_queue_t *q = ctx;
    if (res == STA_APPLY_FAILED) {
        head_failed(q, "applying");
        return;
    }
    note_applied(q, &q->head->pos, stored);
    if (res == STA_APPLY_APPLIED)
        sta_metrics_plan(q->deps.metrics, &q->plan); /* once it is durable */
    head_done(q, res == STA_APPLY_APPLIED ? "applied" : "duplicate");
}

static void on_state(void *ctx, int ok, const sta_call_t *call, const sta_ticket_t *ticket)
{
    sta_queue_t *q = ctx;
    job_t *j = q->head;
    if (!ok) {
        head_failed(q, "reading the state");
        return;
    }
    sta_decide(&j->msg, call, ticket, &q->plan);
    if (sta_plan_empty(&q->plan)) {
        if (q->plan.note)
            LOG_DEBUG("%s[%d]@%lld: %s", j->pos.topic, j->pos.partition, (long long)j->pos.offset,
                      q->plan.note);
        head_done(q, "skipped");
        return;
    }
    if (sta_store_apply(q->deps.store, j->pos.topic, j->pos.partition, j->pos.offset, &q->plan,
                        on_applied, q) < 0)
        head_failed(q, "applying (redis not connected)");
}

static void on_guard(void *ctx, int ok, int64_t applied)
{
    sta_queue_t *q = ctx;
    if (!ok) {
        head_failed(q, "reading the applied offset");
        return;
    }
    note_applied(q, &q->head->pos, applied);
    q->busy = 0;
    work(q);
}

static void work(sta_queue_t *q)
{
    if (q->busy || !q->consumer || evtimer_pending(q->retry, NULL))
        return; /* no consumer: closed, nothing more is started */
    while (q->head && known_applied(q, &q->head->pos))
        pop_head(q, "duplicate"); /* a loop, not head_done: a long replay must not recurse */
    if (!q->head)
        return;
    q->busy = 1;
    if (!guard_of(q, &q->head->pos, 0) && q->n_guards < MAX_GUARDS) {
        /* a partition first seen: where it was applied up to, once */
        if (sta_store_applied(q->deps.store, q->head->pos.topic, q->head->pos.partition, on_guard,
                              q) < 0)
            head_failed(q, "reading the applied offset (redis not connected)");
        return;
    }
    const sta_msg_t *m = &q->head->msg;
    if (sta_store_read(q->deps.store, sta_msg_call_id(m), sta_msg_ticket_id(m), on_state, q) < 0)
        head_failed(q, "reading the state (redis not connected)");
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    work(arg);
}

static sta_source_t source_of(const char *topic)
{
    for (int s = 0; s < STA_SRC__COUNT; s++)
        if (strcmp(topic, cmn_topic(sta_source_topic((sta_source_t)s))) == 0)
            return (sta_source_t)s;
    return STA_SRC__COUNT;
}

static void on_message(void *ctx, const cmn_msg_pos_t *pos, const rd_kafka_message_t *m)
{
    sta_queue_t *q = ctx;
    char err[256];
    sta_source_t src = source_of(pos->topic);
    job_t *j = calloc(1, sizeof *j);
    if (!j) {
        LOG_ERROR("%s[%d]@%lld not taken (out of memory): delivered again", pos->topic,
                  pos->partition, (long long)pos->offset);
        cmn_consumer_retry(q->consumer, pos);
        return;
    }
    int rc = src == STA_SRC__COUNT
                 ? -1
                 : sta_msg_decode(src, m->payload, m->len, &j->msg, err, sizeof err);
    if (rc <= 0) {
        if (rc < 0)
            LOG_ERROR("%s[%d]@%lld: not what the topic carries (%s); skipped", pos->topic,
                      pos->partition, (long long)pos->offset,
                      src == STA_SRC__COUNT ? "unknown topic" : err);
        if (src != STA_SRC__COUNT)
            sta_metrics_event(q->deps.metrics, src, rc < 0 ? "rejected" : "skipped");
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

/* Partitions leaving: what waits goes to their next owner; a head whose
 * step is under way finishes (the revocation waits for it). */
static void on_revoke(void *ctx, int lost)
{
    sta_queue_t *q = ctx;
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
        if (j == q->head) {
            event_del(q->retry);
            q->failures = 0;
        }
        *pp = j->next;
        cmn_consumer_retry(q->consumer, &j->pos);
        job_free(j);
        q->queued--;
        given++;
    }
    q->tail = prev;
    if (given)
        LOG_INFO("rebalance: %zu queued message(s) left to the partitions' next owner", given);
    work(q);
}

static double in_flight(void *ctx)
{
    return (double)((sta_queue_t *)ctx)->queued;
}

sta_queue_t *sta_queue_new(const sta_queue_deps_t *deps)
{
    sta_queue_t *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->deps = *deps;
    if (!(q->retry = evtimer_new(deps->base, on_retry, q))) {
        free(q);
        return NULL;
    }
    q->m_failed = cmn_metrics_counter("stats_step_failures_total",
                                      "Redis steps that failed and were tried again", NULL);
    cmn_metrics_gauge_fn("stats_events_in_flight", "Messages fetched whose figures are not applied",
                         NULL, in_flight, q);
    return q;
}

int sta_queue_consume(sta_queue_t *q, cmn_consumer_opts_t *opts, char *errstr, size_t errsz)
{
    static const char *topics[STA_SRC__COUNT];
    for (int s = 0; s < STA_SRC__COUNT; s++)
        topics[s] = cmn_topic(sta_source_topic((sta_source_t)s));
    opts->topics = topics;
    opts->n_topics = STA_SRC__COUNT;
    opts->on_message = on_message;
    opts->on_revoke = on_revoke;
    opts->ctx = q;
    q->consumer = cmn_consumer_new(q->deps.base, opts, errstr, errsz);
    return q->consumer ? 0 : -1;
}

void sta_queue_stop(sta_queue_t *q)
{
    cmn_consumer_stop(q->consumer);
}

size_t sta_queue_pending(const sta_queue_t *q)
{
    return q->queued;
}

void sta_queue_close(sta_queue_t *q, int timeout_ms)
{
    if (!q)
        return;
    cmn_consumer_close_within(q->consumer, timeout_ms);
    q->consumer = NULL;
}

void sta_queue_free(sta_queue_t *q)
{
    if (!q)
        return;
    sta_queue_close(q, CMN_CONSUMER_CLOSE_MS);
    while (q->head) {
        job_t *j = q->head;
        q->head = j->next;
        job_free(j);
    }
    event_free(q->retry);
    free(q);
}
