/* The reconciler's Webex Contact Center mapping (issue 27 items 1-2): a
 * Search API task becomes the flow's "ended" event, with the webhook's own
 * event id (tests/ingest/unit/fixtures/webex_ended*.json, the same
 * contacts), marked source = reconciliation. */
#include "test.h"

#include "cmn_phone.h"
#include "ing_webex.h"
#include "rec_webex.h"

static ing_ctx_t ctx_es(void)
{
    ing_ctx_t ctx = {.country = cmn_phone_country("ES"), .internal_max_digits = 5};
    ctx.received_at_ms = 1775119442000;
    return ctx;
}

static void same_as_webhook(const char *fixture, json_t *task)
{
    char path[1024];
    ing_events_t hook;
    rec_batch_t b;
    ing_error_t err = {{0}, {0}};
    ing_ctx_t ctx = ctx_es();
    snprintf(path, sizeof path, "%s/%s", FIXTURES_DIR, fixture);
    json_t *body = json_load_file(path, 0, NULL);
    rec_batch_init(&b);
    ASSERT_TRUE(body != NULL && task != NULL);
    ASSERT_EQ_INT(ing_webex_normalise(&ctx, body, &hook, &err), 0);
    json_decref(body);
    ASSERT_EQ_INT(rec_webex_task_events(&ctx, task, &b, &err), 0);
    json_decref(task);
    ASSERT_EQ_INT(b.n, 1);
    ASSERT_EQ_STR(b.ev[0].event_id, hook.ev[0].event_id);
    ASSERT_EQ_INT(b.ev[0].type, hook.ev[0].type);
    ASSERT_EQ_INT(b.ev[0].outcome, hook.ev[0].outcome);
    ASSERT_EQ_STR(b.ev[0].customer_number, hook.ev[0].customer_number);
    ASSERT_EQ_INT(b.ev[0].talk_s, hook.ev[0].talk_s);
    ASSERT_EQ_STR(b.ev[0].source, CMN_EVENT_SOURCE_RECONCILIATION);
    ing_events_clear(&hook);
    rec_batch_clear(&b);
}

/* 2026-04-02T08:44:02Z */
#define ENDED ((json_int_t)1775119442000)

/* R-T5: connected to the agent: answered, that agent. */
static void test_answered_task_has_the_webhooks_id(void)
{
    same_as_webhook(
        "webex_ended.json",
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:I, s:I, s:{s:s}, s:{s:s, s:s}, s:I, s:I, s:I,"
                  " s:I}",
                  "id", "8d7c1f2e-4b3a-4e59-9a61-0c2f5b7d9e10", "channelType", "telephony",
                  "direction", "inbound", "origin", "+34 612 34 56 78", "destination",
                  "+34911234567", "isActive", 0, "createdTime", ENDED - 731000, "endedTime", ENDED,
                  "lastQueue", "name", "Soporte_ES", "lastAgent", "id",
                  "7f6e5d4c-3b2a-4190-8a7b-6c5d4e3f2a1b", "name", "Javier Moreno", "queueDuration",
                  (json_int_t)41000, "connectedDuration", (json_int_t)642000, "holdDuration",
                  (json_int_t)35000, "totalDuration", (json_int_t)731000));
}

static void test_active_task_makes_nothing(void)
{
    rec_batch_t b;
    ing_error_t err = {{0}, {0}};
    ing_ctx_t ctx = ctx_es();
    json_t *task = json_pack("{s:s, s:b, s:I}", "id", "x-1", "isActive", 1, "endedTime", ENDED);
    rec_batch_init(&b);
    ASSERT_EQ_INT(rec_webex_task_over(task), 0);
    ASSERT_EQ_INT(rec_webex_task_events(&ctx, task, &b, &err), 0);
    ASSERT_EQ_INT(b.n, 0);
    json_decref(task);
}

/* R-T11: never reached an agent: abandoned, nobody. */
static void test_task_never_offered_is_abandoned_R_T11(void)
{
    rec_batch_t b;
    ing_error_t err = {{0}, {0}};
    ing_ctx_t ctx = ctx_es();
    json_t *task = json_pack("{s:s, s:s, s:s, s:b, s:I, s:I}", "id", "x-2", "direction", "inbound",
                             "origin", "+34612345678", "isActive", 0, "endedTime", ENDED,
                             "queueDuration", (json_int_t)20000);
    rec_batch_init(&b);
    ASSERT_EQ_INT(rec_webex_task_events(&ctx, task, &b, &err), 0);
    json_decref(task);
    ASSERT_EQ_INT(b.n, 1);
    ASSERT_EQ_INT(b.ev[0].outcome, CMN_OUT_ABANDONED);
    ASSERT_TRUE(b.ev[0].agent.provider_id == NULL);
    rec_batch_clear(&b);
}

TEST_MAIN("reconcile_webex", TEST_CASE(test_answered_task_has_the_webhooks_id),
          TEST_CASE(test_active_task_makes_nothing),
          TEST_CASE(test_task_never_offered_is_abandoned_R_T11))
