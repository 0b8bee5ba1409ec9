/* The reconciler's CallGear mapping (issue 27 items 1-2): a Data API
 * calls-report record (get.calls_report) becomes the "call finished"
 * notification's event, with the webhook's own event id (the /end
 * fixtures of tests/ingest/unit/fixtures, the same calls), marked source =
 * reconciliation; R-M1's last agent offered, R-T11's abandoned and a
 * voicemail (the report's last scenario operation) come out as from the
 * webhook. */
#include "test.h"

#include "cmn_phone.h"
#include "ing_callgear.h"
#include "rec_callgear.h"

static ing_ctx_t ctx_tr(void)
{
    ing_ctx_t ctx = {.country = cmn_phone_country("TR"), .internal_max_digits = 5};
    ctx.received_at_ms = 1773316800000;
    return ctx;
}

static int webhook(const char *name, ing_events_t *out)
{
    char path[1024];
    ing_error_t err;
    ing_ctx_t ctx = ctx_tr();
    snprintf(path, sizeof path, "%s/%s", FIXTURES_DIR, name);
    json_t *body = json_load_file(path, 0, NULL);
    if (!body)
        return -1;
    int rc = ing_callgear_normalise(&ctx, "end", body, out, &err);
    json_decref(body);
    return rc;
}

static void same_as_webhook(const char *fixture, json_t *rec, json_t *last_leg)
{
    ing_events_t hook;
    rec_batch_t b;
    ing_error_t err = {{0}, {0}};
    ing_ctx_t ctx = ctx_tr();
    rec_batch_init(&b);
    ASSERT_EQ_INT(webhook(fixture, &hook), 0);
    ASSERT_TRUE(rec != NULL);
    ASSERT_EQ_INT(rec_callgear_call_events(&ctx, rec, last_leg, &b, &err), 0);
    json_decref(rec);
    json_decref(last_leg);
    ASSERT_EQ_INT(b.n, 1);
    ASSERT_EQ_STR(b.ev[0].event_id, hook.ev[0].event_id);
    ASSERT_EQ_INT(b.ev[0].type, hook.ev[0].type);
    ASSERT_EQ_INT(b.ev[0].outcome, hook.ev[0].outcome);
    ASSERT_EQ_STR(b.ev[0].call_id, hook.ev[0].call_id);
    ASSERT_EQ_STR(b.ev[0].customer_number, hook.ev[0].customer_number);
    ASSERT_EQ_STR(b.ev[0].source, CMN_EVENT_SOURCE_RECONCILIATION);
    ASSERT_TRUE((b.ev[0].agent.provider_id == NULL) == (hook.ev[0].agent.provider_id == NULL));
    if (b.ev[0].agent.provider_id)
        ASSERT_EQ_STR(b.ev[0].agent.provider_id, hook.ev[0].agent.provider_id);
    ASSERT_EQ_INT(b.ev[0].talk_s, hook.ev[0].talk_s);
    ing_events_clear(&hook);
    rec_batch_clear(&b);
}

/* R-T5: answered by the employee who answered last. */
static void test_answered_call_has_the_webhooks_id(void)
{
    same_as_webhook("callgear_end_answered.json",
                    json_pack("{s:I, s:s, s:s, s:b, s:s, s:s, s:I, s:i, s:i, s:i, s:s, s:[{s:s}],"
                              " s:I, s:s, s:[{s:I, s:s, s:b}]}",
                              "id", (json_int_t)3719283746, "start_time", "2026-03-12 10:15:20",
                              "finish_time", "2026-03-12 10:18:47", "is_lost", 0, "direction", "in",
                              "contact_phone_number", "+90 532 412 78 90", "virtual_phone_number",
                              (json_int_t)902129998877, "talk_duration", 184, "total_duration", 205,
                              "wait_duration", 18, "scenario_name", "Destek hattı - Türkçe", "tags",
                              "tag_name", "VIP", "last_answered_employee_id", (json_int_t)2207,
                              "last_answered_employee_full_name", "Ayşe Yılmaz", "employees",
                              "employee_id", (json_int_t)2207, "employee_full_name", "Ayşe Yılmaz",
                              "is_answered", 1),
                    json_integer(918273645));
}

/* R-M1: lost after ringing an employee: missed, that employee. */
static void test_missed_call_names_the_last_employee_offered_R_M1(void)
{
    same_as_webhook("callgear_end_missed.json",
                    json_pack("{s:I, s:s, s:b, s:s, s:s, s:i, s:n, s:[{s:I, s:s, s:b}]}", "id",
                              (json_int_t)3719290012, "finish_time", "2026-03-12 10:20:00",
                              "is_lost", 1, "direction", "in", "contact_phone_number",
                              "0532 555 12 34", "talk_duration", 0, "last_answered_employee_id",
                              "employees", "employee_id", (json_int_t)2211, "employee_full_name",
                              "Emre Kaya", "is_answered", 0),
                    json_integer(918280001));
}

/* R-T11: lost before any employee: abandoned, nobody. */
static void test_abandoned_call_has_the_webhooks_id(void)
{
    same_as_webhook("callgear_end_abandoned.json",
                    json_pack("{s:I, s:s, s:b, s:s, s:s, s:i, s:[]}", "id", (json_int_t)3719290555,
                              "finish_time", "2026-03-12 10:21:00", "is_lost", 1, "direction", "in",
                              "contact_phone_number", "+90 (216) 444 03 03", "talk_duration", 0,
                              "employees"),
                    NULL);
}

/* R-T11: the caller left a voicemail. The report has no
 * last_scenario_operation_name; its scenario_operations (in the order the
 * call went through them) end with the voicemail box, as the /end names it. */
static void test_voicemail_call_is_a_voicemail_not_abandoned_R_T11(void)
{
    same_as_webhook("callgear_end_voicemail.json",
                    json_pack("{s:I, s:s, s:b, s:s, s:s, s:i, s:i, s:n, s:[],"
                              " s:[{s:s, s:I}, {s:s, s:I}], s:[s]}",
                              "id", (json_int_t)3719291000, "finish_time", "2026-03-12 20:41:09",
                              "is_lost", 1, "direction", "in", "contact_phone_number",
                              "+90 532 700 11 22", "talk_duration", 0, "total_duration", 48,
                              "last_answered_employee_id", "employees", "scenario_operations",
                              "name", "Mesai saati kontrolü", "id", (json_int_t)41, "name",
                              "Sesli mesaj (mesai dışı)", "id", (json_int_t)42,
                              "voice_mail_records", "c2d7a1f0"),
                    json_integer(918281111));
}

/* A report without scenario_operations (or with an operation lacking its
 * name) still backfills the call, as abandoned: never refused for it. */
static void test_call_without_scenario_operations_is_still_backfilled(void)
{
    same_as_webhook("callgear_end_abandoned.json",
                    json_pack("{s:I, s:s, s:b, s:s, s:s, s:i, s:[], s:[{s:I}]}", "id",
                              (json_int_t)3719290555, "finish_time", "2026-03-12 10:21:00",
                              "is_lost", 1, "direction", "in", "contact_phone_number",
                              "+90 (216) 444 03 03", "talk_duration", 0, "employees",
                              "scenario_operations", "id", (json_int_t)7),
                    NULL);
}

static void test_call_id_of_a_record(void)
{
    char buf[32];
    json_t *rec = json_pack("{s:I}", "id", (json_int_t)3719283746);
    ASSERT_EQ_STR(rec_callgear_call_id(rec, buf, sizeof buf), "3719283746");
    json_decref(rec);
    rec = json_pack("{s:n}", "id");
    ASSERT_TRUE(rec_callgear_call_id(rec, buf, sizeof buf) == NULL);
    json_decref(rec);
}

TEST_MAIN("reconcile_callgear", TEST_CASE(test_answered_call_has_the_webhooks_id),
          TEST_CASE(test_missed_call_names_the_last_employee_offered_R_M1),
          TEST_CASE(test_abandoned_call_has_the_webhooks_id),
          TEST_CASE(test_voicemail_call_is_a_voicemail_not_abandoned_R_T11),
          TEST_CASE(test_call_without_scenario_operations_is_still_backfilled),
          TEST_CASE(test_call_id_of_a_record))
