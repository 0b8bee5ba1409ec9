/* HTTP handlers of pop-service. */
#include "pop_api.h"

#include "cmn_agent_action.h"
#include "cmn_auth.h"
#include "cmn_event.h"
#include "cmn_log.h"
#include "cmn_metrics.h"
#include "cmn_time.h"
#include "cmn_topics.h"
#include "pop_ack.h"
#include "pop_api_oidc.h"
#include "pop_assets.h"
#include "pop_session.h"
#include "pop_signin.h"

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COOKIE "callbus_pop"

struct pop_api {
    const pop_config_t *cfg;
    pop_store_t *store;
    pop_hub_t *hub;
    cmn_producer_t *producer;
    pop_ack_t *acks;
    size_t in_flight;
    cmn_metric_t *previous_secret_used; /* logins by the previous provisioning secret */
    char *csp;                          /* the page's Content-Security-Policy */
};

typedef enum {
    OP_ME,
    OP_HEARTBEAT,
    OP_LOGOUT,
    OP_STREAM,
    OP_LOGIN,
    OP_ACTION,
    OP_ACK,
    OP_EXTEND, /* a fresh ID token extended the session (pop_api_oidc) */
    OP_REVOKE, /* an administrator ended the agent's session */
    OP_AGENT   /* another module's route wants the signed-in agent (pop_api_with_agent) */
} op_t;

/* One request waiting for Redis (and, for an action, Kafka). */
typedef struct {
    pop_api_t *a;
    struct evhttp_request *req;
    op_t op;
    char token[POP_TOKEN_LEN + 1];
    char after[48];
    cmn_agent_action_t act; /* OP_ACTION: strings below */
    char action[32], call_id[CMN_ID_TEXT_MAX + 1], target[CMN_CRM_ID_MAX + 1];
    char agent[CMN_CRM_ID_MAX + 1], number[20], action_id[48];
    json_t *pop_ids; /* OP_ACK: the pops acknowledged (owned), and their results so far */
    json_t *ack_results;
    size_t acks_left;
    int ack_list;              /* {"pop_ids": [...]} rather than {"pop_id": ...} */
    pop_api_agent_fn agent_cb; /* OP_AGENT */
    void *agent_ctx;
} call_t;

static call_t *call_new(pop_api_t *a, struct evhttp_request *req, op_t op)
{
    call_t *c = calloc(1, sizeof *c);
    if (!c) {
        cmn_http_reply_unavailable(req, 1, "out of memory");
        return NULL;
    }
    c->a = a;
    c->req = req;
    c->op = op;
    a->in_flight++;
    return c;
}

static void call_free(call_t *c)
{
    c->a->in_flight--;
    json_decref(c->pop_ids);
    json_decref(c->ack_results);
    free(c);
}

static int token_ok(const char *t)
{
    return t && strlen(t) == POP_TOKEN_LEN && strspn(t, "0123456789abcdef") == POP_TOKEN_LEN;
}

/* The session token: Authorization: Bearer, else the page's cookie. */
static int request_token(struct evhttp_request *req, char *out, size_t outsz)
{
    const char *auth = cmn_http_header(req, "Authorization");
    if (auth && strncmp(auth, "Bearer ", 7) == 0) {
        snprintf(out, outsz, "%s", auth + 7);
        return token_ok(out) ? 0 : -1;
    }
    const char *cookie = cmn_http_header(req, "Cookie");
    for (const char *p = cookie; p && (p = strstr(p, COOKIE "=")); p += sizeof COOKIE) {
        if (p != cookie && p[-1] != ' ' && p[-1] != ';')
            continue;
        snprintf(out, outsz, "%.*s", (int)strcspn(p + sizeof COOKIE, "; "), p + sizeof COOKIE);
        return token_ok(out) ? 0 : -1;
    }
    return -1;
}

static void unauthorized(struct evhttp_request *req)
{
    evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
                      "Bearer realm=\"callbus pop\"");
    cmn_http_reply_error(req, 401, "no valid session: log in again", NULL);
}

static void set_cookie(call_t *c, const char *token, long max_age)
{
    char v[256];
    snprintf(v, sizeof v, COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%ld%s", token,
             max_age, c->a->cfg->cookie_secure ? "; Secure" : "");
    evhttp_add_header(evhttp_request_get_output_headers(c->req), "Set-Cookie", v);
}

static json_t *session_json(const pop_session_info_t *i)
{
    return json_pack("{s:s, s:s, s:s, s:o, s:i}", "agent_crm_id", i->crm_id, "provider_agent_id",
                     i->provider_id, "extension", i->extension, "current_call",
                     *i->call ? json_string(i->call) : json_null(), "expires_in", (int)i->ttl_s);
}

static void on_action_sent(void *opaque, rd_kafka_resp_err_t err, int32_t partition, int64_t offset)
{
    call_t *c = opaque;
    if (err)
        cmn_http_reply_unavailable(c->req, 2, "agent action not stored; try again");
    else
        cmn_http_reply_json(
            c->req, 202, json_pack("{s:s, s:s}", "status", "accepted", "action_id", c->action_id));
    call_free(c);
}

/* HMGET agent number of the call: only the agent on the call may act on it. */
static void on_call_owner(void *ctx, redisReply *r, const char *err)
{
    call_t *c = ctx;
    char e[160], field[64];
    if (err || !r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
        cmn_http_reply_unavailable(c->req, 1, "redis unavailable");
        call_free(c);
        return;
    }
    const redisReply *owner = r->element[0], *num = r->element[1];
    if (owner->type != REDIS_REPLY_STRING || strcmp(owner->str, c->agent) != 0) {
        cmn_http_reply_error(c->req, 403, "this call is not yours", "call_id");
        call_free(c);
        return;
    }
    if (num->type == REDIS_REPLY_STRING)
        snprintf(c->number, sizeof c->number, "%s", num->str);
    c->act = (cmn_agent_action_t){.action_id = c->action_id,
                                  .action = c->action,
                                  .call_id = c->call_id,
                                  .customer_number = *c->number ? c->number : NULL,
                                  .agent_crm_id = c->agent,
                                  .contact_id = c->target,
                                  .ticket_id = c->target,
                                  .occurred_at_ms = cmn_time_now_ms()};
    char *text = cmn_agent_action_encode(&c->act, e, sizeof e, field, sizeof field);
    if (!text) {
        cmn_http_reply_error(c->req, 400, e, field);
        call_free(c);
        return;
    }
    const char *key = cmn_agent_action_key(&c->act);
    rd_kafka_resp_err_t kerr =
        cmn_producer_send(c->a->producer, cmn_topic(CMN_TOPIC_AGENT_ACTIONS), key, strlen(key),
                          text, strlen(text), on_action_sent, c);
    free(text);
    if (kerr) {
        cmn_http_reply_unavailable(c->req, 2, "Kafka queue full");
        call_free(c);
    }
}

static void start_action(call_t *c)
{
    char key[300];
    char rnd[POP_TOKEN_LEN + 1];
    if (pop_session_new_token(rnd, sizeof rnd) < 0) {
        cmn_http_reply_unavailable(c->req, 1, "no randomness");
        call_free(c);
        return;
    }
    snprintf(c->action_id, sizeof c->action_id, "act-%.32s", rnd);
    snprintf(key, sizeof key, "%spop:call:%s", pop_store_ns(c->a->store), c->call_id);
    if (cmn_redis_command(pop_store_redis(c->a->store), on_call_owner, c, "HMGET %s agent number",
                          key) < 0) {
        cmn_http_reply_unavailable(c->req, 1, "redis unavailable");
        call_free(c);
    }
}

/* ---- POST /v1/pops/ack (issue 22 item 4; pop_ack.h) ----------------------- */

/* Every pop answered: one pop's result, or the list's. Another agent's pop
 * is 404, as if it did not exist (nothing said about others' pops). */
static void acks_reply(call_t *c)
{
    if (c->ack_list) {
        cmn_http_reply_json(c->req, 200, json_pack("{s:O}", "results", c->ack_results));
        return;
    }
    const char *id = json_string_value(json_array_get(c->pop_ids, 0));
    const char *status = json_string_value(json_object_get(c->ack_results, id));
    if (!status)
        cmn_http_reply_unavailable(c->req, 1, "redis unavailable");
    else if (strcmp(status, pop_ack_result_name(POP_ACK_UNKNOWN)) == 0)
        cmn_http_reply_error(c->req, 404, "no such pop of yours", "pop_id");
    else
        cmn_http_reply_json(c->req, 200, json_pack("{s:s, s:s}", "pop_id", id, "status", status));
}

/* One pop of the request, waiting for Redis. */
typedef struct {
    call_t *c;
    char pop_id[];
} ack_wait_t;

static void ack_done(call_t *c)
{
    if (--c->acks_left)
        return;
    acks_reply(c);
    call_free(c);
}

static void on_acked(void *ctx, pop_ack_result_t r, const char *err)
{
    ack_wait_t *w = ctx;
    if (err)
        LOG_WARN("ack of pop %s: redis: %s", w->pop_id, err);
    else
        json_object_set_new(w->c->ack_results, w->pop_id, json_string(pop_ack_result_name(r)));
    ack_done(w->c);
    free(w);
}

static void start_acks(call_t *c, const char *agent)
{
    size_t i;
    json_t *id;
    c->acks_left = json_array_size(c->pop_ids) + 1; /* +1: this loop's own share */
    json_array_foreach(c->pop_ids, i, id)
    {
        const char *s = json_string_value(id);
        ack_wait_t *w = malloc(sizeof *w + strlen(s) + 1);
        if (w) {
            w->c = c;
            memcpy(w->pop_id, s, strlen(s) + 1);
        }
        if (!w || pop_ack_one(c->a->acks, agent, s, on_acked, w) < 0) {
            free(w); /* unanswered: the single form says 503, the list omits it */
            c->acks_left--;
        }
    }
    ack_done(c);
}

static void on_session(void *ctx, const pop_session_info_t *info, const char *err)
{
    call_t *c = ctx;
    if (err) {
        LOG_WARN("session: redis: %s", err);
        cmn_http_reply_unavailable(c->req, 1, "redis unavailable");
        if (c->op == OP_AGENT)
            c->agent_cb(c->agent_ctx, NULL);
        call_free(c);
        return;
    }
    if (!*info->crm_id) {
        if (c->op == OP_REVOKE)
            cmn_http_reply_error(c->req, 404, "the agent has no session", "agent_crm_id");
        else
            unauthorized(c->req);
        if (c->op == OP_AGENT)
            c->agent_cb(c->agent_ctx, NULL);
        call_free(c);
        return;
    }
    switch (c->op) {
    case OP_LOGIN: {
        set_cookie(c, c->token, c->a->cfg->session_ttl_s * 4);
        json_t *b = session_json(info);
        json_object_set_new(b, "token", json_string(c->token));
        cmn_http_reply_json(c->req, 201, b);
        break;
    }
    case OP_ME:
    case OP_HEARTBEAT:
    case OP_EXTEND:
        cmn_http_reply_json(c->req, 200, session_json(info));
        break;
    case OP_LOGOUT:
    case OP_REVOKE:
        if (pop_store_announce_end(c->a->store, info->crm_id, info->session) < 0)
            LOG_WARN("end of %s's session not announced: its open streams end within "
                     "CALLBUS_POP_SESSION_CHECK_S",
                     info->crm_id);
        if (c->op == OP_REVOKE) {
            LOG_INFO("session of agent %s revoked by an administrator", info->crm_id);
            cmn_http_reply_json(
                c->req, 200,
                json_pack("{s:s, s:s}", "status", "revoked", "agent_crm_id", info->crm_id));
            break;
        }
        set_cookie(c, "", 0);
        cmn_http_reply_json(c->req, 200, json_pack("{s:s}", "status", "logged out"));
        break;
    case OP_STREAM:
        /* Without Last-Event-ID: every pop since the session began, so a
         * pop made while the page was loading is not lost. */
        if (!*c->after)
            snprintf(c->after, sizeof c->after, "%lld-0", (long long)(info->login_ms - 1));
        pop_hub_attach(c->a->hub, c->req, info->crm_id, info->session, c->after, info->ttl_s);
        break;
    case OP_ACTION:
        snprintf(c->agent, sizeof c->agent, "%s", info->crm_id);
        start_action(c);
        return;
    case OP_ACK:
        start_acks(c, info->crm_id);
        return;
    case OP_AGENT:
        c->agent_cb(c->agent_ctx, info);
        break;
    }
    call_free(c);
}

static void with_session(pop_api_t *a, struct evhttp_request *req, op_t op, call_t *c)
{
    if (!c && !(c = call_new(a, req, op)))
        return;
    if (request_token(req, c->token, sizeof c->token) < 0) {
        unauthorized(req);
        call_free(c);
        return;
    }
    long refresh = op == OP_HEARTBEAT ? a->cfg->session_ttl_s : 0;
    int rc = op == OP_LOGOUT ? pop_session_logout(a->store, c->token, on_session, c)
                             : pop_session_get(a->store, c->token, refresh, on_session, c);
    if (rc < 0) {
        cmn_http_reply_unavailable(req, 1, "redis unavailable");
        call_free(c);
    }
}

static json_t *body_object(struct evhttp_request *req)
{
    size_t len;
    const char *body = cmn_http_body(req, &len);
    json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    if (json_is_object(o))
        return o;
    json_decref(o);
    return NULL;
}

json_t *pop_api_body_object(struct evhttp_request *req)
{
    return body_object(req);
}

static const char *str(const json_t *o, const char *name)
{
    return json_string_value(json_object_get(o, name));
}

static void on_login(struct evhttp_request *req, const char *path, void *arg)
{
    pop_api_t *a = arg;
    if (!cmn_http_require_json(req))
        return;
    cmn_auth_match_t m =
        cmn_auth_bearer_match(a->cfg->provisioning_secret, a->cfg->provisioning_secret_previous,
                              cmn_http_header(req, "Authorization"));
    /* An empty current secret disables logins, whatever the previous one. */
    if (!*a->cfg->provisioning_secret || m == CMN_AUTH_NONE) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
                          "Bearer realm=\"callbus pop provisioning\"");
        cmn_http_reply_error(req, 401, "provisioning secret required", NULL);
        pop_signin_count("secret", "refused");
        return;
    }
    /* Counted so the operator sees when the last client moved to the new
     * secret and the previous setting can go. */
    if (m == CMN_AUTH_PREVIOUS)
        cmn_metric_add(a->previous_secret_used, 1);
    json_t *o = body_object(req);
    if (!o) {
        cmn_http_reply_error(req, 400, "body must be a JSON object", NULL);
        return;
    }
    pop_login_t who = {str(o, "agent_crm_id"), str(o, "provider_agent_id"), str(o, "extension"), 0};
    if (pop_api_open_session(a, req, &who) == 0)
        pop_signin_count("secret", "ok");
    json_decref(o);
}

int pop_api_open_session(pop_api_t *a, struct evhttp_request *req, const pop_login_t *who)
{
    const char *bad = !cmn_id_text_ok(who->crm_id, CMN_CRM_ID_MAX) ? "agent_crm_id"
                      : who->provider_id && !cmn_id_text_ok(who->provider_id, CMN_ID_TEXT_MAX)
                          ? "provider_agent_id"
                      : who->extension && !cmn_id_text_ok(who->extension, CMN_ID_TEXT_MAX)
                          ? "extension"
                          : NULL;
    call_t *c = bad ? NULL : call_new(a, req, OP_LOGIN);
    if (bad) {
        cmn_http_reply_error(req, 400, "missing or invalid (visible ASCII id)", bad);
        return -1;
    }
    if (!c)
        return -1;
    if (pop_session_new_token(c->token, sizeof c->token) < 0) {
        cmn_http_reply_unavailable(req, 1, "no randomness");
        call_free(c);
        return -1;
    }
    if (pop_session_login(a->store, c->token, who, a->cfg->session_ttl_s, cmn_time_now_ms(),
                          on_session, c) < 0) {
        cmn_http_reply_unavailable(req, 1, "redis unavailable");
        call_free(c);
        return -1;
    }
    return 0;
}

void pop_api_extend_session(pop_api_t *a, struct evhttp_request *req, const char *crm_id,
                            int64_t until_ms)
{
    call_t *c = call_new(a, req, OP_EXTEND);
    if (!c)
        return;
    if (request_token(req, c->token, sizeof c->token) < 0) {
        unauthorized(req);
        call_free(c);
        return;
    }
    if (pop_session_extend(a->store, c->token, crm_id, until_ms, a->cfg->session_ttl_s, on_session,
                           c) < 0) {
        cmn_http_reply_unavailable(req, 1, "redis unavailable");
        call_free(c);
    }
}

int pop_api_with_agent(pop_api_t *a, struct evhttp_request *req, pop_api_agent_fn cb, void *ctx)
{
    call_t *c = call_new(a, req, OP_AGENT);
    if (!c)
        return -1;
    c->agent_cb = cb;
    c->agent_ctx = ctx;
    if (request_token(req, c->token, sizeof c->token) < 0) {
        unauthorized(req);
        call_free(c);
        return -1;
    }
    if (pop_session_get(a->store, c->token, 0, on_session, c) < 0) {
        cmn_http_reply_unavailable(req, 1, "redis unavailable");
        call_free(c);
        return -1;
    }
    return 0;
}

void pop_api_revoke(pop_api_t *a, struct evhttp_request *req, const char *crm_id)
{
    call_t *c = call_new(a, req, OP_REVOKE);
    if (c && pop_session_revoke(a->store, crm_id, on_session, c) < 0) {
        cmn_http_reply_unavailable(req, 1, "redis unavailable");
        call_free(c);
    }
}

static void on_me(struct evhttp_request *req, const char *path, void *arg)
{
    with_session(arg, req, OP_ME, NULL);
}

/* POST routes take JSON only (issue 19 item 6), even those without fields:
 * the cookie would otherwise let a form on another port of the site log the
 * agent out. */
static void on_heartbeat(struct evhttp_request *req, const char *path, void *arg)
{
    if (cmn_http_require_json(req))
        with_session(arg, req, OP_HEARTBEAT, NULL);
}

static void on_logout(struct evhttp_request *req, const char *path, void *arg)
{
    if (cmn_http_require_json(req))
        with_session(arg, req, OP_LOGOUT, NULL);
}

static void on_stream(struct evhttp_request *req, const char *path, void *arg)
{
    pop_api_t *a = arg;
    const char *last = cmn_http_header(req, "Last-Event-ID");
    if (last && (strlen(last) >= 48 || strspn(last, "0123456789-") != strlen(last))) {
        cmn_http_reply_error(req, 400, "Last-Event-ID is not a pop id", "Last-Event-ID");
        return;
    }
    call_t *c = call_new(a, req, OP_STREAM);
    if (!c)
        return;
    if (last)
        snprintf(c->after, sizeof c->after, "%s", last);
    with_session(a, req, OP_STREAM, c);
}

static void on_action(struct evhttp_request *req, const char *path, void *arg)
{
    pop_api_t *a = arg;
    if (!cmn_http_require_json(req))
        return;
    json_t *o = body_object(req);
    if (!o) {
        cmn_http_reply_error(req, 400, "body must be a JSON object", NULL);
        return;
    }
    const char *action = str(o, "action"), *call_id = str(o, "call_id");
    const char *target = str(o, "contact_id") ? str(o, "contact_id") : str(o, "ticket_id");
    const char *bad = !action || strlen(action) >= 32             ? "action"
                      : !cmn_id_text_ok(call_id, CMN_ID_TEXT_MAX) ? "call_id"
                      : target && !cmn_id_text_ok(target, CMN_CRM_ID_MAX)
                          ? (str(o, "contact_id") ? "contact_id" : "ticket_id")
                          : NULL;
    call_t *c = bad ? NULL : call_new(a, req, OP_ACTION);
    if (bad)
        cmn_http_reply_error(req, 400, "missing or invalid", bad);
    if (c) {
        snprintf(c->action, sizeof c->action, "%s", action);
        snprintf(c->call_id, sizeof c->call_id, "%s", call_id);
        snprintf(c->target, sizeof c->target, "%s", target ? target : "");
        with_session(a, req, OP_ACTION, c);
    }
    json_decref(o);
}

/* {"pop_id": "..."} or {"pop_ids": ["...", ...]} (at most ACK_LIST_MAX). */
#define ACK_LIST_MAX 100

static json_t *ack_ids(const json_t *o, int *list)
{
    const json_t *one = json_object_get(o, "pop_id"), *many = json_object_get(o, "pop_ids");
    json_t *ids = json_array();
    size_t i;
    const json_t *v;
    *list = many != NULL;
    if (!ids || (one && many) || (!one && !many))
        goto bad;
    if (one && json_array_append(ids, (json_t *)one) < 0)
        goto bad;
    if (many &&
        (!json_is_array(many) || !json_array_size(many) || json_array_size(many) > ACK_LIST_MAX ||
         json_array_extend(ids, (json_t *)many) < 0))
        goto bad;
    json_array_foreach(ids, i, v)
    {
        if (!cmn_id_text_ok(json_string_value(v), CMN_AGENT_ACTION_POP_ID_MAX))
            goto bad;
    }
    return ids;
bad:
    json_decref(ids);
    return NULL;
}

static void on_ack(struct evhttp_request *req, const char *path, void *arg)
{
    pop_api_t *a = arg;
    if (!cmn_http_require_json(req))
        return;
    json_t *o = body_object(req);
    int list = 0;
    json_t *ids = o ? ack_ids(o, &list) : NULL;
    json_decref(o);
    if (!ids) {
        cmn_http_reply_error(req, 400, "pop_id (a pop's id) or pop_ids (1 to 100 of them) expected",
                             list ? "pop_ids" : "pop_id");
        return;
    }
    call_t *c = call_new(a, req, OP_ACK);
    if (!c || !(c->ack_results = json_object())) {
        json_decref(ids);
        if (c) {
            cmn_http_reply_unavailable(req, 1, "out of memory");
            call_free(c);
        }
        return;
    }
    c->pop_ids = ids;
    c->ack_list = list;
    with_session(a, req, OP_ACK, c);
}

/* Only our own script runs, whatever a provider or the CRM put in a name;
 * nothing frames the page. The page may talk to the OpenID Connect issuer
 * besides pop-service (its token endpoint: code exchange and refresh), so
 * the issuer's origin joins connect-src. Caller frees. */
static char *csp_new(const char *issuer)
{
    char origin[300] = "";
    struct evhttp_uri *u = *issuer ? evhttp_uri_parse(issuer) : NULL;
    if (u && evhttp_uri_get_scheme(u) && evhttp_uri_get_host(u)) {
        int port = evhttp_uri_get_port(u);
        snprintf(origin, sizeof origin, " %s://%s", evhttp_uri_get_scheme(u),
                 evhttp_uri_get_host(u));
        if (port > 0)
            snprintf(origin + strlen(origin), sizeof origin - strlen(origin), ":%d", port);
    }
    if (u)
        evhttp_uri_free(u);
    size_t n = strlen(origin) + 200;
    char *csp = malloc(n);
    if (csp)
        snprintf(csp, n,
                 "default-src 'self'; connect-src 'self'%s; img-src 'self'; "
                 "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
                 origin);
    return csp;
}

/* The agent page: plain files compiled in (pop_assets.c, from www/). */
static void on_asset(struct evhttp_request *req, const char *path, void *arg)
{
    const pop_api_t *a = arg;
    const pop_asset_t *as = pop_asset_find(strcmp(path, "/agent") == 0 ? "/agent/" : path);
    if (!as) {
        cmn_http_reply_error(req, 404, "no such file", NULL);
        return;
    }
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    struct evbuffer *out = evbuffer_new();
    evhttp_add_header(h, "Content-Type", as->type);
    evhttp_add_header(h, "Cache-Control", "no-cache");
    evhttp_add_header(h, "Content-Security-Policy", a->csp);
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    evhttp_add_header(h, "Referrer-Policy", "no-referrer");
    if (out)
        evbuffer_add(out, as->data, as->len);
    evhttp_send_reply(req, out ? 200 : 500, NULL, out);
    if (out)
        evbuffer_free(out);
}

pop_api_t *pop_api_new(cmn_http_t *http, const pop_config_t *cfg, pop_store_t *store,
                       pop_hub_t *hub, cmn_producer_t *producer, pop_ack_t *acks)
{
    pop_api_t *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    *a = (pop_api_t){cfg, store, hub, producer, acks, 0, NULL, NULL};
    if (!(a->csp = csp_new(cfg->oidc_issuer))) {
        free(a);
        return NULL;
    }
    a->previous_secret_used = cmn_metrics_counter(
        "pop_provisioning_previous_secret_accepted_total",
        "Logins authenticated by CALLBUS_POP_PROVISIONING_SECRET_PREVIOUS (a rotation in progress)",
        NULL);
    if (cmn_http_route(http, "sessions", "/v1/sessions", CMN_HTTP_POST, on_login, a) < 0 ||
        cmn_http_route(http, "session_me", "/v1/sessions/me", CMN_HTTP_GET, on_me, a) < 0 ||
        cmn_http_route(http, "session_heartbeat", "/v1/sessions/heartbeat", CMN_HTTP_POST,
                       on_heartbeat, a) < 0 ||
        cmn_http_route(http, "session_logout", "/v1/sessions/logout", CMN_HTTP_POST, on_logout, a) <
            0 ||
        cmn_http_route(http, "pop_stream", "/v1/pops/stream", CMN_HTTP_GET, on_stream, a) < 0 ||
        cmn_http_route(http, "agent_actions", "/v1/actions", CMN_HTTP_POST, on_action, a) < 0 ||
        cmn_http_route(http, "pop_ack", "/v1/pops/ack", CMN_HTTP_POST, on_ack, a) < 0 ||
        cmn_http_route(http, "agent_page", "/agent", CMN_HTTP_GET, on_asset, a) < 0 ||
        cmn_http_route(http, "agent_page", "/agent/", CMN_HTTP_GET, on_asset, a) < 0) {
        pop_api_free(a);
        return NULL;
    }
    return a;
}

const char *pop_api_csp(const pop_api_t *a)
{
    return a->csp;
}

size_t pop_api_in_flight(const pop_api_t *a)
{
    return a->in_flight;
}

void pop_api_free(pop_api_t *a)
{
    if (a)
        free(a->csp);
    free(a);
}
