/* Integration, real broker: a partition moving between two members of one
 * group (issue 7 item 4; ARCHITECTURE "offsets follow effects", "replays
 * are harmless").
 *
 * Two one-partition topics, so that with cooperative-sticky assignment B's
 * arrival moves exactly one of them from A to B. A holds every message
 * undone ("work in progress") when B joins:
 *  - revoke waits for the work: A finishes its work after its revocation
 *    was announced; B must start on the moved partition after everything A
 *    finished (nothing replayed), and A's done() calls on a partition that
 *    is leaving must be safe (the held position's topic name stays alive);
 *  - revoke after giving up: A's on_revoke gives up (cmn_consumer_retry)
 *    the work it has not started on the leaving partition; the revocation
 *    completes without waiting for its deadline, B replays exactly those
 *    messages, and A's later done() for them is a no-op;
 *  - co-partitioned (`range`, eager: every partition is revoked at each
 *    rebalance; issue 19 item 3): the revocation still waits for A's work,
 *    partition p of both two-partition topics ends on one member, nothing
 *    A finished is replayed; topics of different partition counts are
 *    refused at start. */
#include "cmn_consumer.h"
#include "cmn_log.h"
#include "it_kafka.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

#define N_MSGS 10

static struct event_base *base;

typedef struct member {
    cmn_consumer_t *c;
    const char *name;
    int hold;     /* keep messages undone (in held[]) instead of done at once */
    int received; /* messages handed to this member */
    char first_topic[96];
    int64_t first_offset; /* of the first message handed out, -1 before */
    cmn_msg_pos_t held[4 * N_MSGS];
    int n_held;
    int saw_marker[2]; /* the message N_MSGS of topic 0 / 1 */
    int revokes;       /* on_revoke calls */
    int gave_up;       /* held messages given up in on_revoke */
} member_t;

static char topics[2][96];
static char co_topics[2][96]; /* two partitions each */
static int co_partitioned;    /* join with co_partitioned, on co_topics */

static int topic_index(const char *name)
{
    return strcmp(name, topics[0]) == 0 || strcmp(name, co_topics[0]) == 0 ? 0 : 1;
}

static void on_message(void *ctx, const cmn_msg_pos_t *pos, const rd_kafka_message_t *m)
{
    member_t *mb = ctx;
    if (mb->first_offset < 0) {
        mb->first_offset = pos->offset;
        snprintf(mb->first_topic, sizeof mb->first_topic, "%s", pos->topic);
    }
    mb->received++;
    if (pos->offset == N_MSGS)
        mb->saw_marker[topic_index(pos->topic)] = 1;
    if (mb->hold && mb->n_held < (int)(sizeof mb->held / sizeof mb->held[0]))
        mb->held[mb->n_held++] = *pos;
    else
        cmn_consumer_done(mb->c, pos);
}

/* The service's side of a revocation: nothing of the leaving partition
 * has started, so all of it is given back. */
static void on_revoke(void *ctx, int lost)
{
    member_t *mb = ctx;
    mb->revokes++;
    for (int i = 0; i < mb->n_held; i++)
        if (cmn_consumer_revoking(mb->c, &mb->held[i])) {
            cmn_consumer_retry(mb->c, &mb->held[i]);
            mb->gave_up++;
        }
}

static char co_topics[2][96]; /* two partitions each */
static int co_partitioned;    /* join with co_partitioned, on co_topics */

static int join(member_t *mb, const char *name, const char *group, int hold, int revoke_timeout_ms)
{
    char errstr[512];
    const char *subs[] = {co_partitioned ? co_topics[0] : topics[0],
                          co_partitioned ? co_topics[1] : topics[1]};
    memset(mb, 0, sizeof *mb);
    mb->name = name;
    mb->hold = hold;
    mb->first_offset = -1;
    cmn_consumer_opts_t opts = {.brokers = it_brokers(),
                                .group_id = group,
                                .topics = subs,
                                .n_topics = 2,
                                .on_message = on_message,
                                .ctx = mb,
                                .on_revoke = revoke_timeout_ms ? on_revoke : NULL,
                                .revoke_timeout_ms = revoke_timeout_ms,
                                .co_partitioned = co_partitioned,
                                .session_timeout_ms = 6000};
    if (!(mb->c = cmn_consumer_new(base, &opts, errstr, sizeof errstr))) {
        fprintf(stderr, "consumer %s: %s\n", name, errstr);
        return -1;
    }
    return 0;
}

static void leave(member_t *mb)
{
    cmn_consumer_close(mb->c);
    mb->c = NULL;
}

static int holds_everything(void *ctx)
{
    return ((member_t *)ctx)->n_held == 2 * N_MSGS;
}

static int revocation_announced(void *ctx)
{
    return cmn_consumer_assigned(((member_t *)ctx)->c) == 1;
}

static int assigned_one(void *ctx)
{
    return cmn_consumer_assigned(((member_t *)ctx)->c) == 1;
}

static int never(void *ctx)
{
    return 0;
}

static member_t a, b;

static int both_markers(void *ctx)
{
    return (a.saw_marker[0] || b.saw_marker[0]) && (a.saw_marker[1] || b.saw_marker[1]);
}

static void complete_held(member_t *mb)
{
    for (int i = 0; i < mb->n_held; i++)
        cmn_consumer_done(mb->c, &mb->held[i]);
    mb->n_held = 0;
}

static void test_revoke_waits_for_work(void)
{
    char group[96];
    const char *subs[] = {topics[0], topics[1]};
    it_unique(group, sizeof group, "it-rebalance");
    ASSERT_EQ_INT(it_produce(base, subs, 2, 0, N_MSGS), 0);

    ASSERT_EQ_INT(join(&a, "A", group, 1, 0), 0);
    ASSERT_TRUE(it_run_until(base, holds_everything, &a, 60000));
    ASSERT_EQ_INT(cmn_consumer_in_flight(a.c), 2 * N_MSGS);

    ASSERT_EQ_INT(join(&b, "B", group, 0, 0), 0);
    /* A learns that one partition goes; its work on it is still running. */
    ASSERT_TRUE(it_run_until(base, revocation_announced, &a, 60000));
    it_run_until(base, never, NULL, 500); /* the work takes a while */
    complete_held(&a);                    /* done() on the leaving partition: must be safe */
    ASSERT_TRUE(it_run_until(base, assigned_one, &b, 60000));

    /* One new message on each topic: B must see only the moved one's. */
    a.hold = 0;
    ASSERT_EQ_INT(it_produce(base, subs, 2, N_MSGS, 1), 0);
    ASSERT_TRUE(it_run_until(base, both_markers, NULL, 60000));
    printf("B started on %s at offset %lld after %d message(s); A got %d\n", b.first_topic,
           (long long)b.first_offset, b.received, a.received);
    ASSERT_EQ_INT(b.first_offset, N_MSGS); /* nothing A finished was replayed */
    ASSERT_EQ_INT(b.received, 1);
    ASSERT_EQ_INT(a.received, 2 * N_MSGS + 1);
    ASSERT_EQ_INT(it_committed(group, b.first_topic) >= N_MSGS, 1);
    leave(&a);
    leave(&b);
}

static int b_received_moved(void *ctx)
{
    return b.received == N_MSGS + 1;
}

static int holds_everything_again(void *ctx)
{
    return a.n_held == 2 * (N_MSGS + 1);
}

static void test_revoke_after_giving_up(void)
{
    char group[96];
    it_unique(group, sizeof group, "it-giveup");
    /* A deadline longer than any wait below: only giving up can end it. */
    ASSERT_EQ_INT(join(&a, "A", group, 1, 600000), 0);
    ASSERT_TRUE(it_run_until(base, holds_everything_again, NULL, 60000));
    ASSERT_EQ_INT(join(&b, "B", group, 0, 0), 0);
    ASSERT_TRUE(it_run_until(base, assigned_one, &b, 60000));
    ASSERT_EQ_INT(a.revokes, 1);
    ASSERT_EQ_INT(a.gave_up, N_MSGS + 1); /* every message of the moved topic */
    ASSERT_EQ_INT(cmn_consumer_in_flight(a.c), N_MSGS + 1);
    complete_held(&a); /* given up and revoked: a no-op for those */
    ASSERT_EQ_INT(cmn_consumer_in_flight(a.c), 0);
    ASSERT_TRUE(it_run_until(base, b_received_moved, NULL, 60000));
    ASSERT_EQ_INT(b.first_offset, 0); /* the next owner replays what A gave up */
    ASSERT_EQ_INT(a.received, 2 * (N_MSGS + 1));
    leave(&a);
    leave(&b);
}

static int revoked_all(void *ctx)
{
    return cmn_consumer_assigned(((member_t *)ctx)->c) == 0;
}

static int both_assigned_two(void *ctx)
{
    return cmn_consumer_assigned(a.c) == 2 && cmn_consumer_assigned(b.c) == 2;
}

/* Eager rebalance: A's whole assignment is revoked when B joins, and the
 * group waits for A's work on it as the cooperative protocol does. */
static void test_co_partitioned_revoke_waits_and_keeps_p_together(void)
{
    char group[96];
    const char *subs[] = {co_topics[0], co_topics[1]};
    it_unique(group, sizeof group, "it-copart");
    co_partitioned = 1;
    /* One key: the same partition p of both topics (same count, same hash). */
    ASSERT_EQ_INT(it_produce(base, subs, 2, 0, N_MSGS), 0);
    ASSERT_EQ_INT(join(&a, "A", group, 1, 0), 0);
    ASSERT_TRUE(it_run_until(base, holds_everything, &a, 60000));
    ASSERT_EQ_INT(join(&b, "B", group, 0, 0), 0);
    ASSERT_TRUE(it_run_until(base, revoked_all, &a, 60000));
    it_run_until(base, never, NULL, 1000); /* the work takes a while: the group waits */
    ASSERT_EQ_INT(cmn_consumer_assigned(b.c), 0);
    ASSERT_EQ_INT(b.received, 0);
    complete_held(&a);
    ASSERT_TRUE(it_run_until(base, both_assigned_two, NULL, 60000));

    a.hold = 0;
    ASSERT_EQ_INT(it_produce(base, subs, 2, N_MSGS, 1), 0);
    ASSERT_TRUE(it_run_until(base, both_markers, NULL, 60000));
    printf("after the rebalance A got %d, B got %d message(s)\n", a.received - 2 * N_MSGS,
           b.received);
    /* Partition p of both topics on one member: it saw both new messages. */
    ASSERT_TRUE((a.saw_marker[0] && a.saw_marker[1]) || (b.saw_marker[0] && b.saw_marker[1]));
    ASSERT_EQ_INT(a.received + b.received, 2 * N_MSGS + 2); /* nothing replayed */
    leave(&a);
    leave(&b);
    co_partitioned = 0;
}

/* Co-partitioned topics with different partition counts: refused at start. */
static void test_co_partitioned_refuses_unequal_counts(void)
{
    char errstr[512];
    const char *subs[] = {topics[0], co_topics[0]}; /* 1 and 2 partitions */
    cmn_consumer_opts_t opts = {.brokers = it_brokers(),
                                .group_id = "it-copart-unequal",
                                .topics = subs,
                                .n_topics = 2,
                                .on_message = on_message,
                                .ctx = &a,
                                .co_partitioned = 1};
    errstr[0] = '\0';
    cmn_consumer_t *c = cmn_consumer_new(base, &opts, errstr, sizeof errstr);
    ASSERT_TRUE(c == NULL);
    printf("refused: %s\n", errstr);
    ASSERT_TRUE(strstr(errstr, "partitions") != NULL);
}

static void test_setup(void)
{
    ASSERT_EQ_INT(it_topic_new(topics[0], sizeof topics[0], "it-rebal-x", 1), 0);
    ASSERT_EQ_INT(it_topic_new(topics[1], sizeof topics[1], "it-rebal-y", 1), 0);
    ASSERT_EQ_INT(it_topic_new(co_topics[0], sizeof co_topics[0], "it-copart-x", 2), 0);
    ASSERT_EQ_INT(it_topic_new(co_topics[1], sizeof co_topics[1], "it-copart-y", 2), 0);
}

int main(void)
{
    cmn_log_init("test", CMN_LOG_WARN);
    base = event_base_new();
    static const test_case_t cases[] = {
        TEST_CASE(test_setup), TEST_CASE(test_revoke_waits_for_work),
        TEST_CASE(test_revoke_after_giving_up),
        TEST_CASE(test_co_partitioned_revoke_waits_and_keeps_p_together),
        TEST_CASE(test_co_partitioned_refuses_unequal_counts)};
    int rc = test_run_all("consumer_rebalance", cases, sizeof cases / sizeof cases[0]);
    if (a.c)
        leave(&a);
    if (b.c)
        leave(&b);
    event_base_free(base);
    return rc;
}
