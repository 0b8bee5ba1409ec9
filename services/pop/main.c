/* pop-service: call-events and ticket-events -> screen pops on the
 * agents' streams (R-P1..R-P6). Wires configuration, two Redis clients
 * (commands; the bus's blocking reads), the producer, the flow, the hub,
 * the API and the consumer; shuts down ending every stream first. */
#include "cmn_consumer.h"
#include "cmn_held.h"
#include "cmn_log.h"
#include "cmn_metrics.h"
#include "cmn_redis.h"
#include "cmn_service.h"
#include "cmn_time.h"
#include "cmn_topics.h"
#include "pop_ack.h"
#include "pop_api.h"
#include "pop_api_calls.h"
#include "pop_api_oidc.h"
#include "pop_dynamics.h"
#include "pop_config.h"
#include "pop_dial.h"
#include "pop_flow.h"
#include "pop_hub.h"
#include "pop_api_search.h"
#include "pop_api_stats.h"
#include "pop_lookup.h"
#include "pop_oidc.h"
#include "pop_store.h"
#include "pop_zendesk.h"

#include <string.h>

typedef struct {
    cmn_service_t svc;
    pop_config_t cfg;
    cmn_redis_t *redis, *bus;
    pop_store_t *store;
    cmn_producer_t *producer;
    cmn_consumer_t *consumer;
    pop_flow_t *flow;
    pop_hub_t *hub;
    pop_api_t *api;
    pop_zendesk_t *zendesk;   /* NULL: the Zendesk app is not configured */
    pop_dynamics_t *dynamics; /* NULL: the Dynamics widget is not configured */
    pop_lookup_t *lookup;
    pop_api_search_t *search; /* issue 24 item 2: the agent's CRM contact search */
    pop_api_stats_t *stats;   /* issue 25 item 3: the statistics for supervisors */
    pop_ack_t *acks;
    pop_oidc_t *oidc; /* NULL: OpenID Connect sign-in off */
    pop_api_oidc_t *api_oidc;
    pop_dial_t *dial; /* NULL: click-to-call off */
    pop_api_calls_t *api_calls;
    cmn_metric_t *m_undecodable, *m_lag;
    cmn_held_list_t held; /* messages handed to the flow, not yet done */
} pop_t;

/* A message being worked on: the flow's done context. */
typedef struct {
    cmn_held_t base;
    pop_t *p;
} held_t;

static int fail(const char *what, const char *why)
{
    LOG_ERROR("%s: %s", what, why);
    return -1;
}

static void on_done(void *ctx)
{
    held_t *h = ctx;
    cmn_held_done(&h->base, h->p->consumer);
}

static void on_message(void *ctx, const cmn_msg_pos_t *pos, const rd_kafka_message_t *m)
{
    pop_t *p = ctx;
    char err[256];
    held_t *h = cmn_held_take(&p->held, pos, sizeof *h);
    if (!h) {
        LOG_ERROR("%s[%d]@%lld: out of memory; delivered again", pos->topic, pos->partition,
                  (long long)pos->offset);
        cmn_consumer_retry(p->consumer, pos);
        return;
    }
    h->p = p;
    /* How long the event waited for us: from its producer's timestamp
     * (ingest's clock, CreateTime) to now; a broker or fetch delay shows
     * here, not in pop_store_ms. */
    int64_t ts = rd_kafka_message_timestamp(m, NULL);
    if (ts > 0)
        cmn_metric_observe(p->m_lag, (double)(cmn_time_now_ms() - ts));
    int tickets = strcmp(pos->topic, cmn_topic(CMN_TOPIC_TICKET_EVENTS)) == 0;
    int rc = (tickets ? pop_flow_ticket_event : pop_flow_call_event)(p->flow, m->payload, m->len,
                                                                     on_done, h, err, sizeof err);
    if (rc == 0)
        return;
    cmn_held_release(&h->base);
    if (strcmp(err, "out of memory") == 0) {
        cmn_consumer_retry(p->consumer, pos);
        return;
    }
    LOG_ERROR("%s[%d]@%lld: %s; skipped", pos->topic, pos->partition, (long long)pos->offset, err);
    cmn_metric_add(p->m_undecodable, 1);
    cmn_consumer_done(p->consumer, pos);
}

static int redis_ready(void *ctx, char *why, size_t whysz)
{
    pop_t *p = ctx;
    if (cmn_redis_connected(p->redis) && cmn_redis_connected(p->bus))
        return 1;
    snprintf(why, whysz, "redis not connected");
    return 0;
}

static int kafka_ready(void *ctx, char *why, size_t whysz)
{
    pop_t *p = ctx;
    if (cmn_producer_reachable(p->producer))
        return 1;
    snprintf(why, whysz, "no Kafka broker reachable");
    return 0;
}

static double in_flight(void *ctx)
{
    return (double)pop_flow_in_flight(((pop_t *)ctx)->flow);
}

/* Shutdown: fetch no more, and end every stream now: an open stream is
 * not work in flight (issue 10 item 4), the page reconnects to another
 * replica and catches up from Redis. */
static void stop_intake(void *ctx)
{
    pop_t *p = ctx;
    cmn_consumer_stop(p->consumer);
    pop_ack_stop(p->acks);
    pop_hub_close_all(p->hub);
}

static size_t pending(void *ctx)
{
    pop_t *p = ctx;
    return pop_flow_in_flight(p->flow) + pop_api_in_flight(p->api) +
           pop_zendesk_in_flight(p->zendesk) + pop_ack_in_flight(p->acks) +
           (p->oidc ? pop_oidc_waiting(p->oidc) : 0) + pop_api_calls_in_flight(p->api_calls) +
           pop_api_stats_in_flight(p->stats);
}

static int flush_and_commit(void *ctx)
{
    pop_t *p = ctx;
    int unsent = cmn_producer_flush(p->producer, cmn_service_finish_left_ms(&p->svc));
    if (unsent)
        LOG_ERROR("%d pop(s) or agent action(s) not delivered to Kafka at shutdown", unsent);
    cmn_consumer_close_within(p->consumer, cmn_service_finish_left_ms(&p->svc));
    p->consumer = NULL;
    return unsent;
}

static int start_kafka(pop_t *p)
{
    char errstr[512];
    const char *topics[] = {cmn_topic(CMN_TOPIC_CALL_EVENTS), cmn_topic(CMN_TOPIC_TICKET_EVENTS)};
    if (cmn_topics_ensure_all(p->svc.cfg.kafka_brokers, (int)p->svc.cfg.topic_partitions,
                              (int)p->svc.cfg.topic_replication, (int)p->svc.cfg.topic_min_insync,
                              10000, errstr, sizeof errstr) < 0)
        LOG_WARN("topics not ensured: %s", errstr);
    cmn_producer_opts_t popts = {.brokers = p->svc.cfg.kafka_brokers,
                                 .linger_ms = 1,
                                 .test_fatal_after_ms = (int)p->svc.cfg.test_kafka_fatal_after_ms,
                                 .on_fatal = cmn_service_fatal,
                                 .fatal_ctx = &p->svc};
    if (!(p->producer = cmn_producer_new(p->svc.base, &popts, errstr, sizeof errstr)))
        return fail("kafka producer", errstr);
    cmn_consumer_opts_t copts = {.brokers = p->svc.cfg.kafka_brokers,
                                 .group_id = p->cfg.group_id,
                                 /* a restarted pod gets its partitions back, no rebalance */
                                 .instance_id = *p->cfg.instance_id ? p->cfg.instance_id : NULL,
                                 .topics = topics,
                                 .n_topics = 2,
                                 .max_in_flight = (int)p->cfg.max_in_flight,
                                 .on_message = on_message,
                                 .ctx = p};
    if (!(p->consumer = cmn_consumer_new(p->svc.base, &copts, errstr, sizeof errstr)))
        return fail("kafka consumer", errstr);
    return 0;
}

/* A pop's acknowledgement details outlive any fallback of it (give-up plus
 * a lease) and are kept an hour at least, so a page replaying its pops
 * after a reconnect re-acknowledges them harmlessly; not the whole
 * retention: one hash per pop for a day would cost more than the pops. */
static long ack_keep_s(const pop_config_t *c)
{
    long keep = c->fallback_give_up_s + 600;
    return keep > 3600 ? keep : 3600;
}

/* Agents' sign-in with the company's identity provider (issue 22 item 3). */
static int start_oidc(pop_t *p)
{
    char errstr[512];
    if (*p->cfg.oidc_issuer) {
        if (!*p->cfg.oidc_client_id)
            return fail("CALLBUS_POP_OIDC_CLIENT_ID", "empty while CALLBUS_POP_OIDC_ISSUER is set");
        pop_oidc_opts_t o = {.issuer = p->cfg.oidc_issuer,
                             .client_id = p->cfg.oidc_client_id,
                             .agent_claim = p->cfg.oidc_agent_claim,
                             .scopes = p->cfg.oidc_scopes,
                             .refresh_s = p->cfg.oidc_keys_refresh_s,
                             .min_interval_s = p->cfg.oidc_keys_min_interval_s,
                             .wait_ms = p->cfg.oidc_wait_ms};
        if (!(p->oidc = pop_oidc_new(p->svc.base, &o, errstr, sizeof errstr)))
            return fail("CALLBUS_POP_OIDC_ISSUER", errstr);
    }
    if (!(p->api_oidc = pop_api_oidc_new(p->svc.http, p->svc.admin, &p->cfg, p->api, p->oidc)))
        return fail("start", "out of memory");
    return 0;
}

/* Click-to-call (issue 24 item 1): the provider's API, as the agent's operator. */
static int start_dial(pop_t *p)
{
    char errstr[512];
    const pop_config_t *c = &p->cfg;
    pop_dial_opts_t o = {.provider = c->dial_provider,
                         .account = {.api_url = c->dial_api_url,
                                     .caller_id = c->dial_caller_id,
                                     .token = c->dial_token,
                                     .account = c->dial_account,
                                     .key_sid = c->dial_key_sid,
                                     .status_callback = c->dial_status_callback},
                         .agents = &c->agents,
                         .country = p->svc.country,
                         .per_min = c->dial_per_min,
                         .burst = c->dial_burst,
                         .timeout_ms = c->dial_timeout_ms};
    if (pop_dial_new(p->svc.base, &o, &p->dial, errstr, sizeof errstr) < 0)
        return fail("CALLBUS_POP_DIAL_PROVIDER", errstr);
    return 0;
}

static int start(pop_t *p)
{
    char errstr[512];
    const char *ns = p->svc.cfg.topic_prefix;
    if (!(p->redis = cmn_service_redis_new(&p->svc, errstr, sizeof errstr)) ||
        !(p->bus = cmn_service_redis_new(&p->svc, errstr, sizeof errstr)))
        return fail("redis", errstr);
    if (!(p->store = pop_store_new(p->redis, ns, p->cfg.retention_s, p->cfg.history,
                                   p->cfg.ack_timeout_ms, ack_keep_s(&p->cfg))))
        return fail("start", "out of memory");
    /* Before Kafka: a bad setting stops the start at once. */
    if (pop_zendesk_new(p->svc.http, &p->cfg, p->store, &p->zendesk, errstr, sizeof errstr) < 0)
        return fail("zendesk app", errstr);
    if (pop_dynamics_new(p->svc.http, &p->cfg, &p->dynamics, errstr, sizeof errstr) < 0)
        return fail("dynamics widget", errstr);
    if (start_dial(p) < 0)
        return -1;
    if (start_kafka(p) < 0)
        return -1;
    pop_hub_opts_t ho = {.history = p->cfg.history,
                         .keepalive_s = p->cfg.keepalive_s,
                         .max_streams = p->cfg.max_streams,
                         .max_unread = (size_t)p->cfg.stream_buffer_kb << 10,
                         .session_check_s = p->cfg.session_check_s,
                         .max_per_session = p->cfg.max_per_session,
                         .max_per_agent = p->cfg.max_per_agent};
    /* A claimed fallback is sent again after the lease: past the producer's
     * own delivery timeout, so it is not in flight twice. */
    pop_ack_opts_t ao = {.sweep_ms = p->cfg.ack_sweep_ms,
                         .lease_ms = 30000,
                         .give_up_ms = p->cfg.fallback_give_up_s * 1000};
    if (*p->cfg.lookup_url &&
        !(p->lookup = pop_lookup_new(p->svc.base, p->cfg.lookup_url, p->cfg.lookup_token,
                                     p->cfg.lookup_timeout_ms, errstr, sizeof errstr)))
        return fail("CALLBUS_POP_LOOKUP_URL", errstr);
    if (!(p->flow = pop_flow_new(p->svc.base, p->store, p->producer, p->cfg.new_case_url, p->lookup,
                                 p->cfg.lookup_wait_ms)) ||
        !(p->hub = pop_hub_new(p->svc.base, p->store, p->bus, &ho)) ||
        !(p->acks = pop_ack_new(p->svc.base, p->store, p->producer, &ao)) ||
        !(p->api = pop_api_new(p->svc.http, &p->cfg, p->store, p->hub, p->producer, p->acks)) ||
        !(p->search = pop_api_search_new(p->svc.http, p->api, p->lookup)) ||
        !(p->stats = pop_api_stats_new(p->svc.http, &p->cfg, p->api, p->store)))
        return fail("start", "out of memory");
    if (start_oidc(p) < 0)
        return -1;
    if (!(p->api_calls = pop_api_calls_new(p->svc.http, p->api, p->dial)))
        return fail("start", "out of memory");
    if (!*p->cfg.provisioning_secret && !p->zendesk && !p->oidc)
        LOG_WARN("CALLBUS_POP_PROVISIONING_SECRET, CALLBUS_POP_OIDC_ISSUER and the Zendesk app "
                 "are unset: no agent can log in");
    p->m_undecodable = cmn_metrics_counter("pop_events_undecodable_total",
                                           "Messages that are not call or ticket events", NULL);
    p->m_lag = cmn_metrics_histogram(
        "pop_event_lag_ms", "From an event's Kafka timestamp to pop-service taking it", NULL);
    cmn_metrics_gauge_fn("pop_events_in_flight", "Events whose pops are not yet stored", NULL,
                         in_flight, p);
    if (cmn_http_ready_check(p->svc.http, "redis", redis_ready, p) < 0 ||
        cmn_http_ready_check(p->svc.http, "kafka", kafka_ready, p) < 0)
        return -1;
    cmn_service_drain_t drain = {
        .stop = stop_intake, .pending = pending, .finish = flush_and_commit, .ctx = p};
    cmn_service_on_drain(&p->svc, &drain);
    return 0;
}

/* Reverse order; each Redis client first calls back what it still has
 * pending (with an error), so what those callbacks touch is freed after. */
static void teardown(pop_t *p)
{
    cmn_consumer_close(p->consumer);
    if (p->hub)
        pop_hub_close_all(p->hub);
    /* Undelivered pops' and agent actions' reports (a broker gone past the
     * grace) run now, into the flow's jobs and the API's calls still alive
     * (cmn_producer_close). */
    cmn_producer_close(p->producer);
    /* Sign-ins still waiting for keys are answered 503 first; their
     * callbacks need the API. */
    /* Calls still with the provider are answered 503; their callbacks need the API. */
    pop_dial_free(p->dial);
    pop_api_calls_free(p->api_calls);
    pop_oidc_free(p->oidc);
    pop_api_oidc_free(p->api_oidc);
    cmn_redis_free(p->bus);
    cmn_redis_free(p->redis);
    pop_api_stats_free(p->stats); /* after Redis: its reads were answered */
    pop_api_free(p->api);
    pop_zendesk_free(p->zendesk);
    pop_dynamics_free(p->dynamics);
    pop_ack_free(p->acks); /* after the producer and Redis: their callbacks point into it */
    pop_hub_free(p->hub);
    pop_flow_free(p->flow);
    pop_lookup_free(p->lookup);     /* after the flow: its late answers touch no job */
    pop_api_search_free(p->search); /* after the look-up client: it answers the searches */
    cmn_producer_free(p->producer);
    pop_store_free(p->store);
    cmn_held_release_all(&p->held); /* unfinished at exit: replayed from Kafka by the next owner */
}

int main(int argc, char **argv)
{
    static pop_t p;
    if (argc > 1 && strcmp(argv[1], "--config-markdown") == 0)
        return cmn_service_print_config(pop_config_spec, pop_config_spec_len);
    int rc = cmn_service_init(&p.svc, "pop", pop_config_spec, pop_config_spec_len, &p.cfg);
    if (rc == 0)
        rc = start(&p) < 0 ? 1 : cmn_service_run(&p.svc);
    teardown(&p);
    cmn_service_fini(&p.svc, pop_config_spec, pop_config_spec_len, &p.cfg);
    return rc;
}
