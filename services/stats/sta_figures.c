/* The statistics' figures (sta_figures.h): messages -> cells and state. */
#include "sta_figures.h"

#include "cmn_outcome.h"
#include "cmn_time.h"
#include "cmn_topics.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static void copy(char *dst, size_t dstsz, const char *src)
{
    snprintf(dst, dstsz, "%s", src ? src : "");
}
#define COPY(dst, src) copy((dst), sizeof(dst), (src))

static const char *or_dash(const char *s)
{
    return s && *s ? s : "-";
}

const char *sta_source_topic(sta_source_t s)
{
    static const char *const names[STA_SRC__COUNT] = {
        CMN_TOPIC_CALL_EVENTS, CMN_TOPIC_TICKET_EVENTS, CMN_TOPIC_CRM_EVENTS, CMN_TOPIC_MISSED_OPS,
        CMN_TOPIC_SCREEN_POPS, CMN_TOPIC_AGENT_ACTIONS, CMN_TOPIC_CRM_USAGE};
    return s < STA_SRC__COUNT ? names[s] : "";
}

/* ---- cells and days ------------------------------------------------------- */

static int put_part(char *out, size_t outsz, size_t *at, const char *part)
{
    part = or_dash(part);
    for (const unsigned char *p = (const unsigned char *)part; *p; p++) {
        if (*at + 1 >= outsz)
            return -1;
        out[(*at)++] = (*p < 0x20 || *p == 0x7f) ? '_' : (char)*p; /* 0x1F is a control byte */
    }
    out[*at] = '\0';
    return 0;
}

int sta_cell_field(const sta_cell_t *c, char *out, size_t outsz)
{
    const char *parts[] = {c->figure, c->kind, c->queue, c->agent};
    size_t at = 0;
    if (outsz == 0)
        return -1;
    out[0] = '\0';
    for (size_t i = 0; i < 4; i++) {
        if (i > 0) {
            if (at + 1 >= outsz)
                return -1;
            out[at++] = '\x1f';
            out[at] = '\0';
        }
        if (put_part(out, outsz, &at, parts[i]) < 0)
            return -1;
    }
    return (int)at;
}

void sta_day_of(int64_t ms, char out[11], int64_t *start_s)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        t = 0;
        gmtime_r(&t, &tm);
    }
    if (strftime(out, 11, "%Y-%m-%d", &tm) == 0)
        snprintf(out, 11, "1970-01-01"); /* a year past 9999 */
    *start_s = (int64_t)t - (tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec);
}

static void add_cell(sta_plan_t *p, const char *figure, const char *kind, const char *queue,
                     const char *agent, long long delta)
{
    if (p->n_cells == STA_MAX_CELLS || delta == 0)
        return;
    sta_cell_t *c = &p->cells[p->n_cells++];
    c->figure = figure;
    COPY(c->kind, or_dash(kind));
    COPY(c->queue, or_dash(queue));
    COPY(c->agent, or_dash(agent));
    c->delta = delta;
}

static void plan_init(sta_plan_t *p, int64_t at_ms, const char *dedup_id)
{
    memset(p, 0, sizeof *p);
    p->close_s = -1;
    sta_day_of(at_ms, p->day, &p->day_start_s);
    COPY(p->dedup_id, dedup_id);
}

int sta_plan_empty(const sta_plan_t *p)
{
    return p->n_cells == 0 && !p->write_call && !p->write_ticket;
}

const char *sta_kind_of_ticket(const char *k)
{
    static const char *const map[][2] = {{"call", "inbound"},        {"ivr", "inbound"},
                                         {"voicemail", "voicemail"}, {"missed", "missed"},
                                         {"abandoned", "abandoned"}, {"outbound", "outbound"}};
    for (size_t i = 0; k && i < sizeof map / sizeof map[0]; i++)
        if (strcmp(k, map[i][0]) == 0)
            return map[i][1];
    return "-";
}

/* ---- call-events ---------------------------------------------------------- */

/* The call's kind and its agent at its end (cmn_outcome: a `completed`
 * end is told apart by the call's history). */
static const char *call_kind(const cmn_event_t *ev, const sta_call_t *c, const char **agent,
                             int *talked)
{
    cmn_outcome_t o = cmn_outcome_of_end(ev, c->answered, c->outbound, c->offered_any);
    *talked = o == CMN_OUT_ANSWERED || c->answered;
    *agent = c->agent[0] ? c->agent : ev->agent.crm_id;
    if (c->outbound)
        return "outbound";
    if (*talked)
        return "inbound";
    if (o == CMN_OUT_VOICEMAIL) {
        *agent = NULL;
        return "voicemail";
    }
    if (o == CMN_OUT_ABANDONED) {
        *agent = NULL;
        return "abandoned";
    }
    *agent = cmn_outcome_missed_agent(ev, c->offered); /* R-M1's agent */
    return "missed";
}

/* Issue 27: an answer after the end of an inbound call counted unanswered
 * (its webhook refused while ingest was down, backfilled by
 * reconciliation). The stored kind is the guard: once corrected it is
 * inbound, so a replay or a second answer finds nothing to move. */
static int late_answer(const cmn_event_t *ev, const sta_call_t *c)
{
    return cmn_outcome_answers(ev) && !c->outbound &&
           (strcmp(c->kind, "missed") == 0 || strcmp(c->kind, "abandoned") == 0);
}

/* R-S1 on the end's day (the event's own when a state stored before has
 * no end time): the call's missed cells undone, an answered inbound call
 * of the answering agent counted, same queue. */
static void correct_call(const cmn_event_t *ev, sta_plan_t *p)
{
    sta_call_t *c = &p->call;
    if (c->ended_ms > 0)
        sta_day_of(c->ended_ms, p->day, &p->day_start_s);
    p->correction = 1;
    add_cell(p, "calls", c->kind, c->queue, c->agent, -1);
    add_cell(p, "missed", c->kind, c->queue, c->agent, -1);
    add_cell(p, "calls", "inbound", c->queue, ev->agent.crm_id, 1);
    add_cell(p, "answered", "inbound", c->queue, ev->agent.crm_id, 1);
    COPY(c->kind, "inbound");
    COPY(c->agent, ev->agent.crm_id);
    c->answered = 1;
    p->write_call = 1;
    COPY(p->call_id, ev->call_id);
}

static void decide_call(const cmn_event_t *ev, const sta_call_t *in, sta_plan_t *p)
{
    int64_t at = ev->occurred_at_ms > 0 ? ev->occurred_at_ms : ev->received_at_ms;
    /* No seen id: the call's `ended` flag is what keeps a re-posted end
     * from counting again, and calls are most of the messages. */
    plan_init(p, at, "");
    sta_call_t *c = &p->call;
    *c = *in;
    if (c->ended) {
        if (late_answer(ev, c))
            correct_call(ev, p);
        else
            p->note = "the call already ended";
        return;
    }
    c->known = 1;
    if (ev->queue && *ev->queue)
        COPY(c->queue, ev->queue); /* the last queue that had it */
    if (ev->direction == CMN_DIR_OUTBOUND)
        c->outbound = 1;
    if (cmn_outcome_offers(ev)) {
        c->offered_any = 1;
        COPY(c->offered, ev->agent.crm_id);
    }
    if (cmn_outcome_answers(ev)) {
        c->answered = 1;
        if (ev->agent.crm_id)
            COPY(c->agent, ev->agent.crm_id);
    }
    p->write_call = 1;
    COPY(p->call_id, ev->call_id);
    if (ev->type != CMN_EV_ENDED && ev->type != CMN_EV_OUTBOUND_ENDED)
        return; /* state only: a replay sets the same again */
    const char *agent = NULL;
    int talked = 0;
    const char *kind = call_kind(ev, c, &agent, &talked);
    char who[STA_TEXT_MAX + 1];
    COPY(who, agent); /* it may be c->agent itself */
    c->ended = 1;
    c->ended_ms = at;
    COPY(c->kind, kind);
    COPY(c->agent, who);
    add_cell(p, "calls", kind, c->queue, who, 1);
    if (talked)
        add_cell(p, "answered", kind, c->queue, who, 1);
    if (strcmp(kind, "missed") == 0 || strcmp(kind, "abandoned") == 0)
        add_cell(p, "missed", kind, c->queue, who, 1);
}

/* ---- ticket-events --------------------------------------------------------- */

static void decide_ticket(const cmn_ticket_event_t *te, const sta_call_t *call,
                          const sta_ticket_t *in, sta_plan_t *p)
{
    int64_t at = 0;
    if (!te->occurred_at || cmn_time_parse(te->occurred_at, &at) < 0)
        at = 0;
    plan_init(p, at, ""); /* the ticket's `counted` flag guards, no seen id */
    if (in->counted) {
        p->note = "the ticket's creation was counted before";
        return;
    }
    sta_ticket_t *t = &p->ticket;
    *t = *in;
    t->known = t->counted = 1;
    COPY(t->kind, te->ticket_kind ? sta_kind_of_ticket(te->ticket_kind) : or_dash(call->kind));
    COPY(t->queue, or_dash(call->queue));
    COPY(t->agent, te->assignee_id && *te->assignee_id ? te->assignee_id : or_dash(call->agent));
    if (!t->created_ms)
        t->created_ms = at;
    if (!t->status[0])
        COPY(t->status, te->status);
    p->write_ticket = STA_TICKET_CREATION;
    COPY(p->ticket_id, te->ticket_id);
    add_cell(p, "tickets_created", t->kind, t->queue, t->agent, 1);
}

/* ---- crm-events ------------------------------------------------------------ */

static int is_done(const char *status)
{
    return strcmp(status, "solved") == 0 || strcmp(status, "closed") == 0;
}

/* R-S2: seconds from created to closed, whole seconds; -1 when they do not
 * differ (or the CRM's clock says closed before created). */
static int64_t close_seconds(int64_t created_ms, int64_t closed_ms)
{
    int64_t d = closed_ms / 1000 - created_ms / 1000;
    return created_ms > 0 && d > 0 ? d : -1;
}

static void decide_crm(const sta_crm_event_t *e, const sta_ticket_t *in, sta_plan_t *p)
{
    plan_init(p, e->occurred_ms, e->event_id);
    sta_ticket_t *t = &p->ticket;
    *t = *in;
    t->known = 1;
    if (!t->created_ms)
        t->created_ms = e->ticket_created_ms;
    if (e->has_assignee && e->assignee_id[0])
        COPY(t->agent, e->assignee_id);
    p->write_ticket = STA_TICKET_STATUS;
    COPY(p->ticket_id, e->ticket_id);
    if (strcmp(e->type, "ticket.status_changed") != 0 || !e->status[0]) {
        p->dedup_id[0] = '\0'; /* state only */
        return;
    }
    const char *prev = e->previous_status[0] ? e->previous_status : t->status;
    int was_done = e->previous_status[0] ? is_done(prev) : t->done;
    int done = is_done(e->status);
    const char *kind = t->kind, *queue = t->queue, *agent = t->agent;
    if (strcmp(e->status, "solved") == 0 && strcmp(prev, "solved") != 0)
        add_cell(p, "solved", kind, queue, agent, 1);
    if (strcmp(e->status, "closed") == 0 && strcmp(prev, "closed") != 0)
        add_cell(p, "closed", kind, queue, agent, 1);
    if (!done && was_done)
        add_cell(p, "reopened", kind, queue, agent, 1);
    if (done && !was_done) {
        int64_t created = e->ticket_created_ms ? e->ticket_created_ms : t->created_ms;
        p->close_s = close_seconds(created, e->occurred_ms);
        if (p->close_s > 0) {
            add_cell(p, "close_s_sum", kind, queue, agent, p->close_s);
            add_cell(p, "close_n", kind, queue, agent, 1);
        }
    }
    t->done = done;
    COPY(t->status, e->status);
}

/* ---- missed-call-ops and screen-pops ---------------------------------------- */

static void decide_missed(const cmn_missed_op_t *op, const sta_call_t *call, sta_plan_t *p)
{
    int64_t at = 0;
    if (cmn_time_parse(op->occurred_at, &at) < 0)
        at = 0;
    plan_init(p, at, op->op_id);
    const char *kind = call->ended ? call->kind : "missed";
    add_cell(p, "missed_grouped", kind, call->queue, op->assignee_crm_id, 1);
    /* A group's opening makes its missed-call ticket (R-M1), of which
     * ticket-service announces no ticket event (no agent to pop): counted
     * here, once per group. An IVR ticket the group adopts is counted so
     * too: it became the missed-call ticket. */
    if (op->op == CMN_MOP_OPEN)
        add_cell(p, "tickets_created", kind, call->queue, op->assignee_crm_id, 1);
}

static void decide_pop(const sta_pop_t *pop, sta_plan_t *p)
{
    plan_init(p, pop->created_ms, pop->pop_id);
    add_cell(p, "pops_delivered", "-", pop->queue, pop->agent, 1);
}

/* A pop.acknowledged (its action id stands in pop_id): the call's queue. */
static void decide_ack(const sta_pop_t *ack, const sta_call_t *call, sta_plan_t *p)
{
    plan_init(p, ack->created_ms, ack->pop_id);
    add_cell(p, "pops_acknowledged", "-", call->queue, ack->agent, 1);
}

/* R-S1's CRM requests made and saved: no call, queue or agent. */
static void decide_usage(const sta_usage_t *u, sta_plan_t *p)
{
    plan_init(p, u->occurred_ms, u->event_id);
    add_cell(p, "crm_requests", "-", "-", "-", u->requests);
    add_cell(p, "crm_saved", "-", "-", "-", u->saved);
}

void sta_decide(const sta_msg_t *m, const sta_call_t *call, const sta_ticket_t *ticket,
                sta_plan_t *out)
{
    switch (m->src) {
    case STA_SRC_CALL:
        decide_call(&m->call, call, out);
        break;
    case STA_SRC_TICKET:
        decide_ticket(&m->ticket, call, ticket, out);
        break;
    case STA_SRC_CRM:
        decide_crm(&m->crm, ticket, out);
        break;
    case STA_SRC_MISSED:
        decide_missed(&m->op, call, out);
        break;
    case STA_SRC_ACTION:
        decide_ack(&m->pop, call, out);
        break;
    case STA_SRC_USAGE:
        decide_usage(&m->usage, out);
        break;
    default:
        decide_pop(&m->pop, out);
        break;
    }
}

/* ---- decoding ---------------------------------------------------------------- */

static int json_str(const json_t *o, const char *name, char *dst, size_t dstsz, int required,
                    char *err, size_t errsz)
{
    const json_t *v = json_object_get(o, name);
    dst[0] = '\0';
    if (!v || json_is_null(v)) {
        if (required)
            snprintf(err, errsz, "%s missing", name);
        return required ? -1 : 0;
    }
    if (!json_is_string(v)) {
        snprintf(err, errsz, "%s is not a string", name);
        return -1;
    }
    snprintf(dst, dstsz, "%s", json_string_value(v));
    return 0;
}

static int json_time(const json_t *o, const char *name, int64_t *ms, int required, char *err,
                     size_t errsz)
{
    char text[64];
    *ms = 0;
    if (json_str(o, name, text, sizeof text, required, err, errsz) < 0)
        return -1;
    if (text[0] && cmn_time_parse(text, ms) < 0) {
        snprintf(err, errsz, "%s is not a date-time", name);
        return -1;
    }
    return 0;
}

/* Only the members the figures use are read; ingest's schema holds the rest
 * (ticket-service decodes it whole). */
static int decode_crm(const json_t *o, sta_crm_event_t *e, char *err, size_t errsz)
{
    if (json_str(o, "event_id", e->event_id, sizeof e->event_id, 1, err, errsz) < 0 ||
        json_str(o, "type", e->type, sizeof e->type, 1, err, errsz) < 0 ||
        json_str(o, "ticket_id", e->ticket_id, sizeof e->ticket_id, 1, err, errsz) < 0 ||
        json_str(o, "status", e->status, sizeof e->status, 0, err, errsz) < 0 ||
        json_str(o, "previous_status", e->previous_status, sizeof e->previous_status, 0, err,
                 errsz) < 0 ||
        json_str(o, "assignee_id", e->assignee_id, sizeof e->assignee_id, 0, err, errsz) < 0 ||
        json_time(o, "ticket_created_at", &e->ticket_created_ms, 0, err, errsz) < 0 ||
        json_time(o, "occurred_at", &e->occurred_ms, 1, err, errsz) < 0)
        return -1;
    e->has_assignee = json_object_get(o, "assignee_id") != NULL;
    return e->ticket_id[0] && e->event_id[0] ? 1 : -1;
}

static int decode_pop(const json_t *o, sta_pop_t *pop, char *err, size_t errsz)
{
    if (json_str(o, "pop_id", pop->pop_id, sizeof pop->pop_id, 1, err, errsz) < 0 ||
        json_str(o, "agent_crm_id", pop->agent, sizeof pop->agent, 1, err, errsz) < 0 ||
        json_str(o, "call_id", pop->call_id, sizeof pop->call_id, 1, err, errsz) < 0 ||
        json_str(o, "queue", pop->queue, sizeof pop->queue, 0, err, errsz) < 0 ||
        json_time(o, "created_at", &pop->created_ms, 1, err, errsz) < 0)
        return -1;
    return pop->pop_id[0] ? 1 : -1;
}

/* agent-actions: pop-service's pop.acknowledged only (the rest is
 * ticket-service's); the action id is the republish guard. */
static int decode_ack(const json_t *o, sta_pop_t *ack, char *err, size_t errsz)
{
    char action[32];
    if (json_str(o, "action", action, sizeof action, 1, err, errsz) < 0)
        return -1;
    if (strcmp(action, "pop.acknowledged") != 0)
        return 0;
    if (json_str(o, "action_id", ack->pop_id, sizeof ack->pop_id, 1, err, errsz) < 0 ||
        json_str(o, "agent_crm_id", ack->agent, sizeof ack->agent, 1, err, errsz) < 0 ||
        json_str(o, "call_id", ack->call_id, sizeof ack->call_id, 1, err, errsz) < 0 ||
        json_time(o, "occurred_at", &ack->created_ms, 1, err, errsz) < 0)
        return -1;
    return ack->pop_id[0] ? 1 : -1;
}

static int json_count(const json_t *o, const char *name, long long *n, char *err, size_t errsz)
{
    const json_t *v = json_object_get(o, name);
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        snprintf(err, errsz, "%s is not a count", name);
        return -1;
    }
    *n = (long long)json_integer_value(v);
    return 0;
}

/* crm-usage: ticket-service's crm.usage; the event id is the republish guard. */
static int decode_usage(const json_t *o, sta_usage_t *u, char *err, size_t errsz)
{
    char type[32];
    if (json_str(o, "type", type, sizeof type, 1, err, errsz) < 0)
        return -1;
    if (strcmp(type, "crm.usage") != 0)
        return 0;
    if (json_str(o, "event_id", u->event_id, sizeof u->event_id, 1, err, errsz) < 0 ||
        json_count(o, "requests", &u->requests, err, errsz) < 0 ||
        json_count(o, "saved", &u->saved, err, errsz) < 0 ||
        json_time(o, "occurred_at", &u->occurred_ms, 1, err, errsz) < 0)
        return -1;
    return u->event_id[0] ? 1 : -1;
}

static int decode_json(sta_source_t src, const char *payload, size_t len, sta_msg_t *m, char *err,
                       size_t errsz)
{
    json_error_t jerr;
    json_t *o = json_loadb(payload, len, 0, &jerr);
    int rc = -1;
    if (!json_is_object(o))
        snprintf(err, errsz, "not a JSON object: %s", jerr.text);
    else if (src == STA_SRC_CRM)
        rc = decode_crm(o, &m->crm, err, errsz);
    else if (src == STA_SRC_ACTION)
        rc = decode_ack(o, &m->pop, err, errsz);
    else if (src == STA_SRC_USAGE)
        rc = decode_usage(o, &m->usage, err, errsz);
    else
        rc = decode_pop(o, &m->pop, err, errsz);
    json_decref(o);
    return rc;
}

static int call_relevant(const cmn_event_t *ev)
{
    return ev->call_id && !ev->internal && ev->type != CMN_EV_AGENT_LOGIN &&
           ev->type != CMN_EV_AGENT_LOGOUT && ev->type != CMN_EV_RECORDING_READY &&
           ev->type != CMN_EV_CSAT;
}

int sta_msg_decode(sta_source_t src, const char *payload, size_t len, sta_msg_t *m, char *err,
                   size_t errsz)
{
    char field[64];
    memset(m, 0, sizeof *m);
    m->src = src;
    if (src == STA_SRC_CALL)
        cmn_event_init(&m->call);
    switch (src) {
    case STA_SRC_CALL:
        if (cmn_event_decode(payload, len, &m->call, err, errsz, field, sizeof field) < 0)
            return -1;
        return call_relevant(&m->call);
    case STA_SRC_TICKET:
        if (cmn_ticket_event_decode(payload, len, &m->ticket, err, errsz, field, sizeof field) < 0)
            return -1;
        return m->ticket.created == 1 && m->ticket.ticket_id;
    case STA_SRC_MISSED:
        if (cmn_missed_op_decode(payload, len, &m->op, err, errsz) < 0)
            return -1;
        return m->op.op == CMN_MOP_OPEN || m->op.op == CMN_MOP_ADD;
    case STA_SRC_CRM:
    case STA_SRC_POP:
    case STA_SRC_ACTION:
    case STA_SRC_USAGE:
        return decode_json(src, payload, len, m, err, errsz);
    default:
        snprintf(err, errsz, "no such source");
        return -1;
    }
}

void sta_msg_clear(sta_msg_t *m)
{
    if (!m)
        return;
    if (m->src == STA_SRC_CALL)
        cmn_event_clear(&m->call);
    else if (m->src == STA_SRC_TICKET)
        cmn_ticket_event_clear(&m->ticket);
}

const char *sta_msg_call_id(const sta_msg_t *m)
{
    switch (m->src) {
    case STA_SRC_CALL:
        return m->call.call_id ? m->call.call_id : "";
    case STA_SRC_TICKET:
        return m->ticket.call_id ? m->ticket.call_id : "";
    case STA_SRC_MISSED:
        return m->op.call_id;
    case STA_SRC_ACTION:
        return m->pop.call_id;
    default:
        return "";
    }
}

const char *sta_msg_ticket_id(const sta_msg_t *m)
{
    if (m->src == STA_SRC_TICKET)
        return m->ticket.ticket_id ? m->ticket.ticket_id : "";
    return m->src == STA_SRC_CRM ? m->crm.ticket_id : "";
}
