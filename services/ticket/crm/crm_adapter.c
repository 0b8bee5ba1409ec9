/* The CRM adapter layer (crm_adapter.h): ops, requests through the rate
 * limiter and libcurl on the loop, retries, 429s, creation safety,
 * credentials state, shutdown. Moved out of the Zendesk adapter so that a
 * second CRM does not copy it (issue 13 item 1). */
#include "crm_adapter.h"
#include "cmn_log.h"
#include "cmn_metrics.h"
#include "cmn_time.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct crm_http {
    crm_op_t *op;
    const char *metric_op;
    const char *method;
    char *url;
    char *body;         /* or NULL */
    char *content_type; /* header line, or NULL: JSON when a body (without one: an extra line) */
    crm_step_fn step;
    crm_rl_req_t *rlreq;
    /* a create after an unclear failure: looked up before it is sent again */
    int verify_pending;
    int verifying;
    int64_t queued_ms; /* submitted to the limiter: its queueing is measured */
};

struct crm_adapter {
    tkt_crm_t crm;
    const crm_desc_t *desc;
    void *impl;
    struct event_base *base;
    crm_curl_t *curl;
    crm_rl_t *rl;
    int timeout_ms;
    char *user, *password; /* Basic auth of the default send */
    crm_op_t *ops;
    size_t n_ops;
    size_t requests_sent, rate_limited, retries;
    int closing;
    /* The last answer that said anything about our credentials was a 401 or
     * 403 (an expired token, a suspended account); cleared by the next 2xx. */
    int auth_failing;
    cmn_metric_t *m_auth_failures, *m_auth_failing;
};

/* ----------------------------------------------------------- small helpers */

void crm_copy_str(char *dst, size_t dstsz, const char *src)
{
    if (dstsz == 0)
        return;
    size_t n = src ? strlen(src) : 0;
    if (n >= dstsz)
        n = dstsz - 1;
    memcpy(dst, src ? src : "", n);
    dst[n] = '\0';
}

char *crm_str_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (!s)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* Text from calls and telephony may not be valid UTF-8 (jansson refuses
 * it): invalid bytes become U+FFFD rather than the field going missing. */
json_t *crm_json_str(const char *s)
{
    json_t *j = json_string(s ? s : "");
    if (j || !s)
        return j;
    size_t n = strlen(s);
    char *clean = malloc(n * 3 + 1);
    if (!clean)
        return NULL;
    const unsigned char *p = (const unsigned char *)s;
    char *o = clean;
    while (*p) {
        size_t len = *p < 0x80         ? 1
                     : (*p >> 5) == 6  ? 2
                     : (*p >> 4) == 14 ? 3
                     : (*p >> 3) == 30 ? 4
                                       : 0;
        size_t k = 1;
        while (len > 1 && k < len && (p[k] & 0xC0) == 0x80)
            k++;
        int ok = len > 0 && k == len; /* complete, and then cp is safe to read */
        if (ok && len > 1) {
            uint32_t cp = len == 2   ? (uint32_t)(p[0] & 0x1F)
                          : len == 3 ? (uint32_t)(p[0] & 0x0F)
                                     : (uint32_t)(p[0] & 0x07);
            for (size_t m = 1; m < len; m++)
                cp = cp << 6 | (uint32_t)(p[m] & 0x3F);
            /* no overlong forms, no surrogates, nothing past U+10FFFF */
            ok = (len == 2 && cp >= 0x80) ||
                 (len == 3 && cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF)) ||
                 (len == 4 && cp >= 0x10000 && cp <= 0x10FFFF);
        }
        if (ok) {
            memcpy(o, p, len);
            o += len;
            p += len;
        } else {
            memcpy(o, "\xEF\xBF\xBD", 3);
            o += 3;
            p += 1;
        }
    }
    *o = '\0';
    j = json_string(clean);
    free(clean);
    return j;
}

char *crm_json_text(json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return s;
}

/* ------------------------------------------------------------- metrics */

static void count_response(crm_adapter_t *a, const char *op, const crm_curl_resp_t *resp)
{
    char labels[96];
    if (resp->status > 0)
        snprintf(labels, sizeof labels, "op=\"%s\",status=\"%d\"", op, resp->status);
    else
        snprintf(labels, sizeof labels, "op=\"%s\",status=\"error\"", op);
    cmn_metric_t *m = cmn_metrics_counter("crm_requests_total",
                                          "CRM HTTP requests by operation and status", labels);
    if (m)
        cmn_metric_add(m, 1);
    snprintf(labels, sizeof labels, "op=\"%s\"", op);
    m = cmn_metrics_histogram("crm_request_ms", "CRM HTTP request duration", labels);
    if (m)
        cmn_metric_observe(m, resp->total_ms);
    if (resp->status == 429) {
        a->rate_limited++;
        m = cmn_metrics_counter("crm_rate_limited_total", "CRM 429 answers (rate limited)", NULL);
        if (m)
            cmn_metric_add(m, 1);
    }
}

/* A 401 / 403 is not about the request but about the account: everything
 * sent will be refused until an admin fixes the credentials. Tracked here,
 * so callers hold their work (and /readyz fails) instead of dropping it. */
static void note_auth(crm_adapter_t *a, int status)
{
    int refused = status == 401 || status == 403;
    if (refused) {
        if (a->m_auth_failures)
            cmn_metric_add(a->m_auth_failures, 1);
        if (!a->auth_failing)
            LOG_ERROR("%s: the CRM refuses our credentials (HTTP %d); holding all writes "
                      "until it takes them again",
                      a->desc->name, status);
    } else if (status >= 200 && status < 300 && a->auth_failing) {
        LOG_INFO("%s: the CRM takes our credentials again", a->desc->name);
    } else {
        return;
    }
    a->auth_failing = refused;
    if (a->m_auth_failing)
        cmn_metric_set(a->m_auth_failing, refused);
}

/* ------------------------------------------------------------------ ops */

static void http_free(crm_http_t *h)
{
    if (!h)
        return;
    free(h->url);
    free(h->body);
    free(h->content_type);
    free(h);
}

static void op_free(crm_op_t *op)
{
    if (op->timer)
        event_free(op->timer);
    http_free(op->http);
    free(op->marker);
    free(op->job_ids);
    free(op->data);
    if (op->res) {
        free(op->res->tickets);
        free(op->res->items);
        free(op->res->field_ids);
        free(op->res->changes);
        free(op->res->cursor);
    }
    free(op->res);
    free(op);
}

/* The lists an op of this kind fills (tkt_crm.h): made for it alone. */
static int res_lists(tkt_crm_result_t *res, const char *name)
{
    static const char *const with_tickets[] = {"find_by_external_id", "contact_tickets"};
    static const char *const with_items[] = {"ticket_statuses", "bulk_update", "await_jobs",
                                             "bulk_create"};
    for (size_t i = 0; i < 2; i++)
        if (strcmp(name, with_tickets[i]) == 0 &&
            !(res->tickets = calloc(TKT_CRM_MAX_LIST, sizeof *res->tickets)))
            return -1;
    for (size_t i = 0; i < 4; i++)
        if (strcmp(name, with_items[i]) == 0 &&
            !(res->items = calloc(TKT_CRM_MAX_BULK, sizeof *res->items)))
            return -1;
    if (strcmp(name, "list_fields") == 0 &&
        !(res->field_ids = calloc(TKT_CRM_MAX_FIELDS, sizeof *res->field_ids)))
        return -1;
    if (strcmp(name, "contacts_changed") == 0 &&
        !(res->changes = calloc(TKT_CRM_MAX_CHANGES, sizeof *res->changes)))
        return -1;
    return 0;
}

static void op_unlink(crm_adapter_t *a, crm_op_t *op)
{
    if (op->prev)
        op->prev->next = op->next;
    else
        a->ops = op->next;
    if (op->next)
        op->next->prev = op->prev;
    op->prev = op->next = NULL;
    a->n_ops--;
}

void crm_op_finish(crm_op_t *op)
{
    crm_adapter_t *a = op->adapter;
    op_unlink(a, op);
    if (op->res->error[0] && !op->res->ok)
        LOG_DEBUG("%s %s failed: %s", a->desc->name, op->name, op->res->error);
    op->cb(op->ctx, op->res);
    op_free(op);
}

void crm_op_succeed(crm_op_t *op, const crm_curl_resp_t *resp)
{
    op->res->ok = 1;
    op->res->http_status = resp->status;
    crm_op_finish(op);
}

/* ok = 0 with the error text. */
static void set_error(crm_op_t *op, const char *fmt, va_list ap)
{
    vsnprintf(op->res->error, sizeof op->res->error, fmt, ap);
    op->res->ok = 0;
}

void crm_op_fail(crm_op_t *op, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_error(op, fmt, ap);
    va_end(ap);
    crm_op_finish(op);
}

void crm_op_finish_later(crm_op_t *op)
{
    op->timer_fn = NULL;
    struct timeval tv = {0, 0};
    if (evtimer_add(op->timer, &tv) != 0)
        crm_op_finish(op);
}

void crm_op_fail_later(crm_op_t *op, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_error(op, fmt, ap);
    va_end(ap);
    crm_op_finish_later(op);
}

void crm_op_refuse(crm_op_t *op, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_error(op, fmt, ap);
    va_end(ap);
    op->res->refused = 1;
    crm_op_finish_later(op);
}

void crm_op_after(crm_op_t *op, int ms, crm_timer_fn fn)
{
    op->timer_fn = fn;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    if (evtimer_add(op->timer, &tv) != 0)
        crm_op_fail(op, "cannot arm a timer");
}

void crm_op_verify_create(crm_op_t *op)
{
    op->verify_create = 1;
}

static void on_op_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    crm_op_t *op = arg;
    if (op->timer_fn)
        op->timer_fn(op);
    else
        crm_op_finish(op);
}

static void shut_down_cb(tkt_crm_cb cb, void *ctx, const char *why)
{
    static tkt_crm_result_t res; /* loop thread only; read-only for the callee */
    memset(&res, 0, sizeof res);
    crm_copy_str(res.error, sizeof res.error, why);
    cb(ctx, &res);
}

crm_op_t *crm_op_new(crm_adapter_t *a, const char *name, tkt_prio_t prio, tkt_crm_cb cb, void *ctx)
{
    if (a->closing) {
        shut_down_cb(cb, ctx, "shut down");
        return NULL;
    }
    crm_op_t *op = calloc(1, sizeof *op);
    if (op)
        op->res = calloc(1, sizeof *op->res);
    if (op && op->res && res_lists(op->res, name) == 0)
        op->timer = evtimer_new(a->base, on_op_timer, op);
    if (!op || !op->res || !op->timer) {
        if (op)
            op_free(op);
        shut_down_cb(cb, ctx, "out of memory");
        return NULL;
    }
    op->adapter = a;
    op->name = name;
    op->prio = prio;
    op->cb = cb;
    op->ctx = ctx;
    op->next = a->ops;
    if (a->ops)
        a->ops->prev = op;
    a->ops = op;
    a->n_ops++;
    return op;
}

/* ----------------------------------------------------------- requests */

static void on_curl_done(void *ctx, const crm_curl_resp_t *resp);

static int default_send(crm_adapter_t *a, const crm_curl_req_t *req, crm_curl_done_fn cb, void *ctx)
{
    crm_curl_req_t r = *req;
    r.user = a->user;
    r.password = a->password;
    return crm_curl_request(a->curl, &r, cb, ctx);
}

#define CRM_MAX_HEADERS 12

static void curl_start(crm_adapter_t *a, crm_http_t *h, const char *method, const char *url,
                       const char *body)
{
    const char *headers[CRM_MAX_HEADERS + 2];
    size_t n = 0;
    for (const char *const *p = a->desc->headers; p && *p && n < CRM_MAX_HEADERS; p++)
        headers[n++] = *p;
    if (body)
        headers[n++] = h->content_type ? h->content_type : "Content-Type: application/json";
    else if (h->content_type && !h->verifying) /* without a body: a header line of its own */
        headers[n++] = h->content_type;
    headers[n] = NULL;
    crm_curl_req_t req = {
        .method = method,
        .url = url,
        .headers = headers,
        .body = body,
        .body_len = body ? strlen(body) : 0,
        .timeout_ms = a->timeout_ms,
    };
    a->requests_sent++;
    int rc = a->desc->send ? a->desc->send(a->impl, &req, on_curl_done, h)
                           : default_send(a, &req, on_curl_done, h);
    if (rc != 0) {
        crm_curl_resp_t fail = {.status = 0,
                                .retry_after_s = -1,
                                .rate_remaining = -1,
                                .rate_reset_s = -1,
                                .body = "",
                                .error = "cannot start the request"};
        on_curl_done(h, &fail);
    }
}

/* How long a request waited for the limiter before its first attempt, by
 * priority (crm_queue_wait_ms): the pop/IVR lane's queueing is what a
 * plan's budget costs a caller or an agent (issue 12). */
static void observe_queueing(const crm_http_t *h)
{
    static const char *const names[TKT_PRIO__COUNT] = {"interactive", "create", "enrich"};
    char labels[32];
    snprintf(labels, sizeof labels, "prio=\"%s\"", names[h->op->prio % TKT_PRIO__COUNT]);
    cmn_metric_t *m = cmn_metrics_histogram(
        "crm_queue_wait_ms", "Time CRM requests waited for the rate limiter, by priority", labels);
    if (m)
        cmn_metric_observe(m, (double)(cmn_time_mono_ms() - h->queued_ms));
}

/* The limiter lets the request go (first attempt or a retry). */
static void on_rl_send(void *owner, crm_rl_req_t *rlreq, void *req_ctx, int attempt)
{
    (void)rlreq;
    crm_adapter_t *a = owner;
    crm_http_t *h = req_ctx;
    if (attempt == 1 && h->queued_ms) {
        observe_queueing(h);
        h->queued_ms = 0;
    }
    if (attempt > 1)
        LOG_DEBUG("%s %s %s: attempt %d", a->desc->name, h->method, h->metric_op, attempt);
    h->verifying = 0;
    if (h->verify_pending && a->desc->verify_url) {
        char *url = a->desc->verify_url(a->impl, h->op);
        if (url) {
            h->verifying = 1;
            curl_start(a, h, "GET", url, NULL);
            free(url);
            return;
        }
    }
    curl_start(a, h, h->method, h->url, h->body);
}

/* An interactive request still queued when its caller (the IVR) stopped
 * waiting: never sent, so the budget goes to what someone still waits for. */
static void on_rl_expire(void *owner, void *req_ctx)
{
    (void)owner;
    crm_http_t *h = req_ctx;
    observe_queueing(h); /* it waited its whole deadline */
    h->rlreq = NULL;
    crm_op_fail(h->op, "not sent: the caller's deadline passed");
}

/* Queued requests dropped by crm_rl_free() during shutdown. */
static void on_rl_drop(void *owner, void *req_ctx)
{
    (void)owner;
    crm_http_t *h = req_ctx;
    h->rlreq = NULL;
    crm_op_fail(h->op, "shut down");
}

static crm_rl_kind_t classify(crm_adapter_t *a, const crm_curl_resp_t *resp, int64_t *delay_ms)
{
    *delay_ms = resp->retry_after_s >= 0 ? (int64_t)resp->retry_after_s * 1000 : -1;
    if (resp->status == 0)
        return CRM_RL_RETRY;
    if (resp->status == 429)
        return a->desc->classify_429 ? a->desc->classify_429(a->impl, resp) : CRM_RL_PAUSE;
    if (resp->status >= 500)
        return CRM_RL_RETRY;
    return CRM_RL_DONE;
}

/* Logs what the limiter decided for an answer that will be tried again. */
static void log_again(crm_adapter_t *a, const crm_http_t *h, const crm_curl_resp_t *resp,
                      crm_rl_kind_t kind, int64_t delay)
{
    if (kind == CRM_RL_RETRY)
        LOG_WARN("%s %s %s: %s%d, will retry", a->desc->name, h->method, h->metric_op,
                 resp->status ? "HTTP " : "network error ",
                 resp->status ? resp->status : resp->curl_code);
    else if (kind != CRM_RL_DONE)
        LOG_INFO("%s %s %s: 429, waiting %lld ms (%s)", a->desc->name, h->method, h->metric_op,
                 (long long)delay, kind == CRM_RL_PAUSE ? "all requests" : "this request");
}

/* The answer to a verification GET: found (the lost create was applied:
 * *found is what its step gets), or not (send the create again, at once
 * and without counting a try). */
static int verify_answer(crm_adapter_t *a, crm_http_t *h, const crm_curl_resp_t *resp,
                         json_t **found)
{
    if (a->desc->verify_found && a->desc->verify_found(a->impl, resp, found) && *found) {
        LOG_INFO("%s %s: external_id %s already created, not re-sent", a->desc->name, h->metric_op,
                 h->op->external_id);
        return 1;
    }
    return 0;
}

static void on_curl_done(void *ctx, const crm_curl_resp_t *resp)
{
    crm_http_t *h = ctx;
    crm_op_t *op = h->op;
    crm_adapter_t *a = op->adapter;
    if (a->closing || !a->rl) { /* cancelled by free() */
        h->rlreq = NULL;
        crm_op_fail(op, "shut down");
        return;
    }
    count_response(a, h->verifying ? "find_by_external_id" : h->metric_op, resp);
    note_auth(a, resp->status);
    int64_t delay = -1;
    crm_rl_kind_t kind = classify(a, resp, &delay);
    /* A bulk write with no clear answer may have been applied and its job
     * may still run: never sent again blind. The caller waits for the job
     * and checks markers first (items maybe_applied). */
    if (kind == CRM_RL_RETRY && op->n_sent > 0 && !op->job_id[0])
        kind = CRM_RL_DONE;
    json_t *found = NULL;
    int verify_missed = 0;
    if (h->verifying && kind == CRM_RL_DONE && !verify_answer(a, h, resp, &found)) {
        verify_missed = 1;
        kind = CRM_RL_WAIT;
        delay = 0;
    }
    crm_rl_observe(a->rl, resp->rate_remaining, resp->rate_reset_s);
    crm_rl_verdict_t v = crm_rl_complete(a->rl, h->rlreq, kind, delay);
    if (v == CRM_RL_AGAIN) {
        if (kind == CRM_RL_RETRY) {
            a->retries++;
            /* An ambiguous failure of a create: it may have been applied. */
            if (h->body && op->verify_create && op->external_id[0])
                h->verify_pending = 1;
        }
        if (verify_missed)
            h->verify_pending = 0;
        else
            log_again(a, h, resp, kind, delay);
        return;
    }
    h->rlreq = NULL;
    if (v == CRM_RL_EXHAUSTED)
        LOG_WARN("%s %s %s: giving up after retries (%s)", a->desc->name, h->method, h->metric_op,
                 resp->status ? "HTTP error" : resp->error);
    crm_step_fn step = h->step;
    op->http = NULL;
    http_free(h);
    if (found) {
        step(op,
             &(crm_curl_resp_t){
                 .status = 200, .retry_after_s = -1, .rate_remaining = -1, .body = "", .error = ""},
             found, 0);
        json_decref(found);
        return;
    }
    json_t *j = resp->body_len ? json_loadb(resp->body, resp->body_len, 0, NULL) : NULL;
    step(op, resp, j, v == CRM_RL_EXHAUSTED);
    json_decref(j);
}

void crm_http_start_ct(crm_op_t *op, const char *metric_op, const char *method, char *url,
                       char *body, const char *content_type_header, int allow_empty,
                       crm_step_fn step)
{
    crm_adapter_t *a = op->adapter;
    crm_http_t *h = NULL;
    /* A write without a body means its builder failed (out of memory). */
    int body_missing = !body && strcmp(method, "GET") != 0 && !allow_empty;
    if (!url || body_missing)
        goto oom;
    h = calloc(1, sizeof *h);
    if (!h)
        goto oom;
    if (content_type_header && !(h->content_type = strdup(content_type_header)))
        goto oom;
    h->op = op;
    h->metric_op = metric_op;
    h->method = method;
    h->url = url;
    h->body = body;
    h->step = step;
    h->queued_ms = cmn_time_mono_ms();
    op->http = h;
    h->rlreq = crm_rl_submit(a->rl, op->prio, h);
    if (!h->rlreq)
        crm_op_fail_later(op, "cannot queue the request");
    return;
oom:
    free(h);
    free(url);
    free(body);
    crm_op_fail_later(op, "out of memory");
}

void crm_http_start(crm_op_t *op, const char *metric_op, const char *method, char *url, char *body,
                    crm_step_fn step)
{
    crm_http_start_ct(op, metric_op, method, url, body, NULL, 0, step);
}

/* --------------------------------------------------------- the layer */

crm_adapter_t *crm_adapter_new(struct event_base *base, const crm_desc_t *desc, void *impl,
                               const tkt_crm_ops_t *ops, const crm_limits_t *limits, char *errstr,
                               size_t errsz)
{
    if (errsz)
        errstr[0] = '\0';
    crm_adapter_t *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(errstr, errsz, "%s: out of memory", desc->name);
        return NULL;
    }
    a->crm.ops = ops;
    a->desc = desc;
    a->impl = impl;
    a->base = base;
    a->timeout_ms = limits->timeout_ms > 0 ? limits->timeout_ms : 10000;
    a->curl = crm_curl_new(base);
    if (!a->curl) {
        snprintf(errstr, errsz, "%s: cannot set up libcurl", desc->name);
        goto err;
    }
    crm_rl_cfg_t rc = {
        .limit_per_min = limits->requests_per_window,
        .safety = limits->safety,
        .window_ms = limits->window_ms,
        .max_in_flight = limits->max_in_flight,
        .max_tries = limits->max_tries,
        .backoff_base_ms = limits->backoff_base_ms,
        .backoff_max_ms = limits->backoff_max_ms,
        .send = on_rl_send,
        .owner = a,
        .expire = on_rl_expire,
    };
    rc.ttl_ms[TKT_PRIO_INTERACTIVE] = limits->interactive_ttl_ms;
    rc.max_queued[TKT_PRIO_INTERACTIVE] = limits->interactive_max_queued;
    a->rl = crm_rl_new(base, &rc);
    if (!a->rl) {
        snprintf(errstr, errsz, "%s: invalid rate limit settings", desc->name);
        goto err;
    }
    a->m_auth_failures = cmn_metrics_counter(
        "ticket_crm_auth_failures_total",
        "CRM answers refusing our credentials (401/403): alert, the token needs fixing", NULL);
    a->m_auth_failing = cmn_metrics_gauge(
        "ticket_crm_auth_failing", "1 while the CRM refuses our credentials (writes held)", NULL);
    return a;
err:
    crm_curl_free(a->curl);
    free(a);
    return NULL;
}

void crm_adapter_free(crm_adapter_t *a)
{
    if (!a)
        return;
    a->closing = 1;
    /* Queued / waiting requests: their ops end now ... */
    crm_rl_t *rl = a->rl;
    a->rl = NULL;
    crm_rl_free(rl, on_rl_drop);
    /* ... requests in flight: cancelled, on_curl_done ends their ops ... */
    crm_curl_free(a->curl);
    a->curl = NULL;
    /* ... and ops between requests (job polls, deferred failures). */
    while (a->ops) {
        crm_op_t *op = a->ops;
        if (op->timer_fn || !op->res->error[0])
            snprintf(op->res->error, sizeof op->res->error, "shut down");
        op->res->ok = 0;
        crm_op_finish(op);
    }
    free(a->user);
    free(a->password);
    free(a);
}

int crm_adapter_set_basic_auth(crm_adapter_t *a, const char *user, const char *password)
{
    free(a->user);
    free(a->password);
    a->user = user ? strdup(user) : NULL;
    a->password = password ? strdup(password) : NULL;
    return (user && !a->user) || (password && !a->password) ? -1 : 0;
}

tkt_crm_t *crm_adapter_crm(crm_adapter_t *a)
{
    return &a->crm;
}

crm_adapter_t *crm_adapter_of(const tkt_crm_t *crm)
{
    /* crm is the first member: a tkt_crm_t * from crm_adapter_crm is one. */
    return (crm_adapter_t *)(void *)crm;
}

void *crm_adapter_impl(const crm_adapter_t *a)
{
    return a->impl;
}

struct event_base *crm_adapter_base(const crm_adapter_t *a)
{
    return a->base;
}

crm_curl_t *crm_adapter_curl(const crm_adapter_t *a)
{
    return a->curl;
}

size_t crm_adapter_pending(const crm_adapter_t *a)
{
    return a->n_ops;
}

int crm_adapter_auth_failing(const crm_adapter_t *a)
{
    return a->auth_failing;
}

size_t crm_pending(const tkt_crm_t *crm)
{
    return crm_adapter_pending(crm_adapter_of(crm));
}

int crm_auth_failing(const tkt_crm_t *crm)
{
    return crm_adapter_auth_failing(crm_adapter_of(crm));
}

size_t crm_adapter_requests_sent(const crm_adapter_t *a)
{
    return a ? a->requests_sent : 0;
}

size_t crm_adapter_rate_limited(const crm_adapter_t *a)
{
    return a ? a->rate_limited : 0;
}

size_t crm_adapter_retries(const crm_adapter_t *a)
{
    return a ? a->retries : 0;
}

size_t crm_adapter_budget(const crm_adapter_t *a)
{
    crm_rl_stats_t st;
    crm_rl_stats(a->rl, &st);
    return st.budget;
}
