/* Batched flush. The window holds a list of tickets, each with a FIFO of
 * pending items. A flush takes the tickets that may be written now, merges
 * each one's items (as many as fit one update) into a single op, and sends
 * them in bulk requests of up to TKT_CRM_MAX_BULK. */
#include "tkt_batch.h"
#include "cmn_log.h"
#include "cmn_metrics.h"
#include "cmn_time.h"

#include <stdlib.h>
#include <string.h>

#define HISTORY_MAX 64 /* update times remembered per ticket */

typedef struct item {
    struct item *next;
    tkt_op_t op;
    tkt_batch_done_fn cb;
    void *owner;
    int attempts;
} item_t;

typedef struct slot {
    struct slot *next;
    char ticket_id[TKT_ID_MAX];
    item_t *head, *tail;
    int64_t sent_at[HISTORY_MAX]; /* recent bulk writes, for the per-ticket limit */
    size_t n_sent;
    int in_flight; /* a bulk request carrying this ticket is out */
} slot_t;

/* One bulk request in flight: which items each of its ops carries. */
typedef struct {
    tkt_batch_t *b;
    size_t n;
    slot_t *slots[TKT_CRM_MAX_BULK];
    item_t *items[TKT_CRM_MAX_BULK]; /* the merged items, a list per op */
    tkt_op_t ops[TKT_CRM_MAX_BULK];
} flight_t;

struct tkt_batch {
    tkt_batch_cfg_t cfg;
    tkt_crm_t *crm;
    struct event *timer;
    int timer_armed;
    slot_t *slots;
    size_t pending;
    size_t requests, ops_sent;
    cmn_metric_t *m_requests, *m_saved, *m_retried;
};

static void arm(tkt_batch_t *b)
{
    struct timeval tv = {b->cfg.window_s, 0};
    if (b->timer_armed)
        return;
    b->timer_armed = 1;
    evtimer_add(b->timer, &tv);
}

static int is_update(const tkt_op_t *op)
{
    return op->status != TKT_ST_UNKNOWN || op->set_assignee || op->n_fields > 0;
}

int tkt_batch_accepts(const tkt_batch_t *b, const tkt_op_t *op)
{
    if (op->kind != TKT_OP_COMMENT && op->kind != TKT_OP_UPDATE)
        return 0; /* R-B4: creations go at once */
    if (op->body[0] && !b->cfg.comments)
        return 0;
    if (is_update(op) && !b->cfg.updates)
        return 0;
    return op->body[0] || is_update(op);
}

static slot_t *slot_get(tkt_batch_t *b, const char *ticket_id)
{
    slot_t *s;
    for (s = b->slots; s; s = s->next)
        if (strcmp(s->ticket_id, ticket_id) == 0)
            return s;
    if (!(s = calloc(1, sizeof *s)))
        return NULL;
    snprintf(s->ticket_id, sizeof s->ticket_id, "%s", ticket_id);
    s->next = b->slots;
    b->slots = s;
    return s;
}

int tkt_batch_add(tkt_batch_t *b, const tkt_op_t *op, tkt_batch_done_fn cb, void *owner)
{
    slot_t *s = slot_get(b, op->ticket_id);
    item_t *it = s ? calloc(1, sizeof *it) : NULL;
    if (!it)
        return -1;
    it->op = *op;
    it->cb = cb;
    it->owner = owner;
    if (s->tail)
        s->tail->next = it;
    else
        s->head = it;
    s->tail = it;
    b->pending++;
    arm(b);
    return 0;
}

/* ---- per-ticket limit ------------------------------------------------ */

static size_t recent_writes(slot_t *s, int64_t now, int window_s)
{
    size_t kept = 0;
    for (size_t i = 0; i < s->n_sent; i++)
        if (now - s->sent_at[i] < (int64_t)window_s * 1000)
            s->sent_at[kept++] = s->sent_at[i];
    s->n_sent = kept;
    return kept;
}

static int may_write(tkt_batch_t *b, slot_t *s, int64_t now)
{
    return !s->in_flight && s->head &&
           recent_writes(s, now, b->cfg.ticket_window_s) < (size_t)b->cfg.ticket_limit;
}

static void note_write(slot_t *s, int64_t now)
{
    if (s->n_sent == HISTORY_MAX)
        memmove(s->sent_at, s->sent_at + 1, (HISTORY_MAX - 1) * sizeof s->sent_at[0]);
    s->sent_at[s->n_sent < HISTORY_MAX ? s->n_sent++ : HISTORY_MAX - 1] = now;
}

/* ---- merging ------------------------------------------------------------ */

/* Folds `src` into `dst` (same ticket); 0, or -1 when the comment would not
 * fit one update (the item then waits for the next window). */
static int merge_into(tkt_op_t *dst, const tkt_op_t *src)
{
    if (src->body[0]) {
        size_t have = strlen(dst->body), add = strlen(src->body);
        size_t sep = have ? 2 : 0;
        if (have + sep + add >= sizeof dst->body)
            return -1;
        memcpy(dst->body + have, "\n\n", sep);
        memcpy(dst->body + have + sep, src->body, add + 1);
        dst->public_comment |= src->public_comment;
    }
    if (src->status != TKT_ST_UNKNOWN)
        dst->status = src->status;
    if (src->set_assignee) {
        dst->set_assignee = 1;
        memcpy(dst->assignee_id, src->assignee_id, sizeof dst->assignee_id);
    }
    for (size_t i = 0; i < src->n_tags && i < TKT_MAX_TAGS; i++) { /* added tags add up */
        size_t j = 0;
        while (j < dst->n_tags && strcmp(dst->tags[j], src->tags[i]) != 0)
            j++;
        if (j == dst->n_tags && dst->n_tags < TKT_MAX_TAGS)
            memcpy(dst->tags[dst->n_tags++], src->tags[i], sizeof dst->tags[0]);
    }
    for (size_t i = 0; i < src->n_fields; i++) {
        size_t j;
        for (j = 0; j < dst->n_fields && strcmp(dst->fields[j].field_id, src->fields[i].field_id);
             j++)
            ;
        if (j == dst->n_fields && dst->n_fields == TKT_MAX_FIELDS)
            continue;
        dst->fields[j] = src->fields[i];
        if (j == dst->n_fields)
            dst->n_fields++;
    }
    return 0;
}

/* Detaches the slot's leading items that merge into one op. */
static item_t *take_merged(slot_t *s, tkt_op_t *merged)
{
    item_t *first = s->head, *last = NULL;
    memset(merged, 0, sizeof *merged);
    merged->kind = TKT_OP_UPDATE;
    snprintf(merged->ticket_id, sizeof merged->ticket_id, "%s", s->ticket_id);
    for (item_t *it = s->head; it; it = it->next) {
        if (merge_into(merged, &it->op) < 0)
            break;
        last = it;
    }
    if (!last) { /* a single item always fits: it was built within the same bound */
        merge_into(merged, &first->op);
        last = first;
    }
    s->head = last->next;
    if (!s->head)
        s->tail = NULL;
    last->next = NULL;
    return first;
}

/* ---- completion --------------------------------------------------------- */

static void complete_list(tkt_batch_t *b, item_t *it, tkt_batch_outcome_t outcome, const char *err)
{
    while (it) {
        item_t *next = it->next;
        b->pending--;
        it->cb(it->owner, &it->op, outcome, err);
        free(it);
        it = next;
    }
}

/* Puts items back at the front of their slot, order kept; gives up on
 * those out of attempts. */
static void requeue(tkt_batch_t *b, slot_t *s, item_t *list, const char *err)
{
    item_t *keep = NULL, *last = NULL;
    while (list) {
        item_t *next = list->next;
        list->next = NULL;
        if (++list->attempts >= b->cfg.max_attempts) {
            complete_list(b, list, TKT_BATCH_FAILED, err);
        } else if (last) {
            last->next = list;
            last = list;
        } else {
            keep = last = list;
        }
        list = next;
    }
    if (!keep)
        return;
    last->next = s->head;
    if (!s->head)
        s->tail = last;
    s->head = keep;
    cmn_metric_add(b->m_retried, 1);
    arm(b);
}

static void on_bulk_done(void *ctx, const tkt_crm_result_t *res)
{
    flight_t *f = ctx;
    tkt_batch_t *b = f->b;
    for (size_t i = 0; i < f->n; i++) {
        slot_t *s = f->slots[i];
        const tkt_crm_item_t *item = i < res->n_items ? &res->items[i] : NULL;
        s->in_flight = 0;
        if (item && item->ok)
            complete_list(b, f->items[i], TKT_BATCH_OK, NULL);
        else if (item && item->closed)
            complete_list(b, f->items[i], TKT_BATCH_CLOSED, item->error);
        else if (item && item->maybe_applied) /* re-sent only by the owner, after a check */
            complete_list(b, f->items[i], TKT_BATCH_FAILED, item->error);
        else if (item && !item->retryable && res->ok) /* the job ran: its verdict is final */
            complete_list(b, f->items[i], TKT_BATCH_REJECTED, item->error);
        else
            requeue(b, s, f->items[i], item ? item->error : res->error);
    }
    free(f);
}

/* ---- flushing ----------------------------------------------------------- */

static void on_flight_job(void *ctx, const char *job_id)
{
    flight_t *f = ctx;
    if (!f->b->cfg.on_job)
        return;
    for (size_t i = 0; i < f->n; i++)
        for (item_t *it = f->items[i]; it; it = it->next)
            f->b->cfg.on_job(it->owner, job_id);
}

static void send_bulk(tkt_batch_t *b, flight_t *f)
{
    b->requests++;
    b->ops_sent += f->n;
    cmn_metric_add(b->m_requests, 1);
    for (size_t i = 0; i < f->n; i++)
        for (item_t *it = f->items[i]; it; it = it->next)
            cmn_metric_add(b->m_saved, 1);
    cmn_metric_add(b->m_saved, -1); /* one request carried them all */
    b->crm->ops->bulk_update(b->crm, f->ops, f->n, on_flight_job, on_bulk_done, f);
}

/* R-T10: the flight's tickets as they are now. A ticket a person solved or
 * closed since we last looked is not written to: its items go back to the
 * caller as CLOSED (merge target or a new ticket). One request per flight. */
static void on_statuses(void *ctx, const tkt_crm_result_t *res)
{
    flight_t *f = ctx;
    tkt_batch_t *b = f->b;
    size_t kept = 0;
    for (size_t i = 0; i < f->n; i++) {
        const tkt_crm_item_t *st = res->ok && i < res->n_items ? &res->items[i] : NULL;
        if (st && st->closed) {
            f->slots[i]->in_flight = 0;
            complete_list(b, f->items[i], TKT_BATCH_CLOSED, "ticket solved or closed");
            continue;
        }
        f->slots[kept] = f->slots[i];
        f->items[kept] = f->items[i];
        f->ops[kept++] = f->ops[i];
    }
    /* A failed check does not hold the flush: the write itself will say
     * "closed" for a closed ticket; only a solved one could slip through. */
    f->n = kept;
    if (kept)
        send_bulk(b, f);
    else
        free(f);
}

static void send_flight(tkt_batch_t *b, flight_t *f)
{
    const char *ids[TKT_CRM_MAX_BULK];
    if (!b->crm->ops->ticket_statuses) {
        send_bulk(b, f);
        return;
    }
    for (size_t i = 0; i < f->n; i++)
        ids[i] = f->ops[i].ticket_id;
    b->crm->ops->ticket_statuses(b->crm, ids, f->n, on_statuses, f);
}

/* Forgets tickets with nothing queued, nothing in flight and no write
 * inside the per-ticket window: the slot list stays as small as the
 * working set. */
static void prune(tkt_batch_t *b, int64_t now)
{
    for (slot_t **pp = &b->slots; *pp;) {
        slot_t *s = *pp;
        if (!s->head && !s->in_flight && recent_writes(s, now, b->cfg.ticket_window_s) == 0) {
            *pp = s->next;
            free(s);
        } else {
            pp = &s->next;
        }
    }
}

static void flush(tkt_batch_t *b)
{
    int64_t now = cmn_time_mono_ms();
    flight_t *f = NULL;
    prune(b, now);
    for (slot_t *s = b->slots; s; s = s->next) {
        if (!may_write(b, s, now))
            continue;
        if (!f && !(f = calloc(1, sizeof *f))) {
            LOG_ERROR("out of memory flushing the batch; retrying next window");
            break;
        }
        f->b = b;
        f->slots[f->n] = s;
        f->items[f->n] = take_merged(s, &f->ops[f->n]);
        s->in_flight = 1;
        note_write(s, now);
        if (++f->n == TKT_CRM_MAX_BULK) {
            send_flight(b, f);
            f = NULL;
        }
    }
    if (f)
        send_flight(b, f);
    for (slot_t *s = b->slots; s; s = s->next)
        if (s->head) { /* left for a later window (limit, or did not fit) */
            arm(b);
            break;
        }
}

static void on_window(evutil_socket_t fd, short what, void *arg)
{
    tkt_batch_t *b = arg;
    b->timer_armed = 0;
    flush(b);
}

void tkt_batch_flush_now(tkt_batch_t *b)
{
    if (b->timer_armed) {
        evtimer_del(b->timer);
        b->timer_armed = 0;
    }
    flush(b);
}

tkt_batch_t *tkt_batch_new(struct event_base *base, tkt_crm_t *crm, const tkt_batch_cfg_t *cfg)
{
    tkt_batch_t *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->cfg = *cfg;
    if (b->cfg.max_attempts <= 0)
        b->cfg.max_attempts = 5;
    b->crm = crm;
    if (!(b->timer = evtimer_new(base, on_window, b))) {
        free(b);
        return NULL;
    }
    b->m_requests =
        cmn_metrics_counter("ticket_batch_requests_total", "Bulk update requests sent", NULL);
    b->m_saved = cmn_metrics_counter("ticket_batch_requests_saved_total",
                                     "CRM requests saved by batching (R-S1)", NULL);
    b->m_retried = cmn_metrics_counter("ticket_batch_retries_total",
                                       "Batched items put back for a later window", NULL);
    return b;
}

size_t tkt_batch_pending(const tkt_batch_t *b)
{
    return b->pending;
}

size_t tkt_batch_requests(const tkt_batch_t *b)
{
    return b->requests;
}

size_t tkt_batch_ops_sent(const tkt_batch_t *b)
{
    return b->ops_sent;
}

void tkt_batch_free(tkt_batch_t *b)
{
    if (!b)
        return;
    while (b->slots) {
        slot_t *s = b->slots;
        b->slots = s->next;
        complete_list(b, s->head, TKT_BATCH_FAILED, "shutting down");
        free(s);
    }
    event_free(b->timer);
    free(b);
}
