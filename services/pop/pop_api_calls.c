/* POST /v1/calls: click-to-call for the signed-in agent (pop_api_calls.h). */
#include "pop_api_calls.h"

#include "cmn_event.h"

#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pop_api_calls {
    pop_api_t *api;
    pop_dial_t *dial;
    size_t in_flight;
};

/* One request: waiting for the session, then for the provider. */
typedef struct {
    pop_api_calls_t *o;
    struct evhttp_request *req;
    char number[64];
    char ticket[CMN_CRM_ID_MAX + 1]; /* "" none */
} dial_req_t;

static void reply(struct evhttp_request *req, int status, json_t *body)
{
    json_t *retry = json_object_get(body, "retry_after_s");
    if (status == 429 && json_is_integer(retry)) {
        char v[24];
        snprintf(v, sizeof v, "%lld", (long long)json_integer_value(retry));
        evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", v);
    }
    if (body)
        cmn_http_reply_json(req, status, body);
    else
        cmn_http_reply_unavailable(req, 1, "out of memory");
}

static void done(dial_req_t *r)
{
    r->o->in_flight--;
    free(r);
}

static void on_placed(void *ctx, int status, json_t *body)
{
    dial_req_t *r = ctx;
    reply(r->req, status, body);
    done(r);
}

static void on_agent(void *ctx, const pop_session_info_t *who)
{
    dial_req_t *r = ctx;
    json_t *refusal = NULL;
    if (!who) { /* answered already (401, 503) */
        done(r);
        return;
    }
    int status = pop_dial_place(r->o->dial, who->crm_id, r->number, *r->ticket ? r->ticket : NULL,
                                on_placed, r, &refusal);
    if (status == 0)
        return;
    reply(r->req, status, refusal);
    done(r);
}

/* The ticket id as the pop shows it: a string, or a CRM's integer id. */
static int ticket_of(const json_t *v, char *out, size_t outsz)
{
    if (!v || json_is_null(v)) {
        *out = '\0';
        return 0;
    }
    if (json_is_integer(v) && json_integer_value(v) > 0)
        snprintf(out, outsz, "%lld", (long long)json_integer_value(v));
    else if (json_is_string(v) && cmn_id_text_ok(json_string_value(v), CMN_CRM_ID_MAX))
        snprintf(out, outsz, "%s", json_string_value(v));
    else
        return -1;
    return 0;
}

static void on_calls(struct evhttp_request *req, const char *path, void *arg)
{
    pop_api_calls_t *o = arg;
    (void)path;
    if (!cmn_http_require_json(req))
        return;
    if (!o->dial) {
        cmn_http_reply_error(req, 501, "click-to-call is off (CALLBUS_POP_DIAL_PROVIDER)", NULL);
        return;
    }
    dial_req_t *r = calloc(1, sizeof *r);
    if (!r) {
        cmn_http_reply_unavailable(req, 1, "out of memory");
        return;
    }
    json_t *b = pop_api_body_object(req);
    const char *number = json_string_value(json_object_get(b, "number"));
    const char *bad = !b ? "body must be a JSON object"
                      : !number || !*number || strlen(number) >= sizeof r->number
                          ? "number: missing or too long"
                      : ticket_of(json_object_get(b, "ticket_id"), r->ticket, sizeof r->ticket) < 0
                          ? "ticket_id: not a CRM id"
                          : NULL;
    if (bad) {
        cmn_http_reply_error(req, 400, bad, NULL);
        free(r);
        json_decref(b);
        return;
    }
    snprintf(r->number, sizeof r->number, "%s", number);
    json_decref(b);
    r->o = o;
    r->req = req;
    o->in_flight++;
    if (pop_api_with_agent(o->api, req, on_agent, r) < 0)
        done(r);
}

pop_api_calls_t *pop_api_calls_new(cmn_http_t *http, pop_api_t *api, pop_dial_t *dial)
{
    pop_api_calls_t *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    o->api = api;
    o->dial = dial;
    if (cmn_http_route(http, "calls", "/v1/calls", CMN_HTTP_POST, on_calls, o) < 0) {
        free(o);
        return NULL;
    }
    return o;
}

size_t pop_api_calls_in_flight(const pop_api_calls_t *o)
{
    return o ? o->in_flight : 0;
}

void pop_api_calls_free(pop_api_calls_t *o)
{
    free(o);
}
