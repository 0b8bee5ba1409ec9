/* Issue 9 item 3: Twilio calls no agent answered, end to end through the
 * pure parts. Each scenario is the sequence of status callbacks Twilio
 * posts for one call (form bodies as Twilio sends them, in its parameter
 * order), each signed as Twilio signs it and checked by ingest's signature
 * check, normalised by ing_twilio, agents mapped as ingest maps them, and
 * decided by ticket-service's rules with the call state the previous events
 * left. The tickets the scenario creates are what is asserted (R-T1, R-M1,
 * R-T4, R-T11). */
#include "cmn_agentmap.h"
#include "ing_form.h"
#include "ing_twilio.h"
#include "test.h"
#include "tkt_rules.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#define TOKEN "twilio-test-auth-token"
#define URL "https://callbus.example.com/v1/twilio/voice-status"
#define PARENT "CA1111111111111111111111111111aaaa"
#define CHILD1 "CA2222222222222222222222222222bbbb"
#define CHILD2 "CA3333333333333333333333333333cccc"
#define CALLER "%2B390612345678"
#define OURS "%2B390287654321"

/* What one scenario made: every ticket created, in order. */
typedef struct {
    tkt_op_t created[8];
    size_t n_created;
    int ignored;           /* events the rules refused (-1) */
    tkt_status_t last_set; /* the last status an update op set */
    char last_assignee[TKT_ID_MAX];
} outcome_t;

static tkt_policy_t pol;
static tkt_call_t call;
static tkt_customer_t cust;
static cmn_agentmap_t *agents;

static int pair_cmp(const void *a, const void *b)
{
    const ing_form_pair_t *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

/* Twilio's signing, written from its documentation (not ingest's code):
 * base64(HMAC-SHA1(token, URL + each name and value, sorted by name)). */
static void twilio_sign(const ing_form_t *form, char *out)
{
    ing_form_pair_t sorted[64];
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    char data[8192];
    size_t n = form->n < 64 ? form->n : 64, used;
    memcpy(sorted, form->pairs, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, pair_cmp);
    used = (size_t)snprintf(data, sizeof data, "%s", URL);
    for (size_t i = 0; i < n && used < sizeof data; i++)
        used += (size_t)snprintf(data + used, sizeof data - used, "%s%s", sorted[i].name,
                                 sorted[i].value);
    HMAC(EVP_sha1(), TOKEN, (int)strlen(TOKEN), (const unsigned char *)data, strlen(data), mac,
         &mac_len);
    EVP_EncodeBlock((unsigned char *)out, mac, (int)mac_len);
}

/* Replaces the plan's placeholders as the executor would after the CRM
 * created the ticket; the contact is cached, so none is created. */
static void commit(tkt_plan_t *plan, outcome_t *o)
{
    char id[TKT_ID_MAX];
    for (size_t i = 0; i < plan->n_ops; i++) {
        if (plan->ops[i].kind == TKT_OP_CREATE_TICKET && o->n_created < 8)
            o->created[o->n_created++] = plan->ops[i];
        if (plan->ops[i].kind == TKT_OP_UPDATE && plan->ops[i].status != TKT_ST_UNKNOWN)
            o->last_set = plan->ops[i].status;
        if (plan->ops[i].kind == TKT_OP_UPDATE && plan->ops[i].set_assignee)
            snprintf(o->last_assignee, sizeof o->last_assignee, "%s", plan->ops[i].assignee_id);
    }
    snprintf(id, sizeof id, "T%zu", o->n_created); /* the scenario's newest ticket */
    call = plan->call;
    cust = plan->customer;
    if (strcmp(call.ticket_id, TKT_REF_NEW_TICKET) == 0)
        snprintf(call.ticket_id, sizeof call.ticket_id, "%s", id);
    for (size_t i = 0; i < cust.n_tickets; i++)
        if (strcmp(cust.tickets[i].id, TKT_REF_NEW_TICKET) == 0)
            snprintf(cust.tickets[i].id, sizeof cust.tickets[i].id, "%s", id);
    if (strcmp(cust.last_call.ticket_id, TKT_REF_NEW_TICKET) == 0)
        snprintf(cust.last_call.ticket_id, sizeof cust.last_call.ticket_id, "%s", id);
}

/* One status callback: signed, verified, normalised, mapped, decided. A
 * ticket-status need is answered "still open" (no person touched it). */
static int post(const char *body, outcome_t *o)
{
    ing_form_t form;
    ing_events_t events;
    ing_error_t err;
    char sig[64];
    ing_ctx_t ctx = {.country = cmn_phone_country("IT"),
                     .received_at_ms = 1773134261000,
                     .internal_max_digits = 5};
    if (ing_form_parse(body, strlen(body), &form, &err) < 0)
        return -1;
    twilio_sign(&form, sig);
    int rc = ing_twilio_signature_ok(TOKEN, URL, &form, sig) ? 0 : -1;
    if (rc == 0)
        rc = ing_twilio_normalise(&ctx, &form, &events, &err);
    ing_form_free(&form);
    for (size_t i = 0; rc == 0 && i < events.n; i++) {
        cmn_event_t *ev = &events.ev[i];
        tkt_facts_t facts = {0};
        tkt_plan_t plan;
        const char *crm = ev->agent.provider_id
                              ? cmn_agentmap_lookup(agents, "twilio", ev->agent.provider_id)
                              : NULL;
        if (crm && cmn_event_set(&ev->agent.crm_id, crm) < 0)
            rc = -1;
        for (int round = 0; rc == 0 && round < 3; round++) {
            if (tkt_decide(&pol, ev, &call, &cust, &facts, &plan) < 0) {
                o->ignored++;
                break;
            }
            if (plan.need == TKT_NEED_NOTHING) {
                commit(&plan, o);
                break;
            }
            for (size_t t = 0; t < cust.n_tickets; t++) {
                cust.tickets[t].fresh = 1;
                if (cust.tickets[t].status == TKT_ST_UNKNOWN)
                    cust.tickets[t].status = TKT_ST_OPEN;
            }
            facts.tickets_checked = 1;
        }
    }
    if (rc == 0)
        ing_events_clear(&events);
    return rc;
}

static void free_agents(void)
{
    cmn_agentmap_free(agents);
}

/* A new call from the customer, whose contact K1 is cached. */
static void fresh_call(void)
{
    char errstr[128];
    if (!agents)
        atexit(free_agents); /* the sanitizers' leak check runs after it */
    tkt_policy_defaults(&pol);
    memset(&call, 0, sizeof call);
    memset(&cust, 0, sizeof cust);
    snprintf(cust.number, sizeof cust.number, "+390612345678");
    snprintf(cust.contact_id, sizeof cust.contact_id, "K1");
    cmn_agentmap_free(agents);
    agents =
        cmn_agentmap_parse("twilio:marco.bianchi=A1,twilio:giulia.rossi=A2", errstr, sizeof errstr);
}

/* The caller's leg, as Twilio posts it: Direction=inbound, the caller in From. */
#define PARENT_LEG(status, seq, extra)                                                             \
    "AccountSid=AC3f1e9b2d4c5a6b7c8d9e0f1a2b3c4d5e&ApiVersion=2010-04-01&CallSid=" PARENT          \
    "&CallStatus=" status "&Called=" OURS "&Caller=" CALLER "&Direction=inbound&From=" CALLER      \
    "&To=" OURS "&CallbackSource=call-progress-events&SequenceNumber=" seq                         \
    "&Timestamp=Tue%2C+10+Mar+2026+09%3A17%3A41+%2B0000&CallerCountry=IT" extra
/* An agent's leg, as <Dial><Client> posts it: a child of the caller's leg. */
#define AGENT_LEG(sid, client, status, seq, extra)                                                 \
    "AccountSid=AC3f1e9b2d4c5a6b7c8d9e0f1a2b3c4d5e&ApiVersion=2010-04-01&CallSid=" sid             \
    "&ParentCallSid=" PARENT "&CallStatus=" status "&Called=client%3A" client "&Caller=" CALLER    \
    "&Direction=outbound-dial&From=" CALLER "&To=client%3A" client                                 \
    "&CallbackSource=call-progress-events&SequenceNumber=" seq                                     \
    "&Timestamp=Tue%2C+10+Mar+2026+09%3A16%3A10+%2B0000" extra

/* The caller hung up in the IVR: only the caller's leg reports. Before issue
 * 9 this was "answered" and made no ticket at all. */
static void test_twilio_hangup_in_ivr_is_abandoned(void)
{
    outcome_t o = {0};
    fresh_call();
    ASSERT_EQ_INT(post(PARENT_LEG("in-progress", "0", ""), &o), 0);
    ASSERT_EQ_INT(post(PARENT_LEG("completed", "1", "&CallDuration=25&Duration=1"), &o), 0);
    ASSERT_EQ_INT(o.ignored, 0);
    ASSERT_EQ_INT(o.n_created, 1);
    ASSERT_EQ_INT(o.created[0].ticket_kind, TKT_KIND_ABANDONED);
    ASSERT_EQ_STR(o.created[0].subject, "Missed call from +390612345678");
    ASSERT_EQ_STR(o.created[0].assignee_id, ""); /* R-T11: no default user configured */
}

/* The caller waited in the queue (<Enqueue>, QueueSid on the callback) and
 * hung up before any agent was rung: abandoned, assigned to the default
 * user (R-T11). */
static void test_twilio_hangup_in_queue_is_abandoned(void)
{
    outcome_t o = {0};
    fresh_call();
    snprintf(pol.default_assignee, sizeof pol.default_assignee, "A9");
    ASSERT_EQ_INT(post(PARENT_LEG("completed", "2",
                                  "&QueueSid=QU0123456789abcdef0123456789abcdef&QueueTime=95"
                                  "&CallDuration=118&Duration=2"),
                       &o),
                  0);
    ASSERT_EQ_INT(o.n_created, 1);
    ASSERT_EQ_INT(o.created[0].ticket_kind, TKT_KIND_ABANDONED);
    ASSERT_EQ_STR(o.created[0].assignee_id, "A9");
}

/* Marco's client rang, nobody picked up, then the caller hung up: a missed
 * call assigned to Marco, the last agent it was offered to (R-M1). */
static void test_twilio_ring_no_answer_then_hangup_is_missed(void)
{
    outcome_t o = {0};
    fresh_call();
    ASSERT_EQ_INT(post(AGENT_LEG(CHILD1, "marco.bianchi", "initiated", "0", ""), &o), 0);
    ASSERT_EQ_INT(post(AGENT_LEG(CHILD1, "marco.bianchi", "ringing", "1", ""), &o), 0);
    ASSERT_EQ_INT(
        post(AGENT_LEG(CHILD1, "marco.bianchi", "no-answer", "2", "&CallDuration=0&Duration=0"),
             &o),
        0);
    ASSERT_EQ_INT(post(PARENT_LEG("completed", "3", "&CallDuration=47&Duration=1"), &o), 0);
    ASSERT_EQ_INT(o.ignored, 0);
    ASSERT_EQ_INT(o.n_created, 1);
    ASSERT_EQ_INT(o.created[0].ticket_kind, TKT_KIND_MISSED);
    ASSERT_EQ_STR(o.created[0].assignee_id, "A1");
}

/* Marco answered: one call ticket (R-T1) assigned to him, and the caller's
 * completion makes no missed-call ticket. */
static void test_twilio_answered_is_one_call_ticket(void)
{
    outcome_t o = {0};
    fresh_call();
    ASSERT_EQ_INT(post(AGENT_LEG(CHILD1, "marco.bianchi", "ringing", "1", ""), &o), 0);
    ASSERT_EQ_INT(post(AGENT_LEG(CHILD1, "marco.bianchi", "in-progress", "2", ""), &o), 0);
    ASSERT_EQ_INT(
        post(AGENT_LEG(CHILD1, "marco.bianchi", "completed", "3", "&CallDuration=184&Duration=4"),
             &o),
        0);
    ASSERT_EQ_INT(post(PARENT_LEG("completed", "4", "&CallDuration=212&Duration=4"), &o), 0);
    ASSERT_EQ_INT(o.ignored, 0);
    ASSERT_EQ_INT(o.n_created, 1);
    ASSERT_EQ_INT(o.created[0].ticket_kind, TKT_KIND_CALL);
    ASSERT_EQ_STR(o.created[0].assignee_id, "A1");
    ASSERT_EQ_INT(call.ended, 1);
}

/* Marco answered, then dialled Giulia's client (a blind transfer: his leg
 * ends, hers rings and answers), then the caller hung up: still one call
 * ticket, now Giulia's (R-T4 reassign), and no missed-call ticket. */
static void test_twilio_answered_then_transferred(void)
{
    outcome_t o = {0};
    fresh_call();
    ASSERT_EQ_INT(post(AGENT_LEG(CHILD1, "marco.bianchi", "ringing", "1", ""), &o), 0);
    ASSERT_EQ_INT(post(AGENT_LEG(CHILD1, "marco.bianchi", "in-progress", "2", ""), &o), 0);
    ASSERT_EQ_INT(
        post(AGENT_LEG(CHILD1, "marco.bianchi", "completed", "3", "&CallDuration=61&Duration=2"),
             &o),
        0);
    ASSERT_EQ_INT(post(AGENT_LEG(CHILD2, "giulia.rossi", "ringing", "1", ""), &o), 0);
    ASSERT_EQ_INT(post(AGENT_LEG(CHILD2, "giulia.rossi", "in-progress", "2", ""), &o), 0);
    ASSERT_EQ_INT(
        post(AGENT_LEG(CHILD2, "giulia.rossi", "completed", "3", "&CallDuration=130&Duration=3"),
             &o),
        0);
    ASSERT_EQ_INT(post(PARENT_LEG("completed", "5", "&CallDuration=240&Duration=4"), &o), 0);
    ASSERT_EQ_INT(o.ignored, 0);
    ASSERT_EQ_INT(o.n_created, 1);
    ASSERT_EQ_INT(o.created[0].ticket_kind, TKT_KIND_CALL);
    ASSERT_EQ_STR(call.agent_crm_id, "A2");
    ASSERT_EQ_STR(call.ticket_id, "T1");
}

/* Issue 27: Marco's answer and his leg's end were refused (ingest down) but
 * the caller's completion got through, so the call ended as missed by
 * Giulia. The reconciler then publishes the answer it lacked and the end
 * again (a new id): the call is reopened and gets the ticket it always
 * should have had (R-T1), summarised and pending (R-T5). With the grouper
 * in charge (it had the missed-call ticket; its R-M3 closes that one),
 * the first end made no ticket here. */
static void test_twilio_answer_learned_after_the_end_grouper(void)
{
    outcome_t o = {0};
    fresh_call();
    pol.unanswered = TKT_UNANSWERED_GROUPER;
    ASSERT_EQ_INT(post(AGENT_LEG(CHILD2, "giulia.rossi", "ringing", "1", ""), &o), 0);
    ASSERT_EQ_INT(
        post(AGENT_LEG(CHILD2, "giulia.rossi", "no-answer", "2", "&CallDuration=0&Duration=0"), &o),
        0);
    ASSERT_EQ_INT(post(AGENT_LEG(CHILD1, "marco.bianchi", "ringing", "1", ""), &o), 0);
    ASSERT_EQ_INT(post(PARENT_LEG("completed", "3", "&CallDuration=212&Duration=4"), &o), 0);
    ASSERT_EQ_INT(o.n_created, 0); /* left to the grouper as missed */
    ASSERT_EQ_INT(call.ended, 1);
    /* the backfill: the answer, then the end again */
    ASSERT_EQ_INT(post(AGENT_LEG(CHILD1, "marco.bianchi", "in-progress", "2", ""), &o), 0);
    ASSERT_EQ_INT(o.n_created, 1);
    ASSERT_EQ_INT(o.created[0].ticket_kind, TKT_KIND_CALL);
    ASSERT_EQ_STR(o.created[0].assignee_id, "A1");
    ASSERT_EQ_INT(call.ended, 0);
    ASSERT_EQ_INT(post(PARENT_LEG("completed", "3", "&CallDuration=212&Duration=4"), &o), 0);
    ASSERT_EQ_INT(o.ignored, 0);
    ASSERT_EQ_INT(o.n_created, 1);
    ASSERT_EQ_INT(call.ended, 1);
    ASSERT_EQ_INT(o.last_set, TKT_ST_PENDING);
    /* a replay of either changes nothing */
    o.last_set = TKT_ST_UNKNOWN;
    ASSERT_EQ_INT(post(AGENT_LEG(CHILD1, "marco.bianchi", "in-progress", "2", ""), &o), 0);
    ASSERT_EQ_INT(post(PARENT_LEG("completed", "3", "&CallDuration=212&Duration=4"), &o), 0);
    ASSERT_EQ_INT(o.n_created, 1);
    ASSERT_EQ_INT(o.last_set, TKT_ST_UNKNOWN);
}

/* The same with ticket-service making missed-call tickets itself (policy
 * direct): the call's missed-call ticket is its ticket, so the late answer
 * takes it over (assigned to Marco, open; then pending at the end) rather
 * than making a second ticket with the call's external id. */
static void test_twilio_answer_learned_after_the_end_direct(void)
{
    outcome_t o = {0};
    fresh_call();
    ASSERT_EQ_INT(post(AGENT_LEG(CHILD2, "giulia.rossi", "ringing", "1", ""), &o), 0);
    ASSERT_EQ_INT(
        post(AGENT_LEG(CHILD2, "giulia.rossi", "no-answer", "2", "&CallDuration=0&Duration=0"), &o),
        0);
    ASSERT_EQ_INT(post(PARENT_LEG("completed", "3", "&CallDuration=212&Duration=4"), &o), 0);
    ASSERT_EQ_INT(o.n_created, 1);
    ASSERT_EQ_INT(o.created[0].ticket_kind, TKT_KIND_MISSED);
    ASSERT_EQ_STR(o.created[0].assignee_id, "A2");
    ASSERT_EQ_INT(post(AGENT_LEG(CHILD1, "marco.bianchi", "in-progress", "2", ""), &o), 0);
    ASSERT_EQ_INT(o.n_created, 1);
    ASSERT_EQ_STR(o.last_assignee, "A1");
    ASSERT_EQ_INT(o.last_set, TKT_ST_OPEN);
    ASSERT_EQ_INT(post(PARENT_LEG("completed", "3", "&CallDuration=212&Duration=4"), &o), 0);
    ASSERT_EQ_INT(o.ignored, 0);
    ASSERT_EQ_INT(o.n_created, 1);
    ASSERT_EQ_INT(o.last_set, TKT_ST_PENDING);
    ASSERT_EQ_STR(call.ticket_id, "T1");
}

/* Issue 9: an extension calling (From=2207) is internal: no ticket. */
static void test_twilio_internal_call_makes_no_ticket(void)
{
    outcome_t o = {0};
    tkt_plan_t plan;
    cmn_event_t ev;
    fresh_call();
    ASSERT_EQ_INT(post("CallSid=" PARENT
                       "&CallStatus=completed&Direction=inbound&From=2207&To=" OURS
                       "&SequenceNumber=1&CallDuration=30",
                       &o),
                  0);
    ASSERT_EQ_INT(o.n_created, 0);
    cmn_event_init(&ev);
    ev.type = CMN_EV_ENDED;
    ev.direction = CMN_DIR_INBOUND;
    ev.outcome = CMN_OUT_ABANDONED;
    ev.call_id = "C-internal";
    ev.internal = 1;
    ASSERT_EQ_INT(tkt_decide(&pol, &ev, NULL, NULL, NULL, &plan), 0);
    ASSERT_EQ_INT(plan.n_ops, 0);
    ASSERT_EQ_INT(plan.figures.ignored_internal, 1); /* counted once, at the call's end */
}

TEST_MAIN("twilio_scenarios", TEST_CASE(test_twilio_hangup_in_ivr_is_abandoned),
          TEST_CASE(test_twilio_hangup_in_queue_is_abandoned),
          TEST_CASE(test_twilio_ring_no_answer_then_hangup_is_missed),
          TEST_CASE(test_twilio_answered_is_one_call_ticket),
          TEST_CASE(test_twilio_answered_then_transferred),
          TEST_CASE(test_twilio_internal_call_makes_no_ticket),
          TEST_CASE(test_twilio_answer_learned_after_the_end_grouper),
          TEST_CASE(test_twilio_answer_learned_after_the_end_direct))
