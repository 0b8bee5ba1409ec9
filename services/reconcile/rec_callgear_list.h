/* CallGear's Data API read for a window (issue 27): JSON-RPC 2.0 over
 * HTTPS, POST {api} {"jsonrpc":"2.0","id":n,"method":"get.calls_report",
 * "params":{"access_token","date_from","date_till","limit","offset",
 * "fields"}}, paged by offset until result.metadata.total_items; the same
 * for get.call_legs_report (to an hour past the window: legs start after
 * their session), for each session's last leg (the /end notification's
 * leg_id). Dates are the account's wall time
 * (CALLBUS_INGEST_CALLGEAR_TIME_ZONE, as ingest reads CallGear's times). A
 * rate-limit error (HTTP 429, or the JSON-RPC error limit_exceeded) is
 * waited out and retried. */
#ifndef REC_CALLGEAR_LIST_H
#define REC_CALLGEAR_LIST_H

#include "rec_http.h"

#include <jansson.h>
#include <stdint.h>

typedef struct {
    const char *api_url; /* https://dataapi.callgear.com/v2.0, or an emulator */
    const char *access_token;
    const char *time_zone; /* IANA; NULL: UTC */
    int page_size;
    rec_http_opts_t http;
} rec_callgear_cfg_t;

/* *calls: a new array of the calls-report records (sessions started in the
 * window); *last_legs: a new object, session id (text) -> the greatest leg
 * id of the session. 0, or -1 with errstr set (an error answer, a page not
 * as documented, no answer). */
int rec_callgear_list(const rec_callgear_cfg_t *cfg, int64_t from_ms, int64_t to_ms, json_t **calls,
                      json_t **last_legs, char *errstr, size_t errsz)
    __attribute__((warn_unused_result));

#endif
