/* The pipeline's parts against a fake CRM (issue 7 item 11), with the real
 * store on the test stack's Redis (CALLBUS_REDIS_URL; tests/run.sh starts
 * it): an answered call makes its contact and ticket once and a replay of
 * the same event makes nothing (tkt_pipeline.c, tkt_create.c); a write to a
 * ticket a person solved between the decision and the write goes to the
 * R-T10 replacement the rules make, and the call follows it (tkt_apply.c). */
#include "cmn_log.h"
#include "cmn_redis.h"
#include "cmn_time.h"
#include "test.h"
#include "tkt_pipeline.h"

#include <event2/event.h>
#include <stdlib.h>

static struct event_base *base;

/* ---- the fake CRM: answers from the loop, as a real adapter does ------------ */

typedef struct {
    tkt_crm_t crm;
    int next_id;
    int contacts, tickets, updates, bulks, status_reads;
    char solve_on_status_read[TKT_ID_MAX]; /* "a person solves it just before the write" */
    char solved[TKT_ID_MAX];
    tkt_op_t last_created;
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

static void f_find_contacts(tkt_crm_t *crm, const char *phone, tkt_prio_t prio, tkt_crm_cb cb,
                            void *ctx)
{
    answer(cb, ctx); /* nobody has the number */
}

static void f_create_contact(tkt_crm_t *crm, const char *phone, const char *name,
                             const char *external_id, tkt_crm_cb cb, void *ctx)
{
    tkt_crm_result_t *r = answer(cb, ctx);
    fake.contacts++;
    r->n_contacts = 1;
    snprintf(r->contacts[0].id, sizeof r->contacts[0].id, "%d", ++fake.next_id);
}

static void f_find_contact_by_external_id(tkt_crm_t *crm, const char *external_id, tkt_crm_cb cb,
                                          void *ctx)
{
    answer(cb, ctx);
}

static void f_create_ticket(tkt_crm_t *crm, const tkt_op_t *op, tkt_crm_cb cb, void *ctx)
{
    tkt_crm_result_t *r = answer(cb, ctx);
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
    snprintf(r->ticket.id, sizeof r->ticket.id, "%s", id);
    r->ticket.status = status_of(id);
}

static void f_update_ticket(tkt_crm_t *crm, const tkt_op_t *op, tkt_crm_cb cb, void *ctx)
{
    tkt_crm_result_t *r = answer(cb, ctx);
    fake.updates++;
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
                                       .ticket_url = f_url,
                                       .contact_url = f_url};

/* ---- the pipeline on it ----------------------------------------------------- */

static tkt_policy_t pol;
static int done_ok, done_rejected;
static char prefix[64];

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
    tkt_pipeline_t *p;
} rig_t;

static int rig_up(rig_t *r)
{
    char errstr[256];
    const char *url = getenv("CALLBUS_REDIS_URL");
    memset(r, 0, sizeof *r);
    memset(&fake, 0, sizeof fake);
    fake.crm.ops = &fake_ops;
    fake.next_id = 1000;
    done_ok = done_rejected = 0;
    snprintf(prefix, sizeof prefix, "test-pipeline-%lld.", (long long)cmn_time_now_ms());
    r->redis = cmn_redis_new(base, url ? url : "redis://127.0.0.1:36479", errstr, sizeof errstr);
    r->store = r->redis ? tkt_store_new(r->redis, prefix) : NULL;
    tkt_batch_cfg_t bcfg = {.window_s = 1,
                            .comments = 1,
                            .updates = 1,
                            .ticket_limit = 28,
                            .ticket_window_s = 600,
                            .max_attempts = 5};
    r->batch = tkt_batch_new(base, &fake.crm, &bcfg);
    tkt_pipeline_deps_t deps = {
        .base = base, .crm = &fake.crm, .batch = r->batch, .store = r->store, .policy = &pol};
    r->p = r->store && r->batch ? tkt_pipeline_new(&deps) : NULL;
    int64_t until = cmn_time_mono_ms() + 5000;
    while (r->redis && !cmn_redis_connected(r->redis) && cmn_time_mono_ms() < until)
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    return r->p && cmn_redis_connected(r->redis) ? 0 : -1;
}

static void rig_down(rig_t *r)
{
    tkt_batch_free(r->batch);
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

int main(void)
{
    cmn_log_init("test", getenv("TEST_DEBUG") ? CMN_LOG_DEBUG : CMN_LOG_ERROR);
    tkt_policy_defaults(&pol);
    base = event_base_new();
    static const test_case_t cases[] = {
        TEST_CASE(test_answered_call_once_and_replay_harmless),
        TEST_CASE(test_write_to_a_ticket_solved_meanwhile_goes_to_the_replacement)};
    int rc = test_run_all("ticket_pipeline", cases, 2);
    event_base_free(base);
    return rc;
}
