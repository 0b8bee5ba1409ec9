/* The statistics for supervisors: the API and the page (pop_api_stats.h). */
#include "pop_api_stats.h"

#include "cmn_log.h"
#include "cmn_stats_query.h"
#include "pop_assets.h"
#include "pop_page.h"
#include "pop_supervisor.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pop_api_stats {
    const pop_config_t *cfg;
    pop_api_t *api;
    pop_store_t *store;
    size_t in_flight;
};

typedef struct {
    pop_api_stats_t *s;
    struct evhttp_request *req;
    char from[CMN_STATS_DAY_LEN + 1], to[CMN_STATS_DAY_LEN + 1];
    long from_day, to_day;
    cmn_stats_by_t by;
    int csv;
} ask_t;

static void ask_free(ask_t *a)
{
    a->s->in_flight--;
    free(a);
}

static void reply_csv(ask_t *a, const cmn_stats_agg_t *agg)
{
    size_t len = 0;
    char *csv = cmn_stats_agg_csv(agg, &len), name[160];
    struct evbuffer *out = evbuffer_new();
    if (!csv || !out || evbuffer_add(out, csv, len) < 0) {
        cmn_http_reply_unavailable(a->req, 1, "out of memory");
        goto cleanup;
    }
    struct evkeyvalq *h = evhttp_request_get_output_headers(a->req);
    snprintf(name, sizeof name, "attachment; filename=\"callbus-stats-%s-%s-%s.csv\"",
             cmn_stats_by_name(a->by), a->from, a->to);
    evhttp_add_header(h, "Content-Type", "text/csv; charset=utf-8; header=present");
    evhttp_add_header(h, "Content-Disposition", name);
    evhttp_add_header(h, "Cache-Control", "no-store");
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    evhttp_send_reply(a->req, 200, NULL, out);
cleanup:
    if (out)
        evbuffer_free(out);
    free(csv);
}

static void on_figures(void *ctx, cmn_stats_agg_t *agg, const char *err)
{
    ask_t *a = ctx;
    if (!agg) {
        LOG_WARN("stats: %s", err);
        cmn_http_reply_unavailable(a->req, 1, "the statistics could not be read (redis)");
    } else {
        if (cmn_stats_agg_skipped(agg))
            LOG_WARN("stats %s..%s: %zu cells not understood, skipped", a->from, a->to,
                     cmn_stats_agg_skipped(agg));
        if (a->csv) {
            reply_csv(a, agg);
        } else {
            json_t *body = cmn_stats_agg_json(agg, a->from, a->to);
            if (body) {
                evhttp_add_header(evhttp_request_get_output_headers(a->req), "Cache-Control",
                                  "no-store");
                cmn_http_reply_json(a->req, 200, body);
            } else {
                cmn_http_reply_unavailable(a->req, 1, "out of memory");
            }
        }
        cmn_stats_agg_free(agg);
    }
    ask_free(a);
}

/* Only a supervisor reads the figures (they name every agent): who is NULL
 * when pop_api_with_agent answered already (401, 503). */
static void on_agent(void *ctx, const pop_session_info_t *who)
{
    ask_t *a = ctx;
    if (!who) {
        ask_free(a);
        return;
    }
    if (!pop_supervisor_is(a->s->cfg->supervisors, who->crm_id)) {
        cmn_http_reply_error(a->req, 403, "the statistics are for supervisors", NULL);
        ask_free(a);
        return;
    }
    if (cmn_stats_query_start(pop_store_redis(a->s->store), pop_store_ns(a->s->store), a->from_day,
                              a->to_day, a->by, on_figures, a) < 0) {
        cmn_http_reply_unavailable(a->req, 1, "redis unavailable");
        ask_free(a);
    }
}

/* The query's parameters into a: NULL, or the message of the 400 with
 * *field the parameter at fault. */
static const char *parse_ask(ask_t *a, struct evhttp_request *req, long max_days,
                             const char **field)
{
    char by[16] = "", format[64] = "json";
    *field = "from";
    if (cmn_http_query_param(req, "from", a->from, sizeof a->from) < 0 ||
        cmn_stats_day_parse(a->from, &a->from_day) < 0)
        return "from: the first UTC day, YYYY-MM-DD";
    *field = "to";
    if (cmn_http_query_param(req, "to", a->to, sizeof a->to) < 0 ||
        cmn_stats_day_parse(a->to, &a->to_day) < 0)
        return "to: the last UTC day (inclusive), YYYY-MM-DD";
    if (a->to_day < a->from_day)
        return "to: before from";
    if (a->to_day - a->from_day + 1 > max_days)
        return "to: the range is longer than CALLBUS_STATS_MAX_DAYS";
    *field = "by";
    if (cmn_http_query_param(req, "by", by, sizeof by) < 0 || cmn_stats_by_parse(by, &a->by) < 0)
        return "by: agent, queue or day";
    *field = "format";
    if (cmn_http_query_param(req, "format", format, sizeof format) < 0)
        snprintf(format, sizeof format, "json"); /* absent: JSON */
    if (strcmp(format, "json") != 0 && strcmp(format, "csv") != 0)
        return "format: json or csv";
    a->csv = strcmp(format, "csv") == 0;
    return NULL;
}

static void on_stats(struct evhttp_request *req, const char *path, void *arg)
{
    (void)path;
    pop_api_stats_t *s = arg;
    ask_t *a = calloc(1, sizeof *a);
    if (!a) {
        cmn_http_reply_unavailable(req, 1, "out of memory");
        return;
    }
    a->s = s;
    a->req = req;
    s->in_flight++;
    const char *field = NULL, *bad = parse_ask(a, req, s->cfg->stats_max_days, &field);
    if (bad) {
        cmn_http_reply_error(req, 400, bad, field);
        ask_free(a);
        return;
    }
    if (pop_api_with_agent(s->api, req, on_agent, a) < 0)
        ask_free(a);
}

/* The supervisor page: plain files compiled in (www/supervisor.*), under
 * the agent page's Content-Security-Policy (its own scripts only; the
 * OpenID Connect issuer for the sign-in). */
static void on_page(struct evhttp_request *req, const char *path, void *arg)
{
    pop_api_stats_t *s = arg;
    const pop_asset_t *as =
        pop_asset_find(strcmp(path, "/supervisor") == 0 ? "/supervisor/" : path);
    if (!as) {
        cmn_http_reply_error(req, 404, "no such file", NULL);
        return;
    }
    struct evbuffer *out = evbuffer_new();
    if (!out || evbuffer_add(out, as->data, as->len) < 0) {
        cmn_http_reply_unavailable(req, 1, "out of memory");
    } else {
        pop_page_headers(req, as->type, pop_api_csp(s->api));
        evhttp_send_reply(req, 200, NULL, out);
    }
    if (out)
        evbuffer_free(out);
}

pop_api_stats_t *pop_api_stats_new(cmn_http_t *http, const pop_config_t *cfg, pop_api_t *api,
                                   pop_store_t *store)
{
    pop_api_stats_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    *s = (pop_api_stats_t){cfg, api, store, 0};
    if (cmn_http_route(http, "stats", "/v1/stats", CMN_HTTP_GET, on_stats, s) < 0 ||
        cmn_http_route(http, "supervisor_page", "/supervisor", CMN_HTTP_GET, on_page, s) < 0 ||
        cmn_http_route(http, "supervisor_page", "/supervisor/", CMN_HTTP_GET, on_page, s) < 0) {
        free(s);
        return NULL;
    }
    return s;
}

size_t pop_api_stats_in_flight(const pop_api_stats_t *s)
{
    return s ? s->in_flight : 0;
}

void pop_api_stats_free(pop_api_stats_t *s)
{
    free(s);
}
