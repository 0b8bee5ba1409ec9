/* Webex Contact Center's Search API read for a window (issue 27): POST
 * {api}/search, bearer token, a GraphQL `task` query with from/to in epoch
 * ms and the telephony channel, paged by pageInfo.hasNextPage/endCursor
 * (the `pagination: {cursor}` argument). HTTP 429 is waited out as
 * Retry-After says; GraphQL `errors` or another status fail the run. */
#ifndef REC_WEBEX_LIST_H
#define REC_WEBEX_LIST_H

#include "rec_http.h"

#include <jansson.h>
#include <stdint.h>

typedef struct {
    const char *api_url;  /* https://api.wxcc-us1.cisco.com, or an emulator */
    rec_http_opts_t http; /* bearer: the access token */
} rec_webex_cfg_t;

/* *tasks: a new array of the telephony tasks created in the window. 0, or
 * -1 with errstr set. */
int rec_webex_list(const rec_webex_cfg_t *cfg, int64_t from_ms, int64_t to_ms, json_t **tasks,
                   char *errstr, size_t errsz) __attribute__((warn_unused_result));

#endif
