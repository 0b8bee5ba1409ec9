/* Issue 26 item 3: when the contact mirror vouches for a look-up by phone
 * (tkt_mirror_rule.c), row by row: R-C3's hit, the display's miss, and
 * R-C2's creation miss that needs a watermark at or after the look-up. */
#include "test.h"
#include "tkt_mirror_rule.h"

#define NOW 1000000000LL

static void test_the_table(void)
{
    static const tkt_mirror_rule_t rule = {.fresh_ms = 120000, .create_wait_ms = 8000};
    static const struct {
        int complete;
        int64_t watermark_ms;
        size_t n;
        tkt_mirror_purpose_t purpose;
        int64_t asked_ms;
        tkt_mirror_verdict_t want;
    } rows[] = {
        /* a first pass not ended, or none: the search, whatever is asked */
        {0, NOW - 1000, 1, TKT_MIRROR_FOR_DISPLAY, NOW, TKT_MIRROR_SEARCH},
        {0, NOW, 0, TKT_MIRROR_FOR_CREATE, NOW, TKT_MIRROR_SEARCH},
        {1, 0, 1, TKT_MIRROR_FOR_DISPLAY, NOW, TKT_MIRROR_SEARCH},
        /* stale (the CRM's export stopped answering): the search */
        {1, NOW - 120001, 1, TKT_MIRROR_FOR_DISPLAY, NOW, TKT_MIRROR_SEARCH},
        {1, NOW - 120001, 0, TKT_MIRROR_FOR_DISPLAY, NOW, TKT_MIRROR_SEARCH},
        /* fresh: a hit answers, for display and creation alike (R-C3) */
        {1, NOW - 120000, 2, TKT_MIRROR_FOR_DISPLAY, NOW, TKT_MIRROR_HIT},
        {1, NOW - 60000, 1, TKT_MIRROR_FOR_CREATE, NOW, TKT_MIRROR_HIT},
        {1, NOW - 60000, 1, TKT_MIRROR_FOR_CREATE_NOW, NOW, TKT_MIRROR_HIT},
        /* a fresh miss is "no contact" for display */
        {1, NOW - 60000, 0, TKT_MIRROR_FOR_DISPLAY, NOW, TKT_MIRROR_NONE},
        /* R-C2: a miss decides a creation only with a watermark at or after
         * the look-up; before it: wait for the next pass, within the wait */
        {1, NOW - 1, 0, TKT_MIRROR_FOR_CREATE, NOW - 1, TKT_MIRROR_NONE},
        {1, NOW - 1, 0, TKT_MIRROR_FOR_CREATE, NOW - 2, TKT_MIRROR_NONE},
        {1, NOW - 1000, 0, TKT_MIRROR_FOR_CREATE, NOW - 999, TKT_MIRROR_WAIT},
        {1, NOW - 9000, 0, TKT_MIRROR_FOR_CREATE, NOW - 7999, TKT_MIRROR_WAIT},
        /* waited the whole time: the search decides */
        {1, NOW - 9000, 0, TKT_MIRROR_FOR_CREATE, NOW - 8000, TKT_MIRROR_SEARCH},
        /* a caller on the line (the IVR's ticket): no waiting */
        {1, NOW - 1000, 0, TKT_MIRROR_FOR_CREATE_NOW, NOW, TKT_MIRROR_SEARCH},
        {1, NOW, 0, TKT_MIRROR_FOR_CREATE_NOW, NOW, TKT_MIRROR_NONE},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        tkt_mirror_view_t v = {.complete = rows[i].complete,
                               .watermark_ms = rows[i].watermark_ms,
                               .n_contacts = rows[i].n};
        tkt_mirror_verdict_t got =
            tkt_mirror_vouch(&rule, &v, rows[i].purpose, NOW, rows[i].asked_ms);
        if (got != rows[i].want)
            fprintf(stderr, "row %zu\n", i);
        ASSERT_EQ_INT(got, rows[i].want);
    }
}

static void test_no_wait_configured_searches_at_once(void)
{
    const tkt_mirror_rule_t rule = {.fresh_ms = 120000, .create_wait_ms = 0};
    tkt_mirror_view_t v = {.complete = 1, .watermark_ms = NOW - 10, .n_contacts = 0};
    ASSERT_EQ_INT(tkt_mirror_vouch(&rule, &v, TKT_MIRROR_FOR_CREATE, NOW, NOW), TKT_MIRROR_SEARCH);
    ASSERT_EQ_INT(tkt_mirror_vouch(&rule, &v, TKT_MIRROR_FOR_DISPLAY, NOW, NOW), TKT_MIRROR_NONE);
}

int main(void)
{
    static const test_case_t cases[] = {TEST_CASE(test_the_table),
                                        TEST_CASE(test_no_wait_configured_searches_at_once)};
    return test_run_all("ticket_mirror_rule", cases, sizeof cases / sizeof *cases);
}
