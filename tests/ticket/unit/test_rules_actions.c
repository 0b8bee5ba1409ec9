/* The rules for the intent of other services (tkt_decide_action, issue 20
 * item 1): the agent's actions (R-C4, R-P6, with their issue 19 checks)
 * and the grouper's operations (R-M1..R-M3), one case per rule situation.
 * Pure: linked against ticket_rules alone, the clock is the event's (T0).
 * Decoding the messages and counting refusals is tkt_actions.c's
 * (tests/ticket/unit/test_actions.c). */
#include "test.h"
#include "tkt_rules.h"

#define T0 1795000000000LL /* the action's occurred_at: the decision's clock */
#define CUST "+390612345678"

static tkt_policy_t pol;
static tkt_action_t act;
static tkt_call_t call;
static tkt_customer_t cust;
static tkt_facts_t facts;
static tkt_plan_t plan;
static const char *refusal;

#define TEXT(dst, src) snprintf((dst), sizeof(dst), "%s", (src))

/* ---- fixtures ------------------------------------------------------------ */

/* A fresh world: default policy with R-T9's session-start fields mapped,
 * no state, no facts, and an action of `kind` on call c1 of CUST. */
static void setup(tkt_action_kind_t kind)
{
    tkt_policy_defaults(&pol);
    TEXT(pol.fields.session_type, "f_session");
    TEXT(pol.fields.from_number, "f_from");
    memset(&act, 0, sizeof act);
    memset(&call, 0, sizeof call);
    memset(&cust, 0, sizeof cust);
    memset(&facts, 0, sizeof facts);
    act.kind = kind;
    TEXT(act.id, "op-000001");
    TEXT(act.call_id, "c1");
    TEXT(act.number, CUST);
    TEXT(act.when, "2026-11-21T10:00:00Z");
    TEXT(cust.number, CUST);
}

/* The job's event as tkt_actions.c makes it: ids and the action's time. */
static int decide(void)
{
    cmn_event_t ev;
    cmn_event_init(&ev);
    ev.event_id = "mis-op-000001";
    ev.call_id = act.call_id[0] ? act.call_id : NULL;
    ev.customer_number = act.number[0] ? act.number : NULL;
    ev.occurred_at_ms = ev.received_at_ms = T0;
    return tkt_decide_action(&pol, &act, &ev, &call, &cust, &facts, &plan, &refusal);
}

/* The customer's call c1 as ticket-service knows it: on ticket 55, its
 * contact 501 (R-C4's pick so far), the customer's tickets 55 and 60. */
static void known_call(void)
{
    const char *ids[] = {"55", "60"};
    TEXT(call.call_id, "c1");
    TEXT(call.customer, CUST);
    TEXT(call.ticket_id, "55");
    call.ticket_kind = TKT_KIND_CALL;
    TEXT(call.contact_id, "501");
    for (size_t i = 0; i < 2; i++) {
        TEXT(cust.tickets[i].id, ids[i]);
        cust.tickets[i].kind = TKT_KIND_CALL;
        cust.tickets[i].status = TKT_ST_OPEN;
    }
    cust.n_tickets = 2;
}

/* The CRM's contacts with the customer's number: 501 (older) and 503. */
static void candidates(void)
{
    facts.contacts_known = 1;
    facts.n_contacts = 2;
    TEXT(facts.contacts[0].id, "501");
    facts.contacts[0].created_at_ms = 1000;
    TEXT(facts.contacts[1].id, "503");
    facts.contacts[1].created_at_ms = 2000;
}

static const char *field(const tkt_op_t *op, const char *id)
{
    for (size_t i = 0; i < op->n_fields; i++)
        if (strcmp(op->fields[i].field_id, id) == 0)
            return op->fields[i].value;
    return "";
}

static int has_tag(const tkt_op_t *op, const char *tag)
{
    for (size_t i = 0; i < op->n_tags; i++)
        if (strcmp(op->tags[i], tag) == 0)
            return 1;
    return 0;
}

/* ---- R-M1: group.open ------------------------------------------------------ */

static void group_open(void)
{
    setup(TKT_ACT_GROUP_OPEN);
    TEXT(act.group_id, "g1");
    TEXT(act.agent, "900001");
    act.count = 1;
}

/* R-M1 + R-C1/R-C4: the requester is looked up first, then the most recent
 * contact; the ticket is the group's (external id), the last agent offered
 * gets it, it has the R-T9 session-start fields and is remembered at the
 * action's time; the call stays bound to what it was. */
static void test_R_M1_group_open_makes_the_group_s_ticket(void)
{
    group_open();
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.need, TKT_NEED_CONTACTS);
    ASSERT_EQ_INT(plan.n_ops, 0);
    candidates();
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    const tkt_op_t *op = &plan.ops[0];
    ASSERT_EQ_INT(op->kind, TKT_OP_CREATE_TICKET);
    ASSERT_EQ_INT(op->ticket_kind, TKT_KIND_MISSED);
    ASSERT_EQ_STR(op->subject, "Missed call from " CUST);
    ASSERT_EQ_STR(op->requester_id, "503"); /* R-C4: most recent */
    ASSERT_EQ_STR(op->assignee_id, "900001");
    ASSERT_EQ_INT(op->status, TKT_ST_OPEN);
    ASSERT_EQ_STR(op->external_id, "callbus-missed-g1");
    ASSERT_TRUE(has_tag(op, "callbus") && has_tag(op, "callbus_missed"));
    ASSERT_EQ_STR(op->body, "Missed call 1 at 2026-11-21T10:00:00Z (call c1).");
    ASSERT_EQ_STR(field(op, "f_session"), "call"); /* R-T9 at session start */
    ASSERT_EQ_STR(field(op, "f_from"), CUST);
    ASSERT_EQ_STR(plan.customer.missed_group_id, "g1");
    ASSERT_EQ_STR(plan.customer.missed_ticket_id, TKT_REF_NEW_TICKET);
    ASSERT_EQ_STR(plan.customer.contact_id, "503");
    ASSERT_EQ_STR(plan.customer.tickets[0].id, TKT_REF_NEW_TICKET);
    ASSERT_EQ_INT(plan.customer.tickets[0].created_at_ms, T0); /* the clock passed in */
    ASSERT_EQ_INT(plan.figures.created[TKT_KIND_MISSED], 1);
    ASSERT_EQ_STR(plan.call.ticket_id, "");
}

/* R-M1 + R-T11: no agent named: the default user, else nobody. */
static void test_R_M1_group_open_without_agent_goes_to_the_default(void)
{
    group_open();
    act.agent[0] = '\0';
    TEXT(cust.contact_id, "501");
    TEXT(pol.default_assignee, "900009");
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_STR(plan.ops[0].assignee_id, "900009");
    ASSERT_EQ_STR(plan.ops[0].requester_id, "501"); /* the cached contact: no look-up */
}

/* R-C2, issue 20 item 1: a caller the CRM does not know gets a contact
 * with the deterministic external id the call rules give theirs, so a
 * replay finds it (tkt_create.c) instead of making a second; even when
 * ticket-service has no state of the call. */
static void test_R_C2_group_open_s_new_contact_has_its_external_id(void)
{
    group_open();
    facts.contacts_known = 1;
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 2);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_CREATE_CONTACT);
    ASSERT_EQ_STR(plan.ops[0].phone, CUST);
    ASSERT_EQ_STR(plan.ops[0].external_id, "callbus-c1-contact");
    ASSERT_EQ_STR(plan.ops[1].requester_id, TKT_REF_NEW_CONTACT);
    ASSERT_EQ_STR(plan.customer.contact_id, TKT_REF_NEW_CONTACT);
}

/* R-C4 has one home (tkt_contact_newer): contacts created at the same
 * instant are told apart by id, whatever order the look-up lists them in. */
static void test_R_C4_group_open_tie_broken_like_the_call_rules(void)
{
    for (int order = 0; order < 2; order++) {
        group_open();
        facts.contacts_known = 1;
        facts.n_contacts = 2;
        TEXT(facts.contacts[order].id, "601");
        TEXT(facts.contacts[1 - order].id, "602");
        facts.contacts[0].created_at_ms = facts.contacts[1].created_at_ms = 5000;
        ASSERT_EQ_INT(decide(), 0);
        ASSERT_EQ_STR(plan.ops[0].requester_id, "602");
    }
}

/* R-M1: the group is already open (a replay before the state moved on). */
static void test_R_M1_group_open_twice_does_nothing(void)
{
    group_open();
    TEXT(cust.missed_group_id, "g1");
    TEXT(cust.missed_ticket_id, "77");
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 0);
    ASSERT_TRUE(plan.note != NULL);
}

/* R-T8 + R-M1 (issue 19 item 5): the call's ticket was made by the IVR: it
 * becomes the group's missed-call ticket (open, tagged, the last agent
 * offered, the running count's first line); no second ticket, no look-up.
 * Solved since (R-T10, as last seen): the group gets its own. A call on an
 * ordinary ticket (R-T1) is not adopted. */
static void test_R_T8_R_M1_group_open_adopts_the_ivr_s_ticket(void)
{
    group_open();
    TEXT(act.agent, "900002");
    TEXT(call.call_id, "c1");
    TEXT(call.customer, CUST);
    TEXT(call.ticket_id, "70");
    call.ticket_kind = TKT_KIND_IVR;
    TEXT(cust.tickets[0].id, "70");
    cust.tickets[0].kind = TKT_KIND_IVR;
    cust.tickets[0].status = TKT_ST_NEW;
    cust.n_tickets = 1;
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.need, TKT_NEED_NOTHING);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_UPDATE);
    ASSERT_EQ_STR(plan.ops[0].ticket_id, "70");
    ASSERT_EQ_INT(plan.ops[0].status, TKT_ST_OPEN);
    ASSERT_EQ_INT(plan.ops[0].set_assignee, 1);
    ASSERT_EQ_STR(plan.ops[0].assignee_id, "900002");
    ASSERT_EQ_INT(plan.ops[0].n_tags, 1);
    ASSERT_EQ_STR(plan.ops[0].tags[0], "callbus_missed");
    ASSERT_EQ_STR(plan.ops[0].body, "Missed call 1 at 2026-11-21T10:00:00Z (call c1).");
    ASSERT_EQ_STR(plan.customer.missed_group_id, "g1");
    ASSERT_EQ_STR(plan.customer.missed_ticket_id, "70");
    ASSERT_EQ_INT(plan.customer.tickets[0].status, TKT_ST_OPEN);
    ASSERT_EQ_INT(plan.figures.created[TKT_KIND_MISSED], 0);

    candidates();
    cust.tickets[0].status = TKT_ST_SOLVED;
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_CREATE_TICKET);
    ASSERT_EQ_STR(plan.customer.missed_ticket_id, TKT_REF_NEW_TICKET);
    ASSERT_EQ_STR(plan.call.ticket_id, "70"); /* the call keeps its own ticket */

    cust.tickets[0].status = TKT_ST_OPEN;
    call.ticket_kind = TKT_KIND_CALL;
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_CREATE_TICKET);
}

/* ---- R-M2: group.add ------------------------------------------------------- */

static void test_R_M2_group_add_comments_with_the_count(void)
{
    setup(TKT_ACT_GROUP_ADD);
    TEXT(act.group_id, "g1");
    TEXT(act.call_id, "c2");
    act.count = 3;
    TEXT(cust.missed_group_id, "g1");
    TEXT(cust.missed_ticket_id, "77");
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_COMMENT);
    ASSERT_EQ_STR(plan.ops[0].ticket_id, "77");
    ASSERT_EQ_STR(plan.ops[0].body, "Missed call 3 at 2026-11-21T10:00:00Z (call c2).");
}

/* R-M2, issue 11 item 5: ticket-service lost the group (Redis) while the
 * grouper kept it: the missed call still makes a ticket, never dropped; its
 * external id is the group's plus the count (a replay finds it, and the
 * group's own ticket is not mistaken for it). */
static void test_R_M2_group_add_for_an_unknown_group_opens_a_ticket(void)
{
    setup(TKT_ACT_GROUP_ADD);
    TEXT(act.group_id, "g9");
    TEXT(act.call_id, "c4");
    TEXT(act.agent, "900002");
    act.count = 2;
    TEXT(cust.contact_id, "501");
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_CREATE_TICKET);
    ASSERT_EQ_STR(plan.ops[0].external_id, "callbus-missed-g9-2");
    ASSERT_EQ_STR(plan.ops[0].assignee_id, "900002");
    ASSERT_EQ_STR(plan.ops[0].body, "Missed call 2 at 2026-11-21T10:00:00Z (call c4).");
    ASSERT_EQ_STR(plan.customer.missed_group_id, "g9");
}

/* ---- R-M3: group.status, group.reached -------------------------------------- */

static void grouped(tkt_action_kind_t kind)
{
    setup(kind);
    TEXT(act.group_id, "g1");
    TEXT(cust.missed_group_id, "g1");
    TEXT(cust.missed_ticket_id, "77");
    TEXT(cust.tickets[0].id, "77");
    cust.tickets[0].kind = TKT_KIND_MISSED;
    cust.tickets[0].status = TKT_ST_OPEN;
    cust.n_tickets = 1;
}

/* R-M3: the grouper says the customer was called back: pending, tagged,
 * and the group is over. */
static void test_R_M3_status_pending_called_back_ends_the_group(void)
{
    grouped(TKT_ACT_GROUP_STATUS);
    act.status = TKT_ST_PENDING;
    act.called_back = 1;
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_UPDATE);
    ASSERT_EQ_STR(plan.ops[0].ticket_id, "77");
    ASSERT_EQ_INT(plan.ops[0].status, TKT_ST_PENDING);
    ASSERT_EQ_STR(plan.ops[0].tags[0], "callbus_called_back");
    ASSERT_EQ_STR(plan.customer.missed_group_id, "");
    ASSERT_EQ_STR(plan.customer.missed_ticket_id, "");
}

static void test_R_M3_status_for_no_open_group_does_nothing(void)
{
    grouped(TKT_ACT_GROUP_STATUS);
    TEXT(act.group_id, "g2");
    act.status = TKT_ST_CLOSED;
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 0);
    ASSERT_EQ_STR(plan.customer.missed_group_id, "g1");
}

static void reaching_call(const char *ticket_id, int outbound)
{
    grouped(TKT_ACT_GROUP_REACHED);
    TEXT(act.call_id, "cb1");
    TEXT(call.call_id, "cb1");
    TEXT(call.ticket_id, ticket_id);
    call.answered = call.ended = 1;
    call.outbound = outbound;
}

/* R-M3 (a)/(d): the conversation went to another ticket: closed. */
static void test_R_M3_a_d_reached_on_another_ticket_closes(void)
{
    for (int outbound = 0; outbound < 2; outbound++) {
        reaching_call("88", outbound);
        ASSERT_EQ_INT(decide(), 0);
        ASSERT_EQ_INT(plan.n_ops, 1);
        ASSERT_EQ_STR(plan.ops[0].ticket_id, "77");
        ASSERT_EQ_INT(plan.ops[0].status, TKT_ST_CLOSED);
        ASSERT_EQ_INT(plan.ops[0].n_tags, 0);
        ASSERT_EQ_STR(plan.customer.missed_group_id, "");
        ASSERT_EQ_INT(plan.figures.closed, 1);
    }
}

/* R-M3 (b)/(e): on the missed-call ticket: pending; (c) an outbound call
 * from it is marked as called back. */
static void test_R_M3_b_c_e_reached_on_the_missed_ticket_is_pending(void)
{
    reaching_call("77", 0);
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_INT(plan.ops[0].status, TKT_ST_PENDING);
    ASSERT_EQ_INT(plan.ops[0].n_tags, 0);
    reaching_call("77", 1);
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.ops[0].status, TKT_ST_PENDING);
    ASSERT_EQ_STR(plan.ops[0].tags[0], "callbus_called_back");
    ASSERT_EQ_STR(plan.customer.missed_group_id, "");
}

/* R-M3: the op may come before ticket-service saw the call end (two
 * topics): remembered, and the call's end applies it (tkt_decide). */
static void test_R_M3_reached_before_the_call_ended_waits_for_its_end(void)
{
    reaching_call("", 0);
    call.ended = 0;
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 0);
    ASSERT_EQ_STR(plan.customer.missed_reached_call_id, "cb1");
    ASSERT_EQ_STR(plan.customer.missed_group_id, "g1");
}

/* ---- R-C4: contact.picked ---------------------------------------------------- */

static void agent_action(tkt_action_kind_t kind)
{
    setup(kind);
    TEXT(act.id, "act-000001");
    TEXT(act.agent, "900001");
    known_call();
}

/* R-C4: the agent's choice among the candidates wins; the call's ticket
 * gets it as requester. The candidates are the CRM's look-up. */
static void test_R_C4_contact_picked_moves_the_requester(void)
{
    agent_action(TKT_ACT_CONTACT_PICKED);
    TEXT(act.contact_id, "503");
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.need, TKT_NEED_CONTACTS);
    ASSERT_EQ_INT(plan.n_ops, 0);
    candidates();
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_TRUE(refusal == NULL);
    ASSERT_EQ_STR(plan.call.picked_contact_id, "503");
    ASSERT_EQ_STR(plan.call.contact_id, "503");
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_UPDATE);
    ASSERT_EQ_STR(plan.ops[0].ticket_id, "55");
    ASSERT_EQ_STR(plan.ops[0].requester_id, "503");
}

/* R-C4, issue 19 item 6: a picked contact must be a candidate. */
static void test_R_C4_contact_picked_outside_the_candidates_refused(void)
{
    agent_action(TKT_ACT_CONTACT_PICKED);
    TEXT(act.contact_id, "999");
    candidates();
    ASSERT_EQ_INT(decide(), -1);
    ASSERT_EQ_STR(refusal, "not_a_candidate");
    ASSERT_EQ_INT(plan.n_ops, 0);
    ASSERT_TRUE(plan.note && strstr(plan.note, "R-C4") != NULL);
    facts.n_contacts = 0; /* nobody has the number: no candidate at all */
    ASSERT_EQ_INT(decide(), -1);
    ASSERT_EQ_STR(refusal, "not_a_candidate");
}

/* Issue 19 item 6: an action names a call ticket-service knows, of the
 * customer it names. */
static void test_R_P6_action_on_an_unknown_or_other_call_refused(void)
{
    agent_action(TKT_ACT_NEW_TICKET);
    memset(&call, 0, sizeof call);
    ASSERT_EQ_INT(decide(), -1);
    ASSERT_EQ_STR(refusal, "unknown_call");
    ASSERT_EQ_INT(plan.n_ops, 0);
    known_call();
    TEXT(call.customer, "+390699999999");
    ASSERT_EQ_INT(decide(), -1);
    ASSERT_EQ_STR(refusal, "other_customer");
    known_call();
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_TRUE(refusal == NULL);
}

/* ---- R-P6: call.retargeted, call.new_ticket ------------------------------------ */

/* R-P6: later comments go to the chosen ticket; both tickets are told.
 * R-T10: its status is read now, not judged as stored. */
static void test_R_P6_retarget_moves_the_call(void)
{
    agent_action(TKT_ACT_RETARGETED);
    TEXT(act.ticket_id, "60");
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.need, TKT_NEED_TICKET_STATUS);
    ASSERT_EQ_STR(plan.need_ticket_id, "60");
    cust.tickets[1].fresh = 1;
    facts.tickets_checked = 1;
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_STR(plan.call.ticket_id, "60");
    ASSERT_EQ_INT(plan.n_ops, 2);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_COMMENT);
    ASSERT_EQ_STR(plan.ops[0].ticket_id, "60");
    ASSERT_EQ_STR(plan.ops[0].body, "Call c1 attached to this ticket by agent 900001.");
    ASSERT_EQ_STR(plan.ops[1].ticket_id, "55");
    ASSERT_EQ_STR(plan.ops[1].body, "Call c1 moved to ticket 60 by agent 900001.");
    ASSERT_EQ_INT(plan.customer.tickets[1].fresh, 0); /* fresh only for one decision */
    ASSERT_EQ_INT(plan.announce, 1); /* issue 24 item 2: the pop shows the call's new ticket */
    ASSERT_TRUE(plan.refused == NULL);
}

/* R-P6, issue 24 item 2: a refused move is announced, so ticket-service
 * tells the agent (a ticket event with the refusal) instead of only
 * logging it; the call stays where it was. */
static void test_R_P6_refused_move_is_announced_to_the_agent(void)
{
    agent_action(TKT_ACT_RETARGETED);
    TEXT(act.ticket_id, "77"); /* another customer's ticket: not among this customer's */
    ASSERT_EQ_INT(decide(), -1);
    ASSERT_EQ_STR(refusal, "not_the_customers_ticket");
    ASSERT_EQ_INT(plan.announce, 1);
    ASSERT_EQ_STR(plan.refused, "not_the_customers_ticket");
    ASSERT_EQ_STR(plan.action_id, "act-000001");
    ASSERT_EQ_INT(plan.n_ops, 0);
    setup(TKT_ACT_GROUP_ADD); /* the grouper's operations have nobody to tell */
    TEXT(act.group_id, "g1");
    act.count = 2;
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.announce, 0);
    ASSERT_TRUE(plan.refused == NULL);
}

/* R-P6, issue 24 item 2: a new ticket is remembered with its subject, which
 * the pop shows among the customer's tickets to move a later call to. */
static void test_R_P6_new_ticket_is_remembered_with_its_subject(void)
{
    agent_action(TKT_ACT_NEW_TICKET);
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_STR(plan.customer.tickets[0].subject, "Call from " CUST);
    ASSERT_EQ_STR(plan.customer.tickets[1].id, "55");
    ASSERT_EQ_STR(plan.customer.tickets[1].subject, ""); /* as it was: none remembered */
}

/* R-P6 + R-T10, issue 19 item 6: not another customer's ticket, not one
 * solved, closed or merged away. */
static void test_R_P6_R_T10_retarget_to_a_foreign_or_closed_ticket_refused(void)
{
    tkt_status_t shut[] = {TKT_ST_SOLVED, TKT_ST_CLOSED};
    agent_action(TKT_ACT_RETARGETED);
    TEXT(act.ticket_id, "60");
    TEXT(cust.tickets[1].id, "61"); /* 60 is someone else's */
    ASSERT_EQ_INT(decide(), -1);
    ASSERT_EQ_STR(refusal, "not_the_customers_ticket");
    ASSERT_EQ_INT(plan.n_ops, 0);
    for (size_t i = 0; i < 2; i++) {
        agent_action(TKT_ACT_RETARGETED);
        TEXT(act.ticket_id, "60");
        cust.tickets[1].status = shut[i];
        cust.tickets[1].fresh = 1;
        facts.tickets_checked = 1;
        ASSERT_EQ_INT(decide(), -1);
        ASSERT_EQ_STR(refusal, "ticket_not_writable");
        ASSERT_EQ_STR(plan.call.ticket_id, "55");
    }
    agent_action(TKT_ACT_RETARGETED);
    TEXT(act.ticket_id, "60");
    TEXT(cust.tickets[1].merged_into, "70");
    cust.tickets[1].fresh = 1;
    ASSERT_EQ_INT(decide(), -1);
    ASSERT_EQ_STR(refusal, "ticket_not_writable");
    agent_action(TKT_ACT_RETARGETED);
    TEXT(act.ticket_id, "60");
    cust.tickets[1].status = TKT_ST_CLOSED; /* closed is final: no read needed */
    ASSERT_EQ_INT(decide(), -1);
    ASSERT_EQ_STR(refusal, "ticket_not_writable");
}

/* R-P6: a new ticket for the call, the agent's: the call's contact as
 * requester, the R-T9 session-start fields, an external id of its own (a
 * replay finds it), remembered at the action's time; the call moves to it
 * and its old ticket is told. */
static void test_R_P6_new_ticket_takes_the_call(void)
{
    agent_action(TKT_ACT_NEW_TICKET);
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 2);
    const tkt_op_t *op = &plan.ops[0];
    ASSERT_EQ_INT(op->kind, TKT_OP_CREATE_TICKET);
    ASSERT_EQ_INT(op->ticket_kind, TKT_KIND_CALL);
    ASSERT_EQ_STR(op->subject, "Call from " CUST);
    ASSERT_EQ_STR(op->requester_id, "501");
    ASSERT_EQ_STR(op->assignee_id, "900001");
    ASSERT_EQ_INT(op->status, TKT_ST_OPEN);
    ASSERT_TRUE(strncmp(op->external_id, "callbus-new", 11) == 0);
    ASSERT_TRUE(has_tag(op, "callbus"));
    ASSERT_EQ_STR(op->body, "New ticket for call c1, started by agent 900001.");
    ASSERT_EQ_STR(field(op, "f_session"), "call");
    ASSERT_EQ_STR(field(op, "f_from"), CUST);
    ASSERT_EQ_INT(plan.ops[1].kind, TKT_OP_COMMENT);
    ASSERT_EQ_STR(plan.ops[1].ticket_id, "55");
    ASSERT_EQ_STR(plan.ops[1].body, "Call c1 moved to a new ticket by agent 900001.");
    ASSERT_EQ_STR(plan.call.ticket_id, TKT_REF_NEW_TICKET);
    ASSERT_EQ_STR(plan.customer.tickets[0].id, TKT_REF_NEW_TICKET);
    ASSERT_EQ_INT(plan.customer.tickets[0].created_at_ms, T0);
    ASSERT_EQ_INT(plan.figures.created[TKT_KIND_CALL], 1);
    char first[TKT_EXTERNAL_ID_MAX];
    TEXT(first, op->external_id);
    ASSERT_EQ_INT(decide(), 0); /* a replay before the state moved on: the same ticket */
    ASSERT_EQ_STR(plan.ops[0].external_id, first);
    TEXT(act.id, "act-000002"); /* another action: another ticket */
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_TRUE(strcmp(plan.ops[0].external_id, first) != 0);
}

/* R-P6 + R-C1/R-C2, issue 20 item 1: a call with no contact yet gets its
 * requester like every new ticket: looked up, else created with its
 * deterministic external id. */
static void test_R_C2_new_ticket_for_a_caller_with_no_contact(void)
{
    agent_action(TKT_ACT_NEW_TICKET);
    call.contact_id[0] = '\0';
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.need, TKT_NEED_CONTACTS);
    facts.contacts_known = 1;
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_CREATE_CONTACT);
    ASSERT_EQ_STR(plan.ops[0].external_id, "callbus-c1-contact");
    ASSERT_EQ_STR(plan.ops[1].requester_id, TKT_REF_NEW_CONTACT);
    ASSERT_EQ_STR(plan.call.contact_id, TKT_REF_NEW_CONTACT);
}

/* Issue 24 item 2 (Deskie's unknown caller): the contact the agent found
 * becomes the ticket's requester and the call's and customer's contact,
 * and gets the caller's number (so R-C1 finds it next time); a withheld
 * call has no number to add: refused, and told. */
static void test_contact_linked_moves_the_ticket_and_adds_the_number(void)
{
    agent_action(TKT_ACT_CONTACT_LINKED);
    TEXT(act.contact_id, "777");
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_TRUE(refusal == NULL);
    ASSERT_EQ_INT(plan.announce, 1);
    ASSERT_EQ_STR(plan.call.contact_id, "777");
    ASSERT_EQ_STR(plan.customer.contact_id, "777");
    ASSERT_EQ_INT(plan.n_ops, 2);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_UPDATE);
    ASSERT_EQ_STR(plan.ops[0].ticket_id, "55");
    ASSERT_EQ_STR(plan.ops[0].requester_id, "777");
    ASSERT_EQ_INT(plan.ops[1].kind, TKT_OP_ADD_PHONE);
    ASSERT_EQ_STR(plan.ops[1].requester_id, "777");
    ASSERT_EQ_STR(plan.ops[1].phone, CUST);
    TEXT(call.contact_id, "777"); /* linked already: nothing again */
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 0);
    agent_action(TKT_ACT_CONTACT_LINKED);
    TEXT(act.contact_id, "777");
    act.number[0] = call.customer[0] = '\0';
    ASSERT_EQ_INT(decide(), -1);
    ASSERT_EQ_STR(refusal, "no_number");
    ASSERT_EQ_STR(plan.refused, "no_number");
}

int main(void)
{
    static const test_case_t cases[] = {
        TEST_CASE(test_R_M1_group_open_makes_the_group_s_ticket),
        TEST_CASE(test_R_M1_group_open_without_agent_goes_to_the_default),
        TEST_CASE(test_R_C2_group_open_s_new_contact_has_its_external_id),
        TEST_CASE(test_R_C4_group_open_tie_broken_like_the_call_rules),
        TEST_CASE(test_R_M1_group_open_twice_does_nothing),
        TEST_CASE(test_R_T8_R_M1_group_open_adopts_the_ivr_s_ticket),
        TEST_CASE(test_R_M2_group_add_comments_with_the_count),
        TEST_CASE(test_R_M2_group_add_for_an_unknown_group_opens_a_ticket),
        TEST_CASE(test_R_M3_status_pending_called_back_ends_the_group),
        TEST_CASE(test_R_M3_status_for_no_open_group_does_nothing),
        TEST_CASE(test_R_M3_a_d_reached_on_another_ticket_closes),
        TEST_CASE(test_R_M3_b_c_e_reached_on_the_missed_ticket_is_pending),
        TEST_CASE(test_R_M3_reached_before_the_call_ended_waits_for_its_end),
        TEST_CASE(test_R_C4_contact_picked_moves_the_requester),
        TEST_CASE(test_R_C4_contact_picked_outside_the_candidates_refused),
        TEST_CASE(test_R_P6_action_on_an_unknown_or_other_call_refused),
        TEST_CASE(test_R_P6_retarget_moves_the_call),
        TEST_CASE(test_R_P6_R_T10_retarget_to_a_foreign_or_closed_ticket_refused),
        TEST_CASE(test_R_P6_refused_move_is_announced_to_the_agent),
        TEST_CASE(test_R_P6_new_ticket_is_remembered_with_its_subject),
        TEST_CASE(test_R_P6_new_ticket_takes_the_call),
        TEST_CASE(test_R_C2_new_ticket_for_a_caller_with_no_contact),
        TEST_CASE(test_contact_linked_moves_the_ticket_and_adds_the_number)};
    return test_run_all("ticket_rules_actions", cases, sizeof cases / sizeof cases[0]);
}
