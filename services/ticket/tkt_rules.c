/* The behaviour rules (BEHAVIOUR.md R-I3, R-C1..R-C5, R-T1..R-T12,
 * R-O1..R-O4, R-M1) as one pure function: a call event, the stored state of
 * the call and of the customer, and the CRM facts fetched so far go in; CRM
 * operations and the new state come out. No I/O, no clock, no allocation.
 * The intent of other services (agent actions R-C4/R-P6, the grouper's
 * R-M1..R-M3 operations) is decided with the same helpers
 * (tkt_rules_ctx.h) in tkt_rules_actions.c (issue 20 item 1).
 *
 * docs/rules.md tables every event type x situation -> ops and explains the
 * judgement calls; the rule ids in the comments here point into it. The
 * shape of every function is the same: read the stored state from `c->call`
 * / `c->cust` (what was true before this event), write the new state into
 * `c->plan->call` / `c->plan->customer`, and add ops to `c->plan`. */
#include "tkt_rules.h"
#include "cmn_outcome.h"
#include "tkt_rules_ctx.h"
#include "cmn_utf8.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define CHANNEL_VOICE "voice"
#define MS_PER_S 1000

/* ---- strings ------------------------------------------------------------- */

int tkt_rc_empty(const char *s)
{
    return !s || !*s;
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

int tkt_rc_same(const char *a, const char *b)
{
    return strcmp(or_empty(a), or_empty(b)) == 0;
}

/* Copies with truncation; NULL copies as "". The CRM ids and names we copy
 * fit their buffers (the event schema bounds them); truncation only guards
 * against a malformed stored state. */
void tkt_rc_copy(char *dst, size_t dstsz, const char *src)
{
    size_t n = src ? strlen(src) : 0;
    if (n >= dstsz)
        n = dstsz - 1;
    if (n)
        memmove(dst, src, n);
    dst[n] = '\0';
}

static void vappend(char *buf, size_t bufsz, const char *fmt, va_list ap)
{
    size_t len = strlen(buf);
    if (len + 1 >= bufsz)
        return;
    if (vsnprintf(buf + len, bufsz - len, fmt, ap) < 0)
        buf[len] = '\0';
}

/* Appends printf-style text, cut at the end of the buffer. */
static void __attribute__((format(printf, 3, 4)))
append(char *buf, size_t bufsz, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vappend(buf, bufsz, fmt, ap);
    va_end(ap);
}

/* ---- public helpers ------------------------------------------------------ */

void tkt_policy_defaults(tkt_policy_t *p)
{
    memset(p, 0, sizeof *p);
    p->transfer = TKT_TRANSFER_REASSIGN;
    p->unanswered = TKT_UNANSWERED_DIRECT;
    p->reuse = 1;
    p->abandoned_tickets = 1;
    p->outbound_unattached_closed = 0;
    COPY(p->subject_call, "Call from {phone}");
    COPY(p->subject_split_idle, "Incoming call from {phone}");
    COPY(p->subject_voicemail, "Voicemail from {phone}");
    COPY(p->subject_missed, "Missed call from {phone}");
    COPY(p->subject_outbound, "Call to {phone}");
    p->callback_window_s = 120;
    p->short_call_s = 10;
}

void tkt_format_duration(int64_t seconds, char *out, size_t outsz)
{
    if (!out || !outsz)
        return;
    long long s = seconds < 0 ? 0 : (long long)seconds;
    long long h = s / 3600, m = s % 3600 / 60, sec = s % 60;
    int n;
    if (h)
        n = snprintf(out, outsz, "%lldh %02lldm %02llds", h, m, sec);
    else if (m)
        n = snprintf(out, outsz, "%lldm %02llds", m, sec);
    else
        n = snprintf(out, outsz, "%llds", sec);
    if (n < 0)
        out[0] = '\0';
}

void tkt_render_subject(const char *tmpl, const cmn_event_t *ev, char *out, size_t outsz)
{
    static const char *const names[] = {"{phone}", "{call_id}", "{queue}"};
    if (!out || !outsz)
        return;
    out[0] = '\0';
    for (const char *p = or_empty(tmpl); *p;) {
        const char *values[] = {ev && ev->customer_number ? ev->customer_number : "withheld number",
                                ev ? or_empty(ev->call_id) : "", ev ? or_empty(ev->queue) : ""};
        size_t i = 0;
        while (i < 3 && strncmp(p, names[i], strlen(names[i])) != 0)
            i++;
        if (i < 3) {
            append(out, outsz, "%s", values[i]);
            p += strlen(names[i]);
        } else {
            append(out, outsz, "%c", *p++);
        }
    }
}

/* ---- the decision context ------------------------------------------------ */

tkt_call_t *tkt_rc_call(tkt_rc_t *c)
{
    return &c->plan->call;
}

void tkt_rc_note(tkt_rc_t *c, const char *why)
{
    if (!c->plan->note)
        c->plan->note = why;
}

/* Asks the caller for a fact; only the first need of a pass is kept. */
void tkt_rc_need(tkt_rc_t *c, tkt_need_t what, const char *ticket_id)
{
    if (c->plan->need != TKT_NEED_NOTHING)
        return;
    c->plan->need = what;
    COPY(c->plan->need_ticket_id, ticket_id);
}

/* The call's customer; an agent action or a grouper's operation on a call
 * ticket-service has no state of yet names the customer in its event. */
const char *tkt_rc_customer_number(tkt_rc_t *c)
{
    return tkt_rc_call(c)->customer[0] ? tkt_rc_call(c)->customer
                                       : or_empty(c->ev->customer_number);
}

static const char *shown_number(tkt_rc_t *c)
{
    return c->withheld ? "withheld number" : tkt_rc_customer_number(c);
}

/* The mapped CRM agent the event is about, else the one the call has. */
static const char *call_agent(tkt_rc_t *c)
{
    return !tkt_rc_empty(c->ev->agent.crm_id) ? c->ev->agent.crm_id : tkt_rc_call(c)->agent_crm_id;
}

static const char *agent_label(const cmn_agent_t *a, const char *crm_id)
{
    if (!tkt_rc_empty(a->name) && (tkt_rc_empty(crm_id) || tkt_rc_same(a->crm_id, crm_id)))
        return a->name;
    if (!tkt_rc_empty(crm_id))
        return crm_id;
    if (!tkt_rc_empty(a->provider_id))
        return a->provider_id;
    return "another operator";
}

/* ---- ops ----------------------------------------------------------------- */

tkt_op_t *tkt_rc_op_add(tkt_rc_t *c, tkt_op_kind_t kind, const char *ticket_id)
{
    tkt_plan_t *p = c->plan;
    tkt_op_t *op = &c->spare;
    if (p->n_ops < TKT_MAX_OPS)
        op = &p->ops[p->n_ops++];
    else
        c->overflow = 1;
    memset(op, 0, sizeof *op);
    op->kind = kind;
    COPY(op->ticket_id, ticket_id);
    return op;
}

/* The op of this plan already writing to `ticket_id`: a comment, a status and
 * fields for one ticket go in one request. $ticket is the last creation. */
static tkt_op_t *op_find(tkt_rc_t *c, const char *ticket_id)
{
    for (size_t i = c->plan->n_ops; i-- > 0;) {
        tkt_op_t *op = &c->plan->ops[i];
        if (op->kind == TKT_OP_CREATE_TICKET && tkt_rc_same(ticket_id, TKT_REF_NEW_TICKET))
            return op;
        if ((op->kind == TKT_OP_UPDATE || op->kind == TKT_OP_COMMENT) &&
            tkt_rc_same(op->ticket_id, ticket_id))
            return op;
    }
    return NULL;
}

static tkt_op_t *op_write(tkt_rc_t *c, const char *ticket_id)
{
    tkt_op_t *op = op_find(c, ticket_id);
    return op ? op : tkt_rc_op_add(c, TKT_OP_UPDATE, ticket_id);
}

/* One line of a comment; lines are separated by "\n". No '[' is ever
 * written: the executor takes the last '[' of a body as its replay marker. */
void tkt_rc_body_line(tkt_op_t *op, const char *fmt, ...)
{
    va_list ap;
    if (op->body[0])
        append(op->body, sizeof op->body, "\n");
    va_start(ap, fmt);
    vappend(op->body, sizeof op->body, fmt, ap);
    va_end(ap);
}

/* A blank line before the next block of a comment. */
static void body_block(tkt_op_t *op)
{
    if (op->body[0])
        append(op->body, sizeof op->body, "\n");
}

static void duration_line(tkt_op_t *op, const char *label, int64_t s)
{
    char text[48];
    if (s < 0)
        return;
    tkt_format_duration(s, text, sizeof text);
    tkt_rc_body_line(op, "%s: %s", label, text);
}

/* R-T9: an unmapped field ("") or an unknown value is simply not set. */
static void field_set(tkt_op_t *op, const char *field_id, const char *value)
{
    size_t i;
    if (tkt_rc_empty(field_id) || tkt_rc_empty(value))
        return;
    for (i = 0; i < op->n_fields && !tkt_rc_same(op->fields[i].field_id, field_id); i++)
        ;
    if (i == TKT_MAX_FIELDS)
        return;
    if (i == op->n_fields)
        op->n_fields++;
    COPY(op->fields[i].field_id, field_id);
    COPY(op->fields[i].value, value);
}

static void field_secs(tkt_op_t *op, const char *field_id, int64_t s)
{
    char text[24];
    if (s < 0)
        return;
    if (snprintf(text, sizeof text, "%lld", (long long)s) > 0)
        field_set(op, field_id, text);
}

static int tag_has(const tkt_op_t *op, const char *tag)
{
    for (size_t i = 0; i < op->n_tags && i < TKT_MAX_TAGS; i++)
        if (strcmp(op->tags[i], tag) == 0)
            return 1;
    return 0;
}

void tkt_rc_tag_add(tkt_op_t *op, const char *tag)
{
    if (!tkt_rc_empty(tag) && op->n_tags < TKT_MAX_TAGS)
        COPY(op->tags[op->n_tags++], tag);
}

/* ---- the customer's tickets ---------------------------------------------- */

tkt_ticket_ref_t *tkt_rc_ref_find(tkt_rc_t *c, const char *id)
{
    tkt_customer_t *cu = &c->plan->customer;
    if (tkt_rc_empty(id))
        return NULL;
    for (size_t i = 0; i < cu->n_tickets && i < TKT_MAX_TICKETS; i++)
        if (tkt_rc_same(cu->tickets[i].id, id))
            return &cu->tickets[i];
    return NULL;
}

/* Newest first; the oldest falls off. Pointers to refs are stale after this. */
void tkt_rc_ref_push(tkt_rc_t *c, const char *id, tkt_kind_t kind, tkt_status_t status)
{
    tkt_customer_t *cu = &c->plan->customer;
    size_t keep = cu->n_tickets < TKT_MAX_TICKETS ? cu->n_tickets : TKT_MAX_TICKETS - 1;
    if (c->withheld)
        return; /* no number, no customer state to remember it in */
    memmove(&cu->tickets[1], &cu->tickets[0], keep * sizeof cu->tickets[0]);
    tkt_ticket_ref_t *r = &cu->tickets[0];
    memset(r, 0, sizeof *r);
    COPY(r->id, id);
    r->kind = kind;
    r->status = status;
    COPY(r->queue, tkt_rc_call(c)->queue);
    COPY(r->channel, CHANNEL_VOICE);
    r->created_at_ms = c->now_ms;
    cu->n_tickets = keep + 1;
}

void tkt_rc_ref_subject(tkt_rc_t *c, const char *subject)
{
    if (!c->withheld && c->plan->customer.n_tickets) /* nothing pushed when withheld */
        COPY(c->plan->customer.tickets[0].subject, subject);
}

int tkt_ticket_writable(const tkt_ticket_ref_t *r, int tickets_checked)
{
    if (r->fresh)
        return !r->merged_into[0] && tkt_status_is_active(r->status);
    if (r->status == TKT_ST_CLOSED)
        return 0;
    if (!tickets_checked)
        return -1;
    return tkt_status_is_active(r->status);
}

int tkt_ticket_crm_fresh(const tkt_policy_t *pol, const tkt_ticket_ref_t *r, int64_t now_ms)
{
    /* an event newer than the decision's clock (now_ms - crm_at_ms < 0) is
     * the newest word there is: believed too */
    return pol->crm_fresh_s > 0 && r->crm_at_ms > 0 &&
           now_ms - r->crm_at_ms <= (int64_t)pol->crm_fresh_s * 1000;
}

/* tkt_ticket_writable, asking for the status once per event. */
tkt_rc_chk_t tkt_rc_ref_check(tkt_rc_t *c, const tkt_ticket_ref_t *r)
{
    int w = tkt_ticket_writable(r, c->facts.tickets_checked);
    if (w < 0) {
        tkt_rc_need(c, TKT_NEED_TICKET_STATUS, r->id);
        return TKT_RC_NEED;
    }
    return w ? TKT_RC_ACTIVE : TKT_RC_INACTIVE;
}

static void bind(tkt_rc_t *c, const char *ticket_id, tkt_kind_t kind)
{
    COPY(tkt_rc_call(c)->ticket_id, ticket_id);
    tkt_rc_call(c)->ticket_kind = kind;
}

static void count_reuse(tkt_rc_t *c, tkt_status_t was)
{
    c->plan->figures.reused++;
    if (was == TKT_ST_PENDING || was == TKT_ST_HOLD)
        c->plan->figures.reopened++;
}

/* ---- contacts (R-C1..R-C4) ----------------------------------------------- */

int tkt_contact_newer(int64_t a_created_ms, const char *a_id, int64_t b_created_ms,
                      const char *b_id)
{
    if (a_created_ms != b_created_ms)
        return a_created_ms > b_created_ms;
    return strcmp(a_id, b_id) > 0; /* same instant: any fixed order, for replays */
}

static int newer_contact(const tkt_contact_ref_t *a, const tkt_contact_ref_t *b)
{
    return tkt_contact_newer(a->created_at_ms, a->id, b->created_at_ms, b->id);
}

/* R-C2 none: create one (its id is $contact); R-C3 one: it; R-C4 several:
 * the most recently created. */
static const char *contact_from_facts(tkt_rc_t *c)
{
    size_t n = c->facts.n_contacts < 8 ? c->facts.n_contacts : 8;
    size_t best = 0;
    if (n == 0) {
        tkt_op_t *op = tkt_rc_op_add(c, TKT_OP_CREATE_CONTACT, "");
        COPY(op->phone, tkt_rc_customer_number(c));
        /* named as the provider knows the customer, else (adapters) by the
         * number; only ever on creation: an existing contact keeps its name */
        cmn_utf8_cut_copy(op->name, sizeof op->name, c->ev->customer_name, sizeof op->name);
        /* Deterministic: a replay after a crash finds the contact by it
         * instead of creating a second one (tkt_create.h). */
        tkt_external_id(op->external_id, sizeof op->external_id, or_empty(c->ev->call_id),
                        "-contact");
        return TKT_REF_NEW_CONTACT;
    }
    for (size_t i = 1; i < n; i++)
        if (newer_contact(&c->facts.contacts[i], &c->facts.contacts[best]))
            best = i;
    return c->facts.contacts[best].id;
}

/* The requester of a ticket this plan creates: the contact the agent picked
 * (R-C4), the call's or the cached one, else the look-up's result. A
 * withheld number has none: Zendesk then makes the API user the requester.
 * Returns -1 when the contacts must be looked up first. */
static int requester(tkt_rc_t *c, const char **out)
{
    tkt_call_t *call = tkt_rc_call(c);
    const char *id = call->picked_contact_id;
    int cache = 0;
    if (!c->have_requester) {
        if (tkt_rc_empty(id))
            id = call->contact_id;
        if (tkt_rc_empty(id) && !c->withheld)
            id = c->plan->customer.contact_id;
        if (tkt_rc_empty(id) && !c->withheld) {
            if (!c->facts.contacts_known) {
                tkt_rc_need(c, TKT_NEED_CONTACTS, "");
                return -1;
            }
            id = contact_from_facts(c);
            cache = 1;
        }
        COPY(c->requester, id);
        COPY(call->contact_id, c->requester);
        if (cache || !c->plan->customer.contact_id[0])
            if (!c->withheld)
                COPY(c->plan->customer.contact_id, c->requester);
        c->have_requester = 1;
    }
    *out = c->requester;
    return 0;
}

/* ---- creating tickets ---------------------------------------------------- */

static const char *kind_tag(tkt_kind_t k)
{
    switch (k) {
    case TKT_KIND_IVR:
        return "callbus_ivr";
    case TKT_KIND_VOICEMAIL:
        return "callbus_voicemail";
    case TKT_KIND_MISSED:
    case TKT_KIND_ABANDONED:
        return "callbus_missed"; /* R-M1: tagged as a missed-call ticket */
    case TKT_KIND_OUTBOUND:
        return "callbus_outbound";
    case TKT_KIND_CALL:
    default:
        return "callbus_call";
    }
}

/* The event as a subject sees it: number and queue from the call's state
 * when this event does not carry them (a recording, a CSAT score). */
static cmn_event_t subject_view(tkt_rc_t *c)
{
    cmn_event_t v = *c->ev;
    if (!v.customer_number && !c->withheld)
        v.customer_number = tkt_rc_call(c)->customer;
    if (!v.queue && tkt_rc_call(c)->queue[0])
        v.queue = tkt_rc_call(c)->queue;
    return v;
}

/* R-T9 "from" number: the caller inbound; outbound the number the agent
 * called from, which the event schema puts in dialled_number. */
static const char *from_number(tkt_rc_t *c)
{
    if (tkt_rc_call(c)->outbound)
        return or_empty(c->ev->dialled_number);
    return tkt_rc_customer_number(c);
}

/* R-T9, filled at session start. */
static void start_fields(tkt_rc_t *c, tkt_op_t *op)
{
    const tkt_field_map_t *f = &c->pol->fields;
    field_set(op, f->session_type, "call");
    field_set(op, f->from_number, from_number(c));
    field_set(op, f->ticket_type, c->ev->ticket_type);
}

/* "Call duration (incl. hold)": the schema's total_s is exactly that. */
static int64_t call_duration(const cmn_event_t *ev)
{
    if (ev->total_s >= 0)
        return ev->total_s;
    if (ev->talk_s >= 0)
        return ev->talk_s + (ev->hold_s > 0 ? ev->hold_s : 0);
    return -1;
}

/* R-T9, filled at session end. */
static void end_fields(tkt_rc_t *c, tkt_op_t *op)
{
    const tkt_field_map_t *f = &c->pol->fields;
    field_secs(op, f->call_duration, call_duration(c->ev));
    field_secs(op, f->wait_time, c->ev->wait_s);
    field_set(op, f->queue_name, tkt_rc_call(c)->queue);
    field_set(op, f->call_id, tkt_rc_call(c)->call_id);
    field_secs(op, f->hold_time, c->ev->hold_s);
}

/* CREATE_TICKET with requester, subject, external id, tags, status,
 * assignee and the session-start fields; the caller writes the first
 * comment into its body. NULL when the contacts are needed first. */
tkt_op_t *tkt_rc_new_ticket(tkt_rc_t *c, const tkt_rc_spec_t *s)
{
    const char *req;
    if (requester(c, &req) < 0)
        return NULL;
    tkt_op_t *op = tkt_rc_op_add(c, TKT_OP_CREATE_TICKET, "");
    cmn_event_t view = subject_view(c);
    tkt_render_subject(s->subject, &view, op->subject, sizeof op->subject);
    COPY(op->requester_id, req);
    tkt_external_id(op->external_id, sizeof op->external_id, tkt_rc_call(c)->call_id,
                    or_empty(s->ext_suffix)); /* fits: tkt_model.h */
    op->ticket_kind = s->kind;
    tkt_rc_tag_add(op, "callbus");
    tkt_rc_tag_add(op, kind_tag(s->kind));
    tkt_rc_tag_add(op, s->tag);
    op->status = s->status;
    op->set_assignee = 1;
    COPY(op->assignee_id, s->assignee);
    start_fields(c, op);
    if (s->keep) {
        tkt_rc_ref_push(c, TKT_REF_NEW_TICKET, s->kind, s->status);
        tkt_rc_ref_subject(c, op->subject);
        bind(c, TKT_REF_NEW_TICKET, s->kind);
    }
    return op;
}

/* ---- comment texts ------------------------------------------------------- */

/* R-T1's standard data: call id, language, menu selection (queue). */
static void standard_data(tkt_rc_t *c, tkt_op_t *op)
{
    tkt_call_t *call = tkt_rc_call(c);
    tkt_rc_body_line(op, "Call ID: %s", call->call_id);
    if (call->language[0])
        tkt_rc_body_line(op, "Language: %s", call->language);
    if (call->queue[0])
        tkt_rc_body_line(op, "Menu selection: %s", call->queue);
    if (!tkt_rc_empty(c->ev->ticket_type))
        tkt_rc_body_line(op, "Ticket type: %s", c->ev->ticket_type);
}

static void answered_text(tkt_rc_t *c, tkt_op_t *op, const char *agent)
{
    body_block(op);
    tkt_rc_body_line(op, "Inbound call from %s answered by %s", shown_number(c),
                     agent_label(&c->ev->agent, agent));
    standard_data(c, op);
}

/* R-C5: a number the agent dialled that is not the customer's goes in the
 * comment, never onto the contact. The number dialled is the event's
 * customer_number; the customer's is the one the stored state belongs to. */
static void dialled_note(tkt_rc_t *c, tkt_op_t *op)
{
    const char *dialled = c->ev->customer_number, *known = c->cust->number;
    if (!tkt_rc_empty(dialled) && !tkt_rc_empty(known) && !tkt_rc_same(dialled, known))
        tkt_rc_body_line(op, "Dialled number: %s (not stored on the contact)", dialled);
}

static void outbound_text(tkt_rc_t *c, tkt_op_t *op)
{
    body_block(op);
    tkt_rc_body_line(op, "Outbound call to %s by %s", shown_number(c),
                     agent_label(&c->ev->agent, call_agent(c)));
    tkt_rc_body_line(op, "Call ID: %s", tkt_rc_call(c)->call_id);
    dialled_note(c, op);
}

/* R-T5: direction, from, to, agent, queue, wait, talk, hold, total. */
static void summary(tkt_rc_t *c, tkt_op_t *op)
{
    const cmn_event_t *ev = c->ev;
    tkt_call_t *call = tkt_rc_call(c);
    const char *ours = tkt_rc_empty(ev->dialled_number) ? NULL : ev->dialled_number;
    body_block(op);
    tkt_rc_body_line(op, "Call summary");
    tkt_rc_body_line(op, "Direction: %s", call->outbound ? "outbound" : "inbound");
    if (!call->outbound || ours)
        tkt_rc_body_line(op, "From: %s", call->outbound ? ours : shown_number(c));
    if (call->outbound || ours)
        tkt_rc_body_line(op, "To: %s", call->outbound ? shown_number(c) : ours);
    if (!tkt_rc_empty(call_agent(c)) || !tkt_rc_empty(ev->agent.name))
        tkt_rc_body_line(op, "Agent: %s", agent_label(&ev->agent, call_agent(c)));
    if (call->queue[0])
        tkt_rc_body_line(op, "Queue: %s", call->queue);
    duration_line(op, "Wait", ev->wait_s);
    duration_line(op, "Talk", ev->talk_s);
    duration_line(op, "Hold", ev->hold_s);
    duration_line(op, "Total", call_duration(ev));
    if (ev->outcome != CMN_OUT_NONE)
        tkt_rc_body_line(op, "Outcome: %s", cmn_outcome_name(ev->outcome));
}

/* ---- writing to the call's ticket (R-T7, R-T10) ---------------------------- */

static const char *missed_assignee(tkt_rc_t *c);

/* R-T10 with R-M2: a person solved or closed the customer's missed-call
 * ticket while its group is open; the group's next missed calls go on a new
 * missed-call ticket (R-M1: subject, marker, the last agent offered), not
 * on a call's ticket. */
static tkt_op_t *missed_replacement(tkt_rc_t *c, const char *closed_id, const char *suffix,
                                    tkt_status_t status)
{
    tkt_rc_spec_t s = {
        TKT_KIND_MISSED, c->pol->subject_missed, status, missed_assignee(c), suffix, NULL, 1};
    tkt_op_t *op = tkt_rc_new_ticket(c, &s);
    if (!op)
        return NULL;
    /* named after the group, not the call: the group's next missed call,
     * decided before this one's redirect was stored, finds this ticket
     * (tkt_create_once) instead of making another. A group id too long for
     * that keeps the call's name. */
    char gid[TKT_CALL_ID_MAX + TKT_ID_MAX + 8], ext[sizeof op->external_id];
    snprintf(gid, sizeof gid, "%s%s", c->plan->customer.missed_group_id, suffix);
    if (tkt_external_id(ext, sizeof ext, "missed-", gid) == 0)
        COPY(op->external_id, ext);
    tkt_rc_body_line(op,
                     "Missed-call ticket %s was solved or closed; the customer's missed calls "
                     "continue here.",
                     closed_id);
    return op;
}

/* R-T10: the call's ticket was solved or closed by a person; the write goes
 * to a new ticket, named after the closed one so a replay finds it again. */
static tkt_op_t *replacement(tkt_rc_t *c, const char *closed, tkt_status_t status)
{
    char closed_id[TKT_ID_MAX], suffix[TKT_ID_MAX + 8] = "";
    int outbound = tkt_rc_call(c)->outbound;
    COPY(closed_id, closed);
    append(suffix, sizeof suffix, "-after-%s", closed_id);
    /* a group's write (its missed call is not bound to it); a call's own
     * write to a missed-call ticket it was attached to (R-M3 b/e) stays a
     * call's ticket */
    if (tkt_rc_same(c->plan->customer.missed_ticket_id, closed_id) &&
        !tkt_rc_same(tkt_rc_call(c)->ticket_id, closed_id))
        return missed_replacement(c, closed_id, suffix, status);
    tkt_rc_spec_t s = {outbound ? TKT_KIND_OUTBOUND : TKT_KIND_CALL,
                       outbound ? c->pol->subject_outbound : c->pol->subject_call,
                       status,
                       !tkt_rc_empty(tkt_rc_call(c)->agent_crm_id) ? tkt_rc_call(c)->agent_crm_id
                                                                   : c->pol->default_assignee,
                       suffix,
                       NULL,
                       1};
    tkt_op_t *op = tkt_rc_new_ticket(c, &s);
    if (op)
        tkt_rc_body_line(
            op, "Ticket %s of this call was solved or closed; the call continues here.", closed_id);
    return op;
}

/* Where a write meant for the call's ticket goes. With the ticket's status
 * fresh (the executor re-decides with it fresh when the CRM refuses a
 * write): merged -> the ticket it went into (R-T7, followed hop by hop);
 * solved/closed -> a new ticket (R-T10) when allow_new, else nowhere (NULL).
 * Otherwise the call's ticket. NULL also when a fact is needed first. */
static tkt_op_t *call_write(tkt_rc_t *c, tkt_status_t new_status, int allow_new)
{
    tkt_call_t *call = tkt_rc_call(c);
    for (int hop = 0; hop <= TKT_MAX_TICKETS; hop++) {
        const tkt_ticket_ref_t *r = tkt_rc_ref_find(c, call->ticket_id);
        if (!r || !r->fresh)
            break;
        if (r->merged_into[0] && !tkt_rc_same(r->merged_into, r->id)) {
            COPY(call->ticket_id, r->merged_into);
            continue;
        }
        if (r->status == TKT_ST_SOLVED || r->status == TKT_ST_CLOSED)
            return allow_new ? replacement(c, r->id, new_status) : NULL;
        break;
    }
    return op_write(c, call->ticket_id);
}

/* ---- IVR look-up (R-V1) ----------------------------------------------------- */

int tkt_lookup_case_pick(const tkt_policy_t *pol, const tkt_status_t *st, size_t n)
{
    for (size_t i = 0; i < n; i++) /* newest first: the first that qualifies */
        if (pol->lookup_case == TKT_LOOKUP_LATEST || tkt_status_is_active(st[i]))
            return (int)i;
    return -1;
}

/* ---- inbound: answer, reuse, transfer -------------------------------------- */

static void ignore_unmapped(tkt_rc_t *c, const char *why)
{
    tkt_rc_note(c, why);
    c->plan->figures.ignored_unmapped = 1;
}

/* R-T8: the IVR's ticket (or the call's own) gets the answering agent. */
static tkt_op_t *answer_on_bound(tkt_rc_t *c, const char *agent)
{
    tkt_op_t *op = call_write(c, TKT_ST_OPEN, 1);
    if (!op)
        return NULL;
    answered_text(c, op, agent);
    op->status = TKT_ST_OPEN;
    op->set_assignee = 1;
    COPY(op->assignee_id, agent);
    start_fields(c, op);
    return op;
}

static int reusable_kind(tkt_kind_t k)
{
    /* R-T3: a voicemail ticket may be reused by a new call; missed-call
     * tickets belong to the grouper (R-M2/R-M3), outbound ones have no menu. */
    return k == TKT_KIND_CALL || k == TKT_KIND_IVR || k == TKT_KIND_VOICEMAIL;
}

static tkt_op_t *reuse(tkt_rc_t *c, const tkt_ticket_ref_t *r, const char *agent)
{
    char id[TKT_ID_MAX];
    tkt_kind_t kind = r->kind;
    tkt_status_t was = r->status;
    COPY(id, r->id);
    tkt_op_t *op = op_write(c, id);
    answered_text(c, op, agent);
    op->status = TKT_ST_OPEN;
    op->set_assignee = 1;
    COPY(op->assignee_id, agent);
    start_fields(c, op);
    bind(c, id, kind);
    count_reuse(c, was);
    return op;
}

/* R-T2: the newest ticket of ours with the same menu selection and channel,
 * still new/open/pending/hold. *op is set when one was reused; returns -1
 * when a status must be read first. */
static int try_reuse(tkt_rc_t *c, const char *agent, tkt_op_t **op)
{
    tkt_customer_t *cu = &c->plan->customer;
    *op = NULL;
    if (!c->pol->reuse || c->withheld)
        return 0;
    for (size_t i = 0; i < cu->n_tickets && i < TKT_MAX_TICKETS; i++) {
        const tkt_ticket_ref_t *r = &cu->tickets[i];
        if (!reusable_kind(r->kind) || !tkt_rc_same(r->queue, tkt_rc_call(c)->queue) ||
            !tkt_rc_same(r->channel, CHANNEL_VOICE))
            continue;
        tkt_rc_chk_t chk = tkt_rc_ref_check(c, r);
        if (chk == TKT_RC_NEED)
            return -1;
        if (chk == TKT_RC_ACTIVE) {
            *op = reuse(c, r, agent);
            return 0;
        }
    }
    return 0;
}

/* The Webex + Dynamics flow (issue 23 item 4; R-T2 with policy
 * reuse_open_case): the customer's newest unresolved ticket in the CRM,
 * whoever made it and whatever its menu selection, gets the answered call
 * and is what the agent's pop opens. Same contract as try_reuse. */
static int try_open_case(tkt_rc_t *c, const char *agent, tkt_op_t **op)
{
    const char *contact;
    *op = NULL;
    if (!c->pol->reuse || !c->pol->reuse_open_case || c->withheld)
        return 0;
    if (requester(c, &contact) < 0)
        return -1;
    if (tkt_rc_empty(contact) || strcmp(contact, TKT_REF_NEW_CONTACT) == 0)
        return 0; /* a contact made now has no case */
    if (!c->facts.cases_known) {
        tkt_rc_need(c, TKT_NEED_CONTACT_TICKETS, contact);
        return -1;
    }
    tkt_policy_t unresolved = *c->pol; /* R-V1's judgement, not its IVR setting */
    unresolved.lookup_case = TKT_LOOKUP_LATEST_UNRESOLVED;
    size_t n = c->facts.n_cases < 8 ? c->facts.n_cases : 8;
    int pick = tkt_lookup_case_pick(&unresolved, c->facts.case_status, n);
    if (pick < 0)
        return 0;
    tkt_ticket_ref_t r;
    memset(&r, 0, sizeof r);
    COPY(r.id, c->facts.case_ids[pick]);
    r.kind = TKT_KIND_CALL;
    r.status = c->facts.case_status[pick];
    *op = reuse(c, &r, agent);
    return 0;
}

static tkt_op_t *create_call_ticket(tkt_rc_t *c, const char *agent, tkt_status_t status,
                                    const char *suffix)
{
    tkt_rc_spec_t s = {TKT_KIND_CALL, c->pol->subject_call, status, agent, suffix, NULL, 1};
    tkt_op_t *op = tkt_rc_new_ticket(c, &s);
    if (op)
        answered_text(c, op, agent);
    return op;
}

/* R-T8, else R-T2 (ours, then under reuse_open_case the customer's open
 * case), else R-T1: the ticket an answering agent works on. */
static tkt_op_t *answer_ticket(tkt_rc_t *c, const char *agent)
{
    tkt_op_t *op;
    if (tkt_rc_call(c)->ticket_id[0])
        return answer_on_bound(c, agent);
    if (try_reuse(c, agent, &op) < 0 || op)
        return op;
    if (try_open_case(c, agent, &op) < 0 || op)
        return op;
    return create_call_ticket(c, agent, TKT_ST_OPEN, "");
}

static void reassign(tkt_rc_t *c, const char *from, const char *to)
{
    tkt_op_t *op = call_write(c, TKT_ST_OPEN, 1);
    if (!op)
        return;
    body_block(op);
    tkt_rc_body_line(op, "Call transferred from %s to %s",
                     agent_label(&c->ev->previous_agent, from), agent_label(&c->ev->agent, to));
    op->set_assignee = 1;
    COPY(op->assignee_id, to);
}

static void leg_add(tkt_call_t *call, const char *agent, const char *ticket_id)
{
    if (call->n_legs >= TKT_MAX_LEGS)
        return;
    COPY(call->legs[call->n_legs].agent_crm_id, agent);
    COPY(call->legs[call->n_legs].ticket_id, ticket_id);
    call->n_legs++;
}

static void leg_suffix(char *out, size_t outsz, size_t leg)
{
    out[0] = '\0';
    append(out, outsz, "-leg-%zu", leg);
}

/* R-T4 split, the agent leaving: their leg keeps its ticket, which is done
 * with (R-T5 for that leg: pending). A ticket solved meanwhile is left. */
static void close_leg(tkt_rc_t *c, const char *to)
{
    tkt_op_t *op = call_write(c, TKT_ST_UNKNOWN, 0);
    if (!op)
        return;
    body_block(op);
    tkt_rc_body_line(op, "Call transferred to %s; the rest of the call is on its own ticket.",
                     agent_label(&c->ev->agent, to));
    op->status = TKT_ST_PENDING;
}

/* R-T4 split, the agent leaving had no ticket of their own ("did nothing"
 * in Deskie's words): a closed ticket records the leg. Nothing refers to
 * it later, so it is not remembered. Returns 0 when contacts are needed. */
static int idle_leg(tkt_rc_t *c, const char *from, const char *to)
{
    char suffix[32];
    leg_suffix(suffix, sizeof suffix, tkt_rc_call(c)->n_legs);
    tkt_rc_spec_t s = {TKT_KIND_CALL,
                       c->pol->subject_split_idle,
                       TKT_ST_CLOSED,
                       from,
                       suffix,
                       "callbus_idle_leg",
                       0};
    tkt_op_t *op = tkt_rc_new_ticket(c, &s);
    if (!op)
        return 0;
    tkt_rc_body_line(op, "Inbound call from %s answered by %s and transferred to %s",
                     shown_number(c), agent_label(&c->ev->previous_agent, from),
                     agent_label(&c->ev->agent, to));
    standard_data(c, op);
    return 1;
}

static void split(tkt_rc_t *c, const char *from, const char *to)
{
    tkt_call_t *call = tkt_rc_call(c);
    char suffix[32];
    if (call->n_legs == 0)
        leg_add(call, from, call->ticket_id); /* the first leg; "" when idle */
    if (call->ticket_id[0])
        close_leg(c, to);
    else if (!idle_leg(c, from, to))
        return;
    leg_suffix(suffix, sizeof suffix, call->n_legs + 1);
    if (!create_call_ticket(c, to, TKT_ST_OPEN, suffix))
        return;
    leg_add(call, to, TKT_REF_NEW_TICKET);
}

static int split_room(const tkt_call_t *call)
{
    return call->n_legs + (call->n_legs == 0 ? 2 : 1) <= TKT_MAX_LEGS;
}

/* R-T4: `from` had the call, `to` takes it. */
static void transfer(tkt_rc_t *c, const char *from_in, const char *to)
{
    tkt_call_t *call = tkt_rc_call(c);
    char from[TKT_ID_MAX];
    COPY(from, from_in);
    if (tkt_rc_empty(to)) {
        COPY(call->agent_crm_id, "");
        ignore_unmapped(c, "R-T4/R-I3: transferred to an operator with no CRM agent: the ticket "
                           "is left as it is");
        return;
    }
    if (tkt_rc_same(to, c->call->agent_crm_id) && c->call->ticket_id[0]) {
        tkt_rc_note(c, "transfer already applied (replay): nothing to do");
        return;
    }
    call->answered = 1;
    COPY(call->agent_crm_id, to);
    COPY(call->last_offered_crm_id, to);
    if (c->pol->transfer == TKT_TRANSFER_SPLIT && !tkt_rc_empty(from) && split_room(call)) {
        split(c, from, to);
        return;
    }
    if (!call->ticket_id[0]) { /* the leg before had no ticket (unmapped operator) */
        answer_ticket(c, to);
        return;
    }
    if (c->pol->transfer == TKT_TRANSFER_SPLIT)
        tkt_rc_note(c, "R-T4 split: no room for another leg; the ticket is re-assigned instead");
    reassign(c, from, to);
}

/* R-T3: the call ended as a voicemail, on its own ticket. */
static int voicemail_ticket_of(const tkt_rc_t *c)
{
    return c->call->ticket_id[0] && c->call->ticket_kind == TKT_KIND_VOICEMAIL;
}

static void on_answered(tkt_rc_t *c)
{
    const char *agent = or_empty(c->ev->agent.crm_id);
    tkt_call_t *call = tkt_rc_call(c);
    if (c->call->ended && (c->call->answered || c->call->outbound || voicemail_ticket_of(c))) {
        tkt_rc_note(c, "answered after the call ended: nothing to do");
        return;
    }
    if (c->call->ended) {
        /* Its end was decided unanswered without this answer (refused while
         * ingest was down; the reconciler's backfill brings it, then the end
         * again): the call is reopened and gets its ticket (R-T1); the end
         * that follows, or the sweep, summarises it (R-T5). Under direct
         * policy its missed-call ticket is its ticket and is taken over. */
        call->ended = 0;
        tkt_rc_note(c, "answered after the call ended unanswered: the call is reopened");
    }
    if (c->call->answered && c->call->ticket_id[0]) {
        if (tkt_rc_same(agent, c->call->agent_crm_id)) {
            tkt_rc_note(c, "already answered by this agent (replay): nothing to do");
            return;
        }
        /* Providers without transfer events (CallGear) report the next
         * agent picking up: that is a transfer. */
        transfer(c, c->call->agent_crm_id, agent);
        return;
    }
    call->answered = 1;
    COPY(call->agent_crm_id, agent);
    COPY(call->last_offered_crm_id, agent);
    if (tkt_rc_empty(agent)) {
        ignore_unmapped(c, "R-I3: answered by an operator with no CRM agent: ignored");
        return;
    }
    answer_ticket(c, agent);
}

static void on_transferred(tkt_rc_t *c)
{
    const char *from = !tkt_rc_empty(c->ev->previous_agent.crm_id) ? c->ev->previous_agent.crm_id
                                                                   : c->call->agent_crm_id;
    if (c->call->ended) {
        tkt_rc_note(c, "transferred after the call ended: nothing to do");
        return;
    }
    transfer(c, from, or_empty(c->ev->agent.crm_id));
}

/* ---- inbound: end of call -------------------------------------------------- */

static int64_t call_total(tkt_rc_t *c)
{
    int64_t d = call_duration(c->ev);
    if (d >= 0)
        return d;
    if (tkt_rc_call(c)->started_at_ms > 0 && c->now_ms >= tkt_rc_call(c)->started_at_ms)
        return (c->now_ms - tkt_rc_call(c)->started_at_ms) / MS_PER_S;
    return -1;
}

/* For R-O4: the last conversation with this customer. */
static void remember_last_call(tkt_rc_t *c)
{
    tkt_last_call_t *lc = &c->plan->customer.last_call;
    if (c->withheld)
        return;
    memset(lc, 0, sizeof *lc);
    COPY(lc->call_id, tkt_rc_call(c)->call_id);
    COPY(lc->ticket_id, tkt_rc_call(c)->ticket_id);
    COPY(lc->agent_crm_id, call_agent(c));
    lc->ended_at_ms = c->now_ms;
    lc->total_s = call_total(c);
}

/* R-M3: the grouper's group.reached for this call came first (two topics):
 * its end applies it now (tkt_missed_reached). */
static void reached_at_end(tkt_rc_t *c)
{
    tkt_customer_t *cu = &c->plan->customer;
    if (!cu->missed_reached_call_id[0] ||
        !tkt_rc_same(cu->missed_reached_call_id, tkt_rc_call(c)->call_id))
        return;
    cu->missed_reached_call_id[0] = '\0';
    if (tkt_missed_reached(tkt_rc_call(c), c->plan) < 0)
        c->overflow = 1;
}

/* R-T5: summary, end-of-call fields, pending. */
static void end_answered(tkt_rc_t *c)
{
    const char *agent = call_agent(c);
    tkt_op_t *op;
    if (tkt_rc_call(c)->ticket_id[0]) {
        op = call_write(c, TKT_ST_PENDING, 1);
    } else if (tkt_rc_empty(agent)) {
        tkt_rc_note(c, "R-I3: call handled by an operator with no CRM agent: ignored");
        return;
    } else {
        op = answer_ticket(c, agent); /* the answer was never seen: R-T1 now */
    }
    if (!op)
        return;
    summary(c, op);
    end_fields(c, op);
    op->status = TKT_ST_PENDING;
}

/* R-M1: the last agent the call was offered to; R-T11: else the default
 * user, else nobody. An unmapped last agent cannot be assigned: default. */
static const char *missed_assignee(tkt_rc_t *c)
{
    const char *last = cmn_outcome_missed_agent(c->ev, tkt_rc_call(c)->last_offered_crm_id);
    return !tkt_rc_empty(last) ? last : c->pol->default_assignee;
}

/* R-T8 with nobody answering: the IVR's ticket gets the summary and stays
 * open; a missed or abandoned call's goes to the last agent offered (R-M1;
 * else R-T11's default), a voicemail's to the default (R-T11). Under the
 * grouper too: its group.open adopts this ticket (adopt_ivr_ticket) and names
 * the same agent, so whichever is applied last, the assignee is the same
 * (issue 19 item 5). */
static void end_unanswered_bound(tkt_rc_t *c)
{
    int missed = c->ev->outcome == CMN_OUT_MISSED || c->ev->outcome == CMN_OUT_ABANDONED;
    tkt_op_t *op = call_write(c, TKT_ST_OPEN, 1);
    if (!op)
        return;
    summary(c, op);
    end_fields(c, op);
    op->status = TKT_ST_OPEN;
    op->set_assignee = 1;
    COPY(op->assignee_id, missed ? missed_assignee(c) : c->pol->default_assignee);
}

/* R-T3: always a new ticket; R-T11: the default assignee. */
static void voicemail_ticket(tkt_rc_t *c)
{
    tkt_rc_spec_t s = {TKT_KIND_VOICEMAIL,
                       c->pol->subject_voicemail,
                       TKT_ST_OPEN,
                       c->pol->default_assignee,
                       "",
                       NULL,
                       1};
    tkt_op_t *op = tkt_rc_new_ticket(c, &s);
    if (!op)
        return;
    tkt_rc_body_line(op, "Voicemail from %s", shown_number(c));
    standard_data(c, op);
    summary(c, op);
    end_fields(c, op);
}

static void missed_ticket(tkt_rc_t *c)
{
    int abandoned = c->ev->outcome == CMN_OUT_ABANDONED;
    if (c->pol->unanswered == TKT_UNANSWERED_GROUPER && !c->withheld) {
        /* the grouper groups by number: a withheld one is ticketed here */
        tkt_rc_note(c, "R-M1: missed call left to the missed-call grouper");
        return;
    }
    if (abandoned && !c->pol->abandoned_tickets) {
        tkt_rc_note(c, "R-M1: abandoned-call tickets are switched off");
        return;
    }
    tkt_rc_spec_t s = {abandoned ? TKT_KIND_ABANDONED : TKT_KIND_MISSED,
                       c->pol->subject_missed,
                       TKT_ST_OPEN,
                       missed_assignee(c),
                       "",
                       abandoned ? "callbus_abandoned" : NULL,
                       1};
    tkt_op_t *op = tkt_rc_new_ticket(c, &s);
    if (!op)
        return;
    tkt_rc_body_line(op,
                     abandoned ? "Abandoned call from %s: hung up before reaching an agent"
                               : "Missed call from %s: no agent answered",
                     shown_number(c));
    standard_data(c, op);
    summary(c, op);
    end_fields(c, op);
}

static void end_unanswered(tkt_rc_t *c)
{
    if (tkt_rc_call(c)->ticket_id[0]) {
        end_unanswered_bound(c);
        return;
    }
    switch (c->ev->outcome) {
    case CMN_OUT_VOICEMAIL:
        voicemail_ticket(c);
        return;
    case CMN_OUT_MISSED:
    case CMN_OUT_ABANDONED:
        missed_ticket(c);
        return;
    default:
        tkt_rc_note(c, "call ended without an outcome: nothing to do");
        return;
    }
}

static void on_ended(tkt_rc_t *c)
{
    int talked = c->ev->outcome == CMN_OUT_ANSWERED || c->call->answered;
    if (c->call->ended) {
        tkt_rc_note(c, "call already ended (replay): nothing to do");
        return;
    }
    tkt_rc_call(c)->ended = 1;
    c->plan->call_done = 1;
    if (talked)
        end_answered(c);
    else
        end_unanswered(c);
    /* an end that said answered (no answer event seen) is answered: a late
     * answer event must not reopen it (on_answered) */
    tkt_rc_call(c)->answered |= talked;
    if (talked) {
        remember_last_call(c);
        reached_at_end(c);
    }
}

/* ---- recordings and scores (R-T6, R-T12) ----------------------------------- */

static void on_recording(tkt_rc_t *c)
{
    char length[48];
    if (!tkt_rc_call(c)->ticket_id[0]) {
        tkt_rc_note(c, "R-T6: recording of a call without a ticket: nothing to attach it to");
        return;
    }
    tkt_op_t *op = call_write(c, TKT_ST_OPEN, 1);
    if (!op)
        return;
    body_block(op);
    if (c->ev->recording_duration_s >= 0) {
        tkt_format_duration(c->ev->recording_duration_s, length, sizeof length);
        tkt_rc_body_line(op, "Recording (%s): %s", length, or_empty(c->ev->recording_url));
    } else {
        tkt_rc_body_line(op, "Recording: %s", or_empty(c->ev->recording_url));
    }
    /* every link the provider gave (a leg's, another format), not only the first */
    for (size_t i = 0; i < c->ev->n_recording_more; i++)
        tkt_rc_body_line(op, "Recording link %zu: %s", i + 2, c->ev->recording_more[i]);
}

static void on_csat(tkt_rc_t *c)
{
    char score[16];
    if (c->ev->csat_score < 0) {
        tkt_rc_note(c, "R-T12: call.csat without a score: nothing to do");
        return;
    }
    if (!tkt_rc_call(c)->ticket_id[0]) {
        tkt_rc_note(c, "R-T12: score for a call without a ticket: nothing to add it to");
        return;
    }
    tkt_op_t *op = call_write(c, TKT_ST_OPEN, 1);
    if (!op)
        return;
    body_block(op);
    tkt_rc_body_line(op, "Customer satisfaction: %d/%d", c->ev->csat_score, c->ev->csat_scale);
    if (snprintf(score, sizeof score, "%d", c->ev->csat_score) > 0)
        field_set(op, c->pol->fields.csat, score);
}

/* ---- outbound (R-O1..R-O4, R-C5) ------------------------------------------- */

/* R-O1: attached. It is set open only once the customer answers: an
 * attempt nobody answered changes no status (R-O3). */
static void attach(tkt_rc_t *c, const char *ticket_id, tkt_kind_t kind, tkt_status_t was)
{
    char id[TKT_ID_MAX];
    COPY(id, ticket_id);
    tkt_op_t *op = op_write(c, id);
    outbound_text(c, op);
    start_fields(c, op);
    bind(c, id, kind);
    count_reuse(c, was);
}

/* 1 attached, 0 not attachable, -1 a status is needed. */
static int attach_ref(tkt_rc_t *c, const tkt_ticket_ref_t *r)
{
    switch (tkt_rc_ref_check(c, r)) {
    case TKT_RC_NEED:
        return -1;
    case TKT_RC_INACTIVE:
        return 0;
    case TKT_RC_ACTIVE:
    default:
        attach(c, r->id, r->kind, r->status);
        return 1;
    }
}

/* R-O1: the ticket the agent called from, if we created it and it is active.
 * The customer state handed in is the dialled number's; when the ticket is
 * not among its tickets, the agent may have called from another
 * customer's ticket to a number of theirs that is not on their contact
 * (R-C5). Which customer that is, only our own index can say: the CRM's
 * search lags, and a number is not a ticket's (ARCHITECTURE: state is
 * never rebuilt from CRM search). So the owner is asked for once; with it
 * handed in, the ticket is found among its tickets and dialled_note
 * writes the number. */
static int attach_given(tkt_rc_t *c)
{
    const tkt_ticket_ref_t *r = tkt_rc_ref_find(c, c->ev->ticket_id);
    if (!r && !c->facts.owner_known) {
        tkt_rc_need(c, TKT_NEED_TICKET_OWNER, c->ev->ticket_id);
        return -1;
    }
    if (!r) {
        tkt_rc_note(c, "R-O1: the ticket called from was not created by callbus: new ticket");
        return 0;
    }
    return attach_ref(c, r);
}

/* R-O4: a short call that just ended, and the agent calls straight back. */
static int attach_callback(tkt_rc_t *c)
{
    const tkt_last_call_t *lc = &c->plan->customer.last_call;
    int64_t gap = c->now_ms - lc->ended_at_ms;
    if (c->withheld || tkt_rc_empty(lc->ticket_id) || lc->ended_at_ms <= 0 || lc->total_s < 0 ||
        lc->total_s >= c->pol->short_call_s || gap < 0 ||
        gap > (int64_t)c->pol->callback_window_s * MS_PER_S)
        return 0;
    const tkt_ticket_ref_t *r = tkt_rc_ref_find(c, lc->ticket_id);
    if (r)
        return attach_ref(c, r);
    attach(c, lc->ticket_id, TKT_KIND_CALL, TKT_ST_UNKNOWN); /* ours: it was that call's */
    return 1;
}

/* R-O2: the customer's latest ticket of ours, if still open. */
static int attach_latest(tkt_rc_t *c)
{
    if (c->withheld || c->plan->customer.n_tickets == 0)
        return 0;
    return attach_ref(c, &c->plan->customer.tickets[0]);
}

static tkt_op_t *outbound_ticket(tkt_rc_t *c, tkt_status_t status)
{
    tkt_rc_spec_t s = {
        TKT_KIND_OUTBOUND, c->pol->subject_outbound, status, call_agent(c), "", NULL, 1};
    tkt_op_t *op = tkt_rc_new_ticket(c, &s);
    if (op)
        outbound_text(c, op);
    return op;
}

static void outbound_start(tkt_rc_t *c)
{
    const char *agent = or_empty(c->ev->agent.crm_id);
    int r;
    if (tkt_rc_empty(agent) && !c->ev->agent.provider_id)
        agent = c->call->agent_crm_id; /* the event names no operator at all */
    COPY(tkt_rc_call(c)->agent_crm_id, agent);
    if (tkt_rc_empty(agent)) {
        ignore_unmapped(c, "R-I3: outbound call by an operator with no CRM agent: ignored");
        return;
    }
    if (c->ev->ticket_id) {
        r = attach_given(c);
    } else {
        r = attach_callback(c);
        if (r == 0)
            r = attach_latest(c);
    }
    if (r != 0)
        return; /* attached, or a status is needed */
    if (!c->ev->ticket_id && c->pol->outbound_unattached_closed) {
        tkt_rc_note(c, "R-O2 (Deskie): not attached; a closed ticket is made when the call ends");
        return;
    }
    outbound_ticket(c, TKT_ST_OPEN);
}

static void on_outbound_started(tkt_rc_t *c)
{
    if (c->call->outbound) {
        tkt_rc_note(c, "outbound call already started (legout and callout both say so)");
        return;
    }
    outbound_start(c);
}

static void on_outbound_answered(tkt_rc_t *c)
{
    if (c->call->ended) {
        tkt_rc_note(c, "answered after the call ended: nothing to do");
        return;
    }
    if (!c->call->outbound)
        outbound_start(c); /* its start was never seen */
    tkt_rc_call(c)->answered = 1;
    if (tkt_rc_call(c)->ticket_id[0] && tkt_rc_call(c)->ticket_kind != TKT_KIND_OUTBOUND) {
        tkt_op_t *op = call_write(c, TKT_ST_OPEN, 1);
        if (op)
            op->status = TKT_ST_OPEN; /* R-O1: the agent is working on it again */
    } else if (c->call->outbound) {
        tkt_rc_note(c, "outbound call answered: its own ticket is already open");
    }
}

/* R-O3: logged as an attempt, no status change. */
static void attempt_text(tkt_rc_t *c, tkt_op_t *op)
{
    body_block(op);
    tkt_rc_body_line(op, "Call attempt (not answered)");
    tkt_rc_body_line(op, "To: %s", shown_number(c));
    tkt_rc_body_line(op, "Agent: %s", agent_label(&c->ev->agent, call_agent(c)));
    duration_line(op, "Duration", call_duration(c->ev));
}

static void on_outbound_ended(tkt_rc_t *c)
{
    int answered = c->ev->outcome == CMN_OUT_ANSWERED;
    tkt_op_t *op;
    if (c->call->ended) {
        tkt_rc_note(c, "call already ended (replay): nothing to do");
        return;
    }
    if (!c->call->outbound)
        outbound_start(c); /* its start was never seen */
    tkt_rc_call(c)->ended = 1;
    c->plan->call_done = 1;
    if (tkt_rc_call(c)->ticket_id[0]) {
        op = call_write(c, TKT_ST_OPEN, 1);
    } else if (tkt_rc_empty(call_agent(c))) {
        tkt_rc_note(c, "R-I3: outbound call by an operator with no CRM agent: ignored");
        return;
    } else if (c->pol->outbound_unattached_closed) {
        op = outbound_ticket(c, TKT_ST_CLOSED); /* R-O2 (Deskie) */
    } else {
        tkt_rc_note(c,
                    "outbound call without a ticket (its start was ignored): nothing to write to");
        return;
    }
    if (!op)
        return;
    if (answered) {
        summary(c, op);
        end_fields(c, op);
        if (tkt_rc_call(c)->ticket_kind == TKT_KIND_MISSED ||
            tkt_rc_call(c)->ticket_kind == TKT_KIND_ABANDONED)
            op->status = TKT_ST_PENDING; /* R-M3 (c)/(e): the customer was reached */
        remember_last_call(c);
        reached_at_end(c);
    } else {
        attempt_text(c, op);
    }
}

/* ---- state kept from every event ------------------------------------------- */

/* R-T8: a ticket the IVR pre-created arrives with the call's events. */
static void bind_ivr(tkt_rc_t *c, const char *ticket_id)
{
    bind(c, ticket_id, TKT_KIND_IVR);
    if (!tkt_rc_ref_find(c, ticket_id))
        tkt_rc_ref_push(c, ticket_id, TKT_KIND_IVR, TKT_ST_NEW);
}

static void track(tkt_rc_t *c)
{
    const cmn_event_t *ev = c->ev;
    tkt_call_t *call = tkt_rc_call(c);
    if (!call->call_id[0])
        COPY(call->call_id, ev->call_id);
    if (!call->customer[0] && ev->customer_number)
        COPY(call->customer, ev->customer_number);
    c->withheld = call->customer[0] == '\0';
    if (!c->withheld && !c->plan->customer.number[0])
        COPY(c->plan->customer.number, call->customer);
    if (ev->queue)
        COPY(call->queue, ev->queue);
    if (ev->language)
        COPY(call->language, ev->language);
    if (!call->started_at_ms)
        call->started_at_ms = c->now_ms;
    call->last_event_at_ms = c->now_ms;
    if (ev->direction == CMN_DIR_OUTBOUND) {
        call->outbound = 1;
        if (ev->customer_number)
            COPY(call->dialled_number, ev->customer_number);
    } else if (ev->ticket_id && !call->ticket_id[0]) {
        bind_ivr(c, ev->ticket_id);
    }
}

/* Offers and unanswered operator legs name the last agent offered (R-M1). */
static void on_offered(tkt_rc_t *c)
{
    const cmn_agent_t *a = &c->ev->agent;
    if (cmn_outcome_offers(c->ev)) {
        COPY(tkt_rc_call(c)->last_offered_crm_id, a->crm_id);
        tkt_rc_call(c)->offered = 1; /* even to an unmapped agent: not abandoned */
    }
    tkt_rc_note(c, "call state only: no CRM change");
}

static void dispatch(tkt_rc_t *c)
{
    int outbound = c->ev->direction == CMN_DIR_OUTBOUND;
    switch (c->ev->type) {
    case CMN_EV_OFFERED:
    case CMN_EV_LEG_ENDED:
        on_offered(c);
        return;
    case CMN_EV_ANSWERED:
        outbound ? on_outbound_answered(c) : on_answered(c);
        return;
    case CMN_EV_TRANSFERRED:
        on_transferred(c);
        return;
    case CMN_EV_ENDED:
        outbound ? on_outbound_ended(c) : on_ended(c);
        return;
    case CMN_EV_RECORDING_READY:
        on_recording(c);
        return;
    case CMN_EV_CSAT:
        on_csat(c);
        return;
    case CMN_EV_OUTBOUND_STARTED:
        on_outbound_started(c);
        return;
    case CMN_EV_OUTBOUND_ANSWERED:
        on_outbound_answered(c);
        return;
    case CMN_EV_OUTBOUND_ENDED:
        on_outbound_ended(c);
        return;
    default:
        tkt_rc_note(c, "not a call event: nothing to do");
        return;
    }
}

/* ---- finishing the plan ---------------------------------------------------- */

/* A provider's tag as a ticket tag (issue 24 item 3): what both CRMs hold
 * as one word — Zendesk lowercases tags and splits them at spaces, the
 * Dynamics marker column is space-separated words. ASCII letters are
 * lowercased, digits, '_' and '-' kept, other ASCII becomes '_', other
 * characters (UTF-8) are kept; cut to fit. "" when nothing is left, or
 * when it would pass for one of our own tags (callbus*). */
static void provider_tag(char out[TKT_TAG_MAX], const char *tag)
{
    size_t n = cmn_utf8_cut_copy(out, TKT_TAG_MAX, tag, TKT_TAG_MAX);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)out[i];
        if (ch >= 'A' && ch <= 'Z')
            out[i] = (char)(ch - 'A' + 'a');
        else if (ch < 0x80 && !(ch >= 'a' && ch <= 'z') && !(ch >= '0' && ch <= '9') && ch != '-')
            out[i] = '_';
    }
    while (n > 0 && out[n - 1] == '_')
        out[--n] = '\0';
    if (strspn(out, "_") == n || strncmp(out, "callbus", 7) == 0)
        out[0] = '\0';
}

/* The event's provider tags (CallGear tag_names) go on every op of the
 * plan that creates or writes the call's ticket: a creation carries them,
 * an update adds them (the CRMs keep what the ticket had). At most
 * TKT_PROVIDER_TAGS_MAX, the provider's first. */
static void provider_tags(tkt_rc_t *c)
{
    const char *bound = tkt_rc_call(c)->ticket_id;
    char tag[TKT_TAG_MAX];
    size_t last_create = c->plan->n_ops;
    if (!c->ev->n_tags || !bound[0])
        return;
    for (size_t i = 0; i < c->plan->n_ops; i++)
        if (c->plan->ops[i].kind == TKT_OP_CREATE_TICKET)
            last_create = i;
    for (size_t i = 0; i < c->plan->n_ops; i++) {
        tkt_op_t *op = &c->plan->ops[i];
        size_t added = 0;
        if (op->kind == TKT_OP_CREATE_TICKET
                ? !(i == last_create && tkt_rc_same(bound, TKT_REF_NEW_TICKET))
                : !tkt_rc_same(op->ticket_id, bound))
            continue;
        for (size_t t = 0; t < c->ev->n_tags && added < TKT_PROVIDER_TAGS_MAX; t++) {
            provider_tag(tag, c->ev->tags[t]);
            if (tag[0] && !tag_has(op, tag)) {
                tkt_rc_tag_add(op, tag);
                added++;
            }
        }
    }
}

/* An UPDATE that only carries a comment is a COMMENT (R-B1 counts them apart). */
static void normalise_ops(tkt_plan_t *p)
{
    for (size_t i = 0; i < p->n_ops; i++) {
        tkt_op_t *op = &p->ops[i];
        if (op->kind == TKT_OP_UPDATE && op->status == TKT_ST_UNKNOWN && !op->set_assignee &&
            op->n_fields == 0 && op->n_tags == 0 && op->body[0])
            op->kind = TKT_OP_COMMENT;
    }
}

/* Figures from the ops, and the remembered statuses of the tickets written. */
void tkt_rc_settle(tkt_plan_t *p)
{
    tkt_customer_t *cu = &p->customer;
    for (size_t i = 0; i < p->n_ops; i++) {
        const tkt_op_t *op = &p->ops[i];
        if (op->kind == TKT_OP_CREATE_TICKET) {
            if ((int)op->ticket_kind >= 0 && (int)op->ticket_kind < 6)
                p->figures.created[op->ticket_kind]++;
            if (op->status == TKT_ST_CLOSED)
                p->figures.closed++;
        }
        if (op->kind != TKT_OP_UPDATE || op->status == TKT_ST_UNKNOWN)
            continue;
        for (size_t t = 0; t < cu->n_tickets && t < TKT_MAX_TICKETS; t++)
            if (tkt_rc_same(cu->tickets[t].id, op->ticket_id))
                cu->tickets[t].status = op->status;
    }
    for (size_t t = 0; t < cu->n_tickets && t < TKT_MAX_TICKETS; t++)
        cu->tickets[t].fresh = 0; /* fresh only while one event is processed */
}

int tkt_rc_finish(tkt_rc_t *c)
{
    tkt_plan_t *p = c->plan;
    if (c->overflow || p->need != TKT_NEED_NOTHING) {
        p->n_ops = 0;
        p->call = *c->call;
        p->customer = *c->cust;
        p->call_done = 0;
        memset(&p->figures, 0, sizeof p->figures);
        if (c->overflow) {
            p->need = TKT_NEED_NOTHING;
            p->note = "the plan needs more than TKT_MAX_OPS operations";
            return -1;
        }
        p->note = "waiting for CRM facts";
        return 0;
    }
    provider_tags(c);
    normalise_ops(p);
    if (c->withheld)
        p->customer = *c->cust; /* no number: nothing of the customer is kept */
    tkt_rc_settle(p);
    return 0;
}

cmn_outcome_t tkt_call_outcome(const tkt_call_t *call)
{
    return cmn_outcome_of_call(call->answered, call->outbound,
                               call->offered || call->last_offered_crm_id[0] != 0);
}

int tkt_replacement_ticket(const tkt_policy_t *pol, const cmn_event_t *ev, const tkt_call_t *call,
                           const tkt_customer_t *customer, const char *closed_id,
                           tkt_status_t status, tkt_op_t *out)
{
    static tkt_plan_t plan; /* large; the rules are used from one thread */
    tkt_rc_t c;
    memset(&c, 0, sizeof c);
    memset(&plan, 0, sizeof plan);
    c.pol = pol;
    c.ev = ev;
    c.call = call;
    c.cust = customer;
    c.plan = &plan;
    c.now_ms = ev->occurred_at_ms > 0 ? ev->occurred_at_ms : ev->received_at_ms;
    c.withheld = !call->customer[0];
    plan.call = *call;
    plan.customer = *customer;
    /* the requester is the call's contact as it stands, else the customer's
     * (a missed call's: the grouper's ops look no contact up): nothing to
     * look up */
    c.have_requester = 1;
    const char *contact =
        call->contact_id[0] || c.withheld ? call->contact_id : customer->contact_id;
    COPY(c.requester, contact[0] != '$' ? contact : "");
    tkt_op_t *op = replacement(&c, closed_id, status);
    if (!op || c.overflow)
        return -1;
    *out = *op;
    return 0;
}

/* A decision's context on the stored state (NULL: none) and the facts so
 * far; the plan starts as that state unchanged. The clock is the event's. */
void tkt_rc_init(tkt_rc_t *c, const tkt_policy_t *pol, const cmn_event_t *ev,
                 const tkt_call_t *call, const tkt_customer_t *customer, const tkt_facts_t *facts,
                 tkt_plan_t *out)
{
    static const tkt_call_t no_call;
    static const tkt_customer_t no_customer;
    static const tkt_facts_t no_facts;
    memset(c, 0, sizeof *c);
    c->pol = pol;
    c->ev = ev;
    c->call = call ? call : &no_call;
    c->view = customer ? *customer : no_customer;
    c->facts = facts ? *facts : no_facts;
    c->plan = out;
    c->now_ms = ev->occurred_at_ms > 0 ? ev->occurred_at_ms : ev->received_at_ms;
    /* issue 25 item 2: what the CRM's events told recently counts as read
     * (the R-T2/R-O1 read skipped); settle clears `fresh` before storing */
    for (size_t i = 0; i < c->view.n_tickets && i < TKT_MAX_TICKETS; i++)
        if (tkt_ticket_crm_fresh(pol, &c->view.tickets[i], c->now_ms))
            c->view.tickets[i].fresh = 1;
    c->cust = &c->view;
    out->call = *c->call;
    out->customer = *c->cust;
}

int tkt_decide(const tkt_policy_t *pol, const cmn_event_t *ev, const tkt_call_t *call,
               const tkt_customer_t *customer, const tkt_facts_t *facts, tkt_plan_t *out)
{
    cmn_event_t decided; /* a shallow copy with the outcome the call's state gives */
    tkt_rc_t c;
    if (!out)
        return -1;
    memset(out, 0, sizeof *out);
    if (!pol || !ev) {
        out->note = "no policy or no event";
        return -1;
    }
    tkt_rc_init(&c, pol, ev, call, customer, facts, out);
    if (ev->type == CMN_EV_AGENT_LOGIN || ev->type == CMN_EV_AGENT_LOGOUT) {
        out->note = "agent sessions are pop-service's: nothing to do";
        return 0;
    }
    if (tkt_rc_empty(ev->call_id)) {
        out->note = "a call event without call_id";
        return -1;
    }
    if (ev->internal) {
        /* issue 9: an extension is not a customer; one count per call, at its end */
        out->note = "internal call (extension): no customer, no ticket";
        out->figures.ignored_internal =
            ev->type == CMN_EV_ENDED || ev->type == CMN_EV_OUTBOUND_ENDED;
        return 0;
    }
    if (ev->type == CMN_EV_ENDED && ev->outcome == CMN_OUT_COMPLETED) {
        /* issue 9: the provider could not say (Twilio's caller leg); the
         * call's legs can. The copy borrows ev's strings, never freed here. */
        decided = *ev;
        decided.outcome = tkt_call_outcome(c.call);
        c.ev = &decided;
    }
    track(&c);
    dispatch(&c);
    return tkt_rc_finish(&c);
}

int tkt_missed_reached(const tkt_call_t *call, tkt_plan_t *out)
{
    tkt_customer_t *cu = &out->customer;
    int on_it = call->ticket_id[0] && tkt_rc_same(call->ticket_id, cu->missed_ticket_id);
    tkt_op_t *op;
    if (out->n_ops == TKT_MAX_OPS)
        return -1;
    op = &out->ops[out->n_ops++];
    memset(op, 0, sizeof *op);
    op->kind = TKT_OP_UPDATE;
    COPY(op->ticket_id, cu->missed_ticket_id);
    op->status = on_it ? TKT_ST_PENDING : TKT_ST_CLOSED; /* (b)(c)(e) : (a)(d) */
    op->moot_if_closed = 1; /* a person already ended it: nothing to do (R-T10) */
    if (on_it && call->outbound) {
        COPY(op->tags[0], "callbus_called_back"); /* (c) */
        op->n_tags = 1;
    }
    if (!on_it) {
        snprintf(op->body, sizeof op->body,
                 "The customer was reached (call %s) on another ticket: this missed-call ticket "
                 "is closed.",
                 call->call_id);
        out->figures.closed++;
    }
    cu->missed_group_id[0] = '\0';
    cu->missed_ticket_id[0] = '\0';
    cu->missed_reached_call_id[0] = '\0';
    return 0;
}
