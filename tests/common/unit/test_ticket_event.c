/* cmn_ticket_event: the ticket-events codec (schemas/ticket-event.schema.json):
 * a round trip keeps every member, R-C4's candidate contacts included; what
 * the schema refuses is refused, naming the member. */
#include "cmn_ticket_event.h"
#include "test.h"

static const char full[] =
    "{\"schema_version\":1,\"event_id\":\"tkt-generic-1\",\"cause_event_id\":\"generic-1\","
    "\"call_id\":\"c1\",\"customer_number\":\"+393331234567\",\"ticket_id\":\"4711\","
    "\"ticket_url\":\"https://acme.zendesk.com/agent/tickets/4711\",\"ticket_kind\":\"call\","
    "\"subject\":\"Call from +393331234567\",\"status\":\"open\",\"assignee_id\":\"900001\","
    "\"created\":true,\"contact\":{\"id\":\"77\",\"url\":\"https://acme.zendesk.com/agent/users/"
    "77\",\"name\":\"Ada\"},\"contacts\":[{\"id\":\"77\",\"name\":\"Ada\"},{\"id\":\"78\","
    "\"name\":\"Ada Senior\",\"email\":\"ada@example.com\"}],\"occurred_at\":"
    "\"2026-03-12T10:15:42.000Z\"}";

static void test_round_trip_with_candidates(void)
{
    cmn_ticket_event_t te;
    char err[160], field[64];
    ASSERT_EQ_INT(
        cmn_ticket_event_decode(full, strlen(full), &te, err, sizeof err, field, sizeof field), 0);
    ASSERT_EQ_STR(te.subject, "Call from +393331234567");
    ASSERT_EQ_STR(te.contact.name, "Ada");
    ASSERT_EQ_INT(te.n_candidates, 2);
    ASSERT_EQ_STR(te.candidates[1].id, "78");
    ASSERT_EQ_STR(te.candidates[1].email, "ada@example.com");
    json_t *back = cmn_ticket_event_to_json(&te);
    json_t *orig = json_loads(full, 0, NULL);
    ASSERT_TRUE(back && orig && json_equal(back, orig));
    json_decref(back);
    json_decref(orig);
    cmn_ticket_event_clear(&te);
    ASSERT_EQ_INT(te.n_candidates, 0);
}

static void rejects(const char *patch_from, const char *patch_to, const char *want_field)
{
    char text[2048], err[160], field[64];
    const char *at = strstr(full, patch_from);
    snprintf(text, sizeof text, "%.*s%s%s", (int)(at - full), full, patch_to,
             at + strlen(patch_from));
    cmn_ticket_event_t te;
    ASSERT_EQ_INT(
        cmn_ticket_event_decode(text, strlen(text), &te, err, sizeof err, field, sizeof field), -1);
    ASSERT_EQ_STR(field, want_field);
}

static void test_bad_candidates_are_refused(void)
{
    rejects("\"contacts\":[", "\"contacts\":[{\"name\":\"no id\"},", "contacts");
    rejects("\"contacts\":[", "\"contacts\":[\"77\",", "contacts");
    rejects("\"contacts\":[", "\"contacts\":[{\"id\":\"1\",\"phone\":\"+1\"},", "contacts");
    rejects("\"contacts\":[{\"id\":\"77\",\"name\":\"Ada\"},", "\"contacts\":[],\"x\":[",
            "contacts");
    rejects("\"status\":\"open\"", "\"status\":\"reopened\"", "status");
}

/* R-P6 (issue 24 item 2): the customer's tickets the call may move to,
 * and the refusal of an agent's action, survive the round trip. */
static const char with_choices[] =
    "{\"schema_version\":1,\"event_id\":\"tkt-act-1\",\"call_id\":\"c1\",\"ticket_id\":\"4711\","
    "\"ticket_url\":\"https://acme.zendesk.com/agent/tickets/4711\",\"status\":\"open\","
    "\"action_id\":\"a-1\",\"tickets\":[{\"id\":\"4700\",\"url\":\"https://acme.zendesk.com/agent/"
    "tickets/4700\","
    "\"subject\":\"Call from +393331234567\",\"status\":\"pending\",\"kind\":\"call\","
    "\"created_at\":\"2026-03-11T09:00:00.000Z\"},{\"id\":\"4690\",\"status\":\"open\"}],"
    "\"refusal\":{\"action_id\":\"a-1\",\"reason\":\"not_the_customers_ticket\"},"
    "\"occurred_at\":\"2026-03-12T10:15:42.000Z\"}";

static void test_R_P6_round_trip_with_ticket_choices_and_refusal(void)
{
    cmn_ticket_event_t te;
    char err[160], field[64];
    ASSERT_EQ_INT(cmn_ticket_event_decode(with_choices, strlen(with_choices), &te, err, sizeof err,
                                          field, sizeof field),
                  0);
    ASSERT_EQ_INT(te.n_tickets, 2);
    ASSERT_EQ_STR(te.tickets[0].subject, "Call from +393331234567");
    ASSERT_EQ_STR(te.tickets[0].status, "pending");
    ASSERT_EQ_STR(te.tickets[1].id, "4690");
    ASSERT_TRUE(te.tickets[1].subject == NULL);
    ASSERT_EQ_STR(te.refused_reason, "not_the_customers_ticket");
    ASSERT_EQ_STR(te.refused_action_id, "a-1");
    ASSERT_EQ_STR(te.action_id, "a-1");
    json_t *back = cmn_ticket_event_to_json(&te);
    json_t *orig = json_loads(with_choices, 0, NULL);
    ASSERT_TRUE(back && orig && json_equal(back, orig));
    json_decref(back);
    json_decref(orig);
    cmn_ticket_event_clear(&te);
    ASSERT_EQ_INT(te.n_tickets, 0);
    ASSERT_TRUE(te.refused_reason == NULL);
}

static void test_R_P6_bad_ticket_choices_or_refusal_are_refused(void)
{
    rejects("\"contacts\":[", "\"tickets\":[],\"contacts\":[", "tickets");
    rejects("\"contacts\":[", "\"tickets\":[{\"id\":\"1\"}],\"contacts\":[", "tickets");
    rejects("\"contacts\":[", "\"tickets\":[{\"id\":\"1\",\"status\":\"gone\"}],\"contacts\":[",
            "tickets");
    rejects("\"contacts\":[", "\"refusal\":{\"reason\":\"x\"},\"contacts\":[", "refusal");
    rejects("\"contacts\":[", "\"refusal\":\"x\",\"contacts\":[", "refusal");
}

TEST_MAIN("cmn_ticket_event", TEST_CASE(test_round_trip_with_candidates),
          TEST_CASE(test_bad_candidates_are_refused),
          TEST_CASE(test_R_P6_round_trip_with_ticket_choices_and_refusal),
          TEST_CASE(test_R_P6_bad_ticket_choices_or_refusal_are_refused))
