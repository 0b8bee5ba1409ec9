/* The pipeline's parts against a fake CRM (issue 7 item 11), with the real
 * store on the test stack's Redis (CALLBUS_REDIS_URL; tests/run.sh starts
 * it): an answered call makes its contact and ticket once and a replay of
 * the same event makes nothing (tkt_pipeline.c, tkt_create.c); a write to a
 * ticket a person solved between the decision and the write goes to the
 * R-T10 replacement the rules make, and the call follows it (tkt_apply.c).
 * Issue 19 item 4: an event the CRM or its adapter refuses for good, or
 * whose transient failures outlive the retry limit, is dead-lettered and
 * its customer's next event goes on (tkt_failure.c, tkt_pipeline.c). */
#include "cmn_log.h"
#include "cmn_redis.h"
#include "cmn_time.h"
#include "test.h"
#include "tkt_actions.h"
#include "tkt_failure.h"
#include "tkt_pipeline.h"

#include <event2/event.h>
#include <stdlib.h>

static struct event_base *base;

/* ---- the fake CRM: answers from the loop, as a real adapter does ------------ */

typedef struct {
    tkt_crm_t crm;
    int next_id;
    int contacts, tickets, updates, bulks, status_reads, shows;
    int bulk_creates, bulk_created;        /* bulk creation requests, and creations they carried */
    char solve_on_status_read[TKT_ID_MAX]; /* "a person solves it just before the write" */
    char solved[TKT_ID_MAX];
    char last_written[TKT_ID_MAX]; /* the ticket the last update or bulk update wrote */
    tkt_op_t last_created;
    /* Failures: a ticket creation whose external id contains fail_call is
     * refused by the adapter (fail_status 0) or answered fail_status; a
     * look-up of refuse_phone is refused by the adapter. */
    char fail_call[64];
    int fail_status;
    char refuse_phone[32];
    int failed;
    /* The contacts created with an external id, found by it as the CRM
     * finds them (tkt_create.h: mark, then create or find). */
    char contact_ext[8][TKT_EXTERNAL_ID_MAX];
    char contact_ext_id[8][TKT_ID_MAX];
    int n_contact_ext;
} fake_t;

static fake_t fake;

typedef struct {
    tkt_crm_cb cb;
    void *ctx;
    tkt_crm_result_t res;
    tkt_crm_item_t items[TKT_CRM_MAX_BULK]; /* the adapter's buffer (tkt_crm.h) */
} later_t;

static void on_later(evutil_socket_t fd, short what, void *arg)
{
    later_t *l = arg;
    l->cb(l->ctx, &l->res);
    free(l);
}

static tkt_crm_result_t *answer(tkt_crm_cb cb, void *ctx)
{
    later_t *l = calloc(1, sizeof *l);
    if (!l)
        abort();
    l->cb = cb;
    l->ctx = ctx;
    l->res.ok = 1;
    l->res.http_status = 200;
    l->res.items = l->items;
    if (event_base_once(base, -1, EV_TIMEOUT, on_later, l, NULL) < 0)
        abort();
    return &l->res;
}

/* The adapter refuses, or the CRM answers `status`, as crm_op_refuse and
 * a CRM's error page do (tkt_crm.h). */
static void fail_answer(tkt_crm_result_t *r, int status, const char *error)
{
    fake.failed++;
    r->ok = 0;
    r->http_status = status;
    r->refused = status == 0;
    snprintf(r->error, sizeof r->error, "%s", error);
}

static void f_find_contacts(tkt_crm_t *crm, const char *phone, tkt_prio_t prio, tkt_crm_cb cb,
                            void *ctx)
{
    tkt_crm_result_t *r = answer(cb, ctx); /* nobody has the number */
    if (fake.refuse_phone[0] && strstr(phone, fake.refuse_phone))
        fail_answer(r, 0, "not a phone number to look up");
}

static void f_create_contact(tkt_crm_t *crm, const char *phone, const char *name,
                             const char *external_id, tkt_crm_cb cb, void *ctx)
{
    tkt_crm_result_t *r = answer(cb, ctx);
    fake.contacts++;
    r->n_contacts = 1;
    snprintf(r->contacts[0].id, sizeof r->contacts[0].id, "%d", ++fake.next_id);
    if (external_id && external_id[0] && fake.n_contact_ext < 8) {
        int i = fake.n_contact_ext++;
        snprintf(fake.contact_ext[i], sizeof fake.contact_ext[i], "%s", external_id);
        snprintf(fake.contact_ext_id[i], sizeof fake.contact_ext_id[i], "%s", r->contacts[0].id);
    }
}

static void f_find_contact_by_external_id(tkt_crm_t *crm, const char *external_id, tkt_crm_cb cb,
                                          void *ctx)
{
    tkt_crm_result_t *r = answer(cb, ctx);
    for (int i = 0; i < fake.n_contact_ext; i++)
        if (strcmp(fake.contact_ext[i], external_id) == 0) {
            r->n_contacts = 1;
            snprintf(r->contacts[0].id, sizeof r->contacts[0].id, "%s", fake.contact_ext_id[i]);
        }
}

static void f_create_ticket(tkt_crm_t *crm, const tkt_op_t *op, tkt_crm_cb cb, void *ctx)
{
    tkt_crm_result_t *r = answer(cb, ctx);
    if (fake.fail_call[0] && strstr(op->external_id, fake.fail_call)) {
        fail_answer(r, fake.fail_status,
                    fake.fail_status ? "Service Unavailable"
                                     : "a withheld-number call has no contact for its case");
        return;
    }
    fake.tickets++;
    fake.last_created = *op;
    snprintf(r->ticket.id, sizeof r->ticket.id, "%d", ++fake.next_id);
    r->ticket.status = op->status;
}

static void f_find_by_external_id(tkt_crm_t *crm, const char *external_id, tkt_crm_cb cb, void *ctx)
{
    answer(cb, ctx);
}

static tkt_status_t status_of(const char *id)
{
    return strcmp(id, fake.solved) == 0 ? TKT_ST_SOLVED : TKT_ST_OPEN;
}

static void f_show_ticket(tkt_crm_t *crm, const char *id, tkt_prio_t prio, tkt_crm_cb cb, void *ctx)
{
    tkt_crm_result_t *r = answer(cb, ctx);
    fake.shows++;
    snprintf(r->ticket.id, sizeof r->ticket.id, "%s", id);
    r->ticket.status = status_of(id);
}

static void f_update_ticket(tkt_crm_t *crm, const tkt_op_t *op, tkt_crm_cb cb, void *ctx)
{
    tkt_crm_result_t *r = answer(cb, ctx);
    fake.updates++;
    snprintf(fake.last_written, sizeof fake.last_written, "%s", op->ticket_id);
    r->closed = status_of(op->ticket_id) == TKT_ST_SOLVED;
    r->ok = !r->closed;
}

static void f_statuses(tkt_crm_t *crm, const char *const *ids, size_t n, tkt_crm_cb cb, void *ctx)
{
    tkt_crm_result_t *r = answer(cb, ctx);
    fake.status_reads++;
    r->n_items = n;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(ids[i], fake.solve_on_status_read) == 0)
            snprintf(fake.solved, sizeof fake.solved, "%s", ids[i]);
        snprintf(r->items[i].ticket_id, sizeof r->items[i].ticket_id, "%s", ids[i]);
        r->items[i].ok = 1;
        r->items[i].status = status_of(ids[i]);
        r->items[i].closed = r->items[i].status == TKT_ST_SOLVED;
    }
}

static void f_bulk_create(tkt_crm_t *crm, const tkt_op_t *ops, size_t n, tkt_crm_job_fn on_job,
                          tkt_crm_cb cb, void *ctx)
{
    tkt_crm_result_t *r = answer(cb, ctx);
    fake.bulk_creates++;
    fake.bulk_created += (int)n;
    r->n_items = n;
    for (size_t i = 0; i < n; i++) {
        r->items[i].ok = 1;
        snprintf(r->items[i].ticket_id, sizeof r->items[i].ticket_id, "%d", ++fake.next_id);
        if (ops[i].kind == TKT_OP_CREATE_TICKET)
            fake.last_created = ops[i];
    }
}

static void f_bulk_update(tkt_crm_t *crm, const tkt_op_t *ops, size_t n, tkt_crm_job_fn on_job,
                          tkt_crm_cb cb, void *ctx)
{
    tkt_crm_result_t *r = answer(cb, ctx);
    fake.bulks++;
    r->n_items = n;
    for (size_t i = 0; i < n; i++) {
        snprintf(r->items[i].ticket_id, sizeof r->items[i].ticket_id, "%s", ops[i].ticket_id);
        snprintf(fake.last_written, sizeof fake.last_written, "%s", ops[i].ticket_id);
        r->items[i].ok = 1;
    }
}

static int f_valid_id(const tkt_crm_t *crm, const char *id)
{
    return id && *id && strspn(id, "0123456789") == strlen(id);
}

static void f_has_marker(tkt_crm_t *crm, const char *id, const char *marker, tkt_crm_cb cb,
                         void *ctx)
{
    answer(cb, ctx);
}

static void f_url(const tkt_crm_t *crm, const char *id, char *out, size_t outsz)
{
    snprintf(out, outsz, "https://crm.example/%s", id);
}

static const tkt_crm_ops_t fake_ops = {.find_contacts = f_find_contacts,
                                       .create_contact = f_create_contact,
                                       .find_contact_by_external_id = f_find_contact_by_external_id,
                                       .create_ticket = f_create_ticket,
                                       .find_by_external_id = f_find_by_external_id,
                                       .show_ticket = f_show_ticket,
                                       .update_ticket = f_update_ticket,
                                       .ticket_statuses = f_statuses,
                                       .has_marker = f_has_marker,
                                       .bulk_create = f_bulk_create,
                                       .bulk_update = f_bulk_update,
                                       .valid_ticket_id = f_valid_id,
                                       .ticket_url = f_url,
                                       .contact_url = f_url};

/* ---- the pipeline on it ----------------------------------------------------- */

static tkt_policy_t pol;
static int done_ok, done_rejected;
static char prefix[64];

/* ---- the dead-letter sink: stores a letter 200 ms later, as Kafka's
 * delivery report comes later; what it was given is kept. */
static int64_t rig_retry_limit_ms; /* set before rig_up */
static int rig_dead_letters;       /* 1: the sink below is the pipeline's */
static struct {
    int sent, stored, done_when_sent;
    char decision[32], reason[256], crm_error[256], event_id[96];
    int crm_status;
} dlq;

typedef struct {
    tkt_dead_letter_stored_fn stored;
    void *job;
} dlq_later_t;

static void on_dlq_stored(evutil_socket_t fd, short what, void *arg)
{
    dlq_later_t *l = arg;
    dlq.stored++;
    l->stored(l->job, NULL);
    free(l);
}

static void sink(void *ctx, void *done_ctx, const cmn_event_t *ev, const tkt_dead_letter_t *dl,
                 tkt_dead_letter_stored_fn stored, void *job)
{
    static const struct timeval later = {0, 200000};
    dlq_later_t *l = malloc(sizeof *l);
    if (!l)
        abort();
    l->stored = stored;
    l->job = job;
    dlq.sent++;
    dlq.done_when_sent = done_ok + done_rejected;
    dlq.crm_status = dl->crm_status;
    snprintf(dlq.decision, sizeof dlq.decision, "%s", dl->decision);
    snprintf(dlq.reason, sizeof dlq.reason, "%s", dl->reason);
    snprintf(dlq.crm_error, sizeof dlq.crm_error, "%s", dl->crm_error);
    snprintf(dlq.event_id, sizeof dlq.event_id, "%s", ev->event_id);
    if (event_base_once(base, -1, EV_TIMEOUT, on_dlq_stored, l, &later) < 0)
        abort();
}

static void on_done(void *ctx, int ok)
{
    if (ok)
        done_ok++;
    else
        done_rejected++;
}

static cmn_event_t event(const char *type_id, cmn_event_type_t type, const char *call_id,
                         const char *number)
{
    char id[96];
    cmn_event_t ev;
    cmn_event_init(&ev);
    snprintf(id, sizeof id, "generic-%s-%s", call_id, type_id);
    ev.type = type;
    ev.direction = CMN_DIR_INBOUND;
    ev.occurred_at_ms = ev.received_at_ms = cmn_time_now_ms();
    if (cmn_event_set(&ev.event_id, id) || cmn_event_set(&ev.provider, "generic") ||
        cmn_event_set(&ev.call_id, call_id) || cmn_event_set(&ev.customer_number, number) ||
        cmn_event_set(&ev.queue, "billing"))
        abort();
    if (type == CMN_EV_ANSWERED &&
        (cmn_event_set(&ev.agent.provider_id, "1042") || cmn_event_set(&ev.agent.crm_id, "900001")))
        abort();
    if (type == CMN_EV_ENDED) {
        ev.outcome = CMN_OUT_ANSWERED;
        ev.talk_s = 60;
    }
    return ev;
}

static int run_until(int want_done)
{
    int64_t until = cmn_time_mono_ms() + 10000;
    while (done_ok + done_rejected < want_done && cmn_time_mono_ms() < until)
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    return done_ok + done_rejected >= want_done;
}

typedef struct {
    cmn_redis_t *redis;
    tkt_store_t *store;
    tkt_batch_t *batch;
    tkt_bulkcreate_t *bulk;
    tkt_reads_t *reads;
    tkt_pipeline_t *p;
} rig_t;

/* window_s > 0: bulk creations and status reads on, with that window.
 * shared: 1 for a second replica on the first one's keys (same prefix, same
 * fake CRM, its own Redis connection and pipeline). */
static int rig_up_at(rig_t *r, int window_s, int shared)
{
    char errstr[256];
    const char *url = getenv("CALLBUS_REDIS_URL");
    memset(r, 0, sizeof *r);
    if (!shared) {
        memset(&fake, 0, sizeof fake);
        fake.crm.ops = &fake_ops;
        fake.next_id = 1000;
        done_ok = done_rejected = 0;
        snprintf(prefix, sizeof prefix, "test-pipeline-%lld.", (long long)cmn_time_now_ms());
    }
    r->redis = cmn_redis_new(base, url ? url : "redis://127.0.0.1:16479", errstr, sizeof errstr);
    r->store = r->redis ? tkt_store_new(r->redis, prefix) : NULL;
    tkt_batch_cfg_t bcfg = {.window_s = 1,
                            .comments = 1,
                            .updates = 1,
                            .ticket_limit = 28,
                            .ticket_window_s = 600,
                            .max_attempts = 5};
    r->batch = tkt_batch_new(base, &fake.crm, &bcfg);
    if (window_s) {
        r->bulk = tkt_bulkcreate_new(base, &fake.crm, window_s);
        r->reads = tkt_reads_new(base, &fake.crm, window_s);
    }
    tkt_pipeline_deps_t deps = {.base = base,
                                .crm = &fake.crm,
                                .batch = r->batch,
                                .bulk_create = r->bulk,
                                .status_reads = r->reads,
                                .store = r->store,
                                .policy = &pol,
                                .dead_letter = rig_dead_letters ? sink : NULL,
                                .retry_limit_ms = rig_retry_limit_ms};
    memset(&dlq, 0, sizeof dlq);
    r->p = r->store && r->batch && (!window_s || (r->bulk && r->reads)) ? tkt_pipeline_new(&deps)
                                                                        : NULL;
    int64_t until = cmn_time_mono_ms() + 5000;
    while (r->redis && !cmn_redis_connected(r->redis) && cmn_time_mono_ms() < until)
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    return r->p && cmn_redis_connected(r->redis) ? 0 : -1;
}

static int rig_up_with(rig_t *r, int window_s)
{
    return rig_up_at(r, window_s, 0);
}

static int rig_up(rig_t *r)
{
    return rig_up_with(r, 0);
}

static void rig_down(rig_t *r)
{
    tkt_batch_free(r->batch);
    tkt_bulkcreate_free(r->bulk);
    tkt_reads_free(r->reads);
    tkt_pipeline_free(r->p);
    tkt_store_free(r->store);
    cmn_redis_free(r->redis);
}

static void submit(rig_t *r, cmn_event_t ev)
{
    if (tkt_pipeline_submit(r->p, &ev, on_done, NULL) < 0)
        abort();
}

/* R-T1, R-C2 and replays: the answered call's contact and ticket are made
 * once; the same event again is recognised by its done marker. */
static void test_answered_call_once_and_replay_harmless(void)
{
    rig_t r;
    char call[64];
    ASSERT_EQ_INT(rig_up(&r), 0);
    snprintf(call, sizeof call, "call-%lld", (long long)cmn_time_now_ms());
    submit(&r, event("ans", CMN_EV_ANSWERED, call, "+390612345678"));
    ASSERT_TRUE(run_until(1));
    ASSERT_EQ_INT(done_ok, 1);
    ASSERT_EQ_INT(fake.contacts, 1);
    ASSERT_EQ_INT(fake.tickets, 1);
    ASSERT_TRUE(strstr(fake.last_created.external_id, call) != NULL);
    submit(&r, event("ans", CMN_EV_ANSWERED, call, "+390612345678")); /* a provider re-post */
    ASSERT_TRUE(run_until(2));
    ASSERT_EQ_INT(done_ok, 2);
    ASSERT_EQ_INT(fake.contacts + fake.tickets, 2); /* nothing made again */
    rig_down(&r);
}

/* R-C5 (issue 24 item 4) through the pipeline and Redis: ticket T was made
 * for one number; an agent calls another number from it. The dialled
 * number's state does not know T: the owner index (tkt:owner:, written by
 * the first commit) hands in T's customer, the call is written to T, and
 * no contact or ticket is made for the dialled number. */
static void test_R_C5_a_call_from_another_customer_s_ticket_lands_on_it(void)
{
    rig_t r;
    char in[64], out[64], ticket[TKT_ID_MAX];
    ASSERT_EQ_INT(rig_up(&r), 0);
    snprintf(in, sizeof in, "call-in-%lld", (long long)cmn_time_now_ms());
    snprintf(out, sizeof out, "call-out-%lld", (long long)cmn_time_now_ms());
    submit(&r, event("ans", CMN_EV_ANSWERED, in, "+390612345678"));
    ASSERT_TRUE(run_until(1));
    ASSERT_EQ_INT(fake.contacts, 1);
    ASSERT_EQ_INT(fake.tickets, 1);
    snprintf(ticket, sizeof ticket, "%d", fake.next_id); /* the last id given: the ticket's */
    cmn_event_t ev = event("start", CMN_EV_OUTBOUND_STARTED, out, "+390698765432");
    ev.direction = CMN_DIR_OUTBOUND;
    if (cmn_event_set(&ev.agent.provider_id, "1042") || cmn_event_set(&ev.agent.crm_id, "900001") ||
        cmn_event_set(&ev.ticket_id, ticket))
        abort();
    submit(&r, ev);
    ASSERT_TRUE(run_until(2));
    ASSERT_EQ_INT(done_ok, 2);
    ASSERT_EQ_INT(fake.contacts, 1); /* none for the dialled number */
    ASSERT_EQ_INT(fake.tickets, 1);  /* none for the call */
    ASSERT_EQ_STR(fake.last_written, ticket);
    rig_down(&r);
}

/* R-T10 at write time: the call's ticket is solved by a person after the
 * end of the call was decided; the summary goes to the replacement ticket
 * the rules would have made (tkt_replacement_ticket: external id
 * callbus-<call>-after-<closed>, the agent, the note), not to the solved one. */
static void test_write_to_a_ticket_solved_meanwhile_goes_to_the_replacement(void)
{
    rig_t r;
    char call[64], want[128];
    ASSERT_EQ_INT(rig_up(&r), 0);
    snprintf(call, sizeof call, "call-%lld-s", (long long)cmn_time_now_ms());
    submit(&r, event("ans", CMN_EV_ANSWERED, call, "+390612345679"));
    ASSERT_TRUE(run_until(1));
    char first[TKT_ID_MAX];
    snprintf(first, sizeof first, "%d", fake.next_id); /* the call's ticket */
    snprintf(fake.solve_on_status_read, sizeof fake.solve_on_status_read, "%s", first);
    submit(&r, event("end", CMN_EV_ENDED, call, "+390612345679"));
    int finished = run_until(2);
    if (!finished)
        fprintf(stderr, "in flight %zu, status reads %d, tickets %d, updates %d, bulks %d\n",
                tkt_pipeline_in_flight(r.p), fake.status_reads, fake.tickets, fake.updates,
                fake.bulks);
    ASSERT_TRUE(finished);
    ASSERT_EQ_INT(done_ok, 2);
    ASSERT_TRUE(fake.status_reads >= 1);
    ASSERT_EQ_INT(fake.tickets, 2); /* the replacement */
    snprintf(want, sizeof want, "callbus-%s-after-%s", call, first);
    ASSERT_EQ_STR(fake.last_created.external_id, want);
    ASSERT_EQ_STR(fake.last_created.assignee_id, "900001");
    ASSERT_TRUE(strstr(fake.last_created.body, "was solved or closed") != NULL);
    ASSERT_TRUE(strstr(fake.last_created.body, "[callbus ") != NULL); /* the write's marker */
    ASSERT_EQ_INT(fake.updates, 0); /* nothing written to the solved ticket */
    rig_down(&r);
}

/* R-T4 split, issue 15: a call transferred before the first agent made
 * anything of it makes two tickets in one plan, the idle leg's (closed,
 * created first, not remembered) and the new leg's; the call is bound to
 * the new leg's, so the end of the call is written there. */
static void test_split_transfer_binds_the_call_to_the_new_leg_not_the_idle_one(void)
{
    rig_t r;
    char call[64], leg[TKT_ID_MAX];
    ASSERT_EQ_INT(rig_up(&r), 0);
    pol.transfer = TKT_TRANSFER_SPLIT;
    snprintf(call, sizeof call, "call-%lld-t", (long long)cmn_time_now_ms());
    cmn_event_t tr = event("tr", CMN_EV_TRANSFERRED, call, "+390612345670");
    if (cmn_event_set(&tr.agent.provider_id, "1077") || cmn_event_set(&tr.agent.crm_id, "900002") ||
        cmn_event_set(&tr.previous_agent.provider_id, "1042") ||
        cmn_event_set(&tr.previous_agent.crm_id, "900001"))
        abort();
    submit(&r, tr);
    ASSERT_TRUE(run_until(1));
    ASSERT_EQ_INT(fake.tickets, 2);
    ASSERT_TRUE(strstr(fake.last_created.external_id, "-leg-2") != NULL);
    snprintf(leg, sizeof leg, "%d", fake.next_id); /* the new leg's ticket: made last */
    submit(&r, event("end", CMN_EV_ENDED, call, "+390612345670"));
    ASSERT_TRUE(run_until(2));
    ASSERT_EQ_INT(done_ok, 2);
    ASSERT_EQ_INT(fake.tickets, 2);
    ASSERT_EQ_STR(fake.last_written, leg);
    tkt_policy_defaults(&pol);
    rig_down(&r);
}

static cmn_event_t abandoned(const char *call_id, const char *number)
{
    cmn_event_t ev = event("end", CMN_EV_ENDED, call_id, number);
    ev.outcome = CMN_OUT_ABANDONED;
    ev.talk_s = CMN_DURATION_UNKNOWN;
    ev.wait_s = ev.total_s = 20;
    return ev;
}

/* Issue 12: two abandoned calls of new callers (no agent waits for them)
 * get their contacts in one bulk creation and their tickets in another
 * (window 1 s); an answered call's contact and ticket are made at once
 * (R-B4). */
static void test_unanswered_calls_are_created_in_bulk(void)
{
    rig_t r;
    char a[64], b[64], c[64];
    ASSERT_EQ_INT(rig_up_with(&r, 1), 0);
    long long now = (long long)cmn_time_now_ms();
    snprintf(a, sizeof a, "call-%lld-a", now);
    snprintf(b, sizeof b, "call-%lld-b", now);
    snprintf(c, sizeof c, "call-%lld-c", now);
    submit(&r, abandoned(a, "+390612345601"));
    submit(&r, abandoned(b, "+390612345602"));
    submit(&r, event("ans", CMN_EV_ANSWERED, c, "+390612345603"));
    ASSERT_TRUE(run_until(3));
    ASSERT_EQ_INT(done_ok, 3);
    ASSERT_EQ_INT(fake.contacts, 1); /* the answered call's, at once */
    ASSERT_EQ_INT(fake.tickets, 1);
    ASSERT_EQ_INT(fake.bulk_creates, 2); /* the contacts, then the tickets */
    ASSERT_EQ_INT(fake.bulk_created, 4);
    ASSERT_EQ_INT(fake.last_created.ticket_kind, TKT_KIND_ABANDONED);
    rig_down(&r);
}

/* Issue 12: a customer's abandoned call waits for a 60 s window when the
 * same customer calls again and an agent answers: the window goes at once
 * (the answered call is behind it in the customer's lane, its agent
 * waiting), so both are done long before the window's end. */
static void test_an_answered_call_behind_a_bulk_creation_sends_it_at_once(void)
{
    rig_t r;
    char a[64], b[64];
    ASSERT_EQ_INT(rig_up_with(&r, 60), 0);
    long long now = (long long)cmn_time_now_ms();
    snprintf(a, sizeof a, "call-%lld-x", now);
    snprintf(b, sizeof b, "call-%lld-y", now);
    submit(&r, abandoned(a, "+390612345611"));
    int64_t t0 = cmn_time_mono_ms();
    while (cmn_time_mono_ms() - t0 < 300) /* its contact waits in the window */
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    ASSERT_EQ_INT(done_ok, 0);
    submit(&r, event("ans", CMN_EV_ANSWERED, b, "+390612345611"));
    ASSERT_TRUE(run_until(2)); /* within 10 s, not 60 */
    ASSERT_EQ_INT(done_ok, 2);
    ASSERT_EQ_INT(fake.bulk_creates, 1); /* the abandoned call's contact, sent early */
    ASSERT_EQ_INT(fake.tickets, 2);      /* then its ticket at once, and the answered call's */
    rig_down(&r);
}

/* Issue 12, R-T2: the end of an answered call whose answer was never seen
 * (no agent waits on it) reuses the customer's open ticket after a status
 * read made with the window's show_many; the answer itself (an agent
 * waiting) reads it at once with show_ticket. */
/* A hot number (a robocaller, a provider's retry storm): its abandoned calls
 * wait in one lane, one behind the other. A deferred creation must not hold
 * the next event of its own customer for a whole bulk window, or the lane
 * drains one event per window (the backlog benchmark measured 0.1 events/s
 * with a 10 s window). Different customers still share the window. */
static void test_a_customer_s_next_event_does_not_wait_out_the_window(void)
{
    rig_t r;
    char id[4][64];
    ASSERT_EQ_INT(rig_up_with(&r, 60), 0);
    long long now = (long long)cmn_time_now_ms();
    for (int i = 0; i < 4; i++) {
        snprintf(id[i], sizeof id[i], "call-%lld-hot%d", now, i);
        submit(&r, abandoned(id[i], "+390612345631"));
    }
    ASSERT_TRUE(run_until(3)); /* within 10 s, not 3 windows of 60 */
    ASSERT_EQ_INT(done_ok, 3);
    /* The last one has no one behind it: it waits in the window, for
     * other customers' creations to share its request. */
    int64_t t0 = cmn_time_mono_ms();
    while (tkt_bulkcreate_pending(r.bulk) == 0 && cmn_time_mono_ms() - t0 < 3000)
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    ASSERT_EQ_INT(tkt_bulkcreate_pending(r.bulk), 1);
    ASSERT_EQ_INT(done_ok, 3);
    tkt_bulkcreate_flush_now(r.bulk);
    ASSERT_TRUE(run_until(4));
    ASSERT_EQ_INT(done_ok, 4);
    ASSERT_TRUE(fake.tickets + fake.bulk_created >= 4); /* each call's ticket made */
    rig_down(&r);
}

static void test_status_read_before_reuse_waits_for_the_window_unless_an_agent_waits(void)
{
    rig_t r;
    char a[64], b[64], c[64];
    ASSERT_EQ_INT(rig_up_with(&r, 1), 0);
    long long now = (long long)cmn_time_now_ms();
    snprintf(a, sizeof a, "call-%lld-r1", now);
    snprintf(b, sizeof b, "call-%lld-r2", now);
    snprintf(c, sizeof c, "call-%lld-r3", now);
    submit(&r, event("ans", CMN_EV_ANSWERED, a, "+390612345621"));
    ASSERT_TRUE(run_until(1));
    ASSERT_EQ_INT(fake.tickets, 1);
    cmn_event_t end = event("end", CMN_EV_ENDED, b, "+390612345621"); /* answer never seen */
    if (cmn_event_set(&end.agent.provider_id, "1042") || cmn_event_set(&end.agent.crm_id, "900001"))
        abort();
    submit(&r, end);
    ASSERT_TRUE(run_until(2));
    ASSERT_EQ_INT(fake.tickets, 1); /* reused (R-T2) */
    ASSERT_EQ_INT(fake.shows, 0);
    ASSERT_TRUE(fake.status_reads >= 1);
    int reads = fake.status_reads;
    submit(&r, event("ans", CMN_EV_ANSWERED, c, "+390612345621"));
    ASSERT_TRUE(run_until(3));
    ASSERT_EQ_INT(fake.shows, 1); /* at once, exact */
    ASSERT_EQ_INT(fake.tickets, 1);
    ASSERT_TRUE(fake.status_reads >= reads);
    rig_down(&r);
}

/* Two answered calls of one customer (one lane, as one partition), the
 * first one's ticket failing with `status` (0: refused by the adapter),
 * dead letters on with that retry limit; runs until both are done. a and
 * b (64 bytes) get the call ids. 0, or -1 when not both were done. */
static int two_calls_failing_the_first(rig_t *r, int64_t limit_ms, int status, char *a, char *b,
                                       const char *number)
{
    rig_dead_letters = 1;
    rig_retry_limit_ms = limit_ms;
    if (rig_up(r) < 0)
        return -1;
    snprintf(a, 64, "call-%lld-a", (long long)cmn_time_now_ms());
    snprintf(b, 64, "call-%lld-b", (long long)cmn_time_now_ms());
    snprintf(fake.fail_call, sizeof fake.fail_call, "%s", a);
    fake.fail_status = status;
    submit(r, event("ans", CMN_EV_ANSWERED, a, number));
    submit(r, event("ans", CMN_EV_ANSWERED, b, number));
    return run_until(2) ? 0 : -1;
}

/* Issue 19 item 4 (R-T1, R-C1): a Dynamics call whose case the adapter
 * refuses (a withheld number with no placeholder contact) was retried for
 * ever, holding its customer's (and partition's) later events. Now: one
 * attempt, a dead letter saying why, done only once the letter is stored,
 * and the customer's next call gets its ticket. */
static void test_a_refused_ticket_is_dead_lettered_and_the_next_event_goes_on(void)
{
    rig_t r;
    char a[64], b[64];
    ASSERT_EQ_INT(two_calls_failing_the_first(&r, 0, 0, a, b, "+390612345631"), 0);
    ASSERT_EQ_INT(dlq.sent, 1);
    ASSERT_EQ_INT(dlq.done_when_sent, 0); /* not done before its letter is stored */
    ASSERT_EQ_INT(dlq.stored, 1);
    ASSERT_EQ_STR(dlq.decision, TKT_DECISION_PERMANENT);
    ASSERT_TRUE(strstr(dlq.event_id, a) != NULL);
    ASSERT_TRUE(strstr(dlq.crm_error, "withheld") != NULL);
    ASSERT_EQ_INT(fake.failed, 1); /* asked once: a refusal is not retried */
    ASSERT_EQ_INT(done_rejected, 1);
    ASSERT_EQ_INT(done_ok, 1);
    ASSERT_EQ_INT(fake.tickets, 1); /* the next call's */
    ASSERT_TRUE(strstr(fake.last_created.external_id, b) != NULL);
    rig_down(&r);
    rig_dead_letters = 0;
}

/* The same for a look-up form the adapter refuses (R-I2). */
static void test_a_refused_look_up_is_dead_lettered(void)
{
    rig_t r;
    char a[64];
    rig_dead_letters = 1;
    rig_retry_limit_ms = 0;
    ASSERT_EQ_INT(rig_up(&r), 0);
    snprintf(a, sizeof a, "call-%lld-l", (long long)cmn_time_now_ms());
    snprintf(fake.refuse_phone, sizeof fake.refuse_phone, "612345632");
    submit(&r, event("ans", CMN_EV_ANSWERED, a, "+390612345632"));
    ASSERT_TRUE(run_until(1));
    ASSERT_EQ_INT(dlq.sent, 1);
    ASSERT_EQ_STR(dlq.decision, TKT_DECISION_PERMANENT);
    ASSERT_EQ_INT(fake.failed, 1);
    ASSERT_EQ_INT(done_rejected, 1);
    rig_down(&r);
    rig_dead_letters = 0;
}

/* A transient failure (503) is retried, but not past the retry limit
 * (CALLBUS_TICKET_RETRY_LIMIT_S; 1.5 s here): then dead-lettered with the
 * CRM's last answer, and the customer's next call goes on. */
static void test_a_transient_failure_past_the_limit_is_dead_lettered(void)
{
    rig_t r;
    char a[64], b[64];
    int64_t t0 = cmn_time_mono_ms();
    ASSERT_EQ_INT(two_calls_failing_the_first(&r, 1500, 503, a, b, "+390612345633"), 0);
    ASSERT_TRUE(cmn_time_mono_ms() - t0 >= 1500); /* retried until the limit */
    ASSERT_TRUE(fake.failed >= 2);
    ASSERT_EQ_INT(dlq.sent, 1);
    ASSERT_EQ_STR(dlq.decision, TKT_DECISION_RETRY_LIMIT);
    ASSERT_EQ_INT(dlq.crm_status, 503);
    ASSERT_EQ_INT(done_rejected, 1);
    ASSERT_EQ_INT(done_ok, 1);
    ASSERT_TRUE(strstr(fake.last_created.external_id, b) != NULL);
    rig_down(&r);
    rig_dead_letters = 0;
    rig_retry_limit_ms = 0;
}

/* ---- two replicas, one customer (issue 19 item 3) ------------------------------ */

/* A decision of the test's own (tkt_pipeline_submit_with): the state as
 * loaded, with one change of the customer's. Counts how often it ran. */
typedef struct {
    char group[TKT_CALL_ID_MAX];   /* sets missed_group_id/missed_ticket_id (a group opened) */
    char reached[TKT_CALL_ID_MAX]; /* sets missed_reached_call_id (a callback reached them) */
} change_t;

static int decisions;

static int decide_change(void *ctx, const cmn_event_t *ev, const tkt_call_t *call,
                         const tkt_customer_t *customer, const tkt_facts_t *facts, tkt_plan_t *out)
{
    const change_t *c = ctx;
    memset(out, 0, sizeof *out);
    out->call = *call;
    out->customer = *customer;
    if (c->group[0]) {
        snprintf(out->customer.missed_group_id, sizeof out->customer.missed_group_id, "%s",
                 c->group);
        snprintf(out->customer.missed_ticket_id, sizeof out->customer.missed_ticket_id, "4242");
    }
    if (c->reached[0])
        snprintf(out->customer.missed_reached_call_id, sizeof out->customer.missed_reached_call_id,
                 "%s", c->reached);
    decisions++;
    return 0;
}

static void submit_change(rig_t *r, const char *event_id, const char *number, const char *group,
                          const char *reached)
{
    cmn_event_t ev;
    change_t *c = calloc(1, sizeof *c);
    cmn_event_init(&ev);
    if (!c || cmn_event_set(&ev.event_id, event_id) || cmn_event_set(&ev.customer_number, number))
        abort();
    snprintf(c->group, sizeof c->group, "%s", group);
    snprintf(c->reached, sizeof c->reached, "%s", reached);
    if (tkt_pipeline_submit_with(r->p, &ev, decide_change, c, on_done, NULL) < 0)
        abort();
}

typedef struct {
    int loaded;
    tkt_loaded_t l;
} peek_t;

static void on_peek(void *ctx, const tkt_loaded_t *l, const char *err)
{
    peek_t *p = ctx;
    if (!err)
        p->l = *l;
    p->loaded = err ? -1 : 1;
}

/* The customer as stored: 1, or -1/0 when it could not be read. */
static int load_customer(tkt_store_t *store, const char *number, peek_t *peek)
{
    int64_t until = cmn_time_mono_ms() + 5000;
    if (tkt_store_load(store, "-", "-", number, on_peek, peek) < 0)
        return -1;
    while (!peek->loaded && cmn_time_mono_ms() < until)
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    return peek->loaded;
}

/* R-M2/R-M3 with two replicas: one opens the customer's missed-call group
 * while the other records that a callback reached them, both from the same
 * stored state (each loaded before either wrote). The stale writer's
 * commit is refused; it loads the state again and decides on it: both
 * changes are kept, none overwrites the other. */
static void test_two_replicas_on_one_customer_keep_both_changes(void)
{
    rig_t a, b;
    char number[32], id[96];
    peek_t peek = {0};
    ASSERT_EQ_INT(rig_up(&a), 0);
    ASSERT_EQ_INT(rig_up_at(&b, 0, 1), 0);
    decisions = 0;
    snprintf(number, sizeof number, "+3906%09lld", (long long)(cmn_time_now_ms() % 1000000000));
    snprintf(id, sizeof id, "mop-%s-opened", number);
    submit_change(&a, id, number, "group-1", ""); /* replica A: missed-call-ops */
    snprintf(id, sizeof id, "act-%s-reached", number);
    submit_change(&b, id, number, "", "call-back-1"); /* replica B: agent-actions */
    ASSERT_TRUE(run_until(2));
    ASSERT_EQ_INT(done_ok, 2);
    ASSERT_EQ_INT(decisions, 3); /* B decided again on A's state */
    ASSERT_EQ_INT(load_customer(a.store, number, &peek), 1);
    ASSERT_EQ_STR(peek.l.customer.missed_group_id, "group-1");
    ASSERT_EQ_STR(peek.l.customer.missed_ticket_id, "4242");
    ASSERT_EQ_STR(peek.l.customer.missed_reached_call_id, "call-back-1");
    rig_down(&b);
    rig_down(&a);
}

/* An event that names no customer (a provider's end without the number)
 * belongs to a call whose stored state does: the rules write that customer
 * (tkt_rules.c track). It must be the stored customer with the event's
 * changes, not an empty one over it (the group R-M2 reads, the tickets R-T2
 * reuses). */
static void test_an_event_without_number_keeps_its_call_s_customer(void)
{
    rig_t r;
    char call[64], number[32], id[96];
    peek_t peek = {0};
    ASSERT_EQ_INT(rig_up(&r), 0);
    snprintf(call, sizeof call, "call-%lld-n", (long long)cmn_time_now_ms());
    snprintf(number, sizeof number, "+3906%09lld", (long long)(cmn_time_now_ms() % 999999999));
    submit(&r, event("ans", CMN_EV_ANSWERED, call, number));
    ASSERT_TRUE(run_until(1));
    snprintf(id, sizeof id, "mop-%s-opened", number);
    submit_change(&r, id, number, "group-7", "");
    ASSERT_TRUE(run_until(2));
    cmn_event_t end = event("end", CMN_EV_ENDED, call, number);
    free(end.customer_number);
    end.customer_number = NULL; /* keyed by the call id, as ingest does */
    submit(&r, end);
    ASSERT_TRUE(run_until(3));
    ASSERT_EQ_INT(done_ok, 3);
    ASSERT_EQ_INT(load_customer(r.store, number, &peek), 1);
    ASSERT_EQ_STR(peek.l.customer.missed_group_id, "group-7");
    ASSERT_TRUE(peek.l.customer.n_tickets >= 1);
    ASSERT_EQ_STR(peek.l.customer.last_call.call_id, call);
    rig_down(&r);
}

/* ---- a contact made for a missed-call group, across a crash (issue 20 item 1) ---- */

static void submit_missed_op(rig_t *r, const char *op)
{
    char err[128];
    if (tkt_actions_submit(r->p, &pol, TKT_ACTIONS_MISSED, op, strlen(op), on_done, NULL, err,
                           sizeof err) != 0)
        abort();
}

/* Runs the loop for ms milliseconds. */
static void run_for(int64_t ms)
{
    int64_t until = cmn_time_mono_ms() + ms;
    while (cmn_time_mono_ms() < until)
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
}

/* R-C2, R-M1, issue 20 item 1: a group.open for a caller the CRM does not
 * know creates their contact, then the group's ticket. The service dies
 * after the contact was made and before the plan was committed (here the
 * ticket's creation fails, then the process is gone); the op comes again
 * from Kafka to the restarted service, which must find the contact it
 * made ("mark, then create or find", tkt_create.h), not make a second. */
static void test_R_C2_group_open_s_contact_made_once_across_a_crash(void)
{
    rig_t a, b;
    char op[512], number[32], call[64];
    long long now = (long long)cmn_time_now_ms();
    ASSERT_EQ_INT(rig_up(&a), 0);
    snprintf(number, sizeof number, "+3906%09lld", now % 999999937);
    snprintf(call, sizeof call, "call-%lld-g", now);
    snprintf(op, sizeof op,
             "{\"schema_version\":1,\"op_id\":\"op-%lld\",\"op\":\"group.open\","
             "\"group_id\":\"g-%lld\",\"customer_number\":\"%s\",\"call_id\":\"%s\","
             "\"count\":1,\"occurred_at\":\"2026-11-21T10:00:00Z\"}",
             now, now, number, call);
    snprintf(fake.fail_call, sizeof fake.fail_call, "missed-g-%lld", now);
    fake.fail_status = 503; /* transient: retried later, by then the process is gone */
    submit_missed_op(&a, op);
    int64_t until = cmn_time_mono_ms() + 5000;
    while (!fake.failed && cmn_time_mono_ms() < until)
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    ASSERT_EQ_INT(fake.failed, 1);
    ASSERT_EQ_INT(fake.contacts, 1);
    run_for(200); /* the failure's answer comes; the retry is 1 s away */
    rig_down(&a); /* the crash: nothing committed, the offset never moved */
    fake.fail_call[0] = '\0';
    ASSERT_EQ_INT(rig_up_at(&b, 0, 1), 0); /* restarted, same Redis keys and CRM */
    submit_missed_op(&b, op);              /* Kafka gives the op again */
    ASSERT_TRUE(run_until(1));
    ASSERT_EQ_INT(done_ok, 1);
    ASSERT_EQ_INT(fake.tickets, 1);
    ASSERT_EQ_INT(fake.contacts, 1);      /* found again, not made twice */
    ASSERT_EQ_INT(fake.n_contact_ext, 1); /* by its deterministic external id */
    ASSERT_EQ_STR(fake.last_created.requester_id, fake.contact_ext_id[0]);
    rig_down(&b);
}

/* R-M3 with R-T10: a person solved the customer's missed-call ticket (they
 * called back from their own phone, say); the customer then calls and is
 * answered on a ticket of their own. R-M3 (a) would close the missed-call
 * ticket: a person already did, so nothing is written and no ticket is made
 * to hold a status (before: a new "Missed call" ticket, closed at once). */
static void test_R_M3_reached_group_whose_ticket_a_person_solved_makes_no_ticket(void)
{
    rig_t r;
    char op[512], number[32], call[64], missed_ticket[TKT_ID_MAX];
    long long now = (long long)cmn_time_now_ms();
    ASSERT_EQ_INT(rig_up(&r), 0);
    snprintf(number, sizeof number, "+3906%09lld", (now + 7) % 999999937);
    snprintf(op, sizeof op,
             "{\"schema_version\":1,\"op_id\":\"op-%lld-o\",\"op\":\"group.open\","
             "\"group_id\":\"g-%lld-r\",\"customer_number\":\"%s\",\"call_id\":\"call-%lld-m\","
             "\"count\":1,\"occurred_at\":\"2026-11-21T10:00:00Z\"}",
             now, now, number, now);
    submit_missed_op(&r, op);
    ASSERT_TRUE(run_until(1));
    ASSERT_EQ_INT(fake.tickets, 1);
    snprintf(missed_ticket, sizeof missed_ticket, "%d", fake.next_id);
    snprintf(fake.solve_on_status_read, sizeof fake.solve_on_status_read, "%s", missed_ticket);
    snprintf(fake.solved, sizeof fake.solved, "%s", missed_ticket); /* solved by a person */
    snprintf(call, sizeof call, "call-%lld-a", now);
    submit(&r, event("ans", CMN_EV_ANSWERED, call, number));
    submit(&r, event("end", CMN_EV_ENDED, call, number));
    ASSERT_TRUE(run_until(3));
    ASSERT_EQ_INT(fake.tickets, 2); /* the missed-call ticket and the call's */
    snprintf(op, sizeof op,
             "{\"schema_version\":1,\"op_id\":\"op-%lld-r\",\"op\":\"group.reached\","
             "\"group_id\":\"g-%lld-r\",\"customer_number\":\"%s\",\"call_id\":\"%s\","
             "\"occurred_at\":\"2026-11-21T10:05:00Z\"}",
             now, now, number, call);
    submit_missed_op(&r, op);
    ASSERT_TRUE(run_until(4));
    run_for(300); /* a replacement would be made after the status read */
    ASSERT_EQ_INT(done_ok, 4);
    ASSERT_EQ_INT(fake.tickets, 2); /* no ticket made to hold a status */
    ASSERT_TRUE(strcmp(fake.last_written, missed_ticket) != 0); /* nor written to the solved one */
    rig_down(&r);
}

int main(void)
{
    cmn_log_init("test", getenv("TEST_DEBUG") ? CMN_LOG_DEBUG : CMN_LOG_ERROR);
    tkt_policy_defaults(&pol);
    base = event_base_new();
    static const test_case_t cases[] = {
        TEST_CASE(test_answered_call_once_and_replay_harmless),
        TEST_CASE(test_R_C5_a_call_from_another_customer_s_ticket_lands_on_it),
        TEST_CASE(test_write_to_a_ticket_solved_meanwhile_goes_to_the_replacement),
        TEST_CASE(test_split_transfer_binds_the_call_to_the_new_leg_not_the_idle_one),
        TEST_CASE(test_unanswered_calls_are_created_in_bulk),
        TEST_CASE(test_an_answered_call_behind_a_bulk_creation_sends_it_at_once),
        TEST_CASE(test_status_read_before_reuse_waits_for_the_window_unless_an_agent_waits),
        TEST_CASE(test_a_customer_s_next_event_does_not_wait_out_the_window),
        TEST_CASE(test_a_refused_ticket_is_dead_lettered_and_the_next_event_goes_on),
        TEST_CASE(test_a_refused_look_up_is_dead_lettered),
        TEST_CASE(test_a_transient_failure_past_the_limit_is_dead_lettered),
        TEST_CASE(test_two_replicas_on_one_customer_keep_both_changes),
        TEST_CASE(test_an_event_without_number_keeps_its_call_s_customer),
        TEST_CASE(test_R_C2_group_open_s_contact_made_once_across_a_crash),
        TEST_CASE(test_R_M3_reached_group_whose_ticket_a_person_solved_makes_no_ticket)};
    int rc = test_run_all("ticket_pipeline", cases, sizeof cases / sizeof *cases);
    event_base_free(base);
    return rc;
}
