/* tkt_pipeline_cancel_queued (issue 7 item 4): a revoked partition's
 * events that have not started are dropped without their done callback
 * (their offsets must not move: the next owner replays them); the head of
 * a lane, which may have read or written already, is never dropped.
 *
 * Redis is unreachable here (a closed port): every job's first step fails
 * and is retried later, so the head of a customer's lane stays the head and
 * the jobs behind it stay queued, with no I/O. */
#include "cmn_log.h"
#include "cmn_redis.h"
#include "test.h"
#include "tkt_pipeline.h"

static int done_calls;

static void on_done(void *ctx, int ok)
{
    done_calls++;
}

/* cancel: matches one given context. */
static int is_ctx(void *cb_ctx, void *arg)
{
    return cb_ctx == arg;
}

static int any(void *cb_ctx, void *arg)
{
    return 1;
}

static void submit(tkt_pipeline_t *p, const char *id, const char *customer, void *ctx)
{
    cmn_event_t ev;
    cmn_event_init(&ev);
    if (cmn_event_set(&ev.event_id, id) || cmn_event_set(&ev.call_id, id) ||
        cmn_event_set(&ev.customer_number, customer))
        abort();
    ev.type = CMN_EV_ENDED;
    tkt_pipeline_submit(p, &ev, on_done, ctx);
}

static void test_cancel_drops_only_queued(void)
{
    char errstr[256];
    int a, b, c, d;
    struct event_base *base = event_base_new();
    cmn_redis_t *redis = cmn_redis_new(base, "redis://127.0.0.1:1", errstr, sizeof errstr);
    ASSERT_TRUE(redis != NULL);
    tkt_store_t *store = tkt_store_new(redis, "test.");
    ASSERT_TRUE(store != NULL);
    tkt_pipeline_deps_t deps = {.base = base, .store = store};
    tkt_pipeline_t *p = tkt_pipeline_new(&deps);
    ASSERT_TRUE(p != NULL);

    submit(p, "ev-a", "+390611111111", &a); /* head: started */
    submit(p, "ev-b", "+390611111111", &b); /* queued behind a */
    submit(p, "ev-c", "+390611111111", &c); /* queued behind b */
    submit(p, "ev-d", "+390622222222", &d); /* another customer's head */
    ASSERT_EQ_INT(tkt_pipeline_in_flight(p), 4);

    ASSERT_EQ_INT(tkt_pipeline_cancel_queued(p, is_ctx, &b), 1);
    ASSERT_EQ_INT(tkt_pipeline_in_flight(p), 3);
    ASSERT_EQ_INT(tkt_pipeline_cancel_queued(p, is_ctx, &a), 0); /* a head stays */
    ASSERT_EQ_INT(tkt_pipeline_cancel_queued(p, any, NULL), 1);  /* only c is left queued */
    ASSERT_EQ_INT(tkt_pipeline_in_flight(p), 2);
    submit(p, "ev-e", "+390611111111", &c); /* the lane's tail was fixed up */
    ASSERT_EQ_INT(tkt_pipeline_cancel_queued(p, any, NULL), 1);
    ASSERT_EQ_INT(done_calls, 0); /* no done callback: offsets stay where they are */

    tkt_pipeline_free(p);
    tkt_store_free(store);
    cmn_redis_free(redis);
    event_base_free(base);
}

int main(void)
{
    cmn_log_init("test", CMN_LOG_ERROR);
    static const test_case_t cases[] = {TEST_CASE(test_cancel_drops_only_queued)};
    return test_run_all("pipeline_cancel", cases, 1);
}
