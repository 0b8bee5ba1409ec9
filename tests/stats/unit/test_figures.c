/* The stats service's figures (issue 25 item 3; R-S1, R-S2): each kind of
 * message of each topic -> which cells of which day, and the call and
 * ticket state carried between messages. Pure: the states a plan writes
 * are kept here in memory as sta_store keeps them in Redis, and the cells
 * summed as HINCRBY would. */
#include "sta_figures.h"
#include "test.h"

#include <stdio.h>
#include <string.h>

#define MAX_CELLS 64
#define MAX_STATES 16

static struct {
    char field[600];
    long long value;
    char day[11];
} cells[MAX_CELLS];
static size_t n_cells;
static struct {
    char id[200];
    sta_call_t st;
} calls[MAX_STATES];
static struct {
    char id[200];
    sta_ticket_t st;
} tickets[MAX_STATES];
static size_t n_calls, n_tickets;
static sta_plan_t last;

static void reset(void)
{
    n_cells = n_calls = n_tickets = 0;
    memset(calls, 0, sizeof calls);
    memset(tickets, 0, sizeof tickets);
}

static sta_call_t *call_state(const char *id)
{
    for (size_t i = 0; i < n_calls; i++)
        if (strcmp(calls[i].id, id) == 0)
            return &calls[i].st;
    snprintf(calls[n_calls].id, sizeof calls[n_calls].id, "%s", id);
    return &calls[n_calls++].st;
}

static sta_ticket_t *ticket_state(const char *id)
{
    for (size_t i = 0; i < n_tickets; i++)
        if (strcmp(tickets[i].id, id) == 0)
            return &tickets[i].st;
    snprintf(tickets[n_tickets].id, sizeof tickets[n_tickets].id, "%s", id);
    return &tickets[n_tickets++].st;
}

/* Decodes, decides and applies one message; returns sta_msg_decode's. */
static int feed(sta_source_t src, const char *json)
{
    sta_msg_t m;
    char err[256];
    static const sta_call_t no_call;
    static const sta_ticket_t no_ticket;
    int rc = sta_msg_decode(src, json, strlen(json), &m, err, sizeof err);
    if (rc < 0)
        fprintf(stderr, "decode: %s\n", err);
    if (rc == 1) {
        const char *cid = sta_msg_call_id(&m), *tid = sta_msg_ticket_id(&m);
        sta_decide(&m, *cid ? call_state(cid) : &no_call, *tid ? ticket_state(tid) : &no_ticket,
                   &last);
        for (size_t i = 0; i < last.n_cells; i++) {
            char f[600];
            size_t j;
            if (sta_cell_field(&last.cells[i], f, sizeof f) < 0)
                continue;
            for (j = 0; j < n_cells; j++)
                if (strcmp(cells[j].field, f) == 0 && strcmp(cells[j].day, last.day) == 0)
                    break;
            if (j == n_cells) {
                snprintf(cells[j].field, sizeof cells[j].field, "%s", f);
                snprintf(cells[j].day, sizeof cells[j].day, "%s", last.day);
                cells[j].value = 0;
                n_cells++;
            }
            cells[j].value += last.cells[i].delta;
        }
        if (last.write_call)
            *call_state(last.call_id) = last.call;
        if (last.write_ticket)
            *ticket_state(last.ticket_id) = last.ticket;
    }
    sta_msg_clear(&m);
    return rc;
}

/* The cell "figure|kind|queue|agent" ('|' for 0x1F) of `day`; 0 when absent. */
static long long cell(const char *day, const char *spec)
{
    char f[600];
    snprintf(f, sizeof f, "%s", spec);
    for (char *p = f; *p; p++)
        if (*p == '|')
            *p = '\x1f';
    for (size_t i = 0; i < n_cells; i++)
        if (strcmp(cells[i].field, f) == 0 && strcmp(cells[i].day, day) == 0)
            return cells[i].value;
    return 0;
}

static long long total(void)
{
    long long t = 0;
    for (size_t i = 0; i < n_cells; i++)
        t += cells[i].value;
    return t;
}

static char buf[2048];

/* A canonical call event (schemas/call-event.schema.json) at `at`. */
static const char *ev_at(const char *type, const char *id, const char *call, const char *dir,
                         const char *at, const char *extra)
{
    snprintf(buf, sizeof buf,
             "{\"schema_version\":1,\"type\":\"%s\",\"event_id\":\"callgear-%s\","
             "\"provider\":\"callgear\",\"call_id\":\"%s\",\"customer_number\":\"+390612345678\","
             "\"queue\":\"billing\",\"direction\":\"%s\"%s,"
             "\"occurred_at\":\"%s\",\"received_at\":\"%s\"}",
             type, id, call, dir, extra, at, at);
    return buf;
}

static const char *ev_dir(const char *type, const char *id, const char *call, const char *dir,
                          const char *extra)
{
    return ev_at(type, id, call, dir, "2026-12-01T09:10:09.000Z", extra);
}

static const char *ev(const char *type, const char *id, const char *call, const char *extra)
{
    return ev_dir(type, id, call, "inbound", extra);
}

#define AG1 ",\"agent\":{\"provider_id\":\"1042\",\"crm_id\":\"900001\",\"name\":\"A\"}"
#define AG2 ",\"agent\":{\"provider_id\":\"1077\",\"crm_id\":\"900002\",\"name\":\"B\"}"
#define D "2026-12-01"

/* R-S1: an answered inbound call counts a call and an answer for its
 * agent and queue, on its end only. */
static void test_answered_inbound(void)
{
    reset();
    ASSERT_EQ_INT(feed(STA_SRC_CALL, ev("call.offered", "e1", "c1", AG1)), 1);
    ASSERT_EQ_INT(feed(STA_SRC_CALL, ev("call.answered", "e2", "c1", AG1)), 1);
    ASSERT_EQ_INT(total(), 0);
    ASSERT_EQ_INT(feed(STA_SRC_CALL, ev("call.ended", "e3", "c1", ",\"outcome\":\"answered\"")), 1);
    ASSERT_EQ_INT(cell(D, "calls|inbound|billing|900001"), 1);
    ASSERT_EQ_INT(cell(D, "answered|inbound|billing|900001"), 1);
    ASSERT_EQ_INT(total(), 2);
    ASSERT_EQ_STR(last.dedup_id, ""); /* the call's ended flag guards */
    ASSERT_EQ_STR(last.day, D);
    /* a second end (another event id) of the same call adds nothing */
    ASSERT_EQ_INT(feed(STA_SRC_CALL, ev("call.ended", "e4", "c1", ",\"outcome\":\"answered\"")), 1);
    ASSERT_EQ_INT(total(), 2);
    ASSERT_TRUE(sta_plan_empty(&last));
}

/* R-M1: offered, nobody answered: missed, for the last agent offered. */
static void test_missed_and_abandoned(void)
{
    reset();
    feed(STA_SRC_CALL, ev("call.offered", "m1", "c2", AG1));
    feed(STA_SRC_CALL, ev("call.offered", "m2", "c2", AG2));
    feed(STA_SRC_CALL, ev("call.ended", "m3", "c2", ",\"outcome\":\"missed\""));
    ASSERT_EQ_INT(cell(D, "calls|missed|billing|900002"), 1);
    ASSERT_EQ_INT(cell(D, "missed|missed|billing|900002"), 1);
    ASSERT_EQ_INT(cell(D, "answered|missed|billing|900002"), 0);
    /* never offered: abandoned, no agent */
    feed(STA_SRC_CALL, ev("call.ended", "a1", "c3", ",\"outcome\":\"abandoned\""));
    ASSERT_EQ_INT(cell(D, "calls|abandoned|billing|-"), 1);
    ASSERT_EQ_INT(cell(D, "missed|abandoned|billing|-"), 1);
    /* voicemail: a call, neither answered nor missed */
    feed(STA_SRC_CALL, ev("call.ended", "v1", "c4", ",\"outcome\":\"voicemail\""));
    ASSERT_EQ_INT(cell(D, "calls|voicemail|billing|-"), 1);
    ASSERT_EQ_INT(total(), 5);
}

/* Twilio's `completed` end: the call's own history decides (cmn_outcome). */
static void test_completed_told_apart(void)
{
    reset();
    feed(STA_SRC_CALL, ev("call.answered", "t1", "c5", AG2));
    feed(STA_SRC_CALL, ev("call.ended", "t2", "c5", ",\"outcome\":\"completed\""));
    ASSERT_EQ_INT(cell(D, "answered|inbound|billing|900002"), 1);
    feed(STA_SRC_CALL, ev("call.offered", "t3", "c6", AG1));
    feed(STA_SRC_CALL, ev("call.ended", "t4", "c6", ",\"outcome\":\"completed\""));
    ASSERT_EQ_INT(cell(D, "missed|missed|billing|900001"), 1);
    feed(STA_SRC_CALL, ev("call.ended", "t5", "c7", ",\"outcome\":\"completed\""));
    ASSERT_EQ_INT(cell(D, "missed|abandoned|billing|-"), 1);
}

/* Issue 27 (R-S1): the agent's answer webhook was refused while ingest was
 * down, the completion got through: the call ended counted missed (R-M1's
 * A2). Reconciliation backfills the answer (by A1) after the end, the next
 * day here: the call moves, on its end's day, to answered inbound for A1.
 * A replay, the end republished and a second answer change nothing more:
 * the stored kind is no longer missed. */
static void test_late_answer_corrects_missed(void)
{
    reset();
    feed(STA_SRC_CALL, ev("call.offered", "l1", "c10", AG2));
    feed(STA_SRC_CALL, ev("call.ended", "l2", "c10", ",\"outcome\":\"completed\""));
    ASSERT_EQ_INT(cell(D, "calls|missed|billing|900002"), 1);
    ASSERT_EQ_INT(cell(D, "missed|missed|billing|900002"), 1);
    const char *at = "2026-12-02T08:00:00.000Z";
    ASSERT_EQ_INT(feed(STA_SRC_CALL, ev_at("call.answered", "l3", "c10", "inbound", at, AG1)), 1);
    ASSERT_EQ_STR(last.day, D);
    ASSERT_EQ_INT(last.n_cells, 4);
    ASSERT_TRUE(last.correction); /* not for Prometheus' counters */
    ASSERT_EQ_INT(cell(D, "calls|missed|billing|900002"), 0);
    ASSERT_EQ_INT(cell(D, "missed|missed|billing|900002"), 0);
    ASSERT_EQ_INT(cell(D, "calls|inbound|billing|900001"), 1);
    ASSERT_EQ_INT(cell(D, "answered|inbound|billing|900001"), 1);
    ASSERT_EQ_INT(total(), 2);
    const sta_call_t *st = call_state("c10");
    ASSERT_EQ_STR(st->kind, "inbound");
    ASSERT_EQ_STR(st->agent, "900001");
    ASSERT_EQ_STR(st->queue, "billing");
    ASSERT_EQ_INT(st->answered, 1);
    /* the answer replayed, the end republished, a second answer: nothing */
    ASSERT_EQ_INT(feed(STA_SRC_CALL, ev_at("call.answered", "l3", "c10", "inbound", at, AG1)), 1);
    ASSERT_TRUE(sta_plan_empty(&last));
    feed(STA_SRC_CALL,
         ev_at("call.ended", "l4", "c10", "inbound", at, ",\"outcome\":\"completed\""));
    ASSERT_TRUE(sta_plan_empty(&last));
    feed(STA_SRC_CALL, ev_at("call.answered", "l5", "c10", "inbound", at, AG2));
    ASSERT_TRUE(sta_plan_empty(&last));
    ASSERT_EQ_INT(total(), 2);
    ASSERT_EQ_INT(cell("2026-12-02", "calls|inbound|billing|900001"), 0);
}

static const char *outbound(const char *type, const char *id, const char *call, const char *extra)
{
    return ev_dir(type, id, call, "outbound", extra);
}

/* Outbound: a call of kind outbound, answered when someone picked up,
 * never a missed call of the center. */
static void test_outbound(void)
{
    reset();
    ASSERT_EQ_INT(feed(STA_SRC_CALL, outbound("outbound.started", "o1", "c8", AG1)), 1);
    feed(STA_SRC_CALL, outbound("outbound.answered", "o2", "c8", AG1));
    feed(STA_SRC_CALL, outbound("outbound.ended", "o3", "c8", ",\"outcome\":\"answered\"" AG1));
    ASSERT_EQ_INT(cell(D, "calls|outbound|billing|900001"), 1);
    ASSERT_EQ_INT(cell(D, "answered|outbound|billing|900001"), 1);
    feed(STA_SRC_CALL, outbound("outbound.started", "o4", "c9", AG1));
    feed(STA_SRC_CALL, outbound("outbound.ended", "o5", "c9", ",\"outcome\":\"missed\"" AG1));
    ASSERT_EQ_INT(cell(D, "calls|outbound|billing|900001"), 2);
    ASSERT_EQ_INT(cell(D, "answered|outbound|billing|900001"), 1);
    ASSERT_EQ_INT(total(), 3);
}

/* Issue 27: an abandoned call answered late moves too (agent `-` before);
 * a state stored before the end's time was kept: the answer's own day. An
 * outbound call and a voicemail are not corrected. */
static void test_late_answer_abandoned_and_others(void)
{
    reset();
    feed(STA_SRC_CALL, ev("call.ended", "b1", "c11", ",\"outcome\":\"abandoned\""));
    ASSERT_EQ_INT(call_state("c11")->ended_ms, 1796116209000LL); /* 2026-12-01T09:10:09Z */
    call_state("c11")->ended_ms = 0;
    const char *next = "2026-12-02T08:00:00.000Z";
    feed(STA_SRC_CALL, ev_at("call.answered", "b2", "c11", "inbound", next, AG1));
    ASSERT_EQ_INT(cell("2026-12-02", "calls|abandoned|billing|-"), -1);
    ASSERT_EQ_INT(cell("2026-12-02", "missed|abandoned|billing|-"), -1);
    ASSERT_EQ_INT(cell("2026-12-02", "calls|inbound|billing|900001"), 1);
    ASSERT_EQ_INT(cell("2026-12-02", "answered|inbound|billing|900001"), 1);
    feed(STA_SRC_CALL, outbound("outbound.started", "b3", "c12", AG1));
    feed(STA_SRC_CALL, outbound("outbound.ended", "b4", "c12", ",\"outcome\":\"missed\"" AG1));
    feed(STA_SRC_CALL, outbound("outbound.answered", "b5", "c12", AG1));
    ASSERT_TRUE(sta_plan_empty(&last));
    feed(STA_SRC_CALL, ev("call.ended", "b6", "c13", ",\"outcome\":\"voicemail\""));
    feed(STA_SRC_CALL, ev("call.answered", "b7", "c13", AG1));
    ASSERT_TRUE(sta_plan_empty(&last));
    ASSERT_EQ_INT(cell(D, "calls|outbound|billing|900001"), 1);
    ASSERT_EQ_INT(cell(D, "calls|voicemail|billing|-"), 1);
}

/* Agent logins, internal calls and recordings add nothing. */
static void test_not_counted(void)
{
    reset();
    ASSERT_EQ_INT(feed(STA_SRC_CALL, ev("call.recording_ready", "r1", "c1",
                                        ",\"recording\":{\"url\":\"https://r.example/1.mp3\"}")),
                  0);
    ASSERT_EQ_INT(feed(STA_SRC_CALL, "{\"nope\":1}"), -1);
    ASSERT_EQ_INT(total(), 0);
}

static const char *ticket_ev(const char *id, const char *call, const char *ticket, const char *kind,
                             int created, const char *at)
{
    snprintf(buf, sizeof buf,
             "{\"schema_version\":1,\"event_id\":\"tkt-%s\",\"call_id\":\"%s\","
             "\"ticket_id\":\"%s\",\"ticket_url\":\"https://z.example/t/%s\",\"status\":\"open\","
             "\"ticket_kind\":\"%s\",\"assignee_id\":\"900001\",\"created\":%s,"
             "\"occurred_at\":\"%s\"}",
             id, call, ticket, ticket, kind, created ? "true" : "false", at);
    return buf;
}

/* R-S1: tickets created from calls, by the call's kind, once per ticket. */
static void test_tickets_created(void)
{
    reset();
    feed(STA_SRC_CALL, ev("call.offered", "e1", "c1", AG1));
    ASSERT_EQ_INT(
        feed(STA_SRC_TICKET, ticket_ev("k1", "c1", "101", "call", 1, "2026-12-01T09:00:00Z")), 1);
    ASSERT_EQ_INT(cell(D, "tickets_created|inbound|billing|900001"), 1);
    ASSERT_EQ_INT(
        feed(STA_SRC_TICKET, ticket_ev("k2", "c1", "101", "call", 1, "2026-12-01T09:00:05Z")), 1);
    ASSERT_EQ_INT(cell(D, "tickets_created|inbound|billing|900001"), 1); /* counted before */
    ASSERT_EQ_INT(
        feed(STA_SRC_TICKET, ticket_ev("k3", "c1", "101", "call", 0, "2026-12-01T09:00:05Z")), 0);
    feed(STA_SRC_TICKET, ticket_ev("k4", "cx", "102", "voicemail", 1, "2026-12-01T10:00:00Z"));
    ASSERT_EQ_INT(cell(D, "tickets_created|voicemail|-|900001"), 1);
    ASSERT_EQ_STR(sta_kind_of_ticket("ivr"), "inbound");
    ASSERT_EQ_STR(sta_kind_of_ticket("outbound"), "outbound");
    ASSERT_EQ_STR(sta_kind_of_ticket("other"), "-");
}

static const char *crm(const char *id, const char *ticket, const char *status, const char *prev,
                       const char *created, const char *at)
{
    char p[64] = "", c[80] = "";
    if (prev)
        snprintf(p, sizeof p, ",\"previous_status\":\"%s\"", prev);
    if (created)
        snprintf(c, sizeof c, ",\"ticket_created_at\":\"%s\"", created);
    snprintf(buf, sizeof buf,
             "{\"schema_version\":1,\"event_id\":\"zd-%s\",\"crm\":\"zendesk\","
             "\"type\":\"ticket.status_changed\",\"ticket_id\":\"%s\",\"status\":\"%s\"%s%s,"
             "\"assignee_id\":\"900002\",\"occurred_at\":\"%s\","
             "\"received_at\":\"%s\"}",
             id, ticket, status, p, c, at, at);
    return buf;
}

/* R-S2: solved, then closed, reopened, solved again: one close per time
 * the ticket is done, seconds from created; a ticket closed at its
 * creation's second is not counted. By the person it is assigned to, with
 * the kind and queue its creation had. */
static void test_crm_solve_reopen_close(void)
{
    reset();
    feed(STA_SRC_CALL, ev("call.offered", "e1", "c1", AG1));
    feed(STA_SRC_TICKET, ticket_ev("k1", "c1", "201", "call", 1, "2026-12-01T09:00:00Z"));
    ASSERT_EQ_INT(feed(STA_SRC_CRM, crm("1", "201", "solved", "open", "2026-12-01T09:00:00Z",
                                        "2026-12-01T10:30:00Z")),
                  1);
    ASSERT_EQ_INT(cell(D, "solved|inbound|billing|900002"), 1);
    ASSERT_EQ_INT(cell(D, "close_s_sum|inbound|billing|900002"), 5400);
    ASSERT_EQ_INT(cell(D, "close_n|inbound|billing|900002"), 1);
    ASSERT_EQ_INT(last.close_s, 5400);
    /* Zendesk closes a solved ticket later: closed, no second R-S2 */
    feed(STA_SRC_CRM, crm("2", "201", "closed", NULL, NULL, "2026-12-01T11:00:00Z"));
    ASSERT_EQ_INT(cell(D, "closed|inbound|billing|900002"), 1);
    ASSERT_EQ_INT(cell(D, "close_n|inbound|billing|900002"), 1);
    /* a person reopens it (the previous status from the state) */
    feed(STA_SRC_CRM, crm("3", "201", "open", NULL, NULL, "2026-12-01T12:00:00Z"));
    ASSERT_EQ_INT(cell(D, "reopened|inbound|billing|900002"), 1);
    /* solved again the next day: a second close, created time remembered */
    feed(STA_SRC_CRM, crm("4", "201", "solved", "open", NULL, "2026-12-02T09:00:00Z"));
    ASSERT_EQ_INT(cell("2026-12-02", "close_s_sum|inbound|billing|900002"), 86400);
    ASSERT_EQ_INT(cell("2026-12-02", "solved|inbound|billing|900002"), 1);
    /* created == closed: solved counted, R-S2 not */
    feed(STA_SRC_CRM,
         crm("5", "202", "closed", "new", "2026-12-01T08:00:00Z", "2026-12-01T08:00:00Z"));
    ASSERT_EQ_INT(cell(D, "closed|-|-|900002"), 1);
    ASSERT_EQ_INT(cell(D, "close_n|-|-|900002"), 0);
    ASSERT_EQ_INT(last.close_s, -1);
    /* a status it already had is nothing new */
    feed(STA_SRC_CRM, crm("6", "202", "closed", "closed", NULL, "2026-12-01T08:30:00Z"));
    ASSERT_EQ_INT(cell(D, "closed|-|-|900002"), 1);
}

static const char *op(const char *kind, const char *id, const char *call, const char *assignee)
{
    snprintf(buf, sizeof buf,
             "{\"schema_version\":1,\"op_id\":\"mis-%s-0123456789\",\"op\":\"%s\","
             "\"group_id\":\"grp-1\",\"customer_number\":\"+390612345678\",\"call_id\":\"%s\","
             "\"count\":1%s%s%s,\"occurred_at\":\"2026-12-01T09:11:00Z\"}",
             id, kind, call, assignee ? ",\"assignee_crm_id\":\"" : "", assignee ? assignee : "",
             assignee ? "\"" : "");
    return buf;
}

/* R-S1: missed calls grouped (open and add), with the call's queue and kind;
 * a group's opening is its missed-call ticket made (R-M1: ticket-service
 * announces no ticket event for it, the call has no agent to pop), an
 * added call is a comment on it. */
static void test_missed_grouped(void)
{
    reset();
    feed(STA_SRC_CALL, ev("call.ended", "a1", "c3", ",\"outcome\":\"abandoned\""));
    ASSERT_EQ_INT(feed(STA_SRC_MISSED, op("group.open", "1", "c3", NULL)), 1);
    ASSERT_EQ_INT(cell(D, "missed_grouped|abandoned|billing|-"), 1);
    ASSERT_EQ_INT(cell(D, "tickets_created|abandoned|billing|-"), 1);
    ASSERT_EQ_INT(feed(STA_SRC_MISSED, op("group.add", "2", "c9", "900001")), 1);
    ASSERT_EQ_INT(cell(D, "missed_grouped|missed|-|900001"), 1);
    ASSERT_EQ_INT(cell(D, "tickets_created|missed|-|900001"), 0);
    ASSERT_EQ_STR(last.dedup_id, "mis-2-0123456789");
    ASSERT_EQ_INT(feed(STA_SRC_MISSED, op("group.reached", "3", "c9", NULL)), 0);
}

/* R-S1: pops delivered, by agent and queue; the pop id guards replays. */
static void test_pops(void)
{
    reset();
    const char *pop =
        "{\"schema_version\":1,\"pop_id\":\"c1:incoming:900001\",\"kind\":\"incoming\","
        "\"agent_crm_id\":\"900001\",\"call_id\":\"c1\",\"caller\":{\"number\":null,"
        "\"name\":null,\"email\":null,\"company\":null,\"known\":false},\"queue\":null,"
        "\"contact\":null,\"ticket\":null,\"crm_url\":null,"
        "\"created_at\":\"2026-12-01T09:10:00Z\"}";
    ASSERT_EQ_INT(feed(STA_SRC_POP, pop), 1);
    ASSERT_EQ_INT(cell(D, "pops_delivered|-|-|900001"), 1);
    ASSERT_EQ_STR(last.dedup_id, "c1:incoming:900001");
    ASSERT_EQ_INT(feed(STA_SRC_POP, "{\"pop_id\":\"x\"}"), -1);
}

/* R-S1: pops acknowledged (pop-service's pop.acknowledged on
 * agent-actions), with the call's queue; other agent actions are
 * ticket-service's. */
static void test_pops_acknowledged(void)
{
    reset();
    feed(STA_SRC_CALL, ev("call.offered", "e1", "c1", AG1));
    const char *ack = "{\"schema_version\":1,\"action_id\":\"ack-0123456789abcdef\","
                      "\"action\":\"pop.acknowledged\",\"call_id\":\"c1\","
                      "\"agent_crm_id\":\"900001\",\"pop_id\":\"c1:ticket:900001\","
                      "\"pop_kind\":\"ticket\",\"occurred_at\":\"2026-12-01T09:10:02Z\"}";
    ASSERT_EQ_INT(feed(STA_SRC_ACTION, ack), 1);
    ASSERT_EQ_INT(cell(D, "pops_acknowledged|-|billing|900001"), 1);
    ASSERT_EQ_STR(last.dedup_id, "ack-0123456789abcdef");
    const char *pick = "{\"schema_version\":1,\"action_id\":\"pick-0123456789\","
                       "\"action\":\"contact.picked\",\"call_id\":\"c1\","
                       "\"agent_crm_id\":\"900001\",\"contact_id\":\"77\","
                       "\"occurred_at\":\"2026-12-01T09:10:02Z\"}";
    ASSERT_EQ_INT(feed(STA_SRC_ACTION, pick), 0);
    ASSERT_EQ_STR(sta_source_topic(STA_SRC_ACTION), "agent-actions");
}

/* R-S1: CRM requests made and saved by batching, from ticket-service's
 * crm.usage records on crm-usage (issue 25 item 3): cells of kind, queue
 * and agent `-` on occurred_at's UTC day, the event id the republish
 * guard; a record of nothing, another type or a bad count is not counted. */
static void test_crm_usage(void)
{
    reset();
    const char *rec = "{\"schema_version\":1,\"event_id\":\"usage-t0.1796117000000.1-3\","
                      "\"type\":\"crm.usage\",\"requests\":12,\"saved\":30,"
                      "\"from\":\"2026-12-01T23:59:00.000Z\",\"to\":\"2026-12-01T23:59:59.900Z\","
                      "\"occurred_at\":\"2026-12-01T23:59:59.900Z\"}";
    ASSERT_EQ_INT(feed(STA_SRC_USAGE, rec), 1);
    ASSERT_EQ_INT(last.n_cells, 2);
    ASSERT_EQ_INT(cell(D, "crm_requests|-|-|-"), 12);
    ASSERT_EQ_INT(cell(D, "crm_saved|-|-|-"), 30);
    ASSERT_EQ_STR(last.dedup_id, "usage-t0.1796117000000.1-3");
    ASSERT_TRUE(sta_plan_empty(&last) == 0 && !last.write_call && !last.write_ticket);
    const char *next = "{\"schema_version\":1,\"event_id\":\"usage-t0.1796117000000.1-4\","
                       "\"type\":\"crm.usage\",\"requests\":0,\"saved\":5,"
                       "\"from\":\"2026-12-01T23:59:59.900Z\",\"to\":\"2026-12-02T00:00:59.900Z\","
                       "\"occurred_at\":\"2026-12-02T00:00:59.900Z\"}";
    ASSERT_EQ_INT(feed(STA_SRC_USAGE, next), 1);
    ASSERT_EQ_INT(last.n_cells, 1); /* no cell of 0 requests */
    ASSERT_EQ_INT(cell("2026-12-02", "crm_saved|-|-|-"), 5);
    ASSERT_EQ_INT(cell(D, "crm_saved|-|-|-"), 30);
    ASSERT_EQ_INT(feed(STA_SRC_USAGE, "{\"event_id\":\"usage-x-1\",\"type\":\"crm.other\"}"), 0);
    ASSERT_EQ_INT(feed(STA_SRC_USAGE, "{\"event_id\":\"usage-x-1\",\"type\":\"crm.usage\","
                                      "\"requests\":-2,\"saved\":1,"
                                      "\"occurred_at\":\"2026-12-01T09:00:00Z\"}"),
                  -1);
    ASSERT_EQ_INT(feed(STA_SRC_USAGE, "{\"event_id\":\"usage-x-1\",\"type\":\"crm.usage\","
                                      "\"requests\":1,\"saved\":1}"),
                  -1);
    ASSERT_EQ_STR(sta_source_topic(STA_SRC_USAGE), "crm-usage");
}

/* The contract's field: 0x1F and control bytes of ids become '_', an
 * empty part is '-'; too small a buffer is refused. */
static void test_cell_field(void)
{
    sta_cell_t c = {.figure = "calls", .kind = "inbound", .delta = 1};
    char out[64];
    snprintf(c.queue, sizeof c.queue, "q\x1fx\ny");
    ASSERT_EQ_INT(sta_cell_field(&c, out, sizeof out), 21);
    ASSERT_EQ_STR(out, "calls\x1finbound\x1fq_x_y\x1f-");
    ASSERT_EQ_INT(sta_cell_field(&c, out, 10), -1);
    char day[11];
    int64_t start;
    sta_day_of(1796117409000LL, day, &start); /* 2026-12-01T09:30:09Z */
    ASSERT_EQ_STR(day, "2026-12-01");
    ASSERT_EQ_INT(start, 1796083200LL);
}

TEST_MAIN("stats figures", TEST_CASE(test_answered_inbound), TEST_CASE(test_missed_and_abandoned),
          TEST_CASE(test_completed_told_apart), TEST_CASE(test_late_answer_corrects_missed),
          TEST_CASE(test_outbound), TEST_CASE(test_late_answer_abandoned_and_others),
          TEST_CASE(test_not_counted), TEST_CASE(test_tickets_created),
          TEST_CASE(test_crm_solve_reopen_close), TEST_CASE(test_missed_grouped),
          TEST_CASE(test_pops), TEST_CASE(test_pops_acknowledged), TEST_CASE(test_crm_usage),
          TEST_CASE(test_cell_field))
