/* callbus-missed, the missed-call grouper (issue 11): call-events ->
 * decisions (mis_rules) on each customer's state (mis_store, Redis) ->
 * missed-call-ops for ticket-service. Wires configuration, Redis, the
 * producer and the consumer; processes one event at a time per replica.
 *
 * Effects, in order, before an offset may move (cmn_consumer_done): the
 * op delivered to Kafka, then the customer's new state stored. A crash in
 * between replays the event from the state before it: same op id, which
 * ticket-service recognises. A stored state carries the offset it
 * applied, so a replayed event after it is skipped. */
#include "cmn_consumer.h"
#include "cmn_log.h"
#include "cmn_metrics.h"
#include "cmn_producer.h"
#include "cmn_redis.h"
#include "cmn_service.h"
#include "cmn_topics.h"
#include "mis_config.h"
#include "mis_store.h"

#include <stdlib.h>
#include <string.h>

/* One fetched event waiting its turn (owns ev's strings). */
typedef struct job {
    struct job *next;
    cmn_msg_pos_t pos;
    cmn_event_t ev;
} job_t;

typedef struct {
    cmn_service_t svc;
    mis_config_t cfg;
    mis_policy_t policy;
    cmn_redis_t *redis;
    mis_store_t *store;
    cmn_producer_t *producer;
    cmn_consumer_t *consumer;
    job_t *head, *tail; /* the head is the one being worked on */
    size_t queued;
    int busy;            /* the head has a Redis or Kafka step outstanding */
    struct event *retry; /* the head's next try after a failed step */
    mis_plan_t plan;     /* the head's decision */
    cmn_metric_t *m_grouped, *m_opened, *m_closed_in, *m_closed_out, *m_ign_abandoned, *m_ign_hours,
        *m_undecodable, *m_replayed, *m_failed;
} grouper_t;

static void work(grouper_t *g);

static int fail(const char *what, const char *why)
{
    LOG_ERROR("%s: %s", what, why);
    return -1;
}

static void job_free(job_t *j)
{
    cmn_event_clear(&j->ev);
    free(j);
}

/* The head's effects are durable (or it has none): its offset may move. */
static void head_done(grouper_t *g)
{
    job_t *j = g->head;
    g->head = j->next;
    if (!g->head)
        g->tail = NULL;
    g->queued--;
    g->busy = 0;
    cmn_consumer_done(g->consumer, &j->pos);
    job_free(j);
    work(g);
}

/* A Redis or Kafka step failed: try the head again later, from its read
 * (deciding again is harmless: the same op id comes out). */
static void head_failed(grouper_t *g, const char *step)
{
    static const struct timeval zero;
    struct timeval tv = zero;
    g->busy = 0;
    LOG_WARN("event %s: %s failed; tried again in %ld ms", g->head->ev.event_id, step,
             g->cfg.retry_ms);
    cmn_metric_add(g->m_failed, 1);
    tv.tv_sec = g->cfg.retry_ms / 1000;
    tv.tv_usec = (g->cfg.retry_ms % 1000) * 1000;
    if (event_add(g->retry, &tv) < 0)
        cmn_service_fatal(&g->svc, "retry timer");
}

static void count(grouper_t *g, const mis_plan_t *p)
{
    cmn_metric_add(g->m_grouped, p->grouped);
    cmn_metric_add(g->m_opened, p->opened);
    cmn_metric_add(g->m_closed_in, p->closed_inbound);
    cmn_metric_add(g->m_closed_out, p->closed_outbound);
    cmn_metric_add(g->m_ign_abandoned, p->ignored == MIS_IGNORED_ABANDONED);
    cmn_metric_add(g->m_ign_hours, p->ignored == MIS_IGNORED_OUTSIDE_HOURS);
}

static void on_stored(void *ctx, int ok)
{
    grouper_t *g = ctx;
    if (!ok) {
        head_failed(g, "storing the state");
        return;
    }
    count(g, &g->plan); /* once the event's effects are all durable */
    head_done(g);
}

static void store_state(grouper_t *g)
{
    job_t *j = g->head;
    if (!g->plan.changed) {
        count(g, &g->plan);
        head_done(g);
        return;
    }
    g->plan.state.partition = j->pos.partition;
    g->plan.state.offset = j->pos.offset;
    if (mis_store_put(g->store, j->ev.customer_number, &g->plan.state, on_stored, g) < 0) {
        head_failed(g, "storing the state (redis not connected)");
        return;
    }
}

static void on_delivered(void *opaque, rd_kafka_resp_err_t err, int32_t partition, int64_t offset)
{
    grouper_t *g = opaque;
    (void)partition;
    (void)offset;
    if (err) {
        head_failed(g, rd_kafka_err2str(err));
        return;
    }
    store_state(g);
}

static void produce_op(grouper_t *g)
{
    const cmn_missed_op_t *op = &g->plan.op;
    char *text = cmn_missed_op_encode(op);
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__INVALID_ARG;
    if (text)
        err = cmn_producer_send(g->producer, cmn_topic(CMN_TOPIC_MISSED_OPS), op->customer_number,
                                strlen(op->customer_number), text, strlen(text), on_delivered, g);
    free(text);
    if (err) {
        head_failed(g, text ? rd_kafka_err2str(err) : "encoding the op");
        return;
    }
    LOG_CALL(CMN_LOG_INFO, g->head->ev.call_id, "%s %s (group %s, count %ld)",
             cmn_missed_op_name(op->op), op->op_id, op->group_id, op->count);
}

static void on_state(void *ctx, int ok, const mis_state_t *st)
{
    grouper_t *g = ctx;
    job_t *j = g->head;
    if (!ok) {
        head_failed(g, "reading the state");
        return;
    }
    if (st->partition == j->pos.partition && j->pos.offset <= st->offset) {
        cmn_metric_add(g->m_replayed, 1); /* applied before a restart or rebalance */
        head_done(g);
        return;
    }
    if (mis_decide(&g->policy, &j->ev, st, &g->plan) < 0)
        LOG_CALL(CMN_LOG_WARN, j->ev.call_id, "event %s: %s; skipped", j->ev.event_id,
                 g->plan.note);
    else if (g->plan.note)
        LOG_CALL(CMN_LOG_DEBUG, j->ev.call_id, "event %s: %s", j->ev.event_id, g->plan.note);
    if (g->plan.has_op) {
        produce_op(g);
        return;
    }
    store_state(g);
}

/* Starts the head's steps unless one is outstanding or a retry waits. */
static void work(grouper_t *g)
{
    if (!g->head || g->busy || evtimer_pending(g->retry, NULL))
        return;
    g->busy = 1;
    if (mis_store_get(g->store, g->head->ev.customer_number, on_state, g) < 0)
        head_failed(g, "reading the state (redis not connected)");
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
    grouper_t *g = ctx;
    char err[256], field[64];
    job_t *j = calloc(1, sizeof *j);
    if (!j) {
        LOG_ERROR("%s[%d]@%lld not taken (out of memory): delivered again", pos->topic,
                  pos->partition, (long long)pos->offset);
        cmn_consumer_retry(g->consumer, pos);
        return;
    }
    if (cmn_event_decode(m->payload, m->len, &j->ev, err, sizeof err, field, sizeof field) < 0) {
        LOG_ERROR("%s[%d]@%lld: not a canonical event (%s: %s); skipped", pos->topic,
                  pos->partition, (long long)pos->offset, field, err);
        cmn_metric_add(g->m_undecodable, 1);
        free(j);
        cmn_consumer_done(g->consumer, pos);
        return;
    }
    if (!grouper_relevant(&j->ev)) {
        job_free(j);
        cmn_consumer_done(g->consumer, pos);
        return;
    }
    j->pos = *pos;
    if (g->tail)
        g->tail->next = j;
    else
        g->head = j;
    g->tail = j;
    g->queued++;
    work(g);
}

/* Partitions leaving: what waits is given to their next owner; the head,
 * if its steps are under way, finishes (the revocation waits for it). */
static void on_revoke(void *ctx, int lost)
{
    grouper_t *g = ctx;
    job_t **pp = &g->head, *prev = NULL;
    size_t given = 0;
    (void)lost;
    while (*pp) {
        job_t *j = *pp;
        if ((j == g->head && g->busy) || !cmn_consumer_revoking(g->consumer, &j->pos)) {
            prev = j;
            pp = &j->next;
            continue;
        }
        if (j == g->head)
            event_del(g->retry);
        *pp = j->next;
        cmn_consumer_retry(g->consumer, &j->pos);
        job_free(j);
        g->queued--;
        given++;
    }
    g->tail = prev;
    if (given)
        LOG_INFO("rebalance: %zu queued event(s) left to the partitions' next owner", given);
    work(g);
}

static double in_flight(void *ctx)
{
    return (double)((grouper_t *)ctx)->queued;
}

static int redis_ready(void *ctx, char *why, size_t whysz)
{
    if (cmn_redis_connected(((grouper_t *)ctx)->redis))
        return 1;
    snprintf(why, whysz, "redis not connected");
    return 0;
}

static int kafka_ready(void *ctx, char *why, size_t whysz)
{
    if (cmn_producer_reachable(((grouper_t *)ctx)->producer))
        return 1;
    snprintf(why, whysz, "no Kafka broker reachable");
    return 0;
}

static void stop_intake(void *ctx)
{
    cmn_consumer_stop(((grouper_t *)ctx)->consumer);
}

static size_t events_pending(void *ctx)
{
    return ((grouper_t *)ctx)->queued;
}

/* Unfinished events are replayed by the next owner (their offsets never
 * passed them). */
static int flush_and_commit(void *ctx)
{
    grouper_t *g = ctx;
    int unsent = cmn_producer_flush(g->producer, cmn_service_finish_left_ms(&g->svc));
    if (unsent)
        LOG_ERROR("%d missed-call op(s) not delivered at shutdown; their events will be replayed",
                  unsent);
    cmn_consumer_close_within(g->consumer, cmn_service_finish_left_ms(&g->svc));
    g->consumer = NULL;
    return unsent;
}

static void metrics(grouper_t *g)
{
    g->m_grouped = cmn_metrics_counter("missed_calls_grouped_total",
                                       "Missed calls put in a group (R-M2, R-S1)", NULL);
    g->m_opened = cmn_metrics_counter("missed_groups_opened_total",
                                      "Missed-call groups opened (R-M1, R-S1)", NULL);
    g->m_closed_in =
        cmn_metrics_counter("missed_groups_closed_total",
                            "Groups ended by a conversation (R-M3, R-S1)", "by=\"inbound\"");
    g->m_closed_out =
        cmn_metrics_counter("missed_groups_closed_total",
                            "Groups ended by a conversation (R-M3, R-S1)", "by=\"outbound\"");
    g->m_ign_abandoned = cmn_metrics_counter("missed_calls_ignored_total",
                                             "Missed calls that make no ticket (R-M1, R-M4)",
                                             "reason=\"abandoned_off\"");
    g->m_ign_hours = cmn_metrics_counter("missed_calls_ignored_total",
                                         "Missed calls that make no ticket (R-M1, R-M4)",
                                         "reason=\"outside_hours\"");
    g->m_undecodable =
        cmn_metrics_counter("missed_events_undecodable_total",
                            "Messages on call-events that are not canonical events", NULL);
    g->m_replayed = cmn_metrics_counter("missed_events_replayed_total",
                                        "Events skipped as already applied (replays)", NULL);
    g->m_failed =
        cmn_metrics_counter("missed_step_failures_total",
                            "Redis or Kafka steps that failed and were tried again", NULL);
    cmn_metrics_gauge_fn("missed_events_in_flight", "Events fetched whose effects are not durable",
                         NULL, in_flight, g);
}

static int start(grouper_t *g)
{
    char errstr[512];
    const char *topics[] = {cmn_topic(CMN_TOPIC_CALL_EVENTS)};
    if (mis_config_policy(&g->cfg, &g->policy, errstr, sizeof errstr) < 0)
        return fail("configuration", errstr);
    if (!(g->redis = cmn_service_redis_new(&g->svc, errstr, sizeof errstr)) ||
        !(g->store = mis_store_new(g->redis, g->svc.cfg.topic_prefix, g->cfg.state_ttl_s)))
        return fail("redis", errstr);
    if (cmn_topics_ensure_all(g->svc.cfg.kafka_brokers, (int)g->svc.cfg.topic_partitions,
                              (int)g->svc.cfg.topic_replication, (int)g->svc.cfg.topic_min_insync,
                              10000, errstr, sizeof errstr) < 0)
        LOG_WARN("topics not ensured: %s", errstr);
    cmn_producer_opts_t popts = {.brokers = g->svc.cfg.kafka_brokers,
                                 .linger_ms = 1,
                                 .test_fatal_after_ms = (int)g->svc.cfg.test_kafka_fatal_after_ms,
                                 .on_fatal = cmn_service_fatal,
                                 .fatal_ctx = &g->svc};
    if (!(g->producer = cmn_producer_new(g->svc.base, &popts, errstr, sizeof errstr)))
        return fail("kafka producer", errstr);
    cmn_consumer_opts_t copts = {.brokers = g->svc.cfg.kafka_brokers,
                                 .group_id = g->cfg.group_id,
                                 .topics = topics,
                                 .n_topics = 1,
                                 .instance_id = *g->cfg.instance_id ? g->cfg.instance_id : NULL,
                                 .max_in_flight = (int)g->cfg.max_in_flight,
                                 .on_message = on_message,
                                 .on_revoke = on_revoke,
                                 .ctx = g};
    if (!(g->consumer = cmn_consumer_new(g->svc.base, &copts, errstr, sizeof errstr)))
        return fail("kafka consumer", errstr);
    if (!(g->retry = evtimer_new(g->svc.base, on_retry, g)))
        return fail("start", "out of memory");
    metrics(g);
    if (cmn_http_ready_check(g->svc.http, "redis", redis_ready, g) < 0 ||
        cmn_http_ready_check(g->svc.http, "kafka", kafka_ready, g) < 0)
        return -1;
    cmn_service_drain_t drain = {
        .stop = stop_intake, .pending = events_pending, .finish = flush_and_commit, .ctx = g};
    cmn_service_on_drain(&g->svc, &drain);
    return 0;
}

static void teardown(grouper_t *g)
{
    cmn_consumer_close(g->consumer);
    /* Redis's pending callbacks (a hung server at SIGTERM) run now, while
     * the jobs they call into are alive. */
    cmn_redis_close(g->redis);
    while (g->head) {
        job_t *j = g->head;
        g->head = j->next;
        job_free(j);
    }
    if (g->retry)
        event_free(g->retry);
    cmn_producer_free(g->producer);
    mis_store_free(g->store);
    cmn_redis_free(g->redis);
}

int main(int argc, char **argv)
{
    static grouper_t g;
    if (argc > 1 && strcmp(argv[1], "--config-markdown") == 0)
        return cmn_service_print_config(mis_config_spec, mis_config_spec_len);
    int rc = cmn_service_init(&g.svc, "missed", mis_config_spec, mis_config_spec_len, &g.cfg);
    if (rc == 0)
        rc = start(&g) < 0 ? 1 : cmn_service_run(&g.svc);
    teardown(&g);
    cmn_service_fini(&g.svc, mis_config_spec, mis_config_spec_len, &g.cfg);
    return rc;
}
