/* The reconciler's Twilio mapping (issue 27 items 1-2): a Calls-resource
 * record becomes the events its status callbacks made, with the webhook's
 * own event ids (so a late webhook and the backfill never double anything:
 * ticket-service's done marker is per event id), marked source =
 * reconciliation. The webhooks are ingest's fixtures
 * (tests/ingest/unit/fixtures); each record is written from the same call. */
#include "test.h"

#include "cmn_phone.h"
#include "cmn_time.h"
#include "ing_form.h"
#include "ing_twilio.h"
#include "rec_run.h"
#include "rec_seen.h"
#include "rec_twilio.h"

static ing_ctx_t ctx_it(void)
{
    ing_ctx_t ctx = {.country = cmn_phone_country("IT"), .internal_max_digits = 5};
    ctx.received_at_ms = 1773316800000;
    return ctx;
}

/* The webhook: a fixture normalised as ingest does it. */
static int webhook(const char *name, ing_events_t *out)
{
    char path[1024], body[4096];
    ing_form_t form;
    ing_error_t err;
    ing_ctx_t ctx = ctx_it();
    snprintf(path, sizeof path, "%s/%s", FIXTURES_DIR, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t n = fread(body, 1, sizeof body - 1, f);
    fclose(f);
    body[n] = '\0';
    if (ing_form_parse(body, strcspn(body, "\r\n"), &form, &err) < 0)
        return -1;
    int rc = ing_twilio_normalise(&ctx, &form, out, &err);
    ing_form_free(&form);
    return rc;
}

/* The Calls record Twilio's log holds for the leg of that webhook. */
static json_t *record(const char *sid, const char *parent, const char *direction, const char *from,
                      const char *to, const char *status, const char *duration)
{
    json_t *r = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "sid", sid, "direction",
                          direction, "from", from, "to", to, "status", status, "start_time",
                          "Tue, 10 Mar 2026 09:14:08 +0000", "end_time",
                          "Tue, 10 Mar 2026 09:17:40 +0000", "duration", duration);
    if (r && parent)
        json_object_set_new(r, "parent_call_sid", json_string(parent));
    return r;
}

static const cmn_event_t *find(const rec_batch_t *b, cmn_event_type_t type)
{
    for (size_t i = 0; i < b->n; i++)
        if (b->ev[i].type == type)
            return &b->ev[i];
    return NULL;
}

/* The backfill of one record holds the webhook's event, same id and meaning. */
static void same_as_webhook(const char *fixture, json_t *rec, size_t n_expected)
{
    ing_events_t hook;
    rec_batch_t b;
    ing_error_t err = {{0}, {0}};
    ing_ctx_t ctx = ctx_it();
    rec_batch_init(&b);
    ASSERT_EQ_INT(webhook(fixture, &hook), 0);
    ASSERT_EQ_INT(hook.n, 1);
    ASSERT_EQ_INT(rec_twilio_leg_events(&ctx, rec, &b, &err), 0);
    json_decref(rec);
    ASSERT_EQ_INT(b.n, n_expected);
    const cmn_event_t *ev = find(&b, hook.ev[0].type);
    ASSERT_TRUE(ev != NULL);
    ASSERT_EQ_STR(ev->event_id, hook.ev[0].event_id);
    ASSERT_EQ_INT(ev->outcome, hook.ev[0].outcome);
    ASSERT_EQ_STR(ev->call_id, hook.ev[0].call_id);
    ASSERT_EQ_STR(ev->source, CMN_EVENT_SOURCE_RECONCILIATION);
    ASSERT_TRUE(hook.ev[0].source == NULL); /* the webhook says nothing */
    ASSERT_TRUE((ev->customer_number == NULL) == (hook.ev[0].customer_number == NULL));
    if (ev->customer_number)
        ASSERT_EQ_STR(ev->customer_number, hook.ev[0].customer_number);
    ASSERT_TRUE((ev->agent.provider_id == NULL) == (hook.ev[0].agent.provider_id == NULL));
    if (ev->agent.provider_id)
        ASSERT_EQ_STR(ev->agent.provider_id, hook.ev[0].agent.provider_id);
    ing_events_clear(&hook);
    rec_batch_clear(&b);
}

#define PARENT "CA8a1f0c2b3d4e5f60718293a4b5c6d7e8"
#define AGENT_LEG "CA1b2c3d4e5f60718293a4b5c6d7e8f901"

/* The caller's leg: call.ended completed, sequence 3 (R-T5, issue 9). */
static void test_inbound_completed_has_the_webhooks_id(void)
{
    same_as_webhook(
        "twilio_inbound_completed.form",
        record(PARENT, NULL, "inbound", "+390612345678", "+390287654321", "completed", "212"), 1);
}

/* An answered agent leg: offered, answered (R-T1) and its end, the end
 * with the webhook's id; the answer lets ticket-service call it answered. */
static void test_agent_leg_completed_has_the_webhooks_id(void)
{
    same_as_webhook("twilio_agent_completed.form",
                    record(AGENT_LEG, PARENT, "outbound-dial", "+390612345678",
                           "client:giulia.rossi", "completed", "200"),
                    3);
}

static void test_agent_leg_answer_has_the_webhooks_id_R_T1(void)
{
    same_as_webhook("twilio_agent_answered.form",
                    record(AGENT_LEG, PARENT, "outbound-dial", "+390612345678",
                           "client:giulia.rossi", "completed", "200"),
                    3);
}

/* R-M1: an agent leg nobody answered: offered, then leg_ended missed. */
static void test_agent_leg_no_answer_has_the_webhooks_id_R_M1(void)
{
    same_as_webhook("twilio_agent_noanswer.form",
                    record("CA2c3d4e5f60718293a4b5c6d7e8f90a1b", PARENT, "outbound-dial",
                           "+390612345678", "client:marco.bianchi", "no-answer", "0"),
                    2);
}

/* R-T11: the caller hung up before the TwiML answered: abandoned. */
static void test_inbound_canceled_has_the_webhooks_id(void)
{
    ing_events_t hook;
    ASSERT_EQ_INT(webhook("twilio_inbound_canceled.form", &hook), 0);
    ASSERT_EQ_INT(hook.n, 1);
    /* a national number, as the caller's network gave it (R-I1) */
    json_t *rec =
        record(hook.ev[0].leg_id, NULL, "inbound", "3356781234", "+390287654321", "canceled", "0");
    ing_events_clear(&hook);
    same_as_webhook("twilio_inbound_canceled.form", rec, 1);
}

/* A leg still ringing or talking is left to the next run. */
static void test_leg_not_over_makes_nothing(void)
{
    rec_batch_t b;
    ing_error_t err = {{0}, {0}};
    ing_ctx_t ctx = ctx_it();
    json_t *rec =
        record(PARENT, NULL, "inbound", "+390612345678", "+390287654321", "in-progress", "0");
    rec_batch_init(&b);
    ASSERT_EQ_INT(rec_twilio_leg_over(rec), 0);
    ASSERT_EQ_INT(rec_twilio_leg_events(&ctx, rec, &b, &err), 0);
    ASSERT_EQ_INT(b.n, 0);
    json_decref(rec);
}

static void test_child_leg_belongs_to_its_parent(void)
{
    json_t *rec = record(AGENT_LEG, PARENT, "outbound-dial", "+390612345678", "client:giulia.rossi",
                         "completed", "200");
    ASSERT_EQ_STR(rec_twilio_call_id(rec), PARENT);
    ASSERT_TRUE(rec_twilio_start_ms(rec) > 0);
    json_decref(rec);
}

/* A record that cannot be mapped names the problem and adds nothing. */
static void test_record_without_direction_fails(void)
{
    rec_batch_t b;
    ing_error_t err = {{0}, {0}};
    ing_ctx_t ctx = ctx_it();
    json_t *rec = json_pack("{s:s, s:s, s:s}", "sid", PARENT, "status", "completed", "start_time",
                            "Tue, 10 Mar 2026 09:14:08 +0000");
    rec_batch_init(&b);
    ASSERT_EQ_INT(rec_twilio_leg_events(&ctx, rec, &b, &err), -1);
    ASSERT_EQ_INT(b.n, 0);
    ASSERT_TRUE(err.msg[0] != '\0');
    json_decref(rec);
}

/* The record of calls seen: a call's state follows its events. */
static void test_seen_call_states(void)
{
    rec_seen_t *s = rec_seen_new();
    cmn_event_t ev;
    cmn_event_init(&ev);
    ASSERT_TRUE(s != NULL);
    ev.type = CMN_EV_OFFERED;
    ASSERT_EQ_INT(cmn_event_set(&ev.provider, "twilio"), 0);
    ASSERT_EQ_INT(cmn_event_set(&ev.call_id, PARENT), 0);
    ASSERT_EQ_INT(cmn_event_set(&ev.event_id, "twilio-0001"), 0);
    ASSERT_EQ_INT(rec_seen_call(s, "twilio", PARENT), REC_CALL_UNSEEN);
    ASSERT_EQ_INT(rec_seen_add(s, &ev), 0);
    ASSERT_EQ_INT(rec_seen_call(s, "twilio", PARENT), REC_CALL_OPEN);
    ASSERT_EQ_INT(rec_seen_call(s, "callgear", PARENT), REC_CALL_UNSEEN);
    ev.type = CMN_EV_ENDED;
    ASSERT_EQ_INT(cmn_event_set(&ev.event_id, "twilio-0002"), 0);
    ASSERT_EQ_INT(rec_seen_add(s, &ev), 0);
    ev.type = CMN_EV_LEG_ENDED; /* a late leg does not reopen it */
    ASSERT_EQ_INT(cmn_event_set(&ev.event_id, "twilio-0003"), 0);
    ASSERT_EQ_INT(rec_seen_add(s, &ev), 0);
    ASSERT_EQ_INT(rec_seen_call(s, "twilio", PARENT), REC_CALL_ENDED);
    ASSERT_EQ_INT(rec_seen_event(s, "twilio-0002"), 1);
    ASSERT_EQ_INT(rec_seen_event(s, "twilio-0009"), 0);
    ASSERT_EQ_INT(rec_seen_count(s), 3);
    cmn_event_clear(&ev);
    rec_seen_free(s);
}

/* Many calls: the set grows and finds each. */
static void test_seen_grows(void)
{
    rec_seen_t *s = rec_seen_new();
    cmn_event_t ev;
    char id[32];
    cmn_event_init(&ev);
    ev.type = CMN_EV_ENDED;
    ASSERT_EQ_INT(cmn_event_set(&ev.provider, "twilio"), 0);
    for (int i = 0; i < 5000; i++) {
        snprintf(id, sizeof id, "twilio-%06d", i);
        ASSERT_EQ_INT(cmn_event_set(&ev.event_id, id), 0);
        ASSERT_EQ_INT(cmn_event_set(&ev.call_id, id + 7), 0);
        ASSERT_EQ_INT(rec_seen_add(s, &ev), 0);
    }
    ASSERT_EQ_INT(rec_seen_count(s), 5000);
    ASSERT_EQ_INT(rec_seen_call(s, "twilio", "004999"), REC_CALL_ENDED);
    ASSERT_EQ_INT(rec_seen_call(s, "twilio", "005000"), REC_CALL_UNSEEN);
    cmn_event_clear(&ev);
    rec_seen_free(s);
}

/* Issue 27: a call whose end is on call-events but which lacks the agent's
 * answer (its callbacks refused while ingest was down, the caller's
 * completion accepted) is not complete: it is backfilled (the answer, and
 * its end again: rec_run.c, end_again). Once every event is there, a run
 * finds it complete. Before, an end seen meant complete. */
static void test_ended_call_lacking_its_answer_is_backfilled(void)
{
    ing_ctx_t ctx = ctx_it();
    ing_error_t err = {{0}, {0}};
    char errstr[128];
    rec_batch_t b;
    rec_tally_t t = {0};
    rec_seen_t *s = rec_seen_new();
    cmn_agentmap_t *agents = cmn_agentmap_parse("twilio:marco.bianchi=A1", errstr, sizeof errstr);
    json_t *legs = json_pack(
        "[o, o]",
        record(AGENT_LEG, PARENT, "outbound-dial", "+390612345678", "client:marco.bianchi",
               "completed", "184"),
        record(PARENT, NULL, "inbound", "+390612345678", "+390287654321", "completed", "212"));
    json_t *calls = json_pack("{s:o}", PARENT, legs);
    rec_run_t r = {.ctx = &ctx, .agents = agents, .seen = s, .publish = NULL};
    ASSERT_TRUE(s && agents && calls);
    rec_batch_init(&b);
    for (size_t i = 0; i < json_array_size(legs); i++)
        ASSERT_EQ_INT(rec_twilio_leg_events(&ctx, json_array_get(legs, i), &b, &err), 0);
    for (size_t i = 0; i < b.n; i++) /* what got through: the offer and the end */
        if (b.ev[i].type == CMN_EV_OFFERED || b.ev[i].type == CMN_EV_ENDED)
            ASSERT_EQ_INT(rec_seen_add(s, &b.ev[i]), 0);
    ASSERT_EQ_INT(rec_seen_call(s, "twilio", PARENT), REC_CALL_ENDED);
    rec_run_twilio(&r, calls, &t);
    ASSERT_EQ_INT(t.logged, 1);
    ASSERT_EQ_INT(t.seen, 1);
    ASSERT_EQ_INT(t.backfilled, 1);
    ASSERT_EQ_INT(t.complete, 0);
    for (size_t i = 0; i < b.n; i++) /* the backfill landed */
        ASSERT_EQ_INT(rec_seen_add(s, &b.ev[i]), 0);
    memset(&t, 0, sizeof t);
    rec_run_twilio(&r, calls, &t);
    ASSERT_EQ_INT(t.backfilled, 0);
    ASSERT_EQ_INT(t.complete, 1);
    rec_batch_clear(&b);
    json_decref(calls);
    cmn_agentmap_free(agents);
    rec_seen_free(s);
}

TEST_MAIN("reconcile_twilio", TEST_CASE(test_inbound_completed_has_the_webhooks_id),
          TEST_CASE(test_agent_leg_completed_has_the_webhooks_id),
          TEST_CASE(test_agent_leg_answer_has_the_webhooks_id_R_T1),
          TEST_CASE(test_agent_leg_no_answer_has_the_webhooks_id_R_M1),
          TEST_CASE(test_inbound_canceled_has_the_webhooks_id),
          TEST_CASE(test_leg_not_over_makes_nothing),
          TEST_CASE(test_child_leg_belongs_to_its_parent),
          TEST_CASE(test_record_without_direction_fails), TEST_CASE(test_seen_call_states),
          TEST_CASE(test_seen_grows), TEST_CASE(test_ended_call_lacking_its_answer_is_backfilled))
