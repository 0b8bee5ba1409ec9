/* Twilio's Calls resource, read for a window (issue 27): GET
 * {api}/2010-04-01/Accounts/{AccountSid}/Calls.json?StartTime>=&StartTime<=
 * &PageSize=, basic auth (the Account SID and auth token, or an API key's
 * SID and secret), following next_page_uri to the last page. The filter
 * takes dates (UTC days), so the records are then kept by start_time: each
 * call whose own (parent) leg started in the window, with all its child
 * legs (ParentCallSid), wherever they started. */
#ifndef REC_TWILIO_LIST_H
#define REC_TWILIO_LIST_H

#include "rec_http.h"

#include <jansson.h>
#include <stdint.h>

typedef struct {
    const char *api_url; /* https://api.twilio.com, or an emulator */
    const char *account_sid;
    int page_size;
    rec_http_opts_t http; /* user/password: the credentials */
} rec_twilio_cfg_t;

/* *calls: a new object, call id -> array of its legs (Calls records), in
 * the order listed. 0, or -1 with errstr set (an error answer, a page that
 * is not the documented JSON, no answer). */
int rec_twilio_list(const rec_twilio_cfg_t *cfg, int64_t from_ms, int64_t to_ms, json_t **calls,
                    char *errstr, size_t errsz) __attribute__((warn_unused_result));

#endif
