/* The CRM adapter layer: what every CRM adapter (tkt_crm.h) shares, so
 * that an adapter is only the mapping of our operations onto its CRM's API
 * and a description of that CRM's limits.
 *
 * - An "op" is one tkt_crm_ops_t call. It owns a heap result (lists made
 *   only for the kinds that fill them) and runs one HTTP request at a time;
 *   the adapter's step function gets each final answer and either finishes
 *   the op (exactly one callback) or starts the op's next request.
 * - Every request goes through crm_ratelimit with the op's priority (the
 *   CRM's budget per window, parallel requests, interactive deadlines),
 *   libcurl multi on the loop (crm_curl), 5xx / network retries with
 *   backoff, 429 with its Retry-After (the whole account or one request).
 * - Creation safety: a create whose answer was lost is looked up (the
 *   adapter's verify_url) before it is sent again; a bulk write with no
 *   clear answer is never sent again (its items end maybe_applied).
 * - Credentials: a 401/403 marks the CRM auth-failing (callers hold their
 *   work, /readyz fails, counted) until the next 2xx.
 * - Shutdown: crm_adapter_free ends every op once with "shut down".
 *
 * Memory: the layer owns ops, their results and requests; a result is
 * borrowed by the callback for its duration. Loop thread only. */
#ifndef CRM_ADAPTER_H
#define CRM_ADAPTER_H

#include "tkt_crm.h"
#include "crm_curl.h"
#include "crm_ratelimit.h"

#include <event2/event.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct crm_adapter crm_adapter_t;
typedef struct crm_op crm_op_t;
typedef struct crm_http crm_http_t; /* the op's current request (private) */

/* A final answer for the op's current request. json: the body parsed as
 * JSON, or NULL; exhausted: retries ran out (resp is the last failure).
 * resp and json are borrowed for the call. */
typedef void (*crm_step_fn)(crm_op_t *op, const crm_curl_resp_t *resp, json_t *json, int exhausted);
/* A timer of the op's came due (crm_op_after). */
typedef void (*crm_timer_fn)(crm_op_t *op);

/* A CRM's limits as its vendor documents them; 0 = the layer's default
 * (in brackets). */
typedef struct {
    int requests_per_window; /* the account's budget per window [700] */
    int window_ms;           /* [60000] */
    double safety;           /* share of the budget we use [0.9] */
    int max_in_flight;       /* parallel requests [8] */
    int timeout_ms;          /* one HTTP exchange [10000] */
    int max_tries;           /* per request, 5xx / network errors [5] */
    int backoff_base_ms;     /* [500] */
    int backoff_max_ms;      /* [30000] */
    /* Interactive requests still queued this long are dropped unsent (the
     * IVR has answered 504 by then); at most this many queued. 0 = none. */
    int interactive_ttl_ms;
    size_t interactive_max_queued;
} crm_limits_t;

/* What the layer needs to know of one CRM. Every hook gets `impl`, the
 * adapter's own state (crm_adapter_impl). */
typedef struct {
    const char *name; /* "zendesk": log lines */
    /* Headers of every request (NULL-terminated; static). A request with a
     * body adds its Content-Type (crm_http_start_ct, else JSON). */
    const char *const *headers;
    /* Sends one attempt with the CRM's credentials; cb runs exactly once.
     * NULL: crm_curl_request with the Basic user/password of
     * crm_adapter_set_basic_auth. 0 = started, -1 = not (cb not run). */
    int (*send)(void *impl, const crm_curl_req_t *req, crm_curl_done_fn cb, void *ctx);
    /* A 429: CRM_RL_PAUSE (the account's budget is spent: everything waits)
     * or CRM_RL_WAIT (a limit of this request only). NULL: PAUSE. */
    crm_rl_kind_t (*classify_429)(void *impl, const crm_curl_resp_t *resp);
    /* Creation safety, for ops marked crm_op_verify_create: the GET that
     * finds the record an unclear attempt may have made (new string), and
     * whether its answer found it (*found: the JSON the op's step then gets
     * as if the create had answered 200; the layer decrefs it). NULL: none. */
    char *(*verify_url)(void *impl, const crm_op_t *op);
    int (*verify_found)(void *impl, const crm_curl_resp_t *resp, json_t **found);
} crm_desc_t;

/* One op. The fields below the line are the adapter's to use as its
 * operations need (the layer reads n_sent / job_id / external_id). */
struct crm_op {
    crm_adapter_t *adapter;
    const char *name; /* static: "create_ticket" ... (metrics, logs) */
    tkt_prio_t prio;
    tkt_crm_result_t *res;
    /* ------------------------------------------------ adapter's state */
    char ticket_id[TKT_ID_MAX];
    char external_id[TKT_EXTERNAL_ID_MAX];
    char *marker;  /* freed with the op */
    char *job_ids; /* freed with the op */
    int pages;
    /* Bulk writes: n_sent > 0 with no job_id means the request itself is a
     * write whose unclear failure is never retried blind. */
    char job_id[80];
    int64_t job_started_ms;
    int poll_delay_ms;
    tkt_crm_job_fn on_job;
    size_t n_sent;
    int creating;
    unsigned short slot[TKT_CRM_MAX_BULK]; /* batch index -> caller's index */
    void *data;                            /* adapter's; freed with free() when set */
    /* ------------------------------------------------ layer's */
    tkt_crm_cb cb;
    void *ctx;
    crm_http_t *http;
    struct event *timer;
    crm_timer_fn timer_fn; /* NULL: the timer finishes the op */
    int verify_create;
    crm_op_t *prev, *next;
};

/* A new layer on `base` (borrowed, outlives it). `desc` is borrowed
 * (static); `impl` is the adapter's, passed to its hooks, not owned. The
 * tkt_crm_t the adapter returns must be crm_adapter_crm()'s. NULL with
 * errstr on bad limits or no memory. */
crm_adapter_t *crm_adapter_new(struct event_base *base, const crm_desc_t *desc, void *impl,
                               const tkt_crm_ops_t *ops, const crm_limits_t *limits, char *errstr,
                               size_t errsz);
/* Ends every op once with "shut down" (queued, in flight, waiting on a
 * timer), then frees the layer. Never from inside one of its callbacks. */
void crm_adapter_free(crm_adapter_t *a);

/* The tkt_crm_t callers hold (ops = the adapter's table), and back. */
tkt_crm_t *crm_adapter_crm(crm_adapter_t *a);
crm_adapter_t *crm_adapter_of(const tkt_crm_t *crm);
void *crm_adapter_impl(const crm_adapter_t *a);
struct event_base *crm_adapter_base(const crm_adapter_t *a);
crm_curl_t *crm_adapter_curl(const crm_adapter_t *a); /* NULL once freeing */

/* Basic credentials for the default send (copied). 0, -1 on no memory. */
int crm_adapter_set_basic_auth(crm_adapter_t *a, const char *user, const char *password)
    __attribute__((warn_unused_result));

size_t crm_adapter_pending(const crm_adapter_t *a);       /* ops not yet finished */
int crm_adapter_auth_failing(const crm_adapter_t *a);     /* tkt_crm_ops_t.auth_failing */
size_t crm_adapter_requests_sent(const crm_adapter_t *a); /* HTTP attempts */
size_t crm_adapter_rate_limited(const crm_adapter_t *a);  /* 429 answers */
size_t crm_adapter_retries(const crm_adapter_t *a);       /* 5xx / network retries */
/* tkt_crm_ops_t.pending and .auth_failing of every adapter on the layer. */
size_t crm_pending(const tkt_crm_t *crm);
int crm_auth_failing(const tkt_crm_t *crm);
/* The limiter's budget per window (for a start-up log line). */
size_t crm_adapter_budget(const crm_adapter_t *a);

/* --------------------------------------------------------------- ops */

/* A new op, or NULL when shutting down or out of memory (cb has then run
 * with the error: return at once). `name` is static. */
crm_op_t *crm_op_new(crm_adapter_t *a, const char *name, tkt_prio_t prio, tkt_crm_cb cb, void *ctx);
/* The op's one callback, then the op is freed. */
void crm_op_finish(crm_op_t *op);
/* ok = 1 with resp's status, then finish. */
void crm_op_succeed(crm_op_t *op, const crm_curl_resp_t *resp);
/* ok = 0 with the error text, then finish. */
void crm_op_fail(crm_op_t *op, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same from the loop (callers are promised a callback from the loop,
 * never from inside their call): for refusals found before any request. */
void crm_op_fail_later(crm_op_t *op, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same, for an op the adapter refuses because, as asked, it can never
 * succeed (res->refused: tkt_failure.h makes that a permanent failure).
 * Not for what may pass later (memory, a queue, shut down): crm_op_fail_later. */
void crm_op_refuse(crm_op_t *op, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void crm_op_finish_later(crm_op_t *op);
/* Runs fn(op) after ms (job polls). Shutdown finishes a waiting op. */
void crm_op_after(crm_op_t *op, int ms, crm_timer_fn fn);
/* An unclear failure of this op's create is looked up (desc->verify_url)
 * before the create is sent again. */
void crm_op_verify_create(crm_op_t *op);
/* Starts the op's next request; url and body are taken over (freed by the
 * layer, also on failure: the op then fails from the loop). body NULL:
 * none (a POST without one is refused as "out of memory", which is what a
 * NULL from a body builder means, unless allow_empty). */
void crm_http_start(crm_op_t *op, const char *metric_op, const char *method, char *url, char *body,
                    crm_step_fn step);
/* The same with the body's Content-Type header line ("Content-Type:
 * multipart/mixed; boundary=...") and whether an empty body is meant. A
 * request without a body sends the line as one more header (Dataverse's
 * "Prefer: odata.track-changes" of a change-tracking GET). */
void crm_http_start_ct(crm_op_t *op, const char *metric_op, const char *method, char *url,
                       char *body, const char *content_type_header, int allow_empty,
                       crm_step_fn step);

/* ------------------------------------------------------ small helpers */

/* Copies with truncation (error texts and ids may be cut, never overrun). */
void crm_copy_str(char *dst, size_t dstsz, const char *src);
/* A new string from a format; NULL on no memory. */
char *crm_str_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A JSON string of text from calls and telephony that may not be valid
 * UTF-8: invalid bytes become U+FFFD instead of the field going missing. */
json_t *crm_json_str(const char *s);
/* A new compact JSON text of j, which is consumed (NULL in: NULL out). */
char *crm_json_text(json_t *j);

#endif
