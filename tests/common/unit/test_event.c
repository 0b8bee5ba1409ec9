/* cmn_event: the canonical call event — every member through encode/decode,
 * the validation rules and the field each failure names, the stable event id,
 * the Kafka key (R-I1: the customer's E.164 number, call id if withheld), and
 * the strict decoder (duplicate keys, unknown members). */
#include "cmn_event.h"
#include "test.h"

#include <stdint.h>
#include <string.h>

#define T0 INT64_C(1795259108123) /* 2026-11-21T11:05:08.123Z */

/* Every member set; the test owns the event (cmn_event_clear). */
static int build_full(cmn_event_t *ev)
{
    cmn_event_init(ev);
    ev->type = CMN_EV_ENDED;
    ev->direction = CMN_DIR_INBOUND;
    ev->outcome = CMN_OUT_VOICEMAIL;
    ev->wait_s = 12;
    ev->talk_s = 0; /* 0 is a value, not "unknown" */
    ev->hold_s = 7;
    ev->total_s = 95;
    ev->recording_duration_s = 41;
    ev->csat_score = 3;
    ev->csat_scale = 5;
    ev->occurred_at_ms = T0;
    ev->received_at_ms = T0 + 877;
    int rc = cmn_event_set(&ev->event_id, "callgear-00112233445566778899aabbccddeeff") |
             cmn_event_set(&ev->provider, "callgear") | cmn_event_set(&ev->call_id, "987654321") |
             cmn_event_set(&ev->leg_id, "987654321-2") |
             cmn_event_set(&ev->parent_call_id, "987654300") |
             cmn_event_set(&ev->customer_number, "+390612345678") |
             cmn_event_set(&ev->dialled_number, "+39 02 9475 0000") |
             cmn_event_set(&ev->agent.provider_id, "1042") |
             cmn_event_set(&ev->agent.crm_id, "361945") |
             cmn_event_set(&ev->agent.name, "Giulia \"Giuli\" Bianchi") |
             cmn_event_set(&ev->previous_agent.provider_id, "1077") |
             cmn_event_set(&ev->previous_agent.crm_id, "361988") |
             cmn_event_set(&ev->previous_agent.name, "Şükrü Çelik") |
             cmn_event_set(&ev->queue, "billing") | cmn_event_set(&ev->language, "it-IT") |
             cmn_event_set(&ev->ticket_id, "48213") |
             cmn_event_set(&ev->ticket_type, "billing_dispute") |
             cmn_event_set(&ev->recording_url, "https://rec.example/987654321.mp3?sig=a/b") |
             cmn_event_add_tag(ev, "vip") | cmn_event_add_tag(ev, "billing");
    return rc;
}

static int str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static int agent_eq(const cmn_agent_t *a, const cmn_agent_t *b)
{
    return str_eq(a->provider_id, b->provider_id) && str_eq(a->crm_id, b->crm_id) &&
           str_eq(a->name, b->name);
}

/* Member-by-member equality; prints the first difference. */
static int events_equal(const cmn_event_t *a, const cmn_event_t *b)
{
#define SAME(cond, what)                                                                           \
    if (!(cond)) {                                                                                 \
        fprintf(stderr, "events differ in %s\n", what);                                            \
        return 0;                                                                                  \
    }
    SAME(str_eq(a->event_id, b->event_id), "event_id");
    SAME(a->type == b->type, "type");
    SAME(str_eq(a->provider, b->provider), "provider");
    SAME(str_eq(a->call_id, b->call_id), "call_id");
    SAME(str_eq(a->leg_id, b->leg_id), "leg_id");
    SAME(str_eq(a->parent_call_id, b->parent_call_id), "parent_call_id");
    SAME(a->direction == b->direction, "direction");
    SAME(str_eq(a->customer_number, b->customer_number), "customer_number");
    SAME(str_eq(a->dialled_number, b->dialled_number), "dialled_number");
    SAME(agent_eq(&a->agent, &b->agent), "agent");
    SAME(agent_eq(&a->previous_agent, &b->previous_agent), "previous_agent");
    SAME(str_eq(a->queue, b->queue), "queue");
    SAME(str_eq(a->language, b->language), "language");
    SAME(str_eq(a->ticket_id, b->ticket_id), "ticket_id");
    SAME(str_eq(a->ticket_type, b->ticket_type), "ticket_type");
    SAME(a->outcome == b->outcome, "outcome");
    SAME(a->wait_s == b->wait_s && a->talk_s == b->talk_s && a->hold_s == b->hold_s &&
             a->total_s == b->total_s,
         "durations");
    SAME(str_eq(a->recording_url, b->recording_url), "recording.url");
    SAME(a->recording_duration_s == b->recording_duration_s, "recording.duration_s");
    SAME(a->csat_score == b->csat_score && a->csat_scale == b->csat_scale, "csat");
    SAME(a->n_tags == b->n_tags, "tags");
    for (size_t i = 0; i < a->n_tags; i++)
        SAME(strcmp(a->tags[i], b->tags[i]) == 0, "tags[i]");
    SAME(a->occurred_at_ms == b->occurred_at_ms, "occurred_at");
    SAME(a->received_at_ms == b->received_at_ms, "received_at");
    return 1;
#undef SAME
}

static char err[256], field[96];

static int decode(const char *text, cmn_event_t *ev)
{
    err[0] = field[0] = '\0';
    return cmn_event_decode(text, strlen(text), ev, err, sizeof err, field, sizeof field);
}

static void test_round_trip_every_member(void)
{
    cmn_event_t ev, back;
    ASSERT_EQ_INT(build_full(&ev), 0);
    ASSERT_EQ_INT(cmn_event_validate(&ev, err, sizeof err, field, sizeof field), 0);
    char *text = cmn_event_encode(&ev);
    ASSERT_TRUE(text != NULL);
    int rc = decode(text, &back);
    if (rc != 0)
        fprintf(stderr, "decode: %s: %s\n%s\n", field, err, text);
    ASSERT_EQ_INT(rc, 0);
    int same = events_equal(&ev, &back);
    char *again = cmn_event_encode(&back);
    int stable = again && strcmp(text, again) == 0; /* encode(decode(x)) == x */
    free(again);
    cmn_event_clear(&back);
    cmn_event_clear(&ev);
    free(text);
    ASSERT_TRUE(same);
    ASSERT_TRUE(stable);
}

/* The wire form: member names, order, time text. */
static void test_encoding(void)
{
    cmn_event_t ev;
    ASSERT_EQ_INT(build_full(&ev), 0);
    char *text = cmn_event_encode(&ev);
    cmn_event_clear(&ev);
    ASSERT_TRUE(text != NULL);
    ASSERT_EQ_STR(
        text,
        "{\"schema_version\":1,\"type\":\"call.ended\","
        "\"event_id\":\"callgear-00112233445566778899aabbccddeeff\",\"provider\":\"callgear\","
        "\"call_id\":\"987654321\",\"leg_id\":\"987654321-2\",\"parent_call_id\":\"987654300\","
        "\"customer_number\":\"+390612345678\",\"dialled_number\":\"+39 02 9475 0000\","
        "\"queue\":\"billing\",\"language\":\"it-IT\",\"ticket_id\":\"48213\","
        "\"ticket_type\":\"billing_dispute\",\"direction\":\"inbound\",\"outcome\":\"voicemail\","
        "\"agent\":{\"provider_id\":\"1042\",\"crm_id\":\"361945\","
        "\"name\":\"Giulia \\\"Giuli\\\" Bianchi\"},"
        "\"previous_agent\":{\"provider_id\":\"1077\",\"crm_id\":\"361988\","
        "\"name\":\"\xc5\x9e\xc3\xbckr\xc3\xbc \xc3\x87\x65lik\"},"
        "\"durations\":{\"wait_s\":12,\"talk_s\":0,\"hold_s\":7,\"total_s\":95},"
        "\"recording\":{\"url\":\"https://rec.example/987654321.mp3?sig=a/b\",\"duration_s\":41},"
        "\"csat\":{\"score\":3,\"scale\":5},\"tags\":[\"vip\",\"billing\"],"
        "\"occurred_at\":\"2026-11-21T11:05:08.123Z\",\"received_at\":\"2026-11-21T11:05:09."
        "000Z\"}");
    free(text);
}

/* Unknown durations, no recording, no csat, no tags, no agents: not written. */
static void test_absent_members_not_encoded(void)
{
    cmn_event_t ev;
    cmn_event_init(&ev);
    ev.type = CMN_EV_AGENT_LOGIN;
    ev.occurred_at_ms = T0;
    ev.received_at_ms = T0;
    ASSERT_EQ_INT(cmn_event_set(&ev.event_id, "tvox-agent-login-1042") |
                      cmn_event_set(&ev.provider, "tvox") |
                      cmn_event_set(&ev.agent.provider_id, "1042"),
                  0);
    ASSERT_EQ_INT(cmn_event_validate(&ev, err, sizeof err, field, sizeof field), 0);
    char *text = cmn_event_encode(&ev);
    cmn_event_clear(&ev);
    ASSERT_EQ_STR(text, "{\"schema_version\":1,\"type\":\"agent.login\","
                        "\"event_id\":\"tvox-agent-login-1042\",\"provider\":\"tvox\","
                        "\"agent\":{\"provider_id\":\"1042\"},"
                        "\"occurred_at\":\"2026-11-21T11:05:08.123Z\","
                        "\"received_at\":\"2026-11-21T11:05:08.123Z\"}");
    free(text);
}

static void test_names(void)
{
    ASSERT_EQ_STR(cmn_event_type_name(CMN_EV_OFFERED), "call.offered");
    ASSERT_EQ_STR(cmn_event_type_name(CMN_EV_AGENT_LOGOUT), "agent.logout");
    ASSERT_EQ_STR(cmn_event_type_name(CMN_EV_NONE), "none");
    ASSERT_EQ_STR(cmn_event_type_name(CMN_EV__COUNT), "none");
    for (int t = CMN_EV_NONE + 1; t < CMN_EV__COUNT; t++)
        ASSERT_EQ_INT(cmn_event_type_parse(cmn_event_type_name((cmn_event_type_t)t)), t);
    ASSERT_EQ_INT(cmn_event_type_parse("call.parked"), CMN_EV_NONE);
    ASSERT_EQ_INT(cmn_event_type_parse("none"), CMN_EV_NONE);
    ASSERT_EQ_STR(cmn_outcome_name(CMN_OUT_ABANDONED), "abandoned");
    ASSERT_EQ_STR(cmn_outcome_name(CMN_OUT_NONE), "none");
    ASSERT_EQ_STR(cmn_direction_name(CMN_DIR_OUTBOUND), "outbound");
    ASSERT_EQ_STR(cmn_direction_name(CMN_DIR_NONE), "none");
}

static void test_set_and_clear(void)
{
    cmn_event_t ev;
    cmn_event_init(&ev);
    ASSERT_EQ_INT(ev.wait_s, CMN_DURATION_UNKNOWN);
    ASSERT_EQ_INT(ev.recording_duration_s, CMN_DURATION_UNKNOWN);
    ASSERT_EQ_INT(ev.csat_score, -1);
    char value[] = "abc";
    ASSERT_EQ_INT(cmn_event_set(&ev.queue, value), 0);
    value[0] = 'X'; /* a copy was taken */
    ASSERT_EQ_STR(ev.queue, "abc");
    ASSERT_EQ_INT(cmn_event_set(&ev.queue, "def"), 0);
    ASSERT_EQ_STR(ev.queue, "def");
    ASSERT_EQ_INT(cmn_event_set(&ev.queue, NULL), 0);
    ASSERT_TRUE(ev.queue == NULL);
    ASSERT_EQ_INT(build_full(&ev), 0);
    cmn_event_clear(&ev);
    ASSERT_TRUE(ev.call_id == NULL && ev.n_tags == 0 && ev.tags == NULL);
    ASSERT_EQ_INT(ev.total_s, CMN_DURATION_UNKNOWN);
    cmn_event_clear(&ev); /* twice is fine */
    cmn_event_clear(NULL);
}

/* A valid event of `type`, minimal for its rules. */
static void minimal(cmn_event_t *ev, cmn_event_type_t type)
{
    cmn_event_init(ev);
    ev->type = type;
    ev->occurred_at_ms = ev->received_at_ms = T0;
    int rc =
        cmn_event_set(&ev->event_id, "generic-test-0001") | cmn_event_set(&ev->provider, "generic");
    if (type != CMN_EV_AGENT_LOGIN && type != CMN_EV_AGENT_LOGOUT) {
        rc |= cmn_event_set(&ev->call_id, "c1");
        ev->direction = (type == CMN_EV_OUTBOUND_STARTED || type == CMN_EV_OUTBOUND_ANSWERED ||
                         type == CMN_EV_OUTBOUND_ENDED)
                            ? CMN_DIR_OUTBOUND
                            : CMN_DIR_INBOUND;
    }
    if (type == CMN_EV_OFFERED || type == CMN_EV_ANSWERED || type == CMN_EV_TRANSFERRED ||
        type == CMN_EV_AGENT_LOGIN || type == CMN_EV_AGENT_LOGOUT)
        rc |= cmn_event_set(&ev->agent.provider_id, "1042");
    if (type == CMN_EV_ENDED || type == CMN_EV_OUTBOUND_ENDED)
        ev->outcome = CMN_OUT_ANSWERED;
    if (type == CMN_EV_RECORDING_READY)
        rc |= cmn_event_set(&ev->recording_url, "https://rec.example/1.mp3");
    if (type == CMN_EV_CSAT) {
        ev->csat_score = 5;
        ev->csat_scale = 5;
    }
    if (rc)
        abort();
}

static void test_minimal_events_valid(void)
{
    for (int t = CMN_EV_NONE + 1; t < CMN_EV__COUNT; t++) {
        cmn_event_t ev;
        minimal(&ev, (cmn_event_type_t)t);
        int rc = cmn_event_validate(&ev, err, sizeof err, field, sizeof field);
        if (rc)
            fprintf(stderr, "%s: %s: %s\n", cmn_event_type_name((cmn_event_type_t)t), field, err);
        cmn_event_clear(&ev);
        ASSERT_EQ_INT(rc, 0);
    }
}

/* Breaks one rule of a minimal event and checks the field named. */
typedef void (*breaker_fn)(cmn_event_t *ev);
static void expect_invalid(cmn_event_type_t type, breaker_fn brk, const char *want_field)
{
    cmn_event_t ev;
    minimal(&ev, type);
    brk(&ev);
    strcpy(field, "(unset)");
    err[0] = '\0';
    int rc = cmn_event_validate(&ev, err, sizeof err, field, sizeof field);
    cmn_event_clear(&ev);
    if (rc != -1 || strcmp(field, want_field) != 0)
        fprintf(stderr, "%s: rc %d field \"%s\" (want \"%s\"): %s\n", cmn_event_type_name(type), rc,
                field, want_field, err);
    ASSERT_EQ_INT(rc, -1);
    ASSERT_EQ_STR(field, want_field);
    ASSERT_TRUE(err[0] != '\0');
}

#define BREAKER(name, body)                                                                        \
    static void name(cmn_event_t *ev)                                                              \
    {                                                                                              \
        body;                                                                                      \
    }
#define SET(member, value)                                                                         \
    if (cmn_event_set(&ev->member, value))                                                         \
    abort()
BREAKER(no_type, ev->type = CMN_EV_NONE)
BREAKER(no_event_id, SET(event_id, NULL))
BREAKER(short_event_id, SET(event_id, "gen-1"))
BREAKER(slash_event_id, SET(event_id, "generic/0001"))
BREAKER(bad_provider, SET(provider, "genesys"))
BREAKER(no_provider, SET(provider, NULL))
BREAKER(national_number, SET(customer_number, "0612345678"))
BREAKER(no_call_id, SET(call_id, NULL))
BREAKER(empty_call_id, SET(call_id, ""))
BREAKER(no_direction, ev->direction = CMN_DIR_NONE)
BREAKER(inbound, ev->direction = CMN_DIR_INBOUND)
BREAKER(no_agent, SET(agent.provider_id, NULL))
BREAKER(empty_agent, SET(agent.provider_id, ""))
BREAKER(no_outcome, ev->outcome = CMN_OUT_NONE)
BREAKER(voicemail, ev->outcome = CMN_OUT_VOICEMAIL)
BREAKER(no_recording, SET(recording_url, NULL))
BREAKER(ftp_recording, SET(recording_url, "ftp://rec.example/1.mp3"))
BREAKER(csat_over, ev->csat_score = 6)
BREAKER(csat_scale_0, ev->csat_scale = 0)
BREAKER(csat_none, ev->csat_score = -1)
BREAKER(long_queue, SET(queue, "0123456789012345678901234567890123456789012345678901234567890123"
                               "45678901234567890123456789012345678901234567890123456789012345678"))
BREAKER(long_language, SET(language, "it-IT-x-aaaaaaaa-bbbbbbbb-cccccccc-d"))
BREAKER(negative_wait, ev->wait_s = -2)
/* issue 7 items 1 and 9: ids that become keys are whole visible ASCII;
 * durations stay in range (talk_s + hold_s cannot overflow) */
#define X129                                                                                       \
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" \
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
BREAKER(long_call_id, SET(call_id, X129))
BREAKER(accented_call_id, SET(call_id, "chiamata-\xc3\xa8"))
BREAKER(spaced_leg_id, SET(leg_id, "leg 1"))
BREAKER(long_provider_id, SET(agent.provider_id, X129))
BREAKER(long_previous_provider_id, SET(previous_agent.provider_id, X129))
BREAKER(long_crm_id, SET(agent.crm_id, "123456789012345678901234567890123456789012345678"))
BREAKER(huge_talk, ev->talk_s = INT64_MAX)
BREAKER(huge_recording, ev->recording_duration_s = CMN_DURATION_MAX + 1)
BREAKER(no_occurred_at, ev->occurred_at_ms = 0)
BREAKER(no_received_at, ev->received_at_ms = 0)
static void many_tags(cmn_event_t *ev)
{
    for (int i = 0; i < 33; i++)
        if (cmn_event_add_tag(ev, "t"))
            abort();
}
BREAKER(empty_tag, if (cmn_event_add_tag(ev, "")) abort())
BREAKER(latin1_queue, SET(queue, "caf\xe9"))
BREAKER(latin1_agent_name, SET(agent.name, "Jos\xe9"))
BREAKER(latin1_tag, if (cmn_event_add_tag(ev, "\xff")) abort())
/* Issue 8 item 5: what jansson refuses, validation refuses too. */
BREAKER(surrogate_queue, SET(queue, "a\xed\xa0\x80"))              /* U+D800 */
BREAKER(overlong_queue, SET(queue, "\xe0\x80\xaf"))                /* '/' in 3 bytes */
BREAKER(overlong4_agent_name, SET(agent.name, "\xf0\x80\x80\xaf")) /* '/' in 4 */
BREAKER(beyond_unicode_tag, if (cmn_event_add_tag(ev, "\xf4\x90\x80\x80")) abort())

static void test_validation_agrees_with_jansson(void)
{
    expect_invalid(CMN_EV_OFFERED, surrogate_queue, "queue");
    expect_invalid(CMN_EV_OFFERED, overlong_queue, "queue");
    expect_invalid(CMN_EV_ANSWERED, overlong4_agent_name, "agent");
    expect_invalid(CMN_EV_OFFERED, beyond_unicode_tag, "tags");
}

static void test_validation_names_the_field(void)
{
    expect_invalid(CMN_EV_ENDED, no_type, "type");
    expect_invalid(CMN_EV_ENDED, no_event_id, "event_id");
    expect_invalid(CMN_EV_ENDED, short_event_id, "event_id");
    expect_invalid(CMN_EV_ENDED, slash_event_id, "event_id");
    expect_invalid(CMN_EV_ENDED, bad_provider, "provider");
    expect_invalid(CMN_EV_ENDED, no_provider, "provider");
    expect_invalid(CMN_EV_ENDED, national_number, "customer_number");
    expect_invalid(CMN_EV_OFFERED, no_call_id, "call_id");
    expect_invalid(CMN_EV_LEG_ENDED, empty_call_id, "call_id");
    expect_invalid(CMN_EV_ANSWERED, no_direction, "direction");
    expect_invalid(CMN_EV_OUTBOUND_STARTED, inbound, "direction");
    expect_invalid(CMN_EV_OUTBOUND_ANSWERED, inbound, "direction");
    expect_invalid(CMN_EV_OFFERED, no_agent, "agent.provider_id");
    expect_invalid(CMN_EV_TRANSFERRED, no_agent, "agent.provider_id");
    expect_invalid(CMN_EV_AGENT_LOGIN, empty_agent, "agent.provider_id");
    expect_invalid(CMN_EV_AGENT_LOGOUT, no_agent, "agent.provider_id");
    expect_invalid(CMN_EV_ENDED, no_outcome, "outcome");
    expect_invalid(CMN_EV_OUTBOUND_ENDED, no_outcome, "outcome");
    expect_invalid(CMN_EV_OUTBOUND_ENDED, voicemail, "outcome");
    expect_invalid(CMN_EV_RECORDING_READY, no_recording, "recording.url");
    expect_invalid(CMN_EV_RECORDING_READY, ftp_recording, "recording.url");
    expect_invalid(CMN_EV_CSAT, csat_over, "csat.score");
    expect_invalid(CMN_EV_CSAT, csat_scale_0, "csat.score");
    expect_invalid(CMN_EV_CSAT, csat_none, "csat.score");
    expect_invalid(CMN_EV_ENDED, long_queue, "queue");
    expect_invalid(CMN_EV_ENDED, long_language, "language");
    expect_invalid(CMN_EV_ENDED, negative_wait, "durations.wait_s");
    expect_invalid(CMN_EV_ENDED, long_call_id, "call_id");
    expect_invalid(CMN_EV_ENDED, accented_call_id, "call_id");
    expect_invalid(CMN_EV_ENDED, spaced_leg_id, "leg_id");
    expect_invalid(CMN_EV_ANSWERED, long_provider_id, "agent.provider_id");
    expect_invalid(CMN_EV_TRANSFERRED, long_previous_provider_id, "previous_agent.provider_id");
    expect_invalid(CMN_EV_ANSWERED, long_crm_id, "agent.crm_id");
    expect_invalid(CMN_EV_ENDED, huge_talk, "durations.talk_s");
    expect_invalid(CMN_EV_RECORDING_READY, huge_recording, "recording.duration_s");
    expect_invalid(CMN_EV_ENDED, many_tags, "tags");
    expect_invalid(CMN_EV_ENDED, empty_tag, "tags");
    /* what jansson could not encode is refused up front */
    expect_invalid(CMN_EV_ENDED, latin1_queue, "queue");
    expect_invalid(CMN_EV_ANSWERED, latin1_agent_name, "agent");
    expect_invalid(CMN_EV_ENDED, latin1_tag, "tags");
    expect_invalid(CMN_EV_ENDED, no_occurred_at, "occurred_at");
    expect_invalid(CMN_EV_ENDED, no_received_at, "received_at");
}

/* agent.* events carry no call: call_id and direction are not required. */
static void test_agent_events_need_no_call(void)
{
    cmn_event_t ev;
    minimal(&ev, CMN_EV_AGENT_LOGOUT);
    ASSERT_TRUE(ev.call_id == NULL && ev.direction == CMN_DIR_NONE);
    int rc = cmn_event_validate(&ev, err, sizeof err, field, sizeof field);
    cmn_event_clear(&ev);
    ASSERT_EQ_INT(rc, 0);
}

/* The decoder names the member too (JSON path for nested ones). */
static void expect_decode_error(const char *json, const char *want_field)
{
    cmn_event_t ev;
    int rc = decode(json, &ev);
    if (rc != -1 || strcmp(field, want_field) != 0)
        fprintf(stderr, "%s\n  -> rc %d field \"%s\" (want \"%s\"): %s\n", json, rc, field,
                want_field, err);
    ASSERT_EQ_INT(rc, -1);
    ASSERT_EQ_STR(field, want_field);
    /* on failure the event is left empty (nothing to free, nothing half-set) */
    ASSERT_TRUE(ev.event_id == NULL && ev.call_id == NULL && ev.tags == NULL &&
                ev.type == CMN_EV_NONE);
}

#define HEAD                                                                                       \
    "{\"schema_version\":1,\"type\":\"call.ended\",\"event_id\":\"generic-test-0001\","            \
    "\"provider\":\"generic\",\"call_id\":\"c1\",\"direction\":\"inbound\",\"outcome\":"           \
    "\"missed\",\"occurred_at\":\"2026-11-21T11:05:08Z\",\"received_at\":\"2026-11-21T11:05:08Z\""

static void test_decode_errors(void)
{
    cmn_event_t ev;
    ASSERT_EQ_INT(decode(HEAD "}", &ev), 0);
    cmn_event_clear(&ev);
    expect_decode_error("[1]", "");
    expect_decode_error("{\"type\":", "");
    expect_decode_error("{\"type\":\"call.ended\"}", "schema_version");
    expect_decode_error(HEAD ",\"schema_version\":2}", ""); /* duplicate: JSON level */
    expect_decode_error(HEAD ",\"caller\":\"x\"}", "caller");
    expect_decode_error(HEAD ",\"queue\":7}", "queue");
    expect_decode_error(HEAD ",\"agent\":[]}", "agent");
    expect_decode_error(HEAD ",\"agent\":{\"id\":\"1\"}}", "agent.id");
    expect_decode_error(HEAD ",\"previous_agent\":{\"name\":1}}", "previous_agent.name");
    expect_decode_error(HEAD ",\"durations\":{\"ring_s\":1}}", "durations.ring_s");
    expect_decode_error(HEAD ",\"durations\":{\"wait_s\":-1}}", "durations.wait_s");
    expect_decode_error(HEAD ",\"durations\":{\"wait_s\":\"3\"}}", "durations.wait_s");
    expect_decode_error(HEAD ",\"durations\":[]}", "durations");
    expect_decode_error(HEAD ",\"recording\":{\"url\":1}}", "recording.url");
    expect_decode_error(HEAD ",\"recording\":{\"url\":\"https://x\",\"duration_s\":-5}}",
                        "recording.duration_s");
    expect_decode_error(HEAD ",\"csat\":{\"score\":1}}", "csat");
    expect_decode_error(HEAD ",\"csat\":{\"score\":1,\"scale\":5,\"comment\":\"ok\"}}", "csat");
    expect_decode_error(HEAD ",\"tags\":\"vip\"}", "tags");
    expect_decode_error(HEAD ",\"tags\":[\"vip\",null]}", "tags");
    expect_decode_error("{\"schema_version\":1,\"type\":\"call.ended\",\"occurred_at\":\"now\"}",
                        "occurred_at");
    expect_decode_error("{\"schema_version\":1,\"type\":\"call.hold\"}", "type");
    expect_decode_error("{\"schema_version\":1,\"type\":7}", "type");
    expect_decode_error("{\"schema_version\":1,\"direction\":\"in\"}", "direction");
    expect_decode_error("{\"schema_version\":1,\"outcome\":\"none\"}", "outcome");
    expect_decode_error("{\"schema_version\":true}", "schema_version");
}

/* Two members of the same name would let two readers see two events. */
static void test_duplicate_keys_rejected(void)
{
    cmn_event_t ev;
    ASSERT_EQ_INT(decode(HEAD ",\"call_id\":\"c2\"}", &ev), -1);
    ASSERT_TRUE(strstr(err, "duplicate") != NULL);
    ASSERT_EQ_INT(decode(HEAD ",\"agent\":{\"provider_id\":\"1\",\"provider_id\":\"2\"}}", &ev),
                  -1);
    ASSERT_TRUE(strstr(err, "duplicate") != NULL);
}

static void test_decode_times_normalised(void)
{
    cmn_event_t ev;
    const char *json =
        "{\"schema_version\":1,\"type\":\"agent.login\",\"event_id\":\"tvox-1042-1\","
        "\"provider\":\"tvox\",\"agent\":{\"provider_id\":\"1042\"},"
        "\"occurred_at\":\"2026-11-21T14:05:08.123+03:00\","
        "\"received_at\":\"2026-11-21T11:05:08.9Z\"}";
    ASSERT_EQ_INT(decode(json, &ev), 0);
    ASSERT_EQ_INT(ev.occurred_at_ms, T0);
    ASSERT_EQ_INT(ev.received_at_ms, T0 - 123 + 900);
    char *text = cmn_event_encode(&ev);
    cmn_event_clear(&ev);
    ASSERT_TRUE(text && strstr(text, "\"occurred_at\":\"2026-11-21T11:05:08.123Z\"") != NULL);
    ASSERT_TRUE(strstr(text, "\"received_at\":\"2026-11-21T11:05:08.900Z\"") != NULL);
    free(text);
}

/* csat is range-checked by the decoder whatever the type, before the values
 * are narrowed to int (2^32 + 5 must not become 5). */
static void test_decode_csat_range(void)
{
    cmn_event_t ev;
    static const char *const bad[] = {
        HEAD ",\"csat\":{\"score\":3,\"scale\":4294967301}}",
        HEAD ",\"csat\":{\"score\":-3,\"scale\":5}}",
        HEAD ",\"csat\":{\"score\":7,\"scale\":5}}",
        HEAD ",\"csat\":{\"score\":0,\"scale\":0}}",
        HEAD ",\"csat\":{\"score\":101,\"scale\":101}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_decode_error(bad[i], "csat.score");
    ASSERT_EQ_INT(decode(HEAD ",\"csat\":{\"score\":100,\"scale\":100}}", &ev), 0);
    ASSERT_EQ_INT(ev.csat_score, 100);
    cmn_event_clear(&ev);
}

/* Found while writing the schema (tests/schema KNOWN_DIVERGENCES). */
static void test_validation_edges(void)
{
    cmn_event_t ev;
    int rc = decode(HEAD ",\"recording\":{\"duration_s\":5}}", &ev);
    cmn_event_clear(&ev);
    ASSERT_TRUE(rc == -1);
    rc = decode(HEAD ",\"recording\":{\"url\":\"ftp://r.example/1.mp3\"}}", &ev);
    cmn_event_clear(&ev);
    ASSERT_TRUE(rc == -1);
    /* an event built in C: the decoder checks csat, cmn_event_validate does
     * so only for call.csat, so the encoder can still write what the decoder
     * and the schema refuse */
    minimal(&ev, CMN_EV_ENDED);
    ev.csat_score = 7;
    ev.csat_scale = 5;
    rc = cmn_event_validate(&ev, err, sizeof err, field, sizeof field);
    cmn_event_clear(&ev);
    ASSERT_TRUE(rc == -1);
}

/* "<provider>-<32 hex>", SHA-256 over the parts, NUL-separated: a provider's
 * re-post of the same notification gets the same id. */
static void test_event_id_derive(void)
{
    char a[CMN_EVENT_ID_MAX], b[CMN_EVENT_ID_MAX];
    const char *parts[] = {"987654321", "call.answered", "2026-11-21 11:05:08"};
    cmn_event_id_derive(a, sizeof a, "callgear", parts, 3);
    cmn_event_id_derive(b, sizeof b, "callgear", parts, 3);
    ASSERT_EQ_STR(a, b);
    ASSERT_EQ_INT(strlen(a), strlen("callgear-") + 32);
    ASSERT_TRUE(strncmp(a, "callgear-", 9) == 0);
    for (size_t i = 9; i < strlen(a); i++)
        ASSERT_TRUE((a[i] >= '0' && a[i] <= '9') || (a[i] >= 'a' && a[i] <= 'f'));
    /* pinned: the id must not change between releases, or replays double up */
    const char *one[] = {"abc"};
    cmn_event_id_derive(b, sizeof b, "generic", one, 1);
    /* python3 -c 'import hashlib; print(hashlib.sha256(b"abc\0").hexdigest()[:32])' */
    ASSERT_EQ_STR(b, "generic-dc1114cd074914bd872cc1f9a23ec910");
    /* parts are separated: {"ab","c"} differs from {"a","bc"} */
    const char *p1[] = {"ab", "c"}, *p2[] = {"a", "bc"};
    cmn_event_id_derive(a, sizeof a, "generic", p1, 2);
    cmn_event_id_derive(b, sizeof b, "generic", p2, 2);
    ASSERT_TRUE(strcmp(a, b) != 0);
    /* the provider prefix is not hashed, so it distinguishes on its own */
    cmn_event_id_derive(a, sizeof a, "twilio", parts, 3);
    ASSERT_TRUE(strncmp(a, "twilio-", 7) == 0);
    /* an id is a valid event_id (8-128 of [A-Za-z0-9._:-]) */
    cmn_event_t ev;
    minimal(&ev, CMN_EV_ENDED);
    int rc = cmn_event_set(&ev.event_id, a);
    rc |= cmn_event_validate(&ev, err, sizeof err, field, sizeof field);
    cmn_event_clear(&ev);
    ASSERT_EQ_INT(rc, 0);
}

/* R-I1 / ARCHITECTURE "one customer, one partition": key by the customer's
 * E.164 number; a withheld number falls back to the call id; an agent.*
 * event (neither) should fall back to the agent's id. */
static void test_key(void)
{
    cmn_event_t ev;
    minimal(&ev, CMN_EV_ENDED);
    ASSERT_EQ_STR(cmn_event_key(&ev), "c1");
    ASSERT_EQ_INT(cmn_event_set(&ev.customer_number, "+905321234567"), 0);
    ASSERT_EQ_STR(cmn_event_key(&ev), "+905321234567");
    cmn_event_clear(&ev);
    /* agent.* events have no customer and no call; ingest's generic route
     * publishes them with strlen(cmn_event_key(ev)) */
    minimal(&ev, CMN_EV_AGENT_LOGIN);
    const char *key = cmn_event_key(&ev);
    int agent_key = key && strcmp(key, "1042") == 0;
    cmn_event_clear(&ev);
    ASSERT_TRUE(agent_key);
}

TEST_MAIN("event", TEST_CASE(test_round_trip_every_member), TEST_CASE(test_encoding),
          TEST_CASE(test_absent_members_not_encoded), TEST_CASE(test_names),
          TEST_CASE(test_set_and_clear), TEST_CASE(test_minimal_events_valid),
          TEST_CASE(test_validation_names_the_field), TEST_CASE(test_agent_events_need_no_call),
          TEST_CASE(test_decode_errors), TEST_CASE(test_duplicate_keys_rejected),
          TEST_CASE(test_decode_times_normalised), TEST_CASE(test_decode_csat_range),
          TEST_CASE(test_validation_edges), TEST_CASE(test_validation_agrees_with_jansson),
          TEST_CASE(test_event_id_derive), TEST_CASE(test_key))
