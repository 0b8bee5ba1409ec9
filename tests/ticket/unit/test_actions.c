/* Agent actions (R-C4, R-P6) and missed-call operations (R-M1..R-M3) as
 * decisions, and the Redis codec of the state they change. */
#include "cmn_log.h"
#include "cmn_metrics.h"
#include "test.h"
#include "tkt_actions.h"
#include "tkt_codec.h"

static tkt_policy_t pol;

static int decide(tkt_actions_kind_t kind, const char *msg, const tkt_call_t *call,
                  const tkt_customer_t *cust, const tkt_facts_t *facts, tkt_plan_t *out)
{
    char err[128];
    return tkt_actions_decide_message(&pol, kind, msg, strlen(msg), call, cust, facts, out, err,
                                      sizeof err);
}

static tkt_customer_t customer(void)
{
    tkt_customer_t c = {0};
    snprintf(c.number, sizeof c.number, "+390612345678");
    return c;
}

static void test_R_M1_group_open_needs_the_contact_first(void)
{
    tkt_call_t call = {0};
    tkt_customer_t cust = customer();
    tkt_plan_t plan;
    const char *msg =
        "{\"schema_version\":1,\"op_id\":\"op-000001\",\"op\":\"group.open\","
        "\"group_id\":\"g1\",\"customer_number\":\"+390612345678\",\"call_id\":\"c1\","
        "\"count\":1,\"assignee_crm_id\":\"900001\",\"occurred_at\":\"2026-11-21T10:00:00Z\"}";
    ASSERT_EQ_INT(decide(TKT_ACTIONS_MISSED, msg, &call, &cust, NULL, &plan), 0);
    ASSERT_EQ_INT(plan.need, TKT_NEED_CONTACTS);
    ASSERT_EQ_INT(plan.n_ops, 0);

    tkt_facts_t facts = {.contacts_known = 1, .n_contacts = 2};
    snprintf(facts.contacts[0].id, sizeof facts.contacts[0].id, "501");
    facts.contacts[0].created_at_ms = 1000;
    snprintf(facts.contacts[1].id, sizeof facts.contacts[1].id, "502");
    facts.contacts[1].created_at_ms = 2000;
    ASSERT_EQ_INT(decide(TKT_ACTIONS_MISSED, msg, &call, &cust, &facts, &plan), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_CREATE_TICKET);
    ASSERT_EQ_STR(plan.ops[0].subject, "Missed call from +390612345678");
    ASSERT_EQ_STR(plan.ops[0].requester_id, "502");   /* R-C4: most recent */
    ASSERT_EQ_STR(plan.ops[0].assignee_id, "900001"); /* R-M1: last offered */
    ASSERT_EQ_INT(plan.ops[0].status, TKT_ST_OPEN);
    ASSERT_EQ_STR(plan.ops[0].external_id, "callbus-missed-g1");
    ASSERT_EQ_STR(plan.customer.missed_group_id, "g1");
    ASSERT_EQ_STR(plan.customer.missed_ticket_id, TKT_REF_NEW_TICKET);
}

/* Issue 7 item 11: R-C4 has one home (tkt_contact_newer): contacts created
 * at the same instant are told apart by id here too, as the call rules do
 * (this copy used to keep the first one listed, so a replay that listed
 * them in another order picked another contact). */
static void test_R_C4_tie_broken_like_the_rules(void)
{
    tkt_call_t call = {0};
    tkt_customer_t cust = customer();
    tkt_plan_t plan;
    const char *msg =
        "{\"schema_version\":1,\"op_id\":\"op-000009\",\"op\":\"group.open\","
        "\"group_id\":\"g9\",\"customer_number\":\"+390612345678\",\"call_id\":\"c9\","
        "\"count\":1,\"occurred_at\":\"2026-11-21T10:00:00Z\"}";
    for (int order = 0; order < 2; order++) {
        tkt_facts_t facts = {.contacts_known = 1, .n_contacts = 2};
        snprintf(facts.contacts[order].id, sizeof facts.contacts[0].id, "601");
        snprintf(facts.contacts[1 - order].id, sizeof facts.contacts[0].id, "602");
        facts.contacts[0].created_at_ms = facts.contacts[1].created_at_ms = 5000;
        ASSERT_EQ_INT(decide(TKT_ACTIONS_MISSED, msg, &call, &cust, &facts, &plan), 0);
        ASSERT_EQ_STR(plan.ops[0].requester_id, "602");
    }
}

static void test_R_M2_group_add_comments_with_count(void)
{
    tkt_call_t call = {0};
    tkt_customer_t cust = customer();
    tkt_plan_t plan;
    snprintf(cust.missed_group_id, sizeof cust.missed_group_id, "g1");
    snprintf(cust.missed_ticket_id, sizeof cust.missed_ticket_id, "77");
    const char *msg = "{\"op_id\":\"op-000002\",\"op\":\"group.add\",\"group_id\":\"g1\","
                      "\"customer_number\":\"+390612345678\",\"call_id\":\"c2\",\"count\":3,"
                      "\"occurred_at\":\"2026-11-21T10:05:00Z\"}";
    ASSERT_EQ_INT(decide(TKT_ACTIONS_MISSED, msg, &call, &cust, NULL, &plan), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_COMMENT);
    ASSERT_EQ_STR(plan.ops[0].ticket_id, "77");
    ASSERT_TRUE(strstr(plan.ops[0].body, "Missed call 3") != NULL);
}

static void test_R_M3_status_closed_ends_the_group(void)
{
    tkt_call_t call = {0};
    tkt_customer_t cust = customer();
    tkt_plan_t plan;
    snprintf(cust.missed_group_id, sizeof cust.missed_group_id, "g1");
    snprintf(cust.missed_ticket_id, sizeof cust.missed_ticket_id, "77");
    const char *msg = "{\"op_id\":\"op-000003\",\"op\":\"group.status\",\"group_id\":\"g1\","
                      "\"customer_number\":\"+390612345678\",\"status\":\"pending\","
                      "\"called_back\":true,\"occurred_at\":\"2026-11-21T10:09:00Z\"}";
    ASSERT_EQ_INT(decide(TKT_ACTIONS_MISSED, msg, &call, &cust, NULL, &plan), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_INT(plan.ops[0].status, TKT_ST_PENDING);
    ASSERT_EQ_STR(plan.ops[0].tags[0], "callbus_called_back");
    ASSERT_EQ_STR(plan.customer.missed_group_id, "");
}

/* The customer's call c1 as ticket-service knows it: on ticket 55, its
 * contact 501 (R-C4's pick so far), the customer's tickets 55 and 60. */
static void known_call(tkt_call_t *call, tkt_customer_t *cust)
{
    memset(call, 0, sizeof *call);
    snprintf(call->call_id, sizeof call->call_id, "c1");
    snprintf(call->customer, sizeof call->customer, "+390612345678");
    snprintf(call->ticket_id, sizeof call->ticket_id, "55");
    snprintf(call->contact_id, sizeof call->contact_id, "501");
    *cust = customer();
    const char *ids[] = {"55", "60"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(cust->tickets[i].id, sizeof cust->tickets[i].id, "%s", ids[i]);
        cust->tickets[i].kind = TKT_KIND_CALL;
        cust->tickets[i].status = TKT_ST_OPEN;
    }
    cust->n_tickets = 2;
}

/* The CRM's contacts with the customer's number: 501 and 503. */
static tkt_facts_t candidates(void)
{
    tkt_facts_t f = {.contacts_known = 1, .n_contacts = 2};
    snprintf(f.contacts[0].id, sizeof f.contacts[0].id, "501");
    snprintf(f.contacts[1].id, sizeof f.contacts[1].id, "503");
    return f;
}

static double refused(const char *reason)
{
    char labels[64];
    snprintf(labels, sizeof labels, "reason=\"%s\"", reason);
    return cmn_metric_value(cmn_metrics_counter("ticket_agent_actions_refused_total", "", labels));
}

static void test_R_C4_contact_picked_moves_the_requester(void)
{
    tkt_call_t call;
    tkt_customer_t cust;
    tkt_facts_t facts = candidates();
    tkt_plan_t plan;
    known_call(&call, &cust);
    const char *msg =
        "{\"action_id\":\"act-000001\",\"action\":\"contact.picked\",\"call_id\":\"c1\","
        "\"customer_number\":\"+390612345678\",\"agent_crm_id\":\"900001\",\"contact_id\":\"503\","
        "\"occurred_at\":\"2026-11-21T10:00:00Z\"}";
    ASSERT_EQ_INT(decide(TKT_ACTIONS_AGENT, msg, &call, &cust, NULL, &plan), 0);
    ASSERT_EQ_INT(plan.need, TKT_NEED_CONTACTS); /* the candidates are the CRM's look-up */
    ASSERT_EQ_INT(plan.n_ops, 0);
    ASSERT_EQ_INT(decide(TKT_ACTIONS_AGENT, msg, &call, &cust, &facts, &plan), 0);
    ASSERT_EQ_STR(plan.call.picked_contact_id, "503");
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_STR(plan.ops[0].ticket_id, "55");
    ASSERT_EQ_STR(plan.ops[0].requester_id, "503");
}

/* Issue 19 item 6: a picked contact must be one of the call's candidates
 * (R-C4: the contacts with the caller's number). */
static void test_issue19_contact_picked_outside_the_candidates_refused(void)
{
    tkt_call_t call;
    tkt_customer_t cust;
    tkt_facts_t facts = candidates();
    tkt_plan_t plan;
    known_call(&call, &cust);
    double before = refused("not_a_candidate");
    const char *msg =
        "{\"action_id\":\"act-000011\",\"action\":\"contact.picked\",\"call_id\":\"c1\","
        "\"customer_number\":\"+390612345678\",\"agent_crm_id\":\"900001\",\"contact_id\":\"999\","
        "\"occurred_at\":\"2026-11-21T10:00:00Z\"}";
    ASSERT_EQ_INT(decide(TKT_ACTIONS_AGENT, msg, &call, &cust, &facts, &plan), -1);
    ASSERT_EQ_INT(plan.n_ops, 0);
    ASSERT_TRUE(plan.note && strstr(plan.note, "candidate") != NULL);
    ASSERT_TRUE(refused("not_a_candidate") == before + 1);
    facts.n_contacts = 0; /* a withheld number, or nobody has it: no candidate at all */
    ASSERT_EQ_INT(decide(TKT_ACTIONS_AGENT, msg, &call, &cust, &facts, &plan), -1);
}

/* Issue 19 item 6: an action names a call ticket-service knows, of the
 * customer it names. */
static void test_issue19_action_on_an_unknown_or_other_call_refused(void)
{
    tkt_call_t call = {0};
    tkt_customer_t cust = customer();
    tkt_facts_t facts = candidates();
    tkt_plan_t plan;
    const char *msg =
        "{\"action_id\":\"act-000012\",\"action\":\"call.new_ticket\",\"call_id\":\"c1\","
        "\"customer_number\":\"+390612345678\",\"agent_crm_id\":\"900001\","
        "\"occurred_at\":\"2026-11-21T10:00:00Z\"}";
    double before = refused("unknown_call");
    ASSERT_EQ_INT(decide(TKT_ACTIONS_AGENT, msg, &call, &cust, &facts, &plan), -1);
    ASSERT_EQ_INT(plan.n_ops, 0);
    ASSERT_TRUE(refused("unknown_call") == before + 1);
    known_call(&call, &cust);
    snprintf(call.customer, sizeof call.customer, "+390699999999");
    before = refused("other_customer");
    ASSERT_EQ_INT(decide(TKT_ACTIONS_AGENT, msg, &call, &cust, &facts, &plan), -1);
    ASSERT_TRUE(refused("other_customer") == before + 1);
    known_call(&call, &cust);
    ASSERT_EQ_INT(decide(TKT_ACTIONS_AGENT, msg, &call, &cust, &facts, &plan), 0);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_CREATE_TICKET);
}

static const char *RETARGET_60 =
    "{\"action_id\":\"act-000002\",\"action\":\"call.retargeted\",\"call_id\":\"c1\","
    "\"customer_number\":\"+390612345678\",\"agent_crm_id\":\"900001\",\"ticket_id\":\"60\","
    "\"occurred_at\":\"2026-11-21T10:00:00Z\"}";

static void test_R_P6_retarget_moves_the_call(void)
{
    tkt_call_t call;
    tkt_customer_t cust;
    tkt_facts_t facts = {0};
    tkt_plan_t plan;
    known_call(&call, &cust);
    ASSERT_EQ_INT(decide(TKT_ACTIONS_AGENT, RETARGET_60, &call, &cust, &facts, &plan), 0);
    ASSERT_EQ_INT(plan.need, TKT_NEED_TICKET_STATUS); /* R-T10: its status now, not as stored */
    ASSERT_EQ_STR(plan.need_ticket_id, "60");
    cust.tickets[1].fresh = 1;
    facts.tickets_checked = 1;
    ASSERT_EQ_INT(decide(TKT_ACTIONS_AGENT, RETARGET_60, &call, &cust, &facts, &plan), 0);
    ASSERT_EQ_STR(plan.call.ticket_id, "60");
    ASSERT_EQ_INT(plan.n_ops, 2);
    ASSERT_EQ_STR(plan.ops[0].ticket_id, "60");
    ASSERT_EQ_STR(plan.ops[1].ticket_id, "55");
}

/* Issue 19 item 6: a re-target goes to one of the customer's tickets
 * (R-P6) that may still be written to (R-T10): not another customer's,
 * not one solved, closed or merged away. */
static void test_issue19_retarget_to_a_foreign_or_closed_ticket_refused(void)
{
    tkt_call_t call;
    tkt_customer_t cust;
    tkt_facts_t facts = {0};
    tkt_plan_t plan;
    known_call(&call, &cust);
    snprintf(cust.tickets[1].id, sizeof cust.tickets[1].id, "61"); /* 60 is someone else's */
    double before = refused("not_the_customers_ticket");
    ASSERT_EQ_INT(decide(TKT_ACTIONS_AGENT, RETARGET_60, &call, &cust, &facts, &plan), -1);
    ASSERT_EQ_INT(plan.n_ops, 0);
    ASSERT_TRUE(plan.note && strstr(plan.note, "customer") != NULL);
    ASSERT_TRUE(refused("not_the_customers_ticket") == before + 1);

    tkt_status_t shut[] = {TKT_ST_SOLVED, TKT_ST_CLOSED};
    for (size_t i = 0; i < 2; i++) {
        known_call(&call, &cust);
        cust.tickets[1].status = shut[i];
        cust.tickets[1].fresh = 1; /* just read */
        facts.tickets_checked = 1;
        before = refused("ticket_not_writable");
        ASSERT_EQ_INT(decide(TKT_ACTIONS_AGENT, RETARGET_60, &call, &cust, &facts, &plan), -1);
        ASSERT_EQ_INT(plan.n_ops, 0);
        ASSERT_EQ_STR(plan.call.ticket_id, "55");
        ASSERT_TRUE(refused("ticket_not_writable") == before + 1);
    }
    known_call(&call, &cust);
    snprintf(cust.tickets[1].merged_into, sizeof cust.tickets[1].merged_into, "70");
    cust.tickets[1].fresh = 1;
    ASSERT_EQ_INT(decide(TKT_ACTIONS_AGENT, RETARGET_60, &call, &cust, &facts, &plan), -1);
    known_call(&call, &cust);
    cust.tickets[1].status = TKT_ST_CLOSED; /* closed is final: no read needed */
    ASSERT_EQ_INT(decide(TKT_ACTIONS_AGENT, RETARGET_60, &call, &cust, NULL, &plan), -1);
}

/* Issue 19 item 5 (R-T8 + R-M1): the grouper opens a group for a missed
 * call the IVR had a ticket made for: that ticket becomes the group's
 * missed-call ticket (open, tagged, the last agent offered, the running
 * count's first comment); no second ticket, no contact look-up. */
static void test_issue19_group_open_on_an_ivr_call_adopts_its_ticket(void)
{
    tkt_call_t call = {0};
    tkt_customer_t cust = customer();
    tkt_plan_t plan;
    snprintf(call.call_id, sizeof call.call_id, "c1");
    snprintf(call.customer, sizeof call.customer, "+390612345678");
    snprintf(call.ticket_id, sizeof call.ticket_id, "70");
    call.ticket_kind = TKT_KIND_IVR;
    snprintf(cust.tickets[0].id, sizeof cust.tickets[0].id, "70");
    cust.tickets[0].kind = TKT_KIND_IVR;
    cust.tickets[0].status = TKT_ST_OPEN;
    cust.n_tickets = 1;
    const char *msg =
        "{\"schema_version\":1,\"op_id\":\"op-000071\",\"op\":\"group.open\","
        "\"group_id\":\"g7\",\"customer_number\":\"+390612345678\",\"call_id\":\"c1\","
        "\"count\":1,\"assignee_crm_id\":\"900002\",\"occurred_at\":\"2026-11-21T10:00:00Z\"}";
    ASSERT_EQ_INT(decide(TKT_ACTIONS_MISSED, msg, &call, &cust, NULL, &plan), 0);
    ASSERT_EQ_INT(plan.need, TKT_NEED_NOTHING);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_UPDATE);
    ASSERT_EQ_STR(plan.ops[0].ticket_id, "70");
    ASSERT_EQ_INT(plan.ops[0].status, TKT_ST_OPEN);
    ASSERT_EQ_INT(plan.ops[0].set_assignee, 1);
    ASSERT_EQ_STR(plan.ops[0].assignee_id, "900002"); /* R-M1: the last agent offered */
    ASSERT_EQ_INT(plan.ops[0].n_tags, 1);
    ASSERT_EQ_STR(plan.ops[0].tags[0], "callbus_missed");
    ASSERT_TRUE(strstr(plan.ops[0].body, "Missed call 1 at ") != NULL);
    ASSERT_EQ_STR(plan.customer.missed_group_id, "g7");
    ASSERT_EQ_STR(plan.customer.missed_ticket_id, "70"); /* R-M2, R-M3 go to it */
    ASSERT_EQ_INT(plan.figures.created[TKT_KIND_MISSED], 0);

    /* A person solved it since (R-T10): the group gets a ticket of its own. */
    tkt_facts_t facts = candidates();
    cust.tickets[0].status = TKT_ST_SOLVED;
    ASSERT_EQ_INT(decide(TKT_ACTIONS_MISSED, msg, &call, &cust, &facts, &plan), 0);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_CREATE_TICKET);
    ASSERT_EQ_STR(plan.customer.missed_ticket_id, TKT_REF_NEW_TICKET);
    /* A call on an ordinary ticket (an answered one's, R-T1) is not adopted. */
    cust.tickets[0].status = TKT_ST_OPEN;
    call.ticket_kind = TKT_KIND_CALL;
    ASSERT_EQ_INT(decide(TKT_ACTIONS_MISSED, msg, &call, &cust, &facts, &plan), 0);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_CREATE_TICKET);
}

static void test_bad_messages_rejected(void)
{
    tkt_call_t call = {0};
    tkt_customer_t cust = customer();
    tkt_plan_t plan;
    ASSERT_EQ_INT(decide(TKT_ACTIONS_AGENT, "not json", &call, &cust, NULL, &plan), -1);
    ASSERT_EQ_INT(decide(TKT_ACTIONS_AGENT,
                         "{\"action\":\"call.retargeted\",\"action_id\":\"a1234567\","
                         "\"call_id\":\"c\",\"agent_crm_id\":\"1\"}",
                         &call, &cust, NULL, &plan),
                  -1); /* no ticket_id */
    ASSERT_EQ_INT(decide(TKT_ACTIONS_MISSED,
                         "{\"op\":\"group.status\",\"op_id\":\"o1234567\","
                         "\"group_id\":\"g\",\"customer_number\":\"+390612345678\"}",
                         &call, &cust, NULL, &plan),
                  -1); /* no status */
}

static void test_codec_roundtrip(void)
{
    tkt_call_t call = {0}, call2;
    tkt_customer_t cust = customer(), cust2;
    snprintf(call.call_id, sizeof call.call_id, "c-1");
    snprintf(call.ticket_id, sizeof call.ticket_id, "55");
    call.answered = 1;
    call.n_legs = 1;
    snprintf(call.legs[0].agent_crm_id, sizeof call.legs[0].agent_crm_id, "900001");
    cust.n_tickets = 1;
    snprintf(cust.tickets[0].id, sizeof cust.tickets[0].id, "55");
    cust.tickets[0].status = TKT_ST_HOLD;
    cust.tickets[0].fresh = 1; /* per event: never stored */
    snprintf(cust.missed_group_id, sizeof cust.missed_group_id, "g9");
    cust.last_call.total_s = 7;
    json_t *j = tkt_codec_call_to_json(&call);
    ASSERT_EQ_INT(tkt_codec_call_from_json(j, &call2), 0);
    json_decref(j);
    j = tkt_codec_customer_to_json(&cust);
    ASSERT_EQ_INT(tkt_codec_customer_from_json(j, &cust2), 0);
    json_decref(j);
    cust.tickets[0].fresh = 0;
    ASSERT_TRUE(memcmp(&call, &call2, sizeof call) == 0);
    ASSERT_TRUE(memcmp(&cust, &cust2, sizeof cust) == 0);
}

/* Issue 11 item 5: ticket-service's Redis lost the group (restart) while
 * the grouper kept it: the missed call still makes a ticket, never dropped
 * (the ticket's external id is the group's, so a replay finds it). */
static void test_issue11_group_add_for_an_unknown_group_opens_the_ticket(void)
{
    tkt_call_t call = {0};
    tkt_customer_t cust = customer();
    tkt_plan_t plan;
    snprintf(cust.contact_id, sizeof cust.contact_id, "501");
    const char *msg = "{\"op_id\":\"op-000004\",\"op\":\"group.add\",\"group_id\":\"g9\","
                      "\"customer_number\":\"+390612345678\",\"call_id\":\"c4\",\"count\":2,"
                      "\"assignee_crm_id\":\"900002\",\"occurred_at\":\"2026-11-21T10:05:00Z\"}";
    ASSERT_EQ_INT(decide(TKT_ACTIONS_MISSED, msg, &call, &cust, NULL, &plan), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_CREATE_TICKET);
    ASSERT_EQ_STR(plan.ops[0].external_id, "callbus-missed-g9-2");
    ASSERT_EQ_STR(plan.ops[0].assignee_id, "900002");
    ASSERT_TRUE(strstr(plan.ops[0].body, "Missed call 2") != NULL);
    ASSERT_EQ_STR(plan.customer.missed_group_id, "g9");
}

static const char *reached_msg =
    "{\"op_id\":\"op-000005\",\"op\":\"group.reached\",\"group_id\":\"g1\","
    "\"customer_number\":\"+390612345678\",\"call_id\":\"cb1\","
    "\"occurred_at\":\"2026-11-21T10:09:00Z\"}";

static tkt_customer_t grouped_customer(void)
{
    tkt_customer_t cust = customer();
    snprintf(cust.missed_group_id, sizeof cust.missed_group_id, "g1");
    snprintf(cust.missed_ticket_id, sizeof cust.missed_ticket_id, "77");
    return cust;
}

static tkt_call_t ended_call(const char *ticket_id, int outbound)
{
    tkt_call_t call = {0};
    snprintf(call.call_id, sizeof call.call_id, "cb1");
    snprintf(call.ticket_id, sizeof call.ticket_id, "%s", ticket_id);
    call.answered = call.ended = 1;
    call.outbound = outbound;
    return call;
}

/* R-M3 (a)/(d): the conversation went to another ticket: closed. */
static void test_R_M3_a_d_reached_on_another_ticket_closes(void)
{
    tkt_customer_t cust = grouped_customer();
    tkt_plan_t plan;
    for (int outbound = 0; outbound < 2; outbound++) {
        tkt_call_t call = ended_call("88", outbound);
        ASSERT_EQ_INT(decide(TKT_ACTIONS_MISSED, reached_msg, &call, &cust, NULL, &plan), 0);
        ASSERT_EQ_INT(plan.n_ops, 1);
        ASSERT_EQ_STR(plan.ops[0].ticket_id, "77");
        ASSERT_EQ_INT(plan.ops[0].status, TKT_ST_CLOSED);
        ASSERT_EQ_INT(plan.ops[0].n_tags, 0);
        ASSERT_EQ_STR(plan.customer.missed_group_id, "");
        ASSERT_EQ_INT(plan.figures.closed, 1);
    }
}

/* R-M3 (b)/(e): attached to the missed-call ticket: pending; (c): an
 * outbound call from it is marked as called back. */
static void test_R_M3_b_c_e_reached_on_the_missed_ticket_is_pending(void)
{
    tkt_customer_t cust = grouped_customer();
    tkt_plan_t plan;
    tkt_call_t in = ended_call("77", 0), out = ended_call("77", 1);
    ASSERT_EQ_INT(decide(TKT_ACTIONS_MISSED, reached_msg, &in, &cust, NULL, &plan), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_INT(plan.ops[0].status, TKT_ST_PENDING);
    ASSERT_EQ_INT(plan.ops[0].n_tags, 0);
    ASSERT_EQ_INT(decide(TKT_ACTIONS_MISSED, reached_msg, &out, &cust, NULL, &plan), 0);
    ASSERT_EQ_INT(plan.ops[0].status, TKT_ST_PENDING);
    ASSERT_EQ_STR(plan.ops[0].tags[0], "callbus_called_back");
    ASSERT_EQ_STR(plan.customer.missed_group_id, "");
}

/* The op may arrive before ticket-service has seen the call end (two
 * topics): it is remembered, and the call's end applies it (tkt_rules). */
static void test_R_M3_reached_before_the_call_ended_waits_for_its_end(void)
{
    tkt_customer_t cust = grouped_customer();
    tkt_plan_t plan;
    tkt_call_t call = ended_call("", 0);
    call.ended = 0;
    ASSERT_EQ_INT(decide(TKT_ACTIONS_MISSED, reached_msg, &call, &cust, NULL, &plan), 0);
    ASSERT_EQ_INT(plan.n_ops, 0);
    ASSERT_EQ_STR(plan.customer.missed_reached_call_id, "cb1");
    ASSERT_EQ_STR(plan.customer.missed_group_id, "g1");
}

int main(void)
{
    cmn_log_init("test", CMN_LOG_ERROR);
    tkt_policy_defaults(&pol);
    static const test_case_t cases[] = {
        TEST_CASE(test_R_M1_group_open_needs_the_contact_first),
        TEST_CASE(test_R_M2_group_add_comments_with_count),
        TEST_CASE(test_R_M3_status_closed_ends_the_group),
        TEST_CASE(test_issue11_group_add_for_an_unknown_group_opens_the_ticket),
        TEST_CASE(test_R_M3_a_d_reached_on_another_ticket_closes),
        TEST_CASE(test_R_M3_b_c_e_reached_on_the_missed_ticket_is_pending),
        TEST_CASE(test_R_M3_reached_before_the_call_ended_waits_for_its_end),
        TEST_CASE(test_R_C4_contact_picked_moves_the_requester),
        TEST_CASE(test_R_C4_tie_broken_like_the_rules),
        TEST_CASE(test_R_P6_retarget_moves_the_call),
        TEST_CASE(test_issue19_contact_picked_outside_the_candidates_refused),
        TEST_CASE(test_issue19_action_on_an_unknown_or_other_call_refused),
        TEST_CASE(test_issue19_retarget_to_a_foreign_or_closed_ticket_refused),
        TEST_CASE(test_issue19_group_open_on_an_ivr_call_adopts_its_ticket),
        TEST_CASE(test_bad_messages_rejected),
        TEST_CASE(test_codec_roundtrip)};
    return test_run_all("ticket_actions", cases, sizeof cases / sizeof cases[0]);
}
