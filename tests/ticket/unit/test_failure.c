/* Issue 19 item 4: the one classification of failures (tkt_failure.c),
 * row by row: what a CRM answer or an adapter's refusal means for the
 * event (retried, or given up and dead-lettered), and the retry limit. */
#include "test.h"
#include "tkt_failure.h"

static tkt_crm_result_t answer(int ok, int status, int refused, int closed)
{
    tkt_crm_result_t r;
    memset(&r, 0, sizeof r);
    r.ok = ok;
    r.http_status = status;
    r.refused = refused;
    r.closed = closed;
    return r;
}

static void test_the_table(void)
{
    static const struct {
        int ok, status, refused, closed;
        tkt_failure_t want;
    } rows[] = {
        {1, 200, 0, 0, TKT_FAIL_NONE},
        {1, 201, 0, 0, TKT_FAIL_NONE},
        /* the adapter refused it before any request: never */
        {0, 0, 1, 0, TKT_FAIL_PERMANENT},
        /* no answer (network, timeout, shut down, memory, Redis): later */
        {0, 0, 0, 0, TKT_FAIL_TRANSIENT},
        /* the CRM refused the op itself */
        {0, 400, 0, 0, TKT_FAIL_PERMANENT},
        {0, 404, 0, 0, TKT_FAIL_PERMANENT},
        {0, 405, 0, 0, TKT_FAIL_PERMANENT},
        {0, 412, 0, 0, TKT_FAIL_PERMANENT},
        {0, 413, 0, 0, TKT_FAIL_PERMANENT},
        {0, 422, 0, 0, TKT_FAIL_PERMANENT},
        /* not now, or not these credentials: later */
        {0, 401, 0, 0, TKT_FAIL_TRANSIENT},
        {0, 403, 0, 0, TKT_FAIL_TRANSIENT},
        {0, 408, 0, 0, TKT_FAIL_TRANSIENT},
        {0, 409, 0, 0, TKT_FAIL_TRANSIENT},
        {0, 425, 0, 0, TKT_FAIL_TRANSIENT},
        {0, 429, 0, 0, TKT_FAIL_TRANSIENT},
        {0, 500, 0, 0, TKT_FAIL_TRANSIENT},
        {0, 502, 0, 0, TKT_FAIL_TRANSIENT},
        {0, 503, 0, 0, TKT_FAIL_TRANSIENT},
        {0, 504, 0, 0, TKT_FAIL_TRANSIENT},
        /* a closed ticket is R-T7/R-T10's to redirect, whatever its status */
        {0, 422, 0, 1, TKT_FAIL_TRANSIENT},
        /* a refusal wins over a status that alone would be transient */
        {0, 503, 1, 0, TKT_FAIL_PERMANENT},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        tkt_crm_result_t r = answer(rows[i].ok, rows[i].status, rows[i].refused, rows[i].closed);
        if (tkt_failure_of(&r) != rows[i].want)
            fprintf(stderr, "row %zu: status %d refused %d closed %d\n", i, rows[i].status,
                    rows[i].refused, rows[i].closed);
        ASSERT_EQ_INT(tkt_failure_of(&r), rows[i].want);
        /* the adapters' bulk items ask the same question by status alone */
        if (!rows[i].ok && !rows[i].refused && !rows[i].closed)
            ASSERT_EQ_INT(tkt_failure_status_transient(rows[i].status),
                          rows[i].want == TKT_FAIL_TRANSIENT);
    }
}

static void test_the_retry_limit(void)
{
    ASSERT_EQ_INT(tkt_failure_outlived(1000, 1000 + 1499, 1500), 0);
    ASSERT_EQ_INT(tkt_failure_outlived(1000, 1000 + 1500, 1500), 1);
    ASSERT_EQ_INT(tkt_failure_outlived(0, 999999, 1500), 0); /* never failed */
    ASSERT_EQ_INT(tkt_failure_outlived(1000, 999999, 0), 0); /* no limit */
}

int main(void)
{
    static const test_case_t cases[] = {TEST_CASE(test_the_table), TEST_CASE(test_the_retry_limit)};
    return test_run_all("ticket_failure", cases, sizeof cases / sizeof *cases);
}
