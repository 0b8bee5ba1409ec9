/* ingest: provider webhooks in, canonical events durably in Kafka.
 * Wires configuration, the producer, the routes and graceful shutdown. */
#include "cmn_log.h"
#include "cmn_service.h"
#include "cmn_time.h"
#include "cmn_topics.h"
#include "ing_server.h"

#include <stdlib.h>
#include <string.h>

#define OFF(f) offsetof(ing_config_t, f)
static const cmn_cfg_spec_t ingest_spec[] = {
    CMN_CFG_SECRET(
        "CALLBUS_INGEST_CALLGEAR_TOKEN", "", OFF(callgear_token),
        "Shared secret CallGear sends (in the URL or a header); empty disables the route."),
    CMN_CFG_STR("CALLBUS_INGEST_CALLGEAR_TOKEN_HEADER", "", OFF(callgear_token_header),
                "Header carrying the CallGear token; empty: the token is the path segment "
                "/v1/callgear/<token>/<notification>."),
    CMN_CFG_SECRET("CALLBUS_INGEST_TWILIO_AUTH_TOKEN", "", OFF(twilio_auth_token),
                   "Twilio auth token for X-Twilio-Signature; empty disables the route."),
    CMN_CFG_STR("CALLBUS_INGEST_PUBLIC_URL", "http://127.0.0.1:8080", OFF(public_url),
                "Base URL providers post to (as configured at Twilio), for signature checks."),
    CMN_CFG_SECRET("CALLBUS_INGEST_WEBEX_BEARER", "", OFF(webex_bearer),
                   "Bearer token the Webex flow's HTTP Request sends; empty disables the route."),
    CMN_CFG_SECRET("CALLBUS_INGEST_GENERIC_SECRET", "", OFF(generic_secret),
                   "HMAC-SHA256 secret of the generic route; empty disables it."),
    /* Secret rotation without losing a webhook: while the provider's side
     * switches to the new secret, requests signed with the old one (set
     * here) are accepted too. Empty: only the current secret. */
    CMN_CFG_SECRET("CALLBUS_INGEST_CALLGEAR_TOKEN_PREVIOUS", "", OFF(callgear_token_previous),
                   "During a rotation: the CallGear token being replaced, accepted too; empty: "
                   "none."),
    CMN_CFG_SECRET("CALLBUS_INGEST_TWILIO_AUTH_TOKEN_PREVIOUS", "", OFF(twilio_auth_token_previous),
                   "During a rotation: the Twilio auth token being replaced (a signature made "
                   "with it is accepted too); empty: none."),
    CMN_CFG_SECRET("CALLBUS_INGEST_WEBEX_BEARER_PREVIOUS", "", OFF(webex_bearer_previous),
                   "During a rotation: the Webex bearer being replaced, accepted too; empty: "
                   "none."),
    CMN_CFG_SECRET("CALLBUS_INGEST_GENERIC_SECRET_PREVIOUS", "", OFF(generic_secret_previous),
                   "During a rotation: the generic route's HMAC secret being replaced, accepted "
                   "too; empty: none."),
    CMN_CFG_NUM("CALLBUS_INGEST_GENERIC_TOLERANCE_S", "300", 1, 3600, OFF(generic_tolerance_s),
                "How old a signed generic request may be before it is refused as a replay."),
    /* CRM events in (issue 25 item 1): docs/crm-events.md */
    CMN_CFG_SECRET("CALLBUS_ZENDESK_WEBHOOK_SECRET", "", OFF(zendesk_webhook_secret),
                   "Signing secret of the Zendesk webhook posting ticket events to "
                   "/v1/zendesk/events; empty disables the route."),
    CMN_CFG_SECRET("CALLBUS_ZENDESK_WEBHOOK_SECRET_PREVIOUS", "",
                   OFF(zendesk_webhook_secret_previous),
                   "During a rotation: the Zendesk webhook's signing secret being replaced, "
                   "accepted too; empty: none."),
    CMN_CFG_NUM("CALLBUS_ZENDESK_WEBHOOK_TOLERANCE_S", "300", 1, 3600, OFF(zendesk_tolerance_s),
                "How far X-Zendesk-Webhook-Signature-Timestamp may be from now before a "
                "request is refused as a replay."),
    CMN_CFG_SECRET("CALLBUS_DYNAMICS_WEBHOOK_KEY", "", OFF(dynamics_webhook_key),
                   "Key of the Dataverse service endpoint (WebhookKey: ?code=, or the "
                   "X-Callbus-Webhook-Key header) posting to /v1/dynamics/events; empty "
                   "disables the route."),
    CMN_CFG_SECRET("CALLBUS_DYNAMICS_WEBHOOK_KEY_PREVIOUS", "", OFF(dynamics_webhook_key_previous),
                   "During a rotation: the Dataverse webhook key being replaced, accepted too; "
                   "empty: none."),
    CMN_AGENTDIR_CFG_SPEC(OFF(agents)),
    /* 13 s: above a crashed broker's failover (Kafka fences it after
     * broker.session.timeout.ms, 9 s by default, then elects new leaders),
     * below Twilio's 15 s webhook timeout so the provider gets our 503. */
    CMN_CFG_NUM("CALLBUS_INGEST_KAFKA_TIMEOUT_MS", "13000", 1000, 300000,
                OFF(kafka_message_timeout_ms),
                "How long a webhook may wait for Kafka to store its event before 503. Keep it "
                "above the brokers' crash failover (broker.session.timeout.ms, 9 s by default, "
                "plus the election) and below the providers' webhook timeout (Twilio: 15 s)."),
    CMN_CFG_NUM("CALLBUS_INGEST_QUEUE_MAX", "100000", 100, 10000000, OFF(kafka_queue_max),
                "Producer queue bound; beyond it requests get 503 at once."),
    CMN_CFG_NUM("CALLBUS_INGEST_RETRY_AFTER_S", "5", 1, 3600, OFF(retry_after_s),
                "Retry-After of a 503."),
    /* issue 9: provider number formats, extensions, CallGear's time zone */
    CMN_CFG_CHOICE("CALLBUS_INGEST_CALLGEAR_NUMBER_FORMAT", "international",
                   "international|national|auto", OFF(callgear_number_format),
                   "How CallGear writes numbers without '+': full international digits."),
    CMN_CFG_CHOICE("CALLBUS_INGEST_TWILIO_NUMBER_FORMAT", "auto", "international|national|auto",
                   OFF(twilio_number_format), "How Twilio writes numbers without '+'."),
    CMN_CFG_CHOICE("CALLBUS_INGEST_WEBEX_NUMBER_FORMAT", "auto", "international|national|auto",
                   OFF(webex_number_format), "How the Webex flow writes ANI/DNIS without '+'."),
    CMN_CFG_CHOICE("CALLBUS_INGEST_GENERIC_NUMBER_FORMAT", "auto", "international|national|auto",
                   OFF(generic_number_format),
                   "How generic and TVox senders write customer_number without '+'."),
    CMN_CFG_NUM("CALLBUS_INGEST_INTERNAL_MAX_DIGITS", "5", 0, 8, OFF(internal_max_digits),
                "Bare numbers of at most this many digits are extensions: internal calls, no "
                "ticket; 0: none."),
    CMN_CFG_STR("CALLBUS_INGEST_CALLGEAR_TIME_ZONE", "UTC", OFF(callgear_time_zone),
                "IANA time zone of CallGear's notification_time, which has no offset."),
};
#define N_SPEC (sizeof ingest_spec / sizeof ingest_spec[0])

typedef struct {
    cmn_service_t svc;
    ing_config_t cfg;
    ing_server_t srv;
    cmn_producer_t *producer;
    cmn_agentdir_t *agents;
} ingest_t;

static int kafka_ready(void *ctx, char *why, size_t whysz)
{
    ingest_t *in = ctx;
    if (cmn_producer_reachable(in->producer))
        return 1;
    snprintf(why, whysz, "no Kafka broker reachable");
    return 0;
}

static double queue_depth(void *ctx)
{
    return cmn_producer_queue_len(((ingest_t *)ctx)->producer);
}

static double http_in_flight(void *ctx)
{
    return cmn_http_in_flight(((ingest_t *)ctx)->svc.http);
}

/* Shutdown: cmn_service stops the HTTP intake; what is pending is the
 * requests not yet answered (each waits for its delivery reports). */
static size_t requests_pending(void *ctx)
{
    return (size_t)cmn_http_in_flight(((ingest_t *)ctx)->svc.http);
}

static int flush_producer(void *ctx)
{
    ingest_t *in = ctx;
    int unsent = cmn_producer_flush(in->producer, cmn_service_finish_left_ms(&in->svc));
    if (unsent)
        LOG_ERROR("%d message(s) not delivered at shutdown", unsent);
    return unsent;
}

static int start(ingest_t *in)
{
    char errstr[512];
    if (cmn_topics_ensure_all(in->svc.cfg.kafka_brokers, (int)in->svc.cfg.topic_partitions,
                              (int)in->svc.cfg.topic_replication, (int)in->svc.cfg.topic_min_insync,
                              10000, errstr, sizeof errstr) < 0)
        LOG_WARN("topics not ensured (will publish anyway): %s", errstr);
    if (cmn_agentdir_new(in->svc.base, &in->cfg.agents, &in->agents, errstr, sizeof errstr) < 0) {
        LOG_ERROR("agent directory: %s", errstr);
        return -1;
    }
    cmn_producer_opts_t popts = {.brokers = in->svc.cfg.kafka_brokers,
                                 .message_timeout_ms = (int)in->cfg.kafka_message_timeout_ms,
                                 .queue_max_messages = (int)in->cfg.kafka_queue_max,
                                 .linger_ms = 2,
                                 .test_fatal_after_ms = (int)in->svc.cfg.test_kafka_fatal_after_ms,
                                 .on_fatal = cmn_service_fatal,
                                 .fatal_ctx = &in->svc};
    if (!(in->producer = cmn_producer_new(in->svc.base, &popts, errstr, sizeof errstr))) {
        LOG_ERROR("kafka producer: %s", errstr);
        return -1;
    }
    in->srv = (ing_server_t){.cfg = &in->cfg,
                             .country = in->svc.country,
                             .producer = in->producer,
                             .agents = in->agents};
    cmn_metrics_gauge_fn("ingest_producer_queue_depth", "Messages waiting for Kafka", NULL,
                         queue_depth, in);
    cmn_metrics_gauge_fn("ingest_in_flight_requests", "Webhooks not yet answered", NULL,
                         http_in_flight, in);
    if (ing_server_routes(&in->srv, in->svc.http) < 0 ||
        cmn_http_ready_check(in->svc.http, "kafka", kafka_ready, in) < 0)
        return -1;
    cmn_service_drain_t drain = {
        .pending = requests_pending, .finish = flush_producer, .ctx = in, .tick_ms = 50};
    cmn_service_on_drain(&in->svc, &drain);
    return 0;
}

int main(int argc, char **argv)
{
    static ingest_t in;
    if (argc > 1 && strcmp(argv[1], "--config-markdown") == 0)
        return cmn_service_print_config(ingest_spec, N_SPEC);
    int rc = cmn_service_init(&in.svc, "ingest", ingest_spec, N_SPEC, &in.cfg);
    if (rc == 0)
        rc = start(&in) < 0 ? 1 : cmn_service_run(&in.svc);
    /* First (it closes the producer): undelivered webhooks' reports (a
     * broker gone past the grace) answer their requests while the server is
     * alive (cmn_producer_close). */
    cmn_producer_free(in.producer);
    cmn_agentdir_free(in.agents);
    cmn_service_fini(&in.svc, ingest_spec, N_SPEC, &in.cfg);
    return rc;
}
