/* The missed-call grouper's rules (mis_rules.h): R-M1..R-M4. */
#include "mis_rules.h"
#include "cmn_outcome.h"
#include "cmn_time.h"

#include <stdio.h>
#include <string.h>

static void copy(char *dst, size_t dstsz, const char *src)
{
    snprintf(dst, dstsz, "%s", src ? src : "");
}
#define COPY(dst, src) copy((dst), sizeof(dst), (src))

void mis_state_init(mis_state_t *s)
{
    memset(s, 0, sizeof *s);
    s->partition = -1;
    s->offset = -1;
}

void mis_policy_defaults(mis_policy_t *p)
{
    memset(p, 0, sizeof *p);
    p->abandoned = 1;
    p->hours.always = 1;
    COPY(p->hours.zone, "UTC");
}

/* ---- the calls in progress ------------------------------------------------ */

/* The index of the call in `ended`, or -1. */
static int ended_index(const mis_state_t *s, const char *call_id)
{
    for (size_t i = 0; i < s->n_ended; i++)
        if (strcmp(s->ended[i], call_id) == 0)
            return (int)i;
    return -1;
}

/* The call's entry, made when new; the oldest gives way when full (a call
 * whose end never came). */
static mis_call_t *call_of(mis_state_t *s, const char *call_id)
{
    for (size_t i = 0; i < s->n_calls; i++)
        if (strcmp(s->calls[i].call_id, call_id) == 0)
            return &s->calls[i];
    if (s->n_calls == MIS_MAX_CALLS) {
        memmove(&s->calls[0], &s->calls[1], (MIS_MAX_CALLS - 1) * sizeof s->calls[0]);
        s->n_calls--;
    }
    mis_call_t *c = &s->calls[s->n_calls++];
    memset(c, 0, sizeof *c);
    COPY(c->call_id, call_id);
    return c;
}

/* The call is over: out of the calls in progress, into `ended`. */
static void call_ended(mis_state_t *s, mis_call_t *c)
{
    char id[CMN_ID_TEXT_MAX + 1];
    COPY(id, c->call_id);
    size_t i = (size_t)(c - s->calls);
    memmove(&s->calls[i], &s->calls[i + 1], (s->n_calls - i - 1) * sizeof s->calls[0]);
    s->n_calls--;
    if (s->n_ended == MIS_MAX_ENDED)
        s->n_ended--;
    memmove(&s->ended[1], &s->ended[0], s->n_ended * sizeof s->ended[0]);
    memmove(&s->ended_group[1], &s->ended_group[0], s->n_ended * sizeof s->ended_group[0]);
    COPY(s->ended[0], id);
    COPY(s->ended_group[0], "");
    s->n_ended++;
}

static void track(const cmn_event_t *ev, mis_call_t *c)
{
    if (ev->direction == CMN_DIR_OUTBOUND)
        c->outbound = 1;
    if (cmn_outcome_offers(ev)) { /* R-M1: even to an unmapped agent: not abandoned */
        c->offered = 1;
        COPY(c->last_offered, ev->agent.crm_id);
    }
    if (cmn_outcome_answers(ev)) {
        c->answered = 1;
        if (ev->agent.crm_id)
            COPY(c->last_offered, ev->agent.crm_id);
    }
}

/* ---- ops -------------------------------------------------------------------- */

static void op_base(const cmn_event_t *ev, cmn_missed_op_kind_t kind, mis_plan_t *out)
{
    const char *parts[] = {ev->event_id, cmn_missed_op_name(kind)};
    cmn_missed_op_t *op = &out->op;
    memset(op, 0, sizeof *op);
    out->has_op = 1;
    op->op = kind;
    cmn_event_id_derive(op->op_id, sizeof op->op_id, "mis", parts, 2); /* replays repeat it */
    COPY(op->group_id, out->state.group_id);
    COPY(op->customer_number, ev->customer_number);
    COPY(op->call_id, ev->call_id);
    if (kind == CMN_MOP_OPEN) /* names the contact a new caller gets (issue 24 item 3) */
        COPY(op->customer_name, ev->customer_name);
    cmn_time_format(ev->occurred_at_ms > 0 ? ev->occurred_at_ms : ev->received_at_ms,
                    op->occurred_at, sizeof op->occurred_at);
}

/* R-M2/R-M3: a conversation with the customer ends their group. */
static void conversation(const cmn_event_t *ev, const mis_call_t *c, mis_plan_t *out)
{
    if (!out->state.group_id[0]) {
        out->note = "conversation with no open missed-call group";
        return;
    }
    op_base(ev, CMN_MOP_REACHED, out);
    if (c->outbound)
        out->closed_outbound = 1;
    else
        out->closed_inbound = 1;
    out->state.group_id[0] = '\0';
    out->state.count = 0;
}

/* R-M1, R-M2, R-M4: a missed (or abandoned) inbound call. */
static void missed(const mis_policy_t *pol, const cmn_event_t *ev, const mis_call_t *c,
                   cmn_outcome_t outcome, mis_plan_t *out)
{
    mis_state_t *s = &out->state;
    int64_t at = ev->occurred_at_ms > 0 ? ev->occurred_at_ms : ev->received_at_ms;
    if (outcome == CMN_OUT_ABANDONED && !pol->abandoned) {
        out->ignored = MIS_IGNORED_ABANDONED;
        out->note = "R-M1: abandoned-call tickets are switched off";
        return;
    }
    if (mis_hours_open(&pol->hours, at) == 0) {
        out->ignored = MIS_IGNORED_OUTSIDE_HOURS;
        out->note = "R-M4: missed outside working hours";
        return;
    }
    int opening = !s->group_id[0];
    if (opening) {
        const char *parts[] = {ev->event_id};
        cmn_event_id_derive(s->group_id, sizeof s->group_id, "grp", parts, 1);
        s->count = 0;
    }
    s->count++;
    op_base(ev, opening ? CMN_MOP_OPEN : CMN_MOP_ADD, out);
    COPY(s->ended_group[0], s->group_id); /* on_end made the call ended[0] */
    out->op.count = s->count;
    /* R-M1: the last agent offered; an end naming its agent says so last */
    COPY(out->op.assignee_crm_id, cmn_outcome_missed_agent(ev, c->last_offered));
    out->grouped = 1;
    out->opened = opening;
}

static void on_end(const mis_policy_t *pol, const cmn_event_t *ev, mis_call_t *c, mis_plan_t *out)
{
    cmn_outcome_t outcome = cmn_outcome_of_end(ev, c->answered, c->outbound, c->offered);
    int talked = outcome == CMN_OUT_ANSWERED || c->answered;
    mis_call_t call = *c;
    call_ended(&out->state, c);
    if (talked)
        conversation(ev, &call, out);
    else if (call.outbound)
        out->note = "R-M3: an unanswered outbound call leaves the group open";
    else if (outcome == CMN_OUT_MISSED || outcome == CMN_OUT_ABANDONED)
        missed(pol, ev, &call, outcome, out);
    else
        out->note = "not a missed call (voicemail is ticket-service's, R-T3)";
}

/* An event of a call that already ended: a replay changes nothing; the
 * answer of a call counted missed, learned late (the reconciler's
 * backfill of a refused webhook), means the customer was reached by it:
 * the group it was counted in, if still open, is reached (R-M3). */
static int late_event(const cmn_event_t *ev, int ended, mis_plan_t *out)
{
    char *group = out->state.ended_group[ended];
    mis_call_t call = {.outbound = 0};
    if (!cmn_outcome_answers(ev) || ev->direction == CMN_DIR_OUTBOUND || !group[0] ||
        strcmp(group, out->state.group_id) != 0) {
        out->note = "the call already ended (replay): nothing to do";
        return 0;
    }
    group[0] = '\0';
    out->changed = 1;
    conversation(ev, &call, out);
    return 0;
}

int mis_decide(const mis_policy_t *pol, const cmn_event_t *ev, const mis_state_t *in,
               mis_plan_t *out)
{
    memset(out, 0, sizeof *out);
    out->state = *in;
    if (ev->type == CMN_EV_AGENT_LOGIN || ev->type == CMN_EV_AGENT_LOGOUT) {
        out->note = "agent sessions are pop-service's";
        return 0;
    }
    if (ev->internal) {
        out->note = "internal call (extension): not a customer";
        return 0;
    }
    if (!ev->customer_number || !ev->customer_number[0]) {
        out->note = "withheld number: nothing to group by (ticket-service tickets it)";
        return 0;
    }
    if (!ev->call_id || !ev->call_id[0] || !ev->event_id || !ev->event_id[0]) {
        out->note = "a call event without call_id or event_id";
        return -1;
    }
    int ended = ended_index(in, ev->call_id);
    if (ended >= 0)
        return late_event(ev, ended, out);
    mis_call_t *c = call_of(&out->state, ev->call_id);
    out->changed = 1;
    track(ev, c);
    if (ev->type == CMN_EV_ENDED || ev->type == CMN_EV_OUTBOUND_ENDED)
        on_end(pol, ev, c, out);
    return 0;
}
