/* CallGear's Call API (JSON-RPC 2.0 over HTTPS, POST only): the method
 * start.employee_call rings the employee first (first_call "employee"),
 * then the contact, and switches them at once when the contact answers.
 * Its `external_id` is echoed by every notification of the call
 * ({{external_id}} in the notification body, BEHAVIOUR.md §10), which
 * ingest already reads as the canonical event's ticket_id: so the ticket
 * the agent called from rides with the call itself (R-O1) and nothing has
 * to be remembered between the click and the webhooks.
 *
 * Numbers go as CallGear writes them: E.164 digits without the '+'. The
 * answer is {"result": {"data": {"call_session_id": N}}} or
 * {"error": {"code", "message", "data": {"mnemonic", ...}}}. */
#include "pop_dial_provider.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CG_CONTENT_TYPE "application/json; charset=UTF-8"

static const char *digits(const char *e164)
{
    return e164 && e164[0] == '+' ? e164 + 1 : e164;
}

static const char *missing(const pop_dial_account_t *a)
{
    return !*a->token       ? "CALLBUS_POP_DIAL_TOKEN"
           : !*a->caller_id ? "CALLBUS_POP_DIAL_CALLER_ID"
                            : NULL;
}

static int build(const pop_dial_account_t *a, const pop_dial_call_t *c, pop_dial_req_t *out,
                 char *errstr, size_t errsz)
{
    char *end;
    errno = 0;
    long long employee = strtoll(c->operator_id, &end, 10);
    if (!*c->operator_id || *end || errno || employee <= 0) {
        snprintf(errstr, errsz, "the agent's CallGear employee id \"%s\" is not a number",
                 c->operator_id);
        return -1;
    }
    json_t *params =
        json_pack("{s:s, s:s, s:b, s:s, s:s, s:{s:I}}", "access_token", a->token, "first_call",
                  "employee", "switch_at_once", 1, "virtual_phone_number", digits(a->caller_id),
                  "contact", digits(c->number), "employee", "id", (json_int_t)employee);
    if (params && c->ticket_id && *c->ticket_id &&
        json_object_set_new(params, "external_id", json_string(c->ticket_id)) < 0)
        json_decref(params), params = NULL;
    json_t *rpc = params ? json_pack("{s:s, s:s, s:s, s:o}", "jsonrpc", "2.0", "id", c->request_id,
                                     "method", "start.employee_call", "params", params)
                         : NULL;
    *out = (pop_dial_req_t){.content_type = CG_CONTENT_TYPE};
    out->body = rpc ? json_dumps(rpc, JSON_COMPACT) : NULL;
    out->url = strdup(a->api_url);
    json_decref(rpc);
    if (!out->body || !out->url) {
        pop_dial_req_clear(out);
        snprintf(errstr, errsz, "out of memory");
        return -1;
    }
    return 0;
}

/* JSON-RPC error codes as the Call API uses them: the standard ones for a
 * malformed request, -32001..-32099 for its own (authentication, access,
 * limits). The mnemonic says which more precisely. */
static int status_of_error(long long code, const char *mnemonic)
{
    if (code == -32029 || (mnemonic && strstr(mnemonic, "limit")))
        return 429;
    if (code == -32602 || code == -32600)
        return 422; /* the number, the employee, the virtual number: the request's */
    return 502;     /* our token, our access, a method the account lacks, their fault */
}

static void parse(int http_status, const char *body, pop_dial_result_t *out)
{
    char code[48];
    json_t *doc = body && *body ? json_loads(body, 0, NULL) : NULL;
    json_t *id =
        json_object_get(json_object_get(json_object_get(doc, "result"), "data"), "call_session_id");
    json_t *err = json_object_get(doc, "error");
    memset(out, 0, sizeof *out);
    out->retry_after_s = -1;
    if (http_status >= 200 && http_status < 300 && (json_is_integer(id) || json_is_string(id))) {
        out->placed = 1;
        if (json_is_integer(id))
            snprintf(out->call_id, sizeof out->call_id, "%lld", (long long)json_integer_value(id));
        else
            snprintf(out->call_id, sizeof out->call_id, "%s", json_string_value(id));
    } else if (json_is_object(err)) {
        long long c = json_integer_value(json_object_get(err, "code"));
        const char *msg = json_string_value(json_object_get(err, "message"));
        const char *mnemonic =
            json_string_value(json_object_get(json_object_get(err, "data"), "mnemonic"));
        snprintf(code, sizeof code, "%lld%s%s", c, mnemonic ? " " : "", mnemonic ? mnemonic : "");
        pop_dial_refused(out, status_of_error(c, mnemonic), code,
                         msg ? msg : "CallGear refused the call");
    } else {
        snprintf(code, sizeof code, "http %d", http_status);
        pop_dial_refused(out, pop_dial_status_for(http_status), code,
                         http_status ? "CallGear's answer is not a Call API result"
                                     : (body && *body ? body : "CallGear did not answer"));
    }
    json_decref(doc);
}

const pop_dial_provider_t pop_dial_callgear = {
    .name = "callgear",
    .default_url = "https://callapi.callgear.com/v4.0",
    .build = build,
    .parse = parse,
    .missing = missing,
};
