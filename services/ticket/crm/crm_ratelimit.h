/* Outgoing request scheduler for one CRM account: a requests-per-minute
 * budget over a sliding window, three priority queues, a concurrency cap,
 * pauses after 429 and retries with exponential backoff and jitter.
 *
 * The limiter never does I/O. Its owner submits requests; the limiter calls
 * the owner's `send` function when one may go out; the owner reports how
 * the exchange ended with crm_rl_complete(), which says whether the owner
 * is done with it or the limiter will send it again. Time comes from an
 * injectable clock, and the limiter is driven either by a timer on a
 * libevent loop (base != NULL) or, in unit tests, by calling crm_rl_pump()
 * after moving a fake clock -- nothing sleeps.
 *
 * Scheduling rules:
 *  - highest priority first (TKT_PRIO_INTERACTIVE), FIFO within a priority
 *    by submission order -- a request that comes back for another try keeps
 *    its place, so it goes before everything submitted after it;
 *  - at most floor(limit_per_min * safety) sends in any window_ms, counting
 *    every attempt, and at most max_in_flight at once;
 *  - never more than the server's X-Rate-Limit-Remaining says is left
 *    (crm_rl_observe);
 *  - CRM_RL_PAUSE (an account-wide 429): no request at all is sent until
 *    Retry-After has passed; the request is queued again, not lost, and the
 *    429 does not count as a try; when the pause ends, one request goes
 *    first, and the rest follow once a request sent after the pause has
 *    been answered without a 429;
 *  - CRM_RL_WAIT (a 429 that concerns this request only, e.g. a per-ticket
 *    limit or too many background jobs): this request alone waits;
 *  - CRM_RL_RETRY (5xx, network error, timeout): try again after
 *    backoff(n) = random in [d/2, d], d = min(backoff_max, backoff_base * 2^(n-1))
 *    (at least the server's Retry-After when it sent one), until max_tries
 *    attempts have been made; then CRM_RL_GIVE_UP. */
#ifndef CRM_RATELIMIT_H
#define CRM_RATELIMIT_H

#include "tkt_crm.h"

#include <event2/event.h>
#include <stddef.h>
#include <stdint.h>

typedef struct crm_rl crm_rl_t;
typedef struct crm_rl_req crm_rl_req_t; /* one submitted request; owned by the limiter */

typedef int64_t (*crm_rl_clock_fn)(void *ctx); /* monotonic milliseconds */

/* The request may go out now (attempt 1, 2, ...). The owner starts it and,
 * later, calls crm_rl_complete(); it may also do so from inside this call. */
typedef void (*crm_rl_send_fn)(void *owner, crm_rl_req_t *req, void *req_ctx, int attempt);
/* crm_rl_free(): a request that was still queued or waiting is dropped. */
typedef void (*crm_rl_drop_fn)(void *owner, void *req_ctx);

typedef struct {
    int limit_per_min;     /* the account's plan limit (Zendesk: 200..2500); 0 = 700 */
    double safety;         /* fraction of it we use; 0 = 0.9 */
    int window_ms;         /* budget window; 0 = 60000 */
    int max_in_flight;     /* 0 = 8 */
    int max_tries;         /* attempts per request for 5xx/network errors; 0 = 5 */
    int backoff_base_ms;   /* 0 = 500 */
    int backoff_max_ms;    /* 0 = 30000 */
    uint64_t seed;         /* jitter; 0 = from the clock */
    crm_rl_clock_fn clock; /* NULL = cmn_time_mono_ms */
    void *clock_ctx;
    crm_rl_send_fn send; /* required */
    void *owner;
    /* A caller that stops waiting (the IVR's deadline): a request of that
     * priority still queued ttl_ms after it was submitted is never sent;
     * expire() tells the owner (the request is gone). 0 = no limit. */
    int ttl_ms[TKT_PRIO__COUNT];
    /* At most this many queued of a priority; crm_rl_submit refuses more
     * (NULL) so a flood cannot hold the budget. 0 = no limit. */
    size_t max_queued[TKT_PRIO__COUNT];
    crm_rl_drop_fn expire; /* required when a ttl_ms is set */
} crm_rl_cfg_t;

typedef enum {
    CRM_RL_DONE = 0, /* a final answer (2xx, or a 4xx that retrying cannot fix) */
    CRM_RL_RETRY,    /* 5xx / network / timeout: counts as a try, backoff */
    CRM_RL_PAUSE,    /* account 429: pause everything for delay_ms, requeue */
    CRM_RL_WAIT,     /* request-scoped 429: this one waits delay_ms, requeue */
} crm_rl_kind_t;

typedef enum {
    CRM_RL_FINISHED = 0, /* the owner has the final outcome; req is gone */
    CRM_RL_AGAIN,        /* the limiter keeps req and will call send again */
    CRM_RL_EXHAUSTED,    /* max_tries reached: the owner reports the error; req is gone */
} crm_rl_verdict_t;

/* Returns a new limiter, or NULL (bad cfg). base may be NULL (tests: pump by hand). */
crm_rl_t *crm_rl_new(struct event_base *base, const crm_rl_cfg_t *cfg);

/* Queues a request; send() is called later, never from inside this call.
 * Returns a handle owned by the limiter (valid until a verdict other than
 * CRM_RL_AGAIN, expire(), or crm_rl_free), or NULL when out of memory or
 * the priority's queue is full (max_queued). */
crm_rl_req_t *crm_rl_submit(crm_rl_t *rl, tkt_prio_t prio, void *req_ctx);

/* How a sent request ended. delay_ms: Retry-After (PAUSE/WAIT: how long;
 * RETRY: a lower bound on the backoff; -1 = none). */
crm_rl_verdict_t crm_rl_complete(crm_rl_t *rl, crm_rl_req_t *req, crm_rl_kind_t kind,
                                 int64_t delay_ms);

/* The server's rate-limit headers from an answer, before crm_rl_complete()
 * for it: `remaining` requests left in the account's window (-1 = header
 * absent: ignored), which frees within `reset_s` seconds (-1 = 1 s). While
 * what is already out could use up `remaining`, nothing more is sent --
 * until a later answer says otherwise or reset_s has passed. The account
 * budget is shared with every other client of the account; this keeps us
 * from running into 429s that our own window cannot foresee. */
void crm_rl_observe(crm_rl_t *rl, long remaining, long reset_s);

/* Sends whatever may go now. With a loop, the limiter's timer calls it. */
void crm_rl_pump(crm_rl_t *rl);

/* When crm_rl_pump() has something to do next: now or later (ms, on the
 * limiter's clock); -1 when nothing is queued or waiting. */
int64_t crm_rl_next_due(const crm_rl_t *rl);

/* The delay CRM_RL_RETRY uses before attempt `failures + 1` (for tests and docs). */
int64_t crm_rl_backoff_ms(crm_rl_t *rl, int failures);

typedef struct {
    size_t queued[TKT_PRIO__COUNT]; /* waiting for budget (incl. requeued ones) */
    size_t waiting;                 /* backing off / in a request-scoped wait */
    size_t in_flight;
    size_t sent_in_window; /* attempts in the current window */
    size_t budget;         /* floor(limit * safety) */
    int64_t paused_until;  /* 0 = not paused */
    int probing;           /* after a pause: one request at a time */
    uint64_t sent_total, paused_total, retried_total, gave_up_total;
    uint64_t expired_total, refused_total; /* ttl_ms passed unsent; max_queued reached */
} crm_rl_stats_t;

void crm_rl_stats(const crm_rl_t *rl, crm_rl_stats_t *out);

/* Calls drop() for every request still queued or waiting, forgets the ones
 * in flight (their owner must not report them any more) and frees. NULL ok. */
void crm_rl_free(crm_rl_t *rl, crm_rl_drop_fn drop);

#endif
