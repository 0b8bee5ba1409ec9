/* Agent actions (R-C4, R-P6) and missed-call operations (R-M1..R-M3) as
 * messages: decoded into the rules' decision (tkt_decide_action, whose
 * cases are in test_rules_actions.c) with the message's time as the clock,
 * refusals counted by reason; and the Redis codec of the state they change. */
#include "cmn_log.h"
#include "cmn_metrics.h"
#include "cmn_time.h"
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

/* The message's fields reach the decision: a group.open decoded from JSON
 * makes the group's ticket (external id, assignee, R-M2's first line) and
 * remembers it at the message's occurred_at, the decision's clock. */
static void test_R_M1_group_open_message_decided_at_its_time(void)
{
    tkt_call_t call = {0};
    tkt_customer_t cust = customer();
    tkt_plan_t plan;
    int64_t at;
    snprintf(cust.contact_id, sizeof cust.contact_id, "501");
    const char *msg =
        "{\"schema_version\":1,\"op_id\":\"op-000001\",\"op\":\"group.open\","
        "\"group_id\":\"g1\",\"customer_number\":\"+390612345678\",\"call_id\":\"c1\","
        "\"count\":1,\"assignee_crm_id\":\"900001\",\"occurred_at\":\"2026-11-21T10:00:00Z\"}";
    ASSERT_EQ_INT(cmn_time_parse_rfc3339("2026-11-21T10:00:00Z", &at), 0);
    ASSERT_EQ_INT(decide(TKT_ACTIONS_MISSED, msg, &call, &cust, NULL, &plan), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_STR(plan.ops[0].external_id, "callbus-missed-g1");
    ASSERT_EQ_STR(plan.ops[0].assignee_id, "900001");
    ASSERT_EQ_STR(plan.ops[0].requester_id, "501");
    ASSERT_EQ_STR(plan.ops[0].body, "Missed call 1 at 2026-11-21T10:00:00Z (call c1).");
    ASSERT_EQ_INT(plan.customer.tickets[0].created_at_ms, at);
}

/* issue 24 item 3 under CALLBUS_TICKET_UNANSWERED=grouper: a group.open of
 * a caller no contact has carries the provider's name of them, and the
 * contact made for the group's ticket (R-C2) is named with it. */
static void test_R_C2_group_open_names_the_new_contact(void)
{
    tkt_call_t call = {0};
    tkt_customer_t cust = customer();
    tkt_facts_t facts = {.contacts_known = 1};
    tkt_plan_t plan;
    const char *msg =
        "{\"schema_version\":1,\"op_id\":\"op-000002\",\"op\":\"group.open\","
        "\"group_id\":\"g2\",\"customer_number\":\"+390612345678\",\"call_id\":\"c2\","
        "\"count\":1,\"occurred_at\":\"2026-11-21T10:00:00Z\","
        "\"customer_name\":\"Mehmet Demir\"}";
    ASSERT_EQ_INT(decide(TKT_ACTIONS_MISSED, msg, &call, &cust, &facts, &plan), 0);
    ASSERT_EQ_INT(plan.n_ops, 2);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_CREATE_CONTACT);
    ASSERT_EQ_STR(plan.ops[0].name, "Mehmet Demir");
    ASSERT_EQ_STR(plan.ops[1].requester_id, TKT_REF_NEW_CONTACT);
}

/* Issue 19 item 6: a refused action is counted by reason
 * (ticket_agent_actions_refused_total); the reasons are the rules'. */
static void test_issue19_refusals_counted_by_reason(void)
{
    tkt_call_t call = {0};
    tkt_customer_t cust = customer();
    tkt_facts_t facts = candidates();
    tkt_plan_t plan;
    const char *new_ticket =
        "{\"action_id\":\"act-000012\",\"action\":\"call.new_ticket\",\"call_id\":\"c1\","
        "\"customer_number\":\"+390612345678\",\"agent_crm_id\":\"900001\","
        "\"occurred_at\":\"2026-11-21T10:00:00Z\"}";
    const char *picked =
        "{\"action_id\":\"act-000011\",\"action\":\"contact.picked\",\"call_id\":\"c1\","
        "\"customer_number\":\"+390612345678\",\"agent_crm_id\":\"900001\",\"contact_id\":\"999\","
        "\"occurred_at\":\"2026-11-21T10:00:00Z\"}";
    double before = refused("unknown_call");
    ASSERT_EQ_INT(decide(TKT_ACTIONS_AGENT, new_ticket, &call, &cust, &facts, &plan), -1);
    ASSERT_TRUE(refused("unknown_call") == before + 1);
    known_call(&call, &cust);
    before = refused("not_a_candidate");
    ASSERT_EQ_INT(decide(TKT_ACTIONS_AGENT, picked, &call, &cust, &facts, &plan), -1);
    ASSERT_TRUE(plan.note && strstr(plan.note, "candidate") != NULL);
    ASSERT_TRUE(refused("not_a_candidate") == before + 1);
    before = refused("unknown_call");
    ASSERT_EQ_INT(decide(TKT_ACTIONS_AGENT, new_ticket, &call, &cust, &facts, &plan), 0);
    ASSERT_TRUE(refused("unknown_call") == before); /* decided: nothing counted */
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

int main(void)
{
    cmn_log_init("test", CMN_LOG_ERROR);
    tkt_policy_defaults(&pol);
    static const test_case_t cases[] = {TEST_CASE(test_R_M1_group_open_message_decided_at_its_time),
                                        TEST_CASE(test_R_C2_group_open_names_the_new_contact),
                                        TEST_CASE(test_issue19_refusals_counted_by_reason),
                                        TEST_CASE(test_bad_messages_rejected),
                                        TEST_CASE(test_codec_roundtrip)};
    return test_run_all("ticket_actions", cases, sizeof cases / sizeof cases[0]);
}
