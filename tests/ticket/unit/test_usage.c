/* ticket-service's CRM usage records (tkt_usage.h; R-S1, issue 25 item 3):
 * the deltas since the last record, no record when nothing was made or
 * saved, the sums read from the counters the CRM client and the batches
 * keep (cmn_metrics), and the record's JSON. No I/O. */
#include "cmn_metrics.h"
#include "test.h"
#include "tkt_usage.h"

#include <jansson.h>
#include <stdlib.h>

/* Deltas since the last record; from = the last record's to; nothing
 * made or saved: no record, and the mark stays where it was. */
static void test_deltas_and_nothing_at_zero(void)
{
    tkt_usage_mark_t m;
    tkt_usage_delta_t d = {0};
    tkt_usage_mark_init(&m, 0, 0, 1000);
    ASSERT_EQ_INT(tkt_usage_next(&m, 0, 0, 61000, &d), 0);
    ASSERT_EQ_INT(tkt_usage_next(&m, 7, 0, 121000, &d), 1);
    ASSERT_EQ_INT(d.requests, 7);
    ASSERT_EQ_INT(d.saved, 0);
    ASSERT_EQ_INT(d.from_ms, 1000); /* the idle interval is in it */
    ASSERT_EQ_INT(d.to_ms, 121000);
    ASSERT_EQ_INT(d.seq, 1);
    ASSERT_EQ_INT(tkt_usage_next(&m, 7, 0, 181000, &d), 0);
    ASSERT_EQ_INT(tkt_usage_next(&m, 10, 42, 241000, &d), 1);
    ASSERT_EQ_INT(d.requests, 3);
    ASSERT_EQ_INT(d.saved, 42);
    ASSERT_EQ_INT(d.from_ms, 121000);
    ASSERT_EQ_INT(d.to_ms, 241000);
    ASSERT_EQ_INT(d.seq, 2);
    /* only savings (a status read of a batch whose request was counted before) */
    ASSERT_EQ_INT(tkt_usage_next(&m, 10, 50, 242000, &d), 1);
    ASSERT_EQ_INT(d.requests, 0);
    ASSERT_EQ_INT(d.saved, 8);
    ASSERT_EQ_INT(d.seq, 3);
}

/* A process starting with counts already made (the mark at start) counts
 * only what comes after it. */
static void test_mark_at_start(void)
{
    tkt_usage_mark_t m;
    tkt_usage_delta_t d;
    tkt_usage_mark_init(&m, 5, 2, 0);
    ASSERT_EQ_INT(tkt_usage_next(&m, 5, 2, 1000, &d), 0);
    ASSERT_EQ_INT(tkt_usage_next(&m, 6, 2, 2000, &d), 1);
    ASSERT_EQ_INT(d.requests, 1);
    ASSERT_EQ_INT(d.saved, 0);
}

/* The sums are the metrics': every crm_requests_total series (each op and
 * status, errors included) and the three savings families. */
static void test_sums_read_the_metrics(void)
{
    double requests, saved;
    cmn_metric_add(cmn_metrics_counter("crm_requests_total", "", "op=\"create\",status=\"201\""),
                   4);
    cmn_metric_add(cmn_metrics_counter("crm_requests_total", "", "op=\"search\",status=\"error\""),
                   1);
    cmn_metric_add(cmn_metrics_counter("ticket_batch_requests_saved_total", "", NULL), 30);
    cmn_metric_add(cmn_metrics_counter("ticket_bulk_create_requests_saved_total", "", NULL), 9);
    cmn_metric_add(cmn_metrics_counter("ticket_status_reads_saved_total", "", NULL), 2);
    cmn_metric_add(cmn_metrics_counter("ticket_batch_requests_total", "", NULL), 1000);
    tkt_usage_sums(&requests, &saved);
    cmn_metrics_reset();
    ASSERT_TRUE(requests == 5.0);
    ASSERT_TRUE(saved == 41.0);
}

/* schemas/crm-usage.schema.json's members. */
static void test_record(void)
{
    tkt_usage_delta_t d = {.requests = 12,
                           .saved = 30,
                           .from_ms = 1796117400000LL,
                           .to_ms = 1796117460000LL,
                           .seq = 3};
    char *text = tkt_usage_record("ticket-0.1796117000000.1", &d);
    ASSERT_TRUE(text != NULL);
    json_t *o = json_loads(text, 0, NULL);
    free(text);
    ASSERT_TRUE(o != NULL);
    ASSERT_EQ_INT(json_integer_value(json_object_get(o, "schema_version")), 1);
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "event_id")),
                  "usage-ticket-0.1796117000000.1-3");
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "type")), "crm.usage");
    ASSERT_EQ_INT(json_integer_value(json_object_get(o, "requests")), 12);
    ASSERT_EQ_INT(json_integer_value(json_object_get(o, "saved")), 30);
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "from")), "2026-12-01T09:30:00.000Z");
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "to")), "2026-12-01T09:31:00.000Z");
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "occurred_at")), "2026-12-01T09:31:00.000Z");
    ASSERT_EQ_INT(json_object_size(o), 8);
    json_decref(o);
}

TEST_MAIN("ticket usage", TEST_CASE(test_deltas_and_nothing_at_zero), TEST_CASE(test_mark_at_start),
          TEST_CASE(test_sums_read_the_metrics), TEST_CASE(test_record))
