/* Click-to-call: the provider-neutral part (pop_dial.h). */
#include "pop_dial.h"

#include "cmn_agentdir.h"
#include "cmn_log.h"
#include "cmn_metrics.h"
#include "cmn_time.h"
#include "crm_curl.h"
#include "pop_bucket.h"
#include "pop_session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pop_dial {
    const pop_dial_provider_t *p;
    pop_dial_account_t acct; /* strings below, owned */
    char *api_url, *caller_id, *token, *account, *key_sid, *status_callback;
    cmn_agentdir_t *agents;
    const cmn_country_t *country;
    pop_bucket_t bucket;
    long timeout_ms;
    crm_curl_t *http;
    size_t in_flight;
};

/* One call being placed. */
typedef struct {
    pop_dial_t *d;
    pop_dial_done_fn cb;
    void *ctx;
    char ticket_id[80];
} dial_t;

static void count(const pop_dial_t *d, const char *result)
{
    char labels[96];
    snprintf(labels, sizeof labels, "provider=\"%s\",result=\"%s\"", d->p->name, result);
    cmn_metric_add(cmn_metrics_counter("pop_dial_total",
                                       "Click-to-call requests of agents, by provider and outcome",
                                       labels),
                   1);
}

static json_t *refusal(const pop_dial_t *d, const char *reason, const char *code, long retry_s)
{
    json_t *b = json_pack("{s:s, s:s, s:s}", "error", reason, "provider", d->p->name,
                          "provider_code", code ? code : "");
    if (b && retry_s >= 0)
        json_object_set_new(b, "retry_after_s", json_integer(retry_s));
    return b;
}

static void on_answer(void *ctx, const crm_curl_resp_t *resp)
{
    dial_t *c = ctx;
    pop_dial_t *d = c->d;
    pop_dial_result_t r;
    json_t *body;
    int status;
    d->p->parse(resp->status, resp->status ? resp->body : resp->error, &r);
    if (r.placed) {
        status = 202;
        body = json_pack("{s:s, s:s, s:s, s:o}", "status", "placed", "provider", d->p->name,
                         "call_id", r.call_id, "ticket_id",
                         *c->ticket_id ? json_string(c->ticket_id) : json_null());
        LOG_INFO("click-to-call placed through %s: call %s (ticket %s)", d->p->name, r.call_id,
                 *c->ticket_id ? c->ticket_id : "none");
    } else {
        status = !resp->status && strcmp(resp->error, "cancelled") == 0 ? 503 : r.status;
        long retry = r.retry_after_s >= 0 ? r.retry_after_s : resp->retry_after_s;
        body = refusal(d, r.reason, r.code, status == 429 ? retry : -1);
        LOG_WARN("click-to-call refused by %s (HTTP %d, %s): %s", d->p->name, resp->status, r.code,
                 r.reason);
    }
    count(d, r.placed ? "placed" : status == 429 ? "provider_rate_limited" : "refused");
    d->in_flight--;
    c->cb(c->ctx, status, body);
    free(c);
}

static int refuse_now(pop_dial_t *d, json_t **out, int status, const char *reason, long retry_s,
                      const char *what)
{
    count(d, what);
    *out = refusal(d, reason, "", retry_s);
    return status;
}

/* What is refused before the provider is asked: a number that is none, an
 * agent with no operator there, an empty bucket. 0 and *op, or a status. */
static int admit(pop_dial_t *d, const char *crm_id, const char *number, char *e164, const char **op,
                 json_t **out)
{
    char msg[200];
    if (!number || cmn_phone_e164(number, d->country, e164, CMN_PHONE_MAX) != CMN_PHONE_OK)
        return refuse_now(d, out, 400, "not a phone number that can be called", -1, "bad_number");
    if (!(*op = cmn_agentdir_operator(d->agents, d->p->name, crm_id))) {
        snprintf(msg, sizeof msg, "agent %s has no %s operator (agent directory)", crm_id,
                 d->p->name);
        return refuse_now(d, out, 403, msg, -1, "unmapped_agent");
    }
    int64_t wait_ms = pop_bucket_take(&d->bucket, cmn_time_mono_ms());
    if (wait_ms > 0) {
        long s = (long)((wait_ms + 999) / 1000);
        snprintf(msg, sizeof msg, "too many calls placed through %s: try again in %ld s",
                 d->p->name, s);
        return refuse_now(d, out, 429, msg, s, "rate_limited");
    }
    return 0;
}

/* Sends the plug-in's request for c (owned by crm_curl's callback from
 * then on). 0, or -1 when crm_curl refused it (c untouched). */
static int send_request(pop_dial_t *d, const pop_dial_req_t *req, dial_t *c)
{
    char ct[96];
    snprintf(ct, sizeof ct, "Content-Type: %s", req->content_type);
    const char *headers[] = {ct, NULL};
    crm_curl_req_t r = {.method = "POST",
                        .url = req->url,
                        .headers = headers,
                        .body = req->body,
                        .body_len = strlen(req->body),
                        .timeout_ms = d->timeout_ms,
                        .user = req->user,
                        .password = req->password};
    return crm_curl_request(d->http, &r, on_answer, c);
}

int pop_dial_place(pop_dial_t *d, const char *crm_id, const char *number, const char *ticket_id,
                   pop_dial_done_fn cb, void *ctx, json_t **out)
{
    char e164[CMN_PHONE_MAX], errstr[256], rid[POP_TOKEN_LEN + 1];
    const char *op = NULL;
    pop_dial_req_t req = {0};
    dial_t *c = NULL;
    int status = admit(d, crm_id, number, e164, &op, out);
    if (status)
        return status;
    pop_dial_call_t call = {
        .operator_id = op, .number = e164, .ticket_id = ticket_id, .request_id = rid};
    if (pop_session_new_token(rid, sizeof rid) < 0)
        return refuse_now(d, out, 503, "no randomness", -1, "failed");
    if (d->p->build(&d->acct, &call, &req, errstr, sizeof errstr) < 0) {
        LOG_WARN("click-to-call for agent %s not sent: %s", crm_id, errstr);
        return refuse_now(d, out, 502, errstr, -1, "failed");
    }
    if (!(c = calloc(1, sizeof *c))) {
        status = refuse_now(d, out, 503, "out of memory", -1, "failed");
        goto cleanup;
    }
    *c = (dial_t){.d = d, .cb = cb, .ctx = ctx};
    snprintf(c->ticket_id, sizeof c->ticket_id, "%s", ticket_id ? ticket_id : "");
    if (send_request(d, &req, c) < 0) {
        free(c);
        status = refuse_now(d, out, 503, "out of memory", -1, "failed");
        goto cleanup;
    }
    d->in_flight++;
cleanup:
    pop_dial_req_clear(&req); /* crm_curl copied what it sends */
    return status;
}

static int copy_settings(pop_dial_t *d, const pop_dial_opts_t *o)
{
    const pop_dial_account_t *a = &o->account;
    const char *url = a->api_url && *a->api_url ? a->api_url : d->p->default_url;
    d->api_url = strdup(url);
    d->caller_id = strdup(a->caller_id ? a->caller_id : "");
    d->token = strdup(a->token ? a->token : "");
    d->account = strdup(a->account ? a->account : "");
    d->key_sid = strdup(a->key_sid ? a->key_sid : "");
    d->status_callback = strdup(a->status_callback ? a->status_callback : "");
    if (!d->api_url || !d->caller_id || !d->token || !d->account || !d->key_sid ||
        !d->status_callback)
        return -1;
    for (size_t n = strlen(d->api_url); n && d->api_url[n - 1] == '/'; n--)
        d->api_url[n - 1] = '\0';
    d->acct = (pop_dial_account_t){d->api_url, d->caller_id, d->token,
                                   d->account, d->key_sid,   d->status_callback};
    return 0;
}

int pop_dial_new(struct event_base *base, const pop_dial_opts_t *o, pop_dial_t **out, char *errstr,
                 size_t errsz)
{
    const char *missing;
    *out = NULL;
    if (!o->provider || !*o->provider)
        return 0;
    pop_dial_t *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(errstr, errsz, "out of memory");
        return -1;
    }
    if (!(d->p = pop_dial_provider_find(o->provider))) {
        snprintf(errstr, errsz, "unknown provider \"%s\" (callgear, twilio)", o->provider);
        goto fail;
    }
    if (copy_settings(d, o) < 0 || !(d->http = crm_curl_new(base))) {
        snprintf(errstr, errsz, "out of memory");
        goto fail;
    }
    if ((missing = d->p->missing(&d->acct))) {
        snprintf(errstr, errsz, "%s is required with CALLBUS_POP_DIAL_PROVIDER=%s", missing,
                 d->p->name);
        goto fail;
    }
    /* Credentials go to this URL: https, or http to this machine only (an emulator). */
    if (crm_curl_url_check(d->api_url, 0, errstr, errsz) < 0 ||
        cmn_agentdir_new(base, o->agents, &d->agents, errstr, errsz) < 0)
        goto fail;
    d->country = o->country;
    d->timeout_ms = o->timeout_ms;
    pop_bucket_init(&d->bucket, o->per_min, o->burst, cmn_time_mono_ms());
    *out = d;
    return 0;
fail:
    pop_dial_free(d);
    return -1;
}

size_t pop_dial_in_flight(const pop_dial_t *d)
{
    return d ? d->in_flight : 0;
}

void pop_dial_free(pop_dial_t *d)
{
    if (!d)
        return;
    crm_curl_free(d->http); /* each in-flight call is answered "cancelled": 503 */
    cmn_agentdir_free(d->agents);
    free(d->api_url);
    free(d->caller_id);
    free(d->token);
    free(d->account);
    free(d->key_sid);
    free(d->status_callback);
    free(d);
}
