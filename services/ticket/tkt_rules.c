/* The behaviour rules (BEHAVIOUR.md R-I3, R-C1..R-C5, R-T1..R-T12,
 * R-O1..R-O4, R-M1) as one pure function: a call event, the stored state of
 * the call and of the customer, and the CRM facts fetched so far go in; CRM
 * operations and the new state come out. No I/O, no clock, no allocation.
 * The intent of other services (agent actions R-C4/R-P6, the grouper's
 * R-M1..R-M3 operations) is decided here too, with the same helpers
 * (tkt_decide_action, at the end; issue 20 item 1).
 *
 * docs/rules.md tables every event type x situation -> ops and explains the
 * judgement calls; the rule ids in the comments here point into it. The
 * shape of every function is the same: read the stored state from `c->call`
 * / `c->cust` (what was true before this event), write the new state into
 * `c->plan->call` / `c->plan->customer`, and add ops to `c->plan`. */
#include "tkt_rules.h"
#include "cmn_outcome.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define CHANNEL_VOICE "voice"
#define MS_PER_S 1000

/* ---- strings ------------------------------------------------------------- */

static int empty(const char *s)
{
    return !s || !*s;
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

static int same(const char *a, const char *b)
{
    return strcmp(or_empty(a), or_empty(b)) == 0;
}

/* Copies with truncation; NULL copies as "". The CRM ids and names we copy
 * fit their buffers (the event schema bounds them); truncation only guards
 * against a malformed stored state. */
static void copy(char *dst, size_t dstsz, const char *src)
{
    size_t n = src ? strlen(src) : 0;
    if (n >= dstsz)
        n = dstsz - 1;
    if (n)
        memmove(dst, src, n);
    dst[n] = '\0';
}
#define COPY(dst, src) copy((dst), sizeof(dst), (src))

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

typedef struct {
    const tkt_policy_t *pol;
    const cmn_event_t *ev;
    const tkt_call_t *call;     /* stored, before this event */
    const tkt_customer_t *cust; /* stored, with refs made fresh by the caller */
    tkt_facts_t facts;
    tkt_plan_t *plan; /* plan->call / plan->customer: the state being built */
    int64_t now_ms;
    int withheld; /* no customer number: no contact look-up, no customer state */
    int have_requester;
    char requester[TKT_ID_MAX];
    int overflow;
    tkt_op_t spare; /* written to once the plan is full; tkt_decide() then fails */
} dctx_t;

typedef enum { CHK_ACTIVE, CHK_INACTIVE, CHK_NEED } chk_t;

static tkt_call_t *st_call(dctx_t *c)
{
    return &c->plan->call;
}

static void note(dctx_t *c, const char *why)
{
    if (!c->plan->note)
        c->plan->note = why;
}

/* Asks the caller for a fact; only the first need of a pass is kept. */
static void need(dctx_t *c, tkt_need_t what, const char *ticket_id)
{
    if (c->plan->need != TKT_NEED_NOTHING)
        return;
    c->plan->need = what;
    COPY(c->plan->need_ticket_id, ticket_id);
}

/* The call's customer; an agent action or a grouper's operation on a call
 * ticket-service has no state of yet names the customer in its event. */
static const char *customer_number(dctx_t *c)
{
    return st_call(c)->customer[0] ? st_call(c)->customer : or_empty(c->ev->customer_number);
}

static const char *shown_number(dctx_t *c)
{
    return c->withheld ? "withheld number" : customer_number(c);
}

/* The mapped CRM agent the event is about, else the one the call has. */
static const char *call_agent(dctx_t *c)
{
    return !empty(c->ev->agent.crm_id) ? c->ev->agent.crm_id : st_call(c)->agent_crm_id;
}

static const char *agent_label(const cmn_agent_t *a, const char *crm_id)
{
    if (!empty(a->name) && (empty(crm_id) || same(a->crm_id, crm_id)))
        return a->name;
    if (!empty(crm_id))
        return crm_id;
    if (!empty(a->provider_id))
        return a->provider_id;
    return "another operator";
}

/* ---- ops ----------------------------------------------------------------- */

static tkt_op_t *op_add(dctx_t *c, tkt_op_kind_t kind, const char *ticket_id)
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
static tkt_op_t *op_find(dctx_t *c, const char *ticket_id)
{
    for (size_t i = c->plan->n_ops; i-- > 0;) {
        tkt_op_t *op = &c->plan->ops[i];
        if (op->kind == TKT_OP_CREATE_TICKET && same(ticket_id, TKT_REF_NEW_TICKET))
            return op;
        if ((op->kind == TKT_OP_UPDATE || op->kind == TKT_OP_COMMENT) &&
            same(op->ticket_id, ticket_id))
            return op;
    }
    return NULL;
}

static tkt_op_t *op_write(dctx_t *c, const char *ticket_id)
{
    tkt_op_t *op = op_find(c, ticket_id);
    return op ? op : op_add(c, TKT_OP_UPDATE, ticket_id);
}

/* One line of a comment; lines are separated by "\n". No '[' is ever
 * written: the executor takes the last '[' of a body as its replay marker. */
static void __attribute__((format(printf, 2, 3))) body_line(tkt_op_t *op, const char *fmt, ...)
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
    body_line(op, "%s: %s", label, text);
}

/* R-T9: an unmapped field ("") or an unknown value is simply not set. */
static void field_set(tkt_op_t *op, const char *field_id, const char *value)
{
    size_t i;
    if (empty(field_id) || empty(value))
        return;
    for (i = 0; i < op->n_fields && !same(op->fields[i].field_id, field_id); i++)
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

static void tag_add(tkt_op_t *op, const char *tag)
{
    if (!empty(tag) && op->n_tags < TKT_MAX_TAGS)
        COPY(op->tags[op->n_tags++], tag);
}

/* ---- the customer's tickets ---------------------------------------------- */

static tkt_ticket_ref_t *ref_find(dctx_t *c, const char *id)
{
    tkt_customer_t *cu = &c->plan->customer;
    if (empty(id))
        return NULL;
    for (size_t i = 0; i < cu->n_tickets && i < TKT_MAX_TICKETS; i++)
        if (same(cu->tickets[i].id, id))
            return &cu->tickets[i];
    return NULL;
}

/* Newest first; the oldest falls off. Pointers to refs are stale after this. */
static void ref_push(dctx_t *c, const char *id, tkt_kind_t kind, tkt_status_t status)
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
    COPY(r->queue, st_call(c)->queue);
    COPY(r->channel, CHANNEL_VOICE);
    r->created_at_ms = c->now_ms;
    cu->n_tickets = keep + 1;
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

/* tkt_ticket_writable, asking for the status once per event. */
static chk_t ref_check(dctx_t *c, const tkt_ticket_ref_t *r)
{
    int w = tkt_ticket_writable(r, c->facts.tickets_checked);
    if (w < 0) {
        need(c, TKT_NEED_TICKET_STATUS, r->id);
        return CHK_NEED;
    }
    return w ? CHK_ACTIVE : CHK_INACTIVE;
}

static void bind(dctx_t *c, const char *ticket_id, tkt_kind_t kind)
{
    COPY(st_call(c)->ticket_id, ticket_id);
    st_call(c)->ticket_kind = kind;
}

static void count_reuse(dctx_t *c, tkt_status_t was)
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
static const char *contact_from_facts(dctx_t *c)
{
    size_t n = c->facts.n_contacts < 8 ? c->facts.n_contacts : 8;
    size_t best = 0;
    if (n == 0) {
        tkt_op_t *op = op_add(c, TKT_OP_CREATE_CONTACT, "");
        COPY(op->phone, customer_number(c));
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
static int requester(dctx_t *c, const char **out)
{
    tkt_call_t *call = st_call(c);
    const char *id = call->picked_contact_id;
    int cache = 0;
    if (!c->have_requester) {
        if (empty(id))
            id = call->contact_id;
        if (empty(id) && !c->withheld)
            id = c->plan->customer.contact_id;
        if (empty(id) && !c->withheld) {
            if (!c->facts.contacts_known) {
                need(c, TKT_NEED_CONTACTS, "");
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

typedef struct {
    tkt_kind_t kind;
    const char *subject; /* template */
    tkt_status_t status;
    const char *assignee;   /* "" = nobody */
    const char *ext_suffix; /* after "callbus-<call id>" */
    const char *tag;        /* besides "callbus" and the kind's tag */
    int keep;               /* remember it among the customer's tickets, bind the call to it */
} spec_t;

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
static cmn_event_t subject_view(dctx_t *c)
{
    cmn_event_t v = *c->ev;
    if (!v.customer_number && !c->withheld)
        v.customer_number = st_call(c)->customer;
    if (!v.queue && st_call(c)->queue[0])
        v.queue = st_call(c)->queue;
    return v;
}

/* R-T9 "from" number: the caller inbound; outbound the number the agent
 * called from, which the event schema puts in dialled_number. */
static const char *from_number(dctx_t *c)
{
    if (st_call(c)->outbound)
        return or_empty(c->ev->dialled_number);
    return customer_number(c);
}

/* R-T9, filled at session start. */
static void start_fields(dctx_t *c, tkt_op_t *op)
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
static void end_fields(dctx_t *c, tkt_op_t *op)
{
    const tkt_field_map_t *f = &c->pol->fields;
    field_secs(op, f->call_duration, call_duration(c->ev));
    field_secs(op, f->wait_time, c->ev->wait_s);
    field_set(op, f->queue_name, st_call(c)->queue);
    field_set(op, f->call_id, st_call(c)->call_id);
    field_secs(op, f->hold_time, c->ev->hold_s);
}

/* CREATE_TICKET with requester, subject, external id, tags, status,
 * assignee and the session-start fields; the caller writes the first
 * comment into its body. NULL when the contacts are needed first. */
static tkt_op_t *new_ticket(dctx_t *c, const spec_t *s)
{
    const char *req;
    if (requester(c, &req) < 0)
        return NULL;
    tkt_op_t *op = op_add(c, TKT_OP_CREATE_TICKET, "");
    cmn_event_t view = subject_view(c);
    tkt_render_subject(s->subject, &view, op->subject, sizeof op->subject);
    COPY(op->requester_id, req);
    tkt_external_id(op->external_id, sizeof op->external_id, st_call(c)->call_id,
                    or_empty(s->ext_suffix)); /* fits: tkt_model.h */
    op->ticket_kind = s->kind;
    tag_add(op, "callbus");
    tag_add(op, kind_tag(s->kind));
    tag_add(op, s->tag);
    op->status = s->status;
    op->set_assignee = 1;
    COPY(op->assignee_id, s->assignee);
    start_fields(c, op);
    if (s->keep) {
        ref_push(c, TKT_REF_NEW_TICKET, s->kind, s->status);
        bind(c, TKT_REF_NEW_TICKET, s->kind);
    }
    return op;
}

/* ---- comment texts ------------------------------------------------------- */

/* R-T1's standard data: call id, language, menu selection (queue). */
static void standard_data(dctx_t *c, tkt_op_t *op)
{
    tkt_call_t *call = st_call(c);
    body_line(op, "Call ID: %s", call->call_id);
    if (call->language[0])
        body_line(op, "Language: %s", call->language);
    if (call->queue[0])
        body_line(op, "Menu selection: %s", call->queue);
    if (!empty(c->ev->ticket_type))
        body_line(op, "Ticket type: %s", c->ev->ticket_type);
}

static void answered_text(dctx_t *c, tkt_op_t *op, const char *agent)
{
    body_block(op);
    body_line(op, "Inbound call from %s answered by %s", shown_number(c),
              agent_label(&c->ev->agent, agent));
    standard_data(c, op);
}

/* R-C5: a number the agent dialled that is not the customer's goes in the
 * comment, never onto the contact. The number dialled is the event's
 * customer_number; the customer's is the one the stored state belongs to. */
static void dialled_note(dctx_t *c, tkt_op_t *op)
{
    const char *dialled = c->ev->customer_number, *known = c->cust->number;
    if (!empty(dialled) && !empty(known) && !same(dialled, known))
        body_line(op, "Dialled number: %s (not stored on the contact)", dialled);
}

static void outbound_text(dctx_t *c, tkt_op_t *op)
{
    body_block(op);
    body_line(op, "Outbound call to %s by %s", shown_number(c),
              agent_label(&c->ev->agent, call_agent(c)));
    body_line(op, "Call ID: %s", st_call(c)->call_id);
    dialled_note(c, op);
}

/* R-T5: direction, from, to, agent, queue, wait, talk, hold, total. */
static void summary(dctx_t *c, tkt_op_t *op)
{
    const cmn_event_t *ev = c->ev;
    tkt_call_t *call = st_call(c);
    const char *ours = empty(ev->dialled_number) ? NULL : ev->dialled_number;
    body_block(op);
    body_line(op, "Call summary");
    body_line(op, "Direction: %s", call->outbound ? "outbound" : "inbound");
    if (!call->outbound || ours)
        body_line(op, "From: %s", call->outbound ? ours : shown_number(c));
    if (call->outbound || ours)
        body_line(op, "To: %s", call->outbound ? shown_number(c) : ours);
    if (!empty(call_agent(c)) || !empty(ev->agent.name))
        body_line(op, "Agent: %s", agent_label(&ev->agent, call_agent(c)));
    if (call->queue[0])
        body_line(op, "Queue: %s", call->queue);
    duration_line(op, "Wait", ev->wait_s);
    duration_line(op, "Talk", ev->talk_s);
    duration_line(op, "Hold", ev->hold_s);
    duration_line(op, "Total", call_duration(ev));
    if (ev->outcome != CMN_OUT_NONE)
        body_line(op, "Outcome: %s", cmn_outcome_name(ev->outcome));
}

/* ---- writing to the call's ticket (R-T7, R-T10) ---------------------------- */

/* R-T10: the call's ticket was solved or closed by a person; the write goes
 * to a new ticket, named after the closed one so a replay finds it again. */
static tkt_op_t *replacement(dctx_t *c, const char *closed, tkt_status_t status)
{
    char closed_id[TKT_ID_MAX], suffix[TKT_ID_MAX + 8] = "";
    int outbound = st_call(c)->outbound;
    COPY(closed_id, closed);
    append(suffix, sizeof suffix, "-after-%s", closed_id);
    spec_t s = {outbound ? TKT_KIND_OUTBOUND : TKT_KIND_CALL,
                outbound ? c->pol->subject_outbound : c->pol->subject_call,
                status,
                !empty(st_call(c)->agent_crm_id) ? st_call(c)->agent_crm_id
                                                 : c->pol->default_assignee,
                suffix,
                NULL,
                1};
    tkt_op_t *op = new_ticket(c, &s);
    if (op)
        body_line(op, "Ticket %s of this call was solved or closed; the call continues here.",
                  closed_id);
    return op;
}

/* Where a write meant for the call's ticket goes. With the ticket's status
 * fresh (the executor re-decides with it fresh when the CRM refuses a
 * write): merged -> the ticket it went into (R-T7, followed hop by hop);
 * solved/closed -> a new ticket (R-T10) when allow_new, else nowhere (NULL).
 * Otherwise the call's ticket. NULL also when a fact is needed first. */
static tkt_op_t *call_write(dctx_t *c, tkt_status_t new_status, int allow_new)
{
    tkt_call_t *call = st_call(c);
    for (int hop = 0; hop <= TKT_MAX_TICKETS; hop++) {
        const tkt_ticket_ref_t *r = ref_find(c, call->ticket_id);
        if (!r || !r->fresh)
            break;
        if (r->merged_into[0] && !same(r->merged_into, r->id)) {
            COPY(call->ticket_id, r->merged_into);
            continue;
        }
        if (r->status == TKT_ST_SOLVED || r->status == TKT_ST_CLOSED)
            return allow_new ? replacement(c, r->id, new_status) : NULL;
        break;
    }
    return op_write(c, call->ticket_id);
}

/* ---- inbound: answer, reuse, transfer -------------------------------------- */

static void ignore_unmapped(dctx_t *c, const char *why)
{
    note(c, why);
    c->plan->figures.ignored_unmapped = 1;
}

/* R-T8: the IVR's ticket (or the call's own) gets the answering agent. */
static tkt_op_t *answer_on_bound(dctx_t *c, const char *agent)
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

static tkt_op_t *reuse(dctx_t *c, const tkt_ticket_ref_t *r, const char *agent)
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
static int try_reuse(dctx_t *c, const char *agent, tkt_op_t **op)
{
    tkt_customer_t *cu = &c->plan->customer;
    *op = NULL;
    if (!c->pol->reuse || c->withheld)
        return 0;
    for (size_t i = 0; i < cu->n_tickets && i < TKT_MAX_TICKETS; i++) {
        const tkt_ticket_ref_t *r = &cu->tickets[i];
        if (!reusable_kind(r->kind) || !same(r->queue, st_call(c)->queue) ||
            !same(r->channel, CHANNEL_VOICE))
            continue;
        chk_t chk = ref_check(c, r);
        if (chk == CHK_NEED)
            return -1;
        if (chk == CHK_ACTIVE) {
            *op = reuse(c, r, agent);
            return 0;
        }
    }
    return 0;
}

static tkt_op_t *create_call_ticket(dctx_t *c, const char *agent, tkt_status_t status,
                                    const char *suffix)
{
    spec_t s = {TKT_KIND_CALL, c->pol->subject_call, status, agent, suffix, NULL, 1};
    tkt_op_t *op = new_ticket(c, &s);
    if (op)
        answered_text(c, op, agent);
    return op;
}

/* R-T8, else R-T2, else R-T1: the ticket an answering agent works on. */
static tkt_op_t *answer_ticket(dctx_t *c, const char *agent)
{
    tkt_op_t *op;
    if (st_call(c)->ticket_id[0])
        return answer_on_bound(c, agent);
    if (try_reuse(c, agent, &op) < 0 || op)
        return op;
    return create_call_ticket(c, agent, TKT_ST_OPEN, "");
}

static void reassign(dctx_t *c, const char *from, const char *to)
{
    tkt_op_t *op = call_write(c, TKT_ST_OPEN, 1);
    if (!op)
        return;
    body_block(op);
    body_line(op, "Call transferred from %s to %s", agent_label(&c->ev->previous_agent, from),
              agent_label(&c->ev->agent, to));
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
static void close_leg(dctx_t *c, const char *to)
{
    tkt_op_t *op = call_write(c, TKT_ST_UNKNOWN, 0);
    if (!op)
        return;
    body_block(op);
    body_line(op, "Call transferred to %s; the rest of the call is on its own ticket.",
              agent_label(&c->ev->agent, to));
    op->status = TKT_ST_PENDING;
}

/* R-T4 split, the agent leaving had no ticket of their own ("did nothing"
 * in Deskie's words): a closed ticket records the leg. Nothing refers to
 * it later, so it is not remembered. Returns 0 when contacts are needed. */
static int idle_leg(dctx_t *c, const char *from, const char *to)
{
    char suffix[32];
    leg_suffix(suffix, sizeof suffix, st_call(c)->n_legs);
    spec_t s = {TKT_KIND_CALL,
                c->pol->subject_split_idle,
                TKT_ST_CLOSED,
                from,
                suffix,
                "callbus_idle_leg",
                0};
    tkt_op_t *op = new_ticket(c, &s);
    if (!op)
        return 0;
    body_line(op, "Inbound call from %s answered by %s and transferred to %s", shown_number(c),
              agent_label(&c->ev->previous_agent, from), agent_label(&c->ev->agent, to));
    standard_data(c, op);
    return 1;
}

static void split(dctx_t *c, const char *from, const char *to)
{
    tkt_call_t *call = st_call(c);
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
static void transfer(dctx_t *c, const char *from_in, const char *to)
{
    tkt_call_t *call = st_call(c);
    char from[TKT_ID_MAX];
    COPY(from, from_in);
    if (empty(to)) {
        COPY(call->agent_crm_id, "");
        ignore_unmapped(c, "R-T4/R-I3: transferred to an operator with no CRM agent: the ticket "
                           "is left as it is");
        return;
    }
    if (same(to, c->call->agent_crm_id) && c->call->ticket_id[0]) {
        note(c, "transfer already applied (replay): nothing to do");
        return;
    }
    call->answered = 1;
    COPY(call->agent_crm_id, to);
    COPY(call->last_offered_crm_id, to);
    if (c->pol->transfer == TKT_TRANSFER_SPLIT && !empty(from) && split_room(call)) {
        split(c, from, to);
        return;
    }
    if (!call->ticket_id[0]) { /* the leg before had no ticket (unmapped operator) */
        answer_ticket(c, to);
        return;
    }
    if (c->pol->transfer == TKT_TRANSFER_SPLIT)
        note(c, "R-T4 split: no room for another leg; the ticket is re-assigned instead");
    reassign(c, from, to);
}

static void on_answered(dctx_t *c)
{
    const char *agent = or_empty(c->ev->agent.crm_id);
    tkt_call_t *call = st_call(c);
    if (c->call->ended) {
        note(c, "answered after the call ended: nothing to do");
        return;
    }
    if (c->call->answered && c->call->ticket_id[0]) {
        if (same(agent, c->call->agent_crm_id)) {
            note(c, "already answered by this agent (replay): nothing to do");
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
    if (empty(agent)) {
        ignore_unmapped(c, "R-I3: answered by an operator with no CRM agent: ignored");
        return;
    }
    answer_ticket(c, agent);
}

static void on_transferred(dctx_t *c)
{
    const char *from =
        !empty(c->ev->previous_agent.crm_id) ? c->ev->previous_agent.crm_id : c->call->agent_crm_id;
    if (c->call->ended) {
        note(c, "transferred after the call ended: nothing to do");
        return;
    }
    transfer(c, from, or_empty(c->ev->agent.crm_id));
}

/* ---- inbound: end of call -------------------------------------------------- */

static int64_t call_total(dctx_t *c)
{
    int64_t d = call_duration(c->ev);
    if (d >= 0)
        return d;
    if (st_call(c)->started_at_ms > 0 && c->now_ms >= st_call(c)->started_at_ms)
        return (c->now_ms - st_call(c)->started_at_ms) / MS_PER_S;
    return -1;
}

/* For R-O4: the last conversation with this customer. */
static void remember_last_call(dctx_t *c)
{
    tkt_last_call_t *lc = &c->plan->customer.last_call;
    if (c->withheld)
        return;
    memset(lc, 0, sizeof *lc);
    COPY(lc->call_id, st_call(c)->call_id);
    COPY(lc->ticket_id, st_call(c)->ticket_id);
    COPY(lc->agent_crm_id, call_agent(c));
    lc->ended_at_ms = c->now_ms;
    lc->total_s = call_total(c);
}

/* R-M3: the grouper's group.reached for this call came first (two topics):
 * its end applies it now (tkt_missed_reached). */
static void reached_at_end(dctx_t *c)
{
    tkt_customer_t *cu = &c->plan->customer;
    if (!cu->missed_reached_call_id[0] || !same(cu->missed_reached_call_id, st_call(c)->call_id))
        return;
    cu->missed_reached_call_id[0] = '\0';
    if (tkt_missed_reached(st_call(c), c->plan) < 0)
        c->overflow = 1;
}

/* R-T5: summary, end-of-call fields, pending. */
static void end_answered(dctx_t *c)
{
    const char *agent = call_agent(c);
    tkt_op_t *op;
    if (st_call(c)->ticket_id[0]) {
        op = call_write(c, TKT_ST_PENDING, 1);
    } else if (empty(agent)) {
        note(c, "R-I3: call handled by an operator with no CRM agent: ignored");
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
static const char *missed_assignee(dctx_t *c)
{
    const char *last = cmn_outcome_missed_agent(c->ev, st_call(c)->last_offered_crm_id);
    return !empty(last) ? last : c->pol->default_assignee;
}

/* R-T8 with nobody answering: the IVR's ticket gets the summary and stays
 * open; a missed or abandoned call's goes to the last agent offered (R-M1;
 * else R-T11's default), a voicemail's to the default (R-T11). Under the
 * grouper too: its group.open adopts this ticket (adopt_ivr_ticket) and names
 * the same agent, so whichever is applied last, the assignee is the same
 * (issue 19 item 5). */
static void end_unanswered_bound(dctx_t *c)
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
static void voicemail_ticket(dctx_t *c)
{
    spec_t s = {TKT_KIND_VOICEMAIL,
                c->pol->subject_voicemail,
                TKT_ST_OPEN,
                c->pol->default_assignee,
                "",
                NULL,
                1};
    tkt_op_t *op = new_ticket(c, &s);
    if (!op)
        return;
    body_line(op, "Voicemail from %s", shown_number(c));
    standard_data(c, op);
    summary(c, op);
    end_fields(c, op);
}

static void missed_ticket(dctx_t *c)
{
    int abandoned = c->ev->outcome == CMN_OUT_ABANDONED;
    if (c->pol->unanswered == TKT_UNANSWERED_GROUPER && !c->withheld) {
        /* the grouper groups by number: a withheld one is ticketed here */
        note(c, "R-M1: missed call left to the missed-call grouper");
        return;
    }
    if (abandoned && !c->pol->abandoned_tickets) {
        note(c, "R-M1: abandoned-call tickets are switched off");
        return;
    }
    spec_t s = {abandoned ? TKT_KIND_ABANDONED : TKT_KIND_MISSED,
                c->pol->subject_missed,
                TKT_ST_OPEN,
                missed_assignee(c),
                "",
                abandoned ? "callbus_abandoned" : NULL,
                1};
    tkt_op_t *op = new_ticket(c, &s);
    if (!op)
        return;
    body_line(op,
              abandoned ? "Abandoned call from %s: hung up before reaching an agent"
                        : "Missed call from %s: no agent answered",
              shown_number(c));
    standard_data(c, op);
    summary(c, op);
    end_fields(c, op);
}

static void end_unanswered(dctx_t *c)
{
    if (st_call(c)->ticket_id[0]) {
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
        note(c, "call ended without an outcome: nothing to do");
        return;
    }
}

static void on_ended(dctx_t *c)
{
    int talked = c->ev->outcome == CMN_OUT_ANSWERED || c->call->answered;
    if (c->call->ended) {
        note(c, "call already ended (replay): nothing to do");
        return;
    }
    st_call(c)->ended = 1;
    c->plan->call_done = 1;
    if (talked)
        end_answered(c);
    else
        end_unanswered(c);
    if (talked) {
        remember_last_call(c);
        reached_at_end(c);
    }
}

/* ---- recordings and scores (R-T6, R-T12) ----------------------------------- */

static void on_recording(dctx_t *c)
{
    char length[48];
    if (!st_call(c)->ticket_id[0]) {
        note(c, "R-T6: recording of a call without a ticket: nothing to attach it to");
        return;
    }
    tkt_op_t *op = call_write(c, TKT_ST_OPEN, 1);
    if (!op)
        return;
    body_block(op);
    if (c->ev->recording_duration_s >= 0) {
        tkt_format_duration(c->ev->recording_duration_s, length, sizeof length);
        body_line(op, "Recording (%s): %s", length, or_empty(c->ev->recording_url));
    } else {
        body_line(op, "Recording: %s", or_empty(c->ev->recording_url));
    }
}

static void on_csat(dctx_t *c)
{
    char score[16];
    if (c->ev->csat_score < 0) {
        note(c, "R-T12: call.csat without a score: nothing to do");
        return;
    }
    if (!st_call(c)->ticket_id[0]) {
        note(c, "R-T12: score for a call without a ticket: nothing to add it to");
        return;
    }
    tkt_op_t *op = call_write(c, TKT_ST_OPEN, 1);
    if (!op)
        return;
    body_block(op);
    body_line(op, "Customer satisfaction: %d/%d", c->ev->csat_score, c->ev->csat_scale);
    if (snprintf(score, sizeof score, "%d", c->ev->csat_score) > 0)
        field_set(op, c->pol->fields.csat, score);
}

/* ---- outbound (R-O1..R-O4, R-C5) ------------------------------------------- */

/* R-O1: attached. It is set open only once the customer answers: an
 * attempt nobody answered changes no status (R-O3). */
static void attach(dctx_t *c, const char *ticket_id, tkt_kind_t kind, tkt_status_t was)
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
static int attach_ref(dctx_t *c, const tkt_ticket_ref_t *r)
{
    switch (ref_check(c, r)) {
    case CHK_NEED:
        return -1;
    case CHK_INACTIVE:
        return 0;
    case CHK_ACTIVE:
    default:
        attach(c, r->id, r->kind, r->status);
        return 1;
    }
}

/* R-O1: the ticket the agent called from, if we created it and it is active. */
static int attach_given(dctx_t *c)
{
    const tkt_ticket_ref_t *r = ref_find(c, c->ev->ticket_id);
    if (!r) {
        note(c, "R-O1: the ticket called from was not created by callbus: new ticket");
        return 0;
    }
    return attach_ref(c, r);
}

/* R-O4: a short call that just ended, and the agent calls straight back. */
static int attach_callback(dctx_t *c)
{
    const tkt_last_call_t *lc = &c->plan->customer.last_call;
    int64_t gap = c->now_ms - lc->ended_at_ms;
    if (c->withheld || empty(lc->ticket_id) || lc->ended_at_ms <= 0 || lc->total_s < 0 ||
        lc->total_s >= c->pol->short_call_s || gap < 0 ||
        gap > (int64_t)c->pol->callback_window_s * MS_PER_S)
        return 0;
    const tkt_ticket_ref_t *r = ref_find(c, lc->ticket_id);
    if (r)
        return attach_ref(c, r);
    attach(c, lc->ticket_id, TKT_KIND_CALL, TKT_ST_UNKNOWN); /* ours: it was that call's */
    return 1;
}

/* R-O2: the customer's latest ticket of ours, if still open. */
static int attach_latest(dctx_t *c)
{
    if (c->withheld || c->plan->customer.n_tickets == 0)
        return 0;
    return attach_ref(c, &c->plan->customer.tickets[0]);
}

static tkt_op_t *outbound_ticket(dctx_t *c, tkt_status_t status)
{
    spec_t s = {TKT_KIND_OUTBOUND, c->pol->subject_outbound, status, call_agent(c), "", NULL, 1};
    tkt_op_t *op = new_ticket(c, &s);
    if (op)
        outbound_text(c, op);
    return op;
}

static void outbound_start(dctx_t *c)
{
    const char *agent = or_empty(c->ev->agent.crm_id);
    int r;
    if (empty(agent) && !c->ev->agent.provider_id)
        agent = c->call->agent_crm_id; /* the event names no operator at all */
    COPY(st_call(c)->agent_crm_id, agent);
    if (empty(agent)) {
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
        note(c, "R-O2 (Deskie): not attached; a closed ticket is made when the call ends");
        return;
    }
    outbound_ticket(c, TKT_ST_OPEN);
}

static void on_outbound_started(dctx_t *c)
{
    if (c->call->outbound) {
        note(c, "outbound call already started (legout and callout both say so)");
        return;
    }
    outbound_start(c);
}

static void on_outbound_answered(dctx_t *c)
{
    if (c->call->ended) {
        note(c, "answered after the call ended: nothing to do");
        return;
    }
    if (!c->call->outbound)
        outbound_start(c); /* its start was never seen */
    st_call(c)->answered = 1;
    if (st_call(c)->ticket_id[0] && st_call(c)->ticket_kind != TKT_KIND_OUTBOUND) {
        tkt_op_t *op = call_write(c, TKT_ST_OPEN, 1);
        if (op)
            op->status = TKT_ST_OPEN; /* R-O1: the agent is working on it again */
    } else if (c->call->outbound) {
        note(c, "outbound call answered: its own ticket is already open");
    }
}

/* R-O3: logged as an attempt, no status change. */
static void attempt_text(dctx_t *c, tkt_op_t *op)
{
    body_block(op);
    body_line(op, "Call attempt (not answered)");
    body_line(op, "To: %s", shown_number(c));
    body_line(op, "Agent: %s", agent_label(&c->ev->agent, call_agent(c)));
    duration_line(op, "Duration", call_duration(c->ev));
}

static void on_outbound_ended(dctx_t *c)
{
    int answered = c->ev->outcome == CMN_OUT_ANSWERED;
    tkt_op_t *op;
    if (c->call->ended) {
        note(c, "call already ended (replay): nothing to do");
        return;
    }
    if (!c->call->outbound)
        outbound_start(c); /* its start was never seen */
    st_call(c)->ended = 1;
    c->plan->call_done = 1;
    if (st_call(c)->ticket_id[0]) {
        op = call_write(c, TKT_ST_OPEN, 1);
    } else if (empty(call_agent(c))) {
        note(c, "R-I3: outbound call by an operator with no CRM agent: ignored");
        return;
    } else if (c->pol->outbound_unattached_closed) {
        op = outbound_ticket(c, TKT_ST_CLOSED); /* R-O2 (Deskie) */
    } else {
        note(c, "outbound call without a ticket (its start was ignored): nothing to write to");
        return;
    }
    if (!op)
        return;
    if (answered) {
        summary(c, op);
        end_fields(c, op);
        if (st_call(c)->ticket_kind == TKT_KIND_MISSED ||
            st_call(c)->ticket_kind == TKT_KIND_ABANDONED)
            op->status = TKT_ST_PENDING; /* R-M3 (c)/(e): the customer was reached */
        remember_last_call(c);
        reached_at_end(c);
    } else {
        attempt_text(c, op);
    }
}

/* ---- state kept from every event ------------------------------------------- */

/* R-T8: a ticket the IVR pre-created arrives with the call's events. */
static void bind_ivr(dctx_t *c, const char *ticket_id)
{
    bind(c, ticket_id, TKT_KIND_IVR);
    if (!ref_find(c, ticket_id))
        ref_push(c, ticket_id, TKT_KIND_IVR, TKT_ST_NEW);
}

static void track(dctx_t *c)
{
    const cmn_event_t *ev = c->ev;
    tkt_call_t *call = st_call(c);
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
static void on_offered(dctx_t *c)
{
    const cmn_agent_t *a = &c->ev->agent;
    if (cmn_outcome_offers(c->ev)) {
        COPY(st_call(c)->last_offered_crm_id, a->crm_id);
        st_call(c)->offered = 1; /* even to an unmapped agent: not abandoned */
    }
    note(c, "call state only: no CRM change");
}

static void dispatch(dctx_t *c)
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
        note(c, "not a call event: nothing to do");
        return;
    }
}

/* ---- finishing the plan ---------------------------------------------------- */

/* An UPDATE that only carries a comment is a COMMENT (R-B1 counts them apart). */
static void normalise_ops(tkt_plan_t *p)
{
    for (size_t i = 0; i < p->n_ops; i++) {
        tkt_op_t *op = &p->ops[i];
        if (op->kind == TKT_OP_UPDATE && op->status == TKT_ST_UNKNOWN && !op->set_assignee &&
            op->n_fields == 0 && op->body[0])
            op->kind = TKT_OP_COMMENT;
    }
}

/* Figures from the ops, and the remembered statuses of the tickets written. */
static void settle(tkt_plan_t *p)
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
            if (same(cu->tickets[t].id, op->ticket_id))
                cu->tickets[t].status = op->status;
    }
    for (size_t t = 0; t < cu->n_tickets && t < TKT_MAX_TICKETS; t++)
        cu->tickets[t].fresh = 0; /* fresh only while one event is processed */
}

static int finish(dctx_t *c)
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
    normalise_ops(p);
    if (c->withheld)
        p->customer = *c->cust; /* no number: nothing of the customer is kept */
    settle(p);
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
    dctx_t c;
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
    /* the requester is the call's contact as it stands: nothing to look up */
    c.have_requester = 1;
    COPY(c.requester, call->contact_id[0] != '$' ? call->contact_id : "");
    tkt_op_t *op = replacement(&c, closed_id, status);
    if (!op || c.overflow)
        return -1;
    *out = *op;
    return 0;
}

/* A decision's context on the stored state (NULL: none) and the facts so
 * far; the plan starts as that state unchanged. The clock is the event's. */
static void ctx_init(dctx_t *c, const tkt_policy_t *pol, const cmn_event_t *ev,
                     const tkt_call_t *call, const tkt_customer_t *customer,
                     const tkt_facts_t *facts, tkt_plan_t *out)
{
    static const tkt_call_t no_call;
    static const tkt_customer_t no_customer;
    static const tkt_facts_t no_facts;
    memset(c, 0, sizeof *c);
    c->pol = pol;
    c->ev = ev;
    c->call = call ? call : &no_call;
    c->cust = customer ? customer : &no_customer;
    c->facts = facts ? *facts : no_facts;
    c->plan = out;
    c->now_ms = ev->occurred_at_ms > 0 ? ev->occurred_at_ms : ev->received_at_ms;
    out->call = *c->call;
    out->customer = *c->cust;
}

int tkt_decide(const tkt_policy_t *pol, const cmn_event_t *ev, const tkt_call_t *call,
               const tkt_customer_t *customer, const tkt_facts_t *facts, tkt_plan_t *out)
{
    cmn_event_t decided; /* a shallow copy with the outcome the call's state gives */
    dctx_t c;
    if (!out)
        return -1;
    memset(out, 0, sizeof *out);
    if (!pol || !ev) {
        out->note = "no policy or no event";
        return -1;
    }
    ctx_init(&c, pol, ev, call, customer, facts, out);
    if (ev->type == CMN_EV_AGENT_LOGIN || ev->type == CMN_EV_AGENT_LOGOUT) {
        out->note = "agent sessions are pop-service's: nothing to do";
        return 0;
    }
    if (empty(ev->call_id)) {
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
    return finish(&c);
}

int tkt_missed_reached(const tkt_call_t *call, tkt_plan_t *out)
{
    tkt_customer_t *cu = &out->customer;
    int on_it = call->ticket_id[0] && same(call->ticket_id, cu->missed_ticket_id);
    tkt_op_t *op;
    if (out->n_ops == TKT_MAX_OPS)
        return -1;
    op = &out->ops[out->n_ops++];
    memset(op, 0, sizeof *op);
    op->kind = TKT_OP_UPDATE;
    COPY(op->ticket_id, cu->missed_ticket_id);
    op->status = on_it ? TKT_ST_PENDING : TKT_ST_CLOSED; /* (b)(c)(e) : (a)(d) */
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

/* ---- intent from other services: agent actions, missed-call operations ----- */

/* A CRM id, not empty and not a placeholder ($ticket, $contact). */
static int real_id(const char *id)
{
    return !empty(id) && id[0] != '$';
}

/* Issue 19 item 6: whether the agent's action fits the call it names, on
 * ticket-service's own state of the call and customer and the CRM facts
 * fetched for this action. The pop-service forwards what the agent's page
 * sent, which can name any contact or ticket id. */
typedef enum { ACT_OK, ACT_NEED, ACT_REFUSED } act_check_t;

typedef struct {
    act_check_t verdict;
    const char *reason; /* ACT_REFUSED: the metric's label */
    const char *why;    /* ACT_REFUSED: for the log */
} act_verdict_t;

static act_verdict_t act_ok(void)
{
    return (act_verdict_t){ACT_OK, NULL, NULL};
}

static act_verdict_t act_need(void)
{
    return (act_verdict_t){ACT_NEED, NULL, NULL};
}

static act_verdict_t refuse(const char *reason, const char *why)
{
    return (act_verdict_t){ACT_REFUSED, reason, why};
}

/* R-C4: the candidates are the contacts with the caller's number; the
 * call's own contact is one of them (the rules chose it among them). */
static act_verdict_t check_pick(dctx_t *c, const tkt_action_t *a)
{
    if (same(a->contact_id, c->call->contact_id) || same(a->contact_id, c->call->picked_contact_id))
        return act_ok();
    if (!c->facts.contacts_known) {
        need(c, TKT_NEED_CONTACTS, "");
        return act_need();
    }
    for (size_t i = 0; i < c->facts.n_contacts && i < 8; i++)
        if (same(c->facts.contacts[i].id, a->contact_id))
            return act_ok();
    return refuse("not_a_candidate", "R-C4: the picked contact is not one of the call's "
                                     "candidates (contacts with the caller's number)");
}

/* R-P6: one of the customer's tickets (ours, remembered); R-T10: one that
 * may still be written to, its status read now (tkt_ticket_writable). */
static act_verdict_t check_retarget(dctx_t *c, const tkt_action_t *a)
{
    const tkt_customer_t *cu = c->cust;
    if (same(a->ticket_id, c->call->ticket_id)) /* nothing moves (retargeted) */
        return act_ok();
    for (size_t i = 0; i < cu->n_tickets && i < TKT_MAX_TICKETS; i++) {
        if (!same(cu->tickets[i].id, a->ticket_id))
            continue;
        switch (ref_check(c, &cu->tickets[i])) {
        case CHK_NEED:
            return act_need();
        case CHK_ACTIVE:
            return act_ok();
        case CHK_INACTIVE:
        default:
            return refuse("ticket_not_writable",
                          "R-T10: the re-target ticket is solved, closed or merged");
        }
    }
    return refuse("not_the_customers_ticket",
                  "R-P6: the re-target ticket is not one of the customer's tickets");
}

static act_verdict_t check_action(dctx_t *c, const tkt_action_t *a)
{
    if (!c->call->call_id[0])
        return refuse("unknown_call", "an agent action on a call ticket-service does not know");
    if (!same(c->call->customer, a->number))
        return refuse("other_customer", "an agent action naming another customer than the call's");
    if (a->kind == TKT_ACT_CONTACT_PICKED)
        return check_pick(c, a);
    if (a->kind == TKT_ACT_RETARGETED)
        return check_retarget(c, a);
    return act_ok();
}

/* R-C4: the agent's choice wins; the call's ticket gets it as requester. */
static void contact_picked(dctx_t *c, const tkt_action_t *a)
{
    COPY(st_call(c)->picked_contact_id, a->contact_id);
    COPY(st_call(c)->contact_id, a->contact_id);
    if (real_id(st_call(c)->ticket_id))
        COPY(op_add(c, TKT_OP_UPDATE, st_call(c)->ticket_id)->requester_id, a->contact_id);
}

/* R-P6: later comments go to the ticket the agent chose. */
static void retargeted(dctx_t *c, const tkt_action_t *a)
{
    char old[TKT_ID_MAX];
    COPY(old, st_call(c)->ticket_id);
    if (same(old, a->ticket_id)) {
        note(c, "call already on that ticket");
        return;
    }
    COPY(st_call(c)->ticket_id, a->ticket_id);
    body_line(op_add(c, TKT_OP_COMMENT, a->ticket_id),
              "Call %s attached to this ticket by agent %s.", a->call_id, a->agent);
    if (real_id(old))
        body_line(op_add(c, TKT_OP_COMMENT, old), "Call %s moved to ticket %s by agent %s.",
                  a->call_id, a->ticket_id, a->agent);
}

/* R-P6: a new ticket for the call, the agent's; the old one is told. */
static void new_call_ticket(dctx_t *c, const tkt_action_t *a)
{
    char old[TKT_ID_MAX];
    const char *parts[] = {a->call_id, a->id};
    spec_t s = {TKT_KIND_CALL, c->pol->subject_call, TKT_ST_OPEN, a->agent, "", NULL, 1};
    COPY(old, st_call(c)->ticket_id);
    tkt_op_t *op = new_ticket(c, &s);
    if (!op)
        return;
    /* one per action, not per call: a replay finds it (external id) */
    cmn_event_id_derive(op->external_id, sizeof op->external_id, "callbus-new", parts, 2);
    body_line(op, "New ticket for call %s, started by agent %s.", a->call_id, a->agent);
    if (real_id(old))
        body_line(op_add(c, TKT_OP_COMMENT, old), "Call %s moved to a new ticket by agent %s.",
                  a->call_id, a->agent);
}

/* R-M1: the last agent offered the call; else R-T11's default user. */
static const char *group_assignee(dctx_t *c, const tkt_action_t *a)
{
    return !empty(a->agent) ? a->agent : c->pol->default_assignee;
}

/* R-M2's running count, one line per missed call. */
static void missed_line(const tkt_action_t *a, tkt_op_t *op)
{
    body_line(op, "Missed call %ld at %s (call %s).", a->count > 0 ? a->count : 1, a->when,
              a->call_id);
}

/* R-T8 + R-M1 (issue 19 item 5): the call had its ticket made by the IVR,
 * which the caller may have been told of; it is the call's one ticket, so
 * it becomes the group's missed-call ticket rather than a second one. Its
 * ref when it may still be written to (R-T10, as last seen), else NULL. */
static tkt_ticket_ref_t *ivr_ticket(dctx_t *c)
{
    tkt_ticket_ref_t *r;
    if (st_call(c)->ticket_kind != TKT_KIND_IVR || !real_id(st_call(c)->ticket_id))
        return NULL;
    r = ref_find(c, st_call(c)->ticket_id);
    return r && tkt_ticket_writable(r, 1) == 1 ? r : NULL;
}

/* The IVR's ticket turned missed-call ticket: R-M1's status, tag and
 * assignee and R-M2's first line; its subject and type stay the IVR's. */
static void adopt_ivr_ticket(dctx_t *c, const tkt_action_t *a, const tkt_ticket_ref_t *ref)
{
    tkt_op_t *op = op_add(c, TKT_OP_UPDATE, ref->id);
    op->status = TKT_ST_OPEN; /* settle() remembers it */
    COPY(op->assignee_id, group_assignee(c, a));
    op->set_assignee = 1;
    tag_add(op, "callbus_missed");
    missed_line(a, op);
    COPY(c->plan->customer.missed_group_id, a->group_id);
    COPY(c->plan->customer.missed_ticket_id, ref->id);
    note(c, "R-T8/R-M1: the IVR's ticket of the call is the missed-call ticket");
}

/* R-M1: the group's missed-call ticket, kept as the customer's (R-M2 adds
 * to it); the call itself stays bound to whatever it was. */
static void group_open(dctx_t *c, const tkt_action_t *a)
{
    tkt_customer_t *cu = &c->plan->customer;
    const tkt_ticket_ref_t *ivr;
    if (same(cu->missed_group_id, a->group_id)) {
        note(c, "missed-call group already open");
        return;
    }
    if (same(st_call(c)->call_id, a->call_id) && (ivr = ivr_ticket(c))) {
        adopt_ivr_ticket(c, a, ivr);
        return;
    }
    spec_t s = {
        TKT_KIND_MISSED, c->pol->subject_missed, TKT_ST_OPEN, group_assignee(c, a), "", NULL, 0};
    tkt_op_t *op = new_ticket(c, &s);
    if (!op)
        return;
    if (a->kind == TKT_ACT_GROUP_ADD) { /* the group's ticket may exist: a ticket of this call */
        char gid[TKT_CALL_ID_MAX + 24];
        snprintf(gid, sizeof gid, "%s-%ld", a->group_id, a->count);
        tkt_external_id(op->external_id, sizeof op->external_id, "missed-", gid);
    } else {
        tkt_external_id(op->external_id, sizeof op->external_id, "missed-", a->group_id);
    }
    missed_line(a, op);
    COPY(cu->missed_group_id, a->group_id);
    COPY(cu->missed_ticket_id, TKT_REF_NEW_TICKET);
    ref_push(c, TKT_REF_NEW_TICKET, TKT_KIND_MISSED, TKT_ST_OPEN);
}

static int group_known(dctx_t *c, const tkt_action_t *a)
{
    const tkt_customer_t *cu = &c->plan->customer;
    return same(cu->missed_group_id, a->group_id) && real_id(cu->missed_ticket_id);
}

/* R-M2: one more missed call, a comment with the running count. */
static void group_add(dctx_t *c, const tkt_action_t *a)
{
    if (!group_known(c, a)) {
        /* Our state of the group is gone (Redis lost it) or never came:
         * the missed call still makes a ticket, never dropped (issue 11
         * item 5): a second one at worst. Its external id is the group's
         * plus the count, so a replay finds it and the group's own ticket
         * (which a look-up by external id would find) is not mistaken for
         * it, which would lose this call's comment. */
        group_open(c, a);
        return;
    }
    body_line(op_add(c, TKT_OP_COMMENT, c->plan->customer.missed_ticket_id),
              "Missed call %ld at %s (call %s).", a->count, a->when, a->call_id);
}

/* R-M3: the grouper's status for the group's ticket. */
static void group_status(dctx_t *c, const tkt_action_t *a)
{
    tkt_customer_t *cu = &c->plan->customer;
    if (!group_known(c, a)) {
        note(c, "no open missed-call ticket for that group");
        return;
    }
    tkt_op_t *op = op_add(c, TKT_OP_UPDATE, cu->missed_ticket_id);
    op->status = a->status;
    if (a->called_back)
        tag_add(op, "callbus_called_back");
    if (a->status != TKT_ST_OPEN) { /* the customer was reached: the group is over */
        cu->missed_group_id[0] = '\0';
        cu->missed_ticket_id[0] = '\0';
    }
}

/* R-M3 (a)..(e): which one depends on the ticket the reaching call ended
 * on, which only ticket-service knows (tkt_missed_reached). */
static void group_reached(dctx_t *c, const tkt_action_t *a)
{
    if (!group_known(c, a)) {
        note(c, "no open missed-call ticket for that group");
        return;
    }
    if (!c->call->ended) { /* its end comes later on call-events: it applies R-M3 */
        COPY(c->plan->customer.missed_reached_call_id, a->call_id);
        note(c, "R-M3: applied when the reaching call ends");
        return;
    }
    if (tkt_missed_reached(c->call, c->plan) < 0)
        note(c, "no room for the R-M3 update");
}

static void dispatch_action(dctx_t *c, const tkt_action_t *a)
{
    switch (a->kind) {
    case TKT_ACT_CONTACT_PICKED:
        contact_picked(c, a);
        return;
    case TKT_ACT_RETARGETED:
        retargeted(c, a);
        return;
    case TKT_ACT_NEW_TICKET:
        new_call_ticket(c, a);
        return;
    case TKT_ACT_GROUP_OPEN:
        group_open(c, a);
        return;
    case TKT_ACT_GROUP_ADD:
        group_add(c, a);
        return;
    case TKT_ACT_GROUP_STATUS:
        group_status(c, a);
        return;
    case TKT_ACT_GROUP_REACHED:
        group_reached(c, a);
        return;
    }
}

static int is_agent_action(tkt_action_kind_t k)
{
    return k == TKT_ACT_CONTACT_PICKED || k == TKT_ACT_RETARGETED || k == TKT_ACT_NEW_TICKET;
}

int tkt_decide_action(const tkt_policy_t *pol, const tkt_action_t *a, const cmn_event_t *ev,
                      const tkt_call_t *call, const tkt_customer_t *customer,
                      const tkt_facts_t *facts, tkt_plan_t *out, const char **refusal)
{
    dctx_t c;
    if (refusal)
        *refusal = NULL;
    if (!out)
        return -1;
    memset(out, 0, sizeof *out);
    if (!pol || !a || !ev) {
        out->note = "no policy, action or event";
        return -1;
    }
    ctx_init(&c, pol, ev, call, customer, facts, out);
    c.withheld = !customer_number(&c)[0];
    if (is_agent_action(a->kind)) {
        act_verdict_t v = check_action(&c, a);
        if (v.verdict == ACT_REFUSED) {
            if (refusal)
                *refusal = v.reason;
            out->note = v.why;
            return -1;
        }
        if (v.verdict == ACT_NEED)
            return finish(&c);
    }
    dispatch_action(&c, a);
    return finish(&c);
}
