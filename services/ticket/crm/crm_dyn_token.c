/* Entra ID client-credentials token cache: see crm_dyn_token.h. */
#include "crm_dyn_token.h"

#include "cmn_log.h"
#include "crm_odata.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define HDR_PREFIX "Authorization: Bearer "
#define DEFAULT_MARGIN_S 300
#define DEFAULT_TIMEOUT_MS 10000L
/* A token this close to its expiry is not handed out: it could expire on
 * the way (clock skew, a slow request). */
#define USE_SLACK_MS 5000
/* After a failed background refresh, try again this soon (if still usable). */
#define REFRESH_RETRY_S 30
/* After a failed fetch with no usable token, callers are failed at once with
 * its error for this long, doubling per failure: a token endpoint that is
 * down or refuses us is not asked again for every request. */
#define FAIL_HOLD_MIN_MS 1000
#define FAIL_HOLD_MAX_MS 30000

typedef struct waiter {
    crm_dyn_token_fn cb;
    void *ctx;
    struct waiter *next;
} waiter_t;

struct crm_dyn_token {
    struct event_base *base;
    crm_curl_t *curl;
    char *token_url, *client_id, *client_secret, *scope;
    long margin_s, timeout_ms;
    char header[sizeof HDR_PREFIX + CRM_DYN_TOKEN_MAX]; /* "" = none */
    int64_t expires_ms;                                 /* monotonic */
    int fetching;
    size_t fetches;
    int64_t fail_until_ms, fail_hold_ms; /* see FAIL_HOLD_MIN_MS */
    char last_error[256];
    waiter_t *waiters, **tail;
    struct event *refresh; /* background refresh before expiry */
    struct event *ready;   /* hands a valid token to waiters from the loop */
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------- pure */

int crm_dyn_token_url(const char *authority, const char *tenant, char *out, size_t outsz)
{
    size_t n = tenant ? strlen(tenant) : 0;
    if (!authority || n == 0 || n > 128)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)tenant[i]) && tenant[i] != '-' && tenant[i] != '.')
            return -1;
    size_t al = strlen(authority);
    while (al > 0 && authority[al - 1] == '/')
        al--;
    int w = snprintf(out, outsz, "%.*s/%s/oauth2/v2.0/token", (int)al, authority, tenant);
    return w > 0 && (size_t)w < outsz ? 0 : -1;
}

static int printable(const char *s)
{
    for (; *s; s++)
        if (*s <= 0x20 || *s >= 0x7f)
            return 0;
    return 1;
}

int crm_dyn_token_parse(const char *body, size_t len, char *token, size_t tokensz, long *expires_in,
                        char *errstr, size_t errsz)
{
    json_error_t jerr;
    int rc = -1;
    json_t *root = body ? json_loadb(body, len, 0, &jerr) : NULL;
    if (!json_is_object(root)) {
        snprintf(errstr, errsz, "token response is not a JSON object");
        goto cleanup;
    }
    json_t *err = json_object_get(root, "error");
    if (err) {
        char e[64], d[192];
        if (crm_text_copy(root, "error", e, sizeof e) < 0 ||
            crm_text_copy(root, "error_description", d, sizeof d) < 0)
            snprintf(errstr, errsz, "token refused (unreadable error)");
        else
            snprintf(errstr, errsz, "token refused: %s: %s", e, d);
        goto cleanup;
    }
    json_t *type = json_object_get(root, "token_type");
    json_t *tok = json_object_get(root, "access_token");
    json_t *exp = json_object_get(root, "expires_in");
    if (!json_is_string(type) || strcasecmp(json_string_value(type), "Bearer") != 0) {
        snprintf(errstr, errsz, "token_type is not Bearer");
        goto cleanup;
    }
    if (!json_is_string(tok) || json_string_length(tok) == 0 ||
        json_string_length(tok) >= tokensz || json_string_length(tok) >= CRM_DYN_TOKEN_MAX ||
        strlen(json_string_value(tok)) != json_string_length(tok) ||
        !printable(json_string_value(tok))) {
        snprintf(errstr, errsz, "access_token missing, too long or not printable");
        goto cleanup;
    }
    long long secs = -1;
    if (json_is_integer(exp)) {
        secs = json_integer_value(exp);
    } else if (json_is_string(exp)) { /* the v1 endpoint sends it as a string */
        const char *s = json_string_value(exp);
        char *end = NULL;
        secs = *s && strlen(s) < 8 ? strtoll(s, &end, 10) : -1;
        if (!end || *end)
            secs = -1;
    }
    if (secs < 1 || secs > 86400) {
        snprintf(errstr, errsz, "expires_in missing or out of range");
        goto cleanup;
    }
    memcpy(token, json_string_value(tok), json_string_length(tok) + 1);
    *expires_in = (long)secs;
    rc = 0;
cleanup:
    json_decref(root);
    return rc;
}

/* ---------------------------------------------------------------- cache */

static void flush(crm_dyn_token_t *t, const char *header, const char *error)
{
    /* Detach first: a callback may ask again (and so queue anew). */
    waiter_t *w = t->waiters;
    t->waiters = NULL;
    t->tail = &t->waiters;
    while (w) {
        waiter_t *next = w->next;
        w->cb(w->ctx, header, error);
        free(w);
        w = next;
    }
}

static int usable(const crm_dyn_token_t *t)
{
    return t->header[0] && now_ms() + USE_SLACK_MS < t->expires_ms;
}

static void start_fetch(crm_dyn_token_t *t);

static void arm_refresh(crm_dyn_token_t *t, long in_s)
{
    struct timeval tv = {in_s > 0 ? in_s : 0, 0};
    if (evtimer_add(t->refresh, &tv) != 0)
        LOG_WARN("dynamics token: cannot arm the refresh timer");
}

static void on_token(void *ctx, const crm_curl_resp_t *resp)
{
    crm_dyn_token_t *t = ctx;
    char err[256];
    long expires_in = 0;
    t->fetching = 0;
    char *token = malloc(CRM_DYN_TOKEN_MAX);
    if (!token) {
        flush(t, NULL, "out of memory");
        return;
    }
    if (resp->status == 0) {
        snprintf(err, sizeof err, "token endpoint unreachable: %s", resp->error);
    } else if (crm_dyn_token_parse(resp->body, resp->body_len, token, CRM_DYN_TOKEN_MAX,
                                   &expires_in, err, sizeof err) == 0) {
        if (resp->status != 200) {
            snprintf(err, sizeof err, "token endpoint answered HTTP %d", resp->status);
        } else {
            snprintf(t->header, sizeof t->header, HDR_PREFIX "%s", token);
            t->expires_ms = now_ms() + (int64_t)expires_in * 1000;
            long margin = t->margin_s < expires_in / 2 ? t->margin_s : expires_in / 2;
            arm_refresh(t, expires_in - margin);
            t->fail_until_ms = t->fail_hold_ms = 0;
            explicit_bzero(token, CRM_DYN_TOKEN_MAX);
            free(token);
            flush(t, t->header, NULL);
            return;
        }
    }
    explicit_bzero(token, CRM_DYN_TOKEN_MAX);
    free(token);
    LOG_WARN("dynamics token: %s", err);
    snprintf(t->last_error, sizeof t->last_error, "%s", err);
    if (usable(t)) {
        arm_refresh(t, REFRESH_RETRY_S); /* the old token still works for a while */
    } else {
        t->header[0] = '\0';
        t->fail_hold_ms = t->fail_hold_ms ? t->fail_hold_ms * 2 : FAIL_HOLD_MIN_MS;
        if (t->fail_hold_ms > FAIL_HOLD_MAX_MS)
            t->fail_hold_ms = FAIL_HOLD_MAX_MS;
        t->fail_until_ms = now_ms() + t->fail_hold_ms;
    }
    if (t->waiters)
        flush(t, usable(t) ? t->header : NULL, usable(t) ? NULL : err);
}

static void start_fetch(crm_dyn_token_t *t)
{
    if (t->fetching)
        return;
    /* application/x-www-form-urlencoded; every value percent-encoded. */
    char body[2048];
    size_t len = 0;
    int rc = 0;
    const char *names[] = {"grant_type=", "&client_id=", "&client_secret=", "&scope="};
    const char *values[] = {"client_credentials", t->client_id, t->client_secret, t->scope};
    body[0] = '\0';
    for (size_t i = 0; i < 4 && rc == 0; i++) {
        size_t nl = strlen(names[i]);
        if (len + nl >= sizeof body) {
            rc = -1;
            break;
        }
        memcpy(body + len, names[i], nl + 1);
        len += nl;
        rc = crm_url_encode_append(body, sizeof body, &len, values[i]);
    }
    static const char *const headers[] = {"Content-Type: application/x-www-form-urlencoded",
                                          "Accept: application/json", NULL};
    crm_curl_req_t req = {.method = "POST",
                          .url = t->token_url,
                          .headers = headers,
                          .body = body,
                          .body_len = len,
                          .timeout_ms = t->timeout_ms};
    if (rc != 0 || crm_curl_request(t->curl, &req, on_token, t) != 0) {
        /* Only ever called from the loop (ready / refresh events), so the
         * waiters can be failed here and still not inside their own call. */
        explicit_bzero(body, sizeof body);
        t->header[0] = '\0';
        flush(t, NULL, rc != 0 ? "credentials too long" : "token request refused");
        return;
    }
    explicit_bzero(body, sizeof body); /* the secret: crm_curl has its own copy */
    t->fetching = 1;
    t->fetches++;
}

static void on_refresh(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    start_fetch(arg);
}

static void on_ready(evutil_socket_t fd, short what, void *arg)
{
    crm_dyn_token_t *t = arg;
    (void)fd;
    (void)what;
    if (usable(t))
        flush(t, t->header, NULL);
    else if (now_ms() < t->fail_until_ms)
        flush(t, NULL, t->last_error);
    else
        start_fetch(t);
}

crm_dyn_token_t *crm_dyn_token_new(struct event_base *base, crm_curl_t *curl,
                                   const crm_dyn_token_conf_t *conf)
{
    if (!base || !curl || !conf || !conf->token_url || !conf->client_id || !conf->client_secret ||
        !conf->scope || !*conf->client_id || !*conf->client_secret || !*conf->scope)
        return NULL;
    crm_dyn_token_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->base = base;
    t->curl = curl;
    t->tail = &t->waiters;
    t->margin_s = conf->refresh_margin_s > 0 ? conf->refresh_margin_s : DEFAULT_MARGIN_S;
    t->timeout_ms = conf->timeout_ms > 0 ? conf->timeout_ms : DEFAULT_TIMEOUT_MS;
    t->token_url = strdup(conf->token_url);
    t->client_id = strdup(conf->client_id);
    t->client_secret = strdup(conf->client_secret);
    t->scope = strdup(conf->scope);
    t->refresh = evtimer_new(base, on_refresh, t);
    t->ready = evtimer_new(base, on_ready, t);
    if (!t->token_url || !t->client_id || !t->client_secret || !t->scope || !t->refresh ||
        !t->ready) {
        crm_dyn_token_free(t);
        return NULL;
    }
    return t;
}

int crm_dyn_token_get(crm_dyn_token_t *t, crm_dyn_token_fn cb, void *ctx)
{
    if (!t || !cb)
        return -1;
    waiter_t *w = calloc(1, sizeof *w);
    if (!w)
        return -1;
    w->cb = cb;
    w->ctx = ctx;
    *t->tail = w;
    t->tail = &w->next;
    /* Always through the loop, so a caller never sees its callback run
     * inside its own call. A fetch in flight will flush the waiters. */
    if (!t->fetching || usable(t)) {
        struct timeval zero = {0, 0};
        if (evtimer_add(t->ready, &zero) != 0) {
            LOG_WARN("dynamics token: cannot schedule");
            return 0; /* still queued: the next fetch or get flushes it */
        }
    }
    return 0;
}

void crm_dyn_token_invalidate(crm_dyn_token_t *t, const char *authorization)
{
    if (t && authorization && strcmp(authorization, t->header) == 0)
        t->header[0] = '\0';
}

size_t crm_dyn_token_fetches(const crm_dyn_token_t *t)
{
    return t ? t->fetches : 0;
}

void crm_dyn_token_free(crm_dyn_token_t *t)
{
    if (!t)
        return;
    flush(t, NULL, "shut down");
    if (t->refresh)
        event_free(t->refresh);
    if (t->ready)
        event_free(t->ready);
    if (t->client_secret) {
        explicit_bzero(t->client_secret, strlen(t->client_secret));
        free(t->client_secret);
    }
    explicit_bzero(t->header, sizeof t->header);
    free(t->token_url);
    free(t->client_id);
    free(t->scope);
    free(t);
}

/* ------------------------------------------------- requests with a token */

typedef struct {
    crm_dyn_token_t *t;
    crm_curl_done_fn cb;
    void *ctx;
    char *method, *url, *body;
    size_t body_len;
    long timeout_ms;
    char **headers; /* caller's, NULL-terminated; one slot kept for ours */
    size_t n_headers;
    char *used; /* the Authorization line sent, to invalidate exactly it */
    int attempt;
} authed_t;

static void authed_free(authed_t *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n_headers; i++)
        free(a->headers[i]);
    free(a->headers);
    free(a->method);
    free(a->url);
    free(a->body);
    free(a->used);
    free(a);
}

static void authed_fail(authed_t *a, const char *error)
{
    crm_curl_resp_t resp = {.status = 0,
                            .retry_after_s = -1,
                            .rate_remaining = -1,
                            .rate_reset_s = -1,
                            .body = "",
                            .error = error};
    a->cb(a->ctx, &resp);
    authed_free(a);
}

static void authed_done(void *ctx, const crm_curl_resp_t *resp);

static void authed_send(void *ctx, const char *authorization, const char *error)
{
    authed_t *a = ctx;
    if (!authorization) {
        authed_fail(a, error ? error : "no token");
        return;
    }
    free(a->used);
    a->used = strdup(authorization);
    const char **headers = calloc(a->n_headers + 2, sizeof *headers);
    if (!a->used || !headers) {
        free(headers);
        authed_fail(a, "out of memory");
        return;
    }
    for (size_t i = 0; i < a->n_headers; i++)
        headers[i] = a->headers[i];
    headers[a->n_headers] = a->used;
    crm_curl_req_t req = {.method = a->method,
                          .url = a->url,
                          .headers = headers,
                          .body = a->body,
                          .body_len = a->body_len,
                          .timeout_ms = a->timeout_ms};
    int rc = crm_curl_request(a->t->curl, &req, authed_done, a);
    free(headers);
    if (rc != 0)
        authed_fail(a, "request refused");
}

static void authed_done(void *ctx, const crm_curl_resp_t *resp)
{
    authed_t *a = ctx;
    if (resp->status == 401 && a->attempt == 0) {
        /* Revoked or expired before its time: one fresh token, one more try. */
        a->attempt = 1;
        crm_dyn_token_invalidate(a->t, a->used);
        if (crm_dyn_token_get(a->t, authed_send, a) == 0)
            return;
    }
    a->cb(a->ctx, resp);
    authed_free(a);
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

int crm_dyn_token_request(crm_dyn_token_t *t, const crm_curl_req_t *req, crm_curl_done_fn cb,
                          void *ctx)
{
    if (!t || !req || !req->url || !cb || req->user || req->password)
        return -1;
    authed_t *a = calloc(1, sizeof *a);
    if (!a)
        return -1;
    a->t = t;
    a->cb = cb;
    a->ctx = ctx;
    a->timeout_ms = req->timeout_ms;
    a->method = strdup(req->method ? req->method : "GET");
    a->url = strdup(req->url);
    if (req->body) {
        a->body = dup_n(req->body, req->body_len);
        a->body_len = req->body_len;
    }
    size_t n = 0;
    while (req->headers && req->headers[n])
        n++;
    a->headers = calloc(n + 1, sizeof *a->headers);
    if (!a->method || !a->url || (req->body && !a->body) || !a->headers)
        goto err;
    for (; a->n_headers < n; a->n_headers++) {
        if (strncasecmp(req->headers[a->n_headers], "Authorization:", 14) == 0)
            goto err; /* ours to set */
        a->headers[a->n_headers] = strdup(req->headers[a->n_headers]);
        if (!a->headers[a->n_headers])
            goto err;
    }
    if (crm_dyn_token_get(t, authed_send, a) != 0)
        goto err;
    return 0;
err:
    authed_free(a);
    return -1;
}
