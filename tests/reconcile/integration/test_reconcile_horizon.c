/* The record of calls seen against the real broker (issue 27 item 1):
 * rec_seen_load reads call-events from the window's start
 * (offsets_for_times) to the end, and refuses a window whose start the
 * topic no longer holds — the reconciliation horizon is the topic's
 * retention (docs/architecture.md). Retention is played by DeleteRecords. */
#include "test.h"

#include "cmn_time.h"
#include "it_kafka.h"
#include "rec_seen.h"

#include <librdkafka/rdkafka.h>

#define T0 ((int64_t)1796000000000) /* the three events' timestamps, a minute apart */

static char topic[128];

/* An event of call c (ended when `ends`) at ts, encoded. */
static char *event(int c, int ends, int64_t ts)
{
    char id[32], call[16];
    cmn_event_t ev;
    cmn_event_init(&ev);
    snprintf(id, sizeof id, "twilio-horizon-%d", c);
    snprintf(call, sizeof call, "CA%d", c);
    ev.type = ends ? CMN_EV_ENDED : CMN_EV_OFFERED;
    ev.direction = CMN_DIR_INBOUND;
    ev.outcome = ends ? CMN_OUT_COMPLETED : CMN_OUT_NONE;
    ev.occurred_at_ms = ev.received_at_ms = ts;
    char *text = NULL;
    if (cmn_event_set(&ev.event_id, id) == 0 && cmn_event_set(&ev.provider, "twilio") == 0 &&
        cmn_event_set(&ev.call_id, call) == 0 && cmn_event_set(&ev.agent.provider_id, "a1") == 0)
        text = cmn_event_encode(&ev);
    cmn_event_clear(&ev);
    return text;
}

/* Three events at T0, T0+60 s, T0+120 s on one partition; then the first
 * deleted (as retention would). 0 or -1. */
static int setup(void)
{
    char errstr[512];
    int rc = -1;
    rd_kafka_conf_t *conf = cmn_kafka_conf_new(it_brokers(), errstr, sizeof errstr);
    rd_kafka_t *rk = conf ? rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr) : NULL;
    if (!rk || it_topic_new(topic, sizeof topic, "reconcile-horizon", 1) < 0)
        goto cleanup;
    for (int i = 0; i < 3; i++) {
        char *text = event(i, i == 2, T0 + i * 60000);
        rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__FAIL;
        if (text) { /* produceva: the RD_KAFKA_V_*() macros are refused by -Wpedantic */
            rd_kafka_vu_t vus[] = {
                {.vtype = RD_KAFKA_VTYPE_TOPIC, .u.cstr = topic},
                {.vtype = RD_KAFKA_VTYPE_PARTITION, .u.i32 = 0},
                {.vtype = RD_KAFKA_VTYPE_VALUE, .u.mem = {text, strlen(text)}},
                {.vtype = RD_KAFKA_VTYPE_MSGFLAGS, .u.i = RD_KAFKA_MSG_F_COPY},
                {.vtype = RD_KAFKA_VTYPE_TIMESTAMP, .u.i64 = T0 + i * 60000},
            };
            rd_kafka_error_t *error = rd_kafka_produceva(rk, vus, sizeof vus / sizeof vus[0]);
            err = error ? rd_kafka_error_code(error) : RD_KAFKA_RESP_ERR_NO_ERROR;
            if (error)
                rd_kafka_error_destroy(error);
        }
        free(text);
        if (err)
            goto cleanup;
    }
    if (rd_kafka_flush(rk, 10000))
        goto cleanup;
    rd_kafka_topic_partition_list_t *before = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(before, topic, 0)->offset = 1;
    rd_kafka_DeleteRecords_t *del = rd_kafka_DeleteRecords_new(before);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_DeleteRecords(rk, &del, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 10000);
    rc = ev && rd_kafka_event_error(ev) == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : -1;
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_DeleteRecords_destroy(del);
    rd_kafka_topic_partition_list_destroy(before);
cleanup:
    if (rk)
        rd_kafka_destroy(rk);
    else if (conf)
        rd_kafka_conf_destroy(conf);
    return rc;
}

/* The window starts at the first (deleted) event: refused, the horizon named. */
static void test_window_beyond_retention_is_refused(void)
{
    char errstr[512];
    rec_seen_t *s = rec_seen_new();
    ASSERT_EQ_INT(rec_seen_load(s, it_brokers(), topic, T0 - 1000, 20000, errstr, sizeof errstr),
                  -1);
    ASSERT_TRUE(strstr(errstr, "horizon") != NULL);
    rec_seen_free(s);
}

/* The window starts at the oldest event kept: read to the end. */
static void test_window_within_retention_reads_to_the_end(void)
{
    char errstr[512] = "";
    rec_seen_t *s = rec_seen_new();
    ASSERT_EQ_INT(rec_seen_load(s, it_brokers(), topic, T0 + 60000, 20000, errstr, sizeof errstr),
                  0);
    ASSERT_EQ_INT(rec_seen_count(s), 2);
    ASSERT_EQ_INT(rec_seen_call(s, "twilio", "CA1"), REC_CALL_OPEN);
    ASSERT_EQ_INT(rec_seen_call(s, "twilio", "CA2"), REC_CALL_ENDED);
    ASSERT_EQ_INT(rec_seen_event(s, "twilio-horizon-0"), 0); /* before the window */
    rec_seen_free(s);
}

/* A window after every event: nothing to read, nothing refused. */
static void test_window_after_the_last_event_is_empty(void)
{
    char errstr[512] = "";
    rec_seen_t *s = rec_seen_new();
    ASSERT_EQ_INT(rec_seen_load(s, it_brokers(), topic, T0 + 600000, 20000, errstr, sizeof errstr),
                  0);
    ASSERT_EQ_INT(rec_seen_count(s), 0);
    rec_seen_free(s);
}

static void test_setup(void)
{
    ASSERT_EQ_INT(setup(), 0);
}

TEST_MAIN("reconcile_horizon", TEST_CASE(test_setup),
          TEST_CASE(test_window_beyond_retention_is_refused),
          TEST_CASE(test_window_within_retention_reads_to_the_end),
          TEST_CASE(test_window_after_the_last_event_is_empty))
