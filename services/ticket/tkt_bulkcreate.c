/* Bulk creations; see tkt_bulkcreate.h. Two queues (tickets, contacts),
 * each flushed at the end of the window or as soon as it holds a full
 * request. */
#include "tkt_bulkcreate.h"
#include "cmn_log.h"
#include "cmn_metrics.h"

#include <stdlib.h>
#include <string.h>

typedef struct item {
    struct item *next;
    tkt_op_t op;
    tkt_bulkcreate_done_fn cb;
    void *owner;
} item_t;

typedef struct {
    item_t *head, *tail;
    size_t n;
} queue_t;

/* One bulk request in flight. */
typedef struct {
    tkt_bulkcreate_t *b;
    size_t n;
    item_t *items[TKT_CRM_MAX_BULK];
    tkt_op_t ops[TKT_CRM_MAX_BULK];
} flight_t;

struct tkt_bulkcreate {
    tkt_crm_t *crm;
    int window_s;
    struct event *timer;
    int timer_armed;
    queue_t q[2]; /* 0: tickets, 1: contacts */
    size_t pending, requests, sent;
    cmn_metric_t *m_requests, *m_saved;
};

static queue_t *queue_of(tkt_bulkcreate_t *b, const tkt_op_t *op)
{
    return &b->q[op->kind == TKT_OP_CREATE_CONTACT];
}

static void complete(tkt_bulkcreate_t *b, item_t *it, const tkt_crm_item_t *outcome)
{
    b->pending--;
    it->cb(it->owner, outcome);
    free(it);
}

/* An item as the CRM's result says, or failed with `error` when the result
 * has nothing on it. */
static void outcome_of(const tkt_crm_result_t *res, size_t i, tkt_crm_item_t *out)
{
    memset(out, 0, sizeof *out);
    if (res->items && i < res->n_items)
        *out = res->items[i];
    if (!out->ok && !out->error[0]) {
        snprintf(out->error, sizeof out->error, "%.159s",
                 res->error[0] ? res->error : "bulk creation failed");
        /* No answer at all: the request may have reached the CRM. */
        out->retryable = 1;
        out->maybe_applied = res->http_status == 0 || res->http_status >= 500;
    }
}

static void on_flight_done(void *ctx, const tkt_crm_result_t *res)
{
    flight_t *f = ctx;
    tkt_bulkcreate_t *b = f->b;
    if (!res->ok)
        LOG_WARN("bulk creation of %zu failed: %s", f->n, res->error);
    for (size_t i = 0; i < f->n; i++) {
        tkt_crm_item_t outcome;
        outcome_of(res, i, &outcome);
        complete(b, f->items[i], &outcome);
    }
    free(f);
}

static void send_queue(tkt_bulkcreate_t *b, queue_t *q)
{
    while (q->n) {
        flight_t *f = malloc(sizeof *f);
        if (!f) {
            LOG_ERROR("out of memory: bulk creations wait for the next window");
            return;
        }
        f->b = b;
        f->n = 0;
        while (q->head && f->n < TKT_CRM_MAX_BULK) {
            item_t *it = q->head;
            q->head = it->next;
            q->n--;
            f->items[f->n] = it;
            f->ops[f->n++] = it->op;
        }
        if (!q->head)
            q->tail = NULL;
        b->requests++;
        b->sent += f->n;
        cmn_metric_add(b->m_requests, 1);
        /* One request instead of one per creation; its job-status reads
         * are counted by the adapter (crm_requests_total), not here. */
        cmn_metric_add(b->m_saved, (double)f->n - 1);
        b->crm->ops->bulk_create(b->crm, f->ops, f->n, NULL, on_flight_done, f);
    }
}

void tkt_bulkcreate_flush_now(tkt_bulkcreate_t *b)
{
    if (b->timer_armed) {
        evtimer_del(b->timer);
        b->timer_armed = 0;
    }
    send_queue(b, &b->q[0]);
    send_queue(b, &b->q[1]);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    tkt_bulkcreate_t *b = arg;
    b->timer_armed = 0;
    tkt_bulkcreate_flush_now(b);
}

int tkt_bulkcreate_add(tkt_bulkcreate_t *b, const tkt_op_t *op, tkt_bulkcreate_done_fn cb,
                       void *owner)
{
    if (op->kind != TKT_OP_CREATE_TICKET && op->kind != TKT_OP_CREATE_CONTACT)
        return -1;
    item_t *it = malloc(sizeof *it);
    if (!it)
        return -1;
    it->next = NULL;
    it->op = *op;
    it->cb = cb;
    it->owner = owner;
    queue_t *q = queue_of(b, op);
    if (q->tail)
        q->tail->next = it;
    else
        q->head = it;
    q->tail = it;
    q->n++;
    b->pending++;
    if (q->n >= TKT_CRM_MAX_BULK) { /* a full request: no reason to wait */
        send_queue(b, q);
        return 0;
    }
    if (!b->timer_armed) {
        struct timeval tv = {b->window_s, 0};
        if (evtimer_add(b->timer, &tv) == 0)
            b->timer_armed = 1;
        else
            send_queue(b, q); /* no window without a timer: at once */
    }
    return 0;
}

size_t tkt_bulkcreate_pending(const tkt_bulkcreate_t *b)
{
    return b ? b->pending : 0;
}

size_t tkt_bulkcreate_requests(const tkt_bulkcreate_t *b)
{
    return b->requests;
}

size_t tkt_bulkcreate_sent(const tkt_bulkcreate_t *b)
{
    return b->sent;
}

tkt_bulkcreate_t *tkt_bulkcreate_new(struct event_base *base, tkt_crm_t *crm, int window_s)
{
    if (!crm->ops->bulk_create)
        return NULL;
    tkt_bulkcreate_t *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->crm = crm;
    b->window_s = window_s < 1 ? 1 : window_s > 60 ? 60 : window_s;
    if (!(b->timer = evtimer_new(base, on_timer, b))) {
        free(b);
        return NULL;
    }
    b->m_requests = cmn_metrics_counter("ticket_bulk_create_requests_total",
                                        "Bulk creation requests sent (create_many)", NULL);
    b->m_saved = cmn_metrics_counter(
        "ticket_bulk_create_requests_saved_total",
        "CRM requests saved by creating contacts and tickets in bulk (R-S1)", NULL);
    return b;
}

void tkt_bulkcreate_free(tkt_bulkcreate_t *b)
{
    if (!b)
        return;
    if (b->timer)
        event_free(b->timer);
    for (size_t k = 0; k < 2; k++) {
        item_t *it = b->q[k].head;
        b->q[k].head = b->q[k].tail = NULL;
        while (it) {
            item_t *next = it->next;
            tkt_crm_item_t failed = {.retryable = 1};
            snprintf(failed.error, sizeof failed.error, "shut down");
            complete(b, it, &failed);
            it = next;
        }
    }
    free(b);
}
