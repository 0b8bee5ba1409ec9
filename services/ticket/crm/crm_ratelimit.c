/* Priority queues + sliding-window budget + 429 pauses + backoff; see
 * crm_ratelimit.h for the rules. Queues are kept sorted by submission
 * sequence, so a request that comes back (429, retry) slots in ahead of
 * everything submitted after it without a separate "front" queue. */
#include "crm_ratelimit.h"
#include "cmn_time.h"

#include <stdlib.h>
#include <string.h>

#define RL_MIN_PAUSE_MS 250       /* a "Retry-After: 0" must not turn into a tight loop */
#define RL_DEFAULT_PAUSE_MS 10000 /* a 429 without Retry-After */
#define RL_DEFAULT_WAIT_MS 1000

typedef enum { RQ_QUEUED, RQ_WAITING, RQ_IN_FLIGHT } rq_state_t;

struct crm_rl_req {
    tkt_prio_t prio;
    void *ctx;
    uint64_t seq;
    int attempts;
    int failures;
    int64_t not_before;
    int64_t sent_at;
    int64_t submitted_at;
    rq_state_t state;
    struct crm_rl_req *prev, *next;
};

typedef struct {
    crm_rl_req_t *head, *tail;
    size_t n;
} rq_list_t;

struct crm_rl {
    crm_rl_cfg_t cfg;
    struct event_base *base;
    struct event *timer;
    rq_list_t queues[TKT_PRIO__COUNT];
    rq_list_t waiting;
    rq_list_t in_flight;
    /* send times of the last `budget` attempts, a ring */
    int64_t *stamps;
    size_t budget, head, count;
    int64_t paused_until;
    /* After a pause, one request at a time until one sent after it is
     * answered without a 429: releasing everything at once when the pause
     * ends would mostly buy more 429s (the server's window frees slowly). */
    int probing;
    /* The server's own count (X-Rate-Limit-Remaining) from the latest
     * answer that had one: the account's budget is shared with every other
     * integration, so ours may be spent before our own window says so. */
    long srv_remaining; /* -1 = no hint */
    size_t srv_out;     /* requests that may still use it: out at the time, sent since */
    int64_t srv_until;  /* the hint holds until then (ratelimit-reset) */
    uint64_t next_seq;
    uint64_t rng;
    int pumping;
    int closing;
    uint64_t sent_total, paused_total, retried_total, gave_up_total;
    uint64_t expired_total, refused_total;
};

static int64_t now_ms(const crm_rl_t *rl)
{
    return rl->cfg.clock ? rl->cfg.clock(rl->cfg.clock_ctx) : cmn_time_mono_ms();
}

/* splitmix64: small, seedable, good enough for jitter. */
static uint64_t rng_next(crm_rl_t *rl)
{
    uint64_t z = (rl->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* ---------------------------------------------------------------- lists */

static void list_unlink(rq_list_t *l, crm_rl_req_t *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        l->head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    else
        l->tail = r->prev;
    r->prev = r->next = NULL;
    l->n--;
}

static void list_append(rq_list_t *l, crm_rl_req_t *r)
{
    r->next = NULL;
    r->prev = l->tail;
    if (l->tail)
        l->tail->next = r;
    else
        l->head = r;
    l->tail = r;
    l->n++;
}

/* Insert keeping the list sorted by seq (FIFO by submission). New
 * submissions have the largest seq, so they go to the tail in O(1);
 * requests coming back scan from the tail to their place. */
static void list_insert_sorted(rq_list_t *l, crm_rl_req_t *r)
{
    crm_rl_req_t *after = l->tail;
    while (after && after->seq > r->seq)
        after = after->prev;
    if (!after) {
        r->prev = NULL;
        r->next = l->head;
        if (l->head)
            l->head->prev = r;
        else
            l->tail = r;
        l->head = r;
        l->n++;
        return;
    }
    r->prev = after;
    r->next = after->next;
    if (after->next)
        after->next->prev = r;
    else
        l->tail = r;
    after->next = r;
    l->n++;
}

static void enqueue(crm_rl_t *rl, crm_rl_req_t *r)
{
    r->state = RQ_QUEUED;
    list_insert_sorted(&rl->queues[r->prio], r);
}

static void wait_until(crm_rl_t *rl, crm_rl_req_t *r, int64_t when)
{
    r->state = RQ_WAITING;
    r->not_before = when;
    list_append(&rl->waiting, r);
}

/* --------------------------------------------------------------- budget */

/* Attempts inside (now - window, now], and when the oldest of them leaves it. */
static size_t window_live(const crm_rl_t *rl, int64_t now, int64_t *oldest)
{
    size_t skip = 0;
    while (skip < rl->count &&
           rl->stamps[(rl->head + skip) % rl->budget] + rl->cfg.window_ms <= now)
        skip++;
    if (oldest)
        *oldest = skip < rl->count ? rl->stamps[(rl->head + skip) % rl->budget] : 0;
    return rl->count - skip;
}

static void window_expire(crm_rl_t *rl, int64_t now)
{
    while (rl->count && rl->stamps[rl->head] + rl->cfg.window_ms <= now) {
        rl->head = (rl->head + 1) % rl->budget;
        rl->count--;
    }
}

static void window_take(crm_rl_t *rl, int64_t now)
{
    rl->stamps[(rl->head + rl->count) % rl->budget] = now;
    rl->count++;
}

/* Is the server's remaining count spent by what is out already? */
static int server_spent(const crm_rl_t *rl, int64_t now)
{
    return rl->srv_remaining >= 0 && now < rl->srv_until &&
           rl->srv_out >= (size_t)rl->srv_remaining;
}

/* No more in flight: the cap is reached, or we are probing after a pause
 * and the probe (a request sent since the pause ended) is out. */
static int in_flight_full(const crm_rl_t *rl)
{
    if (rl->in_flight.n >= (size_t)rl->cfg.max_in_flight)
        return 1;
    for (const crm_rl_req_t *r = rl->in_flight.head; rl->probing && r; r = r->next)
        if (r->sent_at >= rl->paused_until)
            return 1;
    return 0;
}

static size_t queued_total(const crm_rl_t *rl)
{
    size_t n = 0;
    for (int p = 0; p < TKT_PRIO__COUNT; p++)
        n += rl->queues[p].n;
    return n;
}

int64_t crm_rl_next_due(const crm_rl_t *rl)
{
    int64_t now = now_ms(rl);
    int64_t due = -1;
    if (queued_total(rl) && !in_flight_full(rl)) {
        due = now;
        if (rl->paused_until > due)
            due = rl->paused_until;
        int64_t oldest = 0;
        if (window_live(rl, now, &oldest) >= rl->budget && oldest + rl->cfg.window_ms > due)
            due = oldest + rl->cfg.window_ms;
        if (server_spent(rl, now) && rl->srv_until > due)
            due = rl->srv_until;
    }
    for (const crm_rl_req_t *r = rl->waiting.head; r; r = r->next)
        if (due < 0 || r->not_before < due)
            due = r->not_before < now ? now : r->not_before;
    for (int p = 0; p < TKT_PRIO__COUNT; p++) { /* a queued request's caller stops waiting */
        const crm_rl_req_t *r = rl->queues[p].head;
        int64_t at = r ? r->submitted_at + rl->cfg.ttl_ms[p] : 0;
        if (r && rl->cfg.ttl_ms[p] > 0 && (due < 0 || at < due))
            due = at < now ? now : at;
    }
    return due;
}

static void arm(crm_rl_t *rl)
{
    if (!rl->base || rl->pumping || rl->closing)
        return;
    int64_t due = crm_rl_next_due(rl);
    if (due < 0) {
        evtimer_del(rl->timer);
        return;
    }
    int64_t delay = due - now_ms(rl);
    if (delay < 0)
        delay = 0;
    struct timeval tv = {(time_t)(delay / 1000), (suseconds_t)((delay % 1000) * 1000)};
    evtimer_add(rl->timer, &tv);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    crm_rl_pump(arg);
}

/* ----------------------------------------------------------------- pump */

static void release_due(crm_rl_t *rl, int64_t now)
{
    crm_rl_req_t *r = rl->waiting.head;
    while (r) {
        crm_rl_req_t *next = r->next;
        if (r->not_before <= now) {
            list_unlink(&rl->waiting, r);
            enqueue(rl, r);
        }
        r = next;
    }
}

/* Requests whose caller stopped waiting (ttl_ms) are never sent: the
 * owner hears of them now. Queues are in submission order, so the expired
 * ones are at the head. */
static void expire_due(crm_rl_t *rl, int64_t now)
{
    for (int p = 0; p < TKT_PRIO__COUNT; p++) {
        crm_rl_req_t *r;
        while (rl->cfg.ttl_ms[p] > 0 && (r = rl->queues[p].head) != NULL &&
               now - r->submitted_at >= rl->cfg.ttl_ms[p] && !rl->closing) {
            void *ctx = r->ctx;
            list_unlink(&rl->queues[p], r);
            free(r);
            rl->expired_total++;
            rl->cfg.expire(rl->cfg.owner, ctx);
        }
    }
}

static crm_rl_req_t *next_queued(crm_rl_t *rl)
{
    for (int p = 0; p < TKT_PRIO__COUNT; p++)
        if (rl->queues[p].head)
            return rl->queues[p].head;
    return NULL;
}

void crm_rl_pump(crm_rl_t *rl)
{
    if (!rl || rl->pumping || rl->closing)
        return;
    rl->pumping = 1;
    for (;;) {
        int64_t now = now_ms(rl);
        release_due(rl, now);
        expire_due(rl, now);
        if (rl->paused_until > now || in_flight_full(rl))
            break;
        window_expire(rl, now);
        if (rl->count >= rl->budget || server_spent(rl, now))
            break;
        crm_rl_req_t *r = next_queued(rl);
        if (!r)
            break;
        list_unlink(&rl->queues[r->prio], r);
        r->state = RQ_IN_FLIGHT;
        list_append(&rl->in_flight, r);
        r->attempts++;
        r->sent_at = now;
        window_take(rl, now);
        if (rl->srv_remaining >= 0)
            rl->srv_out++;
        rl->sent_total++;
        /* May complete r (and free it) synchronously: r is not touched after. */
        rl->cfg.send(rl->cfg.owner, r, r->ctx, r->attempts);
        if (rl->closing)
            break;
    }
    rl->pumping = 0;
    arm(rl);
}

/* --------------------------------------------------------------- public */

crm_rl_t *crm_rl_new(struct event_base *base, const crm_rl_cfg_t *cfg)
{
    if (!cfg || !cfg->send || cfg->limit_per_min < 0 || cfg->safety < 0 || cfg->safety > 1)
        return NULL;
    for (int p = 0; p < TKT_PRIO__COUNT; p++)
        if (cfg->ttl_ms[p] > 0 && !cfg->expire)
            return NULL;
    crm_rl_t *rl = calloc(1, sizeof *rl);
    if (!rl)
        return NULL;
    rl->cfg = *cfg;
    if (rl->cfg.limit_per_min == 0)
        rl->cfg.limit_per_min = 700;
    if (rl->cfg.safety == 0)
        rl->cfg.safety = 0.9;
    if (rl->cfg.window_ms <= 0)
        rl->cfg.window_ms = 60000;
    if (rl->cfg.max_in_flight <= 0)
        rl->cfg.max_in_flight = 8;
    if (rl->cfg.max_tries <= 0)
        rl->cfg.max_tries = 5;
    if (rl->cfg.backoff_base_ms <= 0)
        rl->cfg.backoff_base_ms = 500;
    if (rl->cfg.backoff_max_ms <= 0)
        rl->cfg.backoff_max_ms = 30000;
    if (rl->cfg.backoff_max_ms < rl->cfg.backoff_base_ms)
        rl->cfg.backoff_max_ms = rl->cfg.backoff_base_ms;
    rl->budget = (size_t)((double)rl->cfg.limit_per_min * rl->cfg.safety);
    if (rl->budget < 1)
        rl->budget = 1;
    rl->srv_remaining = -1;
    rl->rng = cfg->seed ? cfg->seed : (uint64_t)now_ms(rl) * 2654435761u + 1;
    rl->stamps = calloc(rl->budget, sizeof *rl->stamps);
    if (!rl->stamps)
        goto err;
    if (base) {
        rl->base = base;
        rl->timer = evtimer_new(base, on_timer, rl);
        if (!rl->timer)
            goto err;
    }
    return rl;
err:
    free(rl->stamps);
    free(rl);
    return NULL;
}

crm_rl_req_t *crm_rl_submit(crm_rl_t *rl, tkt_prio_t prio, void *req_ctx)
{
    if (!rl || rl->closing || (int)prio < 0 || prio >= TKT_PRIO__COUNT)
        return NULL;
    crm_rl_req_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    if (rl->cfg.max_queued[prio] && rl->queues[prio].n >= rl->cfg.max_queued[prio]) {
        free(r);
        rl->refused_total++;
        return NULL;
    }
    r->prio = prio;
    r->ctx = req_ctx;
    r->seq = rl->next_seq++;
    r->submitted_at = now_ms(rl);
    enqueue(rl, r);
    arm(rl);
    return r;
}

int64_t crm_rl_backoff_ms(crm_rl_t *rl, int failures)
{
    if (failures < 1)
        failures = 1;
    int64_t d = rl->cfg.backoff_base_ms;
    for (int i = 1; i < failures && d < rl->cfg.backoff_max_ms; i++)
        d *= 2;
    if (d > rl->cfg.backoff_max_ms)
        d = rl->cfg.backoff_max_ms;
    /* "Equal jitter": half fixed, half random, so that clients that failed
     * together do not come back together, yet never retry immediately. */
    int64_t half = d / 2;
    return half + (int64_t)(rng_next(rl) % (uint64_t)(d - half + 1));
}

crm_rl_verdict_t crm_rl_complete(crm_rl_t *rl, crm_rl_req_t *r, crm_rl_kind_t kind,
                                 int64_t delay_ms)
{
    if (!rl || !r || r->state != RQ_IN_FLIGHT)
        return CRM_RL_FINISHED;
    int64_t now = now_ms(rl);
    crm_rl_verdict_t verdict = CRM_RL_AGAIN;
    list_unlink(&rl->in_flight, r);
    if (rl->probing && kind != CRM_RL_PAUSE && r->sent_at >= rl->paused_until)
        rl->probing = 0;
    switch (kind) {
    case CRM_RL_DONE:
        free(r);
        verdict = CRM_RL_FINISHED;
        break;
    case CRM_RL_PAUSE: {
        int64_t d = delay_ms < 0 ? RL_DEFAULT_PAUSE_MS : delay_ms;
        if (d < RL_MIN_PAUSE_MS)
            d = RL_MIN_PAUSE_MS;
        if (now + d > rl->paused_until)
            rl->paused_until = now + d;
        rl->probing = 1;
        rl->paused_total++;
        enqueue(rl, r);
        break;
    }
    case CRM_RL_WAIT: {
        int64_t d = delay_ms < 0 ? RL_DEFAULT_WAIT_MS : delay_ms;
        if (d < RL_MIN_PAUSE_MS)
            d = RL_MIN_PAUSE_MS;
        wait_until(rl, r, now + d);
        break;
    }
    case CRM_RL_RETRY:
    default:
        r->failures++;
        if (r->failures >= rl->cfg.max_tries) {
            free(r);
            rl->gave_up_total++;
            verdict = CRM_RL_EXHAUSTED;
            break;
        }
        int64_t d = crm_rl_backoff_ms(rl, r->failures);
        if (delay_ms > d)
            d = delay_ms;
        rl->retried_total++;
        wait_until(rl, r, now + d);
        break;
    }
    arm(rl);
    return verdict;
}

void crm_rl_observe(crm_rl_t *rl, long remaining, long reset_s)
{
    if (!rl || remaining < 0)
        return;
    int64_t now = now_ms(rl);
    rl->srv_remaining = remaining;
    /* Requests out now may each still take one: the answer that carried
     * the count was one of them. */
    rl->srv_out = rl->in_flight.n > 0 ? rl->in_flight.n - 1 : 0;
    rl->srv_until = now + (reset_s > 0 ? (int64_t)reset_s * 1000 : 1000);
    arm(rl);
}

void crm_rl_stats(const crm_rl_t *rl, crm_rl_stats_t *out)
{
    memset(out, 0, sizeof *out);
    if (!rl)
        return;
    for (int p = 0; p < TKT_PRIO__COUNT; p++)
        out->queued[p] = rl->queues[p].n;
    out->waiting = rl->waiting.n;
    out->in_flight = rl->in_flight.n;
    out->sent_in_window = window_live(rl, now_ms(rl), NULL);
    out->budget = rl->budget;
    out->paused_until = rl->paused_until > now_ms(rl) ? rl->paused_until : 0;
    out->probing = rl->probing;
    out->sent_total = rl->sent_total;
    out->paused_total = rl->paused_total;
    out->retried_total = rl->retried_total;
    out->gave_up_total = rl->gave_up_total;
    out->expired_total = rl->expired_total;
    out->refused_total = rl->refused_total;
}

static void drain(rq_list_t *l, crm_rl_t *rl, crm_rl_drop_fn drop)
{
    while (l->head) {
        crm_rl_req_t *r = l->head;
        list_unlink(l, r);
        if (drop && r->state != RQ_IN_FLIGHT)
            drop(rl->cfg.owner, r->ctx);
        free(r);
    }
}

void crm_rl_free(crm_rl_t *rl, crm_rl_drop_fn drop)
{
    if (!rl)
        return;
    rl->closing = 1;
    if (rl->timer)
        event_free(rl->timer);
    rl->timer = NULL;
    for (int p = 0; p < TKT_PRIO__COUNT; p++)
        drain(&rl->queues[p], rl, drop);
    drain(&rl->waiting, rl, drop);
    drain(&rl->in_flight, rl, NULL);
    free(rl->stamps);
    free(rl);
}
