/* callbus-stats, the statistics service (issue 25 item 3, R-S1, R-S2):
 * call-events, ticket-events, crm-events, missed-call-ops, screen-pops,
 * agent-actions (pop.acknowledged), crm-usage -> durable figures per UTC day, agent,
 * queue and call kind in Redis (sta_store), exactly once. Wires configuration, Redis, the metrics
 * and the job queue (sta_queue: the consumer, figures before offsets). */
#include "cmn_consumer.h"
#include "cmn_log.h"
#include "cmn_redis.h"
#include "cmn_service.h"
#include "cmn_topics.h"
#include "sta_config.h"
#include "sta_metrics.h"
#include "sta_queue.h"
#include "sta_store.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    cmn_service_t svc;
    sta_config_t cfg;
    cmn_redis_t *redis;
    sta_store_t *store;
    sta_metrics_t *metrics;
    sta_queue_t *queue;
} stats_t;

static int fail(const char *what, const char *why)
{
    LOG_ERROR("%s: %s", what, why);
    return -1;
}

static int redis_ready(void *ctx, char *why, size_t whysz)
{
    if (cmn_redis_connected(((stats_t *)ctx)->redis))
        return 1;
    snprintf(why, whysz, "redis not connected");
    return 0;
}

static void stop_intake(void *ctx)
{
    sta_queue_stop(((stats_t *)ctx)->queue);
}

static size_t pending(void *ctx)
{
    return sta_queue_pending(((stats_t *)ctx)->queue);
}

/* What is not applied is replayed by the next owner (its offset never
 * passed it; the offset guard keeps what was applied from counting twice). */
static int commit(void *ctx)
{
    stats_t *s = ctx;
    size_t left = sta_queue_pending(s->queue);
    if (left)
        LOG_WARN("%zu message(s) not applied at shutdown; the next owner applies them", left);
    sta_queue_close(s->queue, cmn_service_finish_left_ms(&s->svc));
    return 0;
}

static int start(stats_t *s)
{
    char errstr[512];
    sta_store_opts_t so = {.retention_days = s->cfg.retention_days,
                           .seen_ttl_s = s->cfg.seen_ttl_s,
                           .call_ttl_s = s->cfg.call_ttl_s};
    if (!(s->redis = cmn_service_redis_new(&s->svc, errstr, sizeof errstr)))
        return fail("redis", errstr);
    if (!(s->store = sta_store_new(s->redis, s->svc.cfg.topic_prefix, &so)) ||
        !(s->metrics = sta_metrics_new(s->cfg.metric_agents)))
        return fail("start", "out of memory");
    if (cmn_topics_ensure_all(s->svc.cfg.kafka_brokers, (int)s->svc.cfg.topic_partitions,
                              (int)s->svc.cfg.topic_replication, (int)s->svc.cfg.topic_min_insync,
                              10000, errstr, sizeof errstr) < 0)
        LOG_WARN("topics not ensured: %s", errstr);
    sta_queue_deps_t deps = {.base = s->svc.base,
                             .store = s->store,
                             .metrics = s->metrics,
                             .retry_ms = s->cfg.retry_ms,
                             .max_retry_ms = s->cfg.max_retry_ms,
                             .on_fatal = cmn_service_fatal,
                             .fatal_ctx = &s->svc};
    if (!(s->queue = sta_queue_new(&deps)))
        return fail("start", "out of memory");
    cmn_consumer_opts_t copts = {.brokers = s->svc.cfg.kafka_brokers,
                                 .group_id = s->cfg.group_id,
                                 .instance_id = *s->cfg.instance_id ? s->cfg.instance_id : NULL,
                                 .max_in_flight = (int)s->cfg.max_in_flight,
                                 .on_fatal = cmn_service_fatal,
                                 .fatal_ctx = &s->svc};
    if (sta_queue_consume(s->queue, &copts, errstr, sizeof errstr) < 0)
        return fail("kafka consumer", errstr);
    if (cmn_http_ready_check(s->svc.http, "redis", redis_ready, s) < 0)
        return -1;
    cmn_service_drain_t drain = {
        .stop = stop_intake, .pending = pending, .finish = commit, .ctx = s};
    cmn_service_on_drain(&s->svc, &drain);
    return 0;
}

static void teardown(stats_t *s)
{
    sta_queue_close(s->queue, CMN_CONSUMER_CLOSE_MS);
    cmn_redis_close(s->redis); /* pending callbacks run now, into the live queue */
    sta_queue_free(s->queue);
    sta_metrics_free(s->metrics);
    sta_store_free(s->store);
    cmn_redis_free(s->redis);
}

int main(int argc, char **argv)
{
    static stats_t s;
    if (argc > 1 && strcmp(argv[1], "--config-markdown") == 0)
        return cmn_service_print_config(sta_config_spec, sta_config_spec_len);
    int rc = cmn_service_init(&s.svc, "stats", sta_config_spec, sta_config_spec_len, &s.cfg);
    if (rc == 0)
        rc = start(&s) < 0 ? 1 : cmn_service_run(&s.svc);
    teardown(&s);
    cmn_service_fini(&s.svc, sta_config_spec, sta_config_spec_len, &s.cfg);
    return rc;
}
