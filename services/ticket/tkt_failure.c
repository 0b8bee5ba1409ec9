/* Transient or permanent: see tkt_failure.h for the table and why. */
#include "tkt_failure.h"

/* 4xx answers that say "not now" or "not with these credentials" rather
 * than "never": asking again later can succeed. */
static int transient_4xx(int status)
{
    return status == 401 || status == 403 || status == 408 || status == 409 || status == 425 ||
           status == 429;
}

tkt_failure_t tkt_failure_of(const tkt_crm_result_t *res)
{
    if (res->ok)
        return TKT_FAIL_NONE;
    if (res->refused)
        return TKT_FAIL_PERMANENT;
    if (res->closed) /* R-T7/R-T10 redirect it; not a verdict on the op */
        return TKT_FAIL_TRANSIENT;
    if (!tkt_failure_status_transient(res->http_status))
        return TKT_FAIL_PERMANENT;
    return TKT_FAIL_TRANSIENT; /* no answer, 5xx, or a failure outside the CRM */
}

int tkt_failure_status_transient(int http_status)
{
    return http_status < 400 || http_status >= 500 || transient_4xx(http_status);
}

int tkt_failure_outlived(int64_t first_ms, int64_t now_ms, int64_t limit_ms)
{
    return limit_ms > 0 && first_ms > 0 && now_ms - first_ms >= limit_ms;
}
