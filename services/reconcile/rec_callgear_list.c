/* rec_callgear_list.h: the Data API's reports, paged. */
#include "rec_callgear_list.h"
#include "cmn_time.h"
#include "rec_callgear.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const call_fields[] = {"id",
                                          "start_time",
                                          "finish_time",
                                          "direction",
                                          "is_lost",
                                          "contact_phone_number",
                                          "contact_full_name",
                                          "virtual_phone_number",
                                          "scenario_name",
                                          "wait_duration",
                                          "talk_duration",
                                          "total_duration",
                                          "tags",
                                          "last_answered_employee_id",
                                          "last_answered_employee_full_name",
                                          "employees",
                                          "scenario_operations"};
static const char *const leg_fields[] = {"id", "call_session_id"};
#define REC_CALLGEAR_LEG_MARGIN_MS (3600 * 1000LL)

static void wall_time(int64_t ms, const char *zone, char *out, size_t outsz)
{
    struct tm tm;
    if (cmn_time_local_in_zone(ms, zone, &tm) < 0) {
        time_t t = (time_t)(ms / 1000);
        gmtime_r(&t, &tm);
    }
    strftime(out, outsz, "%Y-%m-%d %H:%M:%S", &tm);
}

static json_t *fields_of(const char *const *names, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(names[i]));
    return a;
}

/* 1 when a JSON-RPC error is CallGear's rate limit (wait and retry). */
static int throttled(const json_t *error)
{
    const char *mnemonic =
        json_string_value(json_object_get(json_object_get(error, "data"), "mnemonic"));
    return json_integer_value(json_object_get(error, "code")) == -32029 ||
           (mnemonic && strcmp(mnemonic, "limit_exceeded") == 0);
}

/* One call of `method`: its result (a new reference), or NULL with errstr. */
static json_t *rpc(const rec_callgear_cfg_t *cfg, const char *method, json_t *params, char *errstr,
                   size_t errsz)
{
    json_t *result = NULL;
    json_t *req = json_pack("{s:s, s:i, s:s, s:O}", "jsonrpc", "2.0", "id", 1, "method", method,
                            "params", params);
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    for (int attempt = 0; body && attempt <= cfg->http.retries; attempt++) {
        rec_http_reply_t r;
        json_t *doc = NULL;
        if (rec_http_request(&cfg->http, cfg->api_url, body, &r, errstr, errsz) == 0)
            doc = json_loadb(r.body ? r.body : "", r.len, 0, NULL);
        const json_t *error = json_object_get(doc, "error");
        if (doc && !error && json_is_object(json_object_get(doc, "result")))
            result = json_incref(json_object_get(doc, "result"));
        else if (error)
            snprintf(errstr, errsz, "CallGear %s: error %lld %s", method,
                     (long long)json_integer_value(json_object_get(error, "code")),
                     json_string_value(json_object_get(error, "message"))
                         ? json_string_value(json_object_get(error, "message"))
                         : "");
        else if (r.status)
            snprintf(errstr, errsz, "CallGear %s: HTTP %ld, not a JSON-RPC answer", method,
                     r.status);
        int again = !result && error && throttled(error);
        json_decref(doc);
        rec_http_reply_free(&r);
        if (!again)
            break;
        struct timespec pause = {.tv_sec = 1 << (attempt < 5 ? attempt : 5), .tv_nsec = 0};
        nanosleep(&pause, NULL);
    }
    free(body);
    json_decref(req);
    return result;
}

/* Every record of `method` for the window, appended to `out`. */
static int report(const rec_callgear_cfg_t *cfg, const char *method, json_t *fields,
                  const char *from, const char *till, json_t *out, char *errstr, size_t errsz)
{
    for (long offset = 0;;) {
        json_t *params = json_pack("{s:s, s:s, s:s, s:i, s:I, s:O}", "access_token",
                                   cfg->access_token, "date_from", from, "date_till", till, "limit",
                                   cfg->page_size, "offset", (json_int_t)offset, "fields", fields);
        json_t *result = params ? rpc(cfg, method, params, errstr, errsz) : NULL;
        json_decref(params);
        const json_t *data = json_object_get(result, "data");
        json_int_t total =
            json_integer_value(json_object_get(json_object_get(result, "metadata"), "total_items"));
        if (!json_is_array(data)) {
            if (result)
                snprintf(errstr, errsz, "CallGear %s: the result has no data array", method);
            json_decref(result);
            return -1;
        }
        size_t n = json_array_size(data);
        json_array_extend(out, (json_t *)data);
        json_decref(result);
        offset += (long)n;
        if (n == 0 || offset >= total)
            return 0;
    }
}

/* session id -> its greatest leg id. */
static int last_legs_of(const json_t *legs, json_t *out)
{
    size_t i;
    json_t *leg;
    char key[32];
    json_array_foreach(legs, i, leg)
    {
        const json_t *session = json_object_get(leg, "call_session_id");
        const json_t *id = json_object_get(leg, "id");
        json_t *fake = json_pack("{s:O?}", "id", session);
        const char *k = fake ? rec_callgear_call_id(fake, key, sizeof key) : NULL;
        json_decref(fake);
        if (!k || !json_is_integer(id))
            continue;
        const json_t *had = json_object_get(out, k);
        if (!had || json_integer_value(had) < json_integer_value(id))
            json_object_set(out, k, (json_t *)id);
    }
    return 0;
}

int rec_callgear_list(const rec_callgear_cfg_t *cfg, int64_t from_ms, int64_t to_ms, json_t **calls,
                      json_t **last_legs, char *errstr, size_t errsz)
{
    char from[32], till[32];
    json_t *legs = json_array();
    json_t *cf = fields_of(call_fields, sizeof call_fields / sizeof call_fields[0]);
    json_t *lf = fields_of(leg_fields, sizeof leg_fields / sizeof leg_fields[0]);
    int rc = -1;
    *calls = json_array();
    *last_legs = json_object();
    char legs_till[32];
    wall_time(from_ms, cfg->time_zone, from, sizeof from);
    wall_time(to_ms, cfg->time_zone, till, sizeof till);
    /* a session's last leg starts after the session: an hour's margin */
    wall_time(to_ms + REC_CALLGEAR_LEG_MARGIN_MS, cfg->time_zone, legs_till, sizeof legs_till);
    if (!legs || !cf || !lf || !*calls || !*last_legs) {
        snprintf(errstr, errsz, "out of memory");
        goto cleanup;
    }
    if (report(cfg, "get.calls_report", cf, from, till, *calls, errstr, errsz) < 0 ||
        report(cfg, "get.call_legs_report", lf, from, legs_till, legs, errstr, errsz) < 0)
        goto cleanup;
    rc = last_legs_of(legs, *last_legs);
cleanup:
    json_decref(legs);
    json_decref(cf);
    json_decref(lf);
    if (rc < 0) {
        json_decref(*calls);
        json_decref(*last_legs);
        *calls = *last_legs = NULL;
    }
    return rc;
}
