/* cmn_time: RFC 3339 text in and out, offsets, the provider form
 * "YYYY-MM-DD HH:MM:SS" (CallGear's notification_time), garbage refused. */
#include "cmn_time.h"
#include "test.h"

#include <stdint.h>

static int64_t parsed;
static int parse(const char *text)
{
    parsed = INT64_MIN;
    return cmn_time_parse(text, &parsed);
}

static char text[CMN_TIME_TEXT_MAX];
static const char *fmt(int64_t ms)
{
    cmn_time_format(ms, text, sizeof text);
    return text;
}

#define T_2026_11_21_110508 INT64_C(1795259108000) /* 2026-11-21T11:05:08Z */

static void test_format(void)
{
    ASSERT_EQ_STR(fmt(0), "1970-01-01T00:00:00.000Z");
    ASSERT_EQ_STR(fmt(T_2026_11_21_110508 + 123), "2026-11-21T11:05:08.123Z");
    ASSERT_EQ_STR(fmt(T_2026_11_21_110508 + 7), "2026-11-21T11:05:08.007Z");
    ASSERT_EQ_STR(fmt(INT64_C(951782400000)), "2000-02-29T00:00:00.000Z"); /* leap day */
    ASSERT_EQ_STR(fmt(-1), "1969-12-31T23:59:59.999Z");
}

static void test_round_trips(void)
{
    static const int64_t cases[] = {0,
                                    1,
                                    999,
                                    T_2026_11_21_110508,
                                    T_2026_11_21_110508 + 123,
                                    INT64_C(951782400000),
                                    INT64_C(4102444799999), /* 2099-12-31T23:59:59.999Z */
                                    -1};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ASSERT_EQ_INT(parse(fmt(cases[i])), 0);
        ASSERT_EQ_INT(parsed, cases[i]);
    }
    /* and text -> ms -> text for canonical text */
    ASSERT_EQ_INT(parse("2026-11-21T11:05:08.123Z"), 0);
    ASSERT_EQ_STR(fmt(parsed), "2026-11-21T11:05:08.123Z");
}

static void test_offsets(void)
{
    ASSERT_EQ_INT(parse("2026-11-21T14:05:08+03:00"), 0); /* Istanbul */
    ASSERT_EQ_INT(parsed, T_2026_11_21_110508);
    ASSERT_EQ_INT(parse("2026-11-21T12:05:08.250+01:00"), 0); /* Rome, winter */
    ASSERT_EQ_INT(parsed, T_2026_11_21_110508 + 250);
    ASSERT_EQ_INT(parse("2026-11-21T06:05:08-05:00"), 0); /* New York */
    ASSERT_EQ_INT(parsed, T_2026_11_21_110508);
    ASSERT_EQ_INT(parse("2026-11-21T16:35:08+05:30"), 0); /* India: half-hour offset */
    ASSERT_EQ_INT(parsed, T_2026_11_21_110508);
    ASSERT_EQ_INT(parse("2026-11-22T00:05:08+13:00"), 0); /* across midnight */
    ASSERT_EQ_INT(parsed, T_2026_11_21_110508);
    ASSERT_EQ_INT(parse("2026-11-21T11:05:08-00:00"), 0);
    ASSERT_EQ_INT(parsed, T_2026_11_21_110508);
    ASSERT_EQ_INT(parse("2026-11-21T11:05:08z"), 0);
    ASSERT_EQ_INT(parsed, T_2026_11_21_110508);
}

static void test_fractions(void)
{
    ASSERT_EQ_INT(parse("2026-11-21T11:05:08.5Z"), 0);
    ASSERT_EQ_INT(parsed, T_2026_11_21_110508 + 500);
    ASSERT_EQ_INT(parse("2026-11-21T11:05:08.05Z"), 0);
    ASSERT_EQ_INT(parsed, T_2026_11_21_110508 + 50);
    ASSERT_EQ_INT(parse("2026-11-21T11:05:08.123456789Z"), 0); /* truncated to ms */
    ASSERT_EQ_INT(parsed, T_2026_11_21_110508 + 123);
}

/* CallGear's notification_time: no 'T', no offset; taken as UTC. */
static void test_callgear_form(void)
{
    ASSERT_EQ_INT(parse("2026-11-21 11:05:08"), 0);
    ASSERT_EQ_INT(parsed, T_2026_11_21_110508);
    ASSERT_EQ_INT(parse("2026-11-21 11:05:08.250"), 0);
    ASSERT_EQ_INT(parsed, T_2026_11_21_110508 + 250);
}

static void test_garbage_rejected(void)
{
    static const char *const bad[] = {
        "",
        "yesterday",
        "2026-11-21",
        "2026-11-21T11:05",
        "2026-11-21X11:05:08Z",
        "2026/11/21 11:05:08",
        "2026-13-01T00:00:00Z",
        "2026-00-10T00:00:00Z",
        "2026-11-00T00:00:00Z",
        "2026-11-32T00:00:00Z",
        "2026-11-21T24:00:00Z",
        "2026-11-21T11:60:08Z",
        "2026-11-21T11:05:61Z",
        "2026-11-21T11:05:08+0300",
        "2026-11-21T11:05:08+03",
        "2026-11-21T11:05:08 +03:00",
        "2026-11-21T11:05:08Zjunk",
        "2026-11-21T11:05:08+03:00junk",
        "2026-11-21T11:05:08.123Zjunk",
        "1795259108",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (parse(bad[i]) != -1)
            fprintf(stderr, "accepted \"%s\"\n", bad[i]);
        ASSERT_EQ_INT(parse(bad[i]), -1);
        ASSERT_EQ_INT(parsed, INT64_MIN); /* *ms untouched on failure */
    }
    ASSERT_EQ_INT(cmn_time_parse(NULL, &parsed), -1);
}

/* Reported: sscanf-based parsing lets these through (see the report). */
static void test_malformed_rejected(void)
{
    ASSERT_TRUE(parse("2026-02-31T10:00:00Z") == -1);
    ASSERT_TRUE(parse("2026-11-21T11:05:08+03:0x") == -1);
    ASSERT_TRUE(parse("2026-11-21T11:05:08+99:99") == -1);
    ASSERT_TRUE(parse("+202-11-21T11:05:08Z") == -1);
    ASSERT_TRUE(parse("2026- 1-21T11:05:08Z") == -1);
    ASSERT_TRUE(parse("2026-11-21T11:05:08.Z") == -1);
}

static void test_clocks(void)
{
    int64_t wall = cmn_time_now_ms();
    int64_t m1 = cmn_time_mono_ms();
    double mf = cmn_time_mono_ms_f();
    int64_t m2 = cmn_time_mono_ms();
    ASSERT_TRUE(wall > INT64_C(1700000000000)); /* after 2023: the clock is set */
    ASSERT_TRUE(m2 >= m1);
    ASSERT_TRUE(mf >= (double)m1 && mf <= (double)m2 + 1.0);
}

TEST_MAIN("time", TEST_CASE(test_format), TEST_CASE(test_round_trips), TEST_CASE(test_offsets),
          TEST_CASE(test_fractions), TEST_CASE(test_callgear_form),
          TEST_CASE(test_garbage_rejected), TEST_CASE(test_malformed_rejected),
          TEST_CASE(test_clocks))
