/* The behaviour rules of ticket-service's decision module, one case per rule
 * situation (docs/rules.md has the table these follow). Each case builds the
 * stored state and an event, calls tkt_decide() and checks the exact ops,
 * the needs and the new state. commit() plays the executor: it keeps the
 * plan's state and replaces the placeholders with the ids the CRM gave. */
#include "test.h"
#include "tkt_rules.h"

#define T0 1700000000000LL
#define CUST "+390212345678"
#define OURS "+390299000000"

static tkt_policy_t pol;
static tkt_call_t call;
static tkt_customer_t cust;
static tkt_facts_t facts;
static tkt_plan_t plan;
static cmn_event_t ev;

#define ASSERT_HAS(hay, needle)                                                                    \
    do {                                                                                           \
        const char *h_ = (hay);                                                                    \
        test_checks++;                                                                             \
        if (!h_ || !strstr(h_, (needle))) {                                                        \
            fprintf(stderr, "%s:%d: \"%s\" not found in:\n%s\n", __FILE__, __LINE__, (needle),     \
                    h_ ? h_ : "(null)");                                                           \
            test_failures++;                                                                       \
            return;                                                                                \
        }                                                                                          \
    } while (0)
#define ASSERT_LACKS(hay, needle)                                                                  \
    do {                                                                                           \
        test_checks++;                                                                             \
        if (strstr((hay), (needle))) {                                                             \
            fprintf(stderr, "%s:%d: \"%s\" unexpected in:\n%s\n", __FILE__, __LINE__, (needle),    \
                    (hay));                                                                        \
            test_failures++;                                                                       \
            return;                                                                                \
        }                                                                                          \
    } while (0)

/* ---- fixtures ------------------------------------------------------------ */

static void text(char *dst, size_t n, const char *src)
{
    size_t len = strlen(src);
    if (len >= n)
        len = n - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}
#define TEXT(dst, src) text((dst), sizeof(dst), (src))

/* The next event of the scenario: `type` on call C1 from CUST to our
 * number OURS, queue Assistenza, language it-IT. Its strings are literals:
 * nothing to free. Policy and state are kept. */
static void event(cmn_event_type_t type, cmn_direction_t dir)
{
    cmn_event_init(&ev);
    ev.event_id = "callgear-0123456789";
    ev.provider = "callgear";
    ev.type = type;
    ev.direction = dir;
    ev.call_id = "C1";
    ev.customer_number = CUST;
    ev.dialled_number = OURS;
    ev.queue = "Assistenza";
    ev.language = "it-IT";
    ev.occurred_at_ms = ev.received_at_ms = T0;
}

/* A fresh world: default policy, no state, no facts, then the event. */
static void setup(cmn_event_type_t type, cmn_direction_t dir)
{
    tkt_policy_defaults(&pol);
    memset(&call, 0, sizeof call);
    memset(&cust, 0, sizeof cust);
    memset(&facts, 0, sizeof facts);
    memset(&plan, 0, sizeof plan);
    event(type, dir);
}

static void agent(char *crm_id, char *name)
{
    ev.agent.provider_id = "op-1";
    ev.agent.crm_id = crm_id;
    ev.agent.name = name;
}

/* The customer's contact is cached: no look-up needed. */
static void cached_contact(void)
{
    TEXT(cust.number, CUST);
    TEXT(cust.contact_id, "K1");
}

/* A call agent A1 answered, on ticket `ticket` (kind CALL). */
static void answered_call(const char *ticket)
{
    TEXT(call.call_id, "C1");
    TEXT(call.customer, CUST);
    TEXT(call.queue, "Assistenza");
    TEXT(call.agent_crm_id, "A1");
    TEXT(call.ticket_id, ticket);
    TEXT(call.contact_id, "K1");
    call.ticket_kind = TKT_KIND_CALL;
    call.answered = 1;
    call.started_at_ms = T0 - 300000;
    cached_contact();
}

/* A remembered ticket of ours, appended (older than those before it). */
static tkt_ticket_ref_t *add_ref(const char *id, tkt_kind_t kind, tkt_status_t st,
                                 const char *queue, int fresh)
{
    tkt_ticket_ref_t *r = &cust.tickets[cust.n_tickets++];
    memset(r, 0, sizeof *r);
    TEXT(r->id, id);
    r->kind = kind;
    r->status = st;
    TEXT(r->queue, queue);
    TEXT(r->channel, "voice");
    r->fresh = fresh;
    return r;
}

static void add_contact(const char *id, int64_t created)
{
    facts.contacts_known = 1;
    TEXT(facts.contacts[facts.n_contacts].id, id);
    facts.contacts[facts.n_contacts++].created_at_ms = created;
}

static int decide(void)
{
    return tkt_decide(&pol, &ev, &call, &cust, &facts, &plan);
}

static void subst(char *s, size_t n, const char *ph, const char *real)
{
    if (strcmp(s, ph) == 0)
        text(s, n, real);
}
#define SUBST(s, ph, real) subst((s), sizeof(s), (ph), (real))

/* The executor's part after the CRM answered: keep the state, placeholders
 * replaced; facts belong to one event only. */
static void commit(const char *ticket, const char *contact)
{
    call = plan.call;
    cust = plan.customer;
    SUBST(call.ticket_id, TKT_REF_NEW_TICKET, ticket);
    SUBST(call.contact_id, TKT_REF_NEW_CONTACT, contact);
    SUBST(cust.contact_id, TKT_REF_NEW_CONTACT, contact);
    SUBST(cust.last_call.ticket_id, TKT_REF_NEW_TICKET, ticket);
    for (size_t i = 0; i < cust.n_tickets; i++)
        SUBST(cust.tickets[i].id, TKT_REF_NEW_TICKET, ticket);
    for (size_t i = 0; i < call.n_legs; i++)
        SUBST(call.legs[i].ticket_id, TKT_REF_NEW_TICKET, ticket);
    memset(&facts, 0, sizeof facts);
}

static int has_tag(const tkt_op_t *op, const char *tag)
{
    for (size_t i = 0; i < op->n_tags; i++)
        if (strcmp(op->tags[i], tag) == 0)
            return 1;
    return 0;
}

static const char *field(const tkt_op_t *op, const char *id)
{
    for (size_t i = 0; i < op->n_fields; i++)
        if (strcmp(op->fields[i].field_id, id) == 0)
            return op->fields[i].value;
    return "(unset)";
}

static void map_fields(void)
{
    TEXT(pol.fields.session_type, "F_TYPE");
    TEXT(pol.fields.from_number, "F_FROM");
    TEXT(pol.fields.call_duration, "F_DUR");
    TEXT(pol.fields.wait_time, "F_WAIT");
    TEXT(pol.fields.queue_name, "F_QUEUE");
    TEXT(pol.fields.call_id, "F_CALL");
    TEXT(pol.fields.hold_time, "F_HOLD");
    TEXT(pol.fields.ticket_type, "F_TT");
    TEXT(pol.fields.csat, "F_CSAT");
}

/* ---- model, policy, rendering ------------------------------------------- */

static void test_model_names(void)
{
    ASSERT_EQ_STR(tkt_status_name(TKT_ST_OPEN), "open");
    ASSERT_EQ_STR(tkt_status_name(TKT_ST_CLOSED), "closed");
    ASSERT_TRUE(tkt_status_name(TKT_ST_UNKNOWN) == NULL);
    ASSERT_EQ_INT(tkt_status_parse("pending"), TKT_ST_PENDING);
    ASSERT_EQ_INT(tkt_status_parse("hold"), TKT_ST_HOLD);
    ASSERT_EQ_INT(tkt_status_parse("deleted"), TKT_ST_UNKNOWN);
    ASSERT_EQ_INT(tkt_status_parse(NULL), TKT_ST_UNKNOWN);
    ASSERT_EQ_STR(tkt_kind_name(TKT_KIND_VOICEMAIL), "voicemail");
    ASSERT_EQ_STR(tkt_kind_name(TKT_KIND_OUTBOUND), "outbound");
    ASSERT_TRUE(tkt_status_is_active(TKT_ST_NEW) && tkt_status_is_active(TKT_ST_HOLD));
    ASSERT_TRUE(!tkt_status_is_active(TKT_ST_SOLVED) && !tkt_status_is_active(TKT_ST_UNKNOWN));
}

static void test_policy_defaults(void)
{
    tkt_policy_t p;
    memset(&p, 0x5a, sizeof p);
    tkt_policy_defaults(&p);
    ASSERT_EQ_INT(p.transfer, TKT_TRANSFER_REASSIGN);
    ASSERT_EQ_INT(p.unanswered, TKT_UNANSWERED_DIRECT);
    ASSERT_EQ_INT(p.reuse, 1);
    ASSERT_EQ_INT(p.abandoned_tickets, 1);
    ASSERT_EQ_INT(p.outbound_unattached_closed, 0);
    ASSERT_EQ_STR(p.default_assignee, "");
    ASSERT_EQ_STR(p.subject_call, "Call from {phone}");
    ASSERT_EQ_STR(p.subject_split_idle, "Incoming call from {phone}");
    ASSERT_EQ_STR(p.subject_voicemail, "Voicemail from {phone}");
    ASSERT_EQ_STR(p.subject_missed, "Missed call from {phone}");
    ASSERT_EQ_STR(p.subject_outbound, "Call to {phone}");
    ASSERT_EQ_INT(p.callback_window_s, 120);
    ASSERT_EQ_INT(p.short_call_s, 10);
    ASSERT_EQ_STR(p.fields.csat, "");
}

static void test_render_subject(void)
{
    char out[64], tiny[8];
    setup(CMN_EV_ANSWERED, CMN_DIR_INBOUND);
    tkt_render_subject("Call from {phone}", &ev, out, sizeof out);
    ASSERT_EQ_STR(out, "Call from " CUST);
    tkt_render_subject("{queue} #{call_id} {other}", &ev, out, sizeof out);
    ASSERT_EQ_STR(out, "Assistenza #C1 {other}");
    tkt_render_subject("Call from {phone}", &ev, tiny, sizeof tiny);
    ASSERT_EQ_STR(tiny, "Call fr");
    ev.customer_number = NULL;
    tkt_render_subject("Call from {phone}", &ev, out, sizeof out);
    ASSERT_EQ_STR(out, "Call from withheld number");
}

static void test_format_duration(void)
{
    char out[32];
    tkt_format_duration(0, out, sizeof out);
    ASSERT_EQ_STR(out, "0s");
    tkt_format_duration(45, out, sizeof out);
    ASSERT_EQ_STR(out, "45s");
    tkt_format_duration(192, out, sizeof out);
    ASSERT_EQ_STR(out, "3m 12s");
    tkt_format_duration(125, out, sizeof out);
    ASSERT_EQ_STR(out, "2m 05s");
    tkt_format_duration(3723, out, sizeof out);
    ASSERT_EQ_STR(out, "1h 02m 03s");
}

/* ---- R-I3 ----------------------------------------------------------------- */

static void test_R_I3_answered_unmapped_ignored(void)
{
    setup(CMN_EV_ANSWERED, CMN_DIR_INBOUND);
    cached_contact();
    agent(NULL, "Operator without agent");
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.need, TKT_NEED_NOTHING);
    ASSERT_EQ_INT(plan.n_ops, 0);
    ASSERT_TRUE(plan.note != NULL);
    ASSERT_HAS(plan.note, "R-I3");
    ASSERT_EQ_INT(plan.figures.ignored_unmapped, 1);
    ASSERT_EQ_INT(plan.call.answered, 1);
    ASSERT_EQ_STR(plan.call.agent_crm_id, "");
    ASSERT_EQ_STR(plan.call.ticket_id, "");
}

static void test_R_I3_unmapped_call_end_makes_nothing(void)
{
    setup(CMN_EV_ANSWERED, CMN_DIR_INBOUND);
    cached_contact();
    agent(NULL, NULL);
    ASSERT_EQ_INT(decide(), 0);
    commit("-", "-");
    event(CMN_EV_ENDED, CMN_DIR_INBOUND);
    ev.outcome = CMN_OUT_ANSWERED;
    agent(NULL, NULL);
    ASSERT_EQ_INT(tkt_decide(&pol, &ev, &call, &cust, &facts, &plan), 0);
    ASSERT_EQ_INT(plan.n_ops, 0);
    ASSERT_HAS(plan.note, "R-I3");
    ASSERT_EQ_INT(plan.call_done, 1);
}

static void test_R_I3_outbound_unmapped_ignored(void)
{
    setup(CMN_EV_OUTBOUND_STARTED, CMN_DIR_OUTBOUND);
    cached_contact();
    agent(NULL, NULL);
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 0);
    ASSERT_EQ_INT(plan.figures.ignored_unmapped, 1);
}

/* ---- R-C1..R-C4, withheld numbers ---------------------------------------- */

static void test_R_C1_needs_contacts_before_create(void)
{
    setup(CMN_EV_ANSWERED, CMN_DIR_INBOUND);
    agent("A1", "Luca Verdi");
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.need, TKT_NEED_CONTACTS);
    ASSERT_EQ_INT(plan.n_ops, 0);
    ASSERT_EQ_STR(plan.call.ticket_id, ""); /* state untouched while a fact is missing */
    ASSERT_EQ_INT(plan.call.answered, 0);
    ASSERT_EQ_INT(plan.customer.n_tickets, 0);
}

static void test_R_C1_cached_contact_no_lookup(void)
{
    setup(CMN_EV_ANSWERED, CMN_DIR_INBOUND);
    TEXT(cust.contact_id, "K9");
    agent("A1", NULL);
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.need, TKT_NEED_NOTHING);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_STR(plan.ops[0].requester_id, "K9");
    ASSERT_EQ_STR(plan.call.contact_id, "K9");
}

static void test_R_C2_no_contact_creates_one(void)
{
    setup(CMN_EV_ANSWERED, CMN_DIR_INBOUND);
    agent("A1", NULL);
    facts.contacts_known = 1;
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.need, TKT_NEED_NOTHING);
    ASSERT_EQ_INT(plan.n_ops, 2);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_CREATE_CONTACT);
    ASSERT_EQ_STR(plan.ops[0].phone, CUST);
    ASSERT_EQ_INT(plan.ops[1].kind, TKT_OP_CREATE_TICKET);
    ASSERT_EQ_STR(plan.ops[1].requester_id, TKT_REF_NEW_CONTACT);
    ASSERT_EQ_STR(plan.call.contact_id, TKT_REF_NEW_CONTACT);
    ASSERT_EQ_STR(plan.customer.contact_id, TKT_REF_NEW_CONTACT);
}

/* R-C2 + issue 24 item 3: the contact callbus creates is named as the
 * provider knows the customer (CallGear contact_full_name); one found is
 * used as it is (R-C3): no op renames it. */
static void test_R_C2_new_contact_named_by_provider(void)
{
    setup(CMN_EV_ANSWERED, CMN_DIR_INBOUND);
    agent("A1", NULL);
    ev.customer_name = "Mehmet Demir";
    facts.contacts_known = 1;
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_CREATE_CONTACT);
    ASSERT_EQ_STR(plan.ops[0].name, "Mehmet Demir");
    ASSERT_EQ_STR(plan.ops[0].phone, CUST);
    setup(CMN_EV_ANSWERED, CMN_DIR_INBOUND);
    agent("A1", NULL);
    ev.customer_name = "Mehmet Demir";
    add_contact("K7", T0 - 1000);
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_CREATE_TICKET);
    ASSERT_EQ_STR(plan.ops[0].requester_id, "K7");
}

static void test_R_C3_one_contact_used(void)
{
    setup(CMN_EV_ANSWERED, CMN_DIR_INBOUND);
    agent("A1", NULL);
    add_contact("K7", T0 - 1000);
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_STR(plan.ops[0].requester_id, "K7");
    ASSERT_EQ_STR(plan.customer.contact_id, "K7"); /* cached for the next calls */
}

static void test_R_C4_several_most_recent(void)
{
    setup(CMN_EV_ANSWERED, CMN_DIR_INBOUND);
    agent("A1", NULL);
    add_contact("K1", 100);
    add_contact("K2", 300);
    add_contact("K3", 200);
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_STR(plan.ops[0].requester_id, "K2");
}

static void test_R_C4_picked_contact_wins(void)
{
    setup(CMN_EV_ANSWERED, CMN_DIR_INBOUND);
    agent("A1", NULL);
    TEXT(cust.contact_id, "K2");
    TEXT(call.picked_contact_id, "K3");
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.need, TKT_NEED_NOTHING);
    ASSERT_EQ_STR(plan.ops[0].requester_id, "K3");
}

static void test_withheld_number_no_requester(void)
{
    setup(CMN_EV_ANSWERED, CMN_DIR_INBOUND);
    ev.customer_number = NULL;
    agent("A1", NULL);
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.need, TKT_NEED_NOTHING);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_CREATE_TICKET);
    ASSERT_EQ_STR(plan.ops[0].requester_id, "");
    ASSERT_EQ_STR(plan.ops[0].subject, "Call from withheld number");
    ASSERT_EQ_STR(plan.call.ticket_id, TKT_REF_NEW_TICKET);
    ASSERT_EQ_INT(plan.customer.n_tickets, 0); /* no number, no customer state */
    ASSERT_EQ_STR(plan.customer.number, "");
}

/* ---- R-T1, R-T9 ------------------------------------------------------------ */

static void test_R_T1_create_on_answer(void)
{
    setup(CMN_EV_ANSWERED, CMN_DIR_INBOUND);
    map_fields();
    cached_contact();
    agent("A1", "Luca Verdi");
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    const tkt_op_t *op = &plan.ops[0];
    ASSERT_EQ_INT(op->kind, TKT_OP_CREATE_TICKET);
    ASSERT_EQ_STR(op->subject, "Call from " CUST);
    ASSERT_EQ_STR(op->requester_id, "K1");
    ASSERT_EQ_STR(op->assignee_id, "A1");
    ASSERT_EQ_INT(op->set_assignee, 1);
    ASSERT_EQ_INT(op->status, TKT_ST_OPEN);
    ASSERT_EQ_INT(op->ticket_kind, TKT_KIND_CALL);
    ASSERT_EQ_STR(op->external_id, "callbus-C1");
    ASSERT_TRUE(has_tag(op, "callbus") && has_tag(op, "callbus_call"));
    ASSERT_EQ_INT(op->public_comment, 0);
    ASSERT_HAS(op->body, "answered by Luca Verdi");
    ASSERT_HAS(op->body, "Call ID: C1");
    ASSERT_HAS(op->body, "Language: it-IT");
    ASSERT_HAS(op->body, "Menu selection: Assistenza");
    ASSERT_LACKS(op->body, "[");
    ASSERT_EQ_STR(field(op, "F_TYPE"), "call");
    ASSERT_EQ_STR(field(op, "F_FROM"), CUST);
    ASSERT_EQ_STR(field(op, "F_DUR"), "(unset)"); /* end-of-call fields wait for the end */
    ASSERT_EQ_STR(plan.call.ticket_id, TKT_REF_NEW_TICKET);
    ASSERT_EQ_INT(plan.call.ticket_kind, TKT_KIND_CALL);
    ASSERT_EQ_INT(plan.call.answered, 1);
    ASSERT_EQ_STR(plan.call.agent_crm_id, "A1");
    ASSERT_EQ_INT(plan.customer.n_tickets, 1);
    ASSERT_EQ_STR(plan.customer.tickets[0].id, TKT_REF_NEW_TICKET);
    ASSERT_EQ_INT(plan.customer.tickets[0].status, TKT_ST_OPEN);
    ASSERT_EQ_STR(plan.customer.tickets[0].queue, "Assistenza");
    ASSERT_EQ_STR(plan.customer.tickets[0].channel, "voice");
    ASSERT_EQ_INT(plan.figures.created[TKT_KIND_CALL], 1);
    ASSERT_EQ_INT(plan.call_done, 0);
}

static void test_R_T1_replay_is_harmless(void)
{
    char first[sizeof plan.ops[0].external_id];
    setup(CMN_EV_ANSWERED, CMN_DIR_INBOUND);
    cached_contact();
    agent("A1", NULL);
    ASSERT_EQ_INT(decide(), 0);
    TEXT(first, plan.ops[0].external_id);
    ASSERT_EQ_INT(decide(), 0); /* same inputs (crash before the state was kept) */
    ASSERT_EQ_STR(plan.ops[0].external_id, first);
    commit("101", "-");
    ASSERT_EQ_INT(decide(), 0); /* the state was kept: nothing again */
    ASSERT_EQ_INT(plan.n_ops, 0);
    ASSERT_HAS(plan.note, "replay");
}

/* Issue 27: a late answer reopens only a call that ended unanswered. An end
 * that said answered itself (CallGear's /end, no /handset seen) made the
 * ticket and set it pending: the /handset posted after it changes nothing
 * (before, the late-answer rule would have reopened it to open). Nor does a
 * late answer take over a voicemail ticket (R-T3). */
static void test_late_answer_after_an_answered_or_voicemail_end_is_ignored(void)
{
    setup(CMN_EV_ENDED, CMN_DIR_INBOUND);
    cached_contact();
    agent("A1", NULL);
    ev.outcome = CMN_OUT_ANSWERED;
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_CREATE_TICKET);
    ASSERT_EQ_INT(plan.ops[0].status, TKT_ST_PENDING);
    commit("101", "-");
    event(CMN_EV_ANSWERED, CMN_DIR_INBOUND);
    ev.event_id = "callgear-handset";
    agent("A1", NULL);
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 0);
    ASSERT_EQ_INT(plan.call.ended, 1);
    ASSERT_HAS(plan.note, "answered after the call ended");

    setup(CMN_EV_ENDED, CMN_DIR_INBOUND);
    cached_contact();
    ev.outcome = CMN_OUT_VOICEMAIL;
    ASSERT_EQ_INT(decide(), 0);
    commit("102", "-");
    event(CMN_EV_ANSWERED, CMN_DIR_INBOUND);
    agent("A1", NULL);
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 0);
    ASSERT_EQ_INT(plan.call.ended, 1);
}

static void test_R_T9_unmapped_fields_not_set(void)
{
    setup(CMN_EV_ANSWERED, CMN_DIR_INBOUND);
    cached_contact();
    agent("A1", NULL);
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.ops[0].n_fields, 0);
    commit("101", "-");
    event(CMN_EV_ENDED, CMN_DIR_INBOUND);
    ev.outcome = CMN_OUT_ANSWERED;
    ev.talk_s = 60;
    ev.total_s = 70;
    ASSERT_EQ_INT(tkt_decide(&pol, &ev, &call, &cust, &facts, &plan), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_INT(plan.ops[0].n_fields, 0);
}

/* ---- R-T2, R-T3 (reuse) ---------------------------------------------------- */

/* The re-decide loop: the candidate's status is asked for, then used. */
static void test_R_T2_reuse_same_queue(void)
{
    setup(CMN_EV_ANSWERED, CMN_DIR_INBOUND);
    cached_contact();
    agent("A1", "Luca Verdi");
    add_ref("T50", TKT_KIND_CALL, TKT_ST_PENDING, "Assistenza", 0);
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.need, TKT_NEED_TICKET_STATUS);
    ASSERT_EQ_STR(plan.need_ticket_id, "T50");
    ASSERT_EQ_INT(plan.n_ops, 0);
    cust.tickets[0].fresh = 1; /* the executor read it: still pending */
    facts.tickets_checked = 1;
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.need, TKT_NEED_NOTHING);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_UPDATE);
    ASSERT_EQ_STR(plan.ops[0].ticket_id, "T50");
    ASSERT_EQ_INT(plan.ops[0].status, TKT_ST_OPEN);
    ASSERT_EQ_STR(plan.ops[0].assignee_id, "A1");
    ASSERT_EQ_INT(plan.ops[0].set_assignee, 1);
    ASSERT_HAS(plan.ops[0].body, "answered by Luca Verdi");
    ASSERT_HAS(plan.ops[0].body, "Call ID: C1");
    ASSERT_EQ_STR(plan.call.ticket_id, "T50");
    ASSERT_EQ_INT(plan.figures.reused, 1);
    ASSERT_EQ_INT(plan.figures.reopened, 1);
    ASSERT_EQ_INT(plan.customer.tickets[0].status, TKT_ST_OPEN);
    ASSERT_EQ_INT(plan.customer.tickets[0].fresh, 0);
}

static void test_R_T2_other_queue_new_ticket(void)
{
    setup(CMN_EV_ANSWERED, CMN_DIR_INBOUND);
    cached_contact();
    agent("A1", NULL);
    add_ref("T50", TKT_KIND_CALL, TKT_ST_OPEN, "Vendite", 0);
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.need, TKT_NEED_NOTHING);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_CREATE_TICKET);
    ASSERT_EQ_INT(plan.customer.n_tickets, 2);
    ASSERT_EQ_STR(plan.customer.tickets[1].id, "T50");
}

static void test_R_T2_reuse_off_policy(void)
{
    setup(CMN_EV_ANSWERED, CMN_DIR_INBOUND);
    pol.reuse = 0;
    cached_contact();
    agent("A1", NULL);
    add_ref("T50", TKT_KIND_CALL, TKT_ST_OPEN, "Assistenza", 1);
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_CREATE_TICKET);
    ASSERT_EQ_INT(plan.figures.reused, 0);
}

/* R-V1 (issue 23 item 4): which of the customer's tickets (newest first)
 * the IVR look-up answers with: the newest unresolved by default, the
 * newest whatever its state under the Webex + Dynamics seed's policy. */
static void test_R_V1_lookup_case_policy(void)
{
    tkt_policy_t p;
    tkt_policy_defaults(&p);
    const tkt_status_t st[] = {TKT_ST_CLOSED, TKT_ST_SOLVED, TKT_ST_PENDING, TKT_ST_OPEN};
    const tkt_status_t done[] = {TKT_ST_SOLVED, TKT_ST_CLOSED};
    ASSERT_EQ_INT(p.lookup_case, TKT_LOOKUP_LATEST_UNRESOLVED);
    ASSERT_EQ_INT(tkt_lookup_case_pick(&p, st, 4), 2);
    ASSERT_EQ_INT(tkt_lookup_case_pick(&p, done, 2), -1);
    ASSERT_EQ_INT(tkt_lookup_case_pick(&p, st, 0), -1);
    p.lookup_case = TKT_LOOKUP_LATEST;
    ASSERT_EQ_INT(tkt_lookup_case_pick(&p, st, 4), 0);
    ASSERT_EQ_INT(tkt_lookup_case_pick(&p, done + 1, 1), 0);
    ASSERT_EQ_INT(tkt_lookup_case_pick(&p, st, 0), -1);
}

static void add_case(const char *id, tkt_status_t st)
{
    facts.cases_known = 1;
    TEXT(facts.case_ids[facts.n_cases], id);
    facts.case_status[facts.n_cases++] = st;
}

/* R-T2 with policy reuse_open_case (issue 23 item 4, the Webex + Dynamics
 * flow): no ticket of ours to reuse, so the contact's cases in the CRM
 * are read; the newest unresolved one, whoever made it, gets the call. */
static void test_R_T2_open_case_policy_attaches_to_crm_case(void)
{
    setup(CMN_EV_ANSWERED, CMN_DIR_INBOUND);
    pol.reuse_open_case = 1;
    cached_contact();
    agent("A1", "Luca Verdi");
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.need, TKT_NEED_CONTACT_TICKETS);
    ASSERT_EQ_STR(plan.need_ticket_id, "K1"); /* the contact's id */
    ASSERT_EQ_INT(plan.n_ops, 0);
    add_case("CASE9", TKT_ST_SOLVED); /* newest, resolved: not it */
    add_case("CASE7", TKT_ST_HOLD);
    add_case("CASE3", TKT_ST_OPEN);
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.need, TKT_NEED_NOTHING);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_UPDATE);
    ASSERT_EQ_STR(plan.ops[0].ticket_id, "CASE7");
    ASSERT_EQ_INT(plan.ops[0].status, TKT_ST_OPEN);
    ASSERT_EQ_STR(plan.ops[0].assignee_id, "A1");
    ASSERT_HAS(plan.ops[0].body, "answered by Luca Verdi");
    ASSERT_EQ_STR(plan.call.ticket_id, "CASE7"); /* the call's ticket: what its pop opens */
    ASSERT_EQ_INT(plan.figures.reused, 1);
    ASSERT_EQ_INT(plan.figures.reopened, 1);
}

/* The same policy: no unresolved case -> a new ticket (R-T1); an unknown
 * caller (contact created now) has none to read; policy off or reuse off:
 * the cases are never read. */
static void test_R_T2_open_case_policy_none_or_off_new_ticket(void)
{
    setup(CMN_EV_ANSWERED, CMN_DIR_INBOUND);
    pol.reuse_open_case = 1;
    cached_contact();
    agent("A1", NULL);
    add_case("CASE9", TKT_ST_CLOSED);
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_CREATE_TICKET);
    ASSERT_EQ_INT(plan.figures.reused, 0);

    setup(CMN_EV_ANSWERED, CMN_DIR_INBOUND);
    pol.reuse_open_case = 1;
    agent("A1", NULL);
    facts.contacts_known = 1; /* none: one is created */
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.need, TKT_NEED_NOTHING);
    ASSERT_EQ_INT(plan.n_ops, 2);
    ASSERT_EQ_INT(plan.ops[1].kind, TKT_OP_CREATE_TICKET);

    for (int reuse = 0; reuse <= 1; reuse++) {
        setup(CMN_EV_ANSWERED, CMN_DIR_INBOUND);
        pol.reuse_open_case = reuse; /* off; or on with R-T2 itself off */
        pol.reuse = !reuse;
        cached_contact();
        agent("A1", NULL);
        ASSERT_EQ_INT(decide(), 0);
        ASSERT_EQ_INT(plan.need, TKT_NEED_NOTHING);
        ASSERT_EQ_INT(plan.n_ops, 1);
        ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_CREATE_TICKET);
    }
}

/* Ours first: an open ticket of ours in the same menu selection is R-T2's
 * own reuse, without reading the CRM's cases. */
static void test_R_T2_open_case_policy_ours_first(void)
{
    setup(CMN_EV_ANSWERED, CMN_DIR_INBOUND);
    pol.reuse_open_case = 1;
    cached_contact();
    agent("A1", NULL);
    add_ref("T50", TKT_KIND_CALL, TKT_ST_OPEN, "Assistenza", 1);
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.need, TKT_NEED_NOTHING);
    ASSERT_EQ_STR(plan.ops[0].ticket_id, "T50");
}

static void test_R_T2_solved_after_check_new_ticket(void)
{
    setup(CMN_EV_ANSWERED, CMN_DIR_INBOUND);
    cached_contact();
    agent("A1", NULL);
    add_ref("T50", TKT_KIND_CALL, TKT_ST_OPEN, "Assistenza", 0);
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.need, TKT_NEED_TICKET_STATUS);
    cust.tickets[0].status = TKT_ST_SOLVED; /* a person solved it since */
    cust.tickets[0].fresh = 1;
    facts.tickets_checked = 1;
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_CREATE_TICKET);
    ASSERT_EQ_INT(plan.figures.reused, 0);
}

static void test_R_T2_closed_not_asked(void)
{
    setup(CMN_EV_ANSWERED, CMN_DIR_INBOUND);
    cached_contact();
    agent("A1", NULL);
    add_ref("T50", TKT_KIND_CALL, TKT_ST_CLOSED, "Assistenza", 0);
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.need, TKT_NEED_NOTHING);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_CREATE_TICKET);
}

static void test_R_T2_missed_and_outbound_not_reused(void)
{
    setup(CMN_EV_ANSWERED, CMN_DIR_INBOUND);
    cached_contact();
    agent("A1", NULL);
    add_ref("T60", TKT_KIND_MISSED, TKT_ST_OPEN, "Assistenza", 1);
    add_ref("T61", TKT_KIND_OUTBOUND, TKT_ST_OPEN, "Assistenza", 1);
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_CREATE_TICKET);
}

static void test_R_T3_voicemail_ticket_reused_by_new_call(void)
{
    setup(CMN_EV_ANSWERED, CMN_DIR_INBOUND);
    cached_contact();
    agent("A1", NULL);
    add_ref("T70", TKT_KIND_VOICEMAIL, TKT_ST_OPEN, "Assistenza", 1);
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_UPDATE);
    ASSERT_EQ_STR(plan.ops[0].ticket_id, "T70");
    ASSERT_EQ_INT(plan.call.ticket_kind, TKT_KIND_VOICEMAIL);
    ASSERT_EQ_INT(plan.figures.reopened, 0);
}

static void test_R_T3_voicemail_always_new(void)
{
    setup(CMN_EV_ENDED, CMN_DIR_INBOUND);
    ev.outcome = CMN_OUT_VOICEMAIL;
    ev.wait_s = 30;
    TEXT(pol.default_assignee, "D1");
    cached_contact();
    add_ref("T50", TKT_KIND_CALL, TKT_ST_OPEN, "Assistenza", 1);
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    const tkt_op_t *op = &plan.ops[0];
    ASSERT_EQ_INT(op->kind, TKT_OP_CREATE_TICKET);
    ASSERT_EQ_INT(op->ticket_kind, TKT_KIND_VOICEMAIL);
    ASSERT_EQ_STR(op->subject, "Voicemail from " CUST);
    ASSERT_EQ_STR(op->assignee_id, "D1");
    ASSERT_EQ_INT(op->status, TKT_ST_OPEN);
    ASSERT_TRUE(has_tag(op, "callbus_voicemail"));
    ASSERT_HAS(op->body, "Voicemail from " CUST);
    ASSERT_HAS(op->body, "Call summary");
    ASSERT_HAS(op->body, "Wait: 30s");
    ASSERT_HAS(op->body, "Outcome: voicemail");
    ASSERT_EQ_INT(plan.call_done, 1);
    ASSERT_EQ_INT(plan.customer.tickets[0].kind, TKT_KIND_VOICEMAIL);
    ASSERT_EQ_INT(plan.figures.created[TKT_KIND_VOICEMAIL], 1);
    ASSERT_EQ_INT(plan.customer.last_call.ended_at_ms, 0); /* no conversation */
}

static void test_R_T11_voicemail_nobody_without_default(void)
{
    setup(CMN_EV_ENDED, CMN_DIR_INBOUND);
    ev.outcome = CMN_OUT_VOICEMAIL;
    cached_contact();
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.ops[0].set_assignee, 1);
    ASSERT_EQ_STR(plan.ops[0].assignee_id, "");
}

/* ---- R-T8 ---------------------------------------------------------------------- */

static void test_R_T8_ivr_ticket_bound_on_answer(void)
{
    setup(CMN_EV_ANSWERED, CMN_DIR_INBOUND);
    map_fields();
    cached_contact();
    agent("A1", NULL);
    ev.ticket_id = "IVR77";
    ev.ticket_type = "amministrazione";
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.need, TKT_NEED_NOTHING);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_UPDATE);
    ASSERT_EQ_STR(plan.ops[0].ticket_id, "IVR77");
    ASSERT_EQ_STR(plan.ops[0].assignee_id, "A1");
    ASSERT_EQ_INT(plan.ops[0].status, TKT_ST_OPEN);
    ASSERT_HAS(plan.ops[0].body, "Ticket type: amministrazione");
    ASSERT_EQ_STR(field(&plan.ops[0], "F_TT"), "amministrazione");
    ASSERT_EQ_STR(plan.call.ticket_id, "IVR77");
    ASSERT_EQ_INT(plan.call.ticket_kind, TKT_KIND_IVR);
    ASSERT_EQ_STR(plan.customer.tickets[0].id, "IVR77");
    ASSERT_EQ_INT(plan.customer.tickets[0].kind, TKT_KIND_IVR);
    ASSERT_EQ_INT(plan.figures.reused, 0);
}

static void test_R_T8_ivr_ticket_bound_while_offered(void)
{
    setup(CMN_EV_OFFERED, CMN_DIR_INBOUND);
    cached_contact();
    agent("A3", NULL);
    ev.ticket_id = "IVR77";
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 0);
    ASSERT_EQ_STR(plan.call.ticket_id, "IVR77");
    ASSERT_EQ_STR(plan.call.last_offered_crm_id, "A3");
    commit("-", "-");
    event(CMN_EV_ANSWERED, CMN_DIR_INBOUND);
    agent("A1", NULL);
    ASSERT_EQ_INT(tkt_decide(&pol, &ev, &call, &cust, &facts, &plan), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_STR(plan.ops[0].ticket_id, "IVR77");
    ASSERT_EQ_STR(plan.ops[0].assignee_id, "A1");
}

static void test_R_T8_ivr_ticket_unanswered_stays_open(void)
{
    setup(CMN_EV_ENDED, CMN_DIR_INBOUND);
    ev.outcome = CMN_OUT_MISSED;
    TEXT(pol.default_assignee, "D1");
    cached_contact();
    TEXT(call.call_id, "C1");
    TEXT(call.ticket_id, "IVR77");
    call.ticket_kind = TKT_KIND_IVR;
    TEXT(call.last_offered_crm_id, "A3");
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_UPDATE);
    ASSERT_EQ_STR(plan.ops[0].ticket_id, "IVR77");
    ASSERT_EQ_INT(plan.ops[0].status, TKT_ST_OPEN);
    /* R-M1: the last agent offered, as the grouper's group.open says
     * (issue 19 item 5: whichever of the two comes last, the same one) */
    ASSERT_EQ_STR(plan.ops[0].assignee_id, "A3");
    ASSERT_HAS(plan.ops[0].body, "Call summary");
    ASSERT_HAS(plan.ops[0].body, "Outcome: missed");
    pol.unanswered = TKT_UNANSWERED_GROUPER; /* ticket-service still writes the summary */
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_STR(plan.ops[0].ticket_id, "IVR77");
    ASSERT_EQ_STR(plan.ops[0].assignee_id, "A3");
    TEXT(call.last_offered_crm_id, ""); /* never offered (abandoned): R-T11's default */
    ev.outcome = CMN_OUT_ABANDONED;
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_STR(plan.ops[0].assignee_id, "D1");
}

/* ---- R-T4 ------------------------------------------------------------------------ */

static void test_R_T4_reassign(void)
{
    setup(CMN_EV_TRANSFERRED, CMN_DIR_INBOUND);
    answered_call("T1");
    agent("A2", "Marta Bianchi");
    ev.previous_agent.provider_id = "op-0";
    ev.previous_agent.crm_id = "A1";
    ev.previous_agent.name = "Luca Verdi";
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_UPDATE);
    ASSERT_EQ_STR(plan.ops[0].ticket_id, "T1");
    ASSERT_EQ_INT(plan.ops[0].set_assignee, 1);
    ASSERT_EQ_STR(plan.ops[0].assignee_id, "A2");
    ASSERT_EQ_INT(plan.ops[0].status, TKT_ST_UNKNOWN);
    ASSERT_HAS(plan.ops[0].body, "Call transferred from Luca Verdi to Marta Bianchi");
    ASSERT_EQ_STR(plan.call.agent_crm_id, "A2");
    ASSERT_EQ_STR(plan.call.ticket_id, "T1");
}

static void test_R_T4_reassign_unmapped_target(void)
{
    setup(CMN_EV_TRANSFERRED, CMN_DIR_INBOUND);
    answered_call("T1");
    agent(NULL, NULL);
    ev.previous_agent.crm_id = "A1";
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 0);
    ASSERT_HAS(plan.note, "left as it is");
    ASSERT_EQ_INT(plan.figures.ignored_unmapped, 1);
    ASSERT_EQ_STR(plan.call.ticket_id, "T1");
}

/* CallGear reports a transfer as the next agent accepting the call. */
static void test_R_T4_answer_by_other_agent_is_transfer(void)
{
    setup(CMN_EV_ANSWERED, CMN_DIR_INBOUND);
    answered_call("T1");
    agent("A2", NULL);
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_STR(plan.ops[0].ticket_id, "T1");
    ASSERT_EQ_STR(plan.ops[0].assignee_id, "A2");
    ASSERT_HAS(plan.ops[0].body, "Call transferred from A1 to A2");
    commit("-", "-");
    ASSERT_EQ_INT(decide(), 0); /* replayed */
    ASSERT_EQ_INT(plan.n_ops, 0);
}

static void test_R_T4_transfer_to_mapped_after_unmapped_answer(void)
{
    setup(CMN_EV_TRANSFERRED, CMN_DIR_INBOUND);
    cached_contact();
    TEXT(call.call_id, "C1");
    call.answered = 1; /* answered by an unmapped operator: no ticket */
    agent("A2", NULL);
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_CREATE_TICKET);
    ASSERT_EQ_STR(plan.ops[0].assignee_id, "A2");
    ASSERT_EQ_STR(plan.ops[0].external_id, "callbus-C1");
}

static void test_R_T4_split_new_leg_ticket(void)
{
    setup(CMN_EV_TRANSFERRED, CMN_DIR_INBOUND);
    pol.transfer = TKT_TRANSFER_SPLIT;
    answered_call("T1");
    agent("A2", NULL);
    ev.previous_agent.crm_id = "A1";
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 2);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_UPDATE);
    ASSERT_EQ_STR(plan.ops[0].ticket_id, "T1");
    ASSERT_EQ_INT(plan.ops[0].status, TKT_ST_PENDING);
    ASSERT_HAS(plan.ops[0].body, "Call transferred to A2");
    ASSERT_EQ_INT(plan.ops[0].set_assignee, 0);
    ASSERT_EQ_INT(plan.ops[1].kind, TKT_OP_CREATE_TICKET);
    ASSERT_EQ_STR(plan.ops[1].subject, "Call from " CUST);
    ASSERT_EQ_STR(plan.ops[1].assignee_id, "A2");
    ASSERT_EQ_INT(plan.ops[1].status, TKT_ST_OPEN);
    ASSERT_EQ_STR(plan.ops[1].external_id, "callbus-C1-leg-2");
    ASSERT_EQ_INT(plan.call.n_legs, 2);
    ASSERT_EQ_STR(plan.call.legs[0].agent_crm_id, "A1");
    ASSERT_EQ_STR(plan.call.legs[0].ticket_id, "T1");
    ASSERT_EQ_STR(plan.call.legs[1].agent_crm_id, "A2");
    ASSERT_EQ_STR(plan.call.legs[1].ticket_id, TKT_REF_NEW_TICKET);
    ASSERT_EQ_STR(plan.call.ticket_id, TKT_REF_NEW_TICKET);
    /* a third agent: one more leg */
    commit("T2", "-");
    event(CMN_EV_TRANSFERRED, CMN_DIR_INBOUND);
    pol.transfer = TKT_TRANSFER_SPLIT;
    agent("A3", NULL);
    ASSERT_EQ_INT(tkt_decide(&pol, &ev, &call, &cust, &facts, &plan), 0);
    ASSERT_EQ_INT(plan.n_ops, 2);
    ASSERT_EQ_STR(plan.ops[0].ticket_id, "T2");
    ASSERT_EQ_STR(plan.ops[1].external_id, "callbus-C1-leg-3");
    ASSERT_EQ_INT(plan.call.n_legs, 3);
}

static void test_R_T4_split_idle_leg_closed(void)
{
    setup(CMN_EV_TRANSFERRED, CMN_DIR_INBOUND);
    pol.transfer = TKT_TRANSFER_SPLIT;
    cached_contact();
    TEXT(call.call_id, "C1"); /* the first agent's answer made no ticket (never seen) */
    agent("A2", NULL);
    ev.previous_agent.provider_id = "op-0";
    ev.previous_agent.crm_id = "A1";
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 2);
    const tkt_op_t *idle = &plan.ops[0], *next = &plan.ops[1];
    ASSERT_EQ_INT(idle->kind, TKT_OP_CREATE_TICKET);
    ASSERT_EQ_INT(idle->status, TKT_ST_CLOSED);
    ASSERT_EQ_STR(idle->subject, "Incoming call from " CUST);
    ASSERT_EQ_STR(idle->assignee_id, "A1");
    ASSERT_EQ_STR(idle->external_id, "callbus-C1-leg-1");
    ASSERT_TRUE(has_tag(idle, "callbus_idle_leg"));
    ASSERT_EQ_INT(next->kind, TKT_OP_CREATE_TICKET);
    ASSERT_EQ_INT(next->status, TKT_ST_OPEN);
    ASSERT_EQ_STR(next->assignee_id, "A2");
    ASSERT_EQ_STR(next->external_id, "callbus-C1-leg-2");
    ASSERT_EQ_INT(plan.figures.closed, 1);
    ASSERT_EQ_INT(plan.figures.created[TKT_KIND_CALL], 2);
    ASSERT_EQ_STR(plan.call.legs[0].ticket_id, "");
    ASSERT_EQ_STR(plan.call.legs[1].ticket_id, TKT_REF_NEW_TICKET);
    ASSERT_EQ_INT(plan.customer.n_tickets, 1); /* only the open one is remembered */
}

/* ---- R-T5, R-T7, R-T10 ------------------------------------------------------------ */

static void test_R_T5_end_answered_summary_pending(void)
{
    setup(CMN_EV_ENDED, CMN_DIR_INBOUND);
    map_fields();
    answered_call("T1");
    add_ref("T1", TKT_KIND_CALL, TKT_ST_OPEN, "Assistenza", 0);
    ev.outcome = CMN_OUT_ANSWERED;
    agent("A1", "Luca Verdi");
    ev.wait_s = 12;
    ev.talk_s = 192;
    ev.hold_s = 5;
    ev.total_s = 230;
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.need, TKT_NEED_NOTHING);
    ASSERT_EQ_INT(plan.n_ops, 1); /* summary + fields + status: one request */
    const tkt_op_t *op = &plan.ops[0];
    ASSERT_EQ_INT(op->kind, TKT_OP_UPDATE);
    ASSERT_EQ_STR(op->ticket_id, "T1");
    ASSERT_EQ_INT(op->status, TKT_ST_PENDING);
    ASSERT_EQ_INT(op->public_comment, 0);
    ASSERT_HAS(op->body, "Call summary");
    ASSERT_HAS(op->body, "Direction: inbound");
    ASSERT_HAS(op->body, "From: " CUST);
    ASSERT_HAS(op->body, "To: " OURS);
    ASSERT_HAS(op->body, "Agent: Luca Verdi");
    ASSERT_HAS(op->body, "Queue: Assistenza");
    ASSERT_HAS(op->body, "Wait: 12s");
    ASSERT_HAS(op->body, "Talk: 3m 12s");
    ASSERT_HAS(op->body, "Hold: 5s");
    ASSERT_HAS(op->body, "Total: 3m 50s");
    ASSERT_EQ_STR(field(op, "F_DUR"), "230");
    ASSERT_EQ_STR(field(op, "F_WAIT"), "12");
    ASSERT_EQ_STR(field(op, "F_QUEUE"), "Assistenza");
    ASSERT_EQ_STR(field(op, "F_CALL"), "C1");
    ASSERT_EQ_STR(field(op, "F_HOLD"), "5");
    ASSERT_EQ_INT(plan.call_done, 1);
    ASSERT_EQ_INT(plan.call.ended, 1);
    ASSERT_EQ_STR(plan.customer.last_call.call_id, "C1");
    ASSERT_EQ_STR(plan.customer.last_call.ticket_id, "T1");
    ASSERT_EQ_STR(plan.customer.last_call.agent_crm_id, "A1");
    ASSERT_EQ_INT(plan.customer.last_call.ended_at_ms, T0);
    ASSERT_EQ_INT(plan.customer.last_call.total_s, 230);
    ASSERT_EQ_INT(plan.customer.tickets[0].status, TKT_ST_PENDING);
}

static void test_R_T5_end_replay_no_ops(void)
{
    setup(CMN_EV_ENDED, CMN_DIR_INBOUND);
    answered_call("T1");
    call.ended = 1;
    ev.outcome = CMN_OUT_ANSWERED;
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 0);
    ASSERT_HAS(plan.note, "replay");
}

static void test_R_T5_late_ticket_when_answer_unseen(void)
{
    setup(CMN_EV_ENDED, CMN_DIR_INBOUND);
    cached_contact();
    ev.outcome = CMN_OUT_ANSWERED;
    agent("A1", NULL);
    ev.talk_s = 40;
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_CREATE_TICKET);
    ASSERT_EQ_INT(plan.ops[0].status, TKT_ST_PENDING);
    ASSERT_EQ_STR(plan.ops[0].external_id, "callbus-C1");
    ASSERT_HAS(plan.ops[0].body, "Call ID: C1");
    ASSERT_HAS(plan.ops[0].body, "Talk: 40s");
    ASSERT_EQ_STR(plan.customer.last_call.ticket_id, TKT_REF_NEW_TICKET);
}

static void test_R_T7_merged_redirect(void)
{
    setup(CMN_EV_ENDED, CMN_DIR_INBOUND);
    answered_call("T1");
    tkt_ticket_ref_t *r = add_ref("T1", TKT_KIND_CALL, TKT_ST_CLOSED, "Assistenza", 1);
    TEXT(r->merged_into, "T2");
    ev.outcome = CMN_OUT_ANSWERED;
    agent("A1", NULL);
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_UPDATE);
    ASSERT_EQ_STR(plan.ops[0].ticket_id, "T2");
    ASSERT_EQ_INT(plan.ops[0].status, TKT_ST_PENDING);
    ASSERT_HAS(plan.ops[0].body, "Call summary");
    ASSERT_EQ_STR(plan.call.ticket_id, "T2");
    ASSERT_EQ_STR(plan.customer.last_call.ticket_id, "T2");
}

static void test_R_T10_closed_ticket_new_ticket(void)
{
    setup(CMN_EV_ENDED, CMN_DIR_INBOUND);
    answered_call("T1");
    add_ref("T1", TKT_KIND_CALL, TKT_ST_SOLVED, "Assistenza", 1);
    ev.outcome = CMN_OUT_ANSWERED;
    agent("A1", NULL);
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    const tkt_op_t *op = &plan.ops[0];
    ASSERT_EQ_INT(op->kind, TKT_OP_CREATE_TICKET);
    ASSERT_EQ_INT(op->ticket_kind, TKT_KIND_CALL);
    ASSERT_EQ_STR(op->subject, "Call from " CUST);
    ASSERT_EQ_STR(op->external_id, "callbus-C1-after-T1");
    ASSERT_EQ_STR(op->requester_id, "K1");
    ASSERT_EQ_STR(op->assignee_id, "A1");
    ASSERT_EQ_INT(op->status, TKT_ST_PENDING);
    ASSERT_HAS(op->body, "Ticket T1 of this call was solved or closed");
    ASSERT_HAS(op->body, "Call summary");
    ASSERT_EQ_STR(plan.call.ticket_id, TKT_REF_NEW_TICKET);
}

/* R-T10 with R-M2 (issue 23 item 5): a group op's write to the customer's
 * missed-call ticket, which a person solved, goes to a new missed-call
 * ticket (R-M1) on the customer's contact (the missed call has none of its
 * own), named after the group so the group's next op finds it. */
static void test_R_T10_solved_missed_ticket_replaced_by_a_missed_ticket(void)
{
    setup(CMN_EV_ENDED, CMN_DIR_INBOUND);
    cached_contact();
    TEXT(call.call_id, "C3");
    TEXT(call.customer, CUST);
    TEXT(call.last_offered_crm_id, "A2");
    TEXT(cust.missed_group_id, "grp-1");
    TEXT(cust.missed_ticket_id, "T1");
    tkt_op_t op;
    ASSERT_EQ_INT(tkt_replacement_ticket(&pol, &ev, &call, &cust, "T1", TKT_ST_OPEN, &op), 0);
    ASSERT_EQ_INT(op.kind, TKT_OP_CREATE_TICKET);
    ASSERT_EQ_INT(op.ticket_kind, TKT_KIND_MISSED);
    ASSERT_EQ_STR(op.subject, "Missed call from " CUST);
    ASSERT_EQ_STR(op.external_id, "callbus-missed-grp-1-after-T1");
    ASSERT_EQ_STR(op.requester_id, "K1");
    ASSERT_EQ_STR(op.assignee_id, "A2");
    ASSERT_EQ_INT(op.status, TKT_ST_OPEN);
    ASSERT_TRUE(has_tag(&op, "callbus_missed"));
    ASSERT_HAS(op.body, "Missed-call ticket T1 was solved or closed");
}

/* ...but a call attached to the missed-call ticket (R-M3 b/e) whose own
 * write finds it solved gets a call's replacement, as any call. */
static void test_R_T10_call_on_a_solved_missed_ticket_keeps_a_call_ticket(void)
{
    setup(CMN_EV_ENDED, CMN_DIR_INBOUND);
    answered_call("T1");
    TEXT(cust.missed_group_id, "grp-1");
    TEXT(cust.missed_ticket_id, "T1");
    tkt_op_t op;
    ASSERT_EQ_INT(tkt_replacement_ticket(&pol, &ev, &call, &cust, "T1", TKT_ST_PENDING, &op), 0);
    ASSERT_EQ_INT(op.ticket_kind, TKT_KIND_CALL);
    ASSERT_EQ_STR(op.external_id, "callbus-C1-after-T1");
}

/* ---- R-T6, R-T12 -------------------------------------------------------------------- */

static void test_R_T6_recording_comment(void)
{
    setup(CMN_EV_RECORDING_READY, CMN_DIR_INBOUND);
    answered_call("T1");
    call.ended = 1;
    ev.customer_number = NULL; /* a recording notification may not carry it */
    ev.recording_url = "https://rec.example/1.mp3";
    ev.recording_duration_s = 125;
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_COMMENT);
    ASSERT_EQ_STR(plan.ops[0].ticket_id, "T1");
    ASSERT_EQ_STR(plan.ops[0].body, "Recording (2m 05s): https://rec.example/1.mp3");
    ASSERT_EQ_INT(plan.ops[0].public_comment, 0);
}

/* R-T6 + issue 24 item 3: every link of the recording is in the comment. */
static void test_R_T6_recording_every_link(void)
{
    setup(CMN_EV_RECORDING_READY, CMN_DIR_INBOUND);
    answered_call("T1");
    call.ended = 1;
    ev.recording_url = "https://rec.example/1.mp3";
    ev.recording_more[0] = "https://rec.example/2.mp3";
    ev.recording_more[1] = "https://rec.example/1.wav";
    ev.n_recording_more = 2;
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_STR(plan.ops[0].body, "Recording: https://rec.example/1.mp3\n"
                                    "Recording link 2: https://rec.example/2.mp3\n"
                                    "Recording link 3: https://rec.example/1.wav");
}

/* issue 24 item 3: the provider's tags (CallGear tag_names) on the call's
 * ticket: carried by its creation, added by a write to it (an UPDATE, not
 * a bare COMMENT, so the tags travel); one word each, lowercase, at most
 * TKT_PROVIDER_TAGS_MAX, none that passes for ours. */
static void test_provider_tags_on_the_calls_ticket(void)
{
    static char *tags[] = {"VIP", "Geri Ara", "callbus_closed", "Şikayet", "  ", "a", "b"};
    setup(CMN_EV_ANSWERED, CMN_DIR_INBOUND);
    agent("A1", NULL);
    cached_contact();
    ev.tags = tags;
    ev.n_tags = 7;
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_CREATE_TICKET);
    ASSERT_EQ_INT(plan.ops[0].n_tags, 2 + TKT_PROVIDER_TAGS_MAX);
    ASSERT_EQ_STR(plan.ops[0].tags[2], "vip");
    ASSERT_EQ_STR(plan.ops[0].tags[3], "geri_ara");
    ASSERT_EQ_STR(plan.ops[0].tags[4], "\xc5\x9eikayet"); /* kept as sent: not ASCII */
    ASSERT_EQ_STR(plan.ops[0].tags[5], "a");
    setup(CMN_EV_RECORDING_READY, CMN_DIR_INBOUND);
    answered_call("T1");
    call.ended = 1;
    ev.recording_url = "https://rec.example/1.mp3";
    ev.tags = tags;
    ev.n_tags = 1;
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_UPDATE);
    ASSERT_EQ_INT(plan.ops[0].status, TKT_ST_UNKNOWN);
    ASSERT_EQ_INT(plan.ops[0].n_tags, 1);
    ASSERT_EQ_STR(plan.ops[0].tags[0], "vip");
}

static void test_R_T6_recording_no_ticket_note(void)
{
    setup(CMN_EV_RECORDING_READY, CMN_DIR_INBOUND);
    ev.recording_url = "https://rec.example/1.mp3";
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 0);
    ASSERT_HAS(plan.note, "R-T6");
}

static void test_R_T6_recording_follows_merge(void)
{
    setup(CMN_EV_RECORDING_READY, CMN_DIR_INBOUND);
    answered_call("T1");
    tkt_ticket_ref_t *r = add_ref("T1", TKT_KIND_CALL, TKT_ST_CLOSED, "Assistenza", 1);
    TEXT(r->merged_into, "T2");
    ev.recording_url = "https://rec.example/1.mp3";
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_COMMENT);
    ASSERT_EQ_STR(plan.ops[0].ticket_id, "T2");
    ASSERT_EQ_STR(plan.ops[0].body, "Recording: https://rec.example/1.mp3");
}

static void test_R_T12_csat_comment_and_field(void)
{
    setup(CMN_EV_CSAT, CMN_DIR_INBOUND);
    map_fields();
    answered_call("T1");
    ev.csat_score = 4;
    ev.csat_scale = 5;
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_UPDATE);
    ASSERT_EQ_STR(plan.ops[0].ticket_id, "T1");
    ASSERT_EQ_STR(plan.ops[0].body, "Customer satisfaction: 4/5");
    ASSERT_EQ_STR(field(&plan.ops[0], "F_CSAT"), "4");
    ASSERT_EQ_INT(plan.ops[0].status, TKT_ST_UNKNOWN);
}

static void test_R_T12_csat_unmapped_comment_only(void)
{
    setup(CMN_EV_CSAT, CMN_DIR_INBOUND);
    answered_call("T1");
    ev.csat_score = 9;
    ev.csat_scale = 10;
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_COMMENT);
    ASSERT_EQ_STR(plan.ops[0].body, "Customer satisfaction: 9/10");
}

/* ---- R-M1, R-T11 (unanswered inbound) ---------------------------------------------- */

static void test_R_M1_missed_ticket_last_offered(void)
{
    setup(CMN_EV_OFFERED, CMN_DIR_INBOUND);
    cached_contact();
    agent("A3", NULL);
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 0);
    commit("-", "-");
    event(CMN_EV_ENDED, CMN_DIR_INBOUND);
    ev.outcome = CMN_OUT_MISSED;
    TEXT(pol.default_assignee, "D1");
    ASSERT_EQ_INT(tkt_decide(&pol, &ev, &call, &cust, &facts, &plan), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    const tkt_op_t *op = &plan.ops[0];
    ASSERT_EQ_INT(op->kind, TKT_OP_CREATE_TICKET);
    ASSERT_EQ_INT(op->ticket_kind, TKT_KIND_MISSED);
    ASSERT_EQ_STR(op->subject, "Missed call from " CUST);
    ASSERT_EQ_INT(op->status, TKT_ST_OPEN);
    ASSERT_EQ_STR(op->assignee_id, "A3");
    ASSERT_EQ_STR(op->external_id, "callbus-C1");
    ASSERT_TRUE(has_tag(op, "callbus") && has_tag(op, "callbus_missed"));
    ASSERT_HAS(op->body, "Missed call from " CUST);
    ASSERT_HAS(op->body, "Outcome: missed");
    ASSERT_EQ_INT(plan.figures.created[TKT_KIND_MISSED], 1);
    ASSERT_EQ_INT(plan.customer.tickets[0].kind, TKT_KIND_MISSED);
}

/* CallGear: an operator leg that ends unanswered is the only sign of an offer. */
static void test_R_M1_unanswered_leg_is_last_offered(void)
{
    setup(CMN_EV_LEG_ENDED, CMN_DIR_INBOUND);
    cached_contact();
    TEXT(call.last_offered_crm_id, "A3");
    agent("A5", NULL);
    ev.outcome = CMN_OUT_MISSED;
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 0);
    ASSERT_EQ_STR(plan.call.last_offered_crm_id, "A5");
    commit("-", "-");
    event(CMN_EV_ENDED, CMN_DIR_INBOUND);
    ev.outcome = CMN_OUT_MISSED;
    ASSERT_EQ_INT(tkt_decide(&pol, &ev, &call, &cust, &facts, &plan), 0);
    ASSERT_EQ_STR(plan.ops[0].assignee_id, "A5");
}

static void test_R_M1_last_offered_unmapped_gets_default(void)
{
    setup(CMN_EV_ENDED, CMN_DIR_INBOUND);
    cached_contact();
    TEXT(call.last_offered_crm_id, "A3"); /* offered earlier ... */
    agent(NULL, NULL);                    /* ... last to an unmapped operator */
    ev.outcome = CMN_OUT_MISSED;
    TEXT(pol.default_assignee, "D1");
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_STR(plan.ops[0].assignee_id, "D1");
}

static void test_R_T11_missed_no_offer_default_assignee(void)
{
    setup(CMN_EV_ENDED, CMN_DIR_INBOUND);
    cached_contact();
    ev.outcome = CMN_OUT_MISSED;
    TEXT(pol.default_assignee, "D1");
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_STR(plan.ops[0].assignee_id, "D1");
    ASSERT_EQ_INT(plan.ops[0].set_assignee, 1);
}

static void test_R_M1_abandoned_ticket(void)
{
    setup(CMN_EV_ENDED, CMN_DIR_INBOUND);
    cached_contact();
    ev.outcome = CMN_OUT_ABANDONED;
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    const tkt_op_t *op = &plan.ops[0];
    ASSERT_EQ_INT(op->ticket_kind, TKT_KIND_ABANDONED);
    ASSERT_EQ_STR(op->subject, "Missed call from " CUST);
    ASSERT_EQ_INT(op->status, TKT_ST_OPEN);
    ASSERT_EQ_STR(op->assignee_id, ""); /* nobody offered, no default user */
    ASSERT_TRUE(has_tag(op, "callbus_missed") && has_tag(op, "callbus_abandoned"));
    ASSERT_HAS(op->body, "Abandoned call from " CUST);
    ASSERT_EQ_INT(plan.figures.created[TKT_KIND_ABANDONED], 1);
}

static void test_R_M1_abandoned_switched_off(void)
{
    setup(CMN_EV_ENDED, CMN_DIR_INBOUND);
    cached_contact();
    pol.abandoned_tickets = 0;
    ev.outcome = CMN_OUT_ABANDONED;
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 0);
    ASSERT_HAS(plan.note, "switched off");
    ASSERT_EQ_INT(plan.call_done, 1);
}

static void test_R_M1_grouper_leaves_missed(void)
{
    setup(CMN_EV_ENDED, CMN_DIR_INBOUND);
    cached_contact();
    pol.unanswered = TKT_UNANSWERED_GROUPER;
    ev.outcome = CMN_OUT_MISSED;
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 0);
    ASSERT_HAS(plan.note, "grouper");
    ev.outcome = CMN_OUT_VOICEMAIL; /* still handled here (R-T3) */
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_INT(plan.ops[0].ticket_kind, TKT_KIND_VOICEMAIL);
}

static void test_R_M1_withheld_missed_call(void)
{
    setup(CMN_EV_ENDED, CMN_DIR_INBOUND);
    ev.customer_number = NULL;
    ev.outcome = CMN_OUT_MISSED;
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.need, TKT_NEED_NOTHING);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_STR(plan.ops[0].subject, "Missed call from withheld number");
    ASSERT_EQ_STR(plan.ops[0].requester_id, "");
    ASSERT_HAS(plan.ops[0].body, "From: withheld number");
}

/* ---- R-O1..R-O4, R-C5, R-M3 -------------------------------------------------------- */

static void test_R_O1_attach_from_ticket(void)
{
    setup(CMN_EV_OUTBOUND_STARTED, CMN_DIR_OUTBOUND);
    cached_contact();
    agent("A1", "Luca Verdi");
    ev.ticket_id = "T5";
    add_ref("T9", TKT_KIND_CALL, TKT_ST_OPEN, "Vendite", 1);
    add_ref("T5", TKT_KIND_CALL, TKT_ST_PENDING, "Assistenza", 0);
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.need, TKT_NEED_TICKET_STATUS);
    ASSERT_EQ_STR(plan.need_ticket_id, "T5");
    cust.tickets[1].fresh = 1;
    facts.tickets_checked = 1;
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_COMMENT); /* no status yet: R-O3 */
    ASSERT_EQ_STR(plan.ops[0].ticket_id, "T5");
    ASSERT_EQ_INT(plan.ops[0].status, TKT_ST_UNKNOWN);
    ASSERT_EQ_INT(plan.ops[0].set_assignee, 0);
    ASSERT_HAS(plan.ops[0].body, "Outbound call to " CUST " by Luca Verdi");
    ASSERT_LACKS(plan.ops[0].body, "Dialled number");
    ASSERT_EQ_STR(plan.call.ticket_id, "T5");
    ASSERT_EQ_INT(plan.call.outbound, 1);
    ASSERT_EQ_INT(plan.figures.reused, 1);
    ASSERT_EQ_INT(plan.customer.tickets[1].status, TKT_ST_PENDING);
}

/* R-O1 + R-O3: the attached ticket is set open when the customer answers,
 * never by an attempt alone. */
static void test_R_O1_open_when_answered(void)
{
    setup(CMN_EV_OUTBOUND_ANSWERED, CMN_DIR_OUTBOUND);
    cached_contact();
    agent("A1", NULL);
    add_ref("T5", TKT_KIND_CALL, TKT_ST_PENDING, "Assistenza", 1);
    call.outbound = 1;
    snprintf(call.ticket_id, sizeof call.ticket_id, "T5");
    snprintf(call.call_id, sizeof call.call_id, "%s", ev.call_id);
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_UPDATE);
    ASSERT_EQ_STR(plan.ops[0].ticket_id, "T5");
    ASSERT_EQ_INT(plan.ops[0].status, TKT_ST_OPEN);
    ASSERT_EQ_INT(plan.call.answered, 1);
}

static void test_R_O1_solved_ticket_new(void)
{
    setup(CMN_EV_OUTBOUND_STARTED, CMN_DIR_OUTBOUND);
    cached_contact();
    agent("A1", NULL);
    ev.ticket_id = "T5";
    add_ref("T5", TKT_KIND_CALL, TKT_ST_SOLVED, "Assistenza", 1);
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    const tkt_op_t *op = &plan.ops[0];
    ASSERT_EQ_INT(op->kind, TKT_OP_CREATE_TICKET);
    ASSERT_EQ_INT(op->ticket_kind, TKT_KIND_OUTBOUND);
    ASSERT_EQ_STR(op->subject, "Call to " CUST);
    ASSERT_EQ_STR(op->assignee_id, "A1");
    ASSERT_EQ_INT(op->status, TKT_ST_OPEN);
    ASSERT_TRUE(has_tag(op, "callbus_outbound"));
    ASSERT_EQ_STR(op->external_id, "callbus-C1");
    ASSERT_EQ_INT(plan.figures.created[TKT_KIND_OUTBOUND], 1);
}

static void test_R_O1_not_ours_new(void)
{
    setup(CMN_EV_OUTBOUND_STARTED, CMN_DIR_OUTBOUND);
    cached_contact();
    agent("A1", NULL);
    ev.ticket_id = "X9";
    /* R-C5: not this number's ticket: whose is it? (issue 24 item 4) */
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.need, TKT_NEED_TICKET_OWNER);
    ASSERT_EQ_STR(plan.need_ticket_id, "X9");
    ASSERT_EQ_INT(plan.n_ops, 0);
    /* the index knows no customer of X9: nobody's state was handed in */
    facts.owner_known = 1;
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.need, TKT_NEED_NOTHING);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_CREATE_TICKET);
    ASSERT_EQ_INT(plan.ops[0].ticket_kind, TKT_KIND_OUTBOUND);
}

/* R-C5 + R-O1 (issue 24 item 4): the agent calls from T5, a ticket of
 * +390211111111, the number +393331234567 no contact has. First the
 * dialled number's state (empty) is handed in: the rules ask whose T5 is
 * and nothing else (no look-up that would create a contact). With the
 * owner's state handed in: attached to T5, the number in its comment, no
 * contact look-up, no contact, no ticket. */
static void test_R_C5_call_from_another_customers_ticket(void)
{
    setup(CMN_EV_OUTBOUND_STARTED, CMN_DIR_OUTBOUND);
    TEXT(cust.number, "+393331234567");
    ev.customer_number = "+393331234567";
    ev.ticket_id = "T5";
    agent("A1", NULL);
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.need, TKT_NEED_TICKET_OWNER);
    ASSERT_EQ_STR(plan.need_ticket_id, "T5");
    ASSERT_EQ_INT(plan.n_ops, 0);
    facts.owner_known = 1;
    memset(&cust, 0, sizeof cust);
    TEXT(cust.number, "+390211111111");
    TEXT(cust.contact_id, "K1");
    add_ref("T5", TKT_KIND_CALL, TKT_ST_PENDING, "Assistenza", 1);
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.need, TKT_NEED_NOTHING);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_COMMENT);
    ASSERT_EQ_STR(plan.ops[0].ticket_id, "T5");
    ASSERT_HAS(plan.ops[0].body, "Outbound call to +393331234567");
    ASSERT_HAS(plan.ops[0].body, "Dialled number: +393331234567 (not stored on the contact)");
    ASSERT_EQ_STR(plan.call.ticket_id, "T5");
    ASSERT_EQ_STR(plan.customer.number, "+390211111111");
    ASSERT_EQ_STR(plan.customer.contact_id, "K1");
    ASSERT_EQ_INT(plan.figures.created[TKT_KIND_OUTBOUND], 0);
}

static void last_call(const char *ticket, int64_t ended, int64_t total)
{
    TEXT(cust.last_call.call_id, "C0");
    TEXT(cust.last_call.ticket_id, ticket);
    TEXT(cust.last_call.agent_crm_id, "A1");
    cust.last_call.ended_at_ms = ended;
    cust.last_call.total_s = total;
}

static void test_R_O4_callback_same_ticket(void)
{
    setup(CMN_EV_OUTBOUND_STARTED, CMN_DIR_OUTBOUND);
    cached_contact();
    agent("A1", NULL);
    add_ref("T8", TKT_KIND_CALL, TKT_ST_SOLVED, "Vendite", 1);
    add_ref("T7", TKT_KIND_CALL, TKT_ST_PENDING, "Assistenza", 1);
    last_call("T7", T0 - 30000, 6);
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_COMMENT);
    ASSERT_EQ_STR(plan.ops[0].ticket_id, "T7");
    ASSERT_EQ_INT(plan.ops[0].status, TKT_ST_UNKNOWN);
    ASSERT_EQ_STR(plan.call.ticket_id, "T7");
}

static void test_R_O4_long_call_falls_to_R_O2(void)
{
    setup(CMN_EV_OUTBOUND_STARTED, CMN_DIR_OUTBOUND);
    cached_contact();
    agent("A1", NULL);
    add_ref("T8", TKT_KIND_CALL, TKT_ST_OPEN, "Vendite", 1);
    add_ref("T7", TKT_KIND_CALL, TKT_ST_PENDING, "Assistenza", 1);
    last_call("T7", T0 - 30000, 40);
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_STR(plan.ops[0].ticket_id, "T8");
}

static void test_R_O4_window_passed(void)
{
    setup(CMN_EV_OUTBOUND_STARTED, CMN_DIR_OUTBOUND);
    cached_contact();
    agent("A1", NULL);
    add_ref("T7", TKT_KIND_CALL, TKT_ST_SOLVED, "Assistenza", 1);
    last_call("T7", T0 - 121000, 6);
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_CREATE_TICKET); /* R-O2: latest not open */
}

static void test_R_O2_latest_open_attach(void)
{
    setup(CMN_EV_OUTBOUND_STARTED, CMN_DIR_OUTBOUND);
    cached_contact();
    agent("A1", NULL);
    add_ref("T8", TKT_KIND_MISSED, TKT_ST_OPEN, "Assistenza", 0);
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.need, TKT_NEED_TICKET_STATUS);
    ASSERT_EQ_STR(plan.need_ticket_id, "T8");
    cust.tickets[0].fresh = 1;
    facts.tickets_checked = 1;
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_STR(plan.ops[0].ticket_id, "T8");
    ASSERT_EQ_INT(plan.call.ticket_kind, TKT_KIND_MISSED);
}

static void test_R_O2_latest_not_open_new(void)
{
    setup(CMN_EV_OUTBOUND_STARTED, CMN_DIR_OUTBOUND);
    cached_contact();
    agent("A1", NULL);
    add_ref("T8", TKT_KIND_CALL, TKT_ST_SOLVED, "Vendite", 1);
    add_ref("T9", TKT_KIND_CALL, TKT_ST_OPEN, "Assistenza", 1); /* older: not considered */
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_CREATE_TICKET);
    ASSERT_EQ_INT(plan.ops[0].ticket_kind, TKT_KIND_OUTBOUND);
}

static void test_R_O2_deskie_closed_at_end(void)
{
    setup(CMN_EV_OUTBOUND_STARTED, CMN_DIR_OUTBOUND);
    pol.outbound_unattached_closed = 1;
    cached_contact();
    agent("A1", "Luca Verdi");
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 0);
    ASSERT_HAS(plan.note, "R-O2");
    ASSERT_EQ_INT(plan.call.outbound, 1);
    ASSERT_EQ_STR(plan.call.ticket_id, "");
    commit("-", "-");
    event(CMN_EV_OUTBOUND_ENDED, CMN_DIR_OUTBOUND);
    pol.outbound_unattached_closed = 1;
    agent("A1", "Luca Verdi");
    ev.outcome = CMN_OUT_ANSWERED;
    ev.talk_s = 60;
    ASSERT_EQ_INT(tkt_decide(&pol, &ev, &call, &cust, &facts, &plan), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    const tkt_op_t *op = &plan.ops[0];
    ASSERT_EQ_INT(op->kind, TKT_OP_CREATE_TICKET);
    ASSERT_EQ_INT(op->ticket_kind, TKT_KIND_OUTBOUND);
    ASSERT_EQ_INT(op->status, TKT_ST_CLOSED);
    ASSERT_EQ_STR(op->assignee_id, "A1");
    ASSERT_EQ_STR(op->subject, "Call to " CUST);
    ASSERT_HAS(op->body, "Outbound call to " CUST " by Luca Verdi");
    ASSERT_HAS(op->body, "Direction: outbound");
    ASSERT_EQ_INT(plan.figures.closed, 1);
    ASSERT_EQ_INT(plan.customer.tickets[0].status, TKT_ST_CLOSED);
    ASSERT_EQ_INT(plan.call_done, 1);
}

static void test_R_O2_deskie_attaches_open_latest(void)
{
    setup(CMN_EV_OUTBOUND_STARTED, CMN_DIR_OUTBOUND);
    pol.outbound_unattached_closed = 1;
    cached_contact();
    agent("A1", NULL);
    add_ref("T8", TKT_KIND_CALL, TKT_ST_OPEN, "Assistenza", 1);
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_STR(plan.ops[0].ticket_id, "T8");
}

static void outbound_call(const char *ticket, tkt_kind_t kind)
{
    cached_contact();
    TEXT(call.call_id, "C1");
    TEXT(call.customer, CUST);
    TEXT(call.agent_crm_id, "A1");
    TEXT(call.ticket_id, ticket);
    call.ticket_kind = kind;
    call.outbound = 1;
}

static void test_R_O3_unanswered_attempt(void)
{
    setup(CMN_EV_OUTBOUND_ENDED, CMN_DIR_OUTBOUND);
    outbound_call("T5", TKT_KIND_MISSED);
    ev.outcome = CMN_OUT_MISSED;
    ev.total_s = 25;
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_COMMENT);
    ASSERT_EQ_STR(plan.ops[0].ticket_id, "T5");
    ASSERT_EQ_INT(plan.ops[0].status, TKT_ST_UNKNOWN);
    ASSERT_HAS(plan.ops[0].body, "Call attempt (not answered)");
    ASSERT_HAS(plan.ops[0].body, "Duration: 25s");
    ASSERT_EQ_INT(plan.call_done, 1);
    ASSERT_EQ_INT(plan.customer.last_call.ended_at_ms, 0); /* no conversation */
}

static void test_R_O_ended_answered_summary(void)
{
    setup(CMN_EV_OUTBOUND_ENDED, CMN_DIR_OUTBOUND);
    outbound_call("T5", TKT_KIND_OUTBOUND);
    ev.outcome = CMN_OUT_ANSWERED;
    ev.talk_s = 61;
    ev.total_s = 75;
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_COMMENT); /* no status change, no fields mapped */
    ASSERT_HAS(plan.ops[0].body, "Direction: outbound");
    ASSERT_HAS(plan.ops[0].body, "From: " OURS);
    ASSERT_HAS(plan.ops[0].body, "To: " CUST);
    ASSERT_HAS(plan.ops[0].body, "Talk: 1m 01s");
    ASSERT_EQ_STR(plan.customer.last_call.ticket_id, "T5");
    ASSERT_EQ_INT(plan.customer.last_call.total_s, 75);
}

static void test_R_M3_callback_on_missed_ticket_pending(void)
{
    setup(CMN_EV_OUTBOUND_ENDED, CMN_DIR_OUTBOUND);
    outbound_call("T6", TKT_KIND_MISSED);
    ev.outcome = CMN_OUT_ANSWERED;
    ev.talk_s = 30;
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_UPDATE);
    ASSERT_EQ_INT(plan.ops[0].status, TKT_ST_PENDING);
}

static void test_R_C5_dialled_number_in_comment(void)
{
    setup(CMN_EV_OUTBOUND_STARTED, CMN_DIR_OUTBOUND);
    /* the agent calls from T5, a ticket of customer +390211111111, to
     * another number: the state handed in is that customer's */
    TEXT(cust.number, "+390211111111");
    TEXT(cust.contact_id, "K1");
    ev.customer_number = "+393331234567";
    ev.ticket_id = "T5";
    agent("A1", NULL);
    add_ref("T5", TKT_KIND_CALL, TKT_ST_OPEN, "Assistenza", 1);
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_COMMENT);
    ASSERT_HAS(plan.ops[0].body, "Dialled number: +393331234567 (not stored on the contact)");
    ASSERT_EQ_STR(plan.customer.number, "+390211111111");
    ASSERT_EQ_STR(plan.call.dialled_number, "+393331234567");
}

static void test_R_C5_dialled_number_never_added_to_contact(void)
{
    setup(CMN_EV_OUTBOUND_STARTED, CMN_DIR_OUTBOUND);
    TEXT(cust.number, "+390211111111");
    TEXT(cust.contact_id, "K1");
    ev.customer_number = "+393331234567";
    agent("A1", NULL);
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.need, TKT_NEED_NOTHING);
    ASSERT_EQ_INT(plan.n_ops, 1); /* no CREATE_CONTACT: the ticket goes on K1 */
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_CREATE_TICKET);
    ASSERT_EQ_STR(plan.ops[0].requester_id, "K1");
    ASSERT_HAS(plan.ops[0].body, "Dialled number: +393331234567");
}

static void test_R_O_started_twice_is_one(void)
{
    setup(CMN_EV_OUTBOUND_STARTED, CMN_DIR_OUTBOUND);
    outbound_call("T5", TKT_KIND_OUTBOUND);
    agent("A1", NULL);
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 0);
    ASSERT_HAS(plan.note, "already started");
}

static void test_R_O_start_unseen_handled_at_end(void)
{
    setup(CMN_EV_OUTBOUND_ENDED, CMN_DIR_OUTBOUND);
    cached_contact();
    agent("A1", NULL);
    ev.outcome = CMN_OUT_ANSWERED;
    ev.talk_s = 20;
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 1); /* creation + summary in one request */
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_CREATE_TICKET);
    ASSERT_HAS(plan.ops[0].body, "Outbound call to");
    ASSERT_HAS(plan.ops[0].body, "Call summary");
}

/* ---- the loop, and events with nothing to do ----------------------------------------- */

/* need -> fact -> need -> fact -> plan: each need asked once, then done. */
static void test_redecide_loop_status_then_contacts(void)
{
    int rounds = 0;
    setup(CMN_EV_ANSWERED, CMN_DIR_INBOUND);
    agent("A1", NULL);
    TEXT(cust.number, CUST);
    add_ref("T50", TKT_KIND_CALL, TKT_ST_OPEN, "Assistenza", 0);
    for (;;) {
        ASSERT_EQ_INT(decide(), 0);
        rounds++;
        if (plan.need == TKT_NEED_NOTHING || rounds > 3)
            break;
        if (plan.need == TKT_NEED_TICKET_STATUS) {
            ASSERT_EQ_INT(facts.tickets_checked, 0);
            ASSERT_EQ_STR(plan.need_ticket_id, "T50");
            cust.tickets[0].status = TKT_ST_CLOSED;
            TEXT(cust.tickets[0].merged_into, "T49");
            cust.tickets[0].fresh = 1;
            facts.tickets_checked = 1;
        } else if (plan.need == TKT_NEED_CONTACTS) {
            ASSERT_EQ_INT(facts.contacts_known, 0);
            add_contact("K5", 10);
            add_contact("K6", 20);
        }
    }
    ASSERT_EQ_INT(rounds, 3);
    ASSERT_EQ_INT(plan.n_ops, 1);
    ASSERT_EQ_INT(plan.ops[0].kind, TKT_OP_CREATE_TICKET);
    ASSERT_EQ_STR(plan.ops[0].requester_id, "K6");
    ASSERT_EQ_STR(plan.customer.contact_id, "K6");
    ASSERT_EQ_INT(plan.customer.tickets[1].status, TKT_ST_CLOSED);
    ASSERT_EQ_INT(plan.customer.tickets[1].fresh, 0);
}

static void test_agent_login_no_ops(void)
{
    setup(CMN_EV_AGENT_LOGIN, CMN_DIR_NONE);
    ev.call_id = NULL;
    agent("A1", NULL);
    TEXT(call.call_id, "unchanged");
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 0);
    ASSERT_TRUE(plan.note != NULL);
    ASSERT_EQ_STR(plan.call.call_id, "unchanged");
    ev.type = CMN_EV_AGENT_LOGOUT;
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 0);
}

static void test_call_event_without_call_id_fails(void)
{
    setup(CMN_EV_ANSWERED, CMN_DIR_INBOUND);
    ev.call_id = NULL;
    agent("A1", NULL);
    ASSERT_EQ_INT(decide(), -1);
    ASSERT_EQ_INT(plan.n_ops, 0);
    ASSERT_TRUE(plan.note != NULL);
    ASSERT_EQ_INT(tkt_decide(&pol, NULL, NULL, NULL, NULL, &plan), -1);
}

static void test_state_tracked_from_every_event(void)
{
    setup(CMN_EV_OFFERED, CMN_DIR_INBOUND);
    agent("A3", NULL);
    ASSERT_EQ_INT(tkt_decide(&pol, &ev, NULL, NULL, NULL, &plan), 0); /* no state yet */
    ASSERT_EQ_STR(plan.call.call_id, "C1");
    ASSERT_EQ_STR(plan.call.customer, CUST);
    ASSERT_EQ_STR(plan.call.queue, "Assistenza");
    ASSERT_EQ_STR(plan.call.language, "it-IT");
    ASSERT_EQ_STR(plan.call.last_offered_crm_id, "A3");
    ASSERT_EQ_INT(plan.call.started_at_ms, T0);
    ASSERT_EQ_INT(plan.call.last_event_at_ms, T0);
    ASSERT_EQ_STR(plan.customer.number, CUST);
    commit("-", "-");
    event(CMN_EV_LEG_ENDED, CMN_DIR_INBOUND);
    ev.queue = "Vendite";
    ev.occurred_at_ms = T0 + 5000;
    ASSERT_EQ_INT(tkt_decide(&pol, &ev, &call, &cust, &facts, &plan), 0);
    ASSERT_EQ_INT(plan.n_ops, 0);
    ASSERT_EQ_STR(plan.call.queue, "Vendite");
    ASSERT_EQ_STR(plan.call.last_offered_crm_id, "A3"); /* a non-operator leg names nobody */
    ASSERT_EQ_INT(plan.call.started_at_ms, T0);
    ASSERT_EQ_INT(plan.call.last_event_at_ms, T0 + 5000);
}

/* External ids stay whole (issue 7 item 1): the longest call id the
 * decoder takes and the longest ticket id both fit. */
static void test_external_id_long_call_id(void)
{
    static char long_id[CMN_ID_TEXT_MAX + 1], long_ticket[TKT_ID_MAX];
    char want[TKT_ID_MAX + 8] = "-after-";
    setup(CMN_EV_RECORDING_READY, CMN_DIR_INBOUND);
    memset(long_id, 'x', sizeof long_id - 1);
    memset(long_ticket, '7', sizeof long_ticket - 1);
    strcat(want, long_ticket);
    ev.call_id = long_id;
    ev.recording_url = "https://rec.example/1.mp3";
    answered_call(long_ticket);
    TEXT(call.call_id, long_id);
    add_ref(long_ticket, TKT_KIND_CALL, TKT_ST_CLOSED, "Assistenza", 1);
    ASSERT_EQ_INT(decide(), 0);
    ASSERT_EQ_INT(plan.n_ops, 1);
    const char *x = plan.ops[0].external_id;
    ASSERT_EQ_INT(strlen(x), strlen("callbus-") + strlen(long_id) + strlen(want));
    ASSERT_TRUE(strncmp(x + strlen("callbus-"), long_id, strlen(long_id)) == 0);
    ASSERT_EQ_STR(x + strlen(x) - strlen(want), want);
}

TEST_MAIN(
    "ticket_rules", TEST_CASE(test_model_names), TEST_CASE(test_policy_defaults),
    TEST_CASE(test_render_subject), TEST_CASE(test_format_duration),
    TEST_CASE(test_R_I3_answered_unmapped_ignored),
    TEST_CASE(test_R_I3_unmapped_call_end_makes_nothing),
    TEST_CASE(test_R_I3_outbound_unmapped_ignored),
    TEST_CASE(test_R_C1_needs_contacts_before_create),
    TEST_CASE(test_R_C1_cached_contact_no_lookup), TEST_CASE(test_R_C2_no_contact_creates_one),
    TEST_CASE(test_R_C3_one_contact_used), TEST_CASE(test_R_C4_several_most_recent),
    TEST_CASE(test_R_C4_picked_contact_wins), TEST_CASE(test_withheld_number_no_requester),
    TEST_CASE(test_R_T1_create_on_answer), TEST_CASE(test_R_T1_replay_is_harmless),
    TEST_CASE(test_late_answer_after_an_answered_or_voicemail_end_is_ignored),
    TEST_CASE(test_R_T9_unmapped_fields_not_set), TEST_CASE(test_R_T2_reuse_same_queue),
    TEST_CASE(test_R_T2_other_queue_new_ticket), TEST_CASE(test_R_T2_reuse_off_policy),
    TEST_CASE(test_R_T2_solved_after_check_new_ticket), TEST_CASE(test_R_T2_closed_not_asked),
    TEST_CASE(test_R_T2_missed_and_outbound_not_reused),
    TEST_CASE(test_R_T3_voicemail_ticket_reused_by_new_call),
    TEST_CASE(test_R_T3_voicemail_always_new),
    TEST_CASE(test_R_T11_voicemail_nobody_without_default),
    TEST_CASE(test_R_T8_ivr_ticket_bound_on_answer),
    TEST_CASE(test_R_T8_ivr_ticket_bound_while_offered),
    TEST_CASE(test_R_T8_ivr_ticket_unanswered_stays_open), TEST_CASE(test_R_T4_reassign),
    TEST_CASE(test_R_T4_reassign_unmapped_target),
    TEST_CASE(test_R_T4_answer_by_other_agent_is_transfer),
    TEST_CASE(test_R_T4_transfer_to_mapped_after_unmapped_answer),
    TEST_CASE(test_R_T4_split_new_leg_ticket), TEST_CASE(test_R_T4_split_idle_leg_closed),
    TEST_CASE(test_R_T5_end_answered_summary_pending), TEST_CASE(test_R_T5_end_replay_no_ops),
    TEST_CASE(test_R_T5_late_ticket_when_answer_unseen), TEST_CASE(test_R_T7_merged_redirect),
    TEST_CASE(test_R_T10_closed_ticket_new_ticket), TEST_CASE(test_R_T6_recording_comment),
    TEST_CASE(test_R_T10_solved_missed_ticket_replaced_by_a_missed_ticket),
    TEST_CASE(test_R_T10_call_on_a_solved_missed_ticket_keeps_a_call_ticket),
    TEST_CASE(test_R_T6_recording_no_ticket_note), TEST_CASE(test_R_T6_recording_follows_merge),
    TEST_CASE(test_R_T12_csat_comment_and_field), TEST_CASE(test_R_T12_csat_unmapped_comment_only),
    TEST_CASE(test_R_M1_missed_ticket_last_offered),
    TEST_CASE(test_R_M1_unanswered_leg_is_last_offered),
    TEST_CASE(test_R_M1_last_offered_unmapped_gets_default),
    TEST_CASE(test_R_T11_missed_no_offer_default_assignee), TEST_CASE(test_R_M1_abandoned_ticket),
    TEST_CASE(test_R_M1_abandoned_switched_off), TEST_CASE(test_R_M1_grouper_leaves_missed),
    TEST_CASE(test_R_M1_withheld_missed_call), TEST_CASE(test_R_O1_attach_from_ticket),
    TEST_CASE(test_R_O1_open_when_answered), TEST_CASE(test_R_O1_solved_ticket_new),
    TEST_CASE(test_R_O1_not_ours_new), TEST_CASE(test_R_C2_new_contact_named_by_provider),
    TEST_CASE(test_R_T6_recording_every_link), TEST_CASE(test_provider_tags_on_the_calls_ticket),
    TEST_CASE(test_R_C5_call_from_another_customers_ticket),
    TEST_CASE(test_R_O4_callback_same_ticket), TEST_CASE(test_R_O4_long_call_falls_to_R_O2),
    TEST_CASE(test_R_O4_window_passed), TEST_CASE(test_R_O2_latest_open_attach),
    TEST_CASE(test_R_O2_latest_not_open_new), TEST_CASE(test_R_O2_deskie_closed_at_end),
    TEST_CASE(test_R_O2_deskie_attaches_open_latest), TEST_CASE(test_R_O3_unanswered_attempt),
    TEST_CASE(test_R_O_ended_answered_summary),
    TEST_CASE(test_R_M3_callback_on_missed_ticket_pending),
    TEST_CASE(test_R_C5_dialled_number_in_comment),
    TEST_CASE(test_R_C5_dialled_number_never_added_to_contact),
    TEST_CASE(test_R_O_started_twice_is_one), TEST_CASE(test_R_O_start_unseen_handled_at_end),
    TEST_CASE(test_redecide_loop_status_then_contacts), TEST_CASE(test_agent_login_no_ops),
    TEST_CASE(test_call_event_without_call_id_fails),
    TEST_CASE(test_state_tracked_from_every_event), TEST_CASE(test_external_id_long_call_id),
    TEST_CASE(test_R_V1_lookup_case_policy),
    TEST_CASE(test_R_T2_open_case_policy_attaches_to_crm_case),
    TEST_CASE(test_R_T2_open_case_policy_none_or_off_new_ticket),
    TEST_CASE(test_R_T2_open_case_policy_ours_first))
