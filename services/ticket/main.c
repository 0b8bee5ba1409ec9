/* ticket-service: call events -> CRM tickets by the rules, with the
 * batched flush; the IVR API. Wires configuration, Redis, the CRM adapter,
 * the batch, the pipeline and the intake (tkt_intake: the consumer); shuts
 * down flushing first. */
#include "cmn_log.h"
#include "cmn_metrics.h"
#include "cmn_redis.h"
#include "cmn_service.h"
#include "cmn_topics.h"
#include "tkt_config.h"
#include "tkt_intake.h"
#include "tkt_ivr.h"
#include "tkt_pipeline.h"
#include "tkt_usage.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    tkt_pipeline_t *pipeline;
    tkt_intake_t *intake; /* the consumer and the messages it handed out */
    tkt_ivr_t *ivr;
    tkt_usage_t *usage;   /* CRM requests made and saved, on crm-usage */
    tkt_mirror_t *mirror; /* NULL: off */
    struct event *sweep;
    tkt_missing_fields_t missing_fields;
} ticket_t;

/* Logs why start-up failed; returns -1 for the caller to pass up. */
static int fail(const char *what, const char *why)
{
    LOG_ERROR("%s: %s", what, why);
    return -1;
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

/* Shutdown (cmn_service stops the HTTP intake first): tkt_intake_stop. */
static void stop_intake(void *ctx)
{
    tkt_intake_stop(((ticket_t *)ctx)->intake);
}

static size_t events_pending(void *ctx)
{
    return tkt_intake_pending(((ticket_t *)ctx)->intake);
}

/* Flush, then commit the offsets stored for finished events (unfinished
 * ones are replayed by the next owner). */
static int flush_and_commit(void *ctx)
{
    ticket_t *t = ctx;
    tkt_usage_publish_final(t->usage); /* the work drained: the last delta */
    int unsent = cmn_producer_flush(t->producer, cmn_service_finish_left_ms(&t->svc));
    if (unsent)
        LOG_ERROR("%d ticket event(s) not delivered at shutdown; their calls' events will be "
                  "replayed",
                  unsent);
    /* commits the stored offsets, within what is left of the grace */
    tkt_intake_close(t->intake, cmn_service_finish_left_ms(&t->svc));
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

/* The consumer, once the pipeline its messages go to exists. */
static int start_intake(ticket_t *t)
{
    char errstr[512];
    const char *topics[] = {cmn_topic(CMN_TOPIC_CALL_EVENTS), cmn_topic(CMN_TOPIC_AGENT_ACTIONS),
                            cmn_topic(CMN_TOPIC_MISSED_OPS), cmn_topic(CMN_TOPIC_CRM_EVENTS)};
    tkt_intake_deps_t deps = {.pipeline = t->pipeline,
                              .policy = &t->policy,
                              .batch = t->batch,
                              .bulk_create = t->bulk_create,
                              .status_reads = t->status_reads,
                              .crm = t->crm,
                              .pop_fallback = t->cfg.pop_fallback};
    if (!(t->intake = tkt_intake_new(&deps)))
        return fail("start", "out of memory");
    cmn_consumer_opts_t copts = {.brokers = t->svc.cfg.kafka_brokers,
                                 .group_id = t->cfg.group_id,
                                 .topics = topics,
                                 /* crm-events only when asked (issue 25 item 2) */
                                 .n_topics = t->cfg.crm_events ? 4 : 3,
                                 /* one customer's calls, actions and missed-call
                                  * operations in one process (issue 19 item 3) */
                                 .co_partitioned = 1,
                                 .instance_id = t->cfg.instance_id,
                                 .max_in_flight = (int)t->cfg.max_in_flight,
                                 .max_in_flight_per_partition =
                                     (int)t->cfg.max_in_flight_per_partition,
                                 .on_fatal = cmn_service_fatal,
                                 .fatal_ctx = &t->svc};
    if (tkt_intake_consume(t->intake, t->svc.base, &copts, errstr, sizeof errstr) < 0)
        return fail("kafka consumer", errstr);
    return 0;
}

/* The CRM usage records (R-S1), keyed by this instance: the static member
 * id (the pod name) when set, else the host name. */
static int start_usage(ticket_t *t)
{
    char host[128] = "ticket";
    const char *instance = t->cfg.instance_id;
    if (!*instance && gethostname(host, sizeof host - 1) < 0)
        snprintf(host, sizeof host, "ticket");
    if (!*instance)
        instance = host;
    if (!(t->usage = tkt_usage_new(t->svc.base, t->producer, instance, t->cfg.usage_interval_s)))
        return fail("start", "out of memory");
    return 0;
}

static int start_kafka(ticket_t *t)
{
    char errstr[512];
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
    return start_usage(t);
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

/* Issue 26 item 3: the contact mirror, when asked for and the CRM has a
 * change feed. */
static int start_mirror(ticket_t *t, cmn_phone_lookup_t form)
{
    tkt_mirror_cfg_t mcfg;
    if (!t->cfg.contact_mirror)
        return 0;
    if (!t->crm->ops->contacts_changed) {
        LOG_WARN("CALLBUS_TICKET_CONTACT_MIRROR: this CRM has no contact feed; every look-up "
                 "searches");
        return 0;
    }
    tkt_config_mirror(&t->cfg, &mcfg);
    mcfg.base = t->svc.base;
    mcfg.crm = t->crm;
    mcfg.redis = t->redis;
    mcfg.country = t->svc.country;
    mcfg.stored_format = form == CMN_PHONE_LOOKUP_NATIONAL ? CMN_PHONE_FORMAT_NATIONAL
                         : form == CMN_PHONE_LOOKUP_DIGITS ? CMN_PHONE_FORMAT_INTERNATIONAL
                                                           : CMN_PHONE_FORMAT_AUTO;
    mcfg.topic_prefix = t->svc.cfg.topic_prefix;
    if (!(t->mirror = tkt_mirror_new(&mcfg)))
        return fail("contact mirror", "out of memory");
    LOG_INFO("contact mirror on: fresh %lds, a pass every %lds, creations wait up to %ldms",
             t->cfg.mirror_fresh_s, t->cfg.mirror_interval_s, t->cfg.mirror_create_wait_ms);
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
    if (start_mirror(t, form) < 0)
        return -1;
    tkt_pipeline_deps_t deps = {.base = t->svc.base,
                                .crm = t->crm,
                                .mirror = t->mirror,
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
                                .dead_letter = tkt_intake_dead_letter,
                                .dead_letter_ctx = t->producer,
                                .retry_limit_ms = t->cfg.retry_limit_s * 1000};
    if (!(t->pipeline = tkt_pipeline_new(&deps)))
        return fail("start", "out of memory");
    if (start_intake(t) < 0)
        return -1;
    tkt_ivr_deps_t ivr = {.base = t->svc.base,
                          .crm = t->crm,
                          .mirror = t->mirror,
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
    tkt_intake_close(t->intake, CMN_CONSUMER_CLOSE_MS);
    /* Redis's pending callbacks (a hung server at SIGTERM) run now, while
     * the jobs and the pipeline they call into are alive; later Redis
     * calls, e.g. from the CRM's cancelled requests, are refused. */
    cmn_redis_close(t->redis);
    /* look-ups waiting for a pass are answered before the CRM goes */
    tkt_mirror_close(t->mirror);
    /* Undelivered ticket events' and dead letters' reports (a broker gone
     * past the grace) run now, into the jobs and the intake still alive
     * (cmn_producer_close). */
    cmn_producer_close(t->producer);
    if (t->crm) /* first: its cancelled requests call into the batch and the IVR API */
        t->crm->ops->free(t->crm);
    tkt_ivr_free(t->ivr);
    tkt_usage_free(t->usage);   /* after cmn_producer_close: its reports point at it */
    tkt_mirror_free(t->mirror); /* after the CRM: its cancelled export called back */
    tkt_batch_free(t->batch);
    tkt_bulkcreate_free(t->bulk_create);
    tkt_reads_free(t->status_reads);
    tkt_pipeline_free(t->pipeline);
    cmn_producer_free(t->producer);
    tkt_store_free(t->store);
    cmn_redis_free(t->redis);
    tkt_intake_free(t->intake); /* after the pipeline, whose jobs point at its messages */
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
