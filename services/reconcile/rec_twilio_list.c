/* rec_twilio_list.h: the Calls resource, paged. */
#include "rec_twilio_list.h"
#include "rec_twilio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void day_of(int64_t ms, char *out, size_t outsz)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, outsz, "%Y-%m-%d", &tm);
}

/* One page: its records appended to *legs; *next = next_page_uri (new
 * string, NULL on the last page). */
static int one_page(const rec_twilio_cfg_t *cfg, const char *url, json_t *legs, char **next,
                    char *errstr, size_t errsz)
{
    rec_http_reply_t r;
    json_error_t jerr;
    json_t *doc = NULL;
    int rc = -1;
    *next = NULL;
    if (rec_http_request(&cfg->http, url, NULL, &r, errstr, errsz) < 0)
        goto cleanup;
    if (r.status != 200) {
        snprintf(errstr, errsz, "Twilio Calls: HTTP %ld: %.200s", r.status, r.body ? r.body : "");
        goto cleanup;
    }
    doc = json_loadb(r.body ? r.body : "", r.len, 0, &jerr);
    json_t *calls = json_object_get(doc, "calls");
    if (!json_is_array(calls)) {
        snprintf(errstr, errsz, "Twilio Calls: the page has no calls array");
        goto cleanup;
    }
    if (json_array_extend(legs, calls) < 0)
        goto cleanup;
    const char *uri = json_string_value(json_object_get(doc, "next_page_uri"));
    if (uri && *uri && !(*next = strdup(uri)))
        goto cleanup;
    rc = 0;
cleanup:
    json_decref(doc);
    rec_http_reply_free(&r);
    return rc;
}

static int list_legs(const rec_twilio_cfg_t *cfg, int64_t from_ms, int64_t to_ms, json_t *legs,
                     char *errstr, size_t errsz)
{
    char from_day[16], to_day[16], url[2048];
    char *next = NULL;
    day_of(from_ms, from_day, sizeof from_day);
    day_of(to_ms, to_day, sizeof to_day);
    snprintf(url, sizeof url,
             "%s/2010-04-01/Accounts/%s/Calls.json?StartTime%%3E=%s&StartTime%%3C=%s&PageSize=%d",
             cfg->api_url, cfg->account_sid, from_day, to_day, cfg->page_size);
    for (;;) {
        if (one_page(cfg, url, legs, &next, errstr, errsz) < 0)
            return -1;
        if (!next)
            return 0;
        snprintf(url, sizeof url, "%s%s", cfg->api_url, next); /* a path: relative to the API */
        free(next);
    }
}

/* Groups the legs by call: the calls whose own leg started in the window. */
static int group(const json_t *legs, int64_t from_ms, int64_t to_ms, json_t *calls)
{
    size_t i;
    json_t *leg;
    json_array_foreach(legs, i, leg)
    {
        int64_t start = rec_twilio_start_ms(leg);
        const char *sid = json_string_value(json_object_get(leg, "sid"));
        if (sid && !json_string_value(json_object_get(leg, "parent_call_sid")) &&
            start >= from_ms && start <= to_ms && json_object_set_new(calls, sid, json_array()) < 0)
            return -1;
    }
    json_array_foreach(legs, i, leg)
    {
        const char *call = rec_twilio_call_id(leg);
        json_t *of = call ? json_object_get(calls, call) : NULL;
        if (of && json_array_append(of, leg) < 0)
            return -1;
    }
    return 0;
}

int rec_twilio_list(const rec_twilio_cfg_t *cfg, int64_t from_ms, int64_t to_ms, json_t **calls,
                    char *errstr, size_t errsz)
{
    json_t *legs = json_array();
    *calls = json_object();
    if (!legs || !*calls || list_legs(cfg, from_ms, to_ms, legs, errstr, errsz) < 0 ||
        group(legs, from_ms, to_ms, *calls) < 0) {
        json_decref(legs);
        json_decref(*calls);
        *calls = NULL;
        return -1;
    }
    json_decref(legs);
    return 0;
}
