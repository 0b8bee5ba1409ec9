/* ingest normalisers: each fixture in tests/ingest/unit/fixtures -> the expected
 * canonical event (BEHAVIOUR.md rules cited in the test names), stable event
 * ids, required fields named on failure, signature checks against published
 * or independently computed vectors. FIXTURES_DIR comes from CMake. */
#include "test.h"

#include "cmn_phone.h"
#include "cmn_time.h"
#include "ing_callgear.h"
#include "ing_form.h"
#include "ing_generic.h"
#include "ing_twilio.h"
#include "ing_webex.h"

#include <stdint.h>

/* ---- helpers ------------------------------------------------------------- */

static int64_t at(const char *text)
{
    int64_t ms = 0;
    if (cmn_time_parse(text, &ms) < 0)
        fprintf(stderr, "bad time in test: %s\n", text);
    return ms;
}

static ing_ctx_t ctx_for(const char *country)
{
    ing_ctx_t ctx = {.country = cmn_phone_country(country), .internal_max_digits = 5};
    ctx.received_at_ms = at("2026-03-12T12:00:00.250Z");
    return ctx;
}

static char *fixture_path(const char *name)
{
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s", FIXTURES_DIR, name);
    return path;
}

static json_t *load_json(const char *name)
{
    json_error_t e;
    json_t *j = json_load_file(fixture_path(name), JSON_REJECT_DUPLICATES, &e);
    if (!j)
        fprintf(stderr, "%s: %s\n", name, e.text);
    return j;
}

static char *load_text(const char *name)
{
    FILE *f = fopen(fixture_path(name), "rb");
    char *buf = NULL;
    long len;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)len + 1))) {
        buf[fread(buf, 1, (size_t)len, f)] = '\0';
    }
    fclose(f);
    return buf;
}

static int load_form(const char *name, ing_form_t *form)
{
    ing_error_t err;
    char *text = load_text(name);
    int rc = text ? ing_form_parse(text, strlen(text), form, &err) : -1;
    free(text);
    return rc;
}

/* Removes the member at a dotted path ("call_info.is_lost"). */
static void del_path(json_t *root, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    char *dot = strrchr(buf, '.');
    json_t *parent = root;
    if (dot) {
        *dot = '\0';
        parent = json_object_get(root, buf);
    }
    json_object_del(parent, dot ? dot + 1 : buf);
}

static int all_valid(const ing_events_t *out)
{
    char msg[256], field[96];
    for (size_t i = 0; i < out->n; i++)
        if (cmn_event_validate(&out->ev[i], msg, sizeof msg, field, sizeof field) < 0) {
            fprintf(stderr, "event %zu invalid: %s (%s)\n", i, msg, field);
            return 0;
        }
    return 1;
}

/* Runs one CallGear fixture; the result is in *out (1 event on success). */
static int callgear(const char *notification, const char *fixture, const char *country,
                    ing_events_t *out, ing_error_t *err)
{
    ing_ctx_t ctx = ctx_for(country);
    json_t *body = load_json(fixture);
    int rc = body ? ing_callgear_normalise(&ctx, notification, body, out, err) : -2;
    json_decref(body);
    return rc;
}

static int twilio(const char *fixture, ing_events_t *out, ing_error_t *err)
{
    ing_ctx_t ctx = ctx_for("IT");
    ing_form_t form;
    if (load_form(fixture, &form) < 0)
        return -2;
    int rc = ing_twilio_normalise(&ctx, &form, out, err);
    ing_form_free(&form);
    return rc;
}

static int twilio_text(const char *text, ing_events_t *out, ing_error_t *err)
{
    ing_ctx_t ctx = ctx_for("IT");
    ing_form_t form;
    if (ing_form_parse(text, strlen(text), &form, err) < 0)
        return -2;
    int rc = ing_twilio_normalise(&ctx, &form, out, err);
    ing_form_free(&form);
    return rc;
}

static int webex(const char *fixture, ing_events_t *out, ing_error_t *err)
{
    ing_ctx_t ctx = ctx_for("ES");
    json_t *body = load_json(fixture);
    int rc = body ? ing_webex_normalise(&ctx, body, out, err) : -2;
    json_decref(body);
    return rc;
}

static int generic(const char *fixture, ing_events_t *out, ing_error_t *err)
{
    ing_ctx_t ctx = ctx_for("IT");
    json_t *body = load_json(fixture);
    int rc = body ? ing_generic_normalise(&ctx, body, out, err) : -2;
    json_decref(body);
    return rc;
}

/* ---- the shared part ------------------------------------------------------ */

static void test_events_push_bounded(void)
{
    ing_events_t out;
    ing_events_init(&out);
    for (int i = 0; i < ING_MAX_EVENTS; i++)
        ASSERT_TRUE(ing_events_push(&out) != NULL);
    ASSERT_TRUE(ing_events_push(&out) == NULL);
    ASSERT_TRUE(cmn_event_set(&out.ev[3].call_id, "x") == 0);
    ing_events_clear(&out);
    ASSERT_EQ_INT(out.n, 0);
    ing_events_clear(NULL);
}

static void test_fail_fills_error(void)
{
    ing_error_t err;
    ASSERT_EQ_INT(ing_fail(&err, "a.b", "%s is %d", "x", 3), -1);
    ASSERT_EQ_STR(err.msg, "x is 3");
    ASSERT_EQ_STR(err.field, "a.b");
    ASSERT_EQ_INT(ing_fail(NULL, "a", "b"), -1);
}

/* ---- CallGear (BEHAVIOUR.md §10) ----------------------------------------- */

/* R-T1, R-I1, R-I3: the agent who picked up, the caller in E.164. */
static void test_callgear_handset_is_answered_R_T1(void)
{
    ing_events_t out;
    ing_error_t err;
    ASSERT_EQ_INT(callgear("handset", "callgear_handset.json", "TR", &out, &err), 0);
    ASSERT_EQ_INT(out.n, 1);
    cmn_event_t *ev = &out.ev[0];
    ASSERT_EQ_INT(ev->type, CMN_EV_ANSWERED);
    ASSERT_EQ_STR(ev->provider, "callgear");
    ASSERT_EQ_STR(ev->call_id, "3719283746");
    ASSERT_EQ_STR(ev->leg_id, "918273645");
    ASSERT_EQ_INT(ev->direction, CMN_DIR_INBOUND);
    ASSERT_EQ_STR(ev->customer_number, "+905324127890");
    ASSERT_EQ_STR(ev->dialled_number, "902129998877");
    ASSERT_EQ_STR(ev->queue, "Destek hattı - Türkçe");
    ASSERT_EQ_STR(ev->agent.provider_id, "2207");
    ASSERT_EQ_STR(ev->agent.name, "Ayşe Yılmaz");
    ASSERT_TRUE(ev->agent.crm_id == NULL); /* mapping is ticket-service's (R-I3) */
    ASSERT_EQ_INT(ev->n_tags, 1);
    ASSERT_EQ_STR(ev->tags[0], "VIP");
    ASSERT_EQ_INT(ev->wait_s, 18);
    ASSERT_EQ_INT(ev->talk_s, 0);
    ASSERT_EQ_INT(ev->total_s, 21);
    ASSERT_EQ_INT(ev->hold_s, CMN_DURATION_UNKNOWN);
    ASSERT_EQ_INT(ev->occurred_at_ms, at("2026-03-12T10:15:42Z"));
    ASSERT_EQ_INT(ev->received_at_ms, at("2026-03-12T12:00:00.250Z"));
    ASSERT_TRUE(strncmp(ev->event_id, "callgear-", 9) == 0);
    ASSERT_TRUE(ev->ticket_id == NULL);
    ASSERT_TRUE(all_valid(&out));
    ing_events_clear(&out);
}

/* R-O1: an employee's pick-up on an outbound call. */
static void test_callgear_handset_outbound_is_outbound_answered(void)
{
    ing_events_t out;
    ing_error_t err;
    ing_ctx_t ctx = ctx_for("TR");
    json_t *body = load_json("callgear_handset.json");
    ASSERT_TRUE(body);
    json_object_set_new(json_object_get(body, "call_info"), "direction", json_string("out"));
    ASSERT_EQ_INT(ing_callgear_normalise(&ctx, "handset", body, &out, &err), 0);
    ASSERT_EQ_INT(out.ev[0].type, CMN_EV_OUTBOUND_ANSWERED);
    ASSERT_EQ_INT(out.ev[0].direction, CMN_DIR_OUTBOUND);
    ASSERT_TRUE(all_valid(&out));
    ing_events_clear(&out);
    json_decref(body);
}

/* R-M1: an operator leg that ended unanswered = the call was offered to
 * that employee; ids sent as strings are the same ids as numbers. */
static void test_callgear_endleg_unanswered_operator_leg_is_offer_R_M1(void)
{
    ing_events_t out;
    ing_error_t err;
    ASSERT_EQ_INT(callgear("endleg", "callgear_endleg.json", "TR", &out, &err), 0);
    cmn_event_t *ev = &out.ev[0];
    ASSERT_EQ_INT(ev->type, CMN_EV_LEG_ENDED);
    ASSERT_EQ_STR(ev->call_id, "3719283746");
    ASSERT_EQ_STR(ev->leg_id, "918273650");
    ASSERT_EQ_INT(ev->outcome, CMN_OUT_MISSED);
    ASSERT_EQ_STR(ev->agent.provider_id, "2211");
    ASSERT_EQ_STR(ev->agent.name, "Emre Kaya");
    ASSERT_TRUE(all_valid(&out));
    ing_events_clear(&out);
}

static void test_callgear_endleg_answered_and_non_operator_legs(void)
{
    ing_events_t out;
    ing_error_t err;
    ing_ctx_t ctx = ctx_for("TR");
    json_t *body = load_json("callgear_endleg.json");
    json_t *call_info = json_object_get(body, "call_info");
    ASSERT_TRUE(body);
    json_object_set_new(call_info, "talk_time_duration", json_string("95"));
    ASSERT_EQ_INT(ing_callgear_normalise(&ctx, "endleg", body, &out, &err), 0);
    ASSERT_EQ_INT(out.ev[0].outcome, CMN_OUT_ANSWERED);
    ASSERT_EQ_INT(out.ev[0].talk_s, 95);
    ing_events_clear(&out);
    /* A non-operator leg (the customer's, an IVR's) names no agent. */
    json_object_set_new(call_info, "is_operator", json_string("false"));
    ASSERT_EQ_INT(ing_callgear_normalise(&ctx, "endleg", body, &out, &err), 0);
    ASSERT_EQ_INT(out.ev[0].outcome, CMN_OUT_NONE);
    ASSERT_TRUE(out.ev[0].agent.provider_id == NULL);
    ASSERT_TRUE(all_valid(&out));
    ing_events_clear(&out);
    json_decref(body);
}

/* R-T5: is_lost=false -> answered, by the employee in the body. */
static void test_callgear_end_answered_R_T5(void)
{
    ing_events_t out;
    ing_error_t err;
    ASSERT_EQ_INT(callgear("end", "callgear_end_answered.json", "TR", &out, &err), 0);
    cmn_event_t *ev = &out.ev[0];
    ASSERT_EQ_INT(ev->type, CMN_EV_ENDED);
    ASSERT_EQ_INT(ev->outcome, CMN_OUT_ANSWERED);
    ASSERT_EQ_STR(ev->agent.provider_id, "2207");
    ASSERT_EQ_INT(ev->talk_s, 184);
    ASSERT_EQ_INT(ev->total_s, 205);
    ASSERT_EQ_INT(ev->wait_s, 18);
    ASSERT_EQ_INT(ev->occurred_at_ms, at("2026-03-12T10:18:47Z"));
    ASSERT_TRUE(all_valid(&out));
    ing_events_clear(&out);
}

/* R-M1: is_lost with an employee -> missed, assigned to the last employee
 * offered; R-I1: a national number with trunk 0 in the default country. */
static void test_callgear_end_missed_names_last_offered_R_M1(void)
{
    ing_events_t out;
    ing_error_t err;
    ASSERT_EQ_INT(callgear("end", "callgear_end_missed.json", "TR", &out, &err), 0);
    cmn_event_t *ev = &out.ev[0];
    ASSERT_EQ_INT(ev->type, CMN_EV_ENDED);
    ASSERT_EQ_INT(ev->outcome, CMN_OUT_MISSED);
    ASSERT_EQ_STR(ev->agent.provider_id, "2211");
    ASSERT_EQ_STR(ev->customer_number, "+905325551234");
    ASSERT_EQ_INT(ev->n_tags, 0);
    ASSERT_TRUE(all_valid(&out));
    ing_events_clear(&out);
}

/* R-M1: is_lost and no employee -> abandoned (hung up before any offer). */
static void test_callgear_end_abandoned_has_no_agent_R_M1(void)
{
    ing_events_t out;
    ing_error_t err;
    ASSERT_EQ_INT(callgear("end", "callgear_end_abandoned.json", "TR", &out, &err), 0);
    cmn_event_t *ev = &out.ev[0];
    ASSERT_EQ_INT(ev->outcome, CMN_OUT_ABANDONED);
    ASSERT_TRUE(ev->agent.provider_id == NULL && ev->agent.name == NULL);
    ASSERT_TRUE(ev->leg_id == NULL);
    ASSERT_EQ_STR(ev->customer_number, "+902164440303");
    ASSERT_TRUE(all_valid(&out));
    ing_events_clear(&out);
}

/* R-T3, R-T11: the last scenario operation was a voicemail box. */
static void test_callgear_end_voicemail_R_T3(void)
{
    ing_events_t out;
    ing_error_t err;
    ASSERT_EQ_INT(callgear("end", "callgear_end_voicemail.json", "TR", &out, &err), 0);
    ASSERT_EQ_INT(out.ev[0].outcome, CMN_OUT_VOICEMAIL);
    ASSERT_TRUE(out.ev[0].agent.provider_id == NULL);
    ASSERT_TRUE(all_valid(&out));
    ing_events_clear(&out);
}

static void test_callgear_voicemail_keywords(void)
{
    ASSERT_TRUE(ing_callgear_is_voicemail_op("Voicemail"));
    ASSERT_TRUE(ing_callgear_is_voicemail_op("VOICE MAIL after hours"));
    ASSERT_TRUE(ing_callgear_is_voicemail_op("Sesli mesaj (mesai dışı)"));
    ASSERT_TRUE(ing_callgear_is_voicemail_op("Telesekreter"));
    ASSERT_TRUE(ing_callgear_is_voicemail_op("Segreteria telefonica"));
    ASSERT_TRUE(ing_callgear_is_voicemail_op("Buzón de voz"));
    ASSERT_TRUE(ing_callgear_is_voicemail_op("Голосовая почта"));
    ASSERT_TRUE(!ing_callgear_is_voicemail_op("Voice menu"));
    ASSERT_TRUE(!ing_callgear_is_voicemail_op("Sesli menü"));
    ASSERT_TRUE(!ing_callgear_is_voicemail_op("Çalışana yönlendirme"));
    ASSERT_TRUE(!ing_callgear_is_voicemail_op(NULL));
}

/* A voicemail operation after an employee talked to the caller: answered. */
static void test_callgear_end_voicemail_after_conversation_is_answered(void)
{
    ing_events_t out;
    ing_error_t err;
    ing_ctx_t ctx = ctx_for("TR");
    json_t *body = load_json("callgear_end_answered.json");
    ASSERT_TRUE(body);
    json_object_set_new(body, "last_scenario_operation_name", json_string("Voicemail"));
    ASSERT_EQ_INT(ing_callgear_normalise(&ctx, "end", body, &out, &err), 0);
    ASSERT_EQ_INT(out.ev[0].outcome, CMN_OUT_ANSWERED);
    ing_events_clear(&out);
    json_decref(body);
}

/* R-O3: an outbound call nobody answered; external_id is our ticket id (R-O1). */
static void test_callgear_end_outbound_unanswered_R_O3(void)
{
    ing_events_t out;
    ing_error_t err;
    ASSERT_EQ_INT(callgear("end", "callgear_end_outbound.json", "TR", &out, &err), 0);
    cmn_event_t *ev = &out.ev[0];
    ASSERT_EQ_INT(ev->type, CMN_EV_OUTBOUND_ENDED);
    ASSERT_EQ_INT(ev->direction, CMN_DIR_OUTBOUND);
    ASSERT_EQ_INT(ev->outcome, CMN_OUT_MISSED);
    ASSERT_EQ_STR(ev->ticket_id, "48213");
    ASSERT_EQ_STR(ev->customer_number, "+905332104455");
    ASSERT_TRUE(all_valid(&out));
    ing_events_clear(&out);
}

/* R-O3 / R-M3: answered when there was talk time and the call is not lost. */
static void test_callgear_end_outbound_answered(void)
{
    ing_events_t out;
    ing_error_t err;
    ing_ctx_t ctx = ctx_for("TR");
    json_t *body = load_json("callgear_end_outbound.json");
    json_t *call_info = json_object_get(body, "call_info");
    ASSERT_TRUE(body);
    json_object_set_new(call_info, "talk_time_duration", json_integer(61));
    json_object_set_new(call_info, "is_lost", json_integer(0));
    ASSERT_EQ_INT(ing_callgear_normalise(&ctx, "end", body, &out, &err), 0);
    ASSERT_EQ_INT(out.ev[0].outcome, CMN_OUT_ANSWERED);
    ing_events_clear(&out);
    json_decref(body);
}

/* R-T6: the first of record_file_links, with its length. */
static void test_callgear_recording_R_T6(void)
{
    ing_events_t out;
    ing_error_t err;
    ASSERT_EQ_INT(callgear("recording", "callgear_recording.json", "TR", &out, &err), 0);
    cmn_event_t *ev = &out.ev[0];
    ASSERT_EQ_INT(ev->type, CMN_EV_RECORDING_READY);
    ASSERT_EQ_STR(ev->recording_url,
                  "https://app.callgear.com/system/media/talk/3719283746/f0e1d2c3b4/");
    ASSERT_EQ_INT(ev->recording_duration_s, 184);
    /* issue 24 item 3: every link kept, not only the first */
    ASSERT_EQ_INT(ev->n_recording_more, 1);
    ASSERT_EQ_STR(ev->recording_more[0],
                  "https://app.callgear.com/system/media/talk/3719283746/a1b2c3d4e5/");
    /* ... and the name and tags CallGear sent */
    ASSERT_EQ_STR(ev->customer_name, "Mehmet Demir");
    ASSERT_EQ_INT(ev->n_tags, 1);
    ASSERT_EQ_STR(ev->tags[0], "VIP");
    ASSERT_TRUE(all_valid(&out));
    ing_events_clear(&out);
}

/* issue 24 item 3: record_file_links beyond what the event holds are cut
 * (recording.url + CMN_RECORDING_MORE_MAX), duplicates and "" skipped;
 * the event encodes and decodes with all of them; a name longer than 128
 * characters is cut at a character boundary, an empty one is no name. */
static void test_callgear_recording_links_and_name_bounded(void)
{
    ing_events_t out;
    ing_error_t err;
    ing_ctx_t ctx = ctx_for("TR");
    json_t *body = load_json("callgear_recording.json"), *links = json_array();
    char url[96], name[300] = "";
    cmn_event_t back;
    char e[128], f[64];
    ASSERT_TRUE(body && links);
    json_array_append_new(links, json_string(""));
    for (int i = 0; i < 12; i++) {
        snprintf(url, sizeof url, "https://rec.example/%d.mp3", i);
        json_array_append_new(links, json_string(url));
        json_array_append_new(links, json_string(url));
    }
    json_object_set_new(json_object_get(body, "call_record_file_info"), "record_file_links", links);
    for (int i = 0; i < 130; i++)
        strcat(name, i == 127 ? "\xc5\x9f" : "a"); /* the 128th character is two bytes */
    json_object_set_new(json_object_get(body, "contact_info"), "contact_full_name",
                        json_string(name));
    ASSERT_EQ_INT(ing_callgear_normalise(&ctx, "recording", body, &out, &err), 0);
    ASSERT_EQ_STR(out.ev[0].recording_url, "https://rec.example/0.mp3");
    ASSERT_EQ_INT(out.ev[0].n_recording_more, CMN_RECORDING_MORE_MAX);
    ASSERT_EQ_STR(out.ev[0].recording_more[CMN_RECORDING_MORE_MAX - 1],
                  "https://rec.example/7.mp3");
    ASSERT_EQ_INT(strlen(out.ev[0].customer_name), 129); /* 127 + the 2-byte 128th */
    char *text = cmn_event_encode(&out.ev[0]);
    ASSERT_TRUE(text);
    ASSERT_EQ_INT(cmn_event_decode(text, strlen(text), &back, e, sizeof e, f, sizeof f), 0);
    ASSERT_EQ_INT(back.n_recording_more, CMN_RECORDING_MORE_MAX);
    ASSERT_EQ_STR(back.recording_more[3], "https://rec.example/4.mp3");
    ASSERT_EQ_STR(back.customer_name, out.ev[0].customer_name);
    cmn_event_clear(&back);
    free(text);
    ing_events_clear(&out);
    json_object_set_new(json_object_get(body, "contact_info"), "contact_full_name",
                        json_string(""));
    ASSERT_EQ_INT(ing_callgear_normalise(&ctx, "recording", body, &out, &err), 0);
    ASSERT_TRUE(out.ev[0].customer_name == NULL);
    ing_events_clear(&out);
    json_decref(body);
}

static void test_callgear_recording_falls_back_to_file_link(void)
{
    ing_events_t out;
    ing_error_t err;
    ing_ctx_t ctx = ctx_for("TR");
    json_t *body = load_json("callgear_recording.json");
    ASSERT_TRUE(body);
    json_object_set_new(json_object_get(body, "call_record_file_info"), "record_file_links",
                        json_null());
    ASSERT_EQ_INT(ing_callgear_normalise(&ctx, "recording", body, &out, &err), 0);
    ASSERT_EQ_STR(out.ev[0].recording_url,
                  "https://app.callgear.com/system/media/talk/3719283746/a1b2c3d4e5/");
    ing_events_clear(&out);
    json_decref(body);
}

/* R-O1: legout and callout both report an outbound call starting. */
static void test_callgear_legout_callout_are_outbound_started_R_O1(void)
{
    ing_events_t a, b;
    ing_error_t err;
    ASSERT_EQ_INT(callgear("legout", "callgear_legout.json", "TR", &a, &err), 0);
    ASSERT_EQ_INT(callgear("callout", "callgear_callout.json", "TR", &b, &err), 0);
    ASSERT_EQ_INT(a.ev[0].type, CMN_EV_OUTBOUND_STARTED);
    ASSERT_EQ_INT(b.ev[0].type, CMN_EV_OUTBOUND_STARTED);
    ASSERT_EQ_INT(a.ev[0].direction, CMN_DIR_OUTBOUND);
    ASSERT_EQ_STR(a.ev[0].agent.provider_id, "2207");
    ASSERT_EQ_STR(a.ev[0].ticket_id, "48213");
    ASSERT_EQ_STR(a.ev[0].call_id, b.ev[0].call_id);
    ASSERT_TRUE(strcmp(a.ev[0].event_id, b.ev[0].event_id) != 0);
    ASSERT_TRUE(all_valid(&a) && all_valid(&b));
    ing_events_clear(&a);
    ing_events_clear(&b);
}

/* Same payload twice -> same id; another notification of the same call or
 * leg -> another id; a re-rendered notification_time keeps the id. */
static void test_callgear_event_ids_stable_and_distinct(void)
{
    static const char *const kinds[] = {"handset",   "endleg", "end",
                                        "recording", "legout", "callout"};
    ing_events_t out;
    ing_error_t err;
    char ids[6][CMN_EVENT_ID_MAX];
    ing_ctx_t ctx = ctx_for("TR");
    json_t *body = load_json("callgear_recording.json");
    ASSERT_TRUE(body);
    json_object_set_new(json_object_get(body, "call_info"), "is_operator", json_true());
    for (int i = 0; i < 6; i++) {
        ASSERT_EQ_INT(ing_callgear_normalise(&ctx, kinds[i], body, &out, &err), 0);
        snprintf(ids[i], sizeof ids[i], "%s", out.ev[0].event_id);
        ing_events_clear(&out);
        ASSERT_EQ_INT(ing_callgear_normalise(&ctx, kinds[i], body, &out, &err), 0);
        ASSERT_EQ_STR(out.ev[0].event_id, ids[i]);
        ing_events_clear(&out);
        for (int j = 0; j < i; j++)
            ASSERT_TRUE(strcmp(ids[i], ids[j]) != 0);
    }
    json_object_set_new(body, "notification_time", json_string("2026-03-12 10:19:30"));
    ASSERT_EQ_INT(ing_callgear_normalise(&ctx, "handset", body, &out, &err), 0);
    ASSERT_EQ_STR(out.ev[0].event_id, ids[0]);
    ing_events_clear(&out);
    json_object_set_new(body, "leg_id", json_integer(918273699));
    ASSERT_EQ_INT(ing_callgear_normalise(&ctx, "handset", body, &out, &err), 0);
    ASSERT_TRUE(strcmp(out.ev[0].event_id, ids[0]) != 0);
    ing_events_clear(&out);
    json_decref(body);
}

/* CallGear fills {{x}} with whatever type it holds: ids and durations as
 * numbers or strings, booleans as true/"true"/1, unknown members ignored. */
static void test_callgear_tolerates_template_types(void)
{
    ing_events_t a, b;
    ing_error_t err;
    ing_ctx_t ctx = ctx_for("TR");
    json_t *body = load_json("callgear_end_answered.json");
    json_t *ci = json_object_get(body, "call_info");
    ASSERT_TRUE(body);
    ASSERT_EQ_INT(ing_callgear_normalise(&ctx, "end", body, &a, &err), 0);
    json_object_set_new(ci, "call_session_id", json_string("3719283746"));
    json_object_set_new(body, "leg_id", json_real(918273645.0));
    json_object_set_new(ci, "talk_time_duration", json_string("184"));
    json_object_set_new(ci, "is_lost", json_string("false"));
    json_object_set_new(json_object_get(body, "employee_info"), "employee_id", json_string("2207"));
    json_object_set_new(body, "brand_new_member", json_pack("{s:i}", "x", 1));
    json_object_set_new(ci, "scenario_name", json_string(""));
    ASSERT_EQ_INT(ing_callgear_normalise(&ctx, "end", body, &b, &err), 0);
    ASSERT_EQ_STR(b.ev[0].call_id, a.ev[0].call_id);
    ASSERT_EQ_STR(b.ev[0].leg_id, a.ev[0].leg_id);
    ASSERT_EQ_STR(b.ev[0].event_id, a.ev[0].event_id);
    ASSERT_EQ_INT(b.ev[0].talk_s, 184);
    ASSERT_EQ_INT(b.ev[0].outcome, CMN_OUT_ANSWERED);
    ASSERT_TRUE(b.ev[0].queue == NULL); /* "" is "not set" */
    ASSERT_TRUE(all_valid(&b));
    ing_events_clear(&a);
    ing_events_clear(&b);
    json_decref(body);
}

/* Every required member, removed, is named in the error. */
static void test_callgear_missing_required_fields_are_named(void)
{
    static const struct {
        const char *notification, *fixture, *path;
    } cases[] = {
        {"handset", "callgear_handset.json", "call_info.call_session_id"},
        {"endleg", "callgear_endleg.json", "call_info.call_session_id"},
        {"end", "callgear_end_answered.json", "call_info.call_session_id"},
        {"recording", "callgear_recording.json", "call_info.call_session_id"},
        {"legout", "callgear_legout.json", "call_info.call_session_id"},
        {"callout", "callgear_callout.json", "call_info.call_session_id"},
        {"handset", "callgear_handset.json", "call_info.direction"},
        {"end", "callgear_end_answered.json", "call_info.direction"},
        {"handset", "callgear_handset.json", "employee_info.employee_id"},
        {"endleg", "callgear_endleg.json", "call_info.is_operator"},
        {"end", "callgear_end_answered.json", "call_info.is_lost"},
        {"recording", "callgear_recording.json", "call_record_file_info.record_file_links"},
    };
    ing_ctx_t ctx = ctx_for("TR");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ing_events_t out;
        ing_error_t err = {"", ""};
        json_t *body = load_json(cases[i].fixture);
        ASSERT_TRUE(body);
        del_path(body, cases[i].path);
        if (strcmp(cases[i].path, "call_record_file_info.record_file_links") == 0)
            del_path(body, "call_record_file_info.file_link");
        ASSERT_EQ_INT(ing_callgear_normalise(&ctx, cases[i].notification, body, &out, &err), -1);
        ASSERT_EQ_STR(err.field, cases[i].path);
        ASSERT_TRUE(strstr(err.msg, cases[i].path) != NULL);
        ASSERT_EQ_INT(out.n, 0);
        json_decref(body);
    }
}

static void test_callgear_bad_values_are_named(void)
{
    static const struct {
        const char *path, *json, *field;
    } cases[] = {
        {"call_info.direction", "\"sideways\"", "call_info.direction"},
        {"call_info.call_session_id", "{\"id\": 1}", "call_info.call_session_id"},
        {"call_info.talk_time_duration", "-5", "call_info.talk_time_duration"},
        {"call_info.talk_time_duration", "\"12.5s\"", "call_info.talk_time_duration"},
        {"call_info.tag_names", "{\"a\": 1}", "call_info.tag_names"},
        {"call_info.is_lost", "\"maybe\"", "call_info.is_lost"},
        {"notification_time", "\"yesterday\"", "notification_time"},
        {"contact_info.contact_phone_number", "\"+90 532 ABC\"",
         "contact_info.contact_phone_number"},
        /* national (trunk 0), but no country configured; without the 0 the
         * digits would be a valid Cuban number (+53 24127890), taken as such */
        {"contact_info.contact_phone_number", "\"05324127890\"",
         "contact_info.contact_phone_number"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ing_events_t out;
        ing_error_t err = {"", ""};
        ing_ctx_t ctx = ctx_for(i == 8 ? "none" : "TR");
        json_t *body = load_json("callgear_end_answered.json");
        json_t *v = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);
        const char *dot = strchr(cases[i].path, '.');
        ASSERT_TRUE(body && v);
        if (dot) {
            char parent[64];
            snprintf(parent, sizeof parent, "%.*s", (int)(dot - cases[i].path), cases[i].path);
            json_object_set_new(json_object_get(body, parent), dot + 1, v);
        } else {
            json_object_set_new(body, cases[i].path, v);
        }
        ASSERT_EQ_INT(ing_callgear_normalise(&ctx, "end", body, &out, &err), -1);
        ASSERT_EQ_STR(err.field, cases[i].field);
        ASSERT_EQ_INT(out.n, 0);
        json_decref(body);
    }
}

/* R-I1: a withheld number is no number, not an error. */
static void test_callgear_withheld_number_R_I1(void)
{
    ing_events_t out;
    ing_error_t err;
    ing_ctx_t ctx = ctx_for("TR");
    json_t *body = load_json("callgear_end_abandoned.json");
    json_t *contact = json_object_get(body, "contact_info");
    ASSERT_TRUE(body);
    json_object_set_new(contact, "contact_phone_number", json_null());
    ASSERT_EQ_INT(ing_callgear_normalise(&ctx, "end", body, &out, &err), 0);
    ASSERT_TRUE(out.ev[0].customer_number == NULL);
    ing_events_clear(&out);
    json_object_set_new(contact, "contact_phone_number", json_string("Anonymous"));
    ASSERT_EQ_INT(ing_callgear_normalise(&ctx, "end", body, &out, &err), 0);
    ASSERT_TRUE(out.ev[0].customer_number == NULL);
    ASSERT_TRUE(all_valid(&out));
    ing_events_clear(&out);
    json_decref(body);
}

static void test_callgear_rejects_unknown_notification_and_non_object(void)
{
    ing_events_t out;
    ing_error_t err;
    ing_ctx_t ctx = ctx_for("TR");
    json_t *body = load_json("callgear_handset.json");
    json_t *arr = json_array();
    ASSERT_TRUE(body);
    ASSERT_EQ_INT(ing_callgear_normalise(&ctx, "ringing", body, &out, &err), -1);
    ASSERT_EQ_STR(err.field, "notification");
    ASSERT_EQ_INT(ing_callgear_normalise(&ctx, NULL, body, &out, &err), -1);
    ASSERT_EQ_INT(ing_callgear_normalise(&ctx, "end", arr, &out, &err), -1);
    ASSERT_EQ_INT(out.n, 0);
    json_decref(body);
    json_decref(arr);
}

/* Tags: at most 32 kept, a long one cut on a character boundary. */
static void test_callgear_tags_bounded(void)
{
    ing_events_t out;
    ing_error_t err;
    ing_ctx_t ctx = ctx_for("TR");
    json_t *body = load_json("callgear_handset.json");
    json_t *tags = json_array();
    char long_tag[200] = "";
    ASSERT_TRUE(body);
    for (int i = 0; i < 40; i++)
        strcat(long_tag, i < 30 ? "ş" : ""); /* 60 bytes of 2-byte characters */
    strcat(long_tag, "abcdefghij");          /* 70 bytes */
    json_array_append_new(tags, json_string(long_tag));
    for (int i = 0; i < 40; i++)
        json_array_append_new(tags, json_integer(i));
    json_object_set_new(json_object_get(body, "call_info"), "tag_names", tags);
    ASSERT_EQ_INT(ing_callgear_normalise(&ctx, "handset", body, &out, &err), 0);
    ASSERT_EQ_INT(out.ev[0].n_tags, 32);
    ASSERT_EQ_INT(strlen(out.ev[0].tags[0]), 64);
    ASSERT_EQ_STR(out.ev[0].tags[1], "0");
    ASSERT_TRUE(all_valid(&out));
    ing_events_clear(&out);
    json_decref(body);
}

/* ---- Twilio ---------------------------------------------------------------- */

/* Twilio's own published example (vendor-specs/README.md). */
static const char twilio_example_url[] = "https://mycompany.com/myapp.php?foo=1&bar=2";
static const char twilio_example_body[] =
    "CallSid=CA1234567890ABCDE&Caller=%2B12349013030&Digits=1234"
    "&From=%2B12349013030&To=%2B18005551212";

static int twilio_sig(const char *token, const char *url, const char *body, const char *sig)
{
    ing_form_t form;
    ing_error_t err;
    if (ing_form_parse(body, strlen(body), &form, &err) < 0)
        return -1;
    int ok = ing_twilio_signature_ok(token, url, &form, sig);
    ing_form_free(&form);
    return ok;
}

static void test_twilio_signature_published_vector(void)
{
    ASSERT_EQ_INT(twilio_sig("12345", twilio_example_url, twilio_example_body,
                             "0/KCTR6DLpKmkAf8muzZqo1nDgQ="),
                  1);
}

static void test_twilio_signature_rejects_tampering(void)
{
    static const char good[] = "0/KCTR6DLpKmkAf8muzZqo1nDgQ=";
    /* A changed parameter value, an added parameter, another URL, another token. */
    ASSERT_EQ_INT(twilio_sig("12345", twilio_example_url,
                             "CallSid=CA1234567890ABCDE&Caller=%2B12349013030&Digits=1235"
                             "&From=%2B12349013030&To=%2B18005551212",
                             good),
                  0);
    char added[sizeof twilio_example_body + 16];
    snprintf(added, sizeof added, "%s&Extra=1", twilio_example_body);
    ASSERT_EQ_INT(twilio_sig("12345", twilio_example_url, added, good), 0);
    ASSERT_EQ_INT(twilio_sig("12345", "https://mycompany.com/myapp.php?foo=1&bar=3",
                             twilio_example_body, good),
                  0);
    ASSERT_EQ_INT(twilio_sig("12346", twilio_example_url, twilio_example_body, good), 0);
    ASSERT_EQ_INT(twilio_sig("12345", twilio_example_url, twilio_example_body,
                             "1/KCTR6DLpKmkAf8muzZqo1nDgQ="),
                  0);
    ASSERT_EQ_INT(twilio_sig("12345", twilio_example_url, twilio_example_body, ""), 0);
    ASSERT_EQ_INT(twilio_sig("12345", twilio_example_url, twilio_example_body, NULL), 0);
    ASSERT_EQ_INT(twilio_sig(NULL, twilio_example_url, twilio_example_body, good), 0);
}

/* Twilio sorts the parameters itself: the order they arrive in is irrelevant;
 * the URL may be signed with or without the default port. */
static void test_twilio_signature_order_and_port(void)
{
    static const char good[] = "0/KCTR6DLpKmkAf8muzZqo1nDgQ=";
    ASSERT_EQ_INT(twilio_sig("12345", twilio_example_url,
                             "To=%2B18005551212&From=%2B12349013030&Digits=1234"
                             "&Caller=%2B12349013030&CallSid=CA1234567890ABCDE",
                             good),
                  1);
    ASSERT_EQ_INT(twilio_sig("12345", "https://mycompany.com:443/myapp.php?foo=1&bar=2",
                             twilio_example_body, good),
                  1);
    ASSERT_EQ_INT(twilio_sig("12345", "https://mycompany.com:8443/myapp.php?foo=1&bar=2",
                             twilio_example_body, good),
                  1); /* Twilio's libraries also accept the port-less form */
}

static void test_form_parse_decodes(void)
{
    ing_form_t form;
    ing_error_t err;
    static const char body[] = "a=1&b=x+y%20z%2B&&c&d=&e=%C3%A7a%c4%9f&a=2";
    ASSERT_EQ_INT(ing_form_parse(body, strlen(body), &form, &err), 0);
    ASSERT_EQ_INT(form.n, 6);
    ASSERT_EQ_STR(ing_form_get(&form, "a"), "1");
    ASSERT_EQ_STR(ing_form_get(&form, "b"), "x y z+");
    ASSERT_EQ_STR(ing_form_get(&form, "c"), "");
    ASSERT_EQ_STR(ing_form_get(&form, "d"), "");
    ASSERT_EQ_STR(ing_form_get(&form, "e"), "çağ");
    ASSERT_EQ_STR(form.pairs[5].value, "2");
    ASSERT_TRUE(ing_form_get(&form, "missing") == NULL);
    ing_form_free(&form);
    ASSERT_EQ_INT(ing_form_parse("", 0, &form, &err), 0);
    ASSERT_EQ_INT(form.n, 0);
    ing_form_free(&form);
    ing_form_free(NULL);
}

static void test_form_parse_rejects_malformed(void)
{
    static const char *const bad[] = {"a=%zz",      "a=%4",     "a=%",
                                      "a=x%00y",    "a=%ff%fe", "a=%C0%AF" /* overlong '/' */,
                                      "%ED%A0%80=1" /* surrogate */};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ing_form_t form;
        ing_error_t err = {"", ""};
        ASSERT_EQ_INT(ing_form_parse(bad[i], strlen(bad[i]), &form, &err), -1);
        ASSERT_TRUE(err.msg[0] != '\0');
        ASSERT_EQ_INT(form.n, 0);
    }
    char many[4 * (ING_FORM_MAX_PAIRS + 1) + 1] = "";
    for (int i = 0; i <= ING_FORM_MAX_PAIRS; i++)
        strcat(many, "a=1&");
    ing_form_t form;
    ing_error_t err;
    ASSERT_EQ_INT(ing_form_parse(many, strlen(many), &form, &err), -1);
}

/* R-P2: the agent's Twilio Client ringing is the offer to that agent; a
 * child leg belongs to its parent call. */
static void test_twilio_agent_ringing_is_offered_R_P2(void)
{
    ing_events_t out;
    ing_error_t err;
    ASSERT_EQ_INT(twilio("twilio_agent_ringing.form", &out, &err), 0);
    ASSERT_EQ_INT(out.n, 1);
    cmn_event_t *ev = &out.ev[0];
    ASSERT_EQ_INT(ev->type, CMN_EV_OFFERED);
    ASSERT_EQ_STR(ev->provider, "twilio");
    ASSERT_EQ_STR(ev->call_id, "CA8a1f0c2b3d4e5f60718293a4b5c6d7e8");
    ASSERT_EQ_STR(ev->leg_id, "CA1b2c3d4e5f60718293a4b5c6d7e8f901");
    ASSERT_EQ_INT(ev->direction, CMN_DIR_INBOUND);
    ASSERT_EQ_STR(ev->agent.provider_id, "giulia.rossi");
    ASSERT_EQ_STR(ev->customer_number, "+390612345678");
    ASSERT_EQ_INT(ev->occurred_at_ms, at("2026-03-10T09:14:12Z"));
    ASSERT_TRUE(strncmp(ev->event_id, "twilio-", 7) == 0);
    ASSERT_TRUE(all_valid(&out));
    ing_events_clear(&out);
}

/* R-T1, R-P3: the agent leg in progress = the agent answered. */
static void test_twilio_agent_in_progress_is_answered_R_T1(void)
{
    ing_events_t out;
    ing_error_t err;
    ASSERT_EQ_INT(twilio("twilio_agent_answered.form", &out, &err), 0);
    ASSERT_EQ_INT(out.ev[0].type, CMN_EV_ANSWERED);
    ASSERT_EQ_STR(out.ev[0].agent.provider_id, "giulia.rossi");
    ASSERT_EQ_INT(out.ev[0].talk_s, CMN_DURATION_UNKNOWN);
    ASSERT_TRUE(all_valid(&out));
    ing_events_clear(&out);
}

static void test_twilio_agent_leg_completed_is_leg_ended_answered(void)
{
    ing_events_t out;
    ing_error_t err;
    ASSERT_EQ_INT(twilio("twilio_agent_completed.form", &out, &err), 0);
    ASSERT_EQ_INT(out.ev[0].type, CMN_EV_LEG_ENDED);
    ASSERT_EQ_INT(out.ev[0].outcome, CMN_OUT_ANSWERED);
    ASSERT_EQ_INT(out.ev[0].talk_s, 200); /* CallDuration wins over Duration */
    ASSERT_TRUE(all_valid(&out));
    ing_events_clear(&out);
}

/* R-M1: an agent leg that ended unanswered records who was offered the call. */
static void test_twilio_agent_no_answer_is_leg_missed_R_M1(void)
{
    ing_events_t out;
    ing_error_t err;
    ASSERT_EQ_INT(twilio("twilio_agent_noanswer.form", &out, &err), 0);
    ASSERT_EQ_INT(out.ev[0].type, CMN_EV_LEG_ENDED);
    ASSERT_EQ_INT(out.ev[0].outcome, CMN_OUT_MISSED);
    ASSERT_EQ_STR(out.ev[0].agent.provider_id, "marco.bianchi");
    ASSERT_EQ_STR(out.ev[0].call_id, "CA8a1f0c2b3d4e5f60718293a4b5c6d7e8");
    ASSERT_TRUE(all_valid(&out));
    ing_events_clear(&out);
}

/* R-T5: the caller's leg completed ends the call. Issue 9: it cannot say
 * whether an agent answered (the caller may have hung up in the IVR), so
 * its outcome is `completed`, for ticket-service to decide from the legs. */
static void test_twilio_inbound_completed_is_ended_R_T5(void)
{
    ing_events_t out;
    ing_error_t err;
    ASSERT_EQ_INT(twilio("twilio_inbound_completed.form", &out, &err), 0);
    cmn_event_t *ev = &out.ev[0];
    ASSERT_EQ_INT(ev->type, CMN_EV_ENDED);
    ASSERT_EQ_INT(ev->outcome, CMN_OUT_COMPLETED);
    ASSERT_EQ_STR(ev->call_id, "CA8a1f0c2b3d4e5f60718293a4b5c6d7e8");
    ASSERT_EQ_STR(ev->leg_id, ev->call_id);
    ASSERT_EQ_STR(ev->customer_number, "+390612345678");
    ASSERT_EQ_STR(ev->dialled_number, "+390287654321");
    ASSERT_EQ_INT(ev->total_s, 212);
    ASSERT_EQ_INT(ev->talk_s, CMN_DURATION_UNKNOWN);
    ASSERT_TRUE(ev->agent.provider_id == NULL);
    ASSERT_TRUE(all_valid(&out));
    ing_events_clear(&out);
}

/* R-M1: the caller gave up before anything answered: abandoned. R-I1: a
 * national Italian number. */
static void test_twilio_inbound_canceled_is_abandoned_R_M1(void)
{
    ing_events_t out;
    ing_error_t err;
    ASSERT_EQ_INT(twilio("twilio_inbound_canceled.form", &out, &err), 0);
    ASSERT_EQ_INT(out.ev[0].type, CMN_EV_ENDED);
    ASSERT_EQ_INT(out.ev[0].outcome, CMN_OUT_ABANDONED);
    ASSERT_EQ_STR(out.ev[0].customer_number, "+393356781234");
    ASSERT_TRUE(all_valid(&out));
    ing_events_clear(&out);
}

/* R-O1: an outbound-api call initiated; the customer is To. */
static void test_twilio_outbound_initiated_is_started_R_O1(void)
{
    ing_events_t out;
    ing_error_t err;
    ASSERT_EQ_INT(twilio("twilio_outbound_initiated.form", &out, &err), 0);
    cmn_event_t *ev = &out.ev[0];
    ASSERT_EQ_INT(ev->type, CMN_EV_OUTBOUND_STARTED);
    ASSERT_EQ_INT(ev->direction, CMN_DIR_OUTBOUND);
    ASSERT_EQ_STR(ev->customer_number, "+34912345678");
    ASSERT_EQ_STR(ev->dialled_number, "+390287654321");
    ASSERT_TRUE(all_valid(&out));
    ing_events_clear(&out);
}

/* R-M3: an answered outbound call, with its talk time. */
static void test_twilio_outbound_completed_is_answered_R_M3(void)
{
    ing_events_t out;
    ing_error_t err;
    ASSERT_EQ_INT(twilio("twilio_outbound_completed.form", &out, &err), 0);
    ASSERT_EQ_INT(out.ev[0].type, CMN_EV_OUTBOUND_ENDED);
    ASSERT_EQ_INT(out.ev[0].outcome, CMN_OUT_ANSWERED);
    ASSERT_EQ_INT(out.ev[0].talk_s, 187);
    ASSERT_TRUE(all_valid(&out));
    ing_events_clear(&out);
}

/* R-O3: busy/no-answer outbound = an attempt (missed). */
static void test_twilio_outbound_busy_is_missed_R_O3(void)
{
    ing_events_t out;
    ing_error_t err;
    ASSERT_EQ_INT(twilio_text("CallSid=CA11&CallStatus=busy&Direction=outbound-api"
                              "&From=%2B390287654321&To=%2B34912345678",
                              &out, &err),
                  0);
    ASSERT_EQ_INT(out.ev[0].type, CMN_EV_OUTBOUND_ENDED);
    ASSERT_EQ_INT(out.ev[0].outcome, CMN_OUT_MISSED);
    ASSERT_EQ_INT(out.ev[0].occurred_at_ms, at("2026-03-12T12:00:00.250Z")); /* no Timestamp */
    ASSERT_TRUE(all_valid(&out));
    ing_events_clear(&out);
}

/* R-T6: a completed recording. */
static void test_twilio_recording_completed_R_T6(void)
{
    ing_events_t out;
    ing_error_t err;
    ASSERT_EQ_INT(twilio("twilio_recording.form", &out, &err), 0);
    cmn_event_t *ev = &out.ev[0];
    ASSERT_EQ_INT(ev->type, CMN_EV_RECORDING_READY);
    ASSERT_EQ_STR(ev->call_id, "CA8a1f0c2b3d4e5f60718293a4b5c6d7e8");
    ASSERT_TRUE(strncmp(ev->recording_url, "https://api.twilio.com/", 23) == 0);
    ASSERT_EQ_INT(ev->recording_duration_s, 198);
    ASSERT_EQ_INT(ev->direction, CMN_DIR_INBOUND);
    ASSERT_TRUE(all_valid(&out));
    ing_events_clear(&out);
}

/* Callbacks with nothing to say for the call stream: 0 events, no error. */
static void test_twilio_uninteresting_callbacks_yield_nothing(void)
{
    static const char *const forms[] = {
        /* the caller's leg answered by TwiML (IVR), not by an agent */
        "CallSid=CA1&CallStatus=in-progress&Direction=inbound&From=%2B390612345678&To=%2B3902",
        /* an agent's browser leg dialling out: its child leg reports the call */
        "CallSid=CA2&CallStatus=completed&Direction=inbound&From=client%3Aanna&To=%2B390612345678",
        "CallSid=CA3&RecordingSid=RE1&RecordingStatus=in-progress",
    };
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        ing_events_t out;
        ing_error_t err;
        ASSERT_EQ_INT(twilio_text(forms[i], &out, &err), 0);
        ASSERT_EQ_INT(out.n, 0);
    }
}

static void test_twilio_event_ids(void)
{
    ing_events_t a, b;
    ing_error_t err;
    ASSERT_EQ_INT(twilio("twilio_agent_ringing.form", &a, &err), 0);
    ASSERT_EQ_INT(twilio("twilio_agent_ringing.form", &b, &err), 0);
    ASSERT_EQ_STR(a.ev[0].event_id, b.ev[0].event_id);
    ing_events_clear(&b);
    ASSERT_EQ_INT(twilio("twilio_agent_answered.form", &b, &err), 0);
    ASSERT_TRUE(strcmp(a.ev[0].event_id, b.ev[0].event_id) != 0);
    ing_events_clear(&b);
    ASSERT_EQ_INT(twilio("twilio_agent_completed.form", &b, &err), 0);
    ASSERT_TRUE(strcmp(a.ev[0].event_id, b.ev[0].event_id) != 0);
    ing_events_clear(&a);
    ing_events_clear(&b);
}

static void test_twilio_missing_or_bad_parameters_are_named(void)
{
    static const struct {
        const char *form, *field;
    } cases[] = {
        {"CallStatus=completed&Direction=inbound&From=%2B390612345678", "CallSid"},
        {"CallSid=CA1&Direction=inbound&From=%2B390612345678", "CallStatus"},
        {"CallSid=CA1&CallStatus=completed&From=%2B390612345678", "Direction"},
        {"CallSid=CA1&CallStatus=exploded&Direction=inbound", "CallStatus"},
        {"CallSid=CA1&CallStatus=completed&Direction=sideways", "Direction"},
        {"CallSid=CA1&CallStatus=completed&Direction=inbound&From=%2B39abc", "From"},
        {"CallSid=CA1&CallStatus=completed&Direction=inbound&From=%2B390612345678"
         "&Timestamp=yesterday",
         "Timestamp"},
        {"CallSid=CA1&CallStatus=completed&Direction=inbound&From=%2B390612345678"
         "&CallDuration=-3",
         "CallDuration"},
        {"CallSid=CA1&RecordingSid=RE1&RecordingStatus=completed", "RecordingUrl"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ing_events_t out;
        ing_error_t err = {"", ""};
        ASSERT_EQ_INT(twilio_text(cases[i].form, &out, &err), -1);
        ASSERT_EQ_STR(err.field, cases[i].field);
        ASSERT_EQ_INT(out.n, 0);
    }
}

/* R-I1: Twilio's stand-in numbers for a hidden caller id are withheld. */
static void test_twilio_anonymous_caller_R_I1(void)
{
    ing_events_t out;
    ing_error_t err;
    ASSERT_EQ_INT(twilio_text("CallSid=CA1&CallStatus=canceled&Direction=inbound"
                              "&From=%2B266696687&To=%2B390287654321",
                              &out, &err),
                  0);
    ASSERT_TRUE(out.ev[0].customer_number == NULL);
    ASSERT_TRUE(all_valid(&out));
    ing_events_clear(&out);
}

/* ---- Webex ----------------------------------------------------------------- */

/* R-P2, R-T8: the flow offers the contact to an agent (ticket pre-created). */
static void test_webex_offered_R_P2(void)
{
    ing_events_t out;
    ing_error_t err;
    ASSERT_EQ_INT(webex("webex_offered.json", &out, &err), 0);
    cmn_event_t *ev = &out.ev[0];
    ASSERT_EQ_INT(ev->type, CMN_EV_OFFERED);
    ASSERT_EQ_STR(ev->provider, "webex");
    ASSERT_EQ_STR(ev->call_id, "8d7c1f2e-4b3a-4e59-9a61-0c2f5b7d9e10");
    ASSERT_EQ_INT(ev->direction, CMN_DIR_INBOUND);
    ASSERT_EQ_STR(ev->customer_number, "+34612345678");
    ASSERT_EQ_STR(ev->dialled_number, "+34911234567");
    ASSERT_EQ_STR(ev->queue, "Soporte_ES");
    ASSERT_EQ_STR(ev->language, "es-ES");
    ASSERT_EQ_STR(ev->ticket_id, "90412");
    ASSERT_EQ_STR(ev->agent.provider_id, "3b2a1c0d-5e6f-4a7b-8c9d-0e1f2a3b4c5d");
    ASSERT_EQ_STR(ev->agent.name, "Lucía Fernández");
    ASSERT_EQ_INT(ev->occurred_at_ms, at("2026-04-02T08:31:05Z"));
    ASSERT_TRUE(strncmp(ev->event_id, "webex-", 6) == 0);
    ASSERT_TRUE(all_valid(&out));
    ing_events_clear(&out);
}

/* R-T1: answered; durations rendered as strings by the flow template. */
static void test_webex_answered_R_T1(void)
{
    ing_events_t out;
    ing_error_t err;
    ASSERT_EQ_INT(webex("webex_answered.json", &out, &err), 0);
    ASSERT_EQ_INT(out.ev[0].type, CMN_EV_ANSWERED);
    ASSERT_EQ_INT(out.ev[0].wait_s, 41);
    ASSERT_EQ_INT(out.ev[0].occurred_at_ms, at("2026-04-02T06:31:11.250Z"));
    ASSERT_TRUE(all_valid(&out));
    ing_events_clear(&out);
}

/* R-T4, R-P4: the transfer names both agents. */
static void test_webex_transferred_R_T4(void)
{
    ing_events_t out;
    ing_error_t err;
    ASSERT_EQ_INT(webex("webex_transferred.json", &out, &err), 0);
    ASSERT_EQ_INT(out.ev[0].type, CMN_EV_TRANSFERRED);
    ASSERT_EQ_STR(out.ev[0].agent.name, "Javier Moreno");
    ASSERT_EQ_STR(out.ev[0].previous_agent.provider_id, "3b2a1c0d-5e6f-4a7b-8c9d-0e1f2a3b4c5d");
    ASSERT_EQ_STR(out.ev[0].previous_agent.name, "Lucía Fernández");
    ASSERT_TRUE(all_valid(&out));
    ing_events_clear(&out);
}

/* R-T5, R-T9: end of call with every duration. */
static void test_webex_ended_R_T5(void)
{
    ing_events_t out;
    ing_error_t err;
    ASSERT_EQ_INT(webex("webex_ended.json", &out, &err), 0);
    cmn_event_t *ev = &out.ev[0];
    ASSERT_EQ_INT(ev->type, CMN_EV_ENDED);
    ASSERT_EQ_INT(ev->outcome, CMN_OUT_ANSWERED);
    ASSERT_EQ_INT(ev->wait_s, 41);
    ASSERT_EQ_INT(ev->talk_s, 642);
    ASSERT_EQ_INT(ev->hold_s, 35);
    ASSERT_EQ_INT(ev->total_s, 731);
    ASSERT_TRUE(all_valid(&out));
    ing_events_clear(&out);
}

/* R-M1: abandoned in the IVR; "0039..." is the international prefix. */
static void test_webex_ended_abandoned_R_M1(void)
{
    ing_events_t out;
    ing_error_t err;
    ASSERT_EQ_INT(webex("webex_ended_abandoned.json", &out, &err), 0);
    ASSERT_EQ_INT(out.ev[0].outcome, CMN_OUT_ABANDONED);
    ASSERT_EQ_STR(out.ev[0].customer_number, "+393471234567");
    ASSERT_TRUE(out.ev[0].agent.provider_id == NULL);
    ASSERT_TRUE(all_valid(&out));
    ing_events_clear(&out);
}

/* Outdial: the customer is the DNIS. */
static void test_webex_outbound_answered(void)
{
    ing_events_t out;
    ing_error_t err;
    ing_ctx_t ctx = ctx_for("ES");
    json_t *body = load_json("webex_answered.json");
    ASSERT_TRUE(body);
    json_object_set_new(body, "direction", json_string("outbound"));
    ASSERT_EQ_INT(ing_webex_normalise(&ctx, body, &out, &err), 0);
    ASSERT_EQ_INT(out.ev[0].type, CMN_EV_OUTBOUND_ANSWERED);
    ASSERT_EQ_STR(out.ev[0].customer_number, "+34911234567");
    ASSERT_EQ_STR(out.ev[0].dialled_number, "+34 612 34 56 78");
    ing_events_clear(&out);
    json_object_set_new(body, "event", json_string("offered"));
    ASSERT_EQ_INT(ing_webex_normalise(&ctx, body, &out, &err), -1);
    ASSERT_EQ_STR(err.field, "event");
    json_decref(body);
}

static void test_webex_ids(void)
{
    ing_events_t a, b;
    ing_error_t err;
    ASSERT_EQ_INT(webex("webex_offered.json", &a, &err), 0);
    ASSERT_EQ_INT(webex("webex_offered.json", &b, &err), 0);
    ASSERT_EQ_STR(a.ev[0].event_id, b.ev[0].event_id);
    ing_events_clear(&b);
    ASSERT_EQ_INT(webex("webex_answered.json", &b, &err), 0);
    ASSERT_TRUE(strcmp(a.ev[0].event_id, b.ev[0].event_id) != 0);
    ing_events_clear(&a);
    ing_events_clear(&b);
}

static void test_webex_missing_fields_are_named(void)
{
    static const struct {
        const char *fixture, *remove, *field;
    } cases[] = {
        {"webex_offered.json", "interactionId", "interactionId"},
        {"webex_offered.json", "event", "event"},
        {"webex_offered.json", "agentId", "agentId"},
        {"webex_transferred.json", "agentId", "agentId"},
        {"webex_ended.json", "outcome", "outcome"},
    };
    ing_ctx_t ctx = ctx_for("ES");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ing_events_t out;
        ing_error_t err = {"", ""};
        json_t *body = load_json(cases[i].fixture);
        ASSERT_TRUE(body);
        json_object_del(body, cases[i].remove);
        ASSERT_EQ_INT(ing_webex_normalise(&ctx, body, &out, &err), -1);
        ASSERT_EQ_STR(err.field, cases[i].field);
        ASSERT_EQ_INT(out.n, 0);
        json_decref(body);
    }
}

static void test_webex_bad_values_are_named(void)
{
    static const struct {
        const char *member, *json, *field;
    } cases[] = {
        {"event", "\"hung_up\"", "event"},          {"outcome", "\"great\"", "outcome"},
        {"direction", "\"sideways\"", "direction"}, {"ani", "\"+34 abc\"", "ani"},
        {"timestamp", "\"2 April\"", "timestamp"},  {"durations", "[1]", "durations"},
    };
    ing_ctx_t ctx = ctx_for("ES");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ing_events_t out;
        ing_error_t err = {"", ""};
        json_t *body = load_json("webex_ended.json");
        ASSERT_TRUE(body);
        json_object_set_new(body, cases[i].member,
                            json_loads(cases[i].json, JSON_DECODE_ANY, NULL));
        ASSERT_EQ_INT(ing_webex_normalise(&ctx, body, &out, &err), -1);
        ASSERT_EQ_STR(err.field, cases[i].field);
        json_decref(body);
    }
}

/* R-T12: a satisfaction score. */
static void test_webex_csat_R_T12(void)
{
    ing_events_t out;
    ing_error_t err;
    ing_ctx_t ctx = ctx_for("ES");
    json_t *body = load_json("webex_ended.json");
    ASSERT_TRUE(body);
    json_object_set_new(body, "event", json_string("csat"));
    json_object_set_new(body, "csat", json_pack("{s:s, s:i}", "score", "4", "scale", 5));
    ASSERT_EQ_INT(ing_webex_normalise(&ctx, body, &out, &err), 0);
    ASSERT_EQ_INT(out.ev[0].type, CMN_EV_CSAT);
    ASSERT_EQ_INT(out.ev[0].csat_score, 4);
    ASSERT_EQ_INT(out.ev[0].csat_scale, 5);
    ASSERT_TRUE(all_valid(&out));
    ing_events_clear(&out);
    json_object_set_new(body, "csat", json_pack("{s:i, s:i}", "score", 9, "scale", 5));
    ASSERT_EQ_INT(ing_webex_normalise(&ctx, body, &out, &err), -1);
    ASSERT_EQ_STR(err.field, "csat.score");
    json_decref(body);
}

/* ---- generic / TVox --------------------------------------------------------- */

/* Computed with Python's hmac module, independently of our code. */
static const char gen_secret[] = "whsec_7Hq2pL9x";
static const char gen_body[] = "{\"schema_version\":1}";
static const char gen_ts[] = "1773316800"; /* 2026-03-12T12:00:00Z */
static const char gen_sig[] = "v1=dca27d29af1eb809915f83fd076e32e2e33bd302a6ab934f2608f2e2a619c7c1";

static void test_generic_signature_valid(void)
{
    ing_error_t err;
    int64_t now = at("2026-03-12T12:02:00Z");
    char upper[sizeof gen_sig];
    ASSERT_EQ_INT(ing_generic_signature_ok(gen_secret, gen_ts, gen_body, strlen(gen_body), gen_sig,
                                           now, 300000, &err),
                  1);
    for (size_t i = 0; i < sizeof gen_sig; i++)
        upper[i] = i >= 3 && gen_sig[i] >= 'a' && gen_sig[i] <= 'f' ? gen_sig[i] - 32 : gen_sig[i];
    ASSERT_EQ_INT(ing_generic_signature_ok(gen_secret, gen_ts, gen_body, strlen(gen_body), upper,
                                           now, 300000, &err),
                  1);
}

static void test_generic_signature_rejections(void)
{
    ing_error_t err;
    int64_t now = at("2026-03-12T12:02:00Z");
    size_t len = strlen(gen_body);
    /* Replay: outside the tolerance, either way. */
    ASSERT_EQ_INT(ing_generic_signature_ok(gen_secret, gen_ts, gen_body, len, gen_sig,
                                           at("2026-03-12T12:05:01Z"), 300000, &err),
                  0);
    ASSERT_EQ_STR(err.field, "X-Callbus-Timestamp");
    ASSERT_EQ_INT(ing_generic_signature_ok(gen_secret, gen_ts, gen_body, len, gen_sig,
                                           at("2026-03-12T11:54:59Z"), 300000, &err),
                  0);
    /* Body, timestamp or secret changed. */
    ASSERT_EQ_INT(ing_generic_signature_ok(gen_secret, gen_ts, "{\"schema_version\":2}", len,
                                           gen_sig, now, 300000, &err),
                  0);
    ASSERT_EQ_STR(err.field, "X-Callbus-Signature");
    ASSERT_EQ_INT(ing_generic_signature_ok(gen_secret, "1773316801", gen_body, len, gen_sig, now,
                                           300000, &err),
                  0);
    ASSERT_EQ_INT(
        ing_generic_signature_ok("other", gen_ts, gen_body, len, gen_sig, now, 300000, &err), 0);
    /* Malformed headers. */
    ASSERT_EQ_INT(ing_generic_signature_ok(gen_secret, "17733168OO", gen_body, len, gen_sig, now,
                                           300000, &err),
                  0);
    ASSERT_EQ_INT(
        ing_generic_signature_ok(gen_secret, NULL, gen_body, len, gen_sig, now, 300000, &err), 0);
    ASSERT_EQ_INT(
        ing_generic_signature_ok(gen_secret, gen_ts, gen_body, len, gen_sig + 3, now, 300000, &err),
        0);
    ASSERT_EQ_INT(
        ing_generic_signature_ok(gen_secret, gen_ts, gen_body, len, "v1=abc", now, 300000, &err),
        0);
    ASSERT_EQ_INT(ing_generic_signature_ok("", gen_ts, gen_body, len, gen_sig, now, 300000, &err),
                  0);
}

/* R-T8: the TVox IVR posts the canonical form with its pre-created ticket;
 * received_at is ingest's; the national number is normalised (R-I1). */
static void test_generic_tvox_event_R_T8(void)
{
    ing_events_t out;
    ing_error_t err;
    ASSERT_EQ_INT(generic("generic_tvox_offered.json", &out, &err), 0);
    ASSERT_EQ_INT(out.n, 1);
    cmn_event_t *ev = &out.ev[0];
    ASSERT_EQ_INT(ev->type, CMN_EV_OFFERED);
    ASSERT_EQ_STR(ev->provider, "tvox");
    ASSERT_EQ_STR(ev->event_id, "tvox-7d2c0b9e-0001-offered");
    ASSERT_EQ_STR(ev->customer_number, "+390645678901");
    ASSERT_EQ_STR(ev->ticket_id, "55120");
    ASSERT_EQ_STR(ev->ticket_type, "amministrazione");
    ASSERT_EQ_INT(ev->occurred_at_ms, at("2026-03-10T08:53:02Z"));
    ASSERT_EQ_INT(ev->received_at_ms, at("2026-03-12T12:00:00.250Z"));
    ASSERT_TRUE(all_valid(&out));
    ing_events_clear(&out);
}

/* An array of events; the sender's received_at is replaced. */
static void test_generic_batch(void)
{
    ing_events_t out;
    ing_error_t err;
    ASSERT_EQ_INT(generic("generic_batch.json", &out, &err), 0);
    ASSERT_EQ_INT(out.n, 2);
    ASSERT_EQ_INT(out.ev[0].type, CMN_EV_ANSWERED);
    ASSERT_EQ_INT(out.ev[0].received_at_ms, at("2026-03-12T12:00:00.250Z"));
    ASSERT_EQ_INT(out.ev[1].type, CMN_EV_ENDED);
    ASSERT_EQ_INT(out.ev[1].talk_s, 301);
    ASSERT_EQ_INT(out.ev[1].n_tags, 2);
    ASSERT_TRUE(all_valid(&out));
    ing_events_clear(&out);
}

static void test_generic_rejections_are_named(void)
{
    ing_events_t out;
    ing_error_t err;
    ing_ctx_t ctx = ctx_for("IT");
    json_t *batch = load_json("generic_batch.json");
    json_t *one = load_json("generic_tvox_offered.json");
    ASSERT_TRUE(batch && one);
    /* Only generic and tvox may use this endpoint. */
    json_object_set_new(one, "provider", json_string("callgear"));
    ASSERT_EQ_INT(ing_generic_normalise(&ctx, one, &out, &err), -1);
    ASSERT_EQ_STR(err.field, "provider");
    json_object_set_new(one, "provider", json_string("tvox"));
    /* An unknown member (strict decode), an invalid number inside an array. */
    json_object_set_new(one, "colour", json_string("blue"));
    ASSERT_EQ_INT(ing_generic_normalise(&ctx, one, &out, &err), -1);
    ASSERT_EQ_STR(err.field, "colour");
    json_object_del(one, "colour");
    json_object_set_new(json_array_get(batch, 1), "customer_number", json_string("+39 06 ABC"));
    ASSERT_EQ_INT(ing_generic_normalise(&ctx, batch, &out, &err), -1);
    ASSERT_EQ_STR(err.field, "[1].customer_number");
    ASSERT_EQ_INT(out.n, 0);
    json_object_del(json_array_get(batch, 0), "call_id");
    ASSERT_EQ_INT(ing_generic_normalise(&ctx, batch, &out, &err), -1);
    ASSERT_EQ_STR(err.field, "[0].call_id");
    /* Sizes. */
    json_t *empty = json_array(), *big = json_array();
    for (int i = 0; i <= ING_MAX_EVENTS; i++)
        json_array_append(big, one);
    ASSERT_EQ_INT(ing_generic_normalise(&ctx, empty, &out, &err), -1);
    ASSERT_EQ_INT(ing_generic_normalise(&ctx, big, &out, &err), -1);
    json_array_remove(big, 0);
    ASSERT_EQ_INT(ing_generic_normalise(&ctx, big, &out, &err), 0);
    ASSERT_EQ_INT(out.n, ING_MAX_EVENTS);
    ing_events_clear(&out);
    /* A withheld number is no number (R-I1). */
    json_object_set_new(one, "customer_number", json_string("anonymous"));
    ASSERT_EQ_INT(ing_generic_normalise(&ctx, one, &out, &err), 0);
    ASSERT_TRUE(out.ev[0].customer_number == NULL);
    ing_events_clear(&out);
    json_decref(empty);
    json_decref(big);
    json_decref(batch);
    json_decref(one);
}

/* ---- every fixture: valid events, stable ids ------------------------------- */

static void test_every_fixture_yields_valid_events_with_stable_ids(void)
{
    static const struct {
        const char *fixture, *notification;
    } cases[] = {
        {"callgear_handset.json", "handset"},
        {"callgear_endleg.json", "endleg"},
        {"callgear_end_answered.json", "end"},
        {"callgear_end_missed.json", "end"},
        {"callgear_end_abandoned.json", "end"},
        {"callgear_end_voicemail.json", "end"},
        {"callgear_end_outbound.json", "end"},
        {"callgear_recording.json", "recording"},
        {"callgear_legout.json", "legout"},
        {"callgear_callout.json", "callout"},
        {"twilio_inbound_completed.form", NULL},
        {"twilio_inbound_canceled.form", NULL},
        {"twilio_agent_ringing.form", NULL},
        {"twilio_agent_answered.form", NULL},
        {"twilio_agent_completed.form", NULL},
        {"twilio_agent_noanswer.form", NULL},
        {"twilio_outbound_initiated.form", NULL},
        {"twilio_outbound_completed.form", NULL},
        {"twilio_recording.form", NULL},
        {"webex_offered.json", NULL},
        {"webex_answered.json", NULL},
        {"webex_transferred.json", NULL},
        {"webex_ended.json", NULL},
        {"webex_ended_abandoned.json", NULL},
        {"generic_tvox_offered.json", NULL},
        {"generic_batch.json", NULL},
    };
    char seen[sizeof cases / sizeof cases[0]][CMN_EVENT_ID_MAX];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *f = cases[i].fixture;
        ing_events_t a, b;
        ing_error_t err = {"", ""};
        int rc_a, rc_b;
        if (strncmp(f, "callgear", 8) == 0) {
            rc_a = callgear(cases[i].notification, f, "TR", &a, &err);
            rc_b = callgear(cases[i].notification, f, "TR", &b, &err);
        } else if (strncmp(f, "twilio", 6) == 0) {
            rc_a = twilio(f, &a, &err);
            rc_b = twilio(f, &b, &err);
        } else if (strncmp(f, "webex", 5) == 0) {
            rc_a = webex(f, &a, &err);
            rc_b = webex(f, &b, &err);
        } else {
            rc_a = generic(f, &a, &err);
            rc_b = generic(f, &b, &err);
        }
        if (rc_a != 0)
            fprintf(stderr, "%s: %s (%s)\n", f, err.msg, err.field);
        ASSERT_EQ_INT(rc_a, 0);
        ASSERT_EQ_INT(rc_b, 0);
        ASSERT_TRUE(a.n >= 1 && a.n == b.n);
        ASSERT_TRUE(all_valid(&a));
        ASSERT_EQ_STR(a.ev[0].event_id, b.ev[0].event_id);
        /* No two fixtures (different notifications) share an id. */
        snprintf(seen[i], sizeof seen[i], "%s", a.ev[0].event_id);
        for (size_t j = 0; j < i; j++)
            ASSERT_TRUE(strcmp(seen[i], seen[j]) != 0);
        /* What Kafka gets encodes and decodes back to an equal event. */
        char *text = cmn_event_encode(&a.ev[0]);
        cmn_event_t back;
        ASSERT_TRUE(text != NULL);
        ASSERT_EQ_INT(cmn_event_decode(text, strlen(text), &back, NULL, 0, NULL, 0), 0);
        ASSERT_EQ_STR(back.event_id, a.ev[0].event_id);
        ASSERT_EQ_INT(back.occurred_at_ms, a.ev[0].occurred_at_ms);
        cmn_event_clear(&back);
        free(text);
        ing_events_clear(&a);
        ing_events_clear(&b);
    }
}

/* Issue 9 item 5: CallGear sends international digits without '+'; under
 * default country IT they are Turkish, not "+39905321112233". */
static void test_callgear_international_digits_issue9(void)
{
    static const cmn_phone_format_t formats[] = {CMN_PHONE_FORMAT_INTERNATIONAL,
                                                 CMN_PHONE_FORMAT_AUTO};
    for (size_t i = 0; i < 2; i++) {
        ing_events_t out;
        ing_error_t err;
        ing_ctx_t ctx = ctx_for("IT");
        json_t *body = load_json("callgear_end_answered.json");
        ASSERT_TRUE(body);
        ctx.number_format = formats[i];
        json_object_set_new(json_object_get(body, "contact_info"), "contact_phone_number",
                            json_string("905321112233"));
        ASSERT_EQ_INT(ing_callgear_normalise(&ctx, "end", body, &out, &err), 0);
        ASSERT_EQ_STR(out.ev[0].customer_number, "+905321112233");
        ing_events_clear(&out);
        json_decref(body);
    }
}

/* Issue 9: an extension is an internal call: no customer, internal set,
 * and the event still valid (and encoded with "internal": true). */
static void test_callgear_extension_is_internal_issue9(void)
{
    ing_events_t out;
    ing_error_t err;
    ing_ctx_t ctx = ctx_for("IT");
    json_t *body = load_json("callgear_end_answered.json");
    ASSERT_TRUE(body);
    json_object_set_new(json_object_get(body, "contact_info"), "contact_phone_number",
                        json_string("2207"));
    ASSERT_EQ_INT(ing_callgear_normalise(&ctx, "end", body, &out, &err), 0);
    ASSERT_TRUE(out.ev[0].customer_number == NULL);
    ASSERT_EQ_INT(out.ev[0].internal, 1);
    char *text = cmn_event_encode(&out.ev[0]);
    ASSERT_TRUE(text && strstr(text, "\"internal\":true"));
    free(text);
    ing_events_clear(&out);
    /* with extensions switched off the same number is refused, naming it */
    ctx.internal_max_digits = 0;
    ASSERT_EQ_INT(ing_callgear_normalise(&ctx, "end", body, &out, &err), -1);
    ASSERT_EQ_STR(err.field, "contact_info.contact_phone_number");
    json_decref(body);
}

/* Issue 9 item 4: notification_time has no offset; the CallGear time zone
 * says how to read it (UTC by default; Rome is +01:00 in March, +02:00 in
 * July; Istanbul +03:00 all year). */
static void test_callgear_time_zone_issue9(void)
{
    static const struct {
        const char *zone, *local, *utc;
    } cases[] = {
        {NULL, "2026-03-12 10:18:47", "2026-03-12T10:18:47Z"},
        {"UTC", "2026-03-12 10:18:47", "2026-03-12T10:18:47Z"},
        {"Europe/Rome", "2026-03-12 10:18:47", "2026-03-12T09:18:47Z"},
        {"Europe/Rome", "2026-07-12 10:18:47", "2026-07-12T08:18:47Z"},
        {"Europe/Istanbul", "2026-07-12 10:18:47", "2026-07-12T07:18:47Z"},
        {"America/New_York", "2026-01-05 08:00:00", "2026-01-05T13:00:00Z"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ing_events_t out;
        ing_error_t err;
        ing_ctx_t ctx = ctx_for("TR");
        json_t *body = load_json("callgear_end_answered.json");
        ASSERT_TRUE(body);
        ctx.time_zone = cases[i].zone;
        json_object_set_new(body, "notification_time", json_string(cases[i].local));
        ASSERT_EQ_INT(ing_callgear_normalise(&ctx, "end", body, &out, &err), 0);
        ASSERT_EQ_INT(out.ev[0].occurred_at_ms, at(cases[i].utc));
        ing_events_clear(&out);
        json_decref(body);
    }
    ASSERT_EQ_INT(cmn_time_zone_known("Europe/Rome"), 1);
    ASSERT_EQ_INT(cmn_time_zone_known("UTC"), 1);
    ASSERT_EQ_INT(cmn_time_zone_known("Mars/Olympus"), 0);
    ASSERT_EQ_INT(cmn_time_zone_known("../etc/passwd"), 0);
}

/* R-O1, issue 24 item 1: click-to-call's status callback URLs name the
 * ticket the agent called from, the customer (the agent's leg has none)
 * and the agent's Client (the customer's leg has none). */
static void test_twilio_url_params_R_O1(void)
{
    ing_events_t out;
    ing_error_t err = {0};
    ing_ctx_t ctx = ctx_for("IT");
    ASSERT_EQ_INT(twilio("twilio_outbound_initiated.form", &out, &err), 0);
    ASSERT_EQ_INT(ing_twilio_url_params(&ctx, "/v1/twilio/voice-status", &out, &err), 0);
    ASSERT_TRUE(out.ev[0].ticket_id == NULL);
    ASSERT_EQ_INT(ing_twilio_url_params(&ctx,
                                        "/v1/twilio/voice-status?x=1&ticket_id=48%2F213"
                                        "&customer=%2B34600000000&client=marco.bianchi",
                                        &out, &err),
                  0);
    ASSERT_EQ_STR(out.ev[0].ticket_id, "48/213");
    ASSERT_EQ_STR(out.ev[0].agent.provider_id, "marco.bianchi");
    ASSERT_EQ_STR(out.ev[0].customer_number, "+34912345678"); /* the leg's own number stays */
    ing_events_clear(&out);
    /* The agent's leg (To=client:X): no number of its own, the URL's is taken. */
    ASSERT_EQ_INT(twilio_text("CallSid=CA1&CallStatus=initiated&Direction=outbound-api"
                              "&From=%2B390287654321&To=client%3Amarco.bianchi",
                              &out, &err),
                  0);
    ASSERT_TRUE(out.ev[0].customer_number == NULL);
    ASSERT_EQ_INT(ing_twilio_url_params(&ctx, "/s?ticket_id=7&customer=%2B34912345678", &out, &err),
                  0);
    ASSERT_EQ_STR(out.ev[0].customer_number, "+34912345678");
    ASSERT_EQ_STR(out.ev[0].agent.provider_id, "marco.bianchi");
    ing_events_clear(&out);
    ASSERT_EQ_INT(twilio("twilio_outbound_initiated.form", &out, &err), 0);
    ASSERT_EQ_INT(ing_twilio_url_params(&ctx, "/s?ticket_id=a%20b", &out, &err), -1);
    ASSERT_EQ_STR(err.field, "ticket_id");
    ing_events_clear(&out);
}

TEST_MAIN("ingest_normalise", TEST_CASE(test_twilio_url_params_R_O1),
          TEST_CASE(test_callgear_international_digits_issue9),
          TEST_CASE(test_callgear_extension_is_internal_issue9),
          TEST_CASE(test_callgear_time_zone_issue9), TEST_CASE(test_events_push_bounded),
          TEST_CASE(test_fail_fills_error), TEST_CASE(test_callgear_handset_is_answered_R_T1),
          TEST_CASE(test_callgear_handset_outbound_is_outbound_answered),
          TEST_CASE(test_callgear_endleg_unanswered_operator_leg_is_offer_R_M1),
          TEST_CASE(test_callgear_endleg_answered_and_non_operator_legs),
          TEST_CASE(test_callgear_end_answered_R_T5),
          TEST_CASE(test_callgear_end_missed_names_last_offered_R_M1),
          TEST_CASE(test_callgear_end_abandoned_has_no_agent_R_M1),
          TEST_CASE(test_callgear_end_voicemail_R_T3), TEST_CASE(test_callgear_voicemail_keywords),
          TEST_CASE(test_callgear_end_voicemail_after_conversation_is_answered),
          TEST_CASE(test_callgear_end_outbound_unanswered_R_O3),
          TEST_CASE(test_callgear_end_outbound_answered), TEST_CASE(test_callgear_recording_R_T6),
          TEST_CASE(test_callgear_recording_falls_back_to_file_link),
          TEST_CASE(test_callgear_recording_links_and_name_bounded),
          TEST_CASE(test_callgear_legout_callout_are_outbound_started_R_O1),
          TEST_CASE(test_callgear_event_ids_stable_and_distinct),
          TEST_CASE(test_callgear_tolerates_template_types),
          TEST_CASE(test_callgear_missing_required_fields_are_named),
          TEST_CASE(test_callgear_bad_values_are_named),
          TEST_CASE(test_callgear_withheld_number_R_I1),
          TEST_CASE(test_callgear_rejects_unknown_notification_and_non_object),
          TEST_CASE(test_callgear_tags_bounded), TEST_CASE(test_twilio_signature_published_vector),
          TEST_CASE(test_twilio_signature_rejects_tampering),
          TEST_CASE(test_twilio_signature_order_and_port), TEST_CASE(test_form_parse_decodes),
          TEST_CASE(test_form_parse_rejects_malformed),
          TEST_CASE(test_twilio_agent_ringing_is_offered_R_P2),
          TEST_CASE(test_twilio_agent_in_progress_is_answered_R_T1),
          TEST_CASE(test_twilio_agent_leg_completed_is_leg_ended_answered),
          TEST_CASE(test_twilio_agent_no_answer_is_leg_missed_R_M1),
          TEST_CASE(test_twilio_inbound_completed_is_ended_R_T5),
          TEST_CASE(test_twilio_inbound_canceled_is_abandoned_R_M1),
          TEST_CASE(test_twilio_outbound_initiated_is_started_R_O1),
          TEST_CASE(test_twilio_outbound_completed_is_answered_R_M3),
          TEST_CASE(test_twilio_outbound_busy_is_missed_R_O3),
          TEST_CASE(test_twilio_recording_completed_R_T6),
          TEST_CASE(test_twilio_uninteresting_callbacks_yield_nothing),
          TEST_CASE(test_twilio_event_ids),
          TEST_CASE(test_twilio_missing_or_bad_parameters_are_named),
          TEST_CASE(test_twilio_anonymous_caller_R_I1), TEST_CASE(test_webex_offered_R_P2),
          TEST_CASE(test_webex_answered_R_T1), TEST_CASE(test_webex_transferred_R_T4),
          TEST_CASE(test_webex_ended_R_T5), TEST_CASE(test_webex_ended_abandoned_R_M1),
          TEST_CASE(test_webex_outbound_answered), TEST_CASE(test_webex_ids),
          TEST_CASE(test_webex_missing_fields_are_named),
          TEST_CASE(test_webex_bad_values_are_named), TEST_CASE(test_webex_csat_R_T12),
          TEST_CASE(test_generic_signature_valid), TEST_CASE(test_generic_signature_rejections),
          TEST_CASE(test_generic_tvox_event_R_T8), TEST_CASE(test_generic_batch),
          TEST_CASE(test_generic_rejections_are_named),
          TEST_CASE(test_every_fixture_yields_valid_events_with_stable_ids))
