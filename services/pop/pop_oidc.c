/* OpenID Connect: discovery, the key cache, ID-token checks (pop_oidc.h). */
#include "pop_oidc.h"

#include "cmn_log.h"
#include "cmn_metrics.h"
#include "cmn_time.h"
#include "crm_curl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FETCH_TIMEOUT_MS 10000
#define RETRY_MIN_S 2 /* a failed fetch is tried again after this, doubling */
#define RETRY_MAX_S 60
#define LEEWAY_S 30 /* clock skew allowed between the issuer and us */
#define WAITERS_MAX 1000

typedef struct waiter {
    struct waiter *prev, *next;
    pop_oidc_t *o;
    char *token;
    pop_oidc_fn cb;
    void *ctx;
    struct event *timer; /* wait_ms: then "unavailable" */
} waiter_t;

struct pop_oidc {
    struct event_base *base;
    crm_curl_t *http;
    char *issuer, *client_id, *agent_claim, *scopes, *discovery_url;
    char *authorize, *token, *end_session, *jwks_uri; /* from discovery; NULL before */
    pop_jwt_keys_t *keys;
    long refresh_s, min_interval_s, wait_ms, retry_s;
    int fetching;          /* a discovery or key request is out */
    int64_t last_fetch_ms; /* the last fetch started (monotonic) */
    struct event *next_fetch;
    waiter_t waiters; /* sentinel */
    size_t n_waiting;
    cmn_metric_t *m_fetch_ok, *m_fetch_failed;
};

static void fetch_start(pop_oidc_t *o, int discover);

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void waiter_unlink_free(waiter_t *w)
{
    w->prev->next = w->next;
    w->next->prev = w->prev;
    w->o->n_waiting--;
    if (w->timer)
        event_free(w->timer);
    free(w->token);
    free(w);
}

static void answer_unavailable(pop_oidc_fn cb, void *ctx)
{
    pop_oidc_result_t r = {0, 1, "unavailable", NULL, NULL, 0};
    cb(ctx, &r);
}

/* The claim as text: a string, or an integer id (some directories). */
static const char *claim_text(const json_t *v, char *buf, size_t bufsz)
{
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(buf, bufsz, "%lld", (long long)json_integer_value(v));
        return buf;
    }
    return NULL;
}

/* Checks the token with the keys at hand and answers; returns the status
 * instead (without answering) when it is POP_JWT_UNKNOWN_KEY and `hold`. */
static pop_jwt_status_t check(pop_oidc_t *o, const char *token, int hold, pop_oidc_fn cb, void *ctx)
{
    char err[160], num[32];
    json_t *claims = NULL;
    pop_jwt_expect_t want = {o->issuer, o->client_id, cmn_time_now_ms() / 1000, LEEWAY_S, 0};
    pop_jwt_status_t st = pop_jwt_verify(o->keys, token, &want, &claims, err, sizeof err);
    if (st == POP_JWT_UNKNOWN_KEY && hold)
        return st;
    pop_oidc_result_t r = {0, 0, pop_jwt_status_name(st), NULL, NULL, 0};
    if (st == POP_JWT_OK) {
        r.agent = claim_text(json_object_get(claims, o->agent_claim), num, sizeof num);
        r.subject = json_string_value(json_object_get(claims, "sub"));
        r.exp_s = json_integer_value(json_object_get(claims, "exp"));
        r.ok = r.agent && *r.agent && r.subject;
        if (!r.ok)
            r.name = "agent_claim";
    } else
        LOG_INFO("ID token refused: %s", err);
    cb(ctx, &r);
    json_decref(claims);
    return st;
}

/* Keys arrived (or a fetch failed): every waiter gets its answer, those
 * whose key is still unknown too (no second refetch for them). Without
 * keys they keep waiting until their timer. */
static void resolve_waiters(pop_oidc_t *o)
{
    if (!o->keys)
        return;
    while (o->waiters.next != &o->waiters) {
        waiter_t *w = o->waiters.next;
        (void)check(o, w->token, 0, w->cb, w->ctx);
        waiter_unlink_free(w);
    }
}

static void on_wait_over(evutil_socket_t fd, short what, void *arg)
{
    waiter_t *w = arg;
    pop_oidc_fn cb = w->cb;
    void *ctx = w->ctx;
    waiter_unlink_free(w);
    answer_unavailable(cb, ctx);
}

static void schedule(pop_oidc_t *o, long s)
{
    struct timeval tv = {s, 0};
    event_add(o->next_fetch, &tv); /* a timer's add cannot fail once created */
}

static void fetch_failed(pop_oidc_t *o, const char *what)
{
    LOG_WARN("OpenID Connect issuer %s: %s; trying again in %ld s", o->issuer, what, o->retry_s);
    cmn_metric_add(o->m_fetch_failed, 1);
    o->fetching = 0;
    schedule(o, o->retry_s);
    o->retry_s = o->retry_s * 2 > RETRY_MAX_S ? RETRY_MAX_S : o->retry_s * 2;
    resolve_waiters(o); /* with the keys we had, if any */
}

static void on_keys(void *ctx, const crm_curl_resp_t *resp)
{
    pop_oidc_t *o = ctx;
    char err[160], what[200];
    if (resp->status != 200) {
        snprintf(what, sizeof what, "keys (%s): HTTP %d %s", o->jwks_uri, resp->status,
                 resp->error);
        fetch_failed(o, what);
        return;
    }
    pop_jwt_keys_t *k = pop_jwt_keys_from_jwks(resp->body, resp->body_len, err, sizeof err);
    if (!k) {
        snprintf(what, sizeof what, "keys (%s): %s", o->jwks_uri, err);
        fetch_failed(o, what);
        return;
    }
    pop_jwt_keys_free(o->keys);
    o->keys = k;
    o->fetching = 0;
    o->retry_s = RETRY_MIN_S;
    cmn_metric_add(o->m_fetch_ok, 1);
    LOG_INFO("OpenID Connect issuer %s: %zu signing key(s) loaded", o->issuer,
             pop_jwt_keys_count(k));
    schedule(o, o->refresh_s);
    resolve_waiters(o);
}

static void fetch_keys(pop_oidc_t *o)
{
    crm_curl_req_t req = {.url = o->jwks_uri, .timeout_ms = FETCH_TIMEOUT_MS};
    if (crm_curl_request(o->http, &req, on_keys, o) < 0)
        fetch_failed(o, "keys: request not started");
}

/* Replaces *slot with the document's member `name` (a URL we may fetch),
 * or NULL when absent; -1 when present but not such a URL. */
static int take_url(const json_t *doc, const char *name, char **slot)
{
    char err[160];
    const char *v = json_string_value(json_object_get(doc, name));
    if (v && crm_curl_url_check(v, 0, err, sizeof err) < 0)
        return -1;
    free(*slot);
    *slot = dup_or_null(v);
    return v && !*slot ? -1 : 0;
}

static void on_discovery(void *ctx, const crm_curl_resp_t *resp)
{
    pop_oidc_t *o = ctx;
    char what[200];
    json_t *doc = resp->status == 200 ? json_loadb(resp->body, resp->body_len, 0, NULL) : NULL;
    const char *iss = json_string_value(json_object_get(doc, "issuer"));
    if (!doc)
        snprintf(what, sizeof what, "discovery: HTTP %d %s", resp->status, resp->error);
    /* Discovery §4.3: the document's issuer is exactly the one configured,
     * or tokens would be checked against another issuer's keys. */
    else if (!iss || strcmp(iss, o->issuer) != 0)
        snprintf(what, sizeof what, "discovery: \"issuer\" is not %s", o->issuer);
    else if (take_url(doc, "authorization_endpoint", &o->authorize) < 0 ||
             take_url(doc, "token_endpoint", &o->token) < 0 ||
             take_url(doc, "end_session_endpoint", &o->end_session) < 0 ||
             take_url(doc, "jwks_uri", &o->jwks_uri) < 0 || !o->jwks_uri || !o->authorize ||
             !o->token)
        snprintf(what, sizeof what,
                 "discovery: authorization_endpoint, token_endpoint or jwks_uri missing or not "
                 "https");
    else
        *what = '\0';
    json_decref(doc);
    if (*what)
        fetch_failed(o, what);
    else
        fetch_keys(o);
}

static void fetch_start(pop_oidc_t *o, int discover)
{
    if (o->fetching)
        return;
    o->fetching = 1;
    o->last_fetch_ms = cmn_time_mono_ms();
    if (!discover && o->jwks_uri) {
        fetch_keys(o);
        return;
    }
    crm_curl_req_t req = {.url = o->discovery_url, .timeout_ms = FETCH_TIMEOUT_MS};
    if (crm_curl_request(o->http, &req, on_discovery, o) < 0)
        fetch_failed(o, "discovery: request not started");
}

static void on_next_fetch(evutil_socket_t fd, short what, void *arg)
{
    fetch_start(arg, 1);
}

static void wait_for_keys(pop_oidc_t *o, const char *token, pop_oidc_fn cb, void *ctx)
{
    waiter_t *w = o->n_waiting < WAITERS_MAX ? calloc(1, sizeof *w) : NULL;
    if (w && (!(w->token = strdup(token)) || !(w->timer = evtimer_new(o->base, on_wait_over, w)))) {
        free(w->token);
        free(w);
        w = NULL;
    }
    if (!w) {
        answer_unavailable(cb, ctx);
        return;
    }
    w->o = o;
    w->cb = cb;
    w->ctx = ctx;
    w->next = &o->waiters;
    w->prev = o->waiters.prev;
    o->waiters.prev->next = w;
    o->waiters.prev = w;
    o->n_waiting++;
    struct timeval tv = {o->wait_ms / 1000, (o->wait_ms % 1000) * 1000};
    event_add(w->timer, &tv);
}

void pop_oidc_verify(pop_oidc_t *o, const char *id_token, pop_oidc_fn cb, void *ctx)
{
    int64_t since = cmn_time_mono_ms() - o->last_fetch_ms;
    if (!o->keys) {
        /* A retry may be pending: a sign-in is worth one now, but a crowd
         * of them against an issuer that is down is not worth a crowd. */
        if (since >= RETRY_MIN_S * 1000)
            fetch_start(o, 0);
        wait_for_keys(o, id_token, cb, ctx);
        return;
    }
    if (check(o, id_token, 1, cb, ctx) != POP_JWT_UNKNOWN_KEY)
        return;
    /* The issuer may have rotated its keys: fetch them again, but not
     * more often than min_interval_s whatever tokens strangers send. */
    if (!o->fetching && since < o->min_interval_s * 1000) {
        (void)check(o, id_token, 0, cb, ctx);
        return;
    }
    fetch_start(o, 0);
    wait_for_keys(o, id_token, cb, ctx);
}

json_t *pop_oidc_browser_config(const pop_oidc_t *o)
{
    if (!o->authorize || !o->token)
        return NULL;
    return json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s}", "issuer", o->issuer, "client_id",
                     o->client_id, "authorization_endpoint", o->authorize, "token_endpoint",
                     o->token, "end_session_endpoint", o->end_session, "scopes", o->scopes);
}

size_t pop_oidc_waiting(const pop_oidc_t *o)
{
    return o->n_waiting;
}

pop_oidc_t *pop_oidc_new(struct event_base *base, const pop_oidc_opts_t *opts, char *err,
                         size_t errsz)
{
    if (crm_curl_url_check(opts->issuer, 0, err, errsz) < 0)
        return NULL;
    pop_oidc_t *o = calloc(1, sizeof *o);
    size_t n = strlen(opts->issuer);
    if (!o)
        goto nomem;
    o->waiters.next = o->waiters.prev = &o->waiters;
    o->base = base;
    if (!(o->issuer = strdup(opts->issuer)) || !(o->client_id = strdup(opts->client_id)) ||
        !(o->agent_claim = strdup(opts->agent_claim)) || !(o->scopes = strdup(opts->scopes)) ||
        !(o->discovery_url = malloc(n + sizeof "/.well-known/openid-configuration")) ||
        !(o->http = crm_curl_new(base)) || !(o->next_fetch = evtimer_new(base, on_next_fetch, o)))
        goto nomem;
    /* Discovery §4: the issuer, its trailing slash removed, then the path. */
    snprintf(o->discovery_url, n + sizeof "/.well-known/openid-configuration",
             "%.*s/.well-known/openid-configuration",
             (int)(n && opts->issuer[n - 1] == '/' ? n - 1 : n), opts->issuer);
    o->refresh_s = opts->refresh_s;
    o->min_interval_s = opts->min_interval_s;
    o->wait_ms = opts->wait_ms;
    o->retry_s = RETRY_MIN_S;
    o->m_fetch_ok =
        cmn_metrics_counter("pop_oidc_key_fetches_total",
                            "Fetches of the OpenID Connect issuer's keys", "result=\"ok\"");
    o->m_fetch_failed =
        cmn_metrics_counter("pop_oidc_key_fetches_total",
                            "Fetches of the OpenID Connect issuer's keys", "result=\"failed\"");
    schedule(o, 0); /* from the loop: the first fetch */
    return o;
nomem:
    snprintf(err, errsz, "out of memory");
    pop_oidc_free(o);
    return NULL;
}

void pop_oidc_free(pop_oidc_t *o)
{
    if (!o)
        return;
    while (o->waiters.next != &o->waiters) {
        waiter_t *w = o->waiters.next;
        pop_oidc_fn cb = w->cb;
        void *ctx = w->ctx;
        waiter_unlink_free(w);
        answer_unavailable(cb, ctx);
    }
    crm_curl_free(o->http); /* its callbacks ("cancelled") only touch o, still whole */
    if (o->next_fetch)
        event_free(o->next_fetch);
    pop_jwt_keys_free(o->keys);
    free(o->issuer);
    free(o->client_id);
    free(o->agent_claim);
    free(o->scopes);
    free(o->discovery_url);
    free(o->authorize);
    free(o->token);
    free(o->end_session);
    free(o->jwks_uri);
    free(o);
}
