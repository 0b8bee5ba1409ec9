/* pop_rules: one case per pop rule (R-P2, R-P3, R-P4), no I/O. */
#include "pop_rules.h"
#include "test.h"

#include <string.h>

static pop_call_view_t call(void)
{
    return (pop_call_view_t){.call_id = "c1",
                             .number = "+393331234567",
                             .queue = "billing",
                             .agent = "",
                             .ticket_id = "",
                             .ticket_url = "",
                             .subject = "",
                             .status = "",
                             .contact_id = "",
                             .contact_url = "",
                             .contact_name = "",
                             .contact_email = "",
                             .contact_company = ""};
}

/* R-P2: ringing at an agent: the incoming-call notification, known caller or not. */
static void test_ringing_notifies_the_ringing_agent(void)
{
    pop_call_view_t c = call();
    pop_decision_t d = pop_rules_decide(POP_IN_OFFERED, "900001", &c);
    ASSERT_EQ_INT(d.kind, POP_INCOMING);
    ASSERT_EQ_STR(d.agent, "900001");
    json_t *m = pop_rules_message(&d, &c, "", 0);
    ASSERT_TRUE(json_is_false(json_object_get(json_object_get(m, "caller"), "known")));
    ASSERT_EQ_STR(json_string_value(json_object_get(json_object_get(m, "caller"), "number")),
                  "+393331234567");
    json_decref(m);
    d = pop_rules_decide(POP_IN_OFFERED, "", &c); /* unmapped and not logged in: nobody */
    ASSERT_EQ_INT(d.kind, POP_NONE);
}

/* R-P3: ticket, else profile, else the new-case form. */
static void test_answer_pops_ticket_else_profile_else_new_case(void)
{
    pop_call_view_t c = call();
    pop_decision_t d = pop_rules_decide(POP_IN_ANSWERED, "900001", &c);
    ASSERT_EQ_INT(d.kind, POP_NEW_CASE);
    json_t *m = pop_rules_message(&d, &c, "https://crm/new?p={phone}&x=1", 0);
    ASSERT_EQ_STR(json_string_value(json_object_get(m, "crm_url")),
                  "https://crm/new?p=%2B393331234567&x=1");
    json_decref(m);
    c.contact_id = "77";
    c.contact_url = "https://crm/users/77";
    d = pop_rules_decide(POP_IN_ANSWERED, "900001", &c);
    ASSERT_EQ_INT(d.kind, POP_PROFILE);
    c.ticket_id = "4711";
    c.ticket_url = "https://crm/tickets/4711";
    c.subject = "Call from +393331234567";
    c.status = "open";
    d = pop_rules_decide(POP_IN_ANSWERED, "900001", &c);
    ASSERT_EQ_INT(d.kind, POP_TICKET);
    m = pop_rules_message(&d, &c, "", 0);
    ASSERT_EQ_STR(json_string_value(json_object_get(m, "crm_url")), "https://crm/tickets/4711");
    ASSERT_EQ_STR(json_string_value(json_object_get(json_object_get(m, "ticket"), "status")),
                  "open");
    ASSERT_EQ_STR(json_string_value(json_object_get(m, "queue")), "billing");
    json_decref(m);
}

/* R-P3: the ticket bound after the answer pops to whoever has the call;
 * before any answer it waits for it. */
static void test_ticket_bound_after_answer(void)
{
    pop_call_view_t c = call();
    c.ticket_id = "4711";
    c.ticket_url = "https://crm/tickets/4711";
    ASSERT_EQ_INT(pop_rules_decide(POP_IN_TICKET, "", &c).kind, POP_NONE);
    c.answered = 1;
    c.agent = "900002";
    pop_decision_t d = pop_rules_decide(POP_IN_TICKET, "", &c);
    ASSERT_EQ_INT(d.kind, POP_TICKET);
    ASSERT_EQ_STR(d.agent, "900002");
}

/* R-P4: a transfer pops to the receiving agent. */
static void test_transfer_pops_the_receiving_agent(void)
{
    pop_call_view_t c = call();
    c.answered = 1;
    c.agent = "900001";
    pop_decision_t d = pop_rules_decide(POP_IN_TRANSFERRED, "900002", &c);
    ASSERT_EQ_STR(d.agent, "900002");
    ASSERT_EQ_INT(d.kind, POP_NEW_CASE);
}

/* The answer and the ticket racing on two replicas make the same pop id. */
static void test_same_ticket_pop_same_id(void)
{
    char a[128], b[128];
    pop_call_view_t c = call();
    c.ticket_id = "4711";
    c.ticket_url = "https://crm/tickets/4711";
    c.answered = 1;
    c.agent = "900001";
    pop_decision_t from_answer = pop_rules_decide(POP_IN_ANSWERED, "900001", &c);
    pop_decision_t from_ticket = pop_rules_decide(POP_IN_TICKET, "", &c);
    pop_rules_pop_id(&from_answer, &c, a, sizeof a);
    pop_rules_pop_id(&from_ticket, &c, b, sizeof b);
    ASSERT_EQ_STR(a, b);
}

/* R-P4: A -> B -> A: the call coming back is a new hand-over, so A's
 * second pop has its own id (the first one's marker must not swallow it);
 * the same hand-over (a replay, or the ticket bound during it) keeps one. */
static void test_transfer_back_pops_again(void)
{
    char first[256], back[256], bound[256];
    pop_call_view_t c = call();
    c.ticket_id = "4711";
    c.ticket_url = "https://crm/tickets/4711";
    c.answered = 1;
    c.agent = "900001";
    c.leg = "generic-answered-by-a";
    pop_decision_t d = pop_rules_decide(POP_IN_ANSWERED, "900001", &c);
    pop_rules_pop_id(&d, &c, first, sizeof first);
    c.leg = "generic-back-to-a"; /* to B, and back to A */
    d = pop_rules_decide(POP_IN_TRANSFERRED, "900001", &c);
    ASSERT_EQ_INT(d.kind, POP_TICKET);
    ASSERT_EQ_STR(d.agent, "900001");
    pop_rules_pop_id(&d, &c, back, sizeof back);
    ASSERT_TRUE(strcmp(first, back) != 0);
    pop_decision_t t = pop_rules_decide(POP_IN_TICKET, "", &c);
    pop_rules_pop_id(&t, &c, bound, sizeof bound);
    ASSERT_EQ_STR(bound, back);
}

/* R-P2: the contact learnt while ringing is a notice of its own (the
 * page replaces the unknown-caller one); ringing at the agent who already
 * has the call (a late look-up after the answer) pops nothing. */
static void test_ringing_with_the_contact_learnt_later(void)
{
    char unknown[256], known[256];
    pop_call_view_t c = call();
    pop_decision_t d = pop_rules_decide(POP_IN_OFFERED, "900001", &c);
    pop_rules_pop_id(&d, &c, unknown, sizeof unknown);
    c.contact_id = "91";
    c.contact_name = "Grace";
    d = pop_rules_decide(POP_IN_OFFERED, "900001", &c);
    ASSERT_EQ_INT(d.kind, POP_INCOMING);
    pop_rules_pop_id(&d, &c, known, sizeof known);
    ASSERT_TRUE(strcmp(unknown, known) != 0);
    c.answered = 1;
    c.agent = "900001";
    ASSERT_EQ_INT(pop_rules_decide(POP_IN_OFFERED, "900001", &c).kind, POP_NONE);
    /* offered to another agent meanwhile (a transfer): that one rings */
    ASSERT_EQ_INT(pop_rules_decide(POP_IN_OFFERED, "900002", &c).kind, POP_INCOMING);
    c.ended = 1; /* the caller hung up before the look-up answered */
    ASSERT_EQ_INT(pop_rules_decide(POP_IN_OFFERED, "900002", &c).kind, POP_NONE);
}

static void test_ended_pops_nothing(void)
{
    pop_call_view_t c = call();
    ASSERT_EQ_INT(pop_rules_decide(POP_IN_ENDED, "900001", &c).kind, POP_NONE);
}

/* R-P6 (issue 24 item 2): the ticket pop offers the customer's tickets
 * ticket-service listed; the answer to an agent's action (here a refusal)
 * is a pop of its own (another id), and "[]"/"null" (ticket-service's
 * later event without them) show nothing. */
static void test_R_P6_ticket_pop_offers_tickets_and_shows_a_refusal(void)
{
    pop_call_view_t c = call();
    char plain[512], refused[512];
    c.agent = "900001";
    c.answered = 1;
    c.ticket_id = "4711";
    c.ticket_url = "https://crm/tickets/4711";
    c.tickets =
        "[{\"id\":\"4700\",\"subject\":\"Call from +393331234567\",\"status\":\"pending\"}]";
    c.refusal = "null";
    c.action = "-";
    pop_decision_t d = pop_rules_decide(POP_IN_TICKET, "", &c);
    ASSERT_EQ_INT(d.kind, POP_TICKET);
    json_t *m = pop_rules_message(&d, &c, "", 0);
    json_t *t = json_object_get(m, "tickets");
    ASSERT_EQ_INT((int)json_array_size(t), 1);
    ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(t, 0), "id")), "4700");
    ASSERT_TRUE(json_object_get(m, "refusal") == NULL);
    json_decref(m);
    pop_rules_pop_id(&d, &c, plain, sizeof plain);
    c.refusal = "{\"action_id\":\"act-1\",\"reason\":\"not_the_customers_ticket\"}";
    c.action = "act-1";
    m = pop_rules_message(&d, &c, "", 0);
    ASSERT_EQ_STR(json_string_value(json_object_get(json_object_get(m, "refusal"), "reason")),
                  "not_the_customers_ticket");
    json_decref(m);
    pop_rules_pop_id(&d, &c, refused, sizeof refused);
    ASSERT_TRUE(strcmp(plain, refused) != 0);
    ASSERT_TRUE(strstr(refused, "act-1") != NULL);
    c.tickets = "[]";
    m = pop_rules_message(&d, &c, "", 0);
    ASSERT_TRUE(json_object_get(m, "tickets") == NULL);
    json_decref(m);
}

TEST_MAIN("pop_rules", TEST_CASE(test_ringing_notifies_the_ringing_agent),
          TEST_CASE(test_answer_pops_ticket_else_profile_else_new_case),
          TEST_CASE(test_ticket_bound_after_answer),
          TEST_CASE(test_transfer_pops_the_receiving_agent),
          TEST_CASE(test_same_ticket_pop_same_id), TEST_CASE(test_transfer_back_pops_again),
          TEST_CASE(test_ringing_with_the_contact_learnt_later), TEST_CASE(test_ended_pops_nothing),
          TEST_CASE(test_R_P6_ticket_pop_offers_tickets_and_shows_a_refusal))
