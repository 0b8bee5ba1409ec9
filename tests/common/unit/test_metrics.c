/* cmn_metrics: counters, gauges and histograms rendered in the Prometheus
 * text exposition format — HELP/TYPE once per family, a family's series
 * together, histogram buckets cumulative with +Inf, _sum and _count. */
#include "cmn_metrics.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void test_counter_and_gauge_text(void)
{
    cmn_metric_t *in = cmn_metrics_counter("calls_total", "Calls seen", "direction=\"inbound\"");
    cmn_metric_t *out = cmn_metrics_counter("calls_total", "Calls seen", "direction=\"outbound\"");
    cmn_metric_t *depth = cmn_metrics_gauge("queue_depth", "Waiting events", NULL);
    cmn_metric_add(in, 2);
    cmn_metric_add(out, 1);
    cmn_metric_add(in, 1);
    cmn_metric_set(depth, 7);
    cmn_metric_add(depth, -2.5);
    char *text = cmn_metrics_render();
    cmn_metrics_reset();
    ASSERT_EQ_STR(text, "# HELP calls_total Calls seen\n"
                        "# TYPE calls_total counter\n"
                        "calls_total{direction=\"inbound\"} 3\n"
                        "calls_total{direction=\"outbound\"} 1\n"
                        "# HELP queue_depth Waiting events\n"
                        "# TYPE queue_depth gauge\n"
                        "queue_depth 4.5\n");
    free(text);
}

/* Series registered interleaved still render under one HELP/TYPE, together. */
static void test_help_and_type_once_per_family(void)
{
    cmn_metric_add(cmn_metrics_counter("a_total", "A", "k=\"1\""), 1);
    cmn_metric_add(cmn_metrics_counter("b_total", "B", NULL), 1);
    cmn_metric_add(cmn_metrics_counter("a_total", "A", "k=\"2\""), 1);
    cmn_metric_add(cmn_metrics_counter("b_total", "B", "k=\"3\""), 1);
    char *text = cmn_metrics_render();
    cmn_metrics_reset();
    ASSERT_TRUE(text != NULL);
    ASSERT_EQ_INT(count_of(text, "# HELP a_total "), 1);
    ASSERT_EQ_INT(count_of(text, "# TYPE a_total counter\n"), 1);
    ASSERT_EQ_INT(count_of(text, "# HELP b_total "), 1);
    ASSERT_EQ_INT(count_of(text, "# TYPE b_total counter\n"), 1);
    ASSERT_TRUE(strstr(text, "a_total{k=\"1\"} 1\na_total{k=\"2\"} 1\n# HELP b_total") != NULL);
    ASSERT_TRUE(strstr(text, "b_total 1\nb_total{k=\"3\"} 1\n") != NULL);
    free(text);
}

static void test_find_or_create_returns_the_same_series(void)
{
    cmn_metric_t *a = cmn_metrics_counter("x_total", "X", "route=\"ingest\"");
    cmn_metric_t *b = cmn_metrics_counter("x_total", "X", "route=\"ingest\"");
    cmn_metric_t *c = cmn_metrics_counter("x_total", "X", "route=\"other\"");
    cmn_metric_t *d = cmn_metrics_counter("y_total", "Y", NULL);
    cmn_metric_t *e = cmn_metrics_counter("y_total", "Y", ""); /* NULL and "" are the same */
    int same = a == b && a != c && d == e;
    cmn_metric_add(a, 1);
    cmn_metric_add(b, 1);
    double v = cmn_metric_value(a);
    cmn_metrics_reset();
    ASSERT_TRUE(same);
    ASSERT_TRUE(v == 2.0);
}

static double in_flight = 3;
static double read_in_flight(void *ctx)
{
    return *(double *)ctx;
}

static void test_gauge_read_at_render_time(void)
{
    cmn_metric_t *g =
        cmn_metrics_gauge_fn("inflight", "In flight", NULL, read_in_flight, &in_flight);
    in_flight = 5;
    double v = cmn_metric_value(g);
    char *text = cmn_metrics_render();
    cmn_metrics_reset();
    ASSERT_TRUE(v == 5.0);
    ASSERT_TRUE(text && strstr(text, "# TYPE inflight gauge\ninflight 5\n") != NULL);
    free(text);
}

static void test_histogram_buckets_cumulative(void)
{
    cmn_metric_t *h = cmn_metrics_histogram("req_ms", "Latency", "route=\"ingest\"");
    static const double obs[] = {0.25, 0.5, 3, 3000, 20000}; /* 0.5 sits on a bound: le */
    for (size_t i = 0; i < 5; i++)
        cmn_metric_observe(h, obs[i]);
    double count = cmn_metric_value(h);
    char *text = cmn_metrics_render();
    cmn_metrics_reset();
    ASSERT_TRUE(count == 5.0);
    ASSERT_TRUE(text != NULL);
    ASSERT_EQ_STR(text, "# HELP req_ms Latency\n"
                        "# TYPE req_ms histogram\n"
                        "req_ms_bucket{route=\"ingest\",le=\"0.5\"} 2\n"
                        "req_ms_bucket{route=\"ingest\",le=\"1\"} 2\n"
                        "req_ms_bucket{route=\"ingest\",le=\"2.5\"} 2\n"
                        "req_ms_bucket{route=\"ingest\",le=\"5\"} 3\n"
                        "req_ms_bucket{route=\"ingest\",le=\"10\"} 3\n"
                        "req_ms_bucket{route=\"ingest\",le=\"25\"} 3\n"
                        "req_ms_bucket{route=\"ingest\",le=\"50\"} 3\n"
                        "req_ms_bucket{route=\"ingest\",le=\"100\"} 3\n"
                        "req_ms_bucket{route=\"ingest\",le=\"250\"} 3\n"
                        "req_ms_bucket{route=\"ingest\",le=\"500\"} 3\n"
                        "req_ms_bucket{route=\"ingest\",le=\"1000\"} 3\n"
                        "req_ms_bucket{route=\"ingest\",le=\"2500\"} 3\n"
                        "req_ms_bucket{route=\"ingest\",le=\"5000\"} 4\n"
                        "req_ms_bucket{route=\"ingest\",le=\"10000\"} 4\n"
                        "req_ms_bucket{route=\"ingest\",le=\"+Inf\"} 5\n"
                        "req_ms_sum{route=\"ingest\"} 23003.75\n"
                        "req_ms_count{route=\"ingest\"} 5\n");
    free(text);
}

/* Without labels: {le=...} alone, and bare _sum/_count. Buckets never go down. */
static void test_histogram_without_labels(void)
{
    cmn_metric_t *h = cmn_metrics_histogram("flush_ms", "Flush time", NULL);
    for (int i = 0; i < 100; i++)
        cmn_metric_observe(h, i * 7.5);
    char *text = cmn_metrics_render();
    cmn_metrics_reset();
    ASSERT_TRUE(text != NULL);
    ASSERT_TRUE(strstr(text, "flush_ms_bucket{le=\"0.5\"} 1\n") != NULL);
    ASSERT_TRUE(strstr(text, "flush_ms_bucket{le=\"+Inf\"} 100\n") != NULL);
    ASSERT_TRUE(strstr(text, "flush_ms_count 100\n") != NULL);
    ASSERT_TRUE(strstr(text, "flush_ms_sum 37125\n") != NULL);
    unsigned long long prev = 0;
    int buckets = 0;
    for (const char *p = text; (p = strstr(p, "flush_ms_bucket{le=\"")); buckets++) {
        p = strstr(p, "} ") + 2;
        unsigned long long v = strtoull(p, NULL, 10);
        ASSERT_TRUE(v >= prev);
        prev = v;
    }
    ASSERT_EQ_INT(buckets, 15);
    ASSERT_EQ_INT(prev, 100);
    free(text);
}

/* The caller's bounds (issue 25 item 3: stats_close_seconds, R-S2, in
 * seconds from a minute to weeks): its buckets, and the default ones
 * elsewhere left as they are. */
static void test_histogram_with_own_bounds(void)
{
    static const double hours[] = {3600, 86400, 604800};
    cmn_metric_t *h = cmn_metrics_histogram_bounds("close_seconds", "Close", NULL, hours, 3);
    cmn_metric_t *d = cmn_metrics_histogram("req_ms", "Latency", NULL);
    cmn_metric_observe(h, 60);
    cmn_metric_observe(h, 7200);
    cmn_metric_observe(h, 1e7);
    cmn_metric_observe(d, 3);
    char *text = cmn_metrics_render();
    cmn_metrics_reset();
    ASSERT_TRUE(text != NULL);
    ASSERT_TRUE(strstr(text, "close_seconds_bucket{le=\"3600\"} 1\n") != NULL);
    ASSERT_TRUE(strstr(text, "close_seconds_bucket{le=\"86400\"} 2\n") != NULL);
    ASSERT_TRUE(strstr(text, "close_seconds_bucket{le=\"604800\"} 2\n") != NULL);
    ASSERT_TRUE(strstr(text, "close_seconds_bucket{le=\"+Inf\"} 3\n") != NULL);
    ASSERT_TRUE(strstr(text, "close_seconds_bucket{le=\"0.5\"}") == NULL);
    ASSERT_TRUE(strstr(text, "req_ms_bucket{le=\"5\"} 1\n") != NULL);
    free(text);
}

static void test_reset_empties_the_registry(void)
{
    cmn_metric_add(cmn_metrics_counter("gone_total", "Gone", NULL), 1);
    cmn_metrics_reset();
    char *text = cmn_metrics_render();
    ASSERT_EQ_STR(text, "");
    free(text);
    /* and a family registered again starts from zero */
    cmn_metric_t *m = cmn_metrics_counter("gone_total", "Gone", NULL);
    double v = cmn_metric_value(m);
    cmn_metrics_reset();
    ASSERT_TRUE(v == 0.0);
}

/* A family's series summed (ticket-service's CRM usage record reads the
 * counters it publishes through this, R-S1, issue 25 item 3): every label
 * set of the family, no other family, 0 for a family never registered. */
static void test_family_sum(void)
{
    cmn_metric_add(cmn_metrics_counter("req_total", "Req", "op=\"a\",status=\"200\""), 3);
    cmn_metric_add(cmn_metrics_counter("req_total", "Req", "op=\"b\",status=\"error\""), 2);
    cmn_metric_add(cmn_metrics_counter("req_total", "Req", NULL), 1);
    cmn_metric_add(cmn_metrics_counter("req_total_other", "Other", NULL), 100);
    cmn_metric_observe(cmn_metrics_histogram("req", "Latency", NULL), 5);
    double sum = cmn_metrics_family_sum("req_total");
    double none = cmn_metrics_family_sum("never_total");
    double other = cmn_metrics_family_sum("req_total_other");
    cmn_metrics_reset();
    ASSERT_TRUE(sum == 6.0);
    ASSERT_TRUE(none == 0.0);
    ASSERT_TRUE(other == 100.0);
}

TEST_MAIN("metrics", TEST_CASE(test_counter_and_gauge_text),
          TEST_CASE(test_help_and_type_once_per_family),
          TEST_CASE(test_find_or_create_returns_the_same_series),
          TEST_CASE(test_gauge_read_at_render_time), TEST_CASE(test_histogram_buckets_cumulative),
          TEST_CASE(test_histogram_without_labels), TEST_CASE(test_histogram_with_own_bounds),
          TEST_CASE(test_reset_empties_the_registry), TEST_CASE(test_family_sum))
