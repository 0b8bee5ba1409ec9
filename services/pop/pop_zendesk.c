/* The Zendesk app's signed first request -> an agent session and the
 * app's page (pop_zendesk.h). */
#include "pop_zendesk.h"

#include "cmn_event.h"
#include "cmn_log.h"
#include "cmn_metrics.h"
#include "cmn_time.h"
#include "pop_jwt.h"
#include "pop_page.h"
#include "pop_session.h"
#include "pop_signin.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A signed request is posted by the agent's browser the moment Zendesk
 * signs it: a few minutes cover clock skew and a slow page load, and a
 * token copied out of a browser is useless soon after. */
#define MAX_AGE_S 300
#define LEEWAY_S 60
#define MAX_KEY_BYTES 65536
#define PAGE "/apps/zendesk/page.html" /* the template (www/zendesk.html) */
#define SLOT_TOKEN "{{session}}"
#define SLOT_SDK "{{sdk}}"

struct pop_zendesk {
    const pop_config_t *cfg;
    pop_store_t *store;
    pop_jwt_keys_t *keys;
    char issuer[512], audience[1024], csp[2048];
    size_t in_flight;
};

typedef struct {
    pop_zendesk_t *z;
    struct evhttp_request *req;
    char token[POP_TOKEN_LEN + 1];
} signin_t;

/* CALLBUS_POP_ZENDESK_APP_KEY: the PEM itself, or the path of a file
 * holding it (a mounted Kubernetes secret). The caller frees. */
static char *key_text(const char *setting, size_t *len, char *err, size_t errsz)
{
    if (strstr(setting, "-----BEGIN")) {
        *len = strlen(setting);
        return strdup(setting);
    }
    char *buf = NULL;
    FILE *f = fopen(setting, "rb");
    if (!f) {
        snprintf(err, errsz, "neither a PEM nor a readable file: %s", strerror(errno));
        return NULL;
    }
    if (!(buf = malloc(MAX_KEY_BYTES + 1)))
        snprintf(err, errsz, "out of memory");
    else if ((*len = fread(buf, 1, MAX_KEY_BYTES + 1, f)) > MAX_KEY_BYTES || ferror(f)) {
        snprintf(err, errsz, "%s", ferror(f) ? "read error" : "file too large for a key");
        free(buf);
        buf = NULL;
    } else
        buf[*len] = '\0';
    fclose(f);
    return buf;
}

static int configure(pop_zendesk_t *z, char *err, size_t errsz)
{
    const pop_config_t *c = z->cfg;
    char account[512], sdk[512], kerr[200];
    size_t len = 0;
    if (pop_page_origin(c->zendesk_url, account, sizeof account) < 0 ||
        strcmp(account, c->zendesk_url) != 0) {
        snprintf(err, errsz, "CALLBUS_POP_ZENDESK_URL must be the account's https://host");
        return -1;
    }
    if (!cmn_id_text_ok(c->zendesk_installation_id, CMN_ID_TEXT_MAX)) {
        snprintf(err, errsz, "CALLBUS_POP_ZENDESK_INSTALLATION_ID is required with the app key");
        return -1;
    }
    if (pop_page_origin(c->zendesk_sdk_url, sdk, sizeof sdk) < 0) {
        snprintf(err, errsz, "CALLBUS_POP_ZENDESK_SDK_URL is not an http(s) URL");
        return -1;
    }
    char *pem = key_text(c->zendesk_app_key, &len, kerr, sizeof kerr);
    if (pem)
        z->keys = pop_jwt_keys_from_pem(pem, len, kerr, sizeof kerr);
    free(pem);
    if (!z->keys) {
        snprintf(err, errsz, "CALLBUS_POP_ZENDESK_APP_KEY: %s", kerr);
        return -1;
    }
    /* Zendesk's claims: iss the account's host, aud the installation's
     * API URL (so a token of another account or installation of the same
     * app is refused). */
    const char *host = strstr(account, "://") + 3;
    size_t n1 = (size_t)snprintf(z->issuer, sizeof z->issuer, "%s", host);
    size_t n2 =
        (size_t)snprintf(z->audience, sizeof z->audience, "%s/api/v2/apps/installations/%s.json",
                         account, c->zendesk_installation_id);
    size_t n3 = (size_t)snprintf(z->csp, sizeof z->csp,
                                 "default-src 'none'; script-src 'self' %s; connect-src 'self'; "
                                 "style-src 'self'; img-src 'self'; frame-ancestors %s; "
                                 "base-uri 'none'; form-action 'none'",
                                 sdk, account);
    if (n1 >= sizeof z->issuer || n2 >= sizeof z->audience || n3 >= sizeof z->csp) {
        snprintf(err, errsz, "CALLBUS_POP_ZENDESK_* settings too long");
        return -1;
    }
    return 0;
}

/* The agent: Zendesk's `sub` is the user, by id or as the user's API URL
 * (".../api/v2/users/<id>.json"): the id either way. */
static int agent_of(const json_t *claims, char *out, size_t outsz)
{
    const char *sub = json_string_value(json_object_get(claims, "sub"));
    if (!sub)
        return -1;
    const char *users = strstr(sub, "/users/");
    if (users) {
        sub = users + 7;
        size_t n = strcspn(sub, ".");
        if (strcmp(sub + n, ".json") != 0 || n >= outsz)
            return -1;
        snprintf(out, outsz, "%.*s", (int)n, sub);
    } else
        snprintf(out, outsz, "%s", sub);
    return cmn_id_text_ok(out, CMN_CRM_ID_MAX) ? 0 : -1;
}

static void send_body(struct evhttp_request *req, int status, const char *body, size_t len)
{
    struct evbuffer *out = evbuffer_new();
    if (!out || evbuffer_add(out, body, len) < 0) {
        evhttp_send_reply(req, 500, NULL, NULL);
    } else
        evhttp_send_reply(req, status, NULL, out);
    if (out)
        evbuffer_free(out);
}

/* A refusal a browser shows in the app's frame (HTML) or a client reads
 * (JSON): the reason's short name, never the token. */
static void refuse(pop_zendesk_t *z, struct evhttp_request *req, int status, const char *reason,
                   const char *why)
{
    const char *accept = cmn_http_header(req, "Accept");
    if (!accept || !strstr(accept, "text/html")) {
        cmn_http_reply_json(req, status, json_pack("{s:s, s:s}", "error", why, "reason", reason));
        return;
    }
    char html[512];
    int n = snprintf(html, sizeof html,
                     "<!doctype html><meta charset=\"utf-8\"><title>callbus</title>"
                     "<p>callbus could not sign you in (%s): %s</p>",
                     reason, why);
    pop_page_headers(req, "text/html; charset=utf-8", z->csp);
    send_body(req, status, html, (size_t)n < sizeof html ? (size_t)n : sizeof html - 1);
}

/* The page: the template with the session token and the SDK's URL (both
 * checked to hold nothing an attribute could end on). */
static void send_page(pop_zendesk_t *z, struct evhttp_request *req, const char *token)
{
    const pop_page_slot_t slots[] = {{SLOT_TOKEN, token}, {SLOT_SDK, z->cfg->zendesk_sdk_url}};
    pop_page_send(req, z->csp, PAGE, slots, sizeof slots / sizeof slots[0]);
}

static void on_login(void *ctx, const pop_session_info_t *info, const char *err)
{
    signin_t *s = ctx;
    if (err || !*info->crm_id) {
        LOG_WARN("zendesk sign-in: session not stored: %s", err ? err : "lost at once");
        cmn_http_reply_unavailable(s->req, 1, "redis unavailable");
    } else {
        pop_signin_count("zendesk", "ok");
        LOG_INFO("zendesk sign-in: agent %s", info->crm_id);
        send_page(s->z, s->req, s->token);
    }
    s->z->in_flight--;
    free(s);
}

/* The form's `token` (application/x-www-form-urlencoded): copied out, or
 * NULL. The caller frees. */
static char *form_token(struct evhttp_request *req)
{
    size_t len;
    const char *body = cmn_http_body(req, &len);
    char *text = malloc(len + 1), *token = NULL;
    struct evkeyvalq kv;
    if (!text)
        return NULL;
    memcpy(text, body, len);
    text[len] = '\0';
    if (evhttp_parse_query_str(text, &kv) == 0) {
        const char *t = evhttp_find_header(&kv, "token");
        token = t ? strdup(t) : NULL;
        evhttp_clear_headers(&kv);
    }
    free(text);
    return token;
}

static void start_session(pop_zendesk_t *z, struct evhttp_request *req, const char *agent)
{
    signin_t *s = calloc(1, sizeof *s);
    pop_login_t who = {.crm_id = agent};
    if (!s) {
        cmn_http_reply_unavailable(req, 1, "out of memory");
        return;
    }
    *s = (signin_t){.z = z, .req = req};
    if (pop_session_new_token(s->token, sizeof s->token) < 0) {
        cmn_http_reply_unavailable(req, 1, "no randomness");
        free(s);
        return;
    }
    z->in_flight++;
    if (pop_session_login(z->store, s->token, &who, z->cfg->session_ttl_s, cmn_time_now_ms(),
                          on_login, s) < 0) {
        z->in_flight--;
        cmn_http_reply_unavailable(req, 1, "redis unavailable");
        free(s);
    }
}

static void on_app(struct evhttp_request *req, const char *path, void *arg)
{
    pop_zendesk_t *z = arg;
    if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
        /* Opened by hand (local development): only Zendesk can sign. */
        refuse(z, req, 401, "unsigned",
               "this page is the Zendesk app's: open it from Zendesk, which signs the request");
        return;
    }
    char *token =
        cmn_http_content_type_is(req, "application/x-www-form-urlencoded") ? form_token(req) : NULL;
    json_t *claims = NULL;
    char err[200] = "no token", agent[CMN_CRM_ID_MAX + 1];
    pop_jwt_expect_t want = {.issuer = z->issuer,
                             .audience = z->audience,
                             .now_s = cmn_time_now_ms() / 1000,
                             .leeway_s = LEEWAY_S,
                             .max_age_s = MAX_AGE_S};
    pop_jwt_status_t st =
        token ? pop_jwt_verify(z->keys, token, &want, &claims, err, sizeof err) : POP_JWT_MALFORMED;
    free(token);
    if (st != POP_JWT_OK) {
        LOG_WARN("zendesk sign-in refused: %s: %s", pop_jwt_status_name(st), err);
        pop_signin_count("zendesk", pop_jwt_status_name(st));
        refuse(z, req, 401, pop_jwt_status_name(st), "the signed request was refused");
    } else if (agent_of(claims, agent, sizeof agent) < 0) {
        pop_signin_count("zendesk", "subject");
        refuse(z, req, 401, "subject", "the signed request names no Zendesk user");
    } else
        start_session(z, req, agent);
    json_decref(claims);
}

int pop_zendesk_new(cmn_http_t *http, const pop_config_t *cfg, pop_store_t *store,
                    pop_zendesk_t **out, char *err, size_t errsz)
{
    *out = NULL;
    *err = '\0';
    if (!*cfg->zendesk_app_key)
        return 0;
    pop_zendesk_t *z = calloc(1, sizeof *z);
    if (!z) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    z->cfg = cfg;
    z->store = store;
    if (configure(z, err, errsz) < 0 ||
        cmn_http_route(http, "zendesk_app", "/apps/zendesk/", CMN_HTTP_GET | CMN_HTTP_POST, on_app,
                       z) < 0) {
        if (!*err)
            snprintf(err, errsz, "out of memory");
        pop_zendesk_free(z);
        return -1;
    }
    *out = z;
    return 0;
}

size_t pop_zendesk_in_flight(const pop_zendesk_t *z)
{
    return z ? z->in_flight : 0;
}

void pop_zendesk_free(pop_zendesk_t *z)
{
    if (!z)
        return;
    pop_jwt_keys_free(z->keys);
    free(z);
}
