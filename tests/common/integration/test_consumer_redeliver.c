/* Integration, real broker: a message the consumer could not track, or
 * the service did not process, is delivered again and its offset is held
 * (issue 7 item 7; ARCHITECTURE "offsets follow effects": nothing accepted
 * is lost).
 *  - out of memory: the consumer's bookkeeping allocation fails (this
 *    binary replaces the cmn_consumer_alloc seam); the message must come
 *    back and the committed offset must not pass it before it did;
 *  - cmn_consumer_retry: the service gives a message back; it is
 *    delivered again and the committed offset stops at it while its
 *    second delivery is still undone. */
#include "cmn_consumer.h"
#include "cmn_log.h"
#include "it_kafka.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

#define N_MSGS 10

static struct event_base *base;
static char topic[96];

/* ---- allocation failures ------------------------------------------------ */

static int alloc_fail_left; /* the next this many allocations fail */
static int alloc_failed;

void *cmn_consumer_alloc(size_t size)
{
    if (alloc_fail_left > 0) {
        alloc_fail_left--;
        alloc_failed++;
        return NULL;
    }
    return malloc(size);
}

/* ---- one consumer --------------------------------------------------------- */

typedef struct {
    cmn_consumer_t *c;
    int deliveries[N_MSGS];
    int retry_offset; /* retried on its first delivery, held on its second; -1: none */
    cmn_msg_pos_t held;
} run_t;

static void on_message(void *ctx, const cmn_msg_pos_t *pos, const rd_kafka_message_t *m)
{
    run_t *r = ctx;
    int n = pos->offset < N_MSGS ? ++r->deliveries[pos->offset] : 0;
    if (pos->offset == r->retry_offset && n == 1)
        cmn_consumer_retry(r->c, pos); /* "not processed" */
    else if (pos->offset == r->retry_offset)
        r->held = *pos; /* second delivery: its work is "in progress" */
    else
        cmn_consumer_done(r->c, pos);
}

static int start(run_t *r, const char *group, int retry_offset)
{
    char errstr[512];
    const char *subs[] = {topic};
    cmn_consumer_close(r->c); /* one a failed case left behind */
    memset(r, 0, sizeof *r);
    r->retry_offset = retry_offset;
    cmn_consumer_opts_t opts = {.brokers = it_brokers(),
                                .group_id = group,
                                .topics = subs,
                                .n_topics = 1,
                                .on_message = on_message,
                                .ctx = r,
                                .session_timeout_ms = 6000};
    if (!(r->c = cmn_consumer_new(base, &opts, errstr, sizeof errstr))) {
        fprintf(stderr, "consumer: %s\n", errstr);
        return -1;
    }
    return 0;
}

static int every_offset_seen(void *ctx)
{
    const run_t *r = ctx;
    for (int i = 0; i < N_MSGS; i++)
        if (!r->deliveries[i])
            return 0;
    return 1;
}

static int all_seen_one_held(void *ctx)
{
    const run_t *r = ctx;
    return every_offset_seen(ctx) && r->deliveries[r->retry_offset] == 2 &&
           cmn_consumer_in_flight(r->c) == 1;
}

static run_t run;

static void test_oom_message_fetched_again(void)
{
    char group[96];
    it_unique(group, sizeof group, "it-oom");
    ASSERT_EQ_INT(start(&run, group, -1), 0);
    /* The partition's bookkeeping (at assignment, then at its first
     * message) cannot be allocated. */
    alloc_fail_left = 2;
    ASSERT_TRUE(it_run_until(base, every_offset_seen, &run, 30000));
    ASSERT_EQ_INT(alloc_failed, 2);
    ASSERT_EQ_INT(cmn_consumer_in_flight(run.c), 0);
    cmn_consumer_close(run.c);
    run.c = NULL;
    ASSERT_EQ_INT(it_committed(group, topic), N_MSGS);
}

static void test_retry_redelivers_and_holds_offset(void)
{
    char group[96];
    it_unique(group, sizeof group, "it-retry");
    ASSERT_EQ_INT(start(&run, group, 3), 0);
    ASSERT_TRUE(it_run_until(base, all_seen_one_held, &run, 30000));
    for (int i = 0; i < N_MSGS; i++)
        ASSERT_TRUE(run.deliveries[i] >= 1 && run.deliveries[i] <= 2);
    cmn_consumer_close(run.c); /* commits what is stored */
    run.c = NULL;
    ASSERT_EQ_INT(it_committed(group, topic), 3); /* not past the undone redelivery */
}

static void test_setup(void)
{
    const char *subs[] = {topic};
    ASSERT_EQ_INT(it_topic_new(topic, sizeof topic, "it-redeliver", 1), 0);
    ASSERT_EQ_INT(it_produce(base, subs, 1, 0, N_MSGS), 0);
}

int main(void)
{
    cmn_log_init("test", CMN_LOG_WARN);
    base = event_base_new();
    static const test_case_t cases[] = {TEST_CASE(test_setup),
                                        TEST_CASE(test_oom_message_fetched_again),
                                        TEST_CASE(test_retry_redelivers_and_holds_offset)};
    int rc = test_run_all("consumer_redeliver", cases, sizeof cases / sizeof cases[0]);
    if (run.c)
        cmn_consumer_close(run.c);
    event_base_free(base);
    return rc;
}
