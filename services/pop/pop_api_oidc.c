/* Sign-in routes: OpenID Connect and the administrators' revocation
 * (pop_api_oidc.h). */
#include "pop_api_oidc.h"
#include "pop_signin.h"

#include "cmn_auth.h"
#include "cmn_event.h"
#include "cmn_metrics.h"

#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pop_api_oidc {
    const pop_config_t *cfg;
    pop_api_t *api;
    pop_oidc_t *oidc;
};

/* A sign-in or refresh waiting for its ID token's verdict. */
typedef struct {
    pop_api_oidc_t *o;
    struct evhttp_request *req;
    int refresh;
    char provider_id[CMN_ID_TEXT_MAX + 1], extension[CMN_ID_TEXT_MAX + 1];
    int has_provider, has_extension;
} signin_t;

static void on_config(struct evhttp_request *req, const char *path, void *arg)
{
    pop_api_oidc_t *o = arg;
    json_t *c = o->oidc ? pop_oidc_browser_config(o->oidc) : NULL;
    if (o->oidc && !c) {
        cmn_http_reply_unavailable(req, 2,
                                   "the identity provider's configuration is not loaded yet");
        return;
    }
    cmn_http_reply_json(req, 200, json_pack("{s:o}", "oidc", c ? c : json_null()));
}

static void on_verified(void *ctx, const pop_oidc_result_t *r)
{
    signin_t *s = ctx;
    const char *method = s->refresh ? "oidc_refresh" : "oidc";
    pop_signin_count(method, r->name);
    if (r->unavailable)
        cmn_http_reply_unavailable(s->req, 2, "the identity provider's keys are not loaded yet");
    else if (!r->ok) {
        evhttp_add_header(evhttp_request_get_output_headers(s->req), "WWW-Authenticate",
                          "Bearer realm=\"callbus pop\", error=\"invalid_token\"");
        cmn_http_reply_error(s->req, 401, r->name, "id_token");
    } else {
        int64_t until_ms = (r->exp_s + s->o->cfg->oidc_grace_s) * 1000;
        pop_login_t who = {r->agent, s->has_provider ? s->provider_id : NULL,
                           s->has_extension ? s->extension : NULL, until_ms};
        if (s->refresh)
            pop_api_extend_session(s->o->api, s->req, r->agent, until_ms);
        else
            (void)pop_api_open_session(s->o->api, s->req, &who); /* it answered either way */
    }
    free(s);
}

/* Copies an optional id field; -1 when present but not a visible ASCII id. */
static int take_id(const json_t *body, const char *name, char *out, size_t outsz, int *has)
{
    const json_t *v = json_object_get(body, name);
    *has = v != NULL;
    if (!v)
        return 0;
    if (!cmn_id_text_ok(json_string_value(v), outsz - 1))
        return -1;
    snprintf(out, outsz, "%s", json_string_value(v));
    return 0;
}

static void signin(pop_api_oidc_t *o, struct evhttp_request *req, int refresh)
{
    if (!o->oidc) {
        cmn_http_reply_error(req, 404, "OpenID Connect sign-in is off (CALLBUS_POP_OIDC_ISSUER)",
                             NULL);
        return;
    }
    if (!cmn_http_require_json(req))
        return;
    json_t *body = pop_api_body_object(req);
    const char *token = json_string_value(json_object_get(body, "id_token"));
    signin_t *s = body && token ? calloc(1, sizeof *s) : NULL;
    const char *bad = !body    ? "body must be a JSON object"
                      : !token ? "id_token missing"
                      : !s     ? "out of memory"
                               : NULL;
    if (s && (take_id(body, "provider_agent_id", s->provider_id, sizeof s->provider_id,
                      &s->has_provider) < 0 ||
              take_id(body, "extension", s->extension, sizeof s->extension, &s->has_extension) < 0))
        bad = "provider_agent_id and extension must be visible ASCII ids";
    if (bad) {
        cmn_http_reply_error(req, 400, bad, NULL);
        free(s);
        json_decref(body);
        return;
    }
    s->o = o;
    s->req = req;
    s->refresh = refresh;
    pop_oidc_verify(o->oidc, token, on_verified, s);
    json_decref(body);
}

static void on_signin(struct evhttp_request *req, const char *path, void *arg)
{
    signin(arg, req, 0);
}

static void on_refresh(struct evhttp_request *req, const char *path, void *arg)
{
    signin(arg, req, 1);
}

/* The admin listener is off the internet (docs/operations.md); revoking
 * also takes the provisioning secret, which can already log any agent in
 * (and so end their session): it grants no new power, and the metrics
 * scrapers that reach the admin port cannot end anyone's session. */
static void on_revoke(struct evhttp_request *req, const char *path, void *arg)
{
    pop_api_oidc_t *o = arg;
    const char *secret = o->cfg->provisioning_secret;
    if (!*secret || cmn_auth_bearer_match(secret, o->cfg->provisioning_secret_previous,
                                          cmn_http_header(req, "Authorization")) == CMN_AUTH_NONE) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
                          "Bearer realm=\"callbus pop provisioning\"");
        cmn_http_reply_error(req, 401, "provisioning secret required", NULL);
        return;
    }
    if (!cmn_http_require_json(req))
        return;
    json_t *body = pop_api_body_object(req);
    const char *agent = json_string_value(json_object_get(body, "agent_crm_id"));
    if (!cmn_id_text_ok(agent, CMN_CRM_ID_MAX))
        cmn_http_reply_error(req, 400, "missing or invalid (visible ASCII id)", "agent_crm_id");
    else
        pop_api_revoke(o->api, req, agent);
    json_decref(body);
}

pop_api_oidc_t *pop_api_oidc_new(cmn_http_t *http, cmn_http_t *admin, const pop_config_t *cfg,
                                 pop_api_t *api, pop_oidc_t *oidc)
{
    pop_api_oidc_t *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    *o = (pop_api_oidc_t){cfg, api, oidc};
    if (cmn_http_route(http, "auth_config", "/v1/auth/config", CMN_HTTP_GET, on_config, o) < 0 ||
        cmn_http_route(http, "session_oidc", "/v1/sessions/oidc", CMN_HTTP_POST, on_signin, o) <
            0 ||
        cmn_http_route(http, "session_oidc_refresh", "/v1/sessions/oidc/refresh", CMN_HTTP_POST,
                       on_refresh, o) < 0 ||
        cmn_http_route(admin, "admin_session_revoke", "/admin/sessions/revoke", CMN_HTTP_POST,
                       on_revoke, o) < 0) {
        free(o);
        return NULL;
    }
    return o;
}

void pop_api_oidc_free(pop_api_oidc_t *o)
{
    free(o);
}
