/* Twilio's REST Calls resource: POST /2010-04-01/Accounts/{Sid}/Calls.json
 * (form-encoded, Basic auth with the Account SID and auth token, or an API
 * key's SID and secret). The call first rings the agent's Twilio Client
 * (To=client:<identity>); when the agent picks up, Twilio runs the inline
 * TwiML (the Twiml parameter: no TwiML server of ours), which dials the
 * customer.
 *
 * Both legs report to ingest's Twilio route: the agent's through
 * StatusCallback, the customer's through the <Number>'s statusCallback. The
 * URL carries ?ticket_id=<the ticket the agent called from> (R-O1), the
 * customer and the agent's Client identity: Twilio posts to the URL as
 * given and signs it whole, query included, and ingest's Twilio normaliser
 * fills each leg's event with what the leg itself does not say. */
#include "pop_dial_provider.h"

#include <event2/http.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TW_CONTENT_TYPE "application/x-www-form-urlencoded"
#define TW_EVENTS "initiated ringing answered completed"

static const char *missing(const pop_dial_account_t *a)
{
    return !*a->account           ? "CALLBUS_POP_DIAL_ACCOUNT"
           : !*a->token           ? "CALLBUS_POP_DIAL_TOKEN"
           : !*a->caller_id       ? "CALLBUS_POP_DIAL_CALLER_ID"
           : !*a->status_callback ? "CALLBUS_POP_DIAL_STATUS_CALLBACK_URL"
                                  : NULL;
}

/* Appends "&name=value" (value percent-encoded) to a growing form. */
static int form_add(char **form, size_t *len, const char *name, const char *value)
{
    char *v = evhttp_encode_uri(value);
    size_t add = strlen(name) + (v ? strlen(v) : 0) + 2;
    char *grown = v ? realloc(*form, *len + add + 1) : NULL;
    if (!grown) {
        free(v);
        return -1;
    }
    *form = grown;
    *len += (size_t)snprintf(grown + *len, add + 1, "%s%s=%s", *len ? "&" : "", name, v);
    free(v);
    return 0;
}

/* The text with &, <, >, " written as XML entities, in a new string. */
static char *xml_escape(const char *s)
{
    size_t n = 1;
    for (const char *p = s; *p; p++)
        n += *p == '&' ? 5 : *p == '<' || *p == '>' ? 4 : *p == '"' ? 6 : 1;
    char *out = malloc(n), *o = out;
    for (const char *p = s; out && *p; p++) {
        const char *e = *p == '&'   ? "&amp;"
                        : *p == '<' ? "&lt;"
                        : *p == '>' ? "&gt;"
                        : *p == '"' ? "&quot;"
                                    : NULL;
        if (e)
            o += sprintf(o, "%s", e);
        else
            *o++ = *p;
    }
    if (out)
        *o = '\0';
    return out;
}

/* ingest's status callback URL with what the legs' callbacks cannot say
 * themselves (ing_twilio.h, ing_twilio_url_params): the ticket, the
 * customer (the agent's leg has no number of theirs), the agent's Client
 * (the customer's leg names no agent). */
static char *callback_url(const pop_dial_account_t *a, const pop_dial_call_t *c)
{
    char *q = NULL, *url = NULL;
    size_t len = 0;
    if ((c->ticket_id && *c->ticket_id && form_add(&q, &len, "ticket_id", c->ticket_id) < 0) ||
        form_add(&q, &len, "customer", c->number) < 0 ||
        form_add(&q, &len, "client", c->operator_id) < 0)
        goto done;
    size_t n = strlen(a->status_callback) + len + 2;
    if ((url = malloc(n)))
        snprintf(url, n, "%s%c%s", a->status_callback, strchr(a->status_callback, '?') ? '&' : '?',
                 q);
done:
    free(q);
    return url;
}

static char *twiml(const pop_dial_account_t *a, const pop_dial_call_t *c, const char *callback)
{
    char *cb = xml_escape(callback), *from = xml_escape(a->caller_id), *to = xml_escape(c->number);
    char *out = NULL;
    if (cb && from && to) {
        const char *fmt = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Dial "
                          "callerId=\"%s\"><Number statusCallbackEvent=\"" TW_EVENTS
                          "\" statusCallback=\"%s\" statusCallbackMethod=\"POST\">%s</Number>"
                          "</Dial></Response>";
        size_t n = strlen(fmt) + strlen(cb) + strlen(from) + strlen(to);
        if ((out = malloc(n)))
            snprintf(out, n, fmt, from, cb, to);
    }
    free(cb);
    free(from);
    free(to);
    return out;
}

static int build(const pop_dial_account_t *a, const pop_dial_call_t *c, pop_dial_req_t *out,
                 char *errstr, size_t errsz)
{
    static const char *const events[] = {"initiated", "ringing", "answered", "completed"};
    char client[160];
    size_t len = 0;
    int rc = -1;
    char *cb = callback_url(a, c), *tw = cb ? twiml(a, c, cb) : NULL;
    *out = (pop_dial_req_t){.content_type = TW_CONTENT_TYPE};
    snprintf(client, sizeof client, "client:%s", c->operator_id);
    if (!tw || form_add(&out->body, &len, "To", client) < 0 ||
        form_add(&out->body, &len, "From", a->caller_id) < 0 ||
        form_add(&out->body, &len, "Twiml", tw) < 0 ||
        form_add(&out->body, &len, "StatusCallback", cb) < 0 ||
        form_add(&out->body, &len, "StatusCallbackMethod", "POST") < 0)
        goto done;
    for (size_t i = 0; i < sizeof events / sizeof events[0]; i++)
        if (form_add(&out->body, &len, "StatusCallbackEvent", events[i]) < 0)
            goto done;
    size_t n = strlen(a->api_url) + strlen(a->account) + 48;
    if (!(out->url = malloc(n)))
        goto done;
    snprintf(out->url, n, "%s/2010-04-01/Accounts/%s/Calls.json", a->api_url, a->account);
    out->user = strdup(*a->key_sid ? a->key_sid : a->account);
    out->password = strdup(a->token);
    rc = out->user && out->password ? 0 : -1;
done:
    free(cb);
    free(tw);
    if (rc < 0) {
        pop_dial_req_clear(out);
        snprintf(errstr, errsz, "out of memory");
    }
    return rc;
}

/* 201 {"sid": "CA...", "status": "queued", ...}, or an error
 * {"code": 21211, "message": "...", "more_info": "...", "status": 400}. */
static void parse(int http_status, const char *body, pop_dial_result_t *out)
{
    char code[48];
    json_t *doc = body && *body ? json_loads(body, 0, NULL) : NULL;
    const char *sid = json_string_value(json_object_get(doc, "sid"));
    const char *msg = json_string_value(json_object_get(doc, "message"));
    json_t *c = json_object_get(doc, "code");
    memset(out, 0, sizeof *out);
    out->retry_after_s = -1;
    if (http_status >= 200 && http_status < 300 && sid && *sid) {
        out->placed = 1;
        snprintf(out->call_id, sizeof out->call_id, "%s", sid);
    } else {
        if (json_is_integer(c))
            snprintf(code, sizeof code, "%lld", (long long)json_integer_value(c));
        else
            snprintf(code, sizeof code, "http %d", http_status);
        int status = json_integer_value(c) == 20429 ? 429 : pop_dial_status_for(http_status);
        pop_dial_refused(out, status, code,
                         msg           ? msg
                         : http_status ? "Twilio's answer is not a Call resource"
                                       : (body && *body ? body : "Twilio did not answer"));
    }
    json_decref(doc);
}

const pop_dial_provider_t pop_dial_twilio = {
    .name = "twilio",
    .default_url = "https://api.twilio.com",
    .build = build,
    .parse = parse,
    .missing = missing,
};
