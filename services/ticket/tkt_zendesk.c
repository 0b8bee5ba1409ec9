/* Zendesk Support adapter. Each CRM call is an "op" that owns a heap
 * result and runs one HTTP request at a time ("http"); a step function
 * gets each final answer and either finishes the op (one callback) or
 * starts the next request (show_ticket -> audits, update_many -> job
 * polls, comments -> next page). Every HTTP request goes through the rate
 * limiter with the op's priority; the limiter decides when it is sent and
 * whether a failed attempt is tried again. */
#include "tkt_zendesk.h"
#include "cmn_log.h"
#include "cmn_metrics.h"
#include "cmn_time.h"
#include "tkt_curl.h"
#include "tkt_ratelimit.h"

#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ZD_MAX_PAGES 50 /* comments / audits pages followed */
#define ZD_USER_LEN 320

typedef struct zd zd_t;
typedef struct zd_op zd_op_t;
typedef struct zd_http zd_http_t;

/* A final answer for the op's current request. json: the parsed body or
 * NULL; exhausted: retries ran out (resp is the last failure). */
typedef void (*zd_step_fn)(zd_op_t *op, const tkt_curl_resp_t *resp, json_t *json, int exhausted);

struct zd_http {
    zd_op_t *op;
    const char *metric_op;
    const char *method;
    char *url;
    char *body; /* JSON or NULL */
    zd_step_fn step;
    tkt_rl_req_t *rlreq;
    /* create_ticket after an ambiguous failure: look the external_id up
     * before POSTing again (the first POST may have been applied). */
    int verify_external_id;
    int verifying;
    int64_t queued_ms; /* submitted to the limiter: its queueing is measured */
};

struct zd_op {
    zd_t *zd;
    const char *name;
    tkt_prio_t prio;
    tkt_crm_cb cb;
    void *ctx;
    tkt_crm_result_t *res;
    zd_http_t *http;
    struct event *timer; /* job polls, deferred finish */
    int timer_finishes;  /* the timer finishes the op (instead of polling) */
    /* op-specific state */
    char ticket_id[TKT_ID_MAX];
    char *marker;
    char *job_ids; /* await_jobs: the jobs still to finish, comma-separated */
    char external_id[TKT_EXTERNAL_ID_MAX];
    int pages;
    char job_id[80];
    int64_t job_started_ms;
    int poll_delay_ms;
    tkt_crm_job_fn on_job;                 /* bulk: told the job id at once */
    size_t n_sent;                         /* bulk: items in the batch */
    int creating;                          /* bulk: create_many (results by index) */
    unsigned short slot[TKT_CRM_MAX_BULK]; /* bulk: batch index -> ops index */
    zd_op_t *prev, *next;
};

struct zd {
    tkt_crm_t crm; /* first: a tkt_crm_t * is a zd_t * */
    struct event_base *base;
    tkt_curl_t *curl;
    tkt_rl_t *rl;
    char *base_url;
    char *user; /* "{email}/token" */
    char *token;
    tkt_zendesk_cfg_t cfg;
    zd_op_t *ops;
    size_t n_ops;
    size_t requests_sent, rate_limited, retries;
    int closing;
    /* The last answer that said anything about our credentials was a 401 or
     * 403 (an expired token, a suspended account); cleared by the next 2xx. */
    int auth_failing;
    cmn_metric_t *m_auth_failures, *m_auth_failing;
};

/* ----------------------------------------------------------- small helpers */

/* Copies with truncation (error texts and ids may be cut, never overrun). */
static void copy_str(char *dst, size_t dstsz, const char *src)
{
    size_t n = src ? strlen(src) : 0;
    if (n >= dstsz)
        n = dstsz - 1;
    memcpy(dst, src ? src : "", n);
    dst[n] = '\0';
}

/* snprintf into a fixed buffer where cutting the text is fine. */
static void fmt_trunc(char *dst, size_t dstsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fmt_trunc(char *dst, size_t dstsz, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, dstsz, fmt, ap);
    va_end(ap);
}

/* A JSON string of text that came from calls and telephony and may not
 * be valid UTF-8 (jansson refuses such text): invalid bytes become U+FFFD
 * rather than the whole field silently going missing. */
static json_t *jstr(const char *s)
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

/* Zendesk ids are positive integers: digits only, fits in int64. */
static int parse_id(const char *s, json_int_t *out)
{
    if (!s || !*s || strlen(s) > 18)
        return -1;
    for (const char *p = s; *p; p++)
        if (!isdigit((unsigned char)*p))
            return -1;
    *out = (json_int_t)strtoll(s, NULL, 10);
    return *out > 0 ? 0 : -1;
}

static int is_id(const char *s)
{
    json_int_t v;
    return parse_id(s, &v) == 0;
}

/* A JSON id member (integer, or a numeric string) as text; "" when null. */
static void json_id(json_t *v, char *out, size_t outsz)
{
    if (json_is_integer(v))
        snprintf(out, outsz, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_string(v))
        copy_str(out, outsz, json_string_value(v));
    else
        out[0] = '\0';
}

static int64_t json_time(json_t *v)
{
    int64_t ms = 0;
    if (json_is_string(v) && cmn_time_parse(json_string_value(v), &ms) == 0)
        return ms;
    return 0;
}

/* RFC 3986 percent-encoding of everything but unreserved characters: a
 * "+" in a phone number must arrive as %2B, not as a space. */
static char *url_escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *out = malloc(n * 3 + 1);
    if (!out)
        return NULL;
    char *o = out;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            *o++ = (char)*p;
        } else {
            *o++ = '%';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
        }
    }
    *o = '\0';
    return out;
}

static char *str_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *str_printf(const char *fmt, ...)
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

/* Zendesk's error envelope: {"error": "...", "description": "...",
 * "details": {field: [{"description": ...}]}} into one line. */
static void describe_error(const tkt_curl_resp_t *resp, json_t *j, int exhausted, char *out,
                           size_t outsz)
{
    const char *prefix = exhausted ? "gave up after retries: " : "";
    if (resp->status == 0) {
        snprintf(out, outsz, "%snetwork: %s", prefix, resp->error);
        return;
    }
    json_t *err = json_object_get(j, "error");
    const char *e = json_is_string(err) ? json_string_value(err) : NULL;
    if (json_is_object(err)) /* some endpoints nest it: {"error":{"title","message"}} */
        e = json_string_value(json_object_get(err, "title"));
    const char *d = json_string_value(json_object_get(j, "description"));
    char details[160] = "";
    json_t *det = json_object_get(j, "details");
    if (json_is_object(det)) {
        const char *key;
        json_t *arr;
        json_object_foreach(det, key, arr)
        {
            json_t *first = json_array_get(arr, 0);
            const char *dd = json_string_value(json_object_get(first, "description"));
            if (dd) {
                copy_str(details, sizeof details, dd);
                break;
            }
        }
    }
    snprintf(out, outsz, "%sHTTP %d%s%s%s%s%s%s", prefix, resp->status, e ? ": " : "", e ? e : "",
             d ? " - " : "", d ? d : "", details[0] ? " - " : "", details);
}

static int is_closed_refusal(int status, const char *body)
{
    return status == 422 && body && strstr(body, "closed prevents ticket update") != NULL;
}

/* ------------------------------------------------------------- metrics */

static void count_response(zd_t *zd, const char *op, const tkt_curl_resp_t *resp)
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
        zd->rate_limited++;
        m = cmn_metrics_counter("crm_rate_limited_total", "CRM 429 answers (rate limited)", NULL);
        if (m)
            cmn_metric_add(m, 1);
    }
}

/* A 401 / 403 is not about the request but about the account: everything
 * sent will be refused until an admin fixes the token. Tracked here, so
 * callers hold their work (and /readyz fails) instead of dropping it. */
static void note_auth(zd_t *zd, int status)
{
    int refused = status == 401 || status == 403;
    if (refused) {
        if (zd->m_auth_failures)
            cmn_metric_add(zd->m_auth_failures, 1);
        if (!zd->auth_failing)
            LOG_ERROR("zendesk: the CRM refuses our credentials (HTTP %d); holding all writes "
                      "until it takes them again",
                      status);
    } else if (status >= 200 && status < 300 && zd->auth_failing) {
        LOG_INFO("zendesk: the CRM takes our credentials again");
    } else {
        return;
    }
    zd->auth_failing = refused;
    if (zd->m_auth_failing)
        cmn_metric_set(zd->m_auth_failing, refused);
}

/* ------------------------------------------------------------------ ops */

static void http_free(zd_http_t *h)
{
    if (!h)
        return;
    free(h->url);
    free(h->body);
    free(h);
}

static void op_free(zd_op_t *op)
{
    if (op->timer)
        event_free(op->timer);
    http_free(op->http);
    free(op->marker);
    free(op->job_ids);
    if (op->res) {
        free(op->res->tickets);
        free(op->res->items);
        free(op->res->field_ids);
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
    return 0;
}

static void op_unlink(zd_t *zd, zd_op_t *op)
{
    if (op->prev)
        op->prev->next = op->next;
    else
        zd->ops = op->next;
    if (op->next)
        op->next->prev = op->prev;
    op->prev = op->next = NULL;
    zd->n_ops--;
}

/* The op's one callback; frees the op. */
static void op_finish(zd_op_t *op)
{
    zd_t *zd = op->zd;
    op_unlink(zd, op);
    if (op->res->error[0] && !op->res->ok)
        LOG_DEBUG("zendesk %s failed: %s", op->name, op->res->error);
    op->cb(op->ctx, op->res);
    op_free(op);
}

/* The answer was what the op wanted: report it with its HTTP status. */
static void op_succeed(zd_op_t *op, const tkt_curl_resp_t *resp)
{
    op->res->ok = 1;
    op->res->http_status = resp->status;
    op_finish(op);
}

static void op_fail(zd_op_t *op, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void op_fail(zd_op_t *op, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(op->res->error, sizeof op->res->error, fmt, ap);
    va_end(ap);
    op->res->ok = 0;
    op_finish(op);
}

static void on_op_timer(evutil_socket_t fd, short what, void *arg);

/* Callers are promised a callback from the loop, never from inside the
 * call; an op refused at once (bad arguments) finishes on a 0 s timer. */
static void op_fail_later(zd_op_t *op, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void op_fail_later(zd_op_t *op, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(op->res->error, sizeof op->res->error, fmt, ap);
    va_end(ap);
    op->res->ok = 0;
    op->timer_finishes = 1;
    struct timeval tv = {0, 0};
    if (evtimer_add(op->timer, &tv) != 0)
        op_finish(op);
}

static void finish_later(zd_op_t *op)
{
    op->timer_finishes = 1;
    struct timeval tv = {0, 0};
    if (evtimer_add(op->timer, &tv) != 0)
        op_finish(op);
}

static void shut_down_cb(tkt_crm_cb cb, void *ctx)
{
    static tkt_crm_result_t res; /* loop thread only; read-only for the callee */
    memset(&res, 0, sizeof res);
    copy_str(res.error, sizeof res.error, "shut down");
    cb(ctx, &res);
}

/* A new op, or NULL when the adapter is shutting down or out of memory
 * (the callback has then run with the error). */
static zd_op_t *op_new(zd_t *zd, const char *name, tkt_prio_t prio, tkt_crm_cb cb, void *ctx)
{
    if (zd->closing) {
        shut_down_cb(cb, ctx);
        return NULL;
    }
    zd_op_t *op = calloc(1, sizeof *op);
    if (op)
        op->res = calloc(1, sizeof *op->res);
    if (op && op->res && res_lists(op->res, name) == 0)
        op->timer = evtimer_new(zd->base, on_op_timer, op);
    if (!op || !op->res || !op->timer) {
        if (op)
            op_free(op);
        static tkt_crm_result_t oom;
        memset(&oom, 0, sizeof oom);
        copy_str(oom.error, sizeof oom.error, "out of memory");
        cb(ctx, &oom);
        return NULL;
    }
    op->zd = zd;
    op->name = name;
    op->prio = prio;
    op->cb = cb;
    op->ctx = ctx;
    op->next = zd->ops;
    if (zd->ops)
        zd->ops->prev = op;
    zd->ops = op;
    zd->n_ops++;
    return op;
}

/* ----------------------------------------------------------- requests */

static void on_curl_done(void *ctx, const tkt_curl_resp_t *resp);

static void curl_start(zd_t *zd, zd_http_t *h, const char *method, const char *url,
                       const char *body)
{
    const char *headers[3] = {"Accept: application/json", NULL, NULL};
    if (body)
        headers[1] = "Content-Type: application/json";
    tkt_curl_req_t req = {
        .method = method,
        .url = url,
        .headers = headers,
        .body = body,
        .body_len = body ? strlen(body) : 0,
        .timeout_ms = zd->cfg.timeout_ms,
        .user = zd->user,
        .password = zd->token,
    };
    zd->requests_sent++;
    if (tkt_curl_request(zd->curl, &req, on_curl_done, h) != 0) {
        tkt_curl_resp_t fail = {.status = 0,
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
static void observe_queueing(const zd_http_t *h)
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
static void on_rl_send(void *owner, tkt_rl_req_t *rlreq, void *req_ctx, int attempt)
{
    zd_t *zd = owner;
    zd_http_t *h = req_ctx;
    if (attempt == 1 && h->queued_ms) {
        observe_queueing(h);
        h->queued_ms = 0;
    }
    if (attempt > 1)
        LOG_DEBUG("zendesk %s %s: attempt %d", h->method, h->metric_op, attempt);
    h->verifying = 0;
    if (h->verify_external_id) {
        char *esc = url_escape(h->op->external_id);
        char *url =
            esc ? str_printf("%s/api/v2/tickets.json?external_id=%s", zd->base_url, esc) : NULL;
        free(esc);
        if (url) {
            h->verifying = 1;
            curl_start(zd, h, "GET", url, NULL);
            free(url);
            return;
        }
    }
    curl_start(zd, h, h->method, h->url, h->body);
}

/* An interactive request still queued when its caller (the IVR) stopped
 * waiting: never sent, so the budget goes to what someone still waits for. */
static void on_rl_expire(void *owner, void *req_ctx)
{
    zd_http_t *h = req_ctx;
    observe_queueing(h); /* it waited its whole deadline */
    h->rlreq = NULL;
    op_fail(h->op, "not sent: the caller's deadline passed");
}

/* Queued requests dropped by tkt_rl_free() during shutdown. */
static void on_rl_drop(void *owner, void *req_ctx)
{
    zd_http_t *h = req_ctx;
    h->rlreq = NULL;
    op_fail(h->op, "shut down");
}

static tkt_rl_kind_t classify(zd_t *zd, const tkt_curl_resp_t *resp, int64_t *delay_ms)
{
    *delay_ms = resp->retry_after_s >= 0 ? (int64_t)resp->retry_after_s * 1000 : -1;
    if (resp->status == 0)
        return TKT_RL_RETRY;
    if (resp->status == 429) {
        /* The account budget is spent when the remaining count says 0 (or
         * is absent): everything pauses. A 429 with budget left is a limit
         * of this endpoint or ticket (Update Ticket 100/min, 30 updates per
         * ticket per 10 min, TooManyJobs): only this request waits. */
        return resp->rate_remaining > 0 ? TKT_RL_WAIT : TKT_RL_PAUSE;
    }
    if (resp->status >= 500)
        return TKT_RL_RETRY;
    return TKT_RL_DONE;
}

/* Did a create_ticket verification find the ticket the lost POST made? */
static int verified_existing(zd_http_t *h, const tkt_curl_resp_t *resp, json_t **found)
{
    if (resp->status != 200)
        return 0;
    json_t *j = json_loadb(resp->body, resp->body_len, 0, NULL);
    json_t *tickets = json_object_get(j, "tickets");
    if (json_array_size(tickets) > 0) {
        *found = json_pack("{s:O}", "ticket", json_array_get(tickets, 0));
        json_decref(j);
        return *found != NULL;
    }
    json_decref(j);
    return 0;
}

static void on_curl_done(void *ctx, const tkt_curl_resp_t *resp)
{
    zd_http_t *h = ctx;
    zd_op_t *op = h->op;
    zd_t *zd = op->zd;
    if (zd->closing || !zd->rl) { /* cancelled by free() */
        h->rlreq = NULL;
        op_fail(op, "shut down");
        return;
    }
    count_response(zd, h->verifying ? "find_by_external_id" : h->metric_op, resp);
    note_auth(zd, resp->status);
    int64_t delay = -1;
    tkt_rl_kind_t kind = classify(zd, resp, &delay);
    /* A bulk write with no clear answer may have been applied and its job
     * may still run: never sent again blind. The caller waits for the job
     * and checks markers first (items maybe_applied). */
    if (kind == TKT_RL_RETRY && op->n_sent > 0 && !op->job_id[0]) /* update/create_many */
        kind = TKT_RL_DONE;
    json_t *found = NULL;
    int verify_missed = 0;
    if (h->verifying && kind == TKT_RL_DONE) {
        if (verified_existing(h, resp, &found)) {
            LOG_INFO("zendesk create_ticket: external_id %s already created, not re-sent",
                     op->external_id);
        } else {
            /* Not there: POST again, at once and without counting a try. */
            verify_missed = 1;
            kind = TKT_RL_WAIT;
            delay = 0;
        }
    }
    tkt_rl_observe(zd->rl, resp->rate_remaining, resp->rate_reset_s);
    tkt_rl_verdict_t v = tkt_rl_complete(zd->rl, h->rlreq, kind, delay);
    if (v == TKT_RL_AGAIN) {
        if (kind == TKT_RL_RETRY) {
            zd->retries++;
            LOG_WARN("zendesk %s %s: %s%d, will retry", h->method, h->metric_op,
                     resp->status ? "HTTP " : "network error ",
                     resp->status ? resp->status : resp->curl_code);
            /* An ambiguous failure of a create: it may have been applied. */
            if (h->body && strcmp(h->metric_op, "create_ticket") == 0 && op->external_id[0])
                h->verify_external_id = 1;
        } else if (kind != TKT_RL_DONE && !verify_missed) {
            LOG_INFO("zendesk %s %s: 429, waiting %lld ms (%s)", h->method, h->metric_op,
                     (long long)delay, kind == TKT_RL_PAUSE ? "all requests" : "this request");
        }
        if (verify_missed)
            h->verify_external_id = 0;
        return;
    }
    h->rlreq = NULL;
    if (v == TKT_RL_EXHAUSTED)
        LOG_WARN("zendesk %s %s: giving up after retries (%s)", h->method, h->metric_op,
                 resp->status ? "HTTP error" : resp->error);
    zd_step_fn step = h->step;
    op->http = NULL;
    http_free(h);
    if (found) {
        step(op,
             &(tkt_curl_resp_t){
                 .status = 200, .retry_after_s = -1, .rate_remaining = -1, .body = "", .error = ""},
             found, 0);
        json_decref(found);
        return;
    }
    json_t *j = resp->body_len ? json_loadb(resp->body, resp->body_len, 0, NULL) : NULL;
    step(op, resp, j, v == TKT_RL_EXHAUSTED);
    json_decref(j);
}

/* Starts the op's next request. url and body are taken over (freed here). */
static void http_start(zd_op_t *op, const char *metric_op, const char *method, char *url,
                       char *body, zd_step_fn step)
{
    zd_t *zd = op->zd;
    zd_http_t *h = NULL;
    /* Every POST / PUT but the Talk display carries a JSON body; none here
     * means it could not be built. */
    int body_missing =
        !body && strcmp(method, "GET") != 0 && strcmp(metric_op, "display_ticket") != 0;
    if (!url || body_missing)
        goto oom;
    h = calloc(1, sizeof *h);
    if (!h)
        goto oom;
    h->op = op;
    h->metric_op = metric_op;
    h->method = method;
    h->url = url;
    h->body = body;
    h->step = step;
    h->queued_ms = cmn_time_mono_ms();
    op->http = h;
    h->rlreq = tkt_rl_submit(zd->rl, op->prio, h);
    if (!h->rlreq)
        op_fail_later(op, "cannot queue the request");
    return;
oom:
    free(url);
    free(body);
    op_fail_later(op, "out of memory");
}

static char *json_text(json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return s;
}

/* ---------------------------------------------------- parsing answers */

static void parse_ticket(json_t *t, tkt_crm_ticket_t *out)
{
    memset(out, 0, sizeof *out);
    json_id(json_object_get(t, "id"), out->id, sizeof out->id);
    out->status = tkt_status_parse(json_string_value(json_object_get(t, "status")));
    copy_str(out->subject, sizeof out->subject, json_string_value(json_object_get(t, "subject")));
    json_id(json_object_get(t, "assignee_id"), out->assignee_id, sizeof out->assignee_id);
    json_id(json_object_get(t, "requester_id"), out->requester_id, sizeof out->requester_id);
    copy_str(out->external_id, sizeof out->external_id,
             json_string_value(json_object_get(t, "external_id")));
    out->created_at_ms = json_time(json_object_get(t, "created_at"));
    out->updated_at_ms = json_time(json_object_get(t, "updated_at"));
}

static void parse_contact(json_t *u, tkt_crm_contact_t *out)
{
    memset(out, 0, sizeof *out);
    json_id(json_object_get(u, "id"), out->id, sizeof out->id);
    copy_str(out->name, sizeof out->name, json_string_value(json_object_get(u, "name")));
    copy_str(out->email, sizeof out->email, json_string_value(json_object_get(u, "email")));
    /* Zendesk gives an organization_id only; its name would take another
     * request (and another rate-limit slot) per pop. */
    out->created_at_ms = json_time(json_object_get(u, "created_at"));
}

static void parse_ticket_list(json_t *arr, tkt_crm_result_t *res)
{
    size_t i;
    json_t *t;
    json_array_foreach(arr, i, t)
    {
        if (res->n_tickets >= TKT_CRM_MAX_LIST)
            break;
        parse_ticket(t, &res->tickets[res->n_tickets++]);
    }
}

static int has_tag(json_t *t, const char *tag)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(t, "tags"), i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), tag) == 0)
            return 1;
    }
    return 0;
}

/* Generic failure: fills the result from the answer and finishes. */
static void fail_from(zd_op_t *op, const tkt_curl_resp_t *resp, json_t *j, int exhausted)
{
    tkt_crm_result_t *res = op->res;
    res->ok = 0;
    res->http_status = resp->status;
    res->not_found = resp->status == 404;
    res->closed = is_closed_refusal(resp->status, resp->body);
    describe_error(resp, j, exhausted, res->error, sizeof res->error);
    if (resp->status == 401 || resp->status == 403)
        LOG_ERROR("zendesk %s: %s (check the e-mail / API token)", op->name, res->error);
    op_finish(op);
}

/* "next_page" of an offset-paginated list, as a URL on our base: we never
 * send credentials anywhere but base_url. */
static char *next_page_url(zd_t *zd, json_t *j)
{
    const char *next = json_string_value(json_object_get(j, "next_page"));
    if (!next || !*next)
        return NULL;
    size_t bl = strlen(zd->base_url);
    if (strncmp(next, zd->base_url, bl) == 0 && next[bl] == '/')
        return strdup(next);
    const char *api = strstr(next, "/api/v2/");
    return api ? str_printf("%s%s", zd->base_url, api) : NULL;
}

/* ------------------------------------------------------- find_contacts */

static void step_find_contacts(zd_op_t *op, const tkt_curl_resp_t *resp, json_t *j, int exh)
{
    if (resp->status != 200) {
        fail_from(op, resp, j, exh);
        return;
    }
    tkt_crm_result_t *res = op->res;
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(j, "results"), i, r)
    {
        const char *type = json_string_value(json_object_get(r, "result_type"));
        if (type && strcmp(type, "user") != 0)
            continue;
        if (res->n_contacts >= TKT_CRM_MAX_LIST)
            break;
        parse_contact(r, &res->contacts[res->n_contacts++]);
    }
    op_succeed(op, resp);
}

static void zd_find_contacts(tkt_crm_t *crm, const char *phone, tkt_prio_t prio, tkt_crm_cb cb,
                             void *ctx)
{
    zd_t *zd = (zd_t *)crm;
    zd_op_t *op = op_new(zd, "find_contacts", prio, cb, ctx);
    if (!op)
        return;
    char digits[TKT_PHONE_MAX * 2] = "";
    size_t n = 0;
    for (const char *p = phone ? phone : ""; *p && n + 1 < sizeof digits; p++)
        if (isdigit((unsigned char)*p))
            digits[n++] = *p;
    digits[n] = '\0';
    if (n == 0) {
        op_fail_later(op, "no digits in phone number");
        return;
    }
    /* Digits only with a leading "*": matches however the number is stored
     * ("+1 (555) 123-4567", "15551234567", ...). */
    char query[96];
    snprintf(query, sizeof query, "type:user role:end-user phone:*%s", digits);
    char *esc = url_escape(query);
    /* Newest first: with more matches than fit, R-C4's "most recently
     * created" contact is among those returned. */
    char *url =
        esc ? str_printf("%s/api/v2/search.json?query=%s&sort_by=created_at&sort_order=desc",
                         zd->base_url, esc)
            : NULL;
    free(esc);
    http_start(op, "find_contacts", "GET", url, NULL, step_find_contacts);
}

/* ------------------------------------------------------ create_contact */

static void step_user(zd_op_t *op, const tkt_curl_resp_t *resp, json_t *j, int exh)
{
    if (resp->status != 200 && resp->status != 201) {
        fail_from(op, resp, j, exh);
        return;
    }
    json_t *u = json_object_get(j, "user");
    if (!json_is_object(u)) {
        op_fail(op, "HTTP %d without a user", resp->status);
        return;
    }
    parse_contact(u, &op->res->contacts[0]);
    op->res->n_contacts = 1;
    op_succeed(op, resp);
}

static void zd_create_contact(tkt_crm_t *crm, const char *phone, const char *name,
                              const char *external_id, tkt_crm_cb cb, void *ctx)
{
    zd_t *zd = (zd_t *)crm;
    zd_op_t *op = op_new(zd, "create_contact", TKT_PRIO_CREATE, cb, ctx);
    if (!op)
        return;
    if (!phone || !*phone) {
        op_fail_later(op, "no phone number");
        return;
    }
    /* Zendesk requires a name; a caller we know nothing of is named by number. */
    json_t *user = json_object();
    json_object_set_new(user, "name", jstr(name && *name ? name : phone));
    json_object_set_new(user, "role", json_string("end-user"));
    json_object_set_new(user, "phone", jstr(phone));
    /* Unique per account in Zendesk: a second POST of the same contact is
     * refused (422) rather than making a duplicate. */
    if (external_id && *external_id)
        json_object_set_new(user, "external_id", jstr(external_id));
    json_t *body = json_pack("{s:o}", "user", user);
    http_start(op, "create_contact", "POST", str_printf("%s/api/v2/users.json", zd->base_url),
               json_text(body), step_user);
}

static void step_users(zd_op_t *op, const tkt_curl_resp_t *resp, json_t *j, int exh)
{
    if (resp->status != 200) {
        fail_from(op, resp, j, exh);
        return;
    }
    size_t i;
    json_t *u;
    json_array_foreach(json_object_get(j, "users"), i, u)
    {
        if (op->res->n_contacts >= TKT_CRM_MAX_LIST)
            break;
        parse_contact(u, &op->res->contacts[op->res->n_contacts++]);
    }
    op_succeed(op, resp);
}

/* ------------------------------------------------------- ticket bodies */

static int put_fields(json_t *t, const tkt_op_t *o, char *err, size_t errsz)
{
    if (!o->n_fields)
        return 0;
    json_t *arr = json_array();
    json_object_set_new(t, "custom_fields", arr);
    for (size_t i = 0; i < o->n_fields && i < TKT_MAX_FIELDS; i++) {
        json_int_t fid;
        if (parse_id(o->fields[i].field_id, &fid) != 0) {
            snprintf(err, errsz, "custom field id \"%s\" is not a Zendesk field id",
                     o->fields[i].field_id);
            return -1;
        }
        json_array_append_new(
            arr, json_pack("{s:I, s:o}", "id", fid, "value", jstr(o->fields[i].value)));
    }
    return 0;
}

static json_t *tag_array(const tkt_op_t *o)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < o->n_tags && i < TKT_MAX_TAGS; i++)
        if (o->tags[i][0])
            json_array_append_new(arr, jstr(o->tags[i]));
    return arr;
}

static void put_comment(json_t *t, const tkt_op_t *o, const char *fallback)
{
    const char *body = o->body[0] ? o->body : fallback;
    if (!body || !*body)
        return;
    /* public always explicit: Zendesk otherwise copies the first comment's. */
    json_object_set_new(
        t, "comment",
        json_pack("{s:o, s:b}", "body", jstr(body), "public", o->public_comment ? 1 : 0));
}

/* The "ticket" object of a create (create=1) or an update / comment. */
static json_t *ticket_object(const tkt_op_t *o, int create, char *err, size_t errsz)
{
    json_t *t = json_object();
    json_int_t id;
    if (create) {
        if (o->subject[0])
            json_object_set_new(t, "subject", jstr(o->subject));
        /* A ticket needs a first comment; the subject stands in for an empty one. */
        put_comment(t, o, o->subject);
        if (o->requester_id[0]) {
            if (parse_id(o->requester_id, &id) != 0) {
                snprintf(err, errsz, "requester id \"%s\" is not a Zendesk user id",
                         o->requester_id);
                goto err;
            }
            json_object_set_new(t, "requester_id", json_integer(id));
        }
        if (o->external_id[0])
            json_object_set_new(t, "external_id", jstr(o->external_id));
        if (o->n_tags)
            json_object_set_new(t, "tags", tag_array(o));
    } else {
        if (o->kind == TKT_OP_COMMENT && !o->body[0]) {
            snprintf(err, errsz, "comment without a body");
            goto err;
        }
        put_comment(t, o, NULL);
        /* R-C4: an agent picked another of the contacts with the number. */
        if (o->requester_id[0]) {
            if (parse_id(o->requester_id, &id) != 0) {
                snprintf(err, errsz, "requester id \"%s\" is not a Zendesk user id",
                         o->requester_id);
                goto err;
            }
            json_object_set_new(t, "requester_id", json_integer(id));
        }
        /* Tags on an update add to the ticket's, never replace them. */
        if (o->n_tags)
            json_object_set_new(t, "additional_tags", tag_array(o));
    }
    if (create || o->kind == TKT_OP_UPDATE) {
        const char *st = tkt_status_name(o->status);
        if (st)
            json_object_set_new(t, "status", json_string(st));
        if (o->assignee_id[0]) {
            if (parse_id(o->assignee_id, &id) != 0) {
                snprintf(err, errsz, "assignee id \"%s\" is not a Zendesk user id", o->assignee_id);
                goto err;
            }
            json_object_set_new(t, "assignee_id", json_integer(id));
        } else if (o->set_assignee && !create) {
            json_object_set_new(t, "assignee_id", json_null());
        }
        if (put_fields(t, o, err, errsz) != 0)
            goto err;
    }
    return t;
err:
    json_decref(t);
    return NULL;
}

/* ------------------------------------------------------- create_ticket */

static void step_ticket(zd_op_t *op, const tkt_curl_resp_t *resp, json_t *j, int exh)
{
    if (resp->status != 200 && resp->status != 201) {
        fail_from(op, resp, j, exh);
        return;
    }
    json_t *t = json_object_get(j, "ticket");
    if (!json_is_object(t)) {
        op_fail(op, "HTTP %d without a ticket", resp->status);
        return;
    }
    parse_ticket(t, &op->res->ticket);
    op_succeed(op, resp);
}

static void zd_create_ticket(tkt_crm_t *crm, const tkt_op_t *o, tkt_crm_cb cb, void *ctx)
{
    zd_t *zd = (zd_t *)crm;
    zd_op_t *op = op_new(zd, "create_ticket", TKT_PRIO_CREATE, cb, ctx);
    if (!op)
        return;
    char err[160] = "";
    json_t *t = o && o->kind == TKT_OP_CREATE_TICKET ? ticket_object(o, 1, err, sizeof err) : NULL;
    if (!t) {
        op_fail_later(op, "%s", err[0] ? err : "not a CREATE_TICKET op");
        return;
    }
    copy_str(op->external_id, sizeof op->external_id, o->external_id);
    http_start(op, "create_ticket", "POST", str_printf("%s/api/v2/tickets.json", zd->base_url),
               json_text(json_pack("{s:o}", "ticket", t)), step_ticket);
}

/* ------------------------------------------------- ticket_statuses */

static void step_statuses(zd_op_t *op, const tkt_curl_resp_t *resp, json_t *j, int exh)
{
    tkt_crm_result_t *res = op->res;
    size_t i;
    json_t *t;
    if (resp->status != 200) {
        fail_from(op, resp, j, exh);
        return;
    }
    json_array_foreach(json_object_get(j, "tickets"), i, t)
    {
        char id[TKT_ID_MAX];
        json_id(json_object_get(t, "id"), id, sizeof id);
        for (size_t k = 0; k < res->n_items; k++) {
            tkt_crm_item_t *it = &res->items[k];
            if (strcmp(it->ticket_id, id) != 0)
                continue;
            it->ok = 1;
            it->status = tkt_status_parse(json_string_value(json_object_get(t, "status")));
            it->closed = it->status == TKT_ST_SOLVED || it->status == TKT_ST_CLOSED;
        }
    }
    for (size_t k = 0; k < res->n_items; k++) /* not returned: deleted, never to be written */
        if (!res->items[k].ok)
            res->items[k].closed = 1;
    op_succeed(op, resp);
}

static void zd_ticket_statuses(tkt_crm_t *crm, const char *const *ids, size_t n, tkt_crm_cb cb,
                               void *ctx)
{
    zd_t *zd = (zd_t *)crm;
    zd_op_t *op = op_new(zd, "ticket_statuses", TKT_PRIO_ENRICH, cb, ctx);
    char list[TKT_CRM_MAX_BULK * 24] = "";
    size_t len = 0;
    if (!op)
        return;
    if (n == 0 || n > TKT_CRM_MAX_BULK) {
        op_fail_later(op, "ticket_statuses takes 1 to %d ids", TKT_CRM_MAX_BULK);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (!is_id(ids[i]) || len + strlen(ids[i]) + 2 >= sizeof list) {
            op_fail_later(op, "ticket id \"%s\" is not a Zendesk id", ids[i] ? ids[i] : "");
            return;
        }
        len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? "," : "", ids[i]);
        copy_str(op->res->items[i].ticket_id, sizeof op->res->items[i].ticket_id, ids[i]);
    }
    op->res->n_items = n;
    http_start(op, "ticket_statuses", "GET",
               str_printf("%s/api/v2/tickets/show_many.json?ids=%s", zd->base_url, list), NULL,
               step_statuses);
}

/* ------------------------------------------------- find_by_external_id */

static void step_ticket_list(zd_op_t *op, const tkt_curl_resp_t *resp, json_t *j, int exh)
{
    if (resp->status != 200) {
        fail_from(op, resp, j, exh);
        return;
    }
    parse_ticket_list(json_object_get(j, "tickets"), op->res);
    op_succeed(op, resp);
}

/* Recovery of a creation (as urgent as creating): the records whose
 * external id is exactly `external_id`, at `path` (?external_id= takes ids,
 * no search syntax). */
static void get_by_external_id(tkt_crm_t *crm, const char *name, const char *path,
                               const char *external_id, zd_step_fn step, tkt_crm_cb cb, void *ctx)
{
    zd_t *zd = (zd_t *)crm;
    zd_op_t *op = op_new(zd, name, TKT_PRIO_CREATE, cb, ctx);
    if (!op)
        return;
    if (!external_id || !*external_id) {
        op_fail_later(op, "empty external_id");
        return;
    }
    char *esc = url_escape(external_id);
    char *url = esc ? str_printf("%s/api/v2/%s?external_id=%s", zd->base_url, path, esc) : NULL;
    free(esc);
    http_start(op, name, "GET", url, NULL, step);
}

static void zd_find_by_external_id(tkt_crm_t *crm, const char *external_id, tkt_crm_cb cb,
                                   void *ctx)
{
    get_by_external_id(crm, "find_by_external_id", "tickets.json", external_id, step_ticket_list,
                       cb, ctx);
}

/* Search Users by external_id is not served from the lagging search index. */
static void zd_find_contact_by_external_id(tkt_crm_t *crm, const char *external_id, tkt_crm_cb cb,
                                           void *ctx)
{
    get_by_external_id(crm, "find_contact_by_external_id", "users/search.json", external_id,
                       step_users, cb, ctx);
}

/* --------------------------------------------------------- show_ticket */

/* The ticket this audit says it was merged into, or 0. The merge audit's
 * via is {"channel":"merge","source":{"to":{"ticket_id":N},"rel":"merge"}};
 * its comment "... merged into request #N" is the fallback. */
static json_int_t merge_target(json_t *audit)
{
    json_t *via = json_object_get(audit, "via");
    const char *channel = json_string_value(json_object_get(via, "channel"));
    if (!channel || strcmp(channel, "merge") != 0)
        return 0;
    json_t *to = json_object_get(json_object_get(via, "source"), "to");
    json_t *tid = json_object_get(to, "ticket_id");
    if (json_is_integer(tid))
        return json_integer_value(tid);
    size_t i;
    json_t *ev;
    json_array_foreach(json_object_get(audit, "events"), i, ev)
    {
        const char *body = json_string_value(json_object_get(ev, "body"));
        const char *at = body ? strstr(body, "merged into request #") : NULL;
        if (at)
            return (json_int_t)strtoll(at + strlen("merged into request #"), NULL, 10);
    }
    return 0;
}

static void step_audits(zd_op_t *op, const tkt_curl_resp_t *resp, json_t *j, int exh)
{
    if (resp->status != 200) {
        /* The ticket itself was read; say what failed. */
        op->res->ok = 0;
        op->res->http_status = resp->status;
        describe_error(resp, j, exh, op->res->error, sizeof op->res->error);
        op_finish(op);
        return;
    }
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(j, "audits"), i, a)
    {
        json_int_t target = merge_target(a);
        if (target > 0) {
            snprintf(op->res->ticket.merged_into, sizeof op->res->ticket.merged_into,
                     "%" JSON_INTEGER_FORMAT, target);
            op->res->ok = 1;
            op_finish(op);
            return;
        }
    }
    char *next = ++op->pages < ZD_MAX_PAGES ? next_page_url(op->zd, j) : NULL;
    if (next) {
        http_start(op, "ticket_audits", "GET", next, NULL, step_audits);
        return;
    }
    /* Closed by a merge whose audit we cannot find: report the ticket as is. */
    LOG_WARN("zendesk ticket %s: closed_by_merge without a merge audit", op->ticket_id);
    op->res->ok = 1;
    op_finish(op);
}

static void step_show(zd_op_t *op, const tkt_curl_resp_t *resp, json_t *j, int exh)
{
    if (resp->status != 200) {
        fail_from(op, resp, j, exh);
        return;
    }
    json_t *t = json_object_get(j, "ticket");
    if (!json_is_object(t)) {
        op_fail(op, "HTTP 200 without a ticket");
        return;
    }
    parse_ticket(t, &op->res->ticket);
    op->res->http_status = resp->status;
    if (op->res->ticket.status == TKT_ST_CLOSED && has_tag(t, "closed_by_merge")) {
        /* Newest first: the merge is the ticket's last change. */
        http_start(op, "ticket_audits", "GET",
                   str_printf("%s/api/v2/tickets/%s/audits.json?sort_order=desc", op->zd->base_url,
                              op->ticket_id),
                   NULL, step_audits);
        return;
    }
    op->res->ok = 1;
    op_finish(op);
}

static void zd_show_ticket(tkt_crm_t *crm, const char *ticket_id, tkt_prio_t prio, tkt_crm_cb cb,
                           void *ctx)
{
    zd_t *zd = (zd_t *)crm;
    zd_op_t *op = op_new(zd, "show_ticket", prio, cb, ctx);
    if (!op)
        return;
    if (!is_id(ticket_id)) {
        op_fail_later(op, "ticket id \"%s\" is not a Zendesk id", ticket_id ? ticket_id : "");
        return;
    }
    copy_str(op->ticket_id, sizeof op->ticket_id, ticket_id);
    http_start(op, "show_ticket", "GET",
               str_printf("%s/api/v2/tickets/%s.json", zd->base_url, ticket_id), NULL, step_show);
}

/* ------------------------------------------------------- update_ticket */

static void zd_update_ticket(tkt_crm_t *crm, const tkt_op_t *o, tkt_crm_cb cb, void *ctx)
{
    zd_t *zd = (zd_t *)crm;
    zd_op_t *op = op_new(zd, "update_ticket", TKT_PRIO_ENRICH, cb, ctx);
    if (!op)
        return;
    if (!o || (o->kind != TKT_OP_COMMENT && o->kind != TKT_OP_UPDATE)) {
        op_fail_later(op, "not a COMMENT or UPDATE op");
        return;
    }
    if (!is_id(o->ticket_id)) {
        op_fail_later(op, "ticket id \"%s\" is not a Zendesk id", o->ticket_id);
        return;
    }
    char err[160] = "";
    json_t *t = ticket_object(o, 0, err, sizeof err);
    if (!t) {
        op_fail_later(op, "%s", err);
        return;
    }
    copy_str(op->ticket_id, sizeof op->ticket_id, o->ticket_id);
    http_start(op, "update_ticket", "PUT",
               str_printf("%s/api/v2/tickets/%s.json", zd->base_url, o->ticket_id),
               json_text(json_pack("{s:o}", "ticket", t)), step_ticket);
}

/* --------------------------------------------------------- bulk_update */

static void step_job(zd_op_t *op, const tkt_curl_resp_t *resp, json_t *j, int exh);

/* maybe_applied: the request reached Zendesk (or may have) and nothing says
 * whether its job ran: the caller must not send the items again unchecked. */
static void bulk_fail_items(zd_op_t *op, const char *error, int retryable, int maybe_applied)
{
    for (size_t k = 0; k < op->n_sent; k++) {
        tkt_crm_item_t *it = &op->res->items[op->slot[k]];
        it->ok = 0;
        it->retryable = retryable;
        it->maybe_applied = maybe_applied;
        copy_str(it->error, sizeof it->error, error);
    }
}

static void step_jobs(zd_op_t *op, const tkt_curl_resp_t *resp, json_t *j, int exh);

static void poll_job_now(zd_op_t *op)
{
    if (op->job_ids) {
        http_start(op, "job_status", "GET",
                   str_printf("%s/api/v2/job_statuses/show_many.json?ids=%s", op->zd->base_url,
                              op->job_ids),
                   NULL, step_jobs);
        return;
    }
    http_start(op, "job_status", "GET",
               str_printf("%s/api/v2/job_statuses/%s.json", op->zd->base_url, op->job_id), NULL,
               step_job);
}

/* The next read of the op's job (bulk_update) or jobs (await_jobs), with
 * backoff, until job_timeout_ms. */
static void poll_job_later(zd_op_t *op)
{
    zd_t *zd = op->zd;
    int expired = cmn_time_mono_ms() - op->job_started_ms > zd->cfg.job_timeout_ms;
    if (expired && op->job_ids) {
        op_fail(op, "jobs %s still running after %d ms", op->job_ids, zd->cfg.job_timeout_ms);
        return;
    }
    if (expired) {
        /* The job may still run: whether its items were applied is unknown. */
        bulk_fail_items(op, "bulk job did not finish in time", 1, 1);
        op->res->ok = 0;
        snprintf(op->res->error, sizeof op->res->error, "job %s did not finish in %d ms",
                 op->job_id, zd->cfg.job_timeout_ms);
        op_finish(op);
        return;
    }
    struct timeval tv = {op->poll_delay_ms / 1000, (op->poll_delay_ms % 1000) * 1000};
    op->timer_finishes = 0;
    if (evtimer_add(op->timer, &tv) != 0) {
        op_fail(op, "cannot arm the job poll timer");
        return;
    }
    op->poll_delay_ms *= 2;
    if (op->poll_delay_ms > zd->cfg.job_poll_max_ms)
        op->poll_delay_ms = zd->cfg.job_poll_max_ms;
}

/* One result of a finished job onto its item. */
static void job_result(tkt_crm_item_t *it, json_t *r)
{
    json_t *success = json_object_get(r, "success");
    const char *status = json_string_value(json_object_get(r, "status"));
    int ok =
        json_is_true(success) || (!json_is_boolean(success) && status &&
                                  strcmp(status, "Failed") != 0 && !json_object_get(r, "error"));
    it->ok = ok;
    if (ok)
        return;
    const char *error = json_string_value(json_object_get(r, "error"));
    const char *details = json_string_value(json_object_get(r, "details"));
    snprintf(it->error, sizeof it->error, "%s%s%s", error ? error : "Failed",
             details && *details ? ": " : "", details ? details : "");
    it->closed = details && strstr(details, "closed prevents ticket update") != NULL;
    /* The per-ticket update limit: fine again in a later flush. */
    it->retryable = error && (strstr(error, "RateLimit") || strstr(error, "TooMany"));
}

static void bulk_map_results(zd_op_t *op, json_t *results)
{
    tkt_crm_result_t *res = op->res;
    unsigned char seen[TKT_CRM_MAX_BULK] = {0};
    size_t i;
    json_t *r;
    json_array_foreach(results, i, r)
    {
        char id[TKT_ID_MAX];
        json_id(json_object_get(r, "id"), id, sizeof id);
        json_t *jindex = json_object_get(r, "index");
        size_t k = op->n_sent;
        /* By index when it names the same ticket, else by ticket id. */
        if (json_is_integer(jindex) && json_integer_value(jindex) >= 0 &&
            (size_t)json_integer_value(jindex) < op->n_sent &&
            strcmp(res->items[op->slot[json_integer_value(jindex)]].ticket_id, id) == 0)
            k = (size_t)json_integer_value(jindex);
        for (size_t m = 0; k == op->n_sent && m < op->n_sent; m++)
            if (!seen[m] && strcmp(res->items[op->slot[m]].ticket_id, id) == 0)
                k = m;
        if (k == op->n_sent || seen[k])
            continue;
        seen[k] = 1;
        job_result(&res->items[op->slot[k]], r);
    }
    for (size_t k = 0; k < op->n_sent; k++) {
        if (seen[k])
            continue;
        tkt_crm_item_t *it = &res->items[op->slot[k]];
        it->ok = 0;
        it->retryable = 1;
        it->maybe_applied = 1; /* the job ran; whether this item was in it is unknown */
        copy_str(it->error, sizeof it->error, "not in the job's results");
    }
}

/* create_many's results name the created records by the index of the item
 * that made them (CreateResourceResult: index and id; FailedResult: index,
 * error, details). An item with no result: nothing says whether it exists. */
static void create_map_results(zd_op_t *op, json_t *results)
{
    tkt_crm_result_t *res = op->res;
    unsigned char seen[TKT_CRM_MAX_BULK] = {0};
    size_t i;
    json_t *r;
    json_array_foreach(results, i, r)
    {
        json_t *jindex = json_object_get(r, "index");
        if (!json_is_integer(jindex) || json_integer_value(jindex) < 0 ||
            (size_t)json_integer_value(jindex) >= op->n_sent)
            continue;
        size_t k = (size_t)json_integer_value(jindex);
        if (seen[k])
            continue;
        seen[k] = 1;
        tkt_crm_item_t *it = &res->items[op->slot[k]];
        job_result(it, r);
        it->closed = 0;
        if (it->ok)
            json_id(json_object_get(r, "id"), it->ticket_id, sizeof it->ticket_id);
        if (it->ok && !it->ticket_id[0]) {
            it->ok = 0;
            it->maybe_applied = 1;
            copy_str(it->error, sizeof it->error, "created without an id in the job's results");
        }
    }
    for (size_t k = 0; k < op->n_sent; k++) {
        if (seen[k])
            continue;
        tkt_crm_item_t *it = &res->items[op->slot[k]];
        it->ok = 0;
        it->retryable = 1;
        it->maybe_applied = 1;
        copy_str(it->error, sizeof it->error, "not in the job's results");
    }
}

static void step_job(zd_op_t *op, const tkt_curl_resp_t *resp, json_t *j, int exh)
{
    if (resp->status != 200) {
        /* 404: the job status expired or never existed; either way nothing
         * says whether the items were applied. */
        char err[256];
        describe_error(resp, j, exh, err, sizeof err);
        bulk_fail_items(op, err, 1, 1);
        op->res->ok = 0;
        op->res->http_status = resp->status;
        fmt_trunc(op->res->error, sizeof op->res->error, "job %s: %s", op->job_id, err);
        op_finish(op);
        return;
    }
    json_t *js = json_object_get(j, "job_status");
    const char *status = json_string_value(json_object_get(js, "status"));
    if (status && (strcmp(status, "completed") == 0 || strcmp(status, "failed") == 0 ||
                   strcmp(status, "killed") == 0)) {
        if (op->creating)
            create_map_results(op, json_object_get(js, "results"));
        else
            bulk_map_results(op, json_object_get(js, "results"));
        op->res->ok = 1;
        op->res->http_status = resp->status;
        if (strcmp(status, "completed") != 0)
            fmt_trunc(op->res->error, sizeof op->res->error, "job %s %s: %s", op->job_id, status,
                      json_string_value(json_object_get(js, "message"))
                          ? json_string_value(json_object_get(js, "message"))
                          : "");
        op_finish(op);
        return;
    }
    poll_job_later(op);
}

static void step_update_many(zd_op_t *op, const tkt_curl_resp_t *resp, json_t *j, int exh)
{
    if (resp->status != 200) {
        char err[256];
        describe_error(resp, j, exh, err, sizeof err);
        int unclear = resp->status == 0 || resp->status >= 500;
        bulk_fail_items(op, err, unclear, unclear);
        op->res->ok = 0;
        op->res->http_status = resp->status;
        copy_str(op->res->error, sizeof op->res->error, err);
        op_finish(op);
        return;
    }
    json_t *js = json_object_get(j, "job_status");
    const char *id = json_string_value(json_object_get(js, "id"));
    if (!id || !*id || strlen(id) >= sizeof op->job_id) {
        bulk_fail_items(op, "update_many answered without a job id", 1, 1);
        op_fail(op, "update_many answered without a job id");
        return;
    }
    for (const char *p = id; *p; p++)
        if (!isalnum((unsigned char)*p)) {
            bulk_fail_items(op, "unexpected job id", 1, 1);
            op_fail(op, "unexpected job id");
            return;
        }
    copy_str(op->job_id, sizeof op->job_id, id);
    if (op->on_job) /* before the job may run: the caller stores it */
        op->on_job(op->ctx, op->job_id);
    op->job_started_ms = cmn_time_mono_ms();
    op->poll_delay_ms = op->zd->cfg.job_poll_first_ms;
    poll_job_later(op);
}

/* ---------------------------------------------------------- await_jobs */

/* Zendesk's job ids: hex, or "V3-" and hex; nothing that needs escaping. */
static int is_job_id(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n >= sizeof((zd_op_t *)0)->job_id)
        return 0;
    for (const char *p = id; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-')
            return 0;
    return 1;
}

static int job_active(json_t *js)
{
    const char *status = json_string_value(json_object_get(js, "status"));
    return status && (strcmp(status, "queued") == 0 || strcmp(status, "working") == 0);
}

/* A list of job statuses (the account's recent ones, or show_many of ours):
 * done when none is queued or working, else the active ones are read again.
 * A job absent from show_many is gone: long finished. */
static void step_jobs(zd_op_t *op, const tkt_curl_resp_t *resp, json_t *j, int exh)
{
    if (resp->status != 200) {
        fail_from(op, resp, j, exh);
        return;
    }
    char *ids = NULL;
    size_t len = 0, i;
    json_t *js;
    json_array_foreach(json_object_get(j, "job_statuses"), i, js)
    {
        const char *id = json_string_value(json_object_get(js, "id"));
        if (!job_active(js) || !is_job_id(id))
            continue;
        char *more = realloc(ids, len + strlen(id) + 2);
        if (!more) {
            free(ids);
            op_fail(op, "out of memory");
            return;
        }
        ids = more;
        len += (size_t)sprintf(ids + len, "%s%s", len ? "," : "", id);
    }
    free(op->job_ids);
    op->job_ids = ids;
    if (!ids) {
        op_succeed(op, resp);
        return;
    }
    poll_job_later(op);
}

static void zd_await_jobs(tkt_crm_t *crm, const char *const *ids, size_t n, tkt_crm_cb cb,
                          void *ctx)
{
    zd_t *zd = (zd_t *)crm;
    zd_op_t *op = op_new(zd, "await_jobs", TKT_PRIO_ENRICH, cb, ctx);
    if (!op)
        return;
    op->job_started_ms = cmn_time_mono_ms();
    op->poll_delay_ms = zd->cfg.job_poll_first_ms;
    if (n == 0) {
        /* Ids unknown (the answer that named them was lost): the account's
         * recent jobs, newest first; ours, if it is still to run, is among
         * the queued or working ones (at most 30 per account). */
        http_start(op, "job_status", "GET", str_printf("%s/api/v2/job_statuses.json", zd->base_url),
                   NULL, step_jobs);
        return;
    }
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += strlen(ids[i]) + 1;
    op->job_ids = malloc(len + 1);
    if (!op->job_ids) {
        op_fail_later(op, "out of memory");
        return;
    }
    op->job_ids[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (!is_job_id(ids[i])) {
            op_fail_later(op, "unexpected job id");
            return;
        }
        strcat(strcat(op->job_ids, i ? "," : ""), ids[i]);
    }
    poll_job_now(op);
}

static void zd_bulk_update(tkt_crm_t *crm, const tkt_op_t *ops, size_t n, tkt_crm_job_fn on_job,
                           tkt_crm_cb cb, void *ctx)
{
    zd_t *zd = (zd_t *)crm;
    zd_op_t *op = op_new(zd, "bulk_update", TKT_PRIO_ENRICH, cb, ctx);
    if (!op)
        return;
    op->on_job = on_job;
    if (n == 0 || n > TKT_CRM_MAX_BULK || !ops) {
        op_fail_later(op, "bulk_update takes 1 to %d ops, not %zu", TKT_CRM_MAX_BULK, n);
        return;
    }
    tkt_crm_result_t *res = op->res;
    json_t *tickets = json_array();
    res->n_items = n;
    for (size_t i = 0; i < n; i++) {
        tkt_crm_item_t *it = &res->items[i];
        copy_str(it->ticket_id, sizeof it->ticket_id, ops[i].ticket_id);
        char err[160] = "";
        json_int_t id;
        json_t *t = NULL;
        if (ops[i].kind != TKT_OP_COMMENT && ops[i].kind != TKT_OP_UPDATE)
            snprintf(err, sizeof err, "not a COMMENT or UPDATE op");
        else if (parse_id(ops[i].ticket_id, &id) != 0)
            snprintf(err, sizeof err, "ticket id \"%s\" is not a Zendesk id", ops[i].ticket_id);
        else
            t = ticket_object(&ops[i], 0, err, sizeof err);
        if (!t) {
            /* Refused here, the rest of the batch still goes. */
            copy_str(it->error, sizeof it->error, err);
            continue;
        }
        json_object_set_new(t, "id", json_integer(id));
        json_array_append_new(tickets, t);
        op->slot[op->n_sent++] = (unsigned short)i;
    }
    if (op->n_sent == 0) {
        json_decref(tickets);
        res->ok = 1; /* nothing to send; every item says why */
        {
            finish_later(op);
            return;
        }
    }
    /* The batch form: one object per ticket, each with its own changes
     * (the ?ids= form would apply the same change to all). */
    http_start(op, "bulk_update", "PUT",
               str_printf("%s/api/v2/tickets/update_many.json", zd->base_url),
               json_text(json_pack("{s:o}", "tickets", tickets)), step_update_many);
}

/* ---------------------------------------------------------- bulk_create */

/* One create_many item: the same ticket object create_ticket sends, or the
 * same user create_contact sends. NULL with err set when it cannot be sent. */
static json_t *create_item(const tkt_op_t *o, tkt_op_kind_t kind, char *err, size_t errsz)
{
    if (o->kind != kind) {
        snprintf(err, errsz, "a bulk creation takes one kind of op");
        return NULL;
    }
    if (kind == TKT_OP_CREATE_TICKET)
        return ticket_object(o, 1, err, errsz);
    if (!o->phone[0]) {
        snprintf(err, errsz, "no phone number");
        return NULL;
    }
    json_t *user = json_object();
    json_object_set_new(user, "name", jstr(o->name[0] ? o->name : o->phone));
    json_object_set_new(user, "role", json_string("end-user"));
    json_object_set_new(user, "phone", jstr(o->phone));
    /* Unique per account: a retried bulk creation fails that item alone
     * instead of making a second contact. */
    if (o->external_id[0])
        json_object_set_new(user, "external_id", jstr(o->external_id));
    return user;
}

/* Zendesk: POST tickets/create_many or users/create_many (up to 100), a
 * background job like update_many; its results give each item's new id. */
static void zd_bulk_create(tkt_crm_t *crm, const tkt_op_t *ops, size_t n, tkt_crm_job_fn on_job,
                           tkt_crm_cb cb, void *ctx)
{
    zd_t *zd = (zd_t *)crm;
    zd_op_t *op = op_new(zd, "bulk_create", TKT_PRIO_CREATE, cb, ctx);
    if (!op)
        return;
    op->on_job = on_job;
    op->creating = 1;
    if (n == 0 || n > TKT_CRM_MAX_BULK || !ops) {
        op_fail_later(op, "bulk_create takes 1 to %d ops, not %zu", TKT_CRM_MAX_BULK, n);
        return;
    }
    tkt_op_kind_t kind = ops[0].kind;
    int tickets = kind == TKT_OP_CREATE_TICKET;
    json_t *arr = json_array();
    op->res->n_items = n;
    for (size_t i = 0; i < n; i++) {
        char err[160] = "";
        json_t *item = create_item(&ops[i], kind, err, sizeof err);
        if (!item) { /* refused here, the rest still goes */
            copy_str(op->res->items[i].error, sizeof op->res->items[i].error, err);
            continue;
        }
        json_array_append_new(arr, item);
        op->slot[op->n_sent++] = (unsigned short)i;
    }
    if (op->n_sent == 0) {
        json_decref(arr);
        op->res->ok = 1; /* nothing to send; every item says why */
        finish_later(op);
        return;
    }
    http_start(
        op, tickets ? "create_many_tickets" : "create_many_users", "POST",
        str_printf("%s/api/v2/%s/create_many.json", zd->base_url, tickets ? "tickets" : "users"),
        json_text(json_pack("{s:o}", tickets ? "tickets" : "users", arr)), step_update_many);
}

/* ---------------------------------------------------------- has_marker */

static int comment_has(json_t *c, const char *marker)
{
    static const char *const keys[] = {"body", "plain_body", "html_body"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        const char *s = json_string_value(json_object_get(c, keys[i]));
        if (s && strstr(s, marker))
            return 1;
    }
    return 0;
}

static void step_comments(zd_op_t *op, const tkt_curl_resp_t *resp, json_t *j, int exh)
{
    if (resp->status != 200) {
        fail_from(op, resp, j, exh);
        return;
    }
    op->res->http_status = resp->status;
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(j, "comments"), i, c)
    {
        if (comment_has(c, op->marker)) {
            op->res->marker_found = 1;
            op->res->ok = 1;
            op_finish(op);
            return;
        }
    }
    char *next = ++op->pages < ZD_MAX_PAGES ? next_page_url(op->zd, j) : NULL;
    if (next) {
        http_start(op, "has_marker", "GET", next, NULL, step_comments);
        return;
    }
    op->res->ok = 1;
    op_finish(op);
}

static void zd_has_marker(tkt_crm_t *crm, const char *ticket_id, const char *marker, tkt_crm_cb cb,
                          void *ctx)
{
    zd_t *zd = (zd_t *)crm;
    zd_op_t *op = op_new(zd, "has_marker", TKT_PRIO_ENRICH, cb, ctx);
    if (!op)
        return;
    if (!is_id(ticket_id)) {
        op_fail_later(op, "ticket id \"%s\" is not a Zendesk id", ticket_id ? ticket_id : "");
        return;
    }
    if (!marker || !*marker) {
        op_fail_later(op, "empty marker");
        return;
    }
    op->marker = strdup(marker);
    if (!op->marker) {
        op_fail_later(op, "out of memory");
        return;
    }
    copy_str(op->ticket_id, sizeof op->ticket_id, ticket_id);
    /* Newest first: a marker we are looking for was written recently. */
    http_start(
        op, "has_marker", "GET",
        str_printf("%s/api/v2/tickets/%s/comments.json?sort_order=desc", zd->base_url, ticket_id),
        NULL, step_comments);
}

/* ----------------------------------------------------- contact_tickets */

static void zd_contact_tickets(tkt_crm_t *crm, const char *contact_id, tkt_prio_t prio,
                               tkt_crm_cb cb, void *ctx)
{
    zd_t *zd = (zd_t *)crm;
    zd_op_t *op = op_new(zd, "contact_tickets", prio, cb, ctx);
    if (!op)
        return;
    if (!is_id(contact_id)) {
        op_fail_later(op, "contact id \"%s\" is not a Zendesk id", contact_id ? contact_id : "");
        return;
    }
    http_start(op, "contact_tickets", "GET",
               str_printf("%s/api/v2/users/%s/tickets/requested.json"
                          "?sort_by=created_at&sort_order=desc&per_page=%d",
                          zd->base_url, contact_id, TKT_CRM_MAX_LIST),
               NULL, step_ticket_list);
}

/* ------------------------------------------------------ list_fields */

static void step_fields(zd_op_t *op, const tkt_curl_resp_t *resp, json_t *j, int exh)
{
    size_t i;
    json_t *f;
    if (resp->status != 200) {
        fail_from(op, resp, j, exh);
        return;
    }
    json_array_foreach(json_object_get(j, "ticket_fields"), i, f)
    {
        if (op->res->n_field_ids == TKT_CRM_MAX_FIELDS)
            break;
        json_id(json_object_get(f, "id"), op->res->field_ids[op->res->n_field_ids],
                sizeof op->res->field_ids[0]);
        op->res->n_field_ids++;
    }
    op_succeed(op, resp);
}

static void zd_list_fields(tkt_crm_t *crm, tkt_crm_cb cb, void *ctx)
{
    zd_t *zd = (zd_t *)crm;
    zd_op_t *op = op_new(zd, "list_fields", TKT_PRIO_ENRICH, cb, ctx);
    if (!op)
        return;
    http_start(op, "list_fields", "GET",
               str_printf("%s/api/v2/ticket_fields.json?per_page=100", zd->base_url), NULL,
               step_fields);
}

/* ------------------------------------------------------ display_ticket */

static void step_display(zd_op_t *op, const tkt_curl_resp_t *resp, json_t *j, int exh)
{
    if (resp->status != 200) {
        fail_from(op, resp, j, exh);
        return;
    }
    op_succeed(op, resp);
}

static void zd_display_ticket(tkt_crm_t *crm, const char *agent_id, const char *ticket_id,
                              tkt_crm_cb cb, void *ctx)
{
    zd_t *zd = (zd_t *)crm;
    zd_op_t *op = op_new(zd, "display_ticket", TKT_PRIO_INTERACTIVE, cb, ctx);
    if (!op)
        return;
    if (!is_id(agent_id) || !is_id(ticket_id)) {
        op_fail_later(op, "agent / ticket id is not a Zendesk id");
        return;
    }
    http_start(op, "display_ticket", "POST",
               str_printf("%s/api/v2/channels/voice/agents/%s/tickets/%s/display.json",
                          zd->base_url, agent_id, ticket_id),
               NULL, step_display);
}

/* --------------------------------------------------------- urls, misc */

static void zd_ticket_url(const tkt_crm_t *crm, const char *ticket_id, char *out, size_t outsz)
{
    const zd_t *zd = (const zd_t *)crm;
    snprintf(out, outsz, "%s/agent/tickets/%s", zd->base_url, ticket_id ? ticket_id : "");
}

static void zd_contact_url(const tkt_crm_t *crm, const char *contact_id, char *out, size_t outsz)
{
    const zd_t *zd = (const zd_t *)crm;
    snprintf(out, outsz, "%s/agent/users/%s", zd->base_url, contact_id ? contact_id : "");
}

static size_t zd_pending(const tkt_crm_t *crm)
{
    return ((const zd_t *)crm)->n_ops;
}

static int zd_auth_failing(const tkt_crm_t *crm)
{
    return ((const zd_t *)crm)->auth_failing;
}

static void on_op_timer(evutil_socket_t fd, short what, void *arg)
{
    zd_op_t *op = arg;
    if (op->timer_finishes)
        op_finish(op);
    else
        poll_job_now(op);
}

static void zd_free(tkt_crm_t *crm)
{
    zd_t *zd = (zd_t *)crm;
    if (!zd)
        return;
    zd->closing = 1;
    /* Queued / waiting requests: their ops end now ... */
    tkt_rl_t *rl = zd->rl;
    zd->rl = NULL;
    tkt_rl_free(rl, on_rl_drop);
    /* ... requests in flight: cancelled, on_curl_done ends their ops ... */
    tkt_curl_free(zd->curl);
    zd->curl = NULL;
    /* ... and ops between requests (job polls, deferred failures). */
    while (zd->ops) {
        zd_op_t *op = zd->ops;
        if (!op->timer_finishes || !op->res->error[0])
            snprintf(op->res->error, sizeof op->res->error, "shut down");
        op->res->ok = 0;
        op_finish(op);
    }
    free(zd->base_url);
    free(zd->user);
    free(zd->token);
    free(zd);
}

/* Zendesk ticket ids are positive integers (int64 in the OpenAPI spec). */
static int zd_valid_ticket_id(const tkt_crm_t *crm, const char *id)
{
    size_t n = 0;
    if (!id || id[0] < '1' || id[0] > '9')
        return 0;
    for (; id[n]; n++)
        if (id[n] < '0' || id[n] > '9')
            return 0;
    return n <= 18; /* stays below INT64_MAX */
}

static const tkt_crm_ops_t zd_ops = {
    .find_contacts = zd_find_contacts,
    .create_contact = zd_create_contact,
    .find_contact_by_external_id = zd_find_contact_by_external_id,
    .create_ticket = zd_create_ticket,
    .find_by_external_id = zd_find_by_external_id,
    .show_ticket = zd_show_ticket,
    .update_ticket = zd_update_ticket,
    .bulk_update = zd_bulk_update,
    .bulk_create = zd_bulk_create,
    .await_jobs = zd_await_jobs,
    .has_marker = zd_has_marker,
    .ticket_statuses = zd_ticket_statuses,
    .contact_tickets = zd_contact_tickets,
    .display_ticket = zd_display_ticket,
    .list_fields = zd_list_fields,
    .valid_ticket_id = zd_valid_ticket_id,
    .ticket_url = zd_ticket_url,
    .contact_url = zd_contact_url,
    .pending = zd_pending,
    .auth_failing = zd_auth_failing,
    .free = zd_free,
};

tkt_crm_t *tkt_zendesk_new(struct event_base *base, const tkt_zendesk_cfg_t *cfg, char *errstr,
                           size_t errsz)
{
    if (errsz)
        errstr[0] = '\0';
    if (!base || !cfg || !cfg->base_url || !cfg->email || !*cfg->email || !cfg->api_token ||
        !*cfg->api_token) {
        snprintf(errstr, errsz, "zendesk: base_url, email and api_token are required");
        return NULL;
    }
    char why[256];
    if (tkt_curl_url_check(cfg->base_url, cfg->allow_plain_http, why, sizeof why) < 0) {
        snprintf(errstr, errsz, "zendesk: base_url: %s", why);
        return NULL;
    }
    if (strlen(cfg->email) > ZD_USER_LEN || strchr(cfg->email, ':')) {
        snprintf(errstr, errsz, "zendesk: invalid e-mail");
        return NULL;
    }
    zd_t *zd = calloc(1, sizeof *zd);
    if (!zd) {
        snprintf(errstr, errsz, "zendesk: out of memory");
        return NULL;
    }
    zd->crm.ops = &zd_ops;
    zd->base = base;
    zd->cfg = *cfg;
    zd->cfg.base_url = zd->cfg.email = zd->cfg.api_token = NULL; /* copies below */
    if (zd->cfg.timeout_ms <= 0)
        zd->cfg.timeout_ms = 10000;
    if (zd->cfg.job_poll_first_ms <= 0)
        zd->cfg.job_poll_first_ms = 200;
    if (zd->cfg.job_poll_max_ms <= 0)
        zd->cfg.job_poll_max_ms = 2000;
    if (zd->cfg.job_timeout_ms <= 0)
        zd->cfg.job_timeout_ms = 120000;
    zd->base_url = strdup(cfg->base_url);
    zd->user = str_printf("%s/token", cfg->email);
    zd->token = strdup(cfg->api_token);
    if (!zd->base_url || !zd->user || !zd->token)
        goto oom;
    size_t bl = strlen(zd->base_url);
    while (bl > 0 && zd->base_url[bl - 1] == '/')
        zd->base_url[--bl] = '\0';
    zd->curl = tkt_curl_new(base);
    if (!zd->curl) {
        snprintf(errstr, errsz, "zendesk: cannot set up libcurl");
        goto err;
    }
    tkt_rl_cfg_t rc = {
        .limit_per_min = cfg->rate_limit_per_min,
        .safety = cfg->rate_safety,
        .window_ms = cfg->rate_window_ms,
        .max_in_flight = cfg->max_in_flight,
        .max_tries = cfg->max_tries,
        .backoff_base_ms = cfg->backoff_base_ms,
        .backoff_max_ms = cfg->backoff_max_ms,
        .send = on_rl_send,
        .owner = zd,
        .expire = on_rl_expire,
    };
    rc.ttl_ms[TKT_PRIO_INTERACTIVE] = cfg->interactive_ttl_ms;
    rc.max_queued[TKT_PRIO_INTERACTIVE] = cfg->interactive_max_queued;
    zd->rl = tkt_rl_new(base, &rc);
    if (!zd->rl) {
        snprintf(errstr, errsz, "zendesk: invalid rate limit settings");
        goto err;
    }
    zd->m_auth_failures = cmn_metrics_counter(
        "ticket_crm_auth_failures_total",
        "CRM answers refusing our credentials (401/403): alert, the token needs fixing", NULL);
    zd->m_auth_failing = cmn_metrics_gauge(
        "ticket_crm_auth_failing", "1 while the CRM refuses our credentials (writes held)", NULL);
    tkt_rl_stats_t st;
    tkt_rl_stats(zd->rl, &st);
    LOG_INFO("zendesk adapter for %s: %zu requests per window", zd->base_url, st.budget);
    return &zd->crm;
oom:
    snprintf(errstr, errsz, "zendesk: out of memory");
err:
    tkt_rl_free(zd->rl, NULL);
    tkt_curl_free(zd->curl);
    free(zd->base_url);
    free(zd->user);
    free(zd->token);
    free(zd);
    return NULL;
}

size_t tkt_zendesk_requests_sent(const tkt_crm_t *crm)
{
    return crm ? ((const zd_t *)crm)->requests_sent : 0;
}

size_t tkt_zendesk_rate_limited(const tkt_crm_t *crm)
{
    return crm ? ((const zd_t *)crm)->rate_limited : 0;
}

size_t tkt_zendesk_retries(const tkt_crm_t *crm)
{
    return crm ? ((const zd_t *)crm)->retries : 0;
}
