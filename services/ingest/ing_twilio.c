/* Twilio: request signature and voice status callbacks. A Twilio callback
 * describes one leg of a call, so the mapping first decides what the leg is
 * (the customer's inbound leg, the leg ringing an agent's Twilio Client, an
 * outbound leg to the customer...) and then looks its CallStatus up in a
 * table. Agents are Twilio Clients: "client:<identity>" in To or From. */
#include "ing_twilio.h"
#include "cmn_time.h"
#include "ing_hmac.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

/* ---- signature ------------------------------------------------------------ */

static int pair_cmp(const void *a, const void *b)
{
    const ing_form_pair_t *x = *(const ing_form_pair_t *const *)a;
    const ing_form_pair_t *y = *(const ing_form_pair_t *const *)b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

/* Writes `url` with its port removed (with_port = 0) or, when it has none,
 * with the scheme's default port added (with_port = 1), to a new string. */
static char *url_variant(const char *url, int with_port)
{
    const char *scheme_end = strstr(url, "://");
    if (!scheme_end)
        return strdup(url);
    const char *host = scheme_end + 3;
    const char *host_end = host + strcspn(host, "/?#");
    const char *at = memchr(host, '@', (size_t)(host_end - host));
    const char *port = NULL;
    host = at ? at + 1 : host;
    for (const char *p = host_end; p > host && p[-1] != ']'; p--)
        if (p[-1] == ':') {
            port = p - 1;
            break;
        }
    size_t head = (size_t)((port ? port : host_end) - url);
    const char *tail = port && !with_port ? host_end : port ? port : host_end;
    const char *add = "";
    if (with_port && !port)
        add = strncasecmp(url, "https:", 6) == 0 ? ":443" : ":80";
    size_t len = head + strlen(add) + strlen(tail) + 1;
    char *out = malloc(len);
    if (out)
        snprintf(out, len, "%.*s%s%s", (int)head, url, add, tail);
    return out;
}

/* base64(HMAC-SHA1(token, url + sorted pairs)) into out (>= 29 bytes). */
static int compute_signature(const char *token, const char *url, const ing_form_pair_t **sorted,
                             size_t n, char *out)
{
    unsigned char mac[ING_HMAC_MAX];
    size_t mac_len = 0;
    int rc = -1;
    ing_hmac_t *h = ing_hmac_new("SHA1", token, strlen(token));
    if (!h || ing_hmac_update(h, url, strlen(url)) < 0)
        goto done;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && pair_cmp(&sorted[i - 1], &sorted[i]) == 0)
            continue; /* Twilio's libraries sign a repeated identical pair once */
        if (ing_hmac_update(h, sorted[i]->name, strlen(sorted[i]->name)) < 0 ||
            ing_hmac_update(h, sorted[i]->value, strlen(sorted[i]->value)) < 0)
            goto done;
    }
    if (ing_hmac_final(h, mac, &mac_len) < 0 || mac_len != 20)
        goto done;
    EVP_EncodeBlock((unsigned char *)out, mac, (int)mac_len);
    rc = 0;
done:
    ing_hmac_free(h);
    return rc;
}

int ing_twilio_signature_ok(const char *auth_token, const char *full_url, const ing_form_t *params,
                            const char *signature_b64)
{
    enum { B64_SHA1 = 28 };
    char computed[B64_SHA1 + 1];
    char *urls[3] = {NULL, NULL, NULL};
    const ing_form_pair_t **sorted = NULL;
    int ok = 0;
    if (!auth_token || !full_url || !params || !signature_b64 || strlen(signature_b64) != B64_SHA1)
        return 0;
    if (params->n && !(sorted = malloc(params->n * sizeof *sorted)))
        return 0;
    for (size_t i = 0; i < params->n; i++)
        sorted[i] = &params->pairs[i];
    if (params->n)
        qsort(sorted, params->n, sizeof *sorted, pair_cmp);
    urls[0] = strdup(full_url);
    urls[1] = url_variant(full_url, 0);
    urls[2] = url_variant(full_url, 1);
    for (int i = 0; i < 3; i++) {
        /* Every variant is checked, matched or not, so timing says nothing. */
        if (urls[i] && compute_signature(auth_token, urls[i], sorted, params->n, computed) == 0)
            ok |= CRYPTO_memcmp(computed, signature_b64, B64_SHA1) == 0;
    }
    for (int i = 0; i < 3; i++)
        free(urls[i]);
    free(sorted);
    return ok;
}

/* ---- status callbacks ----------------------------------------------------- */

typedef enum { PH_START, PH_RINGING, PH_ANSWERED, PH_DONE, PH_FAILED, PH__COUNT } tw_phase_t;

typedef enum {
    LEG_INBOUND_CUSTOMER,  /* Direction=inbound: the caller's own leg (parent) */
    LEG_INBOUND_AGENT,     /* outbound-dial to client:X: the call ringing agent X */
    LEG_OUTBOUND_CUSTOMER, /* outbound-api/-dial to a number: the customer being called */
    LEG_OUTBOUND_AGENT,    /* outbound-api to client:X: click-to-call rings agent X first */
    LEG_AGENT_BROWSER,     /* Direction=inbound from client:X: agent X dialling out */
    LEG__COUNT
} tw_leg_t;

static const struct {
    const char *status;
    tw_phase_t phase;
} statuses[] = {
    {"queued", PH_START},         {"initiated", PH_START},   {"ringing", PH_RINGING},
    {"in-progress", PH_ANSWERED}, {"answered", PH_ANSWERED}, {"completed", PH_DONE},
    {"busy", PH_FAILED},          {"no-answer", PH_FAILED},  {"canceled", PH_FAILED},
    {"failed", PH_FAILED},
};

typedef struct {
    cmn_event_type_t type; /* CMN_EV_NONE: nothing to publish */
    cmn_outcome_t outcome;
} tw_rule_t;

#define NO_EVENT                                                                                   \
    {                                                                                              \
        CMN_EV_NONE, CMN_OUT_NONE                                                                  \
    }
/* What each leg's status means for the call. Inbound customer leg: Twilio
 * answers it itself (TwiML), so only its end is reported. Its "completed"
 * says only that the call ended, not whether an agent answered (the caller
 * may have hung up in the IVR or the queue), and ingest keeps no state: the
 * outcome is `completed` and ticket-service decides from the call's agent
 * legs (issue 9). Any other end means nobody ever picked up: abandoned. */
static const tw_rule_t rules[LEG__COUNT][PH__COUNT] = {
    [LEG_INBOUND_CUSTOMER] = {NO_EVENT,
                              NO_EVENT,
                              NO_EVENT,
                              {CMN_EV_ENDED, CMN_OUT_COMPLETED},
                              {CMN_EV_ENDED, CMN_OUT_ABANDONED}},
    [LEG_INBOUND_AGENT] = {NO_EVENT,
                           {CMN_EV_OFFERED, CMN_OUT_NONE},
                           {CMN_EV_ANSWERED, CMN_OUT_NONE},
                           {CMN_EV_LEG_ENDED, CMN_OUT_ANSWERED},
                           {CMN_EV_LEG_ENDED, CMN_OUT_MISSED}},
    [LEG_OUTBOUND_CUSTOMER] = {{CMN_EV_OUTBOUND_STARTED, CMN_OUT_NONE},
                               NO_EVENT,
                               {CMN_EV_OUTBOUND_ANSWERED, CMN_OUT_NONE},
                               {CMN_EV_OUTBOUND_ENDED, CMN_OUT_ANSWERED},
                               {CMN_EV_OUTBOUND_ENDED, CMN_OUT_MISSED}},
    [LEG_OUTBOUND_AGENT] = {{CMN_EV_OUTBOUND_STARTED, CMN_OUT_NONE},
                            NO_EVENT,
                            NO_EVENT,
                            NO_EVENT,
                            {CMN_EV_OUTBOUND_ENDED, CMN_OUT_MISSED}},
    [LEG_AGENT_BROWSER] = {NO_EVENT, NO_EVENT, NO_EVENT, NO_EVENT, NO_EVENT},
};

/* The numbers Twilio puts in From when the caller hid their number. */
static const char *const hidden_numbers[] = {"+266696687", "+7378742833", "+2562533", "+8656696",
                                             "+86282452253"};

static const char *client_identity(const char *address)
{
    return address && strncmp(address, "client:", 7) == 0 && address[7] ? address + 7 : NULL;
}

static int classify(const ing_form_t *p, tw_leg_t *leg, ing_error_t *err)
{
    const char *dir = ing_form_get(p, "Direction");
    const char *from = ing_form_get(p, "From"), *to = ing_form_get(p, "To");
    if (!dir || !*dir)
        return ing_fail(err, "Direction", "Direction is required");
    if (strcmp(dir, "inbound") == 0)
        *leg = client_identity(from) ? LEG_AGENT_BROWSER : LEG_INBOUND_CUSTOMER;
    else if (strcmp(dir, "outbound-dial") == 0)
        *leg = client_identity(to) ? LEG_INBOUND_AGENT : LEG_OUTBOUND_CUSTOMER;
    else if (strcmp(dir, "outbound-api") == 0 || strcmp(dir, "outbound") == 0)
        *leg = client_identity(to) ? LEG_OUTBOUND_AGENT : LEG_OUTBOUND_CUSTOMER;
    else
        return ing_fail(err, "Direction",
                        "Direction must be inbound, outbound-api or outbound-dial");
    return 0;
}

static int set_customer(const ing_ctx_t *ctx, const ing_form_t *p, tw_leg_t leg, cmn_event_t *ev,
                        ing_error_t *err)
{
    const char *name = leg == LEG_OUTBOUND_CUSTOMER ? "To" : "From";
    const char *raw = ing_form_get(p, name);
    if (leg == LEG_OUTBOUND_AGENT || client_identity(raw))
        return 0; /* that end is an agent, not the customer */
    for (size_t i = 0; raw && i < sizeof hidden_numbers / sizeof hidden_numbers[0]; i++)
        if (strcmp(raw, hidden_numbers[i]) == 0)
            return 0;
    return ing_set_customer(ev, ctx, raw, name, err);
}

static int set_parties(const ing_ctx_t *ctx, const ing_form_t *p, tw_leg_t leg, cmn_event_t *ev,
                       ing_error_t *err)
{
    const char *to = ing_form_get(p, "To"), *from = ing_form_get(p, "From");
    const char *dialled = leg == LEG_INBOUND_CUSTOMER    ? to
                          : leg == LEG_OUTBOUND_CUSTOMER ? from
                                                         : NULL;
    const char *agent = leg == LEG_INBOUND_AGENT || leg == LEG_OUTBOUND_AGENT ? client_identity(to)
                        : leg == LEG_AGENT_BROWSER ? client_identity(from)
                                                   : NULL;
    ev->direction = leg == LEG_INBOUND_CUSTOMER || leg == LEG_INBOUND_AGENT ? CMN_DIR_INBOUND
                                                                            : CMN_DIR_OUTBOUND;
    if (client_identity(dialled))
        dialled = NULL;
    if (set_customer(ctx, p, leg, ev, err) < 0 ||
        ing_set_text(&ev->dialled_number, dialled, err) < 0 ||
        ing_set_text(&ev->agent.provider_id, agent, err) < 0)
        return -1;
    return 0;
}

/* Whole seconds from a form parameter; absent leaves *dst. */
static int take_seconds(const ing_form_t *p, const char *name, int64_t *dst, ing_error_t *err)
{
    const char *v = ing_form_get(p, name);
    char *end;
    if (!v || !*v)
        return 0;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (*end || errno == ERANGE || n < 0 || n > CMN_DURATION_MAX || v[0] < '0' || v[0] > '9')
        return ing_fail(err, name, "%s must be a whole number of seconds 0..%d", name,
                        CMN_DURATION_MAX);
    *dst = n;
    return 0;
}

static int month_of(const char *mon)
{
    static const char *const names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    for (int i = 0; i < 12; i++)
        if (strcasecmp(mon, names[i]) == 0)
            return i + 1;
    return 0;
}

/* Twilio's Timestamp is RFC 2822 ("Tue, 06 Feb 2024 10:00:00 +0000"):
 * rewritten as RFC 3339 so that cmn_time_parse does the range checks. */
int ing_twilio_time_parse(const char *text, int64_t *ms)
{
    int day, year, hh, mm, ss, used = 0;
    char mon[4], zone[8], iso[40];
    const char *comma = strchr(text, ',');
    const char *s = comma ? comma + 1 : text;
    if (sscanf(s, " %2d %3s %4d %2d:%2d:%2d %7s%n", &day, mon, &year, &hh, &mm, &ss, zone, &used) !=
            7 ||
        s[used] != '\0' || !month_of(mon))
        return -1;
    if (strcmp(zone, "GMT") == 0 || strcmp(zone, "UTC") == 0 || strcmp(zone, "Z") == 0)
        strcpy(zone, "+0000");
    if (strlen(zone) != 5 || (zone[0] != '+' && zone[0] != '-') ||
        strspn(zone + 1, "0123456789") != 4)
        return -1;
    snprintf(iso, sizeof iso, "%04d-%02d-%02dT%02d:%02d:%02d%c%.2s:%.2s", year, month_of(mon), day,
             hh, mm, ss, zone[0], zone + 1, zone + 3);
    return cmn_time_parse(iso, ms);
}

static int set_times(const ing_ctx_t *ctx, const ing_form_t *p, cmn_event_t *ev, ing_error_t *err)
{
    const char *ts = ing_form_get(p, "Timestamp");
    ev->received_at_ms = ctx->received_at_ms;
    if (!ts || !*ts) {
        ev->occurred_at_ms = ctx->received_at_ms;
        return 0;
    }
    if (ing_twilio_time_parse(ts, &ev->occurred_at_ms) < 0 || ev->occurred_at_ms <= 0)
        return ing_fail(err, "Timestamp", "Timestamp must be an RFC 2822 date-time");
    return 0;
}

/* The fields every Twilio event carries: ids, provider, times. A child leg
 * belongs to its parent's call: call_id = ParentCallSid when set. */
static int set_ids(const ing_ctx_t *ctx, const ing_form_t *p, cmn_event_t *ev, ing_error_t *err)
{
    const char *sid = ing_form_get(p, "CallSid"), *parent = ing_form_get(p, "ParentCallSid");
    if (!sid || !*sid)
        return ing_fail(err, "CallSid", "CallSid is required");
    if (ing_set_text(&ev->provider, "twilio", err) < 0 ||
        ing_set_text(&ev->call_id, parent && *parent ? parent : sid, err) < 0 ||
        ing_set_text(&ev->leg_id, sid, err) < 0)
        return -1;
    return set_times(ctx, p, ev, err);
}

static int status_event(const ing_ctx_t *ctx, const ing_form_t *p, ing_events_t *out,
                        ing_error_t *err)
{
    const char *status = ing_form_get(p, "CallStatus");
    size_t i = 0;
    tw_leg_t leg;
    if (!status || !*status)
        return ing_fail(err, "CallStatus", "CallStatus is required");
    while (i < sizeof statuses / sizeof statuses[0] && strcmp(status, statuses[i].status) != 0)
        i++;
    if (i == sizeof statuses / sizeof statuses[0])
        return ing_fail(err, "CallStatus", "CallStatus is not a Twilio call status");
    if (classify(p, &leg, err) < 0)
        return -1;
    tw_rule_t rule = rules[leg][statuses[i].phase];
    if (rule.type == CMN_EV_NONE)
        return 0;
    cmn_event_t *ev = ing_events_push(out);
    const char *parts[] = {"status", ing_form_get(p, "CallSid"), status,
                           ing_form_get(p, "SequenceNumber")};
    ev->type = rule.type;
    ev->outcome = rule.outcome;
    /* The caller's own leg lasts the whole call; other legs are talk time. */
    int64_t *duration = leg == LEG_INBOUND_CUSTOMER ? &ev->total_s : &ev->talk_s;
    if (set_ids(ctx, p, ev, err) < 0 || set_parties(ctx, p, leg, ev, err) < 0 ||
        take_seconds(p, "Duration", duration, err) < 0 ||
        take_seconds(p, "CallDuration", duration, err) < 0 ||
        ing_set_event_id(ev, parts, 4, err) < 0)
        return -1;
    if (statuses[i].phase != PH_DONE)
        *duration = CMN_DURATION_UNKNOWN;
    return 0;
}

/* Recording status callback (R-T6). It carries no Direction/From/To, so
 * the direction is taken from them only when present, else inbound; the
 * consumers find the call by call_id. */
static int recording_event(const ing_ctx_t *ctx, const ing_form_t *p, ing_events_t *out,
                           ing_error_t *err)
{
    const char *status = ing_form_get(p, "RecordingStatus"), *url = ing_form_get(p, "RecordingUrl");
    const char *rec_sid = ing_form_get(p, "RecordingSid");
    tw_leg_t leg = LEG_INBOUND_CUSTOMER;
    if (strcmp(status, "completed") != 0)
        return 0; /* in-progress, absent, failed: nothing to link to yet */
    if (!url || !*url)
        return ing_fail(err, "RecordingUrl",
                        "RecordingUrl is required when RecordingStatus is "
                        "completed");
    cmn_event_t *ev = ing_events_push(out);
    const char *parts[] = {"recording", ing_form_get(p, "CallSid"), rec_sid ? rec_sid : url,
                           status};
    ev->type = CMN_EV_RECORDING_READY;
    if (ing_form_get(p, "Direction") && classify(p, &leg, err) < 0)
        return -1;
    if (set_ids(ctx, p, ev, err) < 0 || set_parties(ctx, p, leg, ev, err) < 0 ||
        ing_set_text(&ev->recording_url, url, err) < 0 ||
        take_seconds(p, "RecordingDuration", &ev->recording_duration_s, err) < 0 ||
        ing_set_event_id(ev, parts, 4, err) < 0)
        return -1;
    return 0;
}

int ing_twilio_normalise(const ing_ctx_t *ctx, const ing_form_t *params, ing_events_t *out,
                         ing_error_t *err)
{
    const char *rec_status = ing_form_get(params, "RecordingStatus");
    int rc;
    ing_events_init(out);
    rc = rec_status && *rec_status ? recording_event(ctx, params, out, err)
                                   : status_event(ctx, params, out, err);
    if (rc < 0 || ing_events_validate(out, err) < 0) {
        ing_events_clear(out);
        return -1;
    }
    return 0;
}

/* One event filled from the click-to-call URL's parameters (any NULL). */
static int url_fill(const ing_ctx_t *ctx, cmn_event_t *ev, const char *ticket, const char *customer,
                    const char *client, ing_error_t *err)
{
    if (ticket && !ev->ticket_id && ing_set_text(&ev->ticket_id, ticket, err) < 0)
        return -1;
    if (client && !ev->agent.provider_id && ing_set_text(&ev->agent.provider_id, client, err) < 0)
        return -1;
    if (customer && !ev->customer_number && !ev->internal &&
        ing_set_customer(ev, ctx, customer, "customer", err) < 0)
        return -1;
    return 0;
}

int ing_twilio_url_params(const ing_ctx_t *ctx, const char *uri, ing_events_t *events,
                          ing_error_t *err)
{
    const char *q = uri ? strchr(uri, '?') : NULL;
    ing_form_t query = {0};
    int rc = 0;
    if (!q)
        return 0;
    q++;
    if (ing_form_parse(q, strcspn(q, "#"), &query, err) < 0)
        return -1;
    const char *ticket = ing_form_get(&query, "ticket_id");
    const char *customer = ing_form_get(&query, "customer");
    const char *client = ing_form_get(&query, "client");
    ticket = ticket && *ticket ? ticket : NULL;
    customer = customer && *customer ? customer : NULL;
    client = client && *client ? client : NULL;
    if (ticket && !cmn_id_text_ok(ticket, CMN_CRM_ID_MAX))
        rc = ing_fail(err, "ticket_id", "ticket_id must be a CRM id (visible ASCII, at most %d)",
                      CMN_CRM_ID_MAX);
    else if (client && !cmn_id_text_ok(client, CMN_ID_TEXT_MAX))
        rc = ing_fail(err, "client", "client must be a Twilio Client identity (visible ASCII)");
    for (size_t i = 0; rc == 0 && i < events->n; i++)
        rc = url_fill(ctx, &events->ev[i], ticket, customer, client, err);
    ing_form_free(&query);
    return rc;
}
