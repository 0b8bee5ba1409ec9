/* cmn_stats_query (issue 25 item 3): the stats contract's day-hash fields
 * parsed, summed by agent / queue / day with each call kind's share, the
 * R-S2 average (null when close_n is 0), and the JSON and RFC 4180 CSV
 * renderings, ids with odd characters included. */
#include "cmn_stats_query.h"

#include "test.h"

#include <jansson.h>

/* A contract field: figure, kind, queue, agent joined by 0x1F. */
static const char *field(const char *figure, const char *kind, const char *queue, const char *agent)
{
    static char buf[512];
    snprintf(buf, sizeof buf, "%s\x1f%s\x1f%s\x1f%s", figure, kind, queue, agent);
    return buf;
}

static int add(cmn_stats_agg_t *g, const char *day, const char *figure, const char *kind,
               const char *queue, const char *agent, const char *value)
{
    const char *f = field(figure, kind, queue, agent);
    return cmn_stats_agg_add(g, day, f, strlen(f), value, strlen(value));
}

static void test_field_parse(void)
{
    cmn_stats_field_t c;
    const char *f = field("tickets_created", "inbound", "support", "361");
    ASSERT_EQ_INT(cmn_stats_field_parse(f, strlen(f), &c), 0);
    ASSERT_EQ_INT(c.figure, CMN_STATS_TICKETS_CREATED);
    ASSERT_EQ_INT(c.kind_len, 7);
    ASSERT_TRUE(memcmp(c.kind, "inbound", 7) == 0);
    ASSERT_TRUE(c.queue_len == 7 && memcmp(c.queue, "support", 7) == 0);
    ASSERT_TRUE(c.agent_len == 3 && memcmp(c.agent, "361", 3) == 0);
    /* A figure a newer writer added: skipped, not an error. */
    f = field("talk_s", "inbound", "q", "a");
    ASSERT_EQ_INT(cmn_stats_field_parse(f, strlen(f), &c), 1);
    /* A prefix of a known figure is not that figure. */
    f = field("call", "inbound", "q", "a");
    ASSERT_EQ_INT(cmn_stats_field_parse(f, strlen(f), &c), 1);
    ASSERT_EQ_INT(cmn_stats_field_parse("calls\x1finbound\x1fq", 15, &c), -1); /* three */
    ASSERT_EQ_INT(cmn_stats_field_parse("calls\x1fin\x1fq\x1f"
                                        "a\x1f"
                                        "b",
                                        15, &c),
                  -1); /* five */
    ASSERT_EQ_INT(cmn_stats_field_parse("calls\x1f\x1fq\x1f"
                                        "a",
                                        10, &c),
                  -1); /* empty */
    ASSERT_EQ_INT(cmn_stats_field_parse("calls", 5, &c), -1);
}

static void test_day_parse_and_format(void)
{
    long d, d2;
    char out[CMN_STATS_DAY_LEN + 1];
    ASSERT_EQ_INT(cmn_stats_day_parse("1970-01-01", &d), 0);
    ASSERT_EQ_INT(d, 0);
    ASSERT_EQ_INT(cmn_stats_day_parse("2026-12-07", &d), 0);
    ASSERT_EQ_INT(d, 20794); /* date -d 2026-12-07 +%s / 86400 */
    cmn_stats_day_format(d, out, sizeof out);
    ASSERT_EQ_STR(out, "2026-12-07");
    ASSERT_EQ_INT(cmn_stats_day_parse("2028-02-29", &d), 0);
    ASSERT_EQ_INT(cmn_stats_day_parse("2028-03-01", &d2), 0);
    ASSERT_EQ_INT(d2 - d, 1);
    cmn_stats_day_format(d + 1, out, sizeof out);
    ASSERT_EQ_STR(out, "2028-03-01");
    ASSERT_EQ_INT(cmn_stats_day_parse("2027-02-29", &d), -1); /* not a leap year */
    ASSERT_EQ_INT(cmn_stats_day_parse("2100-02-29", &d), -1);
    ASSERT_EQ_INT(cmn_stats_day_parse("2000-02-29", &d), 0);
    ASSERT_EQ_INT(cmn_stats_day_parse("2026-04-31", &d), -1);
    ASSERT_EQ_INT(cmn_stats_day_parse("2026-13-01", &d), -1);
    ASSERT_EQ_INT(cmn_stats_day_parse("2026-1-01", &d), -1);
    ASSERT_EQ_INT(cmn_stats_day_parse("2026-01-01T00", &d), -1);
    ASSERT_EQ_INT(cmn_stats_day_parse("2026/01/01", &d), -1);
    ASSERT_EQ_INT(cmn_stats_day_parse("+026-01-01", &d), -1);
    ASSERT_EQ_INT(cmn_stats_day_parse("", &d), -1);
}

static void test_by_parse(void)
{
    cmn_stats_by_t by;
    ASSERT_EQ_INT(cmn_stats_by_parse("agent", &by), 0);
    ASSERT_EQ_INT(by, CMN_STATS_BY_AGENT);
    ASSERT_EQ_INT(cmn_stats_by_parse("queue", &by), 0);
    ASSERT_EQ_INT(by, CMN_STATS_BY_QUEUE);
    ASSERT_EQ_INT(cmn_stats_by_parse("day", &by), 0);
    ASSERT_EQ_INT(by, CMN_STATS_BY_DAY);
    ASSERT_EQ_INT(cmn_stats_by_parse("Agent", &by), -1);
    ASSERT_EQ_INT(cmn_stats_by_parse("", &by), -1);
}

/* Two days, two agents, two queues, three kinds. */
static cmn_stats_agg_t *fixture(cmn_stats_by_t by)
{
    cmn_stats_agg_t *g = cmn_stats_agg_new(by);
    if (!g)
        return NULL;
    int rc = add(g, "2026-12-01", "calls", "inbound", "support", "361", "5") |
             add(g, "2026-12-01", "answered", "inbound", "support", "361", "4") |
             add(g, "2026-12-01", "calls", "outbound", "sales", "361", "2") |
             add(g, "2026-12-02", "calls", "inbound", "sales", "361", "1") |
             add(g, "2026-12-01", "calls", "missed", "support", "-", "3") |
             add(g, "2026-12-01", "missed", "missed", "support", "-", "3") |
             add(g, "2026-12-02", "tickets_created", "inbound", "support", "422", "7") |
             add(g, "2026-12-02", "close_s_sum", "inbound", "support", "422", "9000") |
             add(g, "2026-12-02", "close_n", "inbound", "support", "422", "4") |
             add(g, "2026-12-02", "crm_requests", "-", "-", "-", "30") |
             add(g, "2026-12-02", "crm_saved", "-", "-", "-", "41");
    if (rc != 0) {
        cmn_stats_agg_free(g);
        return NULL;
    }
    return g;
}

static void test_by_agent(void)
{
    cmn_stats_agg_t *g = fixture(CMN_STATS_BY_AGENT);
    ASSERT_TRUE(g);
    ASSERT_EQ_INT(cmn_stats_agg_rows(g), 3); /* "-", "361", "422", sorted */
    ASSERT_EQ_STR(cmn_stats_agg_row_key(g, 0), "-");
    ASSERT_EQ_STR(cmn_stats_agg_row_key(g, 1), "361");
    ASSERT_EQ_STR(cmn_stats_agg_row_key(g, 2), "422");
    ASSERT_EQ_INT(cmn_stats_agg_get(g, 1, CMN_STATS_CALLS), 8); /* both days, every queue */
    ASSERT_EQ_INT(cmn_stats_agg_get(g, 1, CMN_STATS_ANSWERED), 4);
    ASSERT_EQ_INT(cmn_stats_agg_get(g, 0, CMN_STATS_MISSED), 3);
    ASSERT_EQ_INT(cmn_stats_agg_get(g, 0, CMN_STATS_CRM_SAVED), 41);
    ASSERT_EQ_INT(cmn_stats_agg_get(g, CMN_STATS_TOTAL, CMN_STATS_CALLS), 11);
    ASSERT_EQ_INT(cmn_stats_agg_get(g, CMN_STATS_TOTAL, CMN_STATS_TICKETS_CREATED), 7);
    ASSERT_EQ_STR(cmn_stats_agg_row_key(g, CMN_STATS_TOTAL), "TOTAL");
    cmn_stats_agg_free(g);
}

static void test_by_queue_and_day(void)
{
    cmn_stats_agg_t *g = fixture(CMN_STATS_BY_QUEUE);
    ASSERT_TRUE(g);
    ASSERT_EQ_INT(cmn_stats_agg_rows(g), 3); /* "-", sales, support */
    ASSERT_EQ_STR(cmn_stats_agg_row_key(g, 1), "sales");
    ASSERT_EQ_INT(cmn_stats_agg_get(g, 1, CMN_STATS_CALLS), 3);
    ASSERT_EQ_INT(cmn_stats_agg_get(g, 2, CMN_STATS_CALLS), 8);
    cmn_stats_agg_free(g);
    g = fixture(CMN_STATS_BY_DAY);
    ASSERT_TRUE(g);
    ASSERT_EQ_INT(cmn_stats_agg_rows(g), 2);
    ASSERT_EQ_STR(cmn_stats_agg_row_key(g, 0), "2026-12-01");
    ASSERT_EQ_INT(cmn_stats_agg_get(g, 0, CMN_STATS_CALLS), 10);
    ASSERT_EQ_INT(cmn_stats_agg_get(g, 1, CMN_STATS_CALLS), 1);
    cmn_stats_agg_free(g);
}

static void test_json_by_kind_and_r_s2_average(void)
{
    cmn_stats_agg_t *g = fixture(CMN_STATS_BY_AGENT);
    ASSERT_TRUE(g);
    json_t *j = cmn_stats_agg_json(g, "2026-12-01", "2026-12-02");
    cmn_stats_agg_free(g);
    ASSERT_TRUE(j);
    ASSERT_EQ_STR(json_string_value(json_object_get(j, "by")), "agent");
    ASSERT_EQ_STR(json_string_value(json_object_get(j, "from")), "2026-12-01");
    json_t *rows = json_object_get(j, "rows");
    ASSERT_EQ_INT(json_array_size(rows), 3);
    json_t *a361 = json_array_get(rows, 1), *a422 = json_array_get(rows, 2);
    ASSERT_EQ_STR(json_string_value(json_object_get(a361, "key")), "361");
    /* R-S2: 9000 s over 4 tickets; null where no ticket was counted. */
    ASSERT_TRUE(json_is_real(json_object_get(a422, "avg_close_s")));
    ASSERT_TRUE(json_real_value(json_object_get(a422, "avg_close_s")) == 2250.0);
    ASSERT_EQ_INT(json_integer_value(json_object_get(a422, "close_n")), 4);
    ASSERT_TRUE(json_is_null(json_object_get(a361, "avg_close_s")));
    ASSERT_EQ_INT(json_integer_value(json_object_get(a361, "close_n")), 0);
    ASSERT_TRUE(json_object_get(a361, "close_s_sum") == NULL); /* the average stands for it */
    json_t *kinds = json_object_get(a361, "by_kind");
    ASSERT_EQ_INT(json_object_size(kinds), 2);
    ASSERT_EQ_INT(json_integer_value(json_object_get(json_object_get(kinds, "inbound"), "calls")),
                  6);
    ASSERT_EQ_INT(json_integer_value(json_object_get(json_object_get(kinds, "outbound"), "calls")),
                  2);
    json_t *totals = json_object_get(j, "totals");
    ASSERT_TRUE(json_object_get(totals, "key") == NULL);
    ASSERT_EQ_INT(json_integer_value(json_object_get(totals, "calls")), 11);
    ASSERT_EQ_INT(json_integer_value(json_object_get(totals, "crm_requests")), 30);
    ASSERT_TRUE(json_real_value(json_object_get(totals, "avg_close_s")) == 2250.0);
    ASSERT_EQ_INT(json_integer_value(json_object_get(
                      json_object_get(json_object_get(totals, "by_kind"), "missed"), "missed")),
                  3);
    json_decref(j);
}

static void test_csv(void)
{
    cmn_stats_agg_t *g = fixture(CMN_STATS_BY_AGENT);
    ASSERT_TRUE(g);
    size_t len = 0;
    char *csv = cmn_stats_agg_csv(g, &len);
    cmn_stats_agg_free(g);
    ASSERT_TRUE(csv);
    ASSERT_EQ_INT(len, strlen(csv));
    const char *expect =
        "key,calls,answered,missed,tickets_created,reopened,solved,closed,avg_close_s,close_n,"
        "missed_grouped,pops_delivered,pops_acknowledged,crm_requests,crm_saved\r\n"
        "-,3,0,3,0,0,0,0,,0,0,0,0,30,41\r\n"
        "361,8,4,0,0,0,0,0,,0,0,0,0,0,0\r\n"
        "422,0,0,0,7,0,0,0,2250.0,4,0,0,0,0,0\r\n"
        "TOTAL,11,4,3,7,0,0,0,2250.0,4,0,0,0,30,41\r\n";
    ASSERT_EQ_STR(csv, expect);
    free(csv);
}

/* Queue names come from the provider's events: commas, quotes, line
 * breaks, a formula, non-ASCII. Each is one CSV field and one JSON key. */
static void test_odd_ids(void)
{
    cmn_stats_agg_t *g = cmn_stats_agg_new(CMN_STATS_BY_QUEUE);
    ASSERT_TRUE(g);
    ASSERT_EQ_INT(add(g, "2026-12-01", "calls", "inbound", "Sales, EMEA", "1", "1"), 0);
    ASSERT_EQ_INT(add(g, "2026-12-01", "calls", "inbound", "the \"VIP\" line", "1", "2"), 0);
    ASSERT_EQ_INT(add(g, "2026-12-01", "calls", "inbound", "two\r\nlines", "1", "3"), 0);
    ASSERT_EQ_INT(add(g, "2026-12-01", "calls", "inbound", "=HYPERLINK(\"x\")", "1", "4"), 0);
    ASSERT_EQ_INT(add(g, "2026-12-01", "calls", "inbound", "Müşteri hizmetleri", "1", "5"), 0);
    ASSERT_EQ_INT(add(g, "2026-12-01", "calls", "inbound", "bad_byte_", "1", "6"), 0);
    size_t len;
    char *csv = cmn_stats_agg_csv(g, &len);
    ASSERT_TRUE(csv);
    ASSERT_TRUE(strstr(csv, "\r\n\"Sales, EMEA\",1,"));
    ASSERT_TRUE(strstr(csv, "\r\n\"the \"\"VIP\"\" line\",2,"));
    ASSERT_TRUE(strstr(csv, "\r\n\"two\r\nlines\",3,"));
    ASSERT_TRUE(strstr(csv, "\r\n\"'=HYPERLINK(\"\"x\"\")\",4,"));
    ASSERT_TRUE(strstr(csv, "\r\nMüşteri hizmetleri,5,"));
    ASSERT_TRUE(strstr(csv, "\r\nbad_byte_,6,"));
    free(csv);
    json_t *j = cmn_stats_agg_json(g, "2026-12-01", "2026-12-01");
    ASSERT_TRUE(j);
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    ASSERT_TRUE(text);
    ASSERT_TRUE(strstr(text, "\"key\":\"the \\\"VIP\\\" line\""));
    ASSERT_TRUE(strstr(text, "\"key\":\"two\\r\\nlines\""));
    free(text);
    cmn_stats_agg_free(g);
}

/* What the stats service never writes is skipped and counted, not summed. */
static void test_skipped_cells(void)
{
    cmn_stats_agg_t *g = cmn_stats_agg_new(CMN_STATS_BY_AGENT);
    ASSERT_TRUE(g);
    ASSERT_EQ_INT(add(g, "2026-12-01", "calls", "inbound", "q", "a", "12x"), 1);
    ASSERT_EQ_INT(add(g, "2026-12-01", "calls", "inbound", "q", "a", ""), 1);
    ASSERT_EQ_INT(add(g, "2026-12-01", "talk_s", "inbound", "q", "a", "5"), 1);
    ASSERT_EQ_INT(cmn_stats_agg_add(g, "2026-12-01", "calls", 5, "1", 1), 1);
    ASSERT_EQ_INT(add(g, "2026-12-01", "calls", "inbound", "q", "a", "-2"), 0); /* a correction */
    ASSERT_EQ_INT(cmn_stats_agg_skipped(g), 4);
    ASSERT_EQ_INT(cmn_stats_agg_rows(g), 1);
    ASSERT_EQ_INT(cmn_stats_agg_get(g, 0, CMN_STATS_CALLS), -2);
    cmn_stats_agg_free(g);
}

/* by=day: an empty day is a row of zeros (the chart has no gap), and a
 * range without any data still renders. */
static void test_empty_rows(void)
{
    cmn_stats_agg_t *g = cmn_stats_agg_new(CMN_STATS_BY_DAY);
    ASSERT_TRUE(g);
    ASSERT_EQ_INT(cmn_stats_agg_key(g, "2026-12-02"), 0);
    ASSERT_EQ_INT(cmn_stats_agg_key(g, "2026-12-01"), 0);
    ASSERT_EQ_INT(cmn_stats_agg_key(g, "2026-12-02"), 0);
    ASSERT_EQ_INT(cmn_stats_agg_rows(g), 2);
    ASSERT_EQ_STR(cmn_stats_agg_row_key(g, 0), "2026-12-01");
    char *csv = cmn_stats_agg_csv(g, NULL);
    ASSERT_TRUE(csv);
    ASSERT_TRUE(strstr(csv, "\r\n2026-12-01,0,0,0,0,0,0,0,,0,0,0,0,0,0\r\n"));
    ASSERT_TRUE(strstr(csv, "\r\nTOTAL,0,0,0,0,0,0,0,,0,0,0,0,0,0\r\n"));
    free(csv);
    json_t *j = cmn_stats_agg_json(g, "2026-12-01", "2026-12-02");
    ASSERT_TRUE(j);
    ASSERT_EQ_INT(json_object_size(json_object_get(json_object_get(j, "totals"), "by_kind")), 0);
    json_decref(j);
    cmn_stats_agg_free(g);
}

TEST_MAIN("stats_query", TEST_CASE(test_field_parse), TEST_CASE(test_day_parse_and_format),
          TEST_CASE(test_by_parse), TEST_CASE(test_by_agent), TEST_CASE(test_by_queue_and_day),
          TEST_CASE(test_json_by_kind_and_r_s2_average), TEST_CASE(test_csv),
          TEST_CASE(test_odd_ids), TEST_CASE(test_skipped_cells), TEST_CASE(test_empty_rows))
