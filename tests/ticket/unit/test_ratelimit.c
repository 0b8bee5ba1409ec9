/* crm_ratelimit: priorities, the sliding-window budget, 429 pauses and
 * backoff bounds, on a fake clock (pumped by hand, nothing sleeps), plus one
 * short run on a real libevent loop to show the timer drives it. */
#include "test.h"
#include "crm_ratelimit.h"
#include "cmn_time.h"

#include <event2/event.h>
#include <stdint.h>

static int64_t fake_now;
static int64_t fake_clock(void *ctx)
{
    return fake_now;
}

#define MAX_SENDS 4096

typedef struct {
    crm_rl_t *rl;
    int ids[MAX_SENDS];
    int attempts[MAX_SENDS];
    int64_t at[MAX_SENDS];
    crm_rl_req_t *reqs[MAX_SENDS];
    size_t n;
    int complete_at_once; /* send() answers DONE immediately */
    int dropped;
} rec_t;

static void rec_send(void *owner, crm_rl_req_t *req, void *req_ctx, int attempt)
{
    rec_t *r = owner;
    if (r->n < MAX_SENDS) {
        r->ids[r->n] = (int)(intptr_t)req_ctx;
        r->attempts[r->n] = attempt;
        r->at[r->n] = r->rl ? (fake_now) : 0;
        r->reqs[r->n] = req;
        r->n++;
    }
    if (r->complete_at_once)
        crm_rl_complete(r->rl, req, CRM_RL_DONE, -1);
}

static void rec_drop(void *owner, void *req_ctx)
{
    ((rec_t *)owner)->dropped++;
}

static crm_rl_t *make(rec_t *r, int limit, double safety, int max_in_flight)
{
    memset(r, 0, sizeof *r);
    fake_now = 1000000;
    crm_rl_cfg_t cfg = {
        .limit_per_min = limit,
        .safety = safety,
        .max_in_flight = max_in_flight,
        .max_tries = 5,
        .backoff_base_ms = 500,
        .backoff_max_ms = 30000,
        .seed = 42,
        .clock = fake_clock,
        .send = rec_send,
        .owner = r,
    };
    r->rl = crm_rl_new(NULL, &cfg);
    return r->rl;
}

static void *id(int i)
{
    return (void *)(intptr_t)i;
}

static int expired[16], n_expired;
static void rec_expire(void *owner, void *req_ctx)
{
    if (n_expired < 16)
        expired[n_expired++] = (int)(intptr_t)req_ctx;
}

/* Issue 7 item 9: an IVR request its caller stopped waiting for (answered
 * 504) is not sent later, and the interactive queue is bounded. */
static void test_interactive_ttl_and_bound(void)
{
    static rec_t r;
    memset(&r, 0, sizeof r);
    n_expired = 0;
    fake_now = 1000000;
    crm_rl_cfg_t cfg = {.limit_per_min = 2,
                        .safety = 1,
                        .max_in_flight = 8,
                        .seed = 42,
                        .clock = fake_clock,
                        .send = rec_send,
                        .owner = &r,
                        .expire = rec_expire};
    cfg.ttl_ms[TKT_PRIO_INTERACTIVE] = 1500;
    cfg.max_queued[TKT_PRIO_INTERACTIVE] = 3;
    r.rl = crm_rl_new(NULL, &cfg);
    ASSERT_TRUE(r.rl != NULL);
    r.complete_at_once = 1;
    ASSERT_TRUE(crm_rl_submit(r.rl, TKT_PRIO_ENRICH, id(1)) != NULL);
    ASSERT_TRUE(crm_rl_submit(r.rl, TKT_PRIO_ENRICH, id(2)) != NULL);
    crm_rl_pump(r.rl); /* the budget (2 a minute) is spent */
    ASSERT_EQ_INT(r.n, 2);
    for (int i = 10; i < 13; i++)
        ASSERT_TRUE(crm_rl_submit(r.rl, TKT_PRIO_INTERACTIVE, id(i)) != NULL);
    ASSERT_TRUE(crm_rl_submit(r.rl, TKT_PRIO_INTERACTIVE, id(13)) == NULL); /* bounded */
    ASSERT_TRUE(crm_rl_submit(r.rl, TKT_PRIO_ENRICH, id(3)) != NULL); /* other priorities not */
    fake_now += 1000;
    crm_rl_pump(r.rl);
    ASSERT_EQ_INT(n_expired, 0);
    ASSERT_EQ_INT(crm_rl_next_due(r.rl), 1000000 + 1500); /* wakes for the caller's deadline */
    fake_now += 500;
    crm_rl_pump(r.rl);
    ASSERT_EQ_INT(n_expired, 3); /* never sent */
    ASSERT_EQ_INT(expired[0], 10);
    fake_now += 60000; /* the budget frees: only the enrichment request goes */
    crm_rl_pump(r.rl);
    ASSERT_EQ_INT(r.n, 3);
    ASSERT_EQ_INT(r.ids[2], 3);
    crm_rl_stats_t st;
    crm_rl_stats(r.rl, &st);
    ASSERT_EQ_INT(st.expired_total, 3);
    ASSERT_EQ_INT(st.refused_total, 1);
    crm_rl_free(r.rl, rec_drop);
}

/* An INTERACTIVE request queued after 50 ENRICH ones is sent first, and
 * each priority stays FIFO. */
static void test_priority_order(void)
{
    static rec_t r;
    ASSERT_TRUE(make(&r, 700, 0.9, 1));
    for (int i = 0; i < 50; i++)
        ASSERT_TRUE(crm_rl_submit(r.rl, TKT_PRIO_ENRICH, id(i)));
    ASSERT_TRUE(crm_rl_submit(r.rl, TKT_PRIO_CREATE, id(200)));
    ASSERT_TRUE(crm_rl_submit(r.rl, TKT_PRIO_INTERACTIVE, id(100)));
    ASSERT_EQ_INT(r.n, 0); /* submit never sends from inside the call */
    for (int k = 0; k < 52; k++) {
        crm_rl_pump(r.rl);
        ASSERT_EQ_INT(r.n, (size_t)k + 1); /* max_in_flight 1 */
        ASSERT_EQ_INT(crm_rl_complete(r.rl, r.reqs[k], CRM_RL_DONE, -1), CRM_RL_FINISHED);
    }
    ASSERT_EQ_INT(r.ids[0], 100);
    ASSERT_EQ_INT(r.ids[1], 200);
    for (int i = 0; i < 50; i++)
        ASSERT_EQ_INT(r.ids[2 + i], i);
    crm_rl_free(r.rl, NULL);
}

/* The realistic case: the budget is spent and 50 ENRICH requests wait; an
 * INTERACTIVE one arriving later is the first to go when budget frees. */
static void test_priority_when_budget_spent(void)
{
    static rec_t r;
    ASSERT_TRUE(make(&r, 10, 1.0, 8));
    r.complete_at_once = 1;
    for (int i = 0; i < 60; i++)
        ASSERT_TRUE(crm_rl_submit(r.rl, TKT_PRIO_ENRICH, id(i)));
    crm_rl_pump(r.rl);
    ASSERT_EQ_INT(r.n, 10);
    fake_now += 5000;
    ASSERT_TRUE(crm_rl_submit(r.rl, TKT_PRIO_INTERACTIVE, id(100)));
    crm_rl_pump(r.rl);
    ASSERT_EQ_INT(r.n, 10);
    ASSERT_EQ_INT(crm_rl_next_due(r.rl), 1000000 + 60000);
    fake_now = 1000000 + 60000;
    crm_rl_pump(r.rl);
    ASSERT_EQ_INT(r.n, 20);
    ASSERT_EQ_INT(r.ids[10], 100);
    for (int i = 11; i < 20; i++)
        ASSERT_EQ_INT(r.ids[i], i - 1);
    crm_rl_free(r.rl, rec_drop);
    ASSERT_EQ_INT(r.dropped, 41);
}

/* In no 60 s window are more than floor(limit * safety) requests sent,
 * whatever the arrival pattern; and the budget is actually used. */
static void test_budget_never_exceeded(void)
{
    static rec_t r;
    ASSERT_TRUE(make(&r, 100, 0.9, 8));
    r.complete_at_once = 1;
    uint64_t rnd = 7;
    int submitted = 0;
    while (r.n < 1000) {
        /* bursts of arrivals at random moments, random priorities */
        rnd = rnd * 6364136223846793005ull + 1442695040888963407ull;
        int burst = (int)((rnd >> 33) % 40);
        for (int i = 0; i < burst && submitted < 1000; i++, submitted++)
            ASSERT_TRUE(
                crm_rl_submit(r.rl, (tkt_prio_t)((rnd >> (20 + i % 8)) % 3), id(submitted)));
        crm_rl_pump(r.rl);
        int64_t due = crm_rl_next_due(r.rl);
        ASSERT_TRUE(due < 0 || due >= fake_now);
        fake_now += 1 + (int64_t)((rnd >> 40) % 3000);
    }
    size_t lo = 0;
    for (size_t i = 0; i < r.n; i++) {
        while (r.at[lo] <= r.at[i] - 60000)
            lo++;
        if (i - lo + 1 > 90) {
            fprintf(stderr, "window ending at send %zu holds %zu sends\n", i, i - lo + 1);
            ASSERT_TRUE(0);
        }
    }
    /* 1000 sends at 90 per minute take at least 11 full windows ... */
    ASSERT_TRUE(r.at[999] - r.at[0] >= 11 * 60000);
    /* ... and not much more: the budget is not wasted (arrival gaps aside). */
    ASSERT_TRUE(r.at[999] - r.at[0] <= 13 * 60000);
    crm_rl_stats_t st;
    crm_rl_stats(r.rl, &st);
    ASSERT_EQ_INT(st.budget, 90);
    ASSERT_EQ_INT(st.sent_total, 1000);
    crm_rl_free(r.rl, NULL);
}

/* A 429 pauses every request until Retry-After has passed; the request
 * comes back ahead of later ones of its priority; 429s are not tries. */
static void test_pause_and_requeue(void)
{
    static rec_t r;
    ASSERT_TRUE(make(&r, 700, 0.9, 4));
    crm_rl_submit(r.rl, TKT_PRIO_ENRICH, id(1));
    crm_rl_submit(r.rl, TKT_PRIO_ENRICH, id(2));
    crm_rl_submit(r.rl, TKT_PRIO_ENRICH, id(3));
    crm_rl_pump(r.rl);
    ASSERT_EQ_INT(r.n, 3);
    int64_t t0 = fake_now;
    ASSERT_EQ_INT(crm_rl_complete(r.rl, r.reqs[0], CRM_RL_PAUSE, 2000), CRM_RL_AGAIN);
    crm_rl_submit(r.rl, TKT_PRIO_ENRICH, id(4));
    crm_rl_submit(r.rl, TKT_PRIO_INTERACTIVE, id(5));
    ASSERT_EQ_INT(crm_rl_complete(r.rl, r.reqs[1], CRM_RL_DONE, -1), CRM_RL_FINISHED);
    crm_rl_pump(r.rl);
    ASSERT_EQ_INT(r.n, 3); /* paused: nothing, not even INTERACTIVE */
    ASSERT_EQ_INT(crm_rl_next_due(r.rl), t0 + 2000);
    crm_rl_stats_t st;
    crm_rl_stats(r.rl, &st);
    ASSERT_EQ_INT(st.paused_until, t0 + 2000);
    ASSERT_EQ_INT(st.queued[TKT_PRIO_ENRICH], 2);
    fake_now = t0 + 1999;
    crm_rl_pump(r.rl);
    ASSERT_EQ_INT(r.n, 3);
    /* #3, sent before the pause, answers: that says nothing about after it. */
    ASSERT_EQ_INT(crm_rl_complete(r.rl, r.reqs[2], CRM_RL_DONE, -1), CRM_RL_FINISHED);
    fake_now = t0 + 2000;
    crm_rl_pump(r.rl);
    ASSERT_EQ_INT(r.n, 4);      /* one probe, not everything at once */
    ASSERT_EQ_INT(r.ids[3], 5); /* INTERACTIVE first */
    crm_rl_stats(r.rl, &st);
    ASSERT_EQ_INT(st.probing, 1);
    ASSERT_EQ_INT(crm_rl_next_due(r.rl), -1); /* nothing until the probe answers */
    ASSERT_EQ_INT(crm_rl_complete(r.rl, r.reqs[3], CRM_RL_DONE, -1), CRM_RL_FINISHED);
    crm_rl_pump(r.rl);
    ASSERT_EQ_INT(r.n, 6);
    ASSERT_EQ_INT(r.ids[4], 1); /* the paused one, before #4 submitted after it */
    ASSERT_EQ_INT(r.attempts[4], 2);
    ASSERT_EQ_INT(r.ids[5], 4);
    crm_rl_complete(r.rl, r.reqs[5], CRM_RL_DONE, -1);
    /* Many 429s in a row never exhaust a request... */
    crm_rl_req_t *req = r.reqs[4];
    for (int i = 0; i < 20; i++) {
        ASSERT_EQ_INT(crm_rl_complete(r.rl, req, CRM_RL_PAUSE, 1000), CRM_RL_AGAIN);
        fake_now += 1000;
        size_t before = r.n;
        crm_rl_pump(r.rl);
        ASSERT_EQ_INT(r.n, before + 1);
        req = r.reqs[r.n - 1];
        ASSERT_EQ_INT(r.ids[r.n - 1], 1);
    }
    /* ... and a request-scoped wait holds that request only. */
    ASSERT_EQ_INT(crm_rl_complete(r.rl, req, CRM_RL_WAIT, 5000), CRM_RL_AGAIN);
    crm_rl_submit(r.rl, TKT_PRIO_ENRICH, id(6));
    size_t before = r.n;
    crm_rl_pump(r.rl);
    ASSERT_EQ_INT(r.n, before + 1);
    ASSERT_EQ_INT(r.ids[r.n - 1], 6);
    ASSERT_EQ_INT(crm_rl_next_due(r.rl), fake_now + 5000);
    fake_now += 5000;
    crm_rl_pump(r.rl);
    ASSERT_EQ_INT(r.ids[r.n - 1], 1);
    crm_rl_free(r.rl, NULL);
}

/* backoff(n) lies in [d/2, d], d = min(max, base * 2^(n-1)), and is random
 * within it; after max_tries failures the request is given up. */
static void test_backoff_bounds(void)
{
    static rec_t r;
    ASSERT_TRUE(make(&r, 700, 0.9, 4));
    for (int n = 1; n <= 12; n++) {
        int64_t d = 500;
        for (int i = 1; i < n; i++)
            d = d * 2 > 30000 ? 30000 : d * 2;
        int64_t lo = INT64_MAX, hi = 0;
        for (int s = 0; s < 2000; s++) {
            int64_t b = crm_rl_backoff_ms(r.rl, n);
            if (b < d / 2 || b > d) {
                fprintf(stderr, "backoff(%d) = %lld outside [%lld, %lld]\n", n, (long long)b,
                        (long long)d / 2, (long long)d);
                ASSERT_TRUE(0);
            }
            lo = b < lo ? b : lo;
            hi = b > hi ? b : hi;
        }
        ASSERT_TRUE(lo < d / 2 + d / 10); /* jitter spreads over the range */
        ASSERT_TRUE(hi > d - d / 10);
    }
    /* The retry path uses it, honours a longer Retry-After, and stops. */
    crm_rl_submit(r.rl, TKT_PRIO_CREATE, id(9));
    crm_rl_pump(r.rl);
    for (int failure = 1; failure <= 4; failure++) {
        int64_t t = fake_now;
        int64_t retry_after = failure == 3 ? 20000 : -1;
        ASSERT_EQ_INT(crm_rl_complete(r.rl, r.reqs[r.n - 1], CRM_RL_RETRY, retry_after),
                      CRM_RL_AGAIN);
        int64_t d = 500LL << (failure - 1);
        int64_t due = crm_rl_next_due(r.rl);
        if (failure == 3) {
            ASSERT_EQ_INT(due, t + 20000);
        } else {
            ASSERT_TRUE(due >= t + d / 2 && due <= t + d);
        }
        size_t before = r.n;
        fake_now = due - 1;
        crm_rl_pump(r.rl);
        ASSERT_EQ_INT(r.n, before);
        fake_now = due;
        crm_rl_pump(r.rl);
        ASSERT_EQ_INT(r.n, before + 1);
        ASSERT_EQ_INT(r.attempts[r.n - 1], failure + 1);
    }
    ASSERT_EQ_INT(crm_rl_complete(r.rl, r.reqs[r.n - 1], CRM_RL_RETRY, -1), CRM_RL_EXHAUSTED);
    crm_rl_stats_t st;
    crm_rl_stats(r.rl, &st);
    ASSERT_EQ_INT(st.gave_up_total, 1);
    ASSERT_EQ_INT(st.retried_total, 4);
    ASSERT_EQ_INT(crm_rl_next_due(r.rl), -1);
    crm_rl_free(r.rl, NULL);
}

/* Retries count against the budget like first attempts. */
static void test_retries_use_budget(void)
{
    static rec_t r;
    ASSERT_TRUE(make(&r, 3, 1.0, 8));
    crm_rl_submit(r.rl, TKT_PRIO_ENRICH, id(1));
    crm_rl_submit(r.rl, TKT_PRIO_ENRICH, id(2));
    crm_rl_pump(r.rl);
    ASSERT_EQ_INT(r.n, 2);
    crm_rl_complete(r.rl, r.reqs[0], CRM_RL_RETRY, -1);
    crm_rl_complete(r.rl, r.reqs[1], CRM_RL_RETRY, -1);
    fake_now += 1000;
    crm_rl_pump(r.rl);
    ASSERT_EQ_INT(r.n, 3); /* one slot left in the window */
    ASSERT_EQ_INT(crm_rl_next_due(r.rl), 1000000 + 60000);
    crm_rl_free(r.rl, rec_drop);
    ASSERT_EQ_INT(r.dropped, 1);
}

/* The server's X-Rate-Limit-Remaining (other clients share the account):
 * when what is out could use it up, nothing more goes until ratelimit-reset
 * has passed or a later answer says there is room. */
static void test_server_remaining(void)
{
    static rec_t r;
    ASSERT_TRUE(make(&r, 700, 0.9, 10));
    for (int i = 0; i < 24; i++)
        crm_rl_submit(r.rl, TKT_PRIO_ENRICH, id(i));
    crm_rl_pump(r.rl);
    ASSERT_EQ_INT(r.n, 10);
    int64_t t0 = fake_now;
    /* the answer to #0 says 3 left; 9 others are still out */
    crm_rl_observe(r.rl, 3, 2);
    crm_rl_complete(r.rl, r.reqs[0], CRM_RL_DONE, -1);
    crm_rl_pump(r.rl);
    ASSERT_EQ_INT(r.n, 10);
    ASSERT_EQ_INT(crm_rl_next_due(r.rl), t0 + 2000);
    for (size_t k = 1; k < 6; k++)
        crm_rl_complete(r.rl, r.reqs[k], CRM_RL_DONE, -1);
    crm_rl_pump(r.rl);
    ASSERT_EQ_INT(r.n, 10); /* answers without the header: still held */
    /* #6 answers: 6 left, 3 others out: 3 more may go (the cap would allow 7) */
    crm_rl_observe(r.rl, 6, 2);
    crm_rl_complete(r.rl, r.reqs[6], CRM_RL_DONE, -1);
    crm_rl_pump(r.rl);
    ASSERT_EQ_INT(r.n, 13);
    /* reset passed without news: back to our own budget (and the cap) */
    fake_now = t0 + 2000;
    for (size_t k = 7; k < 13; k++)
        crm_rl_complete(r.rl, r.reqs[k], CRM_RL_DONE, -1);
    crm_rl_pump(r.rl);
    ASSERT_EQ_INT(r.n, 23);
    /* an answer without the header changes nothing */
    crm_rl_observe(r.rl, -1, -1);
    crm_rl_complete(r.rl, r.reqs[13], CRM_RL_DONE, -1);
    crm_rl_pump(r.rl);
    ASSERT_EQ_INT(r.n, 24);
    crm_rl_free(r.rl, NULL);
}

/* On a real loop the limiter's own timer sends as budget frees. The
 * window is checked on the times the limiter decided on: the real clock,
 * read through cfg.clock, whose last reading before a send is the one it
 * stamped the send with. A time taken inside the send comes later by
 * however long the loop took to get there, and under load (the CI's
 * sanitizer run) that made a window of exactly 200 ms look like 199. */
typedef struct {
    crm_rl_t *rl;
    struct event_base *base;
    int64_t last_clock;
    int64_t at[32];   /* the limiter's time of each send */
    int64_t wall[32]; /* the real time each send happened */
    int n;
} loop_rec_t;

static int64_t loop_clock(void *ctx)
{
    loop_rec_t *lr = ctx;
    lr->last_clock = cmn_time_mono_ms();
    return lr->last_clock;
}

static void loop_send(void *owner, crm_rl_req_t *req, void *req_ctx, int attempt)
{
    loop_rec_t *lr = owner;
    lr->at[lr->n] = lr->last_clock;
    lr->wall[lr->n++] = cmn_time_mono_ms();
    crm_rl_complete(lr->rl, req, CRM_RL_DONE, -1);
    if (lr->n == 12)
        event_base_loopexit(lr->base, NULL);
}

static void test_loop_driven(void)
{
    static loop_rec_t lr;
    memset(&lr, 0, sizeof lr);
    lr.base = event_base_new();
    ASSERT_TRUE(lr.base);
    crm_rl_cfg_t cfg = {.limit_per_min = 5,
                        .safety = 1.0,
                        .window_ms = 200,
                        .send = loop_send,
                        .owner = &lr,
                        .clock = loop_clock,
                        .clock_ctx = &lr};
    lr.rl = crm_rl_new(lr.base, &cfg);
    ASSERT_TRUE(lr.rl);
    for (int i = 0; i < 12; i++)
        crm_rl_submit(lr.rl, TKT_PRIO_ENRICH, id(i));
    struct timeval guard = {5, 0};
    event_base_loopexit(lr.base, &guard);
    event_base_dispatch(lr.base);
    ASSERT_EQ_INT(lr.n, 12);
    for (int i = 5; i < 12; i++)
        ASSERT_TRUE(lr.at[i] - lr.at[i - 5] >= 200);
    /* the limiter's clock is the real one: the timer really waited two
     * windows for 12 sends at 5 a window, and no longer than it had to */
    ASSERT_TRUE(lr.at[11] - lr.at[0] >= 400);
    ASSERT_TRUE(lr.wall[11] - lr.wall[0] < 2000);
    crm_rl_free(lr.rl, NULL);
    event_base_free(lr.base);
}

TEST_MAIN("ratelimit", TEST_CASE(test_interactive_ttl_and_bound), TEST_CASE(test_priority_order),
          TEST_CASE(test_priority_when_budget_spent), TEST_CASE(test_budget_never_exceeded),
          TEST_CASE(test_pause_and_requeue), TEST_CASE(test_backoff_bounds),
          TEST_CASE(test_retries_use_budget), TEST_CASE(test_server_remaining),
          TEST_CASE(test_loop_driven))
