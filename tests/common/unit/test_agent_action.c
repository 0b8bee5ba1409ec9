/* cmn_agent_action: the agent-actions codec (schemas/agent-action.schema.json),
 * its pop.unacknowledged (issue 22 item 4, R-P5): encoded with its pop and
 * a ticket or a profile to show; without either, or with a bad pop id, it
 * is refused naming the member. */
#include "cmn_agent_action.h"
#include "test.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static cmn_agent_action_t unacked(void)
{
    return (cmn_agent_action_t){.action_id = "unack-0123456789",
                                .action = "pop.unacknowledged",
                                .call_id = "c1",
                                .agent_crm_id = "900001",
                                .ticket_id = "4711",
                                .pop_id = "c1:ticket:4711:900001",
                                .pop_kind = "ticket",
                                .occurred_at_ms = 1767225600000};
}

static void test_unacknowledged_pop_is_encoded(void)
{
    char err[160], field[64];
    cmn_agent_action_t a = unacked();
    char *text = cmn_agent_action_encode(&a, err, sizeof err, field, sizeof field);
    ASSERT_TRUE(text != NULL);
    json_t *o = json_loads(text, 0, NULL);
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "action")), "pop.unacknowledged");
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "pop_id")), "c1:ticket:4711:900001");
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "pop_kind")), "ticket");
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "ticket_id")), "4711");
    ASSERT_TRUE(json_object_get(o, "contact_id") == NULL);
    ASSERT_EQ_STR(cmn_agent_action_key(&a), "c1"); /* no number: keyed by the call */
    json_decref(o);
    free(text);
    a.ticket_id = NULL; /* a profile pop: its contact */
    a.contact_id = "77";
    a.pop_kind = "profile";
    ASSERT_EQ_INT(cmn_agent_action_check(&a, err, sizeof err, field, sizeof field), 0);
}

static void refused(cmn_agent_action_t a, const char *want_field)
{
    char err[160], field[64] = "";
    ASSERT_EQ_INT(cmn_agent_action_check(&a, err, sizeof err, field, sizeof field), -1);
    ASSERT_EQ_STR(field, want_field);
}

static void test_unacknowledged_pop_needs_its_pop_and_something_to_show(void)
{
    cmn_agent_action_t a = unacked();
    a.ticket_id = NULL; /* neither ticket nor contact */
    refused(a, "ticket_id");
    a = unacked();
    a.pop_id = NULL;
    refused(a, "pop_id");
    a.pop_id = "has a space";
    refused(a, "pop_id");
    a = unacked();
    a.pop_kind = "";
    refused(a, "pop_kind");
    a = unacked();
    a.contact_id = "not an id";
    refused(a, "contact_id");
}

/* pop.acknowledged (issue 25 item 3, R-S1 "pops acknowledged"): the pop
 * an agent's page acknowledged, for the stats service; its pop and kind,
 * nothing to show. */
static void test_acknowledged_pop_is_encoded(void)
{
    char err[160], field[64];
    cmn_agent_action_t a = unacked();
    a.action = "pop.acknowledged";
    a.action_id = "ack-0123456789abcdef";
    a.ticket_id = NULL;
    a.pop_kind = "incoming";
    char *text = cmn_agent_action_encode(&a, err, sizeof err, field, sizeof field);
    ASSERT_TRUE(text != NULL);
    json_t *o = json_loads(text, 0, NULL);
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "action")), "pop.acknowledged");
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "pop_id")), "c1:ticket:4711:900001");
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "pop_kind")), "incoming");
    ASSERT_TRUE(json_object_get(o, "ticket_id") == NULL);
    json_decref(o);
    free(text);
    a.pop_id = NULL;
    refused(a, "pop_id");
}

TEST_MAIN("cmn_agent_action", TEST_CASE(test_unacknowledged_pop_is_encoded),
          TEST_CASE(test_unacknowledged_pop_needs_its_pop_and_something_to_show),
          TEST_CASE(test_acknowledged_pop_is_encoded))
