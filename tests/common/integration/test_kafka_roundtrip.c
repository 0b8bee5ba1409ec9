/* Integration: canonical events through the real local Kafka broker with the
 * common producer and consumer wrappers.
 *  - every produced event comes back decoded and equal, keyed by customer;
 *  - offsets follow effects: a consumer that marks some messages done (out
 *    of order) and leaves one undone, then restarts, resumes from the first
 *    undone message of each partition: nothing lost, and nothing that was
 *    done is delivered again except what followed the undone one. */
#include "cmn_consumer.h"
#include "cmn_event.h"
#include "cmn_log.h"
#include "cmn_producer.h"
#include "cmn_topics.h"
#include "it_env.h"
#include "test.h"

#include <string.h>

#define N_EVENTS 120
#define N_CUSTOMERS 12

static struct event_base *base;
static char topic[96];

/* ---- producing ----------------------------------------------------------- */

static int delivered, delivery_errors;

static void on_delivered(void *opaque, rd_kafka_resp_err_t err, int32_t partition, int64_t offset)
{
    if (err)
        delivery_errors++;
    else
        delivered++;
}

static int all_delivered(void *ctx)
{
    return delivered + delivery_errors == N_EVENTS;
}

static void make_event(cmn_event_t *ev, int i)
{
    char id[32], call[32], number[20];
    snprintf(id, sizeof id, "generic-it-%06d", i);
    snprintf(call, sizeof call, "call-%d", i);
    snprintf(number, sizeof number, "+3906123450%02d", i % N_CUSTOMERS);
    cmn_event_init(ev);
    ev->type = CMN_EV_ENDED;
    ev->direction = CMN_DIR_INBOUND;
    ev->outcome = CMN_OUT_MISSED;
    ev->talk_s = i;
    ev->occurred_at_ms = ev->received_at_ms = 1700000000000 + i;
    if (cmn_event_set(&ev->event_id, id) || cmn_event_set(&ev->provider, "generic") ||
        cmn_event_set(&ev->call_id, call) || cmn_event_set(&ev->customer_number, number))
        abort();
}

static void produce_all(void)
{
    char errstr[512];
    cmn_producer_opts_t opts = {.brokers = it_brokers(), .linger_ms = 5};
    cmn_producer_t *p = cmn_producer_new(base, &opts, errstr, sizeof errstr);
    ASSERT_TRUE(p != NULL);
    for (int i = 0; i < N_EVENTS; i++) {
        cmn_event_t ev;
        make_event(&ev, i);
        char *text = cmn_event_encode(&ev);
        const char *key = cmn_event_key(&ev);
        rd_kafka_resp_err_t err =
            cmn_producer_send(p, topic, key, strlen(key), text, strlen(text), on_delivered, NULL);
        free(text);
        cmn_event_clear(&ev);
        ASSERT_EQ_INT(err, 0);
    }
    ASSERT_TRUE(it_run_until(base, all_delivered, NULL, 30000));
    ASSERT_EQ_INT(delivery_errors, 0);
    ASSERT_EQ_INT(cmn_producer_flush(p, 1000), 0);
    cmn_producer_free(p);
}

/* ---- consuming ----------------------------------------------------------- */

typedef struct run {
    cmn_consumer_t *c;
    int seen[N_EVENTS]; /* deliveries per event index */
    int32_t partition[N_EVENTS];
    int64_t offset[N_EVENTS];
    int received;             /* messages this consumer got */
    int stop_after;           /* hold messages, stop after this many */
    int undone_nth;           /* the n-th message received is never marked done (0: none) */
    int undone;               /* its event index, -1 when none */
    const struct run *before; /* the previous run: stop once both together saw everything */
    cmn_msg_pos_t held[N_EVENTS];
    int n_held;
    int decode_errors;
    int key_mismatches;
} run_t;

static void on_message(void *ctx, const cmn_msg_pos_t *pos, const rd_kafka_message_t *m)
{
    run_t *r = ctx;
    cmn_event_t ev;
    char err[256], field[64];
    if (cmn_event_decode(m->payload, m->len, &ev, err, sizeof err, field, sizeof field) < 0) {
        r->decode_errors++;
        cmn_consumer_done(r->c, pos);
        return;
    }
    int i = atoi(ev.call_id + strlen("call-"));
    if (m->key_len != strlen(ev.customer_number) ||
        memcmp(m->key, ev.customer_number, m->key_len) != 0 || ev.talk_s != i)
        r->key_mismatches++;
    r->seen[i]++;
    r->partition[i] = pos->partition;
    r->offset[i] = pos->offset;
    r->received++;
    if (!r->undone_nth)
        cmn_consumer_done(r->c, pos); /* effect at once */
    else if (r->received == r->undone_nth)
        r->undone = i;
    else
        r->held[r->n_held++] = *pos; /* effect "in progress" */
    cmn_event_clear(&ev);
}

static int got_enough(void *ctx)
{
    run_t *r = ctx;
    if (!r->before)
        return r->received >= r->stop_after;
    for (int i = 0; i < N_EVENTS; i++)
        if (!r->seen[i] && !r->before->seen[i])
            return 0;
    return 1;
}

/* Completes held effects newest first: offsets must still only advance
 * over contiguous done prefixes. */
static void complete_held_reversed(run_t *r)
{
    for (int i = r->n_held - 1; i >= 0; i--)
        cmn_consumer_done(r->c, &r->held[i]);
    r->n_held = 0;
}

static void consume(run_t *r, const char *group, int stop_after, int undone_nth,
                    const run_t *before)
{
    char errstr[512];
    const char *topics[] = {topic};
    memset(r, 0, sizeof *r);
    r->stop_after = stop_after;
    r->undone_nth = undone_nth;
    r->undone = -1;
    r->before = before;
    cmn_consumer_opts_t opts = {.brokers = it_brokers(),
                                .group_id = group,
                                .topics = topics,
                                .n_topics = 1,
                                .on_message = on_message,
                                .ctx = r,
                                .session_timeout_ms = 6000,
                                .max_in_flight = 20};
    r->c = cmn_consumer_new(base, &opts, errstr, sizeof errstr);
    if (!r->c) {
        fprintf(stderr, "consumer: %s\n", errstr);
        return;
    }
    it_run_until(base, got_enough, r, 60000);
    cmn_consumer_stop(r->c);
    complete_held_reversed(r);
    cmn_consumer_close(r->c);
    r->c = NULL;
}

static run_t first, second;

static void test_roundtrip_and_resume(void)
{
    char group[96];
    it_unique(group, sizeof group, "it-group");
    produce_all();
    ASSERT_EQ_INT(delivered, N_EVENTS);

    /* First run: at most 20 in flight (the consumer pauses), stops after
     * 20 messages; the 5th one received is never done. */
    consume(&first, group, 20, 5, NULL);
    ASSERT_EQ_INT(first.decode_errors, 0);
    ASSERT_EQ_INT(first.key_mismatches, 0);
    ASSERT_TRUE(first.received >= 20 && first.received < N_EVENTS);
    int u = first.undone;
    ASSERT_TRUE(u >= 0);

    /* Second run picks up everything else. */
    consume(&second, group, 0, 0, &first);
    int lost = 0, replayed = 0, replayed_after_undone = 0;
    for (int i = 0; i < N_EVENTS; i++) {
        int total = first.seen[i] + second.seen[i];
        if (total == 0)
            lost++;
        if (first.seen[i] && second.seen[i]) {
            replayed++;
            /* a replay is only allowed at or after the undone event, on its partition */
            if (first.partition[i] == first.partition[u] && first.offset[i] >= first.offset[u])
                replayed_after_undone++;
        }
    }
    ASSERT_EQ_INT(lost, 0);
    ASSERT_TRUE(first.seen[u] == 1 && second.seen[u] == 1); /* the undone one came back */
    /* Everything replayed is on the undone event's partition, at or after it. */
    ASSERT_EQ_INT(replayed, replayed_after_undone);
    ASSERT_EQ_INT(second.decode_errors + second.key_mismatches, 0);
    printf("first run %d msgs, second run %d msgs, replayed %d (all after the undone one)\n",
           first.received, second.received, replayed);
}

static void test_setup(void)
{
    char errstr[512];
    it_unique(topic, sizeof topic, "it-roundtrip");
    cmn_topic_spec_t spec = {topic, 3, 1, 0};
    int rc = cmn_topics_ensure(it_brokers(), &spec, 1, 10000, errstr, sizeof errstr);
    if (rc)
        fprintf(stderr, "%s\n", errstr);
    ASSERT_EQ_INT(rc, 0);
    /* ensuring again is success: "already exists" is not an error */
    ASSERT_EQ_INT(cmn_topics_ensure(it_brokers(), &spec, 1, 10000, errstr, sizeof errstr), 0);
}

int main(void)
{
    cmn_log_init("test", CMN_LOG_WARN);
    base = event_base_new();
    static const test_case_t cases[] = {TEST_CASE(test_setup),
                                        TEST_CASE(test_roundtrip_and_resume)};
    int rc = test_run_all("kafka_roundtrip", cases, 2);
    event_base_free(base);
    return rc;
}
