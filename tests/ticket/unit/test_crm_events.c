/* Issue 25 item 2: what ticket-service does with crm-events. The store's
 * update of a ticket's ref (tkt_decide_crm_event: R-T10 solved/closed and
 * R-T7 merges learned from the CRM; replays and older events change
 * nothing; a ticket no customer remembers is ignored), the message's
 * decoding (schemas/crm-event.schema.json), the state's codec keeping
 * crm_at_ms, and the rules skipping the R-T2/R-O1 status read while what
 * the CRM told is fresh (CALLBUS_TICKET_CRM_EVENTS_FRESH_S), reading as
 * before when it is not. No I/O. */
#include "test.h"
#include "tkt_codec.h"
#include "tkt_crmevents.h"
#include "tkt_rules.h"

#define T0 1700000000000LL /* the CRM event's time */
#define CUST "+390212345678"

static tkt_policy_t pol;
static tkt_call_t call;
static tkt_customer_t cust;
static tkt_facts_t facts;
static tkt_plan_t plan;
static cmn_event_t ev;

static void text(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src);
}
#define TEXT(dst, src) text((dst), sizeof(dst), (src))

/* A customer (contact K1 cached) who remembers ticket T50, open, of queue
 * Assistenza; the CRM has told nothing of it yet. */
static tkt_ticket_ref_t *world(void)
{
    tkt_policy_defaults(&pol);
    memset(&call, 0, sizeof call);
    memset(&cust, 0, sizeof cust);
    memset(&facts, 0, sizeof facts);
    memset(&plan, 0, sizeof plan);
    TEXT(cust.number, CUST);
    TEXT(cust.contact_id, "K1");
    tkt_ticket_ref_t *r = &cust.tickets[cust.n_tickets++];
    TEXT(r->id, "T50");
    r->kind = TKT_KIND_CALL;
    r->status = TKT_ST_OPEN;
    TEXT(r->queue, "Assistenza");
    TEXT(r->channel, "voice");
    return r;
}

static tkt_crm_event_t crm_event(const char *ticket, tkt_status_t st, int64_t at_ms)
{
    tkt_crm_event_t e;
    memset(&e, 0, sizeof e);
    TEXT(e.event_id, "zendesk-evt-000001");
    TEXT(e.ticket_id, ticket);
    e.status = st;
    e.occurred_at_ms = at_ms;
    return e;
}

/* The executor's part: the owner's state handed in, then decided. */
static tkt_crmev_result_t apply(const tkt_crm_event_t *e)
{
    facts.owner_known = 1;
    tkt_crmev_result_t r = tkt_decide_crm_event(e, &cust, &facts, &plan);
    cust = plan.customer;
    return r;
}

/* A call from CUST answered by A1 in queue Assistenza at `at_ms`. */
static void answered_at(int64_t at_ms)
{
    cmn_event_init(&ev);
    ev.event_id = "callgear-0123456789";
    ev.provider = "callgear";
    ev.type = CMN_EV_ANSWERED;
    ev.direction = CMN_DIR_INBOUND;
    ev.call_id = "C2";
    ev.customer_number = CUST;
    ev.dialled_number = "+390299000000";
    ev.queue = "Assistenza";
    ev.occurred_at_ms = ev.received_at_ms = at_ms;
    ev.agent.provider_id = "op-1";
    ev.agent.crm_id = "A1";
}

static int decide(void)
{
    memset(&facts, 0, sizeof facts);
    return tkt_decide(&pol, &ev, &call, &cust, &facts, &plan);
}

/* ---- the store's update --------------------------------------------------- */

/* The owner is asked first (tkt:owner:); no state until it is known. */
static void test_owner_asked_first(void)
{
    world();
    tkt_crm_event_t e = crm_event("T50", TKT_ST_SOLVED, T0);
    ASSERT_EQ_INT(tkt_decide_crm_event(&e, NULL, NULL, &plan), TKT_CRMEV_NEED_OWNER);
    ASSERT_EQ_INT(plan.need, TKT_NEED_TICKET_OWNER);
    ASSERT_EQ_STR(plan.need_ticket_id, "T50");
    ASSERT_EQ_INT(plan.n_ops, 0);
}

/* R-T10: a person solved T50; the ref says so, with when the CRM said it,
 * and nothing else changes: no op, no call state. */
static void test_R_T10_solved_stored(void)
{
    world();
    tkt_crm_event_t e = crm_event("T50", TKT_ST_SOLVED, T0);
    ASSERT_EQ_INT(apply(&e), TKT_CRMEV_APPLIED);
    ASSERT_EQ_INT(plan.need, TKT_NEED_NOTHING);
    ASSERT_EQ_INT(plan.n_ops, 0);
    ASSERT_EQ_STR(plan.call.call_id, "");
    ASSERT_EQ_INT(cust.tickets[0].status, TKT_ST_SOLVED);
    ASSERT_TRUE(cust.tickets[0].crm_at_ms == T0);
    ASSERT_EQ_INT(cust.tickets[0].fresh, 0);
    ASSERT_EQ_STR(cust.number, CUST);
}

/* A replay (same change) and a late older event change nothing; a newer
 * one does (a person reopened it). */
static void test_replay_and_older_event_change_nothing(void)
{
    world();
    tkt_crm_event_t solved = crm_event("T50", TKT_ST_SOLVED, T0);
    tkt_crm_event_t older = crm_event("T50", TKT_ST_OPEN, T0 - 1000);
    tkt_crm_event_t reopened = crm_event("T50", TKT_ST_OPEN, T0 + 1000);
    ASSERT_EQ_INT(apply(&solved), TKT_CRMEV_APPLIED);
    ASSERT_EQ_INT(apply(&solved), TKT_CRMEV_NOT_NEWER);
    ASSERT_EQ_INT(cust.tickets[0].status, TKT_ST_SOLVED);
    ASSERT_EQ_INT(apply(&older), TKT_CRMEV_NOT_NEWER);
    ASSERT_EQ_INT(cust.tickets[0].status, TKT_ST_SOLVED);
    ASSERT_TRUE(cust.tickets[0].crm_at_ms == T0);
    ASSERT_EQ_INT(apply(&reopened), TKT_CRMEV_APPLIED);
    ASSERT_EQ_INT(cust.tickets[0].status, TKT_ST_OPEN);
    ASSERT_TRUE(cust.tickets[0].crm_at_ms == T0 + 1000);
}

/* R-T7: a merge is learned with its target; without a status it is closed. */
static void test_R_T7_merge_stored(void)
{
    world();
    tkt_crm_event_t e = crm_event("T50", TKT_ST_UNKNOWN, T0);
    TEXT(e.merged_into, "T60");
    ASSERT_EQ_INT(apply(&e), TKT_CRMEV_APPLIED);
    ASSERT_EQ_STR(cust.tickets[0].merged_into, "T60");
    ASSERT_EQ_INT(cust.tickets[0].status, TKT_ST_CLOSED);
}

/* A ticket callbus does not know: the owner index named nobody (the
 * pipeline hands in no state) or a customer that no longer remembers it. */
static void test_unknown_ticket_ignored(void)
{
    world();
    tkt_customer_t before = cust;
    tkt_crm_event_t e = crm_event("T99", TKT_ST_SOLVED, T0);
    ASSERT_EQ_INT(apply(&e), TKT_CRMEV_UNKNOWN_TICKET);
    ASSERT_EQ_INT(plan.n_ops, 0);
    ASSERT_TRUE(memcmp(&before, &cust, sizeof cust) == 0);
    memset(&cust, 0, sizeof cust);
    ASSERT_EQ_INT(apply(&e), TKT_CRMEV_UNKNOWN_TICKET);
    ASSERT_EQ_STR(plan.customer.number, "");
}

/* crm_at_ms is part of the stored state (fresh is not). */
static void test_codec_keeps_crm_at(void)
{
    world();
    cust.tickets[0].crm_at_ms = T0;
    cust.tickets[0].fresh = 1;
    json_t *j = tkt_codec_customer_to_json(&cust);
    tkt_customer_t back;
    ASSERT_TRUE(j != NULL);
    ASSERT_EQ_INT(tkt_codec_customer_from_json(j, &back), 0);
    json_decref(j);
    ASSERT_TRUE(back.tickets[0].crm_at_ms == T0);
    ASSERT_EQ_INT(back.tickets[0].fresh, 0);
}

/* ---- decoding ----------------------------------------------------------------- */

static void test_decode(void)
{
    tkt_crm_event_t e;
    char err[128];
    const char *ok = "{\"schema_version\":1,\"event_id\":\"zd-01HXYZ-1\",\"crm\":\"zendesk\","
                     "\"type\":\"ticket.status_changed\",\"ticket_id\":\"50\",\"status\":"
                     "\"solved\",\"previous_status\":\"open\",\"requester_id\":\"K1\","
                     "\"occurred_at\":\"2023-11-14T22:13:20Z\",\"received_at\":"
                     "\"2023-11-14T22:13:21Z\"}";
    ASSERT_EQ_INT(tkt_crmevents_decode(ok, strlen(ok), &e, err, sizeof err), 0);
    ASSERT_EQ_STR(e.ticket_id, "50");
    ASSERT_EQ_INT(e.status, TKT_ST_SOLVED);
    ASSERT_TRUE(e.occurred_at_ms == T0);
    const char *merged = "{\"schema_version\":1,\"event_id\":\"dyn-incident-1\",\"crm\":"
                         "\"dynamics\",\"type\":\"ticket.merged\",\"ticket_id\":\"a1\","
                         "\"merged_into\":\"b2\",\"occurred_at\":\"2023-11-14T22:13:20Z\","
                         "\"received_at\":\"2023-11-14T22:13:21Z\"}";
    ASSERT_EQ_INT(tkt_crmevents_decode(merged, strlen(merged), &e, err, sizeof err), 0);
    ASSERT_EQ_STR(e.merged_into, "b2");
    ASSERT_EQ_INT(e.status, TKT_ST_UNKNOWN);
    const char *bad_status = "{\"schema_version\":1,\"event_id\":\"zd-01HXYZ-2\",\"crm\":"
                             "\"zendesk\",\"type\":\"ticket.status_changed\",\"ticket_id\":"
                             "\"50\",\"status\":\"done\",\"occurred_at\":"
                             "\"2023-11-14T22:13:20Z\",\"received_at\":\"2023-11-14T22:13:21Z\"}";
    ASSERT_EQ_INT(tkt_crmevents_decode(bad_status, strlen(bad_status), &e, err, sizeof err), -1);
    ASSERT_TRUE(strstr(err, "status") != NULL);
    const char *no_time = "{\"schema_version\":1,\"event_id\":\"zd-01HXYZ-3\",\"crm\":\"zendesk\","
                          "\"type\":\"ticket.created\",\"ticket_id\":\"50\",\"received_at\":"
                          "\"2023-11-14T22:13:21Z\"}";
    ASSERT_EQ_INT(tkt_crmevents_decode(no_time, strlen(no_time), &e, err, sizeof err), -1);
    ASSERT_TRUE(strstr(err, "occurred_at") != NULL);
    ASSERT_EQ_INT(tkt_crmevents_decode("[1]", 3, &e, err, sizeof err), -1);
}

/* ---- the rules: the status read skipped while the word is fresh ------------- */

/* R-T2 + R-T10: the CRM said a person solved T50 a minute before the call:
 * a new ticket, no status read asked. */
/* The CRM told T50's status `st` at T0 (fresh for 300 s); the customer's
 * next call, answered a minute later, decided: 0 when it asked for no read
 * and planned one op. */
static int told_then_answered(tkt_status_t st)
{
    world();
    pol.crm_fresh_s = 300;
    tkt_crm_event_t e = crm_event("T50", st, T0);
    if (apply(&e) != TKT_CRMEV_APPLIED)
        return -1;
    answered_at(T0 + 60000);
    return decide() == 0 && plan.need == TKT_NEED_NOTHING && plan.n_ops == 1 ? 0 : -1;
}

static void test_R_T2_fresh_solved_no_read(void)
{
    ASSERT_EQ_INT(told_then_answered(TKT_ST_SOLVED), 0);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_CREATE_TICKET);
    ASSERT_EQ_INT(plan.figures.reused, 0);
    ASSERT_EQ_INT(plan.customer.tickets[1].fresh, 0); /* never stored fresh */
    ASSERT_TRUE(plan.customer.tickets[1].crm_at_ms == T0);
}

/* R-T2: the CRM said T50 is open: reused without a read. */
static void test_R_T2_fresh_open_reused_no_read(void)
{
    ASSERT_EQ_INT(told_then_answered(TKT_ST_OPEN), 0);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_UPDATE);
    ASSERT_EQ_STR(plan.ops[0].ticket_id, "T50");
    ASSERT_EQ_INT(plan.figures.reused, 1);
}

/* Not known fresh -> read as today: the window passed, the policy never
 * trusts (0: CALLBUS_TICKET_CRM_EVENTS off), or the CRM never told. */
static void test_R_T2_not_fresh_reads_as_today(void)
{
    world();
    pol.crm_fresh_s = 300;
    tkt_crm_event_t e = crm_event("T50", TKT_ST_OPEN, T0);
    ASSERT_EQ_INT(apply(&e), TKT_CRMEV_APPLIED);
    answered_at(T0 + 301000);
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.need, TKT_NEED_TICKET_STATUS);
    ASSERT_EQ_STR(plan.need_ticket_id, "T50");
    pol.crm_fresh_s = 0;
    answered_at(T0 + 60000);
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.need, TKT_NEED_TICKET_STATUS);
    world();
    pol.crm_fresh_s = 300;
    answered_at(T0 + 60000);
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.need, TKT_NEED_TICKET_STATUS);
}

/* R-T7 known from the event: the ended call's summary goes to the ticket
 * its ticket was merged into, without a read. */
static void test_R_T7_fresh_merge_followed(void)
{
    world();
    pol.crm_fresh_s = 300;
    tkt_crm_event_t e = crm_event("T50", TKT_ST_CLOSED, T0);
    TEXT(e.merged_into, "T60");
    ASSERT_EQ_INT(apply(&e), TKT_CRMEV_APPLIED);
    TEXT(call.call_id, "C2");
    TEXT(call.customer, CUST);
    TEXT(call.queue, "Assistenza");
    TEXT(call.agent_crm_id, "A1");
    TEXT(call.ticket_id, "T50");
    TEXT(call.contact_id, "K1");
    call.ticket_kind = TKT_KIND_CALL;
    call.answered = 1;
    call.started_at_ms = T0 - 60000;
    answered_at(T0 + 60000);
    ev.type = CMN_EV_ENDED;
    ev.outcome = CMN_OUT_ANSWERED;
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.need, TKT_NEED_NOTHING);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_STR(plan.ops[0].ticket_id, "T60");
    ASSERT_EQ_STR(plan.call.ticket_id, "T60");
}

TEST_MAIN("ticket_crm_events", TEST_CASE(test_owner_asked_first),
          TEST_CASE(test_R_T10_solved_stored),
          TEST_CASE(test_replay_and_older_event_change_nothing), TEST_CASE(test_R_T7_merge_stored),
          TEST_CASE(test_unknown_ticket_ignored), TEST_CASE(test_codec_keeps_crm_at),
          TEST_CASE(test_decode), TEST_CASE(test_R_T2_fresh_solved_no_read),
          TEST_CASE(test_R_T2_fresh_open_reused_no_read),
          TEST_CASE(test_R_T2_not_fresh_reads_as_today), TEST_CASE(test_R_T7_fresh_merge_followed))
