/* The intent of other services, decided with the call rules' own helpers
 * (issue 20 item 1: one decision engine): the agent's actions from the pop
 * (R-C4 contact picked, R-P6 re-target or new ticket), each checked against
 * the call first (issue 19 item 6), and the missed-call grouper's operations
 * (R-M1 open, R-M2 add, R-M3 status and reached; group.open adopts the
 * IVR's ticket, R-T8). tkt_decide_action in tkt_rules.h; pure like
 * tkt_rules.c (tkt_rules_ctx.h). */
#include "tkt_rules_ctx.h"

#include <stdio.h>
#include <string.h>

/* ---- intent from other services: agent actions, missed-call operations ----- */

/* A CRM id, not empty and not a placeholder ($ticket, $contact). */
static int real_id(const char *id)
{
    return !tkt_rc_empty(id) && id[0] != '$';
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
static act_verdict_t check_pick(tkt_rc_t *c, const tkt_action_t *a)
{
    if (tkt_rc_same(a->contact_id, c->call->contact_id) ||
        tkt_rc_same(a->contact_id, c->call->picked_contact_id))
        return act_ok();
    if (!c->facts.contacts_known) {
        tkt_rc_need(c, TKT_NEED_CONTACTS, "");
        return act_need();
    }
    for (size_t i = 0; i < c->facts.n_contacts && i < 8; i++)
        if (tkt_rc_same(c->facts.contacts[i].id, a->contact_id))
            return act_ok();
    return refuse("not_a_candidate", "R-C4: the picked contact is not one of the call's "
                                     "candidates (contacts with the caller's number)");
}

/* R-P6: one of the customer's tickets (ours, remembered); R-T10: one that
 * may still be written to, its status read now (tkt_ticket_writable). */
static act_verdict_t check_retarget(tkt_rc_t *c, const tkt_action_t *a)
{
    const tkt_customer_t *cu = c->cust;
    if (tkt_rc_same(a->ticket_id, c->call->ticket_id)) /* nothing moves (retargeted) */
        return act_ok();
    for (size_t i = 0; i < cu->n_tickets && i < TKT_MAX_TICKETS; i++) {
        if (!tkt_rc_same(cu->tickets[i].id, a->ticket_id))
            continue;
        switch (tkt_rc_ref_check(c, &cu->tickets[i])) {
        case TKT_RC_NEED:
            return act_need();
        case TKT_RC_ACTIVE:
            return act_ok();
        case TKT_RC_INACTIVE:
        default:
            return refuse("ticket_not_writable",
                          "R-T10: the re-target ticket is solved, closed or merged");
        }
    }
    return refuse("not_the_customers_ticket",
                  "R-P6: the re-target ticket is not one of the customer's tickets");
}

static act_verdict_t check_action(tkt_rc_t *c, const tkt_action_t *a)
{
    if (!c->call->call_id[0])
        return refuse("unknown_call", "an agent action on a call ticket-service does not know");
    if (!tkt_rc_same(c->call->customer, a->number))
        return refuse("other_customer", "an agent action naming another customer than the call's");
    if (a->kind == TKT_ACT_CONTACT_PICKED)
        return check_pick(c, a);
    if (a->kind == TKT_ACT_CONTACT_LINKED && c->withheld)
        return refuse("no_number",
                      "contact.linked: a withheld number cannot be added to a contact");
    if (a->kind == TKT_ACT_RETARGETED)
        return check_retarget(c, a);
    return act_ok();
}

/* R-C4: the agent's choice wins; the call's ticket gets it as requester. */
static void contact_picked(tkt_rc_t *c, const tkt_action_t *a)
{
    COPY(tkt_rc_call(c)->picked_contact_id, a->contact_id);
    COPY(tkt_rc_call(c)->contact_id, a->contact_id);
    if (real_id(tkt_rc_call(c)->ticket_id))
        COPY(tkt_rc_op_add(c, TKT_OP_UPDATE, tkt_rc_call(c)->ticket_id)->requester_id,
             a->contact_id);
}

/* Issue 24 item 2 (Deskie's unknown caller): the agent found the caller
 * among the CRM's contacts. Any contact may be named (the agent searched
 * the CRM for it; the CRM refuses an id it does not have): the call's
 * ticket moves to it as for R-C4, the caller's number is added to it so the
 * next call finds it (R-C1), and it is remembered as the customer's. */
static void contact_linked(tkt_rc_t *c, const tkt_action_t *a)
{
    if (tkt_rc_same(a->contact_id, c->call->contact_id)) {
        tkt_rc_note(c, "call already on that contact");
        return;
    }
    contact_picked(c, a);
    c->plan->linked = 1;
    COPY(c->plan->customer.contact_id, a->contact_id);
    tkt_op_t *op = tkt_rc_op_add(c, TKT_OP_ADD_PHONE, "");
    COPY(op->requester_id, a->contact_id);
    COPY(op->phone, a->number);
}

/* R-P6: later comments go to the ticket the agent chose. */
static void retargeted(tkt_rc_t *c, const tkt_action_t *a)
{
    char old[TKT_ID_MAX];
    COPY(old, tkt_rc_call(c)->ticket_id);
    if (tkt_rc_same(old, a->ticket_id)) {
        tkt_rc_note(c, "call already on that ticket");
        return;
    }
    COPY(tkt_rc_call(c)->ticket_id, a->ticket_id);
    const tkt_ticket_ref_t *to = tkt_rc_ref_find(c, a->ticket_id); /* checked: one of ours */
    if (to)
        tkt_rc_call(c)->ticket_kind = to->kind;
    tkt_rc_body_line(tkt_rc_op_add(c, TKT_OP_COMMENT, a->ticket_id),
                     "Call %s attached to this ticket by agent %s.", a->call_id, a->agent);
    if (real_id(old))
        tkt_rc_body_line(tkt_rc_op_add(c, TKT_OP_COMMENT, old),
                         "Call %s moved to ticket %s by agent %s.", a->call_id, a->ticket_id,
                         a->agent);
}

/* R-P6: a new ticket for the call, the agent's; the old one is told. */
static void new_call_ticket(tkt_rc_t *c, const tkt_action_t *a)
{
    char old[TKT_ID_MAX];
    const char *parts[] = {a->call_id, a->id};
    tkt_rc_spec_t s = {TKT_KIND_CALL, c->pol->subject_call, TKT_ST_OPEN, a->agent, "", NULL, 1};
    COPY(old, tkt_rc_call(c)->ticket_id);
    tkt_op_t *op = tkt_rc_new_ticket(c, &s);
    if (!op)
        return;
    /* one per action, not per call: a replay finds it (external id) */
    cmn_event_id_derive(op->external_id, sizeof op->external_id, "callbus-new", parts, 2);
    tkt_rc_body_line(op, "New ticket for call %s, started by agent %s.", a->call_id, a->agent);
    if (real_id(old))
        tkt_rc_body_line(tkt_rc_op_add(c, TKT_OP_COMMENT, old),
                         "Call %s moved to a new ticket by agent %s.", a->call_id, a->agent);
}

/* R-M1: the last agent offered the call; else R-T11's default user. */
static const char *group_assignee(tkt_rc_t *c, const tkt_action_t *a)
{
    return !tkt_rc_empty(a->agent) ? a->agent : c->pol->default_assignee;
}

/* R-M2's running count, one line per missed call. */
static void missed_line(const tkt_action_t *a, tkt_op_t *op)
{
    tkt_rc_body_line(op, "Missed call %ld at %s (call %s).", a->count > 0 ? a->count : 1, a->when,
                     a->call_id);
}

/* R-T8 + R-M1 (issue 19 item 5): the call had its ticket made by the IVR,
 * which the caller may have been told of; it is the call's one ticket, so
 * it becomes the group's missed-call ticket rather than a second one. Its
 * ref when it may still be written to (R-T10, as last seen), else NULL. */
static tkt_ticket_ref_t *ivr_ticket(tkt_rc_t *c)
{
    tkt_ticket_ref_t *r;
    if (tkt_rc_call(c)->ticket_kind != TKT_KIND_IVR || !real_id(tkt_rc_call(c)->ticket_id))
        return NULL;
    r = tkt_rc_ref_find(c, tkt_rc_call(c)->ticket_id);
    return r && tkt_ticket_writable(r, 1) == 1 ? r : NULL;
}

/* The IVR's ticket turned missed-call ticket: R-M1's status, tag and
 * assignee and R-M2's first line; its subject and type stay the IVR's. */
static void adopt_ivr_ticket(tkt_rc_t *c, const tkt_action_t *a, const tkt_ticket_ref_t *ref)
{
    tkt_op_t *op = tkt_rc_op_add(c, TKT_OP_UPDATE, ref->id);
    op->status = TKT_ST_OPEN; /* tkt_rc_settle() remembers it */
    COPY(op->assignee_id, group_assignee(c, a));
    op->set_assignee = 1;
    tkt_rc_tag_add(op, "callbus_missed");
    missed_line(a, op);
    COPY(c->plan->customer.missed_group_id, a->group_id);
    COPY(c->plan->customer.missed_ticket_id, ref->id);
    tkt_rc_note(c, "R-T8/R-M1: the IVR's ticket of the call is the missed-call ticket");
}

/* R-M1: the group's missed-call ticket, kept as the customer's (R-M2 adds
 * to it); the call itself stays bound to whatever it was. */
static void group_open(tkt_rc_t *c, const tkt_action_t *a)
{
    tkt_customer_t *cu = &c->plan->customer;
    const tkt_ticket_ref_t *ivr;
    if (tkt_rc_same(cu->missed_group_id, a->group_id)) {
        tkt_rc_note(c, "missed-call group already open");
        return;
    }
    if (tkt_rc_same(tkt_rc_call(c)->call_id, a->call_id) && (ivr = ivr_ticket(c))) {
        adopt_ivr_ticket(c, a, ivr);
        return;
    }
    tkt_rc_spec_t s = {
        TKT_KIND_MISSED, c->pol->subject_missed, TKT_ST_OPEN, group_assignee(c, a), "", NULL, 0};
    tkt_op_t *op = tkt_rc_new_ticket(c, &s);
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
    tkt_rc_ref_push(c, TKT_REF_NEW_TICKET, TKT_KIND_MISSED, TKT_ST_OPEN);
    tkt_rc_ref_subject(c, op->subject);
}

static int group_known(tkt_rc_t *c, const tkt_action_t *a)
{
    const tkt_customer_t *cu = &c->plan->customer;
    return tkt_rc_same(cu->missed_group_id, a->group_id) && real_id(cu->missed_ticket_id);
}

/* R-M2: one more missed call, a comment with the running count. */
static void group_add(tkt_rc_t *c, const tkt_action_t *a)
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
    tkt_rc_body_line(tkt_rc_op_add(c, TKT_OP_COMMENT, c->plan->customer.missed_ticket_id),
                     "Missed call %ld at %s (call %s).", a->count, a->when, a->call_id);
}

/* R-M3: the grouper's status for the group's ticket. */
static void group_status(tkt_rc_t *c, const tkt_action_t *a)
{
    tkt_customer_t *cu = &c->plan->customer;
    if (!group_known(c, a)) {
        tkt_rc_note(c, "no open missed-call ticket for that group");
        return;
    }
    tkt_op_t *op = tkt_rc_op_add(c, TKT_OP_UPDATE, cu->missed_ticket_id);
    op->status = a->status;
    if (a->called_back)
        tkt_rc_tag_add(op, "callbus_called_back");
    if (a->status != TKT_ST_OPEN) { /* the customer was reached: the group is over */
        cu->missed_group_id[0] = '\0';
        cu->missed_ticket_id[0] = '\0';
    }
}

/* R-M3 (a)..(e): which one depends on the ticket the reaching call ended
 * on, which only ticket-service knows (tkt_missed_reached). */
static void group_reached(tkt_rc_t *c, const tkt_action_t *a)
{
    if (!group_known(c, a)) {
        tkt_rc_note(c, "no open missed-call ticket for that group");
        return;
    }
    if (!c->call->ended) { /* its end comes later on call-events: it applies R-M3 */
        COPY(c->plan->customer.missed_reached_call_id, a->call_id);
        tkt_rc_note(c, "R-M3: applied when the reaching call ends");
        return;
    }
    if (tkt_missed_reached(c->call, c->plan) < 0)
        tkt_rc_note(c, "no room for the R-M3 update");
}

static void dispatch_action(tkt_rc_t *c, const tkt_action_t *a)
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
    case TKT_ACT_CONTACT_LINKED:
        contact_linked(c, a);
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
    return k == TKT_ACT_CONTACT_PICKED || k == TKT_ACT_RETARGETED || k == TKT_ACT_NEW_TICKET ||
           k == TKT_ACT_CONTACT_LINKED;
}

int tkt_decide_action(const tkt_policy_t *pol, const tkt_action_t *a, const cmn_event_t *ev,
                      const tkt_call_t *call, const tkt_customer_t *customer,
                      const tkt_facts_t *facts, tkt_plan_t *out, const char **refusal)
{
    tkt_rc_t c;
    if (refusal)
        *refusal = NULL;
    if (!out)
        return -1;
    memset(out, 0, sizeof *out);
    if (!pol || !a || !ev) {
        out->note = "no policy, action or event";
        return -1;
    }
    tkt_rc_init(&c, pol, ev, call, customer, facts, out);
    c.withheld = !tkt_rc_customer_number(&c)[0];
    if (is_agent_action(a->kind)) {
        act_verdict_t v = check_action(&c, a);
        /* the agent sees the outcome on the pop, refusals too (issue 24) */
        out->announce = 1;
        out->action_id = a->id;
        if (v.verdict == ACT_REFUSED) {
            if (refusal)
                *refusal = v.reason;
            out->refused = v.reason;
            out->note = v.why;
            return -1;
        }
        if (v.verdict == ACT_NEED)
            return tkt_rc_finish(&c);
    }
    dispatch_action(&c, a);
    return tkt_rc_finish(&c);
}
