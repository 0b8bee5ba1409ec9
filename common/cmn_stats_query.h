/* The statistics' read side (issue 25 item 3): the stats service's day
 * hashes in Redis, read for a range of UTC days and summed by agent, queue
 * or day, with each call kind's share; rendered as JSON or CSV.
 *
 * The layout is the stats contract's (docs/pop.md "Statistics"): one hash
 * per UTC day, key `<ns>stats:d:<YYYY-MM-DD>` (ns: the installation's
 * CALLBUS_TOPIC_PREFIX, as every service's Redis keys; empty by default),
 * field `<figure>\x1f<kind>\x1f<queue>\x1f<agent>`, value an integer.
 * Only the stats service writes them; this module only reads.
 *
 * R-S2: the average time to close is close_s_sum / close_n, null when
 * close_n is 0 (no ticket whose created and closed times differ). R-S1:
 * crm_requests and crm_saved are summed like the other figures.
 *
 * Aggregation and rendering are pure (no I/O; tests/common/unit/
 * test_stats_query.c); cmn_stats_query_start reads Redis on the caller's
 * loop. Not thread-safe: one aggregate belongs to one thread. */
#ifndef CMN_STATS_QUERY_H
#define CMN_STATS_QUERY_H

#include "cmn_redis.h"

#include <jansson.h>
#include <stddef.h>

/* The figures, in the contract's (and the CSV's) order. */
#define CMN_STATS_FIGURES(X)                                                                       \
    X(CALLS, "calls")                                                                              \
    X(ANSWERED, "answered")                                                                        \
    X(MISSED, "missed")                                                                            \
    X(TICKETS_CREATED, "tickets_created")                                                          \
    X(REOPENED, "reopened")                                                                        \
    X(SOLVED, "solved")                                                                            \
    X(CLOSED, "closed")                                                                            \
    X(CLOSE_S_SUM, "close_s_sum")                                                                  \
    X(CLOSE_N, "close_n")                                                                          \
    X(MISSED_GROUPED, "missed_grouped")                                                            \
    X(POPS_DELIVERED, "pops_delivered")                                                            \
    X(POPS_ACKNOWLEDGED, "pops_acknowledged")                                                      \
    X(CRM_REQUESTS, "crm_requests")                                                                \
    X(CRM_SAVED, "crm_saved")

typedef enum {
#define CMN_STATS_ENUM(id, name) CMN_STATS_##id,
    CMN_STATS_FIGURES(CMN_STATS_ENUM)
#undef CMN_STATS_ENUM
        CMN_STATS_N_FIGURES
} cmn_stats_figure_t;

typedef enum { CMN_STATS_BY_AGENT, CMN_STATS_BY_QUEUE, CMN_STATS_BY_DAY } cmn_stats_by_t;

/* "agent", "queue", "day" into *by: 0, or -1 for anything else. */
int cmn_stats_by_parse(const char *text, cmn_stats_by_t *by) __attribute__((warn_unused_result));
const char *cmn_stats_by_name(cmn_stats_by_t by);

/* A UTC day "YYYY-MM-DD" (exactly that form, a real date) as days since
 * 1970-01-01: 0, or -1. */
int cmn_stats_day_parse(const char *text, long *day) __attribute__((warn_unused_result));
#define CMN_STATS_DAY_LEN 10
/* out: at least CMN_STATS_DAY_LEN + 1 bytes. */
void cmn_stats_day_format(long day, char *out, size_t outsz);

/* One hash field, split: pointers into the field (not NUL-terminated). */
typedef struct {
    cmn_stats_figure_t figure;
    const char *kind, *queue, *agent;
    size_t kind_len, queue_len, agent_len;
} cmn_stats_field_t;

/* Splits `<figure>\x1f<kind>\x1f<queue>\x1f<agent>`: 0; 1 when the
 * figure is not one this build knows (a newer writer: skipped, not an
 * error); -1 when the field is malformed (not four non-empty parts). */
int cmn_stats_field_parse(const char *field, size_t len, cmn_stats_field_t *out)
    __attribute__((warn_unused_result));

typedef struct cmn_stats_agg cmn_stats_agg_t;

/* An empty aggregate keyed by `by`. NULL when out of memory. */
cmn_stats_agg_t *cmn_stats_agg_new(cmn_stats_by_t by);
/* A row for key even if nothing is added to it (by=day: every day of the
 * range shows, zero or not). 0, or -1 when out of memory. */
int cmn_stats_agg_key(cmn_stats_agg_t *g, const char *key) __attribute__((warn_unused_result));
/* Adds one cell of day `day` ("YYYY-MM-DD"): field and value as Redis
 * holds them (value an integer in text). 0 added; 1 skipped (unknown
 * figure, malformed field or value: counted in cmn_stats_agg_skipped);
 * -1 out of memory. */
int cmn_stats_agg_add(cmn_stats_agg_t *g, const char *day, const char *field, size_t field_len,
                      const char *value, size_t value_len) __attribute__((warn_unused_result));
size_t cmn_stats_agg_rows(const cmn_stats_agg_t *g);
size_t cmn_stats_agg_skipped(const cmn_stats_agg_t *g);
/* Row i's key (rows sorted by key, bytewise) and figure f; a figure of
 * the totals with row == (size_t)-1 (CMN_STATS_TOTAL). */
#define CMN_STATS_TOTAL ((size_t)-1)
const char *cmn_stats_agg_row_key(const cmn_stats_agg_t *g, size_t row);
long long cmn_stats_agg_get(const cmn_stats_agg_t *g, size_t row, cmn_stats_figure_t f);

/* The contract's JSON body ({from, to, by, rows: [...], totals}): a new
 * reference, NULL when out of memory. */
json_t *cmn_stats_agg_json(const cmn_stats_agg_t *g, const char *from, const char *to);
/* RFC 4180 CSV: header, one line per row, a TOTAL line; CRLF line ends.
 * A new NUL-terminated string the caller frees; NULL when out of memory. */
char *cmn_stats_agg_csv(const cmn_stats_agg_t *g, size_t *len);
void cmn_stats_agg_free(cmn_stats_agg_t *g); /* NULL-safe */

/* Reads days from_day..to_day (cmn_stats_day_parse's numbers, inclusive)
 * one HGETALL at a time into a new aggregate. 0: cb is called exactly
 * once, later, on the loop, with the aggregate (cb owns it: it frees it)
 * or with agg NULL and err saying why (Redis gone, out of memory). -1:
 * Redis is not connected now or out of memory; cb will not be called.
 * ns and the days are copied. */
typedef void (*cmn_stats_query_fn)(void *ctx, cmn_stats_agg_t *agg, const char *err);
int cmn_stats_query_start(cmn_redis_t *r, const char *ns, long from_day, long to_day,
                          cmn_stats_by_t by, cmn_stats_query_fn cb, void *ctx)
    __attribute__((warn_unused_result));

#endif
