/* Provider routes. Each request becomes a pending_t that lives until every
 * Kafka delivery report for it has arrived; then exactly one reply goes out:
 * 202 with the event ids when all were stored, else 503 + Retry-After so
 * the provider retries (event ids are stable, so a retry is harmless) —
 * unless a message is larger than Kafka takes: no retry can store it, so
 * that answer is a final 413. */
#include "ing_server.h"
#include "cmn_auth.h"
#include "cmn_event.h"
#include "cmn_log.h"
#include "cmn_time.h"
#include "cmn_topics.h"
#include "ing_agents.h"
#include "ing_callgear.h"
#include "ing_dynamics.h"
#include "ing_form.h"
#include "ing_generic.h"
#include "ing_twilio.h"
#include "ing_webex.h"
#include "ing_zendesk.h"

#include <event2/http.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    ing_server_t *srv;
    struct evhttp_request *req;
    const char *provider;
    json_t *ids;
    int waiting;
    int failed;
    int too_large;   /* a message over message.max.bytes: failed for good */
    int dlq;         /* this request published its payload to the DLQ */
    ing_error_t why; /* for the DLQ's 400 */
    double started_ms;
} pending_t;

/* ---- reply once every delivery report is in --------------------------- */

static void finish(pending_t *p)
{
    ing_server_t *srv = p->srv;
    if (p->too_large) {
        cmn_metric_add(srv->too_large_total, 1);
        cmn_http_reply_error(p->req, 413,
                             p->dlq ? "dead letter too large for Kafka (message.max.bytes); "
                                      "nothing was kept, a retry cannot succeed"
                                    : "event too large for Kafka (message.max.bytes); "
                                      "nothing was kept, a retry cannot succeed",
                             NULL);
    } else if (p->failed) {
        cmn_http_reply_unavailable(p->req, (int)srv->cfg->retry_after_s,
                                   "event could not be stored in Kafka; retry later");
    } else if (p->dlq) {
        cmn_metric_add(srv->dlq_total, 1);
        cmn_http_reply_error(p->req, 400, p->why.msg, p->why.field);
    } else {
        cmn_metric_observe(srv->publish_ms, cmn_time_mono_ms_f() - p->started_ms);
        cmn_http_reply_json(p->req, 202,
                            json_pack("{s:s, s:O}", "status", "accepted", "event_ids", p->ids));
    }
    json_decref(p->ids);
    free(p);
}

/* A send that failed: for good when the message is larger than the
 * producer or the broker takes (retrying the same bytes cannot help). */
static void mark_failed(pending_t *p, rd_kafka_resp_err_t err, const char *what)
{
    p->failed = 1;
    if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) {
        p->too_large = 1;
        LOG_WARN("%s %s: %s; answering 413", p->provider, p->dlq ? "dead letter" : "event",
                 rd_kafka_err2str(err));
        return;
    }
    LOG_WARN("%s: %s", what, rd_kafka_err2str(err));
}

static void on_delivery(void *opaque, rd_kafka_resp_err_t err, int32_t partition, int64_t offset)
{
    pending_t *p = opaque;
    if (err)
        mark_failed(p, err, "delivery failed");
    if (--p->waiting == 0)
        finish(p);
}

static pending_t *pending_new(ing_server_t *srv, struct evhttp_request *req, const char *provider)
{
    pending_t *p = calloc(1, sizeof *p);
    if (!p || !(p->ids = json_array())) {
        free(p);
        return NULL;
    }
    p->srv = srv;
    p->req = req;
    p->provider = provider;
    p->started_ms = cmn_time_mono_ms_f();
    p->waiting = 1; /* held by the handler until every send is queued */
    return p;
}

/* Queues one message for `p`; on a refused send marks the request failed. */
static void send_one(pending_t *p, const char *topic, const char *key, const char *value)
{
    rd_kafka_resp_err_t err = cmn_producer_send(p->srv->producer, topic, key, strlen(key), value,
                                                strlen(value), on_delivery, p);
    if (err) {
        mark_failed(p, err, "kafka send refused");
        return;
    }
    p->waiting++;
}

/* Drops the handler's own hold; replies now if nothing is outstanding. */
static void release(pending_t *p)
{
    if (--p->waiting == 0)
        finish(p);
}

/* ---- publishing ---------------------------------------------------------- */

static void map_agents(ing_server_t *srv, cmn_event_t *ev)
{
    int unmapped = ing_map_agents(cmn_agentdir_map(srv->agents), ev);
    if (unmapped < 0)
        LOG_ERROR("out of memory mapping agent");
    else
        cmn_metric_add(srv->unmapped_agents, unmapped); /* R-I3: ticketing ignores the call */
}

static void publish_events(pending_t *p, ing_events_t *events)
{
    for (size_t i = 0; i < events->n && !p->failed; i++) {
        cmn_event_t *ev = &events->ev[i];
        map_agents(p->srv, ev);
        char *text = cmn_event_encode(ev);
        if (!text) {
            p->failed = 1;
            break;
        }
        send_one(p, cmn_topic(CMN_TOPIC_CALL_EVENTS), cmn_event_key(ev), text);
        json_array_append_new(p->ids, json_string(ev->event_id));
        free(text);
    }
}

/* Keeps an authenticated but unusable payload, with the reason, so an
 * operator can fix the mapping and replay it (docs/operations.md). */
/* Text as a JSON string; a body that is not UTF-8 (a misconfigured
 * provider) is kept base64-encoded rather than refused, so it still
 * reaches the dead-letter topic. Returns a new reference. */
static json_t *raw_text(const char *text, size_t len, const char **encoding)
{
    json_t *s = json_stringn(text, len);
    *encoding = NULL;
    if (s)
        return s;
    size_t cap = 4 * ((len + 2) / 3) + 1;
    unsigned char *b64 = malloc(cap);
    if (!b64)
        return NULL;
    EVP_EncodeBlock(b64, (const unsigned char *)text, (int)len);
    s = json_string((const char *)b64);
    free(b64);
    *encoding = "base64";
    return s;
}

/* Keeps an authenticated but unusable payload, with the reason, so an
 * operator can fix the mapping and replay it (docs/operations.md). */
static void publish_dead_letter(pending_t *p, const char *route, const ing_error_t *why)
{
    size_t len;
    const char *body = cmn_http_body(p->req, &len), *encoding, *ct_encoding;
    const char *ct = cmn_http_header(p->req, "Content-Type");
    char received[CMN_TIME_TEXT_MAX];
    cmn_time_format(cmn_time_now_ms(), received, sizeof received);
    json_t *body_json = raw_text(body, len, &encoding);
    json_t *ct_json = raw_text(ct ? ct : "", ct ? strlen(ct) : 0, &ct_encoding);
    json_t *entry = json_pack("{s:i, s:s, s:s, s:s, s:s, s:o*, s:o*, s:s}", "schema_version", 1,
                              "provider", p->provider, "route", route, "reason", why->msg, "field",
                              why->field, "content_type", ct_encoding ? json_string("") : ct_json,
                              "body", body_json, "received_at", received);
    if (ct_encoding)
        json_decref(ct_json);
    if (entry && encoding)
        json_object_set_new(entry, "body_encoding", json_string(encoding));
    char *text = entry ? json_dumps(entry, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(entry);
    p->dlq = 1;
    p->why = *why;
    if (!text) {
        p->failed = 1;
        return;
    }
    send_one(p, cmn_topic(CMN_TOPIC_CALL_EVENTS_DLQ), p->provider, text);
    free(text);
}

/* Common tail of every provider handler once the payload is authenticated. */
static void accept_or_dead_letter(ing_server_t *srv, struct evhttp_request *req,
                                  const char *provider, const char *route, int rc,
                                  ing_events_t *events, const ing_error_t *why)
{
    pending_t *p;
    if (rc == 0 && events->n == 0) { /* valid, but nothing the call stream carries */
        cmn_http_reply_json(req, 202, json_pack("{s:s, s:[]}", "status", "accepted", "event_ids"));
        return;
    }
    if (!cmn_producer_reachable(srv->producer)) {
        cmn_http_reply_unavailable(req, (int)srv->cfg->retry_after_s, "Kafka is unreachable");
        return;
    }
    if (!(p = pending_new(srv, req, provider))) {
        cmn_http_reply_unavailable(req, (int)srv->cfg->retry_after_s, "out of memory");
        return;
    }
    if (rc < 0)
        publish_dead_letter(p, route, why);
    else
        publish_events(p, events);
    release(p);
}

/* ---- providers ----------------------------------------------------------- */

static json_t *parse_json_body(struct evhttp_request *req, ing_error_t *why)
{
    size_t len;
    json_error_t jerr;
    const char *body = cmn_http_body(req, &len);
    json_t *doc = json_loadb(body, len, 0, &jerr);
    if (!doc)
        ing_fail(why, "", "invalid JSON at line %d column %d: %s", jerr.line, jerr.column,
                 jerr.text);
    return doc;
}

/* A request's context: the provider's own number format and time zone. */
static ing_ctx_t ctx_now(ing_server_t *srv, const char *number_format, const char *time_zone)
{
    ing_ctx_t ctx = {.country = srv->country,
                     .received_at_ms = cmn_time_now_ms(),
                     .internal_max_digits = (int)srv->cfg->internal_max_digits,
                     .time_zone = time_zone};
    if (cmn_phone_format_parse(number_format, &ctx.number_format) < 0)
        ctx.number_format = CMN_PHONE_FORMAT_AUTO; /* unreachable: the config checked the enum */
    return ctx;
}

/* The JSON providers' normalisers behind one signature; `arg` is the
 * CallGear notification (the others take none). */
typedef int (*json_normaliser_fn)(const ing_ctx_t *ctx, const char *arg, const json_t *body,
                                  ing_events_t *out, ing_error_t *err);

static int normalise_callgear(const ing_ctx_t *ctx, const char *notification, const json_t *body,
                              ing_events_t *out, ing_error_t *err)
{
    return ing_callgear_normalise(ctx, notification, body, out, err);
}

static int normalise_webex(const ing_ctx_t *ctx, const char *arg, const json_t *body,
                           ing_events_t *out, ing_error_t *err)
{
    return ing_webex_normalise(ctx, body, out, err);
}

static int normalise_generic(const ing_ctx_t *ctx, const char *arg, const json_t *body,
                             ing_events_t *out, ing_error_t *err)
{
    return ing_generic_normalise(ctx, body, out, err);
}

/* After authentication, every JSON route: 415, parse, normalise, publish
 * or dead-letter. `route`: where the request came in, as a dead letter
 * keeps it for a replay (without any secret: see on_callgear). */
static void accept_json(ing_server_t *srv, struct evhttp_request *req, const char *provider,
                        const char *route, json_normaliser_fn normalise, const char *arg,
                        ing_ctx_t ctx)
{
    ing_events_t events;
    ing_error_t why = {0};
    if (!cmn_http_content_type_is(req, "application/json")) {
        cmn_http_reply_error(req, 415, "Content-Type must be application/json", NULL);
        return;
    }
    ing_events_init(&events);
    json_t *doc = parse_json_body(req, &why);
    int rc = doc ? normalise(&ctx, arg, doc, &events, &why) : -1;
    json_decref(doc);
    accept_or_dead_letter(srv, req, provider, route, rc, &events, &why);
    ing_events_clear(&events);
}

/* POST /v1/callgear/<token>/<notification>, or /v1/callgear/<notification>
 * with the token in the configured header. */
static void on_callgear(struct evhttp_request *req, const char *path, void *arg)
{
    ing_server_t *srv = arg;
    const char *rest = path + strlen("/v1/callgear/");
    const char *token = NULL, *notification = rest;
    char segment[128];
    if (*srv->cfg->callgear_token_header) {
        token = cmn_http_header(req, srv->cfg->callgear_token_header);
    } else {
        const char *slash = strchr(rest, '/');
        size_t n = slash ? (size_t)(slash - rest) : 0;
        if (slash && n < sizeof segment) {
            memcpy(segment, rest, n);
            segment[n] = '\0';
            token = segment;
            notification = slash + 1;
        }
    }
    cmn_auth_match_t m =
        cmn_auth_token_match(srv->cfg->callgear_token, srv->cfg->callgear_token_previous, token);
    if (m == CMN_AUTH_NONE) {
        cmn_http_reply_error(req, 401, "missing or wrong CallGear token", NULL);
        return;
    }
    if (m == CMN_AUTH_PREVIOUS)
        cmn_metric_add(srv->previous_secret_used[PREV_CALLGEAR], 1);
    /* The replay route names the notification (it is not in the body) and
     * never the token: /v1/callgear/<notification>, the header form's path. */
    char route[160];
    snprintf(route, sizeof route, "/v1/callgear/%s", notification);
    accept_json(srv, req, "callgear", route, normalise_callgear, notification,
                ctx_now(srv, srv->cfg->callgear_number_format, srv->cfg->callgear_time_zone));
}

/* The URL Twilio signed: the configured public base URL + our request URI. */
static void twilio_url(ing_server_t *srv, struct evhttp_request *req, char *out, size_t outsz)
{
    const char *base = srv->cfg->public_url;
    size_t n = strlen(base);
    while (n && base[n - 1] == '/')
        n--;
    snprintf(out, outsz, "%.*s%s", (int)n, base, evhttp_request_get_uri(req));
}

static void on_twilio(struct evhttp_request *req, const char *path, void *arg)
{
    ing_server_t *srv = arg;
    char url[2048];
    size_t len;
    ing_form_t form;
    ing_error_t why = {0};
    if (!cmn_http_content_type_is(req, "application/x-www-form-urlencoded")) {
        cmn_http_reply_error(req, 415, "Content-Type must be application/x-www-form-urlencoded",
                             NULL);
        return;
    }
    const char *body = cmn_http_body(req, &len);
    if (ing_form_parse(body, len, &form, &why) < 0) {
        cmn_http_reply_error(req, 400, why.msg, why.field);
        return;
    }
    twilio_url(srv, req, url, sizeof url);
    const char *signature = cmn_http_header(req, "X-Twilio-Signature");
    if (!ing_twilio_signature_ok(srv->cfg->twilio_auth_token, url, &form, signature)) {
        if (!*srv->cfg->twilio_auth_token_previous ||
            !ing_twilio_signature_ok(srv->cfg->twilio_auth_token_previous, url, &form, signature)) {
            ing_form_free(&form);
            cmn_http_reply_error(req, 401, "X-Twilio-Signature does not match",
                                 "X-Twilio-Signature");
            return;
        }
        cmn_metric_add(srv->previous_secret_used[PREV_TWILIO], 1);
    }
    ing_events_t events;
    ing_ctx_t ctx = ctx_now(srv, srv->cfg->twilio_number_format, NULL);
    ing_events_init(&events);
    int rc = ing_twilio_normalise(&ctx, &form, &events, &why);
    ing_form_free(&form);
    if (rc == 0 && ing_twilio_url_params(&ctx, evhttp_request_get_uri(req), &events, &why) < 0) {
        ing_events_clear(&events);
        rc = -1;
    }
    /* Twilio signed the URI with its query: a replay needs it whole. */
    accept_or_dead_letter(srv, req, "twilio", evhttp_request_get_uri(req), rc, &events, &why);
    ing_events_clear(&events);
}

static void on_webex(struct evhttp_request *req, const char *path, void *arg)
{
    ing_server_t *srv = arg;
    const char *authorization = cmn_http_header(req, "Authorization");
    cmn_auth_match_t m = cmn_auth_bearer_match(srv->cfg->webex_bearer,
                                               srv->cfg->webex_bearer_previous, authorization);
    if (m == CMN_AUTH_NONE) {
        cmn_http_reply_error(req, 401, "missing or wrong bearer token", "Authorization");
        return;
    }
    if (m == CMN_AUTH_PREVIOUS)
        cmn_metric_add(srv->previous_secret_used[PREV_WEBEX], 1);
    accept_json(srv, req, "webex", evhttp_request_get_uri(req), normalise_webex, NULL,
                ctx_now(srv, srv->cfg->webex_number_format, NULL));
}

static void on_generic(struct evhttp_request *req, const char *path, void *arg)
{
    ing_server_t *srv = arg;
    size_t len;
    ing_error_t why = {0};
    const char *body = cmn_http_body(req, &len);
    const char *ts = cmn_http_header(req, ING_GENERIC_TIMESTAMP_HEADER);
    const char *signature = cmn_http_header(req, ING_GENERIC_SIGNATURE_HEADER);
    int64_t now_ms = cmn_time_now_ms();
    long tolerance_ms = srv->cfg->generic_tolerance_s * 1000;
    if (!ing_generic_signature_ok(srv->cfg->generic_secret, ts, body, len, signature, now_ms,
                                  tolerance_ms, &why)) {
        /* The reason given is the current secret's: a stale timestamp or a
         * malformed header fails the previous secret the same way. */
        ing_error_t why_previous = {0};
        if (!*srv->cfg->generic_secret_previous ||
            !ing_generic_signature_ok(srv->cfg->generic_secret_previous, ts, body, len, signature,
                                      now_ms, tolerance_ms, &why_previous)) {
            cmn_http_reply_error(req, 401, why.msg, why.field);
            return;
        }
        cmn_metric_add(srv->previous_secret_used[PREV_GENERIC], 1);
    }
    accept_json(srv, req, "generic", evhttp_request_get_uri(req), normalise_generic, NULL,
                ctx_now(srv, srv->cfg->generic_number_format, NULL));
}

/* ---- CRM events (issue 25 item 1) ---------------------------------------- */

typedef int (*crm_normaliser_fn)(int64_t received_at_ms, const json_t *body, ing_crm_events_t *out,
                                 ing_error_t *err);

static const char *const crm_names[] = {
    [ING_CRM_ZENDESK] = "zendesk", [ING_CRM_DYNAMICS] = "dynamics"};

/* After authentication: parse, normalise, and publish every event to
 * crm-events before the 202 (the same rule as the call stream's). An
 * unusable post is answered 400 and counted. */
static void accept_crm(ing_server_t *srv, struct evhttp_request *req, int crm,
                       crm_normaliser_fn normalise)
{
    ing_crm_events_t events = {.n = 0};
    ing_error_t why = {0};
    pending_t *p;
    if (!cmn_http_content_type_is(req, "application/json")) {
        cmn_http_reply_error(req, 415, "Content-Type must be application/json", NULL);
        return;
    }
    json_t *doc = parse_json_body(req, &why);
    int rc = doc ? normalise(cmn_time_now_ms(), doc, &events, &why) : -1;
    json_decref(doc);
    if (rc < 0) {
        cmn_metric_add(srv->crm_refused[crm], 1);
        cmn_http_reply_error(req, 400, why.msg, why.field);
        return;
    }
    if (events.n == 0) { /* an event callbus has no use for */
        cmn_http_reply_json(req, 202, json_pack("{s:s, s:[]}", "status", "accepted", "event_ids"));
        return;
    }
    if (!cmn_producer_reachable(srv->producer)) {
        cmn_http_reply_unavailable(req, (int)srv->cfg->retry_after_s, "Kafka is unreachable");
        return;
    }
    if (!(p = pending_new(srv, req, crm_names[crm]))) {
        cmn_http_reply_unavailable(req, (int)srv->cfg->retry_after_s, "out of memory");
        return;
    }
    for (size_t i = 0; i < events.n && !p->failed; i++) {
        char *text = ing_crm_event_encode(&events.ev[i]);
        if (!text) {
            p->failed = 1;
            break;
        }
        send_one(p, cmn_topic(CMN_TOPIC_CRM_EVENTS), ing_crm_event_key(&events.ev[i]), text);
        json_array_append_new(p->ids, json_string(events.ev[i].event_id));
        free(text);
    }
    release(p);
}

static void on_zendesk(struct evhttp_request *req, const char *path, void *arg)
{
    ing_server_t *srv = arg;
    size_t len;
    ing_error_t why = {0}, why_previous = {0};
    const char *body = cmn_http_body(req, &len);
    const char *ts = cmn_http_header(req, ING_ZENDESK_TIMESTAMP_HEADER);
    const char *signature = cmn_http_header(req, ING_ZENDESK_SIGNATURE_HEADER);
    int64_t now_ms = cmn_time_now_ms(), tolerance_ms = srv->cfg->zendesk_tolerance_s * 1000;
    if (!ing_zendesk_signature_ok(srv->cfg->zendesk_webhook_secret, ts, body, len, signature,
                                  now_ms, tolerance_ms, &why)) {
        /* The reason given is the current secret's, as on the generic route. */
        if (!*srv->cfg->zendesk_webhook_secret_previous ||
            !ing_zendesk_signature_ok(srv->cfg->zendesk_webhook_secret_previous, ts, body, len,
                                      signature, now_ms, tolerance_ms, &why_previous)) {
            cmn_http_reply_error(req, 401, why.msg, why.field);
            return;
        }
        cmn_metric_add(srv->previous_secret_used[PREV_ZENDESK], 1);
    }
    accept_crm(srv, req, ING_CRM_ZENDESK, ing_zendesk_normalise);
}

/* The Dataverse webhook key: `?code=` (AuthType WebhookKey), else the
 * header of the HttpHeader form. */
static cmn_auth_match_t dynamics_key_match(ing_server_t *srv, struct evhttp_request *req)
{
    char code[256];
    const char *given = cmn_http_query_param(req, "code", code, sizeof code) == 0
                            ? code
                            : cmn_http_header(req, ING_DYNAMICS_KEY_HEADER);
    return cmn_auth_token_match(srv->cfg->dynamics_webhook_key,
                                srv->cfg->dynamics_webhook_key_previous, given);
}

static void on_dynamics(struct evhttp_request *req, const char *path, void *arg)
{
    ing_server_t *srv = arg;
    cmn_auth_match_t m = dynamics_key_match(srv, req);
    if (m == CMN_AUTH_NONE) {
        cmn_http_reply_error(req, 401,
                             "missing or wrong webhook key (?code= or " ING_DYNAMICS_KEY_HEADER ")",
                             "code");
        return;
    }
    if (m == CMN_AUTH_PREVIOUS)
        cmn_metric_add(srv->previous_secret_used[PREV_DYNAMICS], 1);
    accept_crm(srv, req, ING_CRM_DYNAMICS, ing_dynamics_normalise);
}

int ing_server_routes(ing_server_t *srv, cmn_http_t *http)
{
    const ing_config_t *c = srv->cfg;
    srv->publish_ms = cmn_metrics_histogram(
        "ingest_publish_duration_ms", "Request received to every delivery report stored, ms", NULL);
    srv->dlq_total = cmn_metrics_counter("ingest_dead_letters_total",
                                         "Authenticated payloads kept on call-events.dlq", NULL);
    srv->too_large_total = cmn_metrics_counter(
        "ingest_payloads_too_large_total",
        "Requests answered 413 because their event or dead letter is larger than Kafka takes",
        NULL);
    srv->unmapped_agents = cmn_metrics_counter(
        "ingest_unmapped_agents_total", "Events naming an operator with no CRM agent (R-I3)", NULL);
    static const char *const prev_labels[] = {
        [PREV_CALLGEAR] = "provider=\"callgear\"", [PREV_TWILIO] = "provider=\"twilio\"",
        [PREV_WEBEX] = "provider=\"webex\"",       [PREV_GENERIC] = "provider=\"generic\"",
        [PREV_ZENDESK] = "provider=\"zendesk\"",   [PREV_DYNAMICS] = "provider=\"dynamics\""};
    static const char *const crm_labels[] = {
        [ING_CRM_ZENDESK] = "crm=\"zendesk\"", [ING_CRM_DYNAMICS] = "crm=\"dynamics\""};
    for (size_t i = 0; i < ING_CRMS; i++)
        srv->crm_refused[i] = cmn_metrics_counter(
            "ingest_crm_events_refused_total",
            "CRM event posts authenticated but unusable, answered 400", crm_labels[i]);
    for (size_t i = 0; i < sizeof prev_labels / sizeof prev_labels[0]; i++)
        srv->previous_secret_used[i] = cmn_metrics_counter(
            "ingest_previous_secret_accepted_total",
            "Requests authenticated by a provider's *_PREVIOUS secret (a rotation in progress)",
            prev_labels[i]);
    if (!cmn_time_zone_known(c->callgear_time_zone)) {
        LOG_ERROR("CALLBUS_INGEST_CALLGEAR_TIME_ZONE: \"%s\" is not an IANA time zone of this "
                  "system's tz database (tzdata)",
                  c->callgear_time_zone);
        return -1;
    }
    /* A provider that is not configured has no route: it answers 404. */
    if (*c->callgear_token &&
        cmn_http_route(http, "callgear", "/v1/callgear/", CMN_HTTP_POST, on_callgear, srv) < 0)
        return -1;
    if (*c->twilio_auth_token &&
        cmn_http_route(http, "twilio", "/v1/twilio/voice-status", CMN_HTTP_POST, on_twilio, srv))
        return -1;
    if (*c->webex_bearer &&
        cmn_http_route(http, "webex", "/v1/webex/events", CMN_HTTP_POST, on_webex, srv) < 0)
        return -1;
    if (*c->generic_secret &&
        cmn_http_route(http, "generic", "/v1/generic/events", CMN_HTTP_POST, on_generic, srv) < 0)
        return -1;
    if (*c->zendesk_webhook_secret &&
        cmn_http_route(http, "zendesk", "/v1/zendesk/events", CMN_HTTP_POST, on_zendesk, srv) < 0)
        return -1;
    if (*c->dynamics_webhook_key && cmn_http_route(http, "dynamics", "/v1/dynamics/events",
                                                   CMN_HTTP_POST, on_dynamics, srv) < 0)
        return -1;
    return 0;
}
