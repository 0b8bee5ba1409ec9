/* rec_webex_list.h: the Search API's task query, paged by cursor. */
#include "rec_webex_list.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char query[] =
    "query($from: Long!, $to: Long!, $cursor: String) {"
    " task(from: $from, to: $to, filter: {channelType: {equals: telephony}},"
    " pagination: {cursor: $cursor}) {"
    " tasks { id channelType direction origin destination status isActive createdTime"
    " endedTime lastQueue { name } lastAgent { id name } queueDuration connectedDuration"
    " holdDuration totalDuration terminationType }"
    " pageInfo { hasNextPage endCursor } } }";

/* One page; *cursor: the next page's (new string) or NULL. */
static int one_page(const rec_webex_cfg_t *cfg, int64_t from_ms, int64_t to_ms, json_t *tasks,
                    char **cursor, char *errstr, size_t errsz)
{
    char url[1024];
    rec_http_reply_t r = {0};
    int rc = -1;
    json_t *doc = NULL;
    json_t *req = json_pack("{s:s, s:{s:I, s:I, s:s?}}", "query", query, "variables", "from",
                            (json_int_t)from_ms, "to", (json_int_t)to_ms, "cursor", *cursor);
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    free(*cursor);
    *cursor = NULL;
    snprintf(url, sizeof url, "%s/search", cfg->api_url);
    if (!body || rec_http_request(&cfg->http, url, body, &r, errstr, errsz) < 0)
        goto cleanup;
    doc = json_loadb(r.body ? r.body : "", r.len, 0, NULL);
    const json_t *task = json_object_get(json_object_get(doc, "data"), "task");
    const json_t *list = json_object_get(task, "tasks");
    const json_t *info = json_object_get(task, "pageInfo");
    if (r.status != 200 || json_object_get(doc, "errors") || !json_is_array(list)) {
        snprintf(errstr, errsz, "Webex search: HTTP %ld: %.200s", r.status, r.body ? r.body : "");
        goto cleanup;
    }
    json_array_extend(tasks, (json_t *)list);
    const char *next = json_string_value(json_object_get(info, "endCursor"));
    if (json_is_true(json_object_get(info, "hasNextPage")) && next && !(*cursor = strdup(next)))
        goto cleanup;
    rc = 0;
cleanup:
    rec_http_reply_free(&r);
    json_decref(doc);
    json_decref(req);
    free(body);
    return rc;
}

int rec_webex_list(const rec_webex_cfg_t *cfg, int64_t from_ms, int64_t to_ms, json_t **tasks,
                   char *errstr, size_t errsz)
{
    char *cursor = NULL;
    if (!(*tasks = json_array()))
        return -1;
    do {
        if (one_page(cfg, from_ms, to_ms, *tasks, &cursor, errstr, errsz) < 0) {
            json_decref(*tasks);
            *tasks = NULL;
            return -1;
        }
    } while (cursor);
    return 0;
}
