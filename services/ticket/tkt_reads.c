/* Status reads in bulk; see tkt_reads.h. One FIFO, flushed at the end of
 * the window or as soon as it holds a full request. */
#include "tkt_reads.h"
#include "cmn_log.h"
#include "cmn_metrics.h"

#include <stdlib.h>
#include <string.h>

typedef struct read {
    struct read *next;
    char ticket_id[TKT_ID_MAX];
    tkt_reads_done_fn cb;
    void *owner;
} read_t;

typedef struct {
    struct tkt_reads *r;
    size_t n;
    read_t *reads[TKT_CRM_MAX_BULK];
    const char *ids[TKT_CRM_MAX_BULK];
} flight_t;

struct tkt_reads {
    tkt_crm_t *crm;
    int window_s;
    struct event *timer;
    int timer_armed;
    read_t *head, *tail;
    size_t queued, pending;
    cmn_metric_t *m_saved;
};

static void on_statuses(void *ctx, const tkt_crm_result_t *res)
{
    flight_t *f = ctx;
    tkt_reads_t *r = f->r;
    for (size_t i = 0; i < f->n; i++) {
        tkt_crm_item_t item;
        memset(&item, 0, sizeof item);
        if (res->ok && res->items && i < res->n_items)
            item = res->items[i];
        else
            snprintf(item.error, sizeof item.error, "%.159s",
                     res->error[0] ? res->error : "status read failed");
        r->pending--;
        f->reads[i]->cb(f->reads[i]->owner, &item);
        free(f->reads[i]);
    }
    free(f);
}

static void send_all(tkt_reads_t *r)
{
    while (r->head) {
        flight_t *f = malloc(sizeof *f);
        if (!f) {
            LOG_ERROR("out of memory: status reads wait for the next window");
            return;
        }
        f->r = r;
        f->n = 0;
        while (r->head && f->n < TKT_CRM_MAX_BULK) {
            read_t *rd = r->head;
            r->head = rd->next;
            r->queued--;
            f->reads[f->n] = rd;
            f->ids[f->n++] = rd->ticket_id;
        }
        if (!r->head)
            r->tail = NULL;
        cmn_metric_add(r->m_saved, (double)f->n - 1);
        r->crm->ops->ticket_statuses(r->crm, f->ids, f->n, on_statuses, f);
    }
}

void tkt_reads_flush_now(tkt_reads_t *r)
{
    if (r->timer_armed) {
        evtimer_del(r->timer);
        r->timer_armed = 0;
    }
    send_all(r);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    tkt_reads_t *r = arg;
    r->timer_armed = 0;
    send_all(r);
}

int tkt_reads_add(tkt_reads_t *r, const char *ticket_id, tkt_reads_done_fn cb, void *owner)
{
    if (!ticket_id || !*ticket_id || !r->crm->ops->valid_ticket_id ||
        !r->crm->ops->valid_ticket_id(r->crm, ticket_id))
        return -1;
    read_t *rd = malloc(sizeof *rd);
    if (!rd)
        return -1;
    rd->next = NULL;
    snprintf(rd->ticket_id, sizeof rd->ticket_id, "%s", ticket_id);
    rd->cb = cb;
    rd->owner = owner;
    if (r->tail)
        r->tail->next = rd;
    else
        r->head = rd;
    r->tail = rd;
    r->queued++;
    r->pending++;
    if (r->queued >= TKT_CRM_MAX_BULK) {
        send_all(r);
        return 0;
    }
    if (!r->timer_armed) {
        struct timeval tv = {r->window_s, 0};
        if (evtimer_add(r->timer, &tv) == 0)
            r->timer_armed = 1;
        else
            send_all(r);
    }
    return 0;
}

size_t tkt_reads_pending(const tkt_reads_t *r)
{
    return r ? r->pending : 0;
}

tkt_reads_t *tkt_reads_new(struct event_base *base, tkt_crm_t *crm, int window_s)
{
    if (!crm->ops->ticket_statuses)
        return NULL;
    tkt_reads_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->crm = crm;
    r->window_s = window_s < 1 ? 1 : window_s > 60 ? 60 : window_s;
    if (!(r->timer = evtimer_new(base, on_timer, r))) {
        free(r);
        return NULL;
    }
    r->m_saved = cmn_metrics_counter(
        "ticket_status_reads_saved_total",
        "CRM requests saved by reading ticket statuses before reuse in bulk (R-T2, R-S1)", NULL);
    return r;
}

void tkt_reads_free(tkt_reads_t *r)
{
    if (!r)
        return;
    if (r->timer)
        event_free(r->timer);
    read_t *rd = r->head;
    while (rd) {
        read_t *next = rd->next;
        tkt_crm_item_t failed;
        memset(&failed, 0, sizeof failed);
        snprintf(failed.error, sizeof failed.error, "shut down");
        r->pending--;
        rd->cb(rd->owner, &failed);
        free(rd);
        rd = next;
    }
    free(r);
}
