/* The grouper's rules (services/missed/mis_rules.c), no I/O: R-M1..R-M4,
 * replays, and working hours across a midnight and a DST change. */
#include "cmn_time.h"
#include "mis_rules.h"
#include "mis_store.h"
#include "test.h"

static mis_policy_t pol;
static const char *const NUMBER = "+390612345678";

/* An event of call `call_id`; `n` makes the event id unique per step. */
static void event(cmn_event_t *ev, cmn_event_type_t type, const char *call_id, const char *step,
                  cmn_direction_t dir, cmn_outcome_t outcome, const char *agent_crm,
                  const char *when)
{
    char id[96];
    cmn_event_init(ev);
    snprintf(id, sizeof id, "generic-%s-%s", call_id, step);
    ev->type = type;
    ev->direction = dir;
    ev->outcome = outcome;
    if (cmn_event_set(&ev->event_id, id) < 0 || cmn_event_set(&ev->call_id, call_id) < 0 ||
        cmn_event_set(&ev->customer_number, NUMBER) < 0 ||
        (agent_crm && (cmn_event_set(&ev->agent.crm_id, agent_crm) < 0 ||
                       cmn_event_set(&ev->agent.provider_id, agent_crm) < 0)))
        abort();
    if (cmn_time_parse(when ? when : "2026-11-23T10:00:00Z", &ev->occurred_at_ms) < 0)
        abort();
}

/* Applies one event to *st and returns its plan in *out. */
static int apply(mis_state_t *st, cmn_event_type_t type, const char *call_id, const char *step,
                 cmn_direction_t dir, cmn_outcome_t outcome, const char *agent, const char *when,
                 mis_plan_t *out)
{
    cmn_event_t ev;
    event(&ev, type, call_id, step, dir, outcome, agent, when);
    int rc = mis_decide(&pol, &ev, st, out);
    cmn_event_clear(&ev);
    *st = out->state;
    return rc;
}

#define IN CMN_DIR_INBOUND
#define OUT CMN_DIR_OUTBOUND

/* An inbound call offered to `agent` (NULL: never offered) and missed. */
static void missed_call(mis_state_t *st, const char *call_id, const char *agent, mis_plan_t *out)
{
    if (agent)
        apply(st, CMN_EV_OFFERED, call_id, "offer", IN, CMN_OUT_NONE, agent, NULL, out);
    apply(st, CMN_EV_ENDED, call_id, "end", IN, agent ? CMN_OUT_MISSED : CMN_OUT_ABANDONED, NULL,
          NULL, out);
}

static void test_R_M1_missed_call_opens_a_group_assigned_to_the_last_agent_offered(void)
{
    mis_state_t st;
    mis_plan_t p;
    mis_state_init(&st);
    apply(&st, CMN_EV_OFFERED, "c1", "o1", IN, CMN_OUT_NONE, "900001", NULL, &p);
    ASSERT_EQ_INT(p.has_op, 0);
    apply(&st, CMN_EV_OFFERED, "c1", "o2", IN, CMN_OUT_NONE, "900002", NULL, &p);
    apply(&st, CMN_EV_ENDED, "c1", "end", IN, CMN_OUT_MISSED, NULL, NULL, &p);
    ASSERT_EQ_INT(p.has_op, 1);
    ASSERT_EQ_INT(p.op.op, CMN_MOP_OPEN);
    ASSERT_EQ_STR(p.op.assignee_crm_id, "900002");
    ASSERT_EQ_INT(p.op.count, 1);
    ASSERT_EQ_STR(p.op.customer_number, NUMBER);
    ASSERT_EQ_STR(p.op.call_id, "c1");
    ASSERT_TRUE(p.op.group_id[0] != '\0');
    ASSERT_EQ_INT(p.opened, 1);
    ASSERT_EQ_INT(p.grouped, 1);
    ASSERT_EQ_INT(st.n_calls, 0);
    ASSERT_EQ_STR(st.ended[0], "c1");
}

static void test_R_M1_abandoned_before_an_offer_has_no_assignee_and_can_be_switched_off(void)
{
    mis_state_t st;
    mis_plan_t p;
    mis_state_init(&st);
    missed_call(&st, "c1", NULL, &p);
    ASSERT_EQ_INT(p.op.op, CMN_MOP_OPEN);
    ASSERT_EQ_STR(p.op.assignee_crm_id, "");
    pol.abandoned = 0;
    mis_state_init(&st);
    missed_call(&st, "c2", NULL, &p);
    pol.abandoned = 1;
    ASSERT_EQ_INT(p.has_op, 0);
    ASSERT_EQ_INT(p.ignored, MIS_IGNORED_ABANDONED);
    ASSERT_EQ_STR(st.group_id, "");
}

/* Twilio's caller leg ends `completed`: the call's own legs decide. */
static void test_R_M1_completed_outcome_is_decided_from_the_call(void)
{
    mis_state_t st;
    mis_plan_t p;
    mis_state_init(&st);
    apply(&st, CMN_EV_OFFERED, "c1", "o", IN, CMN_OUT_NONE, "900001", NULL, &p);
    apply(&st, CMN_EV_ENDED, "c1", "end", IN, CMN_OUT_COMPLETED, NULL, NULL, &p);
    ASSERT_EQ_INT(p.op.op, CMN_MOP_OPEN);
    ASSERT_EQ_STR(p.op.assignee_crm_id, "900001");
    apply(&st, CMN_EV_ANSWERED, "c2", "a", IN, CMN_OUT_NONE, "900001", NULL, &p);
    apply(&st, CMN_EV_ENDED, "c2", "end", IN, CMN_OUT_COMPLETED, NULL, NULL, &p);
    ASSERT_EQ_INT(p.op.op, CMN_MOP_REACHED); /* answered: a conversation */
}

static void test_R_M2_further_missed_calls_join_the_group_until_a_conversation(void)
{
    mis_state_t st;
    mis_plan_t p;
    char first[CMN_ID_TEXT_MAX + 1];
    mis_state_init(&st);
    missed_call(&st, "c1", "900001", &p);
    snprintf(first, sizeof first, "%s", p.op.group_id);
    missed_call(&st, "c2", "900002", &p);
    ASSERT_EQ_INT(p.op.op, CMN_MOP_ADD);
    ASSERT_EQ_STR(p.op.group_id, first);
    ASSERT_EQ_INT(p.op.count, 2);
    ASSERT_EQ_INT(p.opened, 0);
    missed_call(&st, "c3", NULL, &p);
    ASSERT_EQ_INT(p.op.count, 3);
    /* a conversation: the customer calls and an agent answers */
    apply(&st, CMN_EV_ANSWERED, "c4", "a", IN, CMN_OUT_NONE, "900001", NULL, &p);
    ASSERT_EQ_INT(p.has_op, 0);
    apply(&st, CMN_EV_ENDED, "c4", "end", IN, CMN_OUT_ANSWERED, "900001", NULL, &p);
    ASSERT_EQ_INT(p.op.op, CMN_MOP_REACHED);
    ASSERT_EQ_STR(p.op.group_id, first);
    ASSERT_EQ_STR(p.op.call_id, "c4");
    ASSERT_EQ_INT(p.closed_inbound, 1);
    ASSERT_EQ_STR(st.group_id, "");
    missed_call(&st, "c5", "900001", &p);
    ASSERT_EQ_INT(p.op.op, CMN_MOP_OPEN); /* after a conversation: a new group */
    ASSERT_TRUE(strcmp(p.op.group_id, first) != 0);
    ASSERT_EQ_INT(p.op.count, 1);
}

static void test_R_M3_outbound_answered_reaches_unanswered_leaves_open(void)
{
    mis_state_t st;
    mis_plan_t p;
    mis_state_init(&st);
    missed_call(&st, "c1", "900001", &p);
    apply(&st, CMN_EV_OUTBOUND_STARTED, "o1", "s", OUT, CMN_OUT_NONE, "900001", NULL, &p);
    apply(&st, CMN_EV_OUTBOUND_ENDED, "o1", "e", OUT, CMN_OUT_MISSED, "900001", NULL, &p);
    ASSERT_EQ_INT(p.has_op, 0); /* R-M3: an unanswered outbound call leaves it open */
    ASSERT_TRUE(st.group_id[0] != '\0');
    apply(&st, CMN_EV_OUTBOUND_STARTED, "o2", "s", OUT, CMN_OUT_NONE, "900001", NULL, &p);
    apply(&st, CMN_EV_OUTBOUND_ANSWERED, "o2", "a", OUT, CMN_OUT_NONE, "900001", NULL, &p);
    apply(&st, CMN_EV_OUTBOUND_ENDED, "o2", "e", OUT, CMN_OUT_ANSWERED, "900001", NULL, &p);
    ASSERT_EQ_INT(p.op.op, CMN_MOP_REACHED);
    ASSERT_EQ_INT(p.closed_outbound, 1);
    ASSERT_EQ_STR(st.group_id, "");
}

static void test_replayed_and_foreign_events_change_nothing(void)
{
    mis_state_t st, before;
    mis_plan_t p, again;
    cmn_event_t ev;
    mis_state_init(&st);
    missed_call(&st, "c1", "900001", &p);
    before = st;
    /* the end of an ended call again (a provider's re-post) */
    apply(&st, CMN_EV_ENDED, "c1", "end", IN, CMN_OUT_MISSED, NULL, NULL, &again);
    ASSERT_EQ_INT(again.has_op, 0);
    ASSERT_EQ_INT(again.changed, 0);
    ASSERT_EQ_INT(memcmp(&st, &before, sizeof st), 0);
    /* deciding the same event on the same state: the same op id */
    mis_state_t fresh;
    mis_state_init(&fresh);
    missed_call(&fresh, "c1", "900001", &again);
    ASSERT_EQ_STR(again.op.op_id, p.op.op_id);
    ASSERT_EQ_STR(again.op.group_id, p.op.group_id);
    /* internal calls and withheld numbers are not the grouper's */
    event(&ev, CMN_EV_ENDED, "c9", "end", IN, CMN_OUT_MISSED, NULL, NULL);
    ev.internal = 1;
    ASSERT_EQ_INT(mis_decide(&pol, &ev, &st, &again), 0);
    ASSERT_EQ_INT(again.has_op + again.changed, 0);
    ev.internal = 0;
    if (cmn_event_set(&ev.customer_number, NULL) < 0)
        abort();
    ASSERT_EQ_INT(mis_decide(&pol, &ev, &st, &again), 0);
    ASSERT_EQ_INT(again.has_op + again.changed, 0);
    cmn_event_clear(&ev);
}

/* Issue 27: the answer of a call that ended as missed, learned late (its
 * webhook refused while ingest was down, backfilled by the reconciler):
 * the customer was reached by that very call, so the group it was counted
 * in is reached (R-M3: ticket-service closes the missed-call ticket). Only
 * while that group is open: after another conversation and a new missed
 * call, a late answer of the old call changes nothing. */
static void test_answer_learned_after_a_missed_end_reaches_its_group(void)
{
    mis_state_t st;
    mis_plan_t p;
    mis_state_init(&st);
    missed_call(&st, "c1", "900002", &p);
    ASSERT_EQ_INT(p.op.op, CMN_MOP_OPEN);
    apply(&st, CMN_EV_ANSWERED, "c1", "late", IN, CMN_OUT_NONE, "900001", NULL, &p);
    ASSERT_EQ_INT(p.has_op, 1);
    ASSERT_EQ_INT(p.op.op, CMN_MOP_REACHED);
    ASSERT_EQ_STR(p.op.call_id, "c1");
    ASSERT_EQ_INT(p.closed_inbound, 1);
    ASSERT_EQ_STR(st.group_id, "");
    /* the end again (the backfill's) and another answering event: nothing */
    apply(&st, CMN_EV_ENDED, "c1", "re-end", IN, CMN_OUT_COMPLETED, NULL, NULL, &p);
    ASSERT_EQ_INT(p.has_op, 0);
    apply(&st, CMN_EV_TRANSFERRED, "c1", "late2", IN, CMN_OUT_NONE, "900003", NULL, &p);
    ASSERT_EQ_INT(p.has_op, 0);
    /* c2 missed (a group), c3 a conversation (reached), c4 missed (a new
     * group): c2's late answer leaves c4's group open */
    missed_call(&st, "c2", "900002", &p);
    apply(&st, CMN_EV_ANSWERED, "c3", "a", IN, CMN_OUT_NONE, "900001", NULL, &p);
    apply(&st, CMN_EV_ENDED, "c3", "e", IN, CMN_OUT_ANSWERED, NULL, NULL, &p);
    ASSERT_EQ_INT(p.op.op, CMN_MOP_REACHED);
    missed_call(&st, "c4", "900002", &p);
    ASSERT_EQ_INT(p.op.op, CMN_MOP_OPEN);
    char group[sizeof st.group_id];
    snprintf(group, sizeof group, "%s", st.group_id);
    apply(&st, CMN_EV_ANSWERED, "c2", "late", IN, CMN_OUT_NONE, "900001", NULL, &p);
    ASSERT_EQ_INT(p.has_op, 0);
    ASSERT_EQ_STR(st.group_id, group);
}

static void test_state_codec_roundtrip(void)
{
    mis_state_t st, back;
    mis_plan_t p;
    mis_state_init(&st);
    missed_call(&st, "c1", "900001", &p);
    apply(&st, CMN_EV_OFFERED, "c2", "o", IN, CMN_OUT_NONE, "900002", NULL, &p);
    st.partition = 2;
    st.offset = 41;
    char *text = mis_store_encode(&st);
    ASSERT_TRUE(text != NULL);
    ASSERT_EQ_INT(mis_store_decode(text, strlen(text), &back), 0);
    free(text);
    ASSERT_EQ_INT(memcmp(&st, &back, sizeof st), 0);
    ASSERT_EQ_INT(mis_store_decode("{\"v\":2}", 7, &back), -1);
    ASSERT_EQ_INT(back.offset, -1);
}

/* R-M4: 09:00-18:00 weekdays and a night shift across midnight, in Rome. */
static void test_R_M4_working_hours_across_midnight_and_holidays(void)
{
    mis_hours_t h;
    char err[128];
    int64_t ms;
    ASSERT_EQ_INT(mis_hours_parse(&h, "mon-fri 09:00-18:00, fri 22:00-02:00", "Europe/Rome",
                                  "2026-12-25", err, sizeof err),
                  0);
#define OPEN_AT(text, want)                                                                        \
    do {                                                                                           \
        ASSERT_EQ_INT(cmn_time_parse(text, &ms), 0);                                               \
        ASSERT_EQ_INT(mis_hours_open(&h, ms), want);                                               \
    } while (0)
    OPEN_AT("2026-11-23T08:30:00+01:00", 0); /* Monday, before */
    OPEN_AT("2026-11-23T09:00:00+01:00", 1);
    OPEN_AT("2026-11-23T17:59:00+01:00", 1);
    OPEN_AT("2026-11-23T18:00:00+01:00", 0);
    OPEN_AT("2026-11-27T23:30:00+01:00", 1); /* Friday night */
    OPEN_AT("2026-11-28T01:30:00+01:00", 1); /* past midnight: still Friday's shift */
    OPEN_AT("2026-11-28T02:00:00+01:00", 0);
    OPEN_AT("2026-11-28T10:00:00+01:00", 0); /* Saturday */
    OPEN_AT("2026-11-23T08:30:00Z", 1);      /* 09:30 in Rome: the zone counts */
    OPEN_AT("2026-12-25T10:00:00+01:00", 0); /* a holiday (a Friday) */
    OPEN_AT("2026-12-25T23:00:00+01:00", 0); /* its night shift too */
    OPEN_AT("2026-12-26T01:00:00+01:00", 0);
    ASSERT_EQ_INT(mis_hours_parse(&h, "mon 9-18", "UTC", "", err, sizeof err), -1);
    ASSERT_EQ_INT(mis_hours_parse(&h, "", "Mars/Olympus", "", err, sizeof err), -1);
}

/* R-M4 across the spring DST change in Rome (2026-03-29, 02:00 -> 03:00):
 * local hours hold, whatever the UTC offset. */
static void test_R_M4_working_hours_across_a_dst_change(void)
{
    mis_hours_t h;
    char err[128];
    int64_t ms;
    ASSERT_EQ_INT(
        mis_hours_parse(&h, "sat 22:00-04:00, mon 09:00-18:00", "Europe/Rome", "", err, sizeof err),
        0);
    OPEN_AT("2026-03-28T21:30:00Z", 1); /* Sat 22:30 CET */
    OPEN_AT("2026-03-29T00:59:00Z", 1); /* Sun 01:59 CET */
    OPEN_AT("2026-03-29T01:00:00Z", 1); /* Sun 03:00 CEST: the hour that does not exist skipped */
    OPEN_AT("2026-03-29T01:59:00Z", 1); /* Sun 03:59 CEST */
    OPEN_AT("2026-03-29T02:00:00Z", 0); /* Sun 04:00 CEST */
    OPEN_AT("2026-03-30T06:59:00Z", 0); /* Mon 08:59 CEST */
    OPEN_AT("2026-03-30T07:00:00Z", 1); /* Mon 09:00 CEST (08:00 CET would be closed) */
    OPEN_AT("2026-03-23T07:30:00Z", 0); /* the Monday before: 08:30 CET */
    OPEN_AT("2026-03-23T08:00:00Z", 1); /* 09:00 CET */
#undef OPEN_AT
}

/* R-M4 in the rules: outside hours no op, nothing grouped. */
static void test_R_M4_missed_outside_hours_makes_no_ticket(void)
{
    mis_state_t st;
    mis_plan_t p;
    char err[128];
    ASSERT_EQ_INT(mis_hours_parse(&pol.hours, "mon-fri 09:00-18:00", "UTC", "", err, sizeof err),
                  0);
    mis_state_init(&st);
    apply(&st, CMN_EV_ENDED, "c1", "end", IN, CMN_OUT_MISSED, "900001", "2026-11-23T20:00:00Z", &p);
    ASSERT_EQ_INT(p.has_op, 0);
    ASSERT_EQ_INT(p.ignored, MIS_IGNORED_OUTSIDE_HOURS);
    apply(&st, CMN_EV_ENDED, "c2", "end", IN, CMN_OUT_MISSED, "900001", "2026-11-23T10:00:00Z", &p);
    mis_policy_defaults(&pol);
    ASSERT_EQ_INT(p.op.op, CMN_MOP_OPEN);
}

/* The op codec (common/cmn_missed_op.c): what the grouper encodes,
 * ticket-service decodes the same; invalid ops never go out. */
static void test_op_codec_roundtrip_and_refusals(void)
{
    mis_state_t st;
    mis_plan_t p;
    cmn_missed_op_t back;
    char err[128];
    mis_state_init(&st);
    missed_call(&st, "c1", "900001", &p);
    char *text = cmn_missed_op_encode(&p.op);
    ASSERT_TRUE(text != NULL);
    ASSERT_EQ_INT(cmn_missed_op_decode(text, strlen(text), &back, err, sizeof err), 0);
    free(text);
    ASSERT_EQ_INT(memcmp(&back, &p.op, sizeof back), 0);
    p.op.count = 0; /* group.open needs its count */
    ASSERT_TRUE(cmn_missed_op_encode(&p.op) == NULL);
    const char *bad =
        "{\"op_id\":\"mis-00000001\",\"op\":\"group.reached\",\"group_id\":\"g\","
        "\"customer_number\":\"+390612345678\",\"occurred_at\":\"2026-11-23T10:00:00Z\"}";
    ASSERT_EQ_INT(cmn_missed_op_decode(bad, strlen(bad), &back, err, sizeof err), -1);
    ASSERT_TRUE(strstr(err, "call_id") != NULL);
}

/* issue 24 item 3: the missed call's customer_name (CallGear
 * contact_full_name) travels in group.open only, through the codec, for
 * the contact ticket-service creates (R-C2). */
static void test_group_open_carries_the_customer_name(void)
{
    mis_state_t st;
    mis_plan_t p;
    cmn_event_t ev;
    cmn_missed_op_t back;
    char err[128];
    mis_state_init(&st);
    event(&ev, CMN_EV_ENDED, "c9", "end", IN, CMN_OUT_ABANDONED, NULL, NULL);
    if (cmn_event_set(&ev.customer_name, "Mehmet Demir") < 0)
        abort();
    ASSERT_EQ_INT(mis_decide(&pol, &ev, &st, &p), 0);
    ASSERT_EQ_INT(p.op.op, CMN_MOP_OPEN);
    ASSERT_EQ_STR(p.op.customer_name, "Mehmet Demir");
    char *text = cmn_missed_op_encode(&p.op);
    ASSERT_TRUE(text != NULL && strstr(text, "\"customer_name\":\"Mehmet Demir\"") != NULL);
    ASSERT_EQ_INT(cmn_missed_op_decode(text, strlen(text), &back, err, sizeof err), 0);
    ASSERT_EQ_STR(back.customer_name, "Mehmet Demir");
    free(text);
    st = p.state;
    cmn_event_clear(&ev);
    event(&ev, CMN_EV_ENDED, "c10", "end", IN, CMN_OUT_ABANDONED, NULL, NULL);
    if (cmn_event_set(&ev.customer_name, "Mehmet Demir") < 0)
        abort();
    ASSERT_EQ_INT(mis_decide(&pol, &ev, &st, &p), 0);
    ASSERT_EQ_INT(p.op.op, CMN_MOP_ADD);
    ASSERT_EQ_STR(p.op.customer_name, ""); /* only the opening needs it */
    cmn_event_clear(&ev);
}

int main(void)
{
    mis_policy_defaults(&pol);
    static const test_case_t cases[] = {
        TEST_CASE(test_R_M1_missed_call_opens_a_group_assigned_to_the_last_agent_offered),
        TEST_CASE(test_R_M1_abandoned_before_an_offer_has_no_assignee_and_can_be_switched_off),
        TEST_CASE(test_R_M1_completed_outcome_is_decided_from_the_call),
        TEST_CASE(test_answer_learned_after_a_missed_end_reaches_its_group),
        TEST_CASE(test_R_M2_further_missed_calls_join_the_group_until_a_conversation),
        TEST_CASE(test_R_M3_outbound_answered_reaches_unanswered_leaves_open),
        TEST_CASE(test_replayed_and_foreign_events_change_nothing),
        TEST_CASE(test_state_codec_roundtrip),
        TEST_CASE(test_op_codec_roundtrip_and_refusals),
        TEST_CASE(test_group_open_carries_the_customer_name),
        TEST_CASE(test_R_M4_working_hours_across_midnight_and_holidays),
        TEST_CASE(test_R_M4_working_hours_across_a_dst_change),
        TEST_CASE(test_R_M4_missed_outside_hours_makes_no_ticket),
    };
    return test_run_all("missed_rules", cases, sizeof cases / sizeof cases[0]);
}
