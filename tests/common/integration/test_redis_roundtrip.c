/* Integration: the async Redis client against the real local redis-server:
 * commands and replies in order, a pipelined burst, and reconnection after
 * the server drops the connection. */
#include "cmn_log.h"
#include "cmn_redis.h"
#include "cmn_time.h"
#include "it_env.h"
#include "test.h"

#include <string.h>

#define BURST 2000

static struct event_base *base;
static cmn_redis_t *redis;
static char key[96];

typedef struct {
    int replies, errors, in_order;
    long long last;
    char text[64];
} tally_t;

static void on_reply(void *ctx, redisReply *reply, const char *err)
{
    tally_t *t = ctx;
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
        t->errors++;
    } else if (reply->type == REDIS_REPLY_INTEGER) {
        t->in_order += reply->integer == t->last + 1;
        t->last = reply->integer;
    } else if (reply->type == REDIS_REPLY_STRING || reply->type == REDIS_REPLY_STATUS) {
        snprintf(t->text, sizeof t->text, "%.*s", (int)reply->len, reply->str);
    }
    t->replies++;
}

static int is_connected(void *ctx)
{
    return cmn_redis_connected(redis);
}

static int replies_at_least(tally_t *t, int n)
{
    for (int i = 0; i < 500 && t->replies < n; i++) {
        struct timeval slice = {0, 10000};
        event_base_loopexit(base, &slice);
        event_base_dispatch(base);
    }
    return t->replies >= n;
}

static void test_connect(void)
{
    char errstr[256];
    redis = cmn_redis_new(base, it_redis_url(), errstr, sizeof errstr);
    ASSERT_TRUE(redis != NULL);
    ASSERT_TRUE(it_run_until(base, is_connected, NULL, 5000));
    ASSERT_TRUE(cmn_redis_new(base, "http://nope", errstr, sizeof errstr) == NULL);
}

static void test_set_get(void)
{
    tally_t t = {0};
    it_unique(key, sizeof key, "it-redis");
    ASSERT_EQ_INT(cmn_redis_command(redis, on_reply, &t, "SET %s %s", key, "hello"), 0);
    ASSERT_EQ_INT(cmn_redis_command(redis, on_reply, &t, "GET %s", key), 0);
    ASSERT_TRUE(replies_at_least(&t, 2));
    ASSERT_EQ_INT(t.errors, 0);
    ASSERT_EQ_STR(t.text, "hello");
}

static void test_pipelined_burst_in_order(void)
{
    tally_t t = {0};
    char counter[128];
    snprintf(counter, sizeof counter, "%s:n", key);
    for (int i = 0; i < BURST; i++)
        ASSERT_EQ_INT(cmn_redis_command(redis, on_reply, &t, "INCR %s", counter), 0);
    ASSERT_TRUE(replies_at_least(&t, BURST));
    ASSERT_EQ_INT(t.errors, 0);
    ASSERT_EQ_INT(t.in_order, BURST); /* replies 1..BURST, each in turn */
}

/* A service busy with its own work (10,000 pop streams opening at once,
 * issue 26 item 2) reads replies Redis sent long ago: that is no hung
 * server. Replies of 64 KB each, each taking the service 30 ms to handle,
 * with a 300 ms deadline: Redis keeps answering, so every command gets its
 * reply (before: the oldest unread reply passed the deadline, the
 * connection was dropped and the rest failed "no reply within 300 ms"). */
static void spin_ms(int ms)
{
    int64_t until = cmn_time_mono_ms() + ms;
    while (cmn_time_mono_ms() < until)
        ;
}

static void on_slow_reply(void *ctx, redisReply *reply, const char *err)
{
    on_reply(ctx, reply, err);
    spin_ms(30);
}

static int this_connected(void *ctx)
{
    return cmn_redis_connected(ctx);
}

static void test_busy_service_is_not_a_hung_server(void)
{
    enum { GETS = 40, VALUE = 65536 };
    char errstr[256], big[128];
    static char value[VALUE + 1];
    memset(value, 'v', VALUE);
    snprintf(big, sizeof big, "%s:big", key);
    cmn_redis_opts_t opts = {.url = it_redis_url(), .timeout_ms = 300};
    cmn_redis_t *r = cmn_redis_new_opts(base, &opts, errstr, sizeof errstr);
    ASSERT_TRUE(r != NULL);
    tally_t set = {0}, t = {0};
    int up = it_run_until(base, this_connected, r, 5000) &&
             cmn_redis_command(r, on_reply, &set, "SET %s %s", big, value) == 0 &&
             cmn_redis_command(r, on_reply, &set, "EXPIRE %s 60", big) == 0;
    for (int i = 0; up && i < 500 && set.replies < 2; i++) {
        struct timeval slice = {0, 10000};
        event_base_loopexit(base, &slice);
        event_base_dispatch(base);
    }
    for (int i = 0; i < GETS; i++)
        up = up && cmn_redis_command(r, on_slow_reply, &t, "GET %s", big) == 0;
    for (int i = 0; up && i < 1000 && t.replies < GETS; i++) {
        struct timeval slice = {0, 10000};
        event_base_loopexit(base, &slice);
        event_base_dispatch(base);
    }
    cmn_redis_free(r);
    ASSERT_TRUE(up);
    ASSERT_EQ_INT(set.errors, 0);
    ASSERT_EQ_INT(t.replies, GETS);
    ASSERT_EQ_INT(t.errors, 0);
    ASSERT_EQ_INT(strlen(t.text), 63); /* the value, as far as tally_t keeps it */
}

static void test_reconnects_after_kill(void)
{
    tally_t t = {0};
    /* The server closes our connection; the client must come back by itself. */
    ASSERT_EQ_INT(cmn_redis_command(redis, on_reply, &t, "CLIENT KILL TYPE normal SKIPME no"), 0);
    ASSERT_TRUE(replies_at_least(&t, 1));
    int down_seen = 0;
    for (int i = 0; i < 100 && !down_seen; i++) {
        down_seen = !cmn_redis_connected(redis);
        struct timeval slice = {0, 5000};
        event_base_loopexit(base, &slice);
        event_base_dispatch(base);
    }
    ASSERT_TRUE(it_run_until(base, is_connected, NULL, 5000));
    tally_t after = {0};
    ASSERT_EQ_INT(cmn_redis_command(redis, on_reply, &after, "GET %s", key), 0);
    ASSERT_TRUE(replies_at_least(&after, 1));
    ASSERT_EQ_STR(after.text, "hello");
}

static void test_cleanup(void)
{
    tally_t t = {0};
    ASSERT_EQ_INT(cmn_redis_command(redis, on_reply, &t, "DEL %s %s:n", key, key), 0);
    ASSERT_TRUE(replies_at_least(&t, 1));
    cmn_redis_free(redis);
    redis = NULL;
}

int main(void)
{
    cmn_log_init("test", CMN_LOG_WARN);
    base = event_base_new();
    static const test_case_t cases[] = {TEST_CASE(test_connect),
                                        TEST_CASE(test_set_get),
                                        TEST_CASE(test_pipelined_burst_in_order),
                                        TEST_CASE(test_busy_service_is_not_a_hung_server),
                                        TEST_CASE(test_reconnects_after_kill),
                                        TEST_CASE(test_cleanup)};
    int rc = test_run_all("redis_roundtrip", cases, sizeof cases / sizeof cases[0]);
    cmn_redis_free(redis);
    event_base_free(base);
    return rc;
}
