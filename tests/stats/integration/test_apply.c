/* Integration (issue 25 item 3, exactly once): the stats service's atomic
 * apply against the real local Redis. A plan's cells, its state and its
 * partition's offset land together; the same offset again (a replay, a
 * second replica) or an older one adds nothing; a republished event id
 * moves the offset and adds nothing; partitions are guarded apart; many
 * applies of one offset sent at once count once; the day hash expires at
 * the day's end + retention (contract); states read back as written; a
 * correction's negative delta takes a cell back, once (issue 27). */
#include "cmn_log.h"
#include "cmn_redis.h"
#include "cmn_time.h"
#include "it_env.h"
#include "sta_store.h"
#include "test.h"

#include <string.h>

static struct event_base *base;
static cmn_redis_t *redis;
static sta_store_t *store;
static char prefix[96];
static const sta_store_opts_t opts = {.retention_days = 3, .seen_ttl_s = 3600, .call_ttl_s = 600};

typedef struct {
    int n, want, results[32];
    int64_t stored[32];
} applied_t;

static void on_applied(void *ctx, sta_apply_result_t r, int64_t stored)
{
    applied_t *a = ctx;
    a->stored[a->n] = stored;
    a->results[a->n++] = (int)r;
}

static int64_t last_stored;

static int all_in(void *ctx)
{
    applied_t *a = ctx;
    return a->n == a->want;
}

/* Applies and waits for the one result. */
static int apply(const char *topic, int32_t part, int64_t off, const sta_plan_t *p)
{
    applied_t a = {0};
    a.want = 1;
    if (sta_store_apply(store, topic, part, off, p, on_applied, &a) < 0)
        return -9;
    if (!it_run_until(base, all_in, &a, 5000))
        return -8;
    last_stored = a.stored[0];
    return a.results[0];
}

typedef struct {
    int done;
    long long integer;
    char text[256];
} reply_t;

static void on_reply(void *ctx, redisReply *r, const char *err)
{
    reply_t *x = ctx;
    (void)err;
    if (r && r->type == REDIS_REPLY_INTEGER)
        x->integer = r->integer;
    if (r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS))
        snprintf(x->text, sizeof x->text, "%.*s", (int)r->len, r->str);
    if (r && r->type == REDIS_REPLY_NIL)
        snprintf(x->text, sizeof x->text, "(nil)");
    x->done = 1;
}

static int reply_done(void *ctx)
{
    return ((reply_t *)ctx)->done;
}

/* One command, its integer or text reply. */
static reply_t cmd(int argc, const char **argv)
{
    reply_t x = {0};
    if (cmn_redis_command_argv(redis, on_reply, &x, argc, argv, NULL) == 0)
        it_run_until(base, reply_done, &x, 5000);
    return x;
}

static char day_key[160];

static long long cell(const char *field)
{
    const char *argv[] = {"HGET", day_key, field};
    reply_t x = cmd(3, argv);
    return strcmp(x.text, "(nil)") == 0 ? 0 : atoll(x.text);
}

static sta_plan_t plan;

static void make_plan(const char *dedup)
{
    memset(&plan, 0, sizeof plan);
    sta_day_of(cmn_time_now_ms(), plan.day, &plan.day_start_s);
    snprintf(plan.dedup_id, sizeof plan.dedup_id, "%s", dedup);
    plan.n_cells = 2;
    plan.cells[0] = (sta_cell_t){
        .figure = "calls", .kind = "inbound", .queue = "billing", .agent = "900001", .delta = 1};
    plan.cells[1] = (sta_cell_t){.figure = "close_s_sum",
                                 .kind = "inbound",
                                 .queue = "billing",
                                 .agent = "900001",
                                 .delta = 5400};
    plan.write_call = 1;
    snprintf(plan.call_id, sizeof plan.call_id, "call-1");
    plan.call = (sta_call_t){.known = 1,
                             .queue = "billing",
                             .agent = "900001",
                             .answered = 1,
                             .ended = 1,
                             .kind = "inbound",
                             .ended_ms = 1796116209000LL};
    plan.close_s = -1;
    snprintf(day_key, sizeof day_key, "%sstats:d:%s", prefix, plan.day);
}

#define CALLS                                                                                      \
    "calls\x1finbound\x1f"                                                                         \
    "billing\x1f"                                                                                  \
    "900001"
#define CLOSE                                                                                      \
    "close_s_sum\x1finbound\x1f"                                                                   \
    "billing\x1f"                                                                                  \
    "900001"

static int connected(void *ctx)
{
    (void)ctx;
    return cmn_redis_connected(redis);
}

static void test_connect(void)
{
    char errstr[256];
    it_unique(prefix, sizeof prefix - 1, "it-stats");
    strcat(prefix, ":");
    redis = cmn_redis_new(base, it_redis_url(), errstr, sizeof errstr);
    ASSERT_TRUE(redis != NULL);
    ASSERT_TRUE(it_run_until(base, connected, NULL, 5000));
    store = sta_store_new(redis, prefix, &opts);
    ASSERT_TRUE(store != NULL);
}

static void test_applied_once_per_offset(void)
{
    make_plan("ev-1");
    ASSERT_EQ_INT(apply("call-events", 0, 5, &plan), STA_APPLY_APPLIED);
    ASSERT_EQ_INT(cell(CALLS), 1);
    ASSERT_EQ_INT(cell(CLOSE), 5400);
    /* the same message again (rebalance, crash before commit) and an older one */
    ASSERT_EQ_INT(apply("call-events", 0, 5, &plan), STA_APPLY_REPLAYED);
    ASSERT_EQ_INT(last_stored, 5);
    make_plan("ev-0");
    ASSERT_EQ_INT(apply("call-events", 0, 4, &plan), STA_APPLY_REPLAYED);
    ASSERT_EQ_INT(last_stored, 5); /* what a replay may skip up to */
    ASSERT_EQ_INT(cell(CALLS), 1);
    /* another partition (and topic) has its own offset */
    make_plan("ev-2");
    ASSERT_EQ_INT(apply("call-events", 1, 0, &plan), STA_APPLY_APPLIED);
    make_plan("ev-3");
    ASSERT_EQ_INT(apply("screen-pops", 0, 5, &plan), STA_APPLY_APPLIED);
    ASSERT_EQ_INT(cell(CALLS), 3);
    char okey[160];
    snprintf(okey, sizeof okey, "%sstats:o:call-events", prefix);
    const char *argv[] = {"HGET", okey, "0"};
    ASSERT_EQ_STR(cmd(3, argv).text, "5");
}

/* A record republished with the same event id (a pop replayed by
 * pop-service) at a later offset: the offset moves, nothing is added. */
static void test_republished_id_counts_once(void)
{
    make_plan("ev-1");
    ASSERT_EQ_INT(apply("call-events", 0, 9, &plan), STA_APPLY_DUPLICATE);
    ASSERT_EQ_INT(last_stored, 9);
    ASSERT_EQ_INT(cell(CALLS), 3);
    char okey[160];
    snprintf(okey, sizeof okey, "%sstats:o:call-events", prefix);
    const char *argv[] = {"HGET", okey, "0"};
    ASSERT_EQ_STR(cmd(3, argv).text, "9");
}

/* Two replicas briefly holding one partition: many applies of the same
 * offset in flight at once, exactly one applied. */
static void test_concurrent_applies_count_once(void)
{
    applied_t a = {0};
    a.want = 20;
    make_plan("ev-race");
    for (int i = 0; i < 20; i++)
        ASSERT_EQ_INT(sta_store_apply(store, "call-events", 2, 7, &plan, on_applied, &a), 0);
    ASSERT_TRUE(it_run_until(base, all_in, &a, 5000));
    int applied = 0;
    for (int i = 0; i < 20; i++)
        applied += a.results[i] == STA_APPLY_APPLIED;
    ASSERT_EQ_INT(applied, 1);
    ASSERT_EQ_INT(cell(CALLS), 4);
}

/* Contract: EXPIRE on the day hash at the day's end + retention. */
static void test_day_expires_after_retention(void)
{
    const char *argv[] = {"EXPIRETIME", day_key};
    reply_t x = cmd(2, argv);
    ASSERT_EQ_INT(x.integer, plan.day_start_s + 86400 + opts.retention_days * 86400);
    char seen[256];
    snprintf(seen, sizeof seen, "%sstats:s:call-events:ev-race", prefix);
    const char *ttl[] = {"TTL", seen};
    x = cmd(2, ttl);
    ASSERT_TRUE(x.integer > 3500 && x.integer <= 3600);
}

typedef struct {
    int done, ok;
    sta_call_t call;
    sta_ticket_t ticket;
} read_t;

static void on_read(void *ctx, int ok, const sta_call_t *c, const sta_ticket_t *t)
{
    read_t *r = ctx;
    r->done = 1;
    r->ok = ok;
    if (ok) {
        r->call = *c;
        r->ticket = *t;
    }
}

static int read_done(void *ctx)
{
    return ((read_t *)ctx)->done;
}

static void test_state_reads_back(void)
{
    read_t r = {0};
    ASSERT_EQ_INT(sta_store_read(store, "call-1", "nope", on_read, &r), 0);
    ASSERT_TRUE(it_run_until(base, read_done, &r, 5000));
    ASSERT_EQ_INT(r.ok, 1);
    ASSERT_EQ_INT(r.call.known, 1);
    ASSERT_EQ_STR(r.call.queue, "billing");
    ASSERT_EQ_STR(r.call.agent, "900001");
    ASSERT_EQ_STR(r.call.kind, "inbound");
    ASSERT_EQ_INT(r.call.answered, 1);
    ASSERT_EQ_INT(r.call.ended, 1);
    ASSERT_EQ_INT(r.call.outbound, 0);
    ASSERT_EQ_INT(r.call.ended_ms, 1796116209000LL); /* the end's day, issue 27 */
    ASSERT_EQ_INT(r.ticket.known, 0);
}

/* Issue 27: a late answer's correction takes a call's cell back (a
 * negative HINCRBY) under the same offset guard: a replay of it takes
 * nothing more. */
static void test_correction_takes_a_cell_back(void)
{
    make_plan("");
    plan.correction = 1;
    plan.cells[0].delta = -1;
    plan.cells[1] = (sta_cell_t){
        .figure = "answered", .kind = "inbound", .queue = "billing", .agent = "900001", .delta = 1};
    long long before = cell(CALLS);
    ASSERT_EQ_INT(apply("call-events", 3, 11, &plan), STA_APPLY_APPLIED);
    ASSERT_EQ_INT(cell(CALLS), before - 1);
    ASSERT_EQ_INT(cell("answered\x1finbound\x1f"
                       "billing\x1f"
                       "900001"),
                  1);
    ASSERT_EQ_INT(apply("call-events", 3, 11, &plan), STA_APPLY_REPLAYED);
    ASSERT_EQ_INT(cell(CALLS), before - 1);
    /* a cell back at 0 leaves the day hash (no row of zeros) */
    plan.n_cells = 1;
    plan.cells[0].delta = -(before - 1);
    ASSERT_EQ_INT(apply("call-events", 3, 12, &plan), STA_APPLY_APPLIED);
    const char *argv[] = {"HEXISTS", day_key, CALLS};
    ASSERT_EQ_INT(cmd(3, argv).integer, 0);
}

/* A ticket event and a CRM event of one ticket are on two topics: two
 * replicas may apply them at once, each from a read before the other's
 * write. Each writes its own fields, so neither is lost: the creation
 * stays counted (a later ticket event would count it again otherwise). */
static void test_ticket_sources_keep_their_fields(void)
{
    sta_plan_t created, status;
    memset(&created, 0, sizeof created);
    sta_day_of(cmn_time_now_ms(), created.day, &created.day_start_s);
    created.close_s = -1;
    status = created;
    snprintf(created.ticket_id, sizeof created.ticket_id, "t-race");
    snprintf(status.ticket_id, sizeof status.ticket_id, "t-race");
    created.write_ticket = STA_TICKET_CREATION;
    created.ticket = (sta_ticket_t){.known = 1,
                                    .counted = 1,
                                    .kind = "inbound",
                                    .queue = "billing",
                                    .agent = "900001",
                                    .created_ms = 1000};
    status.write_ticket = STA_TICKET_STATUS; /* decided from a read without the creation */
    status.ticket = (sta_ticket_t){
        .known = 1, .status = "solved", .done = 1, .agent = "900002", .created_ms = 1000};
    ASSERT_EQ_INT(apply("ticket-events", 0, 1, &created), STA_APPLY_APPLIED);
    ASSERT_EQ_INT(apply("crm-events", 0, 1, &status), STA_APPLY_APPLIED);
    read_t r = {0};
    ASSERT_EQ_INT(sta_store_read(store, "", "t-race", on_read, &r), 0);
    ASSERT_TRUE(it_run_until(base, read_done, &r, 5000));
    ASSERT_EQ_INT(r.ticket.counted, 1);
    ASSERT_EQ_STR(r.ticket.kind, "inbound");
    ASSERT_EQ_STR(r.ticket.queue, "billing");
    ASSERT_EQ_STR(r.ticket.status, "solved");
    ASSERT_EQ_INT(r.ticket.done, 1);
    ASSERT_EQ_STR(r.ticket.agent, "900002");
}

static void test_cleanup(void)
{
    char pattern[128];
    snprintf(pattern, sizeof pattern, "%s*", prefix);
    const char *script[] = {"EVAL",
                            "for _, k in ipairs(redis.call('KEYS', ARGV[1])) do "
                            "redis.call('DEL', k) end return 1",
                            "0", pattern};
    ASSERT_EQ_INT(cmd(4, script).integer, 1);
    cmn_redis_close(redis);
    /* not connected: refused at once, no callback */
    ASSERT_EQ_INT(sta_store_apply(store, "call-events", 0, 99, &plan, on_applied, NULL), -1);
    sta_store_free(store);
    cmn_redis_free(redis);
}

int main(void)
{
    cmn_log_init("test", CMN_LOG_WARN);
    base = event_base_new();
    static const test_case_t cases[] = {TEST_CASE(test_connect),
                                        TEST_CASE(test_applied_once_per_offset),
                                        TEST_CASE(test_republished_id_counts_once),
                                        TEST_CASE(test_concurrent_applies_count_once),
                                        TEST_CASE(test_day_expires_after_retention),
                                        TEST_CASE(test_state_reads_back),
                                        TEST_CASE(test_correction_takes_a_cell_back),
                                        TEST_CASE(test_ticket_sources_keep_their_fields),
                                        TEST_CASE(test_cleanup)};
    int rc = test_run_all("stats_apply", cases, sizeof cases / sizeof cases[0]);
    event_base_free(base);
    return rc;
}
