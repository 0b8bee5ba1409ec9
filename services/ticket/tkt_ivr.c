/* IVR API. A request context lives until both the reply is sent and the
 * CRM work it started has called back (a late CRM answer after a 504 is
 * dropped, but it must not touch freed memory). */
#include "tkt_ivr.h"
#include "tkt_create.h"
#include "cmn_auth.h"
#include "cmn_log.h"
#include "cmn_metrics.h"
#include "cmn_time.h"
#include "cmn_utf8.h"

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdlib.h>
#include <string.h>

#define BREAKER_FAILURES 5
#define BREAKER_OPEN_MS 30000

struct tkt_ivr {
    tkt_ivr_deps_t d;
    int failures;
    int64_t open_until_ms;
    cmn_metric_t *m_breaker, *m_deadline, *m_cache_hits, *m_previous_token;
};

typedef struct {
    tkt_ivr_t *ivr;
    struct evhttp_request *req;
    struct event *deadline;
    int replied;
    int crm_busy; /* a CRM/Redis callback is still to come */
    char number[CMN_PHONE_MAX];
    char call_id[TKT_CALL_ID_MAX];
    char ticket_type[64];
    char contact_id[TKT_ID_MAX];
    char contact_name[TKT_TEXT_MAX];
    char contact_email[TKT_TEXT_MAX];   /* for pop-service's ringing notice (R-P2) */
    char contact_company[TKT_TEXT_MAX]; /* "" when the CRM has none */
    tkt_crm_ticket_t ticket;
    tkt_revs_t revs; /* of the state the binding was made on (tkt_store.h) */
    int bind_tries;  /* commits refused because the state changed meanwhile */
} ivr_req_t;

/* ---- request life cycle --------------------------------------------------- */

static void maybe_free(ivr_req_t *r)
{
    if (!r->replied || r->crm_busy)
        return;
    if (r->deadline)
        event_free(r->deadline);
    free(r);
}

static void reply(ivr_req_t *r, int status, json_t *body)
{
    if (r->replied) {
        json_decref(body);
        return;
    }
    r->replied = 1;
    cmn_http_reply_json(r->req, status, body);
}

static void reply_error(ivr_req_t *r, int status, const char *msg, const char *field)
{
    json_t *body = json_pack("{s:s}", "error", msg);
    if (field)
        json_object_set_new(body, "field", json_string(field));
    reply(r, status, body);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    ivr_req_t *r = arg;
    char msg[96];
    cmn_metric_add(r->ivr->m_deadline, 1);
    snprintf(msg, sizeof msg, "the CRM did not answer within %d ms", r->ivr->d.deadline_ms);
    reply_error(r, 504, msg, NULL);
    maybe_free(r);
}

static ivr_req_t *req_new(tkt_ivr_t *ivr, struct evhttp_request *req)
{
    struct timeval tv = {ivr->d.deadline_ms / 1000, (ivr->d.deadline_ms % 1000) * 1000};
    ivr_req_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->ivr = ivr;
    r->req = req;
    r->deadline = evtimer_new(ivr->d.base, on_deadline, r);
    if (!r->deadline || evtimer_add(r->deadline, &tv) < 0) {
        if (r->deadline)
            event_free(r->deadline);
        free(r);
        return NULL;
    }
    return r;
}

/* ---- circuit breaker -------------------------------------------------------- */

static int breaker_open(tkt_ivr_t *ivr)
{
    return cmn_time_mono_ms() < ivr->open_until_ms;
}

/* Returns 1 when the CRM answered usefully; counts failures otherwise. */
static int crm_ok(tkt_ivr_t *ivr, const tkt_crm_result_t *res)
{
    if (res->ok || res->not_found) {
        ivr->failures = 0;
        return 1;
    }
    if (++ivr->failures >= BREAKER_FAILURES && !breaker_open(ivr)) {
        ivr->open_until_ms = cmn_time_mono_ms() + BREAKER_OPEN_MS;
        cmn_metric_add(ivr->m_breaker, 1);
        LOG_WARN("ivr: CRM failing (%s); answering \"unknown\" for %d s", res->error,
                 BREAKER_OPEN_MS / 1000);
    }
    return 0;
}

static int authorised(tkt_ivr_t *ivr, struct evhttp_request *req)
{
    cmn_auth_match_t m = cmn_auth_bearer_match(ivr->d.token, ivr->d.token_previous,
                                               cmn_http_header(req, "Authorization"));
    /* Counted so the operator sees when the last client stopped sending
     * the retired token and the previous setting can go. */
    if (m == CMN_AUTH_PREVIOUS)
        cmn_metric_add(ivr->m_previous_token, 1);
    return m != CMN_AUTH_NONE;
}

/* R-C4: of several contacts with the number, the most recently created. */
static const tkt_crm_contact_t *newest_contact(const tkt_crm_result_t *res)
{
    const tkt_crm_contact_t *best = NULL;
    for (size_t i = 0; i < res->n_contacts; i++)
        if (!best || tkt_contact_newer(res->contacts[i].created_at_ms, res->contacts[i].id,
                                       best->created_at_ms, best->id))
            best = &res->contacts[i];
    return best;
}

static int lookup_phone(tkt_ivr_t *ivr, const char *e164, char *out, size_t outsz)
{
    return cmn_phone_lookup_form(e164, ivr->d.lookup_form, ivr->d.country, out, outsz);
}

/* ---- R-V1 look-up ------------------------------------------------------------ */

static void cache_answer(ivr_req_t *r, const json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    if (text && r->ivr->d.cache_s > 0 &&
        cmn_redis_command(r->ivr->d.redis, NULL, NULL, "SET %sivr:%s %s EX %d",
                          tkt_store_ns(r->ivr->d.store), r->number, text, r->ivr->d.cache_s) < 0)
        LOG_DEBUG("ivr: answer for %s not cached", r->number);
    free(text);
}

static void answer_lookup(ivr_req_t *r, json_t *body)
{
    cache_answer(r, body);
    reply(r, 200, body);
}

/* What the IVR reads to the caller (R-V1): Dynamics' case number; on
 * Zendesk the ticket id is that number, so the IVR has one field to read. */
static const char *ticket_number(const tkt_crm_ticket_t *t)
{
    return t->number[0] ? t->number : t->id;
}

static void on_contact_tickets(void *ctx, const tkt_crm_result_t *res)
{
    ivr_req_t *r = ctx;
    r->crm_busy = 0;
    json_t *ticket = json_null();
    if (!crm_ok(r->ivr, res)) {
        reply(r, 200, json_pack("{s:s, s:s}", "status", "unknown", "reason", "CRM unavailable"));
        maybe_free(r);
        return;
    }
    tkt_status_t st[TKT_CRM_MAX_LIST];
    size_t n = res->n_tickets < TKT_CRM_MAX_LIST ? res->n_tickets : TKT_CRM_MAX_LIST;
    for (size_t i = 0; i < n; i++)
        st[i] = res->tickets[i].status;
    int pick = tkt_lookup_case_pick(r->ivr->d.policy, st, n);
    if (pick >= 0) {
        const tkt_crm_ticket_t *t = &res->tickets[pick];
        ticket = json_pack("{s:s, s:s, s:s, s:s}", "id", t->id, "number", ticket_number(t),
                           "subject", t->subject, "status", tkt_status_name(t->status));
    }
    /* The contact with what a pop shows of them (R-P2: pop-service asks
     * here for its ringing notice, so the CRM is asked by one process). */
    char url[512];
    r->ivr->d.crm->ops->contact_url(r->ivr->d.crm, r->contact_id, url, sizeof url);
    json_t *contact =
        json_pack("{s:s, s:s, s:s}", "id", r->contact_id, "name", r->contact_name, "url", url);
    if (contact && r->contact_email[0])
        json_object_set_new(contact, "email", json_string(r->contact_email));
    if (contact && r->contact_company[0])
        json_object_set_new(contact, "company", json_string(r->contact_company));
    answer_lookup(r, json_pack("{s:s, s:b, s:o, s:o}", "status", "found", "found", 1, "contact",
                               contact ? contact : json_null(), "ticket", ticket));
    maybe_free(r);
}

static void on_lookup_contacts(void *ctx, const tkt_crm_result_t *res)
{
    ivr_req_t *r = ctx;
    r->crm_busy = 0;
    if (!crm_ok(r->ivr, res)) {
        reply(r, 200, json_pack("{s:s, s:s}", "status", "unknown", "reason", "CRM unavailable"));
        maybe_free(r);
        return;
    }
    const tkt_crm_contact_t *c = newest_contact(res);
    if (!c) {
        answer_lookup(r, json_pack("{s:s, s:b}", "status", "none", "found", 0));
        maybe_free(r);
        return;
    }
    snprintf(r->contact_id, sizeof r->contact_id, "%s", c->id);
    snprintf(r->contact_name, sizeof r->contact_name, "%s", c->name);
    snprintf(r->contact_email, sizeof r->contact_email, "%s", c->email);
    snprintf(r->contact_company, sizeof r->contact_company, "%s", c->company);
    if (r->replied) {
        maybe_free(r);
        return;
    }
    r->crm_busy = 1;
    r->ivr->d.crm->ops->contact_tickets(r->ivr->d.crm, c->id, TKT_PRIO_INTERACTIVE,
                                        on_contact_tickets, r);
}

static void lookup_in_crm(ivr_req_t *r)
{
    char phone[32];
    if (lookup_phone(r->ivr, r->number, phone, sizeof phone) < 0) {
        reply_error(r, 400, "number is not a phone number", "number");
        maybe_free(r);
        return;
    }
    r->crm_busy = 1;
    /* shown to the caller, never acted on: the mirror may vouch for a miss */
    tkt_mirror_find(r->ivr->d.mirror, r->ivr->d.crm, r->number, phone, TKT_PRIO_INTERACTIVE,
                    TKT_MIRROR_FOR_DISPLAY, on_lookup_contacts, r);
}

static void on_cached(void *ctx, redisReply *reply_, const char *err)
{
    ivr_req_t *r = ctx;
    json_t *cached = NULL;
    r->crm_busy = 0;
    if (!err && reply_ && reply_->type == REDIS_REPLY_STRING)
        cached = json_loadb(reply_->str, reply_->len, 0, NULL);
    if (cached) {
        cmn_metric_add(r->ivr->m_cache_hits, 1);
        reply(r, 200, cached);
        maybe_free(r);
        return;
    }
    if (r->replied) {
        maybe_free(r);
        return;
    }
    lookup_in_crm(r);
}

static void on_lookup(struct evhttp_request *req, const char *path, void *arg)
{
    tkt_ivr_t *ivr = arg;
    char raw[64];
    if (!authorised(ivr, req)) {
        cmn_http_reply_error(req, 401, "missing or wrong bearer token", "Authorization");
        return;
    }
    if (cmn_http_query_param(req, "number", raw, sizeof raw) < 0) {
        cmn_http_reply_error(req, 400, "number is required", "number");
        return;
    }
    ivr_req_t *r = req_new(ivr, req);
    if (!r) {
        cmn_http_reply_unavailable(req, 1, "out of memory");
        return;
    }
    if (cmn_phone_e164(raw, ivr->d.country, r->number, sizeof r->number) != CMN_PHONE_OK) {
        reply_error(r, 400, "number is not a phone number", "number");
        maybe_free(r);
        return;
    }
    if (breaker_open(ivr)) {
        reply(r, 200, json_pack("{s:s, s:s}", "status", "unknown", "reason", "CRM unavailable"));
        maybe_free(r);
        return;
    }
    r->crm_busy = 1;
    if (cmn_redis_command(ivr->d.redis, on_cached, r, "GET %sivr:%s", tkt_store_ns(ivr->d.store),
                          r->number) < 0) {
        r->crm_busy = 0;
        lookup_in_crm(r); /* no cache without Redis, but the caller still gets an answer */
    }
}

/* ---- the agent's contact search (issue 24 item 2) -------------------------- */

#define SEARCH_MAX 100 /* characters an agent may type */

/* Characters of valid UTF-8: the bytes that start one. */
static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static void on_searched(void *ctx, const tkt_crm_result_t *res)
{
    ivr_req_t *r = ctx;
    const tkt_crm_t *crm = r->ivr->d.crm;
    char url[512];
    r->crm_busy = 0;
    if (!res->ok) {
        LOG_WARN("contact search: the CRM failed: %s", res->error);
        reply_error(r, 502, "the CRM could not search", NULL);
        maybe_free(r);
        return;
    }
    json_t *a = json_array();
    for (size_t i = 0; a && i < res->n_contacts; i++) {
        const tkt_crm_contact_t *c = &res->contacts[i];
        crm->ops->contact_url(crm, c->id, url, sizeof url);
        json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s}", "id", c->id, "name", c->name,
                                           "email", c->email, "url", url));
    }
    reply(r, 200, json_pack("{s:o*}", "contacts", a));
    maybe_free(r);
}

/* GET /v1/contacts/search?q=: for pop-service's agents, not the IVR, but
 * the same client of ticket-service: its tokens, deadline, interactive
 * lane; the IVR's circuit breaker is neither consulted nor fed. */
static void on_search(struct evhttp_request *req, const char *path, void *arg)
{
    tkt_ivr_t *ivr = arg;
    char text[SEARCH_MAX * 4 + 1];
    if (!authorised(ivr, req)) {
        cmn_http_reply_error(req, 401, "missing or wrong bearer token", "Authorization");
        return;
    }
    if (cmn_http_query_param(req, "q", text, sizeof text) < 0 || !cmn_utf8_valid_str(text) ||
        utf8_chars(text) > SEARCH_MAX) {
        cmn_http_reply_error(req, 400, "q: 1 to 100 characters of text", "q");
        return;
    }
    if (!ivr->d.crm->ops->search_contacts) {
        cmn_http_reply_error(req, 501, "this CRM adapter cannot search contacts", NULL);
        return;
    }
    ivr_req_t *r = req_new(ivr, req);
    if (!r) {
        cmn_http_reply_unavailable(req, 1, "out of memory");
        return;
    }
    r->crm_busy = 1;
    ivr->d.crm->ops->search_contacts(ivr->d.crm, text, on_searched, r);
}

/* ---- R-V2 / R-T8: pre-created ticket ------------------------------------------- */

static void on_plan_dropped(void *ctx, const char *err) {}

static void bind_call(ivr_req_t *r);

/* A bind whose state changed meanwhile (another replica or event wrote the
 * call or customer) is made again on the new state, a few times. */
#define BIND_TRIES_MAX 5

static void on_bound(void *ctx, const char *err)
{
    ivr_req_t *r = ctx;
    char url[512], event_id[TKT_CALL_ID_MAX + 8];
    if (err == tkt_store_conflict && ++r->bind_tries < BIND_TRIES_MAX) {
        bind_call(r);
        return;
    }
    r->crm_busy = 0;
    snprintf(event_id, sizeof event_id, "ivr-%s", r->call_id);
    /* the commit wrote an (empty) plan for its pseudo-event: drop it now */
    if (!err && tkt_store_mark_done(r->ivr->d.store, event_id, on_plan_dropped, NULL) < 0)
        LOG_CALL(CMN_LOG_DEBUG, r->call_id, "ivr: empty plan left to expire");
    if (err) /* the ticket exists; the answered event will still find it by external_id */
        LOG_CALL(CMN_LOG_WARN, r->call_id, "ivr: binding not stored: %s", err);
    r->ivr->d.crm->ops->ticket_url(r->ivr->d.crm, r->ticket.id, url, sizeof url);
    reply(r, 201,
          json_pack("{s:s, s:s, s:s, s:s, s:s}", "ticket_id", r->ticket.id, "ticket_number",
                    ticket_number(&r->ticket), "ticket_url", url, "contact_id", r->contact_id,
                    "call_id", r->call_id));
    maybe_free(r);
}

/* Binds the call to its ticket in ticket-service's own state, so the
 * agent who answers gets this ticket (R-T8) and a transfer moves it (R-T4). */
static void on_state_loaded(void *ctx, const tkt_loaded_t *l, const char *err)
{
    ivr_req_t *r = ctx;
    tkt_call_t call = l ? l->call : (tkt_call_t){0};
    tkt_customer_t cust = l ? l->customer : (tkt_customer_t){0};
    char event_id[TKT_CALL_ID_MAX + 8];
    if (err) {
        on_bound(r, err);
        return;
    }
    r->revs = l->revs;
    snprintf(call.call_id, sizeof call.call_id, "%s", r->call_id);
    snprintf(call.customer, sizeof call.customer, "%s", r->number);
    snprintf(call.ticket_id, sizeof call.ticket_id, "%s", r->ticket.id);
    snprintf(call.contact_id, sizeof call.contact_id, "%s", r->contact_id);
    call.ticket_kind = TKT_KIND_IVR;
    call.last_event_at_ms = cmn_time_now_ms();
    snprintf(cust.number, sizeof cust.number, "%s", r->number);
    snprintf(cust.contact_id, sizeof cust.contact_id, "%s", r->contact_id);
    if (cust.n_tickets == TKT_MAX_TICKETS)
        cust.n_tickets--;
    memmove(&cust.tickets[1], &cust.tickets[0], cust.n_tickets * sizeof cust.tickets[0]);
    cust.tickets[0] = (tkt_ticket_ref_t){
        .kind = TKT_KIND_IVR, .status = TKT_ST_OPEN, .created_at_ms = cmn_time_now_ms()};
    snprintf(cust.tickets[0].id, sizeof cust.tickets[0].id, "%s", r->ticket.id);
    snprintf(cust.tickets[0].channel, sizeof cust.tickets[0].channel, "voice");
    cust.n_tickets++;
    snprintf(event_id, sizeof event_id, "ivr-%s", r->call_id);
    if (tkt_store_commit(r->ivr->d.store, event_id, &call, &cust, &r->revs, NULL, 0, 0, on_bound,
                         r) < 0)
        on_bound(r, "redis unavailable");
}

static void bind_call(ivr_req_t *r)
{
    char event_id[TKT_CALL_ID_MAX + 8];
    snprintf(event_id, sizeof event_id, "ivr-%s", r->call_id);
    if (tkt_store_load(r->ivr->d.store, event_id, r->call_id, r->number, on_state_loaded, r) < 0)
        on_bound(r, "redis unavailable");
}

/* The ticket, created now or found (an IVR retry, or an attempt cut short
 * by a crash: tkt_create_once looks before it creates). */
static void on_ivr_ticket(void *ctx, const tkt_crm_result_t *res, const char *id, int existed)
{
    ivr_req_t *r = ctx;
    if (!id) {
        if (res->http_status) /* a Redis failure says nothing about the CRM */
            crm_ok(r->ivr, res);
        r->crm_busy = 0;
        reply_error(r, 503, res->error[0] ? res->error : "ticket not created", NULL);
        maybe_free(r);
        return;
    }
    crm_ok(r->ivr, res);
    if (strcmp(res->ticket.id, id) == 0)
        r->ticket = res->ticket;
    else if (res->n_tickets && strcmp(res->tickets[0].id, id) == 0)
        r->ticket = res->tickets[0];
    else
        snprintf(r->ticket.id, sizeof r->ticket.id, "%s", id);
    bind_call(r);
}

static void build_ticket_op(ivr_req_t *r, tkt_op_t *op)
{
    const tkt_policy_t *pol = r->ivr->d.policy;
    cmn_event_t ev; /* only for the subject template */
    cmn_event_init(&ev);
    ev.customer_number = r->number;
    ev.call_id = r->call_id;
    memset(op, 0, sizeof *op);
    op->kind = TKT_OP_CREATE_TICKET;
    op->ticket_kind = TKT_KIND_IVR;
    op->status = TKT_ST_OPEN;
    tkt_render_subject(pol->subject_call, &ev, op->subject, sizeof op->subject);
    snprintf(op->requester_id, sizeof op->requester_id, "%s", r->contact_id);
    /* The same external id the rules give the call's ticket (R-T1): one ticket per call. */
    tkt_external_id(op->external_id, sizeof op->external_id, r->call_id, "");
    snprintf(op->tags[0], sizeof op->tags[0], "callbus");
    snprintf(op->tags[1], sizeof op->tags[1], "callbus_ivr");
    op->n_tags = 2;
    snprintf(op->body, sizeof op->body, "Created by the IVR for call %s (type %s).", r->call_id,
             r->ticket_type);
    if (pol->fields.ticket_type[0]) {
        snprintf(op->fields[0].field_id, sizeof op->fields[0].field_id, "%s",
                 pol->fields.ticket_type);
        snprintf(op->fields[0].value, sizeof op->fields[0].value, "%s", r->ticket_type);
        op->n_fields = 1;
    }
}

static void on_ivr_contact(void *ctx, const tkt_crm_result_t *res)
{
    ivr_req_t *r = ctx;
    const tkt_crm_contact_t *c = res->ok ? newest_contact(res) : NULL;
    if (!crm_ok(r->ivr, res) || !c) {
        r->crm_busy = 0;
        reply_error(r, 503, res->error[0] ? res->error : "contact not resolved", NULL);
        maybe_free(r);
        return;
    }
    snprintf(r->contact_id, sizeof r->contact_id, "%s", c->id);
    tkt_op_t op;
    build_ticket_op(r, &op);
    if (tkt_create_once(r->ivr->d.crm, r->ivr->d.store, &op, on_ivr_ticket, r) < 0) {
        r->crm_busy = 0;
        reply_error(r, 503, "redis unavailable", NULL);
        maybe_free(r);
        return;
    }
}

/* The contact made for a new number goes into the mirror at once. */
static void on_ivr_created(void *ctx, const tkt_crm_result_t *res)
{
    ivr_req_t *r = ctx;
    if (res->ok && res->n_contacts > 0)
        tkt_mirror_note_created(r->ivr->d.mirror, r->number, res->contacts[0].id,
                                res->contacts[0].name);
    on_ivr_contact(r, res);
}

static void on_ivr_contacts(void *ctx, const tkt_crm_result_t *res)
{
    ivr_req_t *r = ctx;
    if (res->ok && res->n_contacts == 0) { /* R-C2: an IVR call from a new number */
        r->ivr->d.crm->ops->create_contact(r->ivr->d.crm, r->number, "", NULL, on_ivr_created, r);
        return;
    }
    on_ivr_contact(r, res);
}

static int take_string(const json_t *body, const char *name, char *out, size_t outsz)
{
    const char *v = json_string_value(json_object_get(body, name));
    if (!v || !*v || strlen(v) >= outsz)
        return -1;
    snprintf(out, outsz, "%s", v);
    return 0;
}

static void on_create(struct evhttp_request *req, const char *path, void *arg)
{
    tkt_ivr_t *ivr = arg;
    size_t len;
    char raw[64], phone[32];
    if (!authorised(ivr, req)) {
        cmn_http_reply_error(req, 401, "missing or wrong bearer token", "Authorization");
        return;
    }
    if (!cmn_http_content_type_is(req, "application/json")) {
        cmn_http_reply_error(req, 415, "Content-Type must be application/json", NULL);
        return;
    }
    const char *text = cmn_http_body(req, &len);
    json_t *body = json_loadb(text, len, 0, NULL);
    ivr_req_t *r = body ? req_new(ivr, req) : NULL;
    if (!r) {
        json_decref(body);
        cmn_http_reply_error(req, 400, "body must be a JSON object", NULL);
        return;
    }
    const char *bad = take_string(body, "call_id", r->call_id, sizeof r->call_id) < 0 ||
                              !cmn_id_text_ok(r->call_id, CMN_ID_TEXT_MAX)
                          ? "call_id"
                      : take_string(body, "number", raw, sizeof raw) < 0 ? "number"
                      : take_string(body, "ticket_type", r->ticket_type, sizeof r->ticket_type) < 0
                          ? "ticket_type"
                          : NULL;
    json_decref(body);
    if (!bad && cmn_phone_e164(raw, ivr->d.country, r->number, sizeof r->number) != CMN_PHONE_OK)
        bad = "number";
    if (bad) {
        reply_error(r, 400, "missing or invalid member", bad);
        maybe_free(r);
        return;
    }
    if (breaker_open(ivr) || lookup_phone(ivr, r->number, phone, sizeof phone) < 0) {
        reply_error(r, 503, "CRM unavailable", NULL);
        maybe_free(r);
        return;
    }
    r->crm_busy = 1;
    /* R-C2 with a caller on the line: the mirror's hit, else a search now */
    tkt_mirror_find(ivr->d.mirror, ivr->d.crm, r->number, phone, TKT_PRIO_INTERACTIVE,
                    TKT_MIRROR_FOR_CREATE_NOW, on_ivr_contacts, r);
}

tkt_ivr_t *tkt_ivr_new(const tkt_ivr_deps_t *deps, cmn_http_t *http)
{
    tkt_ivr_t *ivr = calloc(1, sizeof *ivr);
    if (!ivr)
        return NULL;
    ivr->d = *deps;
    ivr->m_breaker = cmn_metrics_counter("ticket_ivr_breaker_open_total",
                                         "Times the IVR circuit breaker opened", NULL);
    ivr->m_deadline = cmn_metrics_counter("ticket_ivr_deadline_missed_total",
                                          "IVR requests answered 504 at the deadline", NULL);
    ivr->m_cache_hits = cmn_metrics_counter("ticket_ivr_cache_hits_total",
                                            "IVR look-ups answered from the cache", NULL);
    ivr->m_previous_token = cmn_metrics_counter(
        "ticket_ivr_previous_token_accepted_total",
        "IVR requests authenticated by CALLBUS_IVR_TOKEN_PREVIOUS (a rotation in progress)", NULL);
    if (cmn_http_route(http, "ivr_lookup", "/v1/ivr/lookup", CMN_HTTP_GET, on_lookup, ivr) < 0 ||
        cmn_http_route(http, "ivr_tickets", "/v1/ivr/tickets", CMN_HTTP_POST, on_create, ivr) < 0 ||
        cmn_http_route(http, "contact_search", "/v1/contacts/search", CMN_HTTP_GET, on_search,
                       ivr) < 0) {
        free(ivr);
        return NULL;
    }
    return ivr;
}

void tkt_ivr_free(tkt_ivr_t *ivr)
{
    free(ivr);
}
