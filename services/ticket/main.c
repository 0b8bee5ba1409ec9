/* ticket-service: call events -> CRM tickets by the rules, with the
 * batched flush; the IVR API. Wires configuration, Redis, the CRM adapter,
 * the batch, the pipeline and the consumer; shuts down flushing first. */
#include "cmn_consumer.h"
#include "cmn_log.h"
#include "cmn_metrics.h"
#include "cmn_redis.h"
#include "cmn_service.h"
#include "cmn_time.h"
#include "cmn_topics.h"
#include "tkt_actions.h"
#include "tkt_config.h"
#include "tkt_deadletter.h"
#include "tkt_ivr.h"
#include "tkt_pipeline.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    cmn_service_t svc;
    tkt_config_t cfg;
    tkt_policy_t policy;
    cmn_redis_t *redis;
    tkt_store_t *store;
    tkt_crm_t *crm;
    tkt_batch_t *batch;
    tkt_bulkcreate_t *bulk_create; /* NULL: off */
    tkt_reads_t *status_reads;     /* NULL: off */
    cmn_producer_t *producer;
    cmn_consumer_t *consumer;
    tkt_pipeline_t *pipeline;
    tkt_ivr_t *ivr;
    struct event *sweep;
    cmn_metric_t *m_undecodable, *m_not_taken;
    tkt_missing_fields_t missing_fields;
    struct held *held; /* messages handed to the pipeline or the actions, not yet done */
} ticket_t;

/* A message being worked on: the done callbacks' context. Its key, and the
 * payload of an action message, are kept for its dead letter, if it comes
 * to one (a call event's is re-encoded from the job's event: no second copy
 * of every call). Listed, so that what a shutdown leaves unfinished (grace
 * over) is freed at the end. */
typedef struct held {
    struct held *prev, *next;
    ticket_t *t;
    cmn_msg_pos_t pos;
    char *key;     /* "" none */
    char *payload; /* NULL: a call event */
    size_t len;
} held_t;

static void held_free(held_t *h)
{
    free(h->key);
    free(h->payload);
    free(h);
}

/* Unlinks and frees h. NULL-safe. */
static void unhold(held_t *h)
{
    if (!h)
        return;
    if (h->prev)
        h->prev->next = h->next;
    else
        h->t->held = h->next;
    if (h->next)
        h->next->prev = h->prev;
    held_free(h);
}

/* Logs why start-up failed; returns -1 for the caller to pass up. */
static int fail(const char *what, const char *why)
{
    LOG_ERROR("%s: %s", what, why);
    return -1;
}

/* Fetching stops while the events waiting their turn hold too much memory
 * (a hot customer's backlog), and goes on once they have drained. */
static void follow_saturation(ticket_t *t)
{
    if (t->consumer)
        cmn_consumer_hold(t->consumer, tkt_pipeline_saturated(t->pipeline));
}

/* ok=1: effects durable; ok=0: rejected for good, logged and counted.
 * Either way the event is dealt with and its offset may move. */
static void on_event_done(void *ctx, int ok)
{
    held_t *h = ctx;
    ticket_t *t = h->t;
    if (t->consumer)
        cmn_consumer_done(t->consumer, &h->pos);
    unhold(h);
    follow_saturation(t);
}

/* No memory to take the message now: it is given back to the consumer,
 * which fetches it again (its offset never passes it). */
static void not_taken(ticket_t *t, const cmn_msg_pos_t *pos, const char *why)
{
    LOG_ERROR("%s[%d]@%lld not taken (%s): delivered again", pos->topic, pos->partition,
              (long long)pos->offset, why);
    cmn_metric_add(t->m_not_taken, 1);
    cmn_consumer_retry(t->consumer, pos);
}

/* NULL out of memory (the caller gives the message back: not_taken).
 * keep_payload: an action message, kept as it came for its dead letter. */
static held_t *hold(ticket_t *t, const cmn_msg_pos_t *pos, const rd_kafka_message_t *m,
                    int keep_payload)
{
    held_t *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->t = t;
    h->pos = *pos;
    h->key = strndup(m->key ? (const char *)m->key : "", m->key ? m->key_len : 0);
    if (keep_payload && (h->payload = malloc(m->len + 1))) {
        memcpy(h->payload, m->payload, m->len);
        h->payload[m->len] = '\0';
        h->len = m->len;
    }
    if (!h->key || (keep_payload && !h->payload)) {
        held_free(h); /* not listed yet */
        return NULL;
    }
    h->prev = NULL;
    h->next = t->held;
    if (t->held)
        t->held->prev = h;
    t->held = h;
    return h;
}

/* ---- dead letters (tkt_deadletter.h) ------------------------------------ */

typedef struct {
    tkt_dead_letter_stored_fn stored;
    void *job;
} dlq_wait_t;

/* The letter is durable (acks=all) or failed: only now may the event's
 * offset move (the pipeline finishes the event on success). */
static void on_dead_letter_delivered(void *opaque, rd_kafka_resp_err_t err, int32_t partition,
                                     int64_t offset)
{
    dlq_wait_t *w = opaque;
    w->stored(w->job, err ? rd_kafka_err2str(err) : NULL);
    free(w);
}

static void dead_letter(void *ctx, void *done_ctx, const cmn_event_t *ev,
                        const tkt_dead_letter_t *dl, tkt_dead_letter_stored_fn stored, void *job)
{
    ticket_t *t = ctx;
    held_t *h = done_ctx;
    tkt_dlq_source_t src = {.topic = h->pos.topic,
                            .partition = h->pos.partition,
                            .offset = h->pos.offset,
                            .key = h->key,
                            .payload = h->payload,
                            .len = h->len};
    char *text = tkt_deadletter_encode(&src, ev, dl, cmn_time_now_ms());
    dlq_wait_t *w = text ? malloc(sizeof *w) : NULL;
    if (!w) {
        free(text);
        stored(job, "out of memory");
        return;
    }
    w->stored = stored;
    w->job = job;
    const char *key = *h->key ? h->key : ev->event_id;
    rd_kafka_resp_err_t err =
        cmn_producer_send(t->producer, cmn_topic(CMN_TOPIC_TICKET_DLQ), key, strlen(key), text,
                          strlen(text), on_dead_letter_delivered, w);
    free(text);
    if (err) {
        free(w);
        stored(job, rd_kafka_err2str(err));
    }
}

/* A queued event of a partition being revoked: give it to the next owner
 * (tkt_pipeline_cancel_queued's cancel). */
static int give_up_if_revoking(void *cb_ctx, void *arg)
{
    held_t *h = cb_ctx;
    ticket_t *t = arg;
    if (!cmn_consumer_revoking(t->consumer, &h->pos))
        return 0;
    cmn_consumer_retry(t->consumer, &h->pos);
    unhold(h);
    return 1;
}

/* Partitions are leaving this replica: finish what has started now (the
 * batch window goes at once) and hand back what has not, so the new owner
 * neither races our writes nor waits for the window (issue 7 item 4). */
static void on_revoke(void *ctx, int lost)
{
    ticket_t *t = ctx;
    size_t dropped = tkt_pipeline_cancel_queued(t->pipeline, give_up_if_revoking, t);
    if (dropped)
        LOG_INFO("rebalance: %zu queued event(s) left to the partitions' next owner", dropped);
    if (tkt_batch_pending(t->batch))
        tkt_batch_flush_now(t->batch);
    if (tkt_bulkcreate_pending(t->bulk_create))
        tkt_bulkcreate_flush_now(t->bulk_create);
    if (tkt_reads_pending(t->status_reads))
        tkt_reads_flush_now(t->status_reads);
}

/* agent-actions and missed-call-ops: intent to carry out (tkt_actions.h). */
static void on_action(ticket_t *t, tkt_actions_kind_t kind, const cmn_msg_pos_t *pos,
                      const rd_kafka_message_t *m)
{
    char err[256];
    held_t *h = hold(t, pos, m, 1);
    if (!h) {
        not_taken(t, pos, "out of memory");
        return;
    }
    int rc = tkt_actions_submit(t->pipeline, &t->policy, kind, m->payload, m->len, on_event_done, h,
                                err, sizeof err);
    if (rc == TKT_ACTIONS_NOT_NOW) {
        unhold(h);
        not_taken(t, pos, err);
        return;
    }
    if (rc < 0) {
        LOG_ERROR("%s[%d]@%lld: %s; skipped", pos->topic, pos->partition, (long long)pos->offset,
                  err);
        cmn_metric_add(t->m_undecodable, 1);
        unhold(h);
        cmn_consumer_done(t->consumer, pos);
    }
    follow_saturation(t);
}

static void on_message(void *ctx, const cmn_msg_pos_t *pos, const rd_kafka_message_t *m)
{
    ticket_t *t = ctx;
    cmn_event_t ev;
    char err[256], field[64];
    if (strcmp(pos->topic, cmn_topic(CMN_TOPIC_AGENT_ACTIONS)) == 0) {
        on_action(t, TKT_ACTIONS_AGENT, pos, m);
        return;
    }
    if (strcmp(pos->topic, cmn_topic(CMN_TOPIC_MISSED_OPS)) == 0) {
        on_action(t, TKT_ACTIONS_MISSED, pos, m);
        return;
    }
    if (cmn_event_decode(m->payload, m->len, &ev, err, sizeof err, field, sizeof field) < 0) {
        LOG_ERROR("%s[%d]@%lld: not a canonical event (%s: %s); skipped", pos->topic,
                  pos->partition, (long long)pos->offset, field, err);
        cmn_metric_add(t->m_undecodable, 1);
        cmn_consumer_done(t->consumer, pos);
        return;
    }
    held_t *h = hold(t, pos, m, 0);
    if (!h || tkt_pipeline_submit(t->pipeline, &ev, on_event_done, h) < 0) {
        cmn_event_clear(&ev);
        unhold(h);
        not_taken(t, pos, "out of memory");
        return;
    }
    follow_saturation(t);
}

static int redis_ready(void *ctx, char *why, size_t whysz)
{
    ticket_t *t = ctx;
    if (cmn_redis_connected(t->redis))
        return 1;
    snprintf(why, whysz, "redis not connected");
    return 0;
}

static int kafka_ready(void *ctx, char *why, size_t whysz)
{
    ticket_t *t = ctx;
    if (cmn_producer_reachable(t->producer))
        return 1;
    snprintf(why, whysz, "no Kafka broker reachable");
    return 0;
}

/* A CRM that refuses our credentials takes no writes: events are held
 * (not dropped) until it does, and this replica says so. */
static int crm_ready(void *ctx, char *why, size_t whysz)
{
    ticket_t *t = ctx;
    if (!t->crm->ops->auth_failing || !t->crm->ops->auth_failing(t->crm))
        return 1;
    snprintf(why, whysz, "the CRM refuses our credentials (HTTP 401/403): check the API token");
    return 0;
}

static double in_flight(void *ctx)
{
    return (double)tkt_pipeline_in_flight(((ticket_t *)ctx)->pipeline);
}

static double active(void *ctx)
{
    return (double)tkt_pipeline_active(((ticket_t *)ctx)->pipeline);
}

static double batch_pending(void *ctx)
{
    return (double)tkt_batch_pending(((ticket_t *)ctx)->batch);
}

static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
    ticket_t *t = arg;
    if (!t->svc.shutting_down)
        tkt_pipeline_sweep(t->pipeline);
}

/* Shutdown: an event that has not started is left to the next run (its
 * offset stays where it is: it is fetched again). */
static int give_up(void *cb_ctx, void *arg)
{
    unhold(cb_ctx);
    return 1;
}

/* Shutdown (cmn_service stops the HTTP intake first): fetch no more, hand
 * back what has not started (a hot customer's backlog can be long), and
 * send the pending batch window now (R-B2) instead of at its end. */
static void stop_intake(void *ctx)
{
    ticket_t *t = ctx;
    cmn_consumer_stop(t->consumer);
    size_t left = tkt_pipeline_cancel_queued(t->pipeline, give_up, t);
    if (left)
        LOG_INFO("shutdown: %zu event(s) not started are left to the next run", left);
    tkt_batch_flush_now(t->batch);
    if (t->bulk_create)
        tkt_bulkcreate_flush_now(t->bulk_create);
    if (t->status_reads)
        tkt_reads_flush_now(t->status_reads);
}

/* Events whose effects are not yet durable; anything a late event put in
 * the batch goes at once too. */
static size_t events_pending(void *ctx)
{
    ticket_t *t = ctx;
    size_t left = tkt_pipeline_in_flight(t->pipeline);
    if (left && tkt_batch_pending(t->batch))
        tkt_batch_flush_now(t->batch);
    if (left && tkt_bulkcreate_pending(t->bulk_create))
        tkt_bulkcreate_flush_now(t->bulk_create);
    if (left && tkt_reads_pending(t->status_reads))
        tkt_reads_flush_now(t->status_reads);
    return left;
}

/* Flush, then commit the offsets stored for finished events (unfinished
 * ones are replayed by the next owner). */
static int flush_and_commit(void *ctx)
{
    ticket_t *t = ctx;
    int unsent = cmn_producer_flush(t->producer, cmn_service_finish_left_ms(&t->svc));
    if (unsent)
        LOG_ERROR("%d ticket event(s) not delivered at shutdown; their calls' events will be "
                  "replayed",
                  unsent);
    /* commits the stored offsets, within what is left of the grace */
    cmn_consumer_close_within(t->consumer, cmn_service_finish_left_ms(&t->svc));
    t->consumer = NULL;
    return unsent;
}

/* R-T9: learn which mapped custom fields the CRM lacks, once at start. */
static void on_fields(void *ctx, const tkt_crm_result_t *res)
{
    ticket_t *t = ctx;
    tkt_missing_fields_t *m = &t->missing_fields;
    if (!res->ok) {
        LOG_WARN("ticket fields not listed (%s): mapped fields are sent unchecked", res->error);
        return;
    }
    /* ISO C before C2X does not add const to an array's elements implicitly:
     * the cast only adds it (the look-up reads the ids). */
    tkt_fields_find_missing(&t->policy.fields, (const char(*)[TKT_ID_MAX])res->field_ids,
                            res->n_field_ids, m);
    if (m->n)
        LOG_WARN("CALLBUS_TICKET_FIELDS names fields the CRM does not have: %s", m->names);
}

static int start_kafka(ticket_t *t)
{
    char errstr[512];
    const char *topics[] = {cmn_topic(CMN_TOPIC_CALL_EVENTS), cmn_topic(CMN_TOPIC_AGENT_ACTIONS),
                            cmn_topic(CMN_TOPIC_MISSED_OPS)};
    if (cmn_topics_ensure_all(t->svc.cfg.kafka_brokers, (int)t->svc.cfg.topic_partitions,
                              (int)t->svc.cfg.topic_replication, (int)t->svc.cfg.topic_min_insync,
                              10000, errstr, sizeof errstr) < 0)
        LOG_WARN("topics not ensured: %s", errstr);
    cmn_producer_opts_t popts = {.brokers = t->svc.cfg.kafka_brokers,
                                 .linger_ms = 5,
                                 .test_fatal_after_ms = (int)t->svc.cfg.test_kafka_fatal_after_ms,
                                 .on_fatal = cmn_service_fatal,
                                 .fatal_ctx = &t->svc};
    if (!(t->producer = cmn_producer_new(t->svc.base, &popts, errstr, sizeof errstr)))
        return fail("kafka producer", errstr);
    cmn_consumer_opts_t copts = {.brokers = t->svc.cfg.kafka_brokers,
                                 .group_id = t->cfg.group_id,
                                 .topics = topics,
                                 .n_topics = 3,
                                 /* one customer's calls, actions and missed-call
                                  * operations in one process (issue 19 item 3) */
                                 .co_partitioned = 1,
                                 .instance_id = t->cfg.instance_id,
                                 .max_in_flight = (int)t->cfg.max_in_flight,
                                 .max_in_flight_per_partition =
                                     (int)t->cfg.max_in_flight_per_partition,
                                 .on_message = on_message,
                                 .on_revoke = on_revoke,
                                 .on_fatal = cmn_service_fatal,
                                 .fatal_ctx = &t->svc,
                                 .ctx = t};
    if (!(t->consumer = cmn_consumer_new(t->svc.base, &copts, errstr, sizeof errstr)))
        return fail("kafka consumer", errstr);
    return 0;
}

/* CALLBUS_CRM picks the provider (crm_provider.h); every one speaks tkt_crm.h. */
static int start_crm(ticket_t *t, cmn_phone_lookup_t form)
{
    char errstr[512];
    crm_shared_cfg_t shared;
    tkt_batch_cfg_t bcfg;
    const crm_provider_t *p = crm_provider_find(t->cfg.crm); /* validated as an enum */
    if (!p)
        return fail("configuration", "CALLBUS_CRM: no such CRM");
    tkt_config_crm(&t->cfg, form, t->svc.country, &shared);
    if (!(t->crm = crm_provider_start(p, t->svc.base, &shared, stderr, errstr, sizeof errstr)))
        return fail(p->name, errstr);
    tkt_config_batch(&t->cfg, p->ticket_write_limit, &bcfg);
    bcfg.on_job = tkt_pipeline_job_started; /* job ids stored with the plans */
    if (!(t->batch = tkt_batch_new(t->svc.base, t->crm, &bcfg)))
        return fail("start", "out of memory");
    if (t->cfg.batch_creations && t->crm->ops->bulk_create &&
        !(t->bulk_create = tkt_bulkcreate_new(t->svc.base, t->crm, bcfg.window_s)))
        return fail("start", "out of memory");
    if (t->cfg.batch_status_reads && t->crm->ops->ticket_statuses &&
        !(t->status_reads = tkt_reads_new(t->svc.base, t->crm, bcfg.window_s)))
        return fail("start", "out of memory");
    return 0;
}

static int start(ticket_t *t)
{
    struct timeval sweep_every;
    int64_t max_call_age_ms;
    char errstr[512];
    cmn_phone_lookup_t form = CMN_PHONE_LOOKUP_DIGITS;
    if (tkt_config_policy(&t->cfg, &t->policy, errstr, sizeof errstr) < 0)
        return fail("configuration", errstr);
    cmn_phone_lookup_parse(t->cfg.lookup_form, &form); /* validated as an enum */
    tkt_config_sweep(&t->cfg, &sweep_every, &max_call_age_ms);
    if (!(t->redis = cmn_service_redis_new(&t->svc, errstr, sizeof errstr)) ||
        !(t->store = tkt_store_new(t->redis, t->svc.cfg.topic_prefix)))
        return fail("redis", errstr);
    if (start_crm(t, form) < 0 || start_kafka(t) < 0)
        return -1;
    if (*t->cfg.fields)
        t->crm->ops->list_fields(t->crm, on_fields, t);
    tkt_pipeline_deps_t deps = {.base = t->svc.base,
                                .crm = t->crm,
                                .batch = t->batch,
                                .bulk_create = t->bulk_create,
                                .status_reads = t->status_reads,
                                .store = t->store,
                                .producer = t->producer,
                                .policy = &t->policy,
                                .country = t->svc.country,
                                .lookup_form = form,
                                .max_call_age_ms = max_call_age_ms,
                                .missing_fields = &t->missing_fields,
                                .max_active = (size_t)t->cfg.max_active,
                                .max_active_per_key = (size_t)t->cfg.max_active_per_key,
                                .waiting_max_bytes = (size_t)t->cfg.waiting_max_mb << 20,
                                .crm_display = t->cfg.crm_display,
                                .dead_letter = dead_letter,
                                .dead_letter_ctx = t,
                                .retry_limit_ms = t->cfg.retry_limit_s * 1000};
    if (!(t->pipeline = tkt_pipeline_new(&deps)))
        return fail("start", "out of memory");
    tkt_ivr_deps_t ivr = {.base = t->svc.base,
                          .crm = t->crm,
                          .redis = t->redis,
                          .store = t->store,
                          .policy = &t->policy,
                          .country = t->svc.country,
                          .lookup_form = form,
                          .token = t->cfg.ivr_token,
                          .token_previous = t->cfg.ivr_token_previous,
                          .deadline_ms = (int)t->cfg.ivr_deadline_ms,
                          .cache_s = (int)t->cfg.ivr_cache_s};
    if (*t->cfg.ivr_token && !(t->ivr = tkt_ivr_new(&ivr, t->svc.http)))
        return fail("ivr api", "cannot start");
    t->m_undecodable =
        cmn_metrics_counter("ticket_events_undecodable_total",
                            "Messages on call-events that are not canonical events", NULL);
    t->m_not_taken = cmn_metrics_counter(
        "ticket_events_not_taken_total",
        "Messages given back for lack of memory (fetched again, never skipped)", NULL);
    cmn_metrics_gauge_fn("ticket_events_in_flight", "Events whose effects are not yet durable",
                         NULL, in_flight, t);
    cmn_metrics_gauge_fn("ticket_events_active",
                         "Events being worked on (the rest wait their turn)", NULL, active, t);
    cmn_metrics_gauge_fn("ticket_batch_pending", "Ops waiting in the batch window", NULL,
                         batch_pending, t);
    t->sweep = event_new(t->svc.base, -1, EV_PERSIST, on_sweep, t);
    if (!t->sweep || event_add(t->sweep, &sweep_every) < 0 ||
        cmn_http_ready_check(t->svc.http, "redis", redis_ready, t) < 0 ||
        cmn_http_ready_check(t->svc.http, "kafka", kafka_ready, t) < 0 ||
        cmn_http_ready_check(t->svc.http, "crm", crm_ready, t) < 0)
        return -1;
    cmn_service_drain_t drain = {
        .stop = stop_intake, .pending = events_pending, .finish = flush_and_commit, .ctx = t};
    cmn_service_on_drain(&t->svc, &drain);
    return 0;
}

static void teardown(ticket_t *t)
{
    if (t->sweep)
        event_free(t->sweep);
    cmn_consumer_close(t->consumer);
    /* Redis's pending callbacks (a hung server at SIGTERM) run now, while
     * the jobs and the pipeline they call into are alive; later Redis
     * calls, e.g. from the CRM's cancelled requests, are refused. */
    cmn_redis_close(t->redis);
    if (t->crm) /* first: its cancelled requests call into the batch and the IVR API */
        t->crm->ops->free(t->crm);
    tkt_ivr_free(t->ivr);
    tkt_batch_free(t->batch);
    tkt_bulkcreate_free(t->bulk_create);
    tkt_reads_free(t->status_reads);
    tkt_pipeline_free(t->pipeline);
    cmn_producer_free(t->producer);
    tkt_store_free(t->store);
    cmn_redis_free(t->redis);
    while (t->held) /* unfinished at exit: replayed from Kafka by the next owner */
        unhold(t->held);
}

int main(int argc, char **argv)
{
    static ticket_t t;
    if (argc > 1 && strcmp(argv[1], "--config-markdown") == 0) {
        int printed = cmn_service_print_config(tkt_config_spec, tkt_config_spec_len);
        crm_provider_print_markdown(stdout); /* every CRM's own settings */
        return printed;
    }
    int rc = cmn_service_init(&t.svc, "ticket", tkt_config_spec, tkt_config_spec_len, &t.cfg);
    if (rc == 0)
        rc = start(&t) < 0 ? 1 : cmn_service_run(&t.svc);
    teardown(&t);
    cmn_service_fini(&t.svc, tkt_config_spec, tkt_config_spec_len, &t.cfg);
    return rc;
}
