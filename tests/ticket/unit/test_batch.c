/* The batched flush (R-B1..R-B5) against a fake CRM that records every bulk
 * request: N tickets -> ceil(N/100) requests; one ticket's comments merged
 * in order into one update; later status/assignee win; failed items retried
 * in a later window; closed tickets reported as such; the per-ticket limit
 * holds a busy ticket back; disabled kinds are not accepted. */
#include "cmn_log.h"
#include "cmn_metrics.h"
#include "test.h"
#include "tkt_batch.h"

#include <event2/event.h>

typedef struct {
    tkt_crm_t base;
    size_t bulk_calls;
    size_t bulk_sizes[16];
    tkt_op_t last_ops[TKT_CRM_MAX_BULK];
    size_t last_n;
    const char *fail_ticket;   /* items on this ticket fail (retryable) once */
    const char *closed_ticket; /* items on this ticket are refused: closed */
    const char *unsure_ticket; /* items on this ticket: outcome unknown (job unreadable) */
} fake_crm_t;

static void fake_bulk(tkt_crm_t *crm, const tkt_op_t *ops, size_t n, tkt_crm_job_fn on_job,
                      tkt_crm_cb cb, void *ctx)
{
    fake_crm_t *f = (fake_crm_t *)crm;
    static tkt_crm_result_t res;
    static tkt_crm_item_t items[TKT_CRM_MAX_BULK]; /* the adapter's buffer (tkt_crm.h) */
    memset(&res, 0, sizeof res);
    memset(items, 0, sizeof items);
    res.items = items;
    if (on_job)
        on_job(ctx, "job-1");
    if (f->bulk_calls < 16)
        f->bulk_sizes[f->bulk_calls] = n;
    f->bulk_calls++;
    memcpy(f->last_ops, ops, n * sizeof *ops);
    f->last_n = n;
    res.ok = 1;
    res.n_items = n;
    for (size_t i = 0; i < n; i++) {
        tkt_crm_item_t *it = &res.items[i];
        snprintf(it->ticket_id, sizeof it->ticket_id, "%s", ops[i].ticket_id);
        it->ok = 1;
        if (f->fail_ticket && strcmp(ops[i].ticket_id, f->fail_ticket) == 0) {
            it->ok = 0;
            it->retryable = 1;
            f->fail_ticket = NULL; /* once */
        } else if (f->unsure_ticket && strcmp(ops[i].ticket_id, f->unsure_ticket) == 0) {
            it->ok = 0;
            it->retryable = 1;
            it->maybe_applied = 1;
            res.ok = 0;
        } else if (f->closed_ticket && strcmp(ops[i].ticket_id, f->closed_ticket) == 0) {
            it->ok = 0;
            it->closed = 1;
        }
    }
    cb(ctx, &res);
}

static const tkt_crm_ops_t fake_ops = {.bulk_update = fake_bulk};

/* A CRM that also reports statuses: ticket "66" was solved by a person. */
static size_t status_calls;
static void fake_statuses(tkt_crm_t *crm, const char *const *ids, size_t n, tkt_crm_cb cb,
                          void *ctx)
{
    static tkt_crm_result_t res;
    static tkt_crm_item_t items[TKT_CRM_MAX_BULK]; /* the adapter's buffer (tkt_crm.h) */
    memset(&res, 0, sizeof res);
    memset(items, 0, sizeof items);
    res.items = items;
    status_calls++;
    res.ok = 1;
    res.n_items = n;
    for (size_t i = 0; i < n; i++) {
        snprintf(res.items[i].ticket_id, sizeof res.items[i].ticket_id, "%s", ids[i]);
        res.items[i].ok = 1;
        res.items[i].status = strcmp(ids[i], "66") == 0 ? TKT_ST_SOLVED : TKT_ST_OPEN;
        res.items[i].closed = res.items[i].status == TKT_ST_SOLVED;
    }
    cb(ctx, &res);
}
static const tkt_crm_ops_t fake_ops_statuses = {.bulk_update = fake_bulk,
                                                .ticket_statuses = fake_statuses};

typedef struct {
    int ok, closed, failed;
    int jobs_told; /* on_job calls, each before the op completed */
    char job_id[16];
} tally_t;

static void on_job(void *owner, const char *job_id)
{
    tally_t *t = owner;
    if (t->ok + t->closed + t->failed == 0)
        t->jobs_told++;
    snprintf(t->job_id, sizeof t->job_id, "%s", job_id);
}

static void on_done(void *owner, const tkt_op_t *op, tkt_batch_outcome_t outcome, const char *err)
{
    tally_t *t = owner;
    if (outcome == TKT_BATCH_OK)
        t->ok++;
    else if (outcome == TKT_BATCH_CLOSED)
        t->closed++;
    else
        t->failed++;
}

static struct event_base *base;

static tkt_batch_t *new_batch(fake_crm_t *f, int limit)
{
    memset(f, 0, sizeof *f);
    f->base.ops = &fake_ops;
    tkt_batch_cfg_t cfg = {.window_s = 10,
                           .comments = 1,
                           .updates = 1,
                           .ticket_limit = limit,
                           .ticket_window_s = 600,
                           .max_attempts = 3};
    return tkt_batch_new(base, &f->base, &cfg);
}

static tkt_op_t comment(const char *ticket, const char *body)
{
    tkt_op_t op = {.kind = TKT_OP_COMMENT};
    snprintf(op.ticket_id, sizeof op.ticket_id, "%s", ticket);
    snprintf(op.body, sizeof op.body, "%s", body);
    return op;
}

static void test_R_B3_250_tickets_make_3_bulk_requests(void)
{
    fake_crm_t f;
    tally_t t = {0};
    tkt_batch_t *b = new_batch(&f, 28);
    for (int i = 0; i < 250; i++) {
        char id[16];
        snprintf(id, sizeof id, "%d", 1000 + i);
        tkt_op_t op = comment(id, "summary");
        ASSERT_EQ_INT(tkt_batch_add(b, &op, on_done, &t), 0);
    }
    ASSERT_EQ_INT(tkt_batch_pending(b), 250);
    tkt_batch_flush_now(b);
    ASSERT_EQ_INT(f.bulk_calls, 3);
    ASSERT_EQ_INT(f.bulk_sizes[0] + f.bulk_sizes[1] + f.bulk_sizes[2], 250);
    ASSERT_TRUE(f.bulk_sizes[0] == 100 && f.bulk_sizes[1] == 100);
    ASSERT_EQ_INT(t.ok, 250);
    ASSERT_EQ_INT(tkt_batch_pending(b), 0);
    tkt_batch_free(b);
}

static void test_R_B3_comments_of_a_ticket_merged_in_order(void)
{
    fake_crm_t f;
    tally_t t = {0};
    tkt_batch_t *b = new_batch(&f, 28);
    const char *bodies[] = {"first", "second", "third"};
    for (int i = 0; i < 3; i++) {
        tkt_op_t op = comment("42", bodies[i]);
        ASSERT_EQ_INT(tkt_batch_add(b, &op, on_done, &t), 0);
    }
    tkt_op_t up = {.kind = TKT_OP_UPDATE, .status = TKT_ST_OPEN};
    snprintf(up.ticket_id, sizeof up.ticket_id, "42");
    ASSERT_EQ_INT(tkt_batch_add(b, &up, on_done, &t), 0);
    up.status = TKT_ST_PENDING; /* the later status wins */
    ASSERT_EQ_INT(tkt_batch_add(b, &up, on_done, &t), 0);
    tkt_batch_flush_now(b);
    ASSERT_EQ_INT(f.bulk_calls, 1);
    ASSERT_EQ_INT(f.last_n, 1); /* one update for the ticket (R-B3, Zendesk's 30/10 min) */
    ASSERT_EQ_STR(f.last_ops[0].body, "first\n\nsecond\n\nthird");
    ASSERT_EQ_INT(f.last_ops[0].status, TKT_ST_PENDING);
    ASSERT_EQ_INT(t.ok, 5);
    tkt_batch_free(b);
}

/* Issue 11 (R-M3 c): a tag an update adds (callbus_called_back) survives
 * the merge with the ticket's other updates of the window. */
static void test_R_B3_merged_updates_keep_their_tags(void)
{
    fake_crm_t f;
    tally_t t = {0};
    tkt_batch_t *b = new_batch(&f, 28);
    tkt_op_t end = comment("42", "Call summary");
    tkt_op_t mark = {.kind = TKT_OP_UPDATE, .status = TKT_ST_PENDING, .n_tags = 1};
    snprintf(mark.ticket_id, sizeof mark.ticket_id, "42");
    snprintf(mark.tags[0], sizeof mark.tags[0], "callbus_called_back");
    ASSERT_EQ_INT(tkt_batch_add(b, &end, on_done, &t), 0);
    ASSERT_EQ_INT(tkt_batch_add(b, &mark, on_done, &t), 0);
    ASSERT_EQ_INT(tkt_batch_add(b, &mark, on_done, &t), 0); /* a replay: the tag once */
    tkt_batch_flush_now(b);
    ASSERT_EQ_INT(f.last_n, 1);
    ASSERT_EQ_INT(f.last_ops[0].n_tags, 1);
    ASSERT_EQ_STR(f.last_ops[0].tags[0], "callbus_called_back");
    ASSERT_EQ_INT(f.last_ops[0].status, TKT_ST_PENDING);
    tkt_batch_free(b);
}

static void test_failed_item_retried_next_window_closed_reported(void)
{
    fake_crm_t f;
    tally_t t = {0};
    tkt_batch_t *b = new_batch(&f, 28);
    f.fail_ticket = "7";
    f.closed_ticket = "8";
    tkt_op_t a = comment("7", "to a ticket failing once"), c = comment("8", "to a closed one");
    ASSERT_EQ_INT(tkt_batch_add(b, &a, on_done, &t), 0);
    ASSERT_EQ_INT(tkt_batch_add(b, &c, on_done, &t), 0);
    tkt_batch_flush_now(b);
    ASSERT_EQ_INT(t.closed, 1);
    ASSERT_EQ_INT(t.ok, 0);
    ASSERT_EQ_INT(tkt_batch_pending(b), 1); /* back in the window, not lost */
    tkt_batch_flush_now(b);
    ASSERT_EQ_INT(t.ok, 1);
    ASSERT_EQ_INT(f.bulk_calls, 2);
    tkt_batch_free(b);
}

/* Issue 7 item 3a: the job's status could not be read (poll timeout, 5xx):
 * its items may have been applied while it still runs. The batch does not
 * send them again by itself (a blind re-send doubles the comments); they go
 * back to their owner as FAILED, which waits for the job and checks markers. */
static void test_item_maybe_applied_not_resent_blind(void)
{
    fake_crm_t f;
    tally_t t = {0};
    tkt_batch_t *b = new_batch(&f, 28);
    f.unsure_ticket = "9";
    tkt_op_t a = comment("9", "its job status unreadable [callbus e1/0]");
    ASSERT_EQ_INT(tkt_batch_add(b, &a, on_done, &t), 0);
    tkt_batch_flush_now(b);
    ASSERT_EQ_INT(f.bulk_calls, 1);
    ASSERT_EQ_INT(t.failed, 1); /* to the owner at once */
    ASSERT_EQ_INT(tkt_batch_pending(b), 0);
    tkt_batch_flush_now(b);
    ASSERT_EQ_INT(f.bulk_calls, 1); /* never re-sent by the batch */
    tkt_batch_free(b);
}

/* Issue 7 item 3: the owner of every op in a flight learns its job id as
 * soon as the CRM accepted the request (to store it), before completion. */
static void test_owner_told_the_job_id_before_completion(void)
{
    fake_crm_t f;
    tally_t t = {0}, u = {0};
    memset(&f, 0, sizeof f);
    f.base.ops = &fake_ops;
    tkt_batch_cfg_t cfg = {.window_s = 10,
                           .comments = 1,
                           .updates = 1,
                           .ticket_limit = 28,
                           .ticket_window_s = 600,
                           .max_attempts = 3,
                           .on_job = on_job};
    tkt_batch_t *b = tkt_batch_new(base, &f.base, &cfg);
    tkt_op_t a = comment("11", "one"), c = comment("11", "two"), d = comment("12", "three");
    ASSERT_EQ_INT(tkt_batch_add(b, &a, on_done, &t), 0);
    ASSERT_EQ_INT(tkt_batch_add(b, &c, on_done, &t), 0);
    ASSERT_EQ_INT(tkt_batch_add(b, &d, on_done, &u), 0);
    tkt_batch_flush_now(b);
    ASSERT_EQ_INT(f.bulk_calls, 1);
    ASSERT_EQ_INT(t.jobs_told, 2); /* once per op: two ops of t merged into one update */
    ASSERT_EQ_INT(u.jobs_told, 1);
    ASSERT_EQ_STR(t.job_id, "job-1");
    ASSERT_EQ_INT(t.ok, 2);
    tkt_batch_free(b);
}

static void test_per_ticket_limit_holds_busy_ticket(void)
{
    fake_crm_t f;
    tally_t t = {0};
    tkt_batch_t *b = new_batch(&f, 2); /* at most 2 writes per ticket per window */
    for (int i = 0; i < 3; i++) {
        tkt_op_t op = comment("9", "busy");
        ASSERT_EQ_INT(tkt_batch_add(b, &op, on_done, &t), 0);
        tkt_batch_flush_now(b);
    }
    ASSERT_EQ_INT(f.bulk_calls, 2);
    ASSERT_EQ_INT(t.ok, 2);
    ASSERT_EQ_INT(tkt_batch_pending(b), 1); /* waits for the ticket's window */
    tkt_batch_free(b);                      /* reports it failed: nothing silently dropped */
    ASSERT_EQ_INT(t.failed, 1);
}

/* R-T10: a ticket solved by a person since the write was planned is not
 * written to: its items come back CLOSED, the others go in the bulk. */
static void test_R_T10_solved_ticket_left_out_of_the_flush(void)
{
    fake_crm_t f;
    tally_t t = {0};
    tkt_batch_t *b = new_batch(&f, 28);
    f.base.ops = &fake_ops_statuses;
    status_calls = 0;
    tkt_op_t a = comment("65", "to an open ticket"), c = comment("66", "to a solved one");
    ASSERT_EQ_INT(tkt_batch_add(b, &a, on_done, &t), 0);
    ASSERT_EQ_INT(tkt_batch_add(b, &c, on_done, &t), 0);
    tkt_batch_flush_now(b);
    ASSERT_EQ_INT(status_calls, 1); /* one status read for the whole flight */
    ASSERT_EQ_INT(f.bulk_calls, 1);
    ASSERT_EQ_INT(f.last_n, 1);
    ASSERT_EQ_STR(f.last_ops[0].ticket_id, "65");
    ASSERT_EQ_INT(t.ok, 1);
    ASSERT_EQ_INT(t.closed, 1);
    tkt_batch_free(b);
}

static void test_R_B1_kinds_switch_separately(void)
{
    fake_crm_t f;
    memset(&f, 0, sizeof f);
    f.base.ops = &fake_ops;
    tkt_batch_cfg_t cfg = {
        .window_s = 10, .comments = 1, .updates = 0, .ticket_limit = 28, .ticket_window_s = 600};
    tkt_batch_t *b = tkt_batch_new(base, &f.base, &cfg);
    tkt_op_t c = comment("1", "x");
    tkt_op_t u = {.kind = TKT_OP_UPDATE, .status = TKT_ST_PENDING};
    tkt_op_t create = {.kind = TKT_OP_CREATE_TICKET};
    ASSERT_TRUE(tkt_batch_accepts(b, &c));
    ASSERT_TRUE(!tkt_batch_accepts(b, &u));
    ASSERT_TRUE(!tkt_batch_accepts(b, &create)); /* R-B4 */
    tkt_batch_free(b);
}

int main(void)
{
    cmn_log_init("test", CMN_LOG_ERROR);
    base = event_base_new();
    static const test_case_t cases[] = {
        TEST_CASE(test_R_B3_250_tickets_make_3_bulk_requests),
        TEST_CASE(test_R_B3_comments_of_a_ticket_merged_in_order),
        TEST_CASE(test_R_B3_merged_updates_keep_their_tags),
        TEST_CASE(test_failed_item_retried_next_window_closed_reported),
        TEST_CASE(test_item_maybe_applied_not_resent_blind),
        TEST_CASE(test_owner_told_the_job_id_before_completion),
        TEST_CASE(test_per_ticket_limit_holds_busy_ticket),
        TEST_CASE(test_R_T10_solved_ticket_left_out_of_the_flush),
        TEST_CASE(test_R_B1_kinds_switch_separately)};
    int rc = test_run_all("ticket_batch", cases, sizeof cases / sizeof cases[0]);
    event_base_free(base);
    cmn_metrics_reset();
    return rc;
}
