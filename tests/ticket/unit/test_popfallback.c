/* tkt_popfallback_take (agent-actions): pop-service's pop.acknowledged
 * (issue 25 item 3, for the statistics) is taken and done at once, with
 * nothing shown and no CRM touched; other actions are left to tkt_actions.
 * No I/O: the CRM is never reached on these paths. */
#include "test.h"
#include "tkt_popfallback.h"

#include <string.h>

static int done_calls;

static void on_done(void *ctx)
{
    (void)ctx;
    done_calls++;
}

static void test_acknowledged_pop_is_taken_and_done(void)
{
    const char *msg = "{\"schema_version\":1,\"action_id\":\"ack-0123456789abcdef\","
                      "\"action\":\"pop.acknowledged\",\"call_id\":\"c1\","
                      "\"agent_crm_id\":\"900001\",\"pop_id\":\"c1:ticket:4711:900001\","
                      "\"pop_kind\":\"ticket\",\"occurred_at\":\"2026-12-01T09:00:00.000Z\"}";
    char err[160] = "";
    done_calls = 0;
    ASSERT_EQ_INT(tkt_popfallback_take(NULL, 1, msg, strlen(msg), on_done, NULL, err, sizeof err),
                  1);
    ASSERT_EQ_INT(done_calls, 1);
}

static void test_other_actions_are_left_alone(void)
{
    const char *msg = "{\"schema_version\":1,\"action_id\":\"pick-0123456789\","
                      "\"action\":\"contact.picked\",\"call_id\":\"c1\","
                      "\"agent_crm_id\":\"900001\",\"contact_id\":\"77\","
                      "\"occurred_at\":\"2026-12-01T09:00:00.000Z\"}";
    char err[160] = "";
    done_calls = 0;
    ASSERT_EQ_INT(tkt_popfallback_take(NULL, 1, msg, strlen(msg), on_done, NULL, err, sizeof err),
                  0);
    ASSERT_EQ_INT(done_calls, 0);
}

TEST_MAIN("ticket popfallback", TEST_CASE(test_acknowledged_pop_is_taken_and_done),
          TEST_CASE(test_other_actions_are_left_alone))
