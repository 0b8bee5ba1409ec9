/* callbus-missed, the missed-call grouper (issue 11): call-events ->
 * decisions (mis_rules) on each customer's state (mis_store, Redis) ->
 * missed-call-ops for ticket-service. Wires configuration, Redis, the
 * producer and the job queue (mis_queue: the consumer, one event at a time
 * per replica, effects before offsets); shuts down flushing first. */
#include "cmn_consumer.h"
#include "cmn_log.h"
#include "cmn_metrics.h"
#include "cmn_producer.h"
#include "cmn_redis.h"
#include "cmn_service.h"
#include "cmn_topics.h"
#include "mis_config.h"
#include "mis_queue.h"
#include "mis_store.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    cmn_service_t svc;
    mis_config_t cfg;
    mis_policy_t policy;
    cmn_redis_t *redis;
    mis_store_t *store;
    cmn_producer_t *producer;
    mis_queue_t *queue; /* the consumer and the events it fetched */
} grouper_t;

static int fail(const char *what, const char *why)
{
    LOG_ERROR("%s: %s", what, why);
    return -1;
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
    mis_queue_stop(((grouper_t *)ctx)->queue);
}

static size_t events_pending(void *ctx)
{
    return mis_queue_pending(((grouper_t *)ctx)->queue);
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
    mis_queue_close(g->queue, cmn_service_finish_left_ms(&g->svc));
    return unsent;
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
    mis_queue_deps_t deps = {.base = g->svc.base,
                             .store = g->store,
                             .producer = g->producer,
                             .policy = &g->policy,
                             .retry_ms = g->cfg.retry_ms,
                             .on_fatal = cmn_service_fatal,
                             .fatal_ctx = &g->svc};
    if (!(g->queue = mis_queue_new(&deps)))
        return fail("start", "out of memory");
    cmn_consumer_opts_t copts = {.brokers = g->svc.cfg.kafka_brokers,
                                 .group_id = g->cfg.group_id,
                                 .topics = topics,
                                 .n_topics = 1,
                                 .instance_id = *g->cfg.instance_id ? g->cfg.instance_id : NULL,
                                 .max_in_flight = (int)g->cfg.max_in_flight};
    if (mis_queue_consume(g->queue, &copts, errstr, sizeof errstr) < 0)
        return fail("kafka consumer", errstr);
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
    mis_queue_close(g->queue, CMN_CONSUMER_CLOSE_MS);
    /* Redis's pending callbacks (a hung server at SIGTERM) run now, while
     * the jobs they call into are alive. */
    cmn_redis_close(g->redis);
    /* Undelivered ops' reports (a broker gone past the grace) run now, into
     * the queue still alive (cmn_producer_close). */
    cmn_producer_close(g->producer);
    mis_queue_free(g->queue);
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
