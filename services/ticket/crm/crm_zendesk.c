/* Zendesk Support adapter: our operations as Zendesk's REST requests and
 * Zendesk's limits; the op machinery (requests through the rate limiter,
 * retries, 429s, creation safety, shutdown) is the shared layer's
 * (crm/crm_adapter.h). Multi-request ops chain step functions:
 * show_ticket -> audits, update_many -> job polls, comments -> next page. */
#include "crm_zendesk.h"
#include "cmn_log.h"
#include "cmn_metrics.h"
#include "cmn_time.h"
#include "crm_adapter.h"
#include "crm_curl.h"
#include "crm_ratelimit.h"
#include "tkt_failure.h"

#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ZD_MAX_PAGES 50 /* comments / audits pages followed */
#define ZD_USER_LEN 320

typedef struct zd zd_t;

struct zd {
    crm_adapter_t *a;
    char *base_url;
    crm_zendesk_cfg_t cfg;
};

static zd_t *zd_of(const tkt_crm_t *crm)
{
    return crm_adapter_impl(crm_adapter_of(crm));
}

#define ZD(op) ((zd_t *)crm_adapter_impl((op)->adapter))

/* ----------------------------------------------------------- small helpers */

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
        crm_copy_str(out, outsz, json_string_value(v));
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

/* Zendesk's error envelope: {"error": "...", "description": "...",
 * "details": {field: [{"description": ...}]}} into one line. */
static void describe_error(const crm_curl_resp_t *resp, json_t *j, int exhausted, char *out,
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
                crm_copy_str(details, sizeof details, dd);
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

/* -------------------------------------------------- layer hooks */

/* The account budget is spent when the remaining count says 0 (or is
 * absent): everything pauses. A 429 with budget left is a limit of this
 * endpoint or ticket (Update Ticket 100/min, 30 updates per ticket per
 * 10 min, TooManyJobs): only this request waits. */
static crm_rl_kind_t zd_classify_429(void *impl, const crm_curl_resp_t *resp)
{
    (void)impl;
    return resp->rate_remaining > 0 ? CRM_RL_WAIT : CRM_RL_PAUSE;
}

/* Creation safety: the ticket a lost create_ticket POST may have made. */
static char *zd_verify_url(void *impl, const crm_op_t *op)
{
    zd_t *zd = impl;
    char *esc = url_escape(op->external_id);
    char *url =
        esc ? crm_str_printf("%s/api/v2/tickets.json?external_id=%s", zd->base_url, esc) : NULL;
    free(esc);
    return url;
}

static int zd_verify_found(void *impl, const crm_curl_resp_t *resp, json_t **found)
{
    (void)impl;
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

static const char *const zd_headers[] = {"Accept: application/json", NULL};

static const crm_desc_t zd_desc = {
    .name = "zendesk",
    .headers = zd_headers,
    .classify_429 = zd_classify_429,
    .verify_url = zd_verify_url,
    .verify_found = zd_verify_found,
};

/* ---------------------------------------------------- parsing answers */

static void parse_ticket(json_t *t, tkt_crm_ticket_t *out)
{
    memset(out, 0, sizeof *out);
    json_id(json_object_get(t, "id"), out->id, sizeof out->id);
    out->status = tkt_status_parse(json_string_value(json_object_get(t, "status")));
    crm_copy_str(out->subject, sizeof out->subject,
                 json_string_value(json_object_get(t, "subject")));
    json_id(json_object_get(t, "assignee_id"), out->assignee_id, sizeof out->assignee_id);
    json_id(json_object_get(t, "requester_id"), out->requester_id, sizeof out->requester_id);
    crm_copy_str(out->external_id, sizeof out->external_id,
                 json_string_value(json_object_get(t, "external_id")));
    out->created_at_ms = json_time(json_object_get(t, "created_at"));
    out->updated_at_ms = json_time(json_object_get(t, "updated_at"));
}

static void parse_contact(json_t *u, tkt_crm_contact_t *out)
{
    memset(out, 0, sizeof *out);
    json_id(json_object_get(u, "id"), out->id, sizeof out->id);
    crm_copy_str(out->name, sizeof out->name, json_string_value(json_object_get(u, "name")));
    crm_copy_str(out->email, sizeof out->email, json_string_value(json_object_get(u, "email")));
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
static void fail_from(crm_op_t *op, const crm_curl_resp_t *resp, json_t *j, int exhausted)
{
    tkt_crm_result_t *res = op->res;
    res->ok = 0;
    res->http_status = resp->status;
    res->not_found = resp->status == 404;
    res->closed = is_closed_refusal(resp->status, resp->body);
    describe_error(resp, j, exhausted, res->error, sizeof res->error);
    if (resp->status == 401 || resp->status == 403)
        LOG_ERROR("zendesk %s: %s (check the e-mail / API token)", op->name, res->error);
    crm_op_finish(op);
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
    return api ? crm_str_printf("%s%s", zd->base_url, api) : NULL;
}

/* ------------------------------------------------------- find_contacts */

static void step_find_contacts(crm_op_t *op, const crm_curl_resp_t *resp, json_t *j, int exh)
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
    crm_op_succeed(op, resp);
}

static void zd_find_contacts(tkt_crm_t *crm, const char *phone, tkt_prio_t prio, tkt_crm_cb cb,
                             void *ctx)
{
    zd_t *zd = zd_of(crm);
    crm_op_t *op = crm_op_new(zd->a, "find_contacts", prio, cb, ctx);
    if (!op)
        return;
    char digits[TKT_PHONE_MAX * 2] = "";
    size_t n = 0;
    for (const char *p = phone ? phone : ""; *p && n + 1 < sizeof digits; p++)
        if (isdigit((unsigned char)*p))
            digits[n++] = *p;
    digits[n] = '\0';
    if (n == 0) {
        crm_op_refuse(op, "no digits in phone number");
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
        esc ? crm_str_printf("%s/api/v2/search.json?query=%s&sort_by=created_at&sort_order=desc",
                             zd->base_url, esc)
            : NULL;
    free(esc);
    crm_http_start(op, "find_contacts", "GET", url, NULL, step_find_contacts);
}

/* ------------------------------------------------------ create_contact */

static void step_user(crm_op_t *op, const crm_curl_resp_t *resp, json_t *j, int exh)
{
    if (resp->status != 200 && resp->status != 201) {
        fail_from(op, resp, j, exh);
        return;
    }
    json_t *u = json_object_get(j, "user");
    if (!json_is_object(u)) {
        crm_op_fail(op, "HTTP %d without a user", resp->status);
        return;
    }
    parse_contact(u, &op->res->contacts[0]);
    op->res->n_contacts = 1;
    crm_op_succeed(op, resp);
}

static void zd_create_contact(tkt_crm_t *crm, const char *phone, const char *name,
                              const char *external_id, tkt_crm_cb cb, void *ctx)
{
    zd_t *zd = zd_of(crm);
    crm_op_t *op = crm_op_new(zd->a, "create_contact", TKT_PRIO_CREATE, cb, ctx);
    if (!op)
        return;
    if (!phone || !*phone) {
        crm_op_refuse(op, "no phone number");
        return;
    }
    /* Zendesk requires a name; a caller we know nothing of is named by number. */
    json_t *user = json_object();
    json_object_set_new(user, "name", crm_json_str(name && *name ? name : phone));
    json_object_set_new(user, "role", json_string("end-user"));
    json_object_set_new(user, "phone", crm_json_str(phone));
    /* Unique per account in Zendesk: a second POST of the same contact is
     * refused (422) rather than making a duplicate. */
    if (external_id && *external_id)
        json_object_set_new(user, "external_id", crm_json_str(external_id));
    json_t *body = json_pack("{s:o}", "user", user);
    crm_http_start(op, "create_contact", "POST",
                   crm_str_printf("%s/api/v2/users.json", zd->base_url), crm_json_text(body),
                   step_user);
}

static void step_users(crm_op_t *op, const crm_curl_resp_t *resp, json_t *j, int exh)
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
    crm_op_succeed(op, resp);
}

/* --------------------------- search_contacts, add_contact_phone (issue 24) */

/* Search Users by what an agent typed (name, e-mail: Zendesk's search
 * syntax, end users only), at most one page of TKT_CRM_MAX_LIST. */
static void zd_search_contacts(tkt_crm_t *crm, const char *query, tkt_crm_cb cb, void *ctx)
{
    zd_t *zd = zd_of(crm);
    crm_op_t *op = crm_op_new(zd->a, "search_contacts", TKT_PRIO_INTERACTIVE, cb, ctx);
    if (!op)
        return;
    if (!query || !*query) {
        crm_op_refuse(op, "nothing to search for");
        return;
    }
    char *q = crm_str_printf("role:end-user %s", query);
    char *esc = q ? url_escape(q) : NULL;
    free(q);
    char *url = esc ? crm_str_printf("%s/api/v2/users/search.json?query=%s&per_page=%d",
                                     zd->base_url, esc, TKT_CRM_MAX_LIST)
                    : NULL;
    free(esc);
    crm_http_start(op, "search_contacts", "GET", url, NULL, step_users);
}

/* 201: added; 422 saying the value is taken: the user has it already (a
 * replay), or another user has it, which adding cannot change either. */
static void step_identity(crm_op_t *op, const crm_curl_resp_t *resp, json_t *j, int exh)
{
    if (resp->status == 201 || resp->status == 200 ||
        (resp->status == 422 && resp->body && strstr(resp->body, "taken"))) {
        crm_op_succeed(op, resp);
        return;
    }
    fail_from(op, resp, j, exh);
}

static void zd_add_contact_phone(tkt_crm_t *crm, const char *contact_id, const char *phone,
                                 tkt_crm_cb cb, void *ctx)
{
    zd_t *zd = zd_of(crm);
    crm_op_t *op = crm_op_new(zd->a, "add_contact_phone", TKT_PRIO_ENRICH, cb, ctx);
    if (!op)
        return;
    if (!is_id(contact_id) || !phone || !*phone) {
        crm_op_refuse(op, "contact id is not a Zendesk id, or no phone number");
        return;
    }
    /* Create Identity (User Identities API): a phone_number identity. */
    json_t *body = json_pack("{s:{s:s, s:o}}", "identity", "type", "phone_number", "value",
                             crm_json_str(phone));
    crm_http_start(op, "add_contact_phone", "POST",
                   crm_str_printf("%s/api/v2/users/%s/identities.json", zd->base_url, contact_id),
                   crm_json_text(body), step_identity);
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
            arr, json_pack("{s:I, s:o}", "id", fid, "value", crm_json_str(o->fields[i].value)));
    }
    return 0;
}

static json_t *tag_array(const tkt_op_t *o)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < o->n_tags && i < TKT_MAX_TAGS; i++)
        if (o->tags[i][0])
            json_array_append_new(arr, crm_json_str(o->tags[i]));
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
        json_pack("{s:o, s:b}", "body", crm_json_str(body), "public", o->public_comment ? 1 : 0));
}

/* The "ticket" object of a create (create=1) or an update / comment. */
static json_t *ticket_object(const tkt_op_t *o, int create, char *err, size_t errsz)
{
    json_t *t = json_object();
    json_int_t id;
    if (create) {
        if (o->subject[0])
            json_object_set_new(t, "subject", crm_json_str(o->subject));
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
            json_object_set_new(t, "external_id", crm_json_str(o->external_id));
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

static void step_ticket(crm_op_t *op, const crm_curl_resp_t *resp, json_t *j, int exh)
{
    if (resp->status != 200 && resp->status != 201) {
        fail_from(op, resp, j, exh);
        return;
    }
    json_t *t = json_object_get(j, "ticket");
    if (!json_is_object(t)) {
        crm_op_fail(op, "HTTP %d without a ticket", resp->status);
        return;
    }
    parse_ticket(t, &op->res->ticket);
    crm_op_succeed(op, resp);
}

static void zd_create_ticket(tkt_crm_t *crm, const tkt_op_t *o, tkt_crm_cb cb, void *ctx)
{
    zd_t *zd = zd_of(crm);
    crm_op_t *op = crm_op_new(zd->a, "create_ticket", TKT_PRIO_CREATE, cb, ctx);
    if (!op)
        return;
    char err[160] = "";
    json_t *t = o && o->kind == TKT_OP_CREATE_TICKET ? ticket_object(o, 1, err, sizeof err) : NULL;
    if (!t && !err[0] && o && o->kind == TKT_OP_CREATE_TICKET) { /* no message: memory */
        crm_op_fail_later(op, "out of memory");
        return;
    }
    if (!t) { /* a requester that is not Zendesk's, or not a creation: never */
        crm_op_refuse(op, "%s", err[0] ? err : "not a CREATE_TICKET op");
        return;
    }
    crm_copy_str(op->external_id, sizeof op->external_id, o->external_id);
    crm_op_verify_create(op);
    crm_http_start(op, "create_ticket", "POST",
                   crm_str_printf("%s/api/v2/tickets.json", zd->base_url),
                   crm_json_text(json_pack("{s:o}", "ticket", t)), step_ticket);
}

/* ------------------------------------------------- ticket_statuses */

static void step_statuses(crm_op_t *op, const crm_curl_resp_t *resp, json_t *j, int exh)
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
    crm_op_succeed(op, resp);
}

static void zd_ticket_statuses(tkt_crm_t *crm, const char *const *ids, size_t n, tkt_crm_cb cb,
                               void *ctx)
{
    zd_t *zd = zd_of(crm);
    crm_op_t *op = crm_op_new(zd->a, "ticket_statuses", TKT_PRIO_ENRICH, cb, ctx);
    char list[TKT_CRM_MAX_BULK * 24] = "";
    size_t len = 0;
    if (!op)
        return;
    if (n == 0 || n > TKT_CRM_MAX_BULK) {
        crm_op_fail_later(op, "ticket_statuses takes 1 to %d ids", TKT_CRM_MAX_BULK);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (!is_id(ids[i]) || len + strlen(ids[i]) + 2 >= sizeof list) {
            crm_op_refuse(op, "ticket id \"%s\" is not a Zendesk id", ids[i] ? ids[i] : "");
            return;
        }
        len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? "," : "", ids[i]);
        crm_copy_str(op->res->items[i].ticket_id, sizeof op->res->items[i].ticket_id, ids[i]);
    }
    op->res->n_items = n;
    crm_http_start(op, "ticket_statuses", "GET",
                   crm_str_printf("%s/api/v2/tickets/show_many.json?ids=%s", zd->base_url, list),
                   NULL, step_statuses);
}

/* ------------------------------------------------- find_by_external_id */

static void step_ticket_list(crm_op_t *op, const crm_curl_resp_t *resp, json_t *j, int exh)
{
    if (resp->status != 200) {
        fail_from(op, resp, j, exh);
        return;
    }
    parse_ticket_list(json_object_get(j, "tickets"), op->res);
    crm_op_succeed(op, resp);
}

/* Recovery of a creation (as urgent as creating): the records whose
 * external id is exactly `external_id`, at `path` (?external_id= takes ids,
 * no search syntax). */
static void get_by_external_id(tkt_crm_t *crm, const char *name, const char *path,
                               const char *external_id, crm_step_fn step, tkt_crm_cb cb, void *ctx)
{
    zd_t *zd = zd_of(crm);
    crm_op_t *op = crm_op_new(zd->a, name, TKT_PRIO_CREATE, cb, ctx);
    if (!op)
        return;
    if (!external_id || !*external_id) {
        crm_op_refuse(op, "empty external_id");
        return;
    }
    char *esc = url_escape(external_id);
    char *url = esc ? crm_str_printf("%s/api/v2/%s?external_id=%s", zd->base_url, path, esc) : NULL;
    free(esc);
    crm_http_start(op, name, "GET", url, NULL, step);
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

static void step_audits(crm_op_t *op, const crm_curl_resp_t *resp, json_t *j, int exh)
{
    if (resp->status != 200) {
        /* The ticket itself was read; say what failed. */
        op->res->ok = 0;
        op->res->http_status = resp->status;
        describe_error(resp, j, exh, op->res->error, sizeof op->res->error);
        crm_op_finish(op);
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
            crm_op_finish(op);
            return;
        }
    }
    char *next = ++op->pages < ZD_MAX_PAGES ? next_page_url(ZD(op), j) : NULL;
    if (next) {
        crm_http_start(op, "ticket_audits", "GET", next, NULL, step_audits);
        return;
    }
    /* Closed by a merge whose audit we cannot find: report the ticket as is. */
    LOG_WARN("zendesk ticket %s: closed_by_merge without a merge audit", op->ticket_id);
    op->res->ok = 1;
    crm_op_finish(op);
}

static void step_show(crm_op_t *op, const crm_curl_resp_t *resp, json_t *j, int exh)
{
    if (resp->status != 200) {
        fail_from(op, resp, j, exh);
        return;
    }
    json_t *t = json_object_get(j, "ticket");
    if (!json_is_object(t)) {
        crm_op_fail(op, "HTTP 200 without a ticket");
        return;
    }
    parse_ticket(t, &op->res->ticket);
    op->res->http_status = resp->status;
    if (op->res->ticket.status == TKT_ST_CLOSED && has_tag(t, "closed_by_merge")) {
        /* Newest first: the merge is the ticket's last change. */
        crm_http_start(op, "ticket_audits", "GET",
                       crm_str_printf("%s/api/v2/tickets/%s/audits.json?sort_order=desc",
                                      ZD(op)->base_url, op->ticket_id),
                       NULL, step_audits);
        return;
    }
    op->res->ok = 1;
    crm_op_finish(op);
}

static void zd_show_ticket(tkt_crm_t *crm, const char *ticket_id, tkt_prio_t prio, tkt_crm_cb cb,
                           void *ctx)
{
    zd_t *zd = zd_of(crm);
    crm_op_t *op = crm_op_new(zd->a, "show_ticket", prio, cb, ctx);
    if (!op)
        return;
    if (!is_id(ticket_id)) {
        crm_op_refuse(op, "ticket id \"%s\" is not a Zendesk id", ticket_id ? ticket_id : "");
        return;
    }
    crm_copy_str(op->ticket_id, sizeof op->ticket_id, ticket_id);
    crm_http_start(op, "show_ticket", "GET",
                   crm_str_printf("%s/api/v2/tickets/%s.json", zd->base_url, ticket_id), NULL,
                   step_show);
}

/* ------------------------------------------------------- update_ticket */

static void zd_update_ticket(tkt_crm_t *crm, const tkt_op_t *o, tkt_crm_cb cb, void *ctx)
{
    zd_t *zd = zd_of(crm);
    crm_op_t *op = crm_op_new(zd->a, "update_ticket", TKT_PRIO_ENRICH, cb, ctx);
    if (!op)
        return;
    if (!o || (o->kind != TKT_OP_COMMENT && o->kind != TKT_OP_UPDATE)) {
        crm_op_refuse(op, "not a COMMENT or UPDATE op");
        return;
    }
    if (!is_id(o->ticket_id)) {
        crm_op_refuse(op, "ticket id \"%s\" is not a Zendesk id", o->ticket_id);
        return;
    }
    char err[160] = "";
    json_t *t = ticket_object(o, 0, err, sizeof err);
    if (!t && !err[0]) { /* no message: memory */
        crm_op_fail_later(op, "out of memory");
        return;
    }
    if (!t) {
        crm_op_refuse(op, "%s", err);
        return;
    }
    crm_copy_str(op->ticket_id, sizeof op->ticket_id, o->ticket_id);
    crm_http_start(op, "update_ticket", "PUT",
                   crm_str_printf("%s/api/v2/tickets/%s.json", zd->base_url, o->ticket_id),
                   crm_json_text(json_pack("{s:o}", "ticket", t)), step_ticket);
}

/* --------------------------------------------------------- bulk_update */

static void step_job(crm_op_t *op, const crm_curl_resp_t *resp, json_t *j, int exh);

/* maybe_applied: the request reached Zendesk (or may have) and nothing says
 * whether its job ran: the caller must not send the items again unchecked. */
static void bulk_fail_items(crm_op_t *op, const char *error, int retryable, int maybe_applied)
{
    for (size_t k = 0; k < op->n_sent; k++) {
        tkt_crm_item_t *it = &op->res->items[op->slot[k]];
        it->ok = 0;
        it->retryable = retryable;
        it->maybe_applied = maybe_applied;
        crm_copy_str(it->error, sizeof it->error, error);
    }
}

static void step_jobs(crm_op_t *op, const crm_curl_resp_t *resp, json_t *j, int exh);

static void poll_job_now(crm_op_t *op)
{
    if (op->job_ids) {
        crm_http_start(op, "job_status", "GET",
                       crm_str_printf("%s/api/v2/job_statuses/show_many.json?ids=%s",
                                      ZD(op)->base_url, op->job_ids),
                       NULL, step_jobs);
        return;
    }
    crm_http_start(op, "job_status", "GET",
                   crm_str_printf("%s/api/v2/job_statuses/%s.json", ZD(op)->base_url, op->job_id),
                   NULL, step_job);
}

/* The next read of the op's job (bulk_update) or jobs (await_jobs), with
 * backoff, until job_timeout_ms. */
static void poll_job_later(crm_op_t *op)
{
    zd_t *zd = ZD(op);
    int expired = cmn_time_mono_ms() - op->job_started_ms > zd->cfg.job_timeout_ms;
    if (expired && op->job_ids) {
        crm_op_fail(op, "jobs %s still running after %d ms", op->job_ids, zd->cfg.job_timeout_ms);
        return;
    }
    if (expired) {
        /* The job may still run: whether its items were applied is unknown. */
        bulk_fail_items(op, "bulk job did not finish in time", 1, 1);
        op->res->ok = 0;
        snprintf(op->res->error, sizeof op->res->error, "job %s did not finish in %d ms",
                 op->job_id, zd->cfg.job_timeout_ms);
        crm_op_finish(op);
        return;
    }
    crm_op_after(op, op->poll_delay_ms, poll_job_now);
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

static void bulk_map_results(crm_op_t *op, json_t *results)
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
        crm_copy_str(it->error, sizeof it->error, "not in the job's results");
    }
}

/* create_many's results name the created records by the index of the item
 * that made them (CreateResourceResult: index and id; FailedResult: index,
 * error, details). An item with no result: nothing says whether it exists. */
static void create_map_results(crm_op_t *op, json_t *results)
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
            crm_copy_str(it->error, sizeof it->error, "created without an id in the job's results");
        }
    }
    for (size_t k = 0; k < op->n_sent; k++) {
        if (seen[k])
            continue;
        tkt_crm_item_t *it = &res->items[op->slot[k]];
        it->ok = 0;
        it->retryable = 1;
        it->maybe_applied = 1;
        crm_copy_str(it->error, sizeof it->error, "not in the job's results");
    }
}

static void step_job(crm_op_t *op, const crm_curl_resp_t *resp, json_t *j, int exh)
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
        crm_op_finish(op);
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
        crm_op_finish(op);
        return;
    }
    poll_job_later(op);
}

static void step_update_many(crm_op_t *op, const crm_curl_resp_t *resp, json_t *j, int exh)
{
    if (resp->status != 200) {
        char err[256];
        describe_error(resp, j, exh, err, sizeof err);
        int unclear = resp->status == 0 || resp->status >= 500;
        bulk_fail_items(op, err, tkt_failure_status_transient(resp->status), unclear);
        op->res->ok = 0;
        op->res->http_status = resp->status;
        crm_copy_str(op->res->error, sizeof op->res->error, err);
        crm_op_finish(op);
        return;
    }
    json_t *js = json_object_get(j, "job_status");
    const char *id = json_string_value(json_object_get(js, "id"));
    if (!id || !*id || strlen(id) >= sizeof op->job_id) {
        bulk_fail_items(op, "update_many answered without a job id", 1, 1);
        crm_op_fail(op, "update_many answered without a job id");
        return;
    }
    for (const char *p = id; *p; p++)
        if (!isalnum((unsigned char)*p)) {
            bulk_fail_items(op, "unexpected job id", 1, 1);
            crm_op_fail(op, "unexpected job id");
            return;
        }
    crm_copy_str(op->job_id, sizeof op->job_id, id);
    if (op->on_job) /* before the job may run: the caller stores it */
        op->on_job(op->ctx, op->job_id);
    op->job_started_ms = cmn_time_mono_ms();
    op->poll_delay_ms = ZD(op)->cfg.job_poll_first_ms;
    poll_job_later(op);
}

/* ---------------------------------------------------------- await_jobs */

/* Zendesk's job ids: hex, or "V3-" and hex; nothing that needs escaping. */
static int is_job_id(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n >= sizeof((crm_op_t *)0)->job_id)
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
static void step_jobs(crm_op_t *op, const crm_curl_resp_t *resp, json_t *j, int exh)
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
            crm_op_fail(op, "out of memory");
            return;
        }
        ids = more;
        len += (size_t)sprintf(ids + len, "%s%s", len ? "," : "", id);
    }
    free(op->job_ids);
    op->job_ids = ids;
    if (!ids) {
        crm_op_succeed(op, resp);
        return;
    }
    poll_job_later(op);
}

static void zd_await_jobs(tkt_crm_t *crm, const char *const *ids, size_t n, tkt_crm_cb cb,
                          void *ctx)
{
    zd_t *zd = zd_of(crm);
    crm_op_t *op = crm_op_new(zd->a, "await_jobs", TKT_PRIO_ENRICH, cb, ctx);
    if (!op)
        return;
    op->job_started_ms = cmn_time_mono_ms();
    op->poll_delay_ms = zd->cfg.job_poll_first_ms;
    if (n == 0) {
        /* Ids unknown (the answer that named them was lost): the account's
         * recent jobs, newest first; ours, if it is still to run, is among
         * the queued or working ones (at most 30 per account). */
        crm_http_start(op, "job_status", "GET",
                       crm_str_printf("%s/api/v2/job_statuses.json", zd->base_url), NULL,
                       step_jobs);
        return;
    }
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += strlen(ids[i]) + 1;
    op->job_ids = malloc(len + 1);
    if (!op->job_ids) {
        crm_op_fail_later(op, "out of memory");
        return;
    }
    op->job_ids[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (!is_job_id(ids[i])) {
            crm_op_fail_later(op, "unexpected job id");
            return;
        }
        strcat(strcat(op->job_ids, i ? "," : ""), ids[i]);
    }
    poll_job_now(op);
}

static void zd_bulk_update(tkt_crm_t *crm, const tkt_op_t *ops, size_t n, tkt_crm_job_fn on_job,
                           tkt_crm_cb cb, void *ctx)
{
    zd_t *zd = zd_of(crm);
    crm_op_t *op = crm_op_new(zd->a, "bulk_update", TKT_PRIO_ENRICH, cb, ctx);
    if (!op)
        return;
    op->on_job = on_job;
    if (n == 0 || n > TKT_CRM_MAX_BULK || !ops) {
        crm_op_fail_later(op, "bulk_update takes 1 to %d ops, not %zu", TKT_CRM_MAX_BULK, n);
        return;
    }
    tkt_crm_result_t *res = op->res;
    json_t *tickets = json_array();
    res->n_items = n;
    for (size_t i = 0; i < n; i++) {
        tkt_crm_item_t *it = &res->items[i];
        crm_copy_str(it->ticket_id, sizeof it->ticket_id, ops[i].ticket_id);
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
            crm_copy_str(it->error, sizeof it->error, err);
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
            crm_op_finish_later(op);
            return;
        }
    }
    /* The batch form: one object per ticket, each with its own changes
     * (the ?ids= form would apply the same change to all). */
    crm_http_start(op, "bulk_update", "PUT",
                   crm_str_printf("%s/api/v2/tickets/update_many.json", zd->base_url),
                   crm_json_text(json_pack("{s:o}", "tickets", tickets)), step_update_many);
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
    json_object_set_new(user, "name", crm_json_str(o->name[0] ? o->name : o->phone));
    json_object_set_new(user, "role", json_string("end-user"));
    json_object_set_new(user, "phone", crm_json_str(o->phone));
    /* Unique per account: a retried bulk creation fails that item alone
     * instead of making a second contact. */
    if (o->external_id[0])
        json_object_set_new(user, "external_id", crm_json_str(o->external_id));
    return user;
}

/* Zendesk: POST tickets/create_many or users/create_many (up to 100), a
 * background job like update_many; its results give each item's new id. */
static void zd_bulk_create(tkt_crm_t *crm, const tkt_op_t *ops, size_t n, tkt_crm_job_fn on_job,
                           tkt_crm_cb cb, void *ctx)
{
    zd_t *zd = zd_of(crm);
    crm_op_t *op = crm_op_new(zd->a, "bulk_create", TKT_PRIO_CREATE, cb, ctx);
    if (!op)
        return;
    op->on_job = on_job;
    op->creating = 1;
    if (n == 0 || n > TKT_CRM_MAX_BULK || !ops) {
        crm_op_fail_later(op, "bulk_create takes 1 to %d ops, not %zu", TKT_CRM_MAX_BULK, n);
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
            crm_copy_str(op->res->items[i].error, sizeof op->res->items[i].error, err);
            continue;
        }
        json_array_append_new(arr, item);
        op->slot[op->n_sent++] = (unsigned short)i;
    }
    if (op->n_sent == 0) {
        json_decref(arr);
        op->res->ok = 1; /* nothing to send; every item says why */
        crm_op_finish_later(op);
        return;
    }
    crm_http_start(op, tickets ? "create_many_tickets" : "create_many_users", "POST",
                   crm_str_printf("%s/api/v2/%s/create_many.json", zd->base_url,
                                  tickets ? "tickets" : "users"),
                   crm_json_text(json_pack("{s:o}", tickets ? "tickets" : "users", arr)),
                   step_update_many);
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

static void step_comments(crm_op_t *op, const crm_curl_resp_t *resp, json_t *j, int exh)
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
            crm_op_finish(op);
            return;
        }
    }
    char *next = ++op->pages < ZD_MAX_PAGES ? next_page_url(ZD(op), j) : NULL;
    if (next) {
        crm_http_start(op, "has_marker", "GET", next, NULL, step_comments);
        return;
    }
    op->res->ok = 1;
    crm_op_finish(op);
}

static void zd_has_marker(tkt_crm_t *crm, const char *ticket_id, const char *marker, tkt_crm_cb cb,
                          void *ctx)
{
    zd_t *zd = zd_of(crm);
    crm_op_t *op = crm_op_new(zd->a, "has_marker", TKT_PRIO_ENRICH, cb, ctx);
    if (!op)
        return;
    if (!is_id(ticket_id)) {
        crm_op_refuse(op, "ticket id \"%s\" is not a Zendesk id", ticket_id ? ticket_id : "");
        return;
    }
    if (!marker || !*marker) {
        crm_op_refuse(op, "empty marker");
        return;
    }
    op->marker = strdup(marker);
    if (!op->marker) {
        crm_op_fail_later(op, "out of memory");
        return;
    }
    crm_copy_str(op->ticket_id, sizeof op->ticket_id, ticket_id);
    /* Newest first: a marker we are looking for was written recently. */
    crm_http_start(op, "has_marker", "GET",
                   crm_str_printf("%s/api/v2/tickets/%s/comments.json?sort_order=desc",
                                  zd->base_url, ticket_id),
                   NULL, step_comments);
}

/* ----------------------------------------------------- contact_tickets */

static void zd_contact_tickets(tkt_crm_t *crm, const char *contact_id, tkt_prio_t prio,
                               tkt_crm_cb cb, void *ctx)
{
    zd_t *zd = zd_of(crm);
    crm_op_t *op = crm_op_new(zd->a, "contact_tickets", prio, cb, ctx);
    if (!op)
        return;
    if (!is_id(contact_id)) {
        crm_op_refuse(op, "contact id \"%s\" is not a Zendesk id", contact_id ? contact_id : "");
        return;
    }
    crm_http_start(op, "contact_tickets", "GET",
                   crm_str_printf("%s/api/v2/users/%s/tickets/requested.json"
                                  "?sort_by=created_at&sort_order=desc&per_page=%d",
                                  zd->base_url, contact_id, TKT_CRM_MAX_LIST),
                   NULL, step_ticket_list);
}

/* ----------------------------------------------------- contacts_changed */

/* Issue 26 item 3: a page of the cursor-based Incremental User Export.
 * Only end-users are callers (the search asks role:end-user too); an
 * agent, a deleted (active false) or suspended user is "gone" from the
 * mirror. Phones: the user's `phone` and its phone_number identities
 * (sideloaded: a number added with add_contact_phone is found too). */
static void change_of(json_t *u, tkt_crm_change_t *c)
{
    const char *role = json_string_value(json_object_get(u, "role"));
    parse_contact(u, &c->contact);
    c->gone = json_is_false(json_object_get(u, "active")) ||
              json_is_true(json_object_get(u, "suspended")) || !role ||
              strcmp(role, "end-user") != 0;
    const char *phone = json_string_value(json_object_get(u, "phone"));
    if (phone && *phone)
        crm_copy_str(c->phones[c->n_phones++], sizeof c->phones[0], phone);
}

static void add_identity(tkt_crm_result_t *res, json_t *ident)
{
    char uid[TKT_ID_MAX];
    const char *type = json_string_value(json_object_get(ident, "type"));
    const char *value = json_string_value(json_object_get(ident, "value"));
    if (!type || strcmp(type, "phone_number") != 0 || !value || !*value)
        return;
    json_id(json_object_get(ident, "user_id"), uid, sizeof uid);
    for (size_t i = 0; i < res->n_changes; i++) {
        tkt_crm_change_t *c = &res->changes[i];
        if (strcmp(c->contact.id, uid) != 0)
            continue;
        for (size_t k = 0; k < c->n_phones; k++)
            if (strcmp(c->phones[k], value) == 0)
                return;
        if (c->n_phones < TKT_CRM_MAX_PHONES)
            crm_copy_str(c->phones[c->n_phones++], sizeof c->phones[0], value);
        return;
    }
}

static void step_export(crm_op_t *op, const crm_curl_resp_t *resp, json_t *j, int exh)
{
    if (resp->status != 200) {
        fail_from(op, resp, j, exh);
        return;
    }
    tkt_crm_result_t *res = op->res;
    const char *cursor = json_string_value(json_object_get(j, "after_cursor"));
    if (!cursor || !*cursor) {
        crm_op_fail(op, "incremental export without after_cursor");
        return;
    }
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(j, "users"), i, v)
    {
        if (res->n_changes >= TKT_CRM_MAX_CHANGES)
            break; /* per_page asks for no more: a longer page is cut, its cursor not trusted */
        change_of(v, &res->changes[res->n_changes++]);
    }
    if (json_array_size(json_object_get(j, "users")) > TKT_CRM_MAX_CHANGES) {
        crm_op_fail(op, "incremental export page longer than per_page");
        return;
    }
    json_array_foreach(json_object_get(j, "identities"), i, v) add_identity(res, v);
    if (!(res->cursor = strdup(cursor))) {
        crm_op_fail(op, "out of memory");
        return;
    }
    res->end_of_stream = json_is_true(json_object_get(j, "end_of_stream"));
    crm_op_succeed(op, resp);
}

static void zd_contacts_changed(tkt_crm_t *crm, const char *cursor, tkt_crm_cb cb, void *ctx)
{
    zd_t *zd = zd_of(crm);
    crm_op_t *op = crm_op_new(zd->a, "contacts_changed", TKT_PRIO_CREATE, cb, ctx);
    if (!op)
        return;
    char *url;
    if (cursor && *cursor) {
        char *esc = url_escape(cursor);
        url = esc ? crm_str_printf("%s/api/v2/incremental/users/cursor.json?cursor=%s"
                                   "&per_page=%d&include=identities",
                                   zd->base_url, esc, TKT_CRM_MAX_CHANGES)
                  : NULL;
        free(esc);
    } else { /* every user there is: the mirror's first pass */
        url = crm_str_printf("%s/api/v2/incremental/users/cursor.json?start_time=0"
                             "&per_page=%d&include=identities",
                             zd->base_url, TKT_CRM_MAX_CHANGES);
    }
    crm_http_start(op, "contacts_changed", "GET", url, NULL, step_export);
}

/* ------------------------------------------------------ list_fields */

static void step_fields(crm_op_t *op, const crm_curl_resp_t *resp, json_t *j, int exh)
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
    crm_op_succeed(op, resp);
}

static void zd_list_fields(tkt_crm_t *crm, tkt_crm_cb cb, void *ctx)
{
    zd_t *zd = zd_of(crm);
    crm_op_t *op = crm_op_new(zd->a, "list_fields", TKT_PRIO_ENRICH, cb, ctx);
    if (!op)
        return;
    crm_http_start(op, "list_fields", "GET",
                   crm_str_printf("%s/api/v2/ticket_fields.json?per_page=100", zd->base_url), NULL,
                   step_fields);
}

/* ------------------------------------------------------ display_ticket */

static void step_display(crm_op_t *op, const crm_curl_resp_t *resp, json_t *j, int exh)
{
    if (resp->status != 200) {
        fail_from(op, resp, j, exh);
        return;
    }
    crm_op_succeed(op, resp);
}

/* Talk Partner Edition's "open ticket / user profile in agent's browser":
 * what is `tickets` or `users`. */
static void zd_display(tkt_crm_t *crm, const char *what, const char *agent_id, const char *id,
                       tkt_crm_cb cb, void *ctx)
{
    zd_t *zd = zd_of(crm);
    const char *name = strcmp(what, "users") == 0 ? "display_user" : "display_ticket";
    crm_op_t *op = crm_op_new(zd->a, name, TKT_PRIO_INTERACTIVE, cb, ctx);
    if (!op)
        return;
    if (!is_id(agent_id) || !is_id(id)) {
        crm_op_refuse(op, "agent / record id is not a Zendesk id");
        return;
    }
    crm_http_start_ct(op, name, "POST",
                      crm_str_printf("%s/api/v2/channels/voice/agents/%s/%s/%s/display.json",
                                     zd->base_url, agent_id, what, id),
                      NULL, NULL, 1, step_display);
}

static void zd_display_ticket(tkt_crm_t *crm, const char *agent_id, const char *ticket_id,
                              tkt_crm_cb cb, void *ctx)
{
    zd_display(crm, "tickets", agent_id, ticket_id, cb, ctx);
}

static void zd_display_user(tkt_crm_t *crm, const char *agent_id, const char *user_id,
                            tkt_crm_cb cb, void *ctx)
{
    zd_display(crm, "users", agent_id, user_id, cb, ctx);
}

/* --------------------------------------------------------- urls, misc */

static void zd_ticket_url(const tkt_crm_t *crm, const char *ticket_id, char *out, size_t outsz)
{
    const zd_t *zd = zd_of(crm);
    snprintf(out, outsz, "%s/agent/tickets/%s", zd->base_url, ticket_id ? ticket_id : "");
}

static void zd_contact_url(const tkt_crm_t *crm, const char *contact_id, char *out, size_t outsz)
{
    const zd_t *zd = zd_of(crm);
    snprintf(out, outsz, "%s/agent/users/%s", zd->base_url, contact_id ? contact_id : "");
}

static void zd_free(tkt_crm_t *crm)
{
    if (!crm)
        return;
    zd_t *zd = zd_of(crm);
    crm_adapter_free(zd->a); /* every op ends first: steps may read zd */
    free(zd->base_url);
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
    .search_contacts = zd_search_contacts,
    .add_contact_phone = zd_add_contact_phone,
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
    .contacts_changed = zd_contacts_changed,
    .display_ticket = zd_display_ticket,
    .display_user = zd_display_user,
    .list_fields = zd_list_fields,
    .valid_ticket_id = zd_valid_ticket_id,
    .ticket_url = zd_ticket_url,
    .contact_url = zd_contact_url,
    .pending = crm_pending,
    .auth_failing = crm_auth_failing,
    .free = zd_free,
};

tkt_crm_t *crm_zendesk_new(struct event_base *base, const crm_zendesk_cfg_t *cfg, char *errstr,
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
    if (crm_curl_url_check(cfg->base_url, cfg->allow_plain_http, why, sizeof why) < 0) {
        snprintf(errstr, errsz, "zendesk: base_url: %s", why);
        return NULL;
    }
    if (strlen(cfg->email) > ZD_USER_LEN || strchr(cfg->email, ':')) {
        snprintf(errstr, errsz, "zendesk: invalid e-mail");
        return NULL;
    }
    char *user = NULL;
    zd_t *zd = calloc(1, sizeof *zd);
    if (!zd)
        goto oom;
    zd->cfg = *cfg;
    zd->cfg.base_url = zd->cfg.email = zd->cfg.api_token = NULL; /* copies below */
    if (zd->cfg.job_poll_first_ms <= 0)
        zd->cfg.job_poll_first_ms = 200;
    if (zd->cfg.job_poll_max_ms <= 0)
        zd->cfg.job_poll_max_ms = 2000;
    if (zd->cfg.job_timeout_ms <= 0)
        zd->cfg.job_timeout_ms = 120000;
    if (!(zd->base_url = strdup(cfg->base_url)) || !(user = crm_str_printf("%s/token", cfg->email)))
        goto oom;
    size_t bl = strlen(zd->base_url);
    while (bl > 0 && zd->base_url[bl - 1] == '/')
        zd->base_url[--bl] = '\0';
    /* Zendesk's limits: the plan's requests per minute (account-wide). */
    crm_limits_t limits = {
        .requests_per_window = cfg->rate_limit_per_min,
        .window_ms = cfg->rate_window_ms,
        .safety = cfg->rate_safety,
        .max_in_flight = cfg->max_in_flight,
        .timeout_ms = cfg->timeout_ms,
        .max_tries = cfg->max_tries,
        .backoff_base_ms = cfg->backoff_base_ms,
        .backoff_max_ms = cfg->backoff_max_ms,
        .interactive_ttl_ms = cfg->interactive_ttl_ms,
        .interactive_max_queued = cfg->interactive_max_queued,
    };
    zd->a = crm_adapter_new(base, &zd_desc, zd, &zd_ops, &limits, errstr, errsz);
    if (!zd->a)
        goto err;
    if (crm_adapter_set_basic_auth(zd->a, user, cfg->api_token) != 0)
        goto oom;
    free(user);
    LOG_INFO("zendesk adapter for %s: %zu requests per window", zd->base_url,
             crm_adapter_budget(zd->a));
    return crm_adapter_crm(zd->a);
oom:
    snprintf(errstr, errsz, "zendesk: out of memory");
err:
    free(user);
    if (zd) {
        crm_adapter_free(zd->a);
        free(zd->base_url);
        free(zd);
    }
    return NULL;
}

size_t crm_zendesk_requests_sent(const tkt_crm_t *crm)
{
    return crm ? crm_adapter_requests_sent(crm_adapter_of(crm)) : 0;
}

size_t crm_zendesk_rate_limited(const tkt_crm_t *crm)
{
    return crm ? crm_adapter_rate_limited(crm_adapter_of(crm)) : 0;
}

size_t crm_zendesk_retries(const tkt_crm_t *crm)
{
    return crm ? crm_adapter_retries(crm_adapter_of(crm)) : 0;
}
