/* Lanes: a hash of keys to FIFO queues, and one FIFO of keys ready to
 * start; see tkt_lanes.h for the rules. */
#include "tkt_lanes.h"

#include <stdlib.h>
#include <string.h>

#define BUCKETS 4096

struct tkt_lane {
    tkt_lane_t *next;             /* in its bucket */
    tkt_lane_t *ready_next;       /* in the ready FIFO */
    tkt_lane_item_t *head, *tail; /* waiting, in arrival order */
    tkt_lane_item_t *running;     /* started and not yet released */
    size_t active;                /* started, not done */
    int on_ready;
    char key[]; /* whole: the bucket is found again by hashing it */
};

struct tkt_lanes {
    tkt_lane_t *buckets[BUCKETS];
    tkt_lane_t *ready_head, *ready_tail;
    size_t max_active, max_per_key;
    size_t active, waiting, waiting_bytes;
    int pumping;
    tkt_lanes_start_fn start;
    void *ctx;
};

static unsigned bucket_of(const char *s)
{
    unsigned h = 2166136261u; /* FNV-1a */
    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h % BUCKETS;
}

static tkt_lane_t *lane_find(const tkt_lanes_t *ls, const char *key)
{
    tkt_lane_t *l = ls->buckets[bucket_of(key)];
    while (l && strcmp(l->key, key) != 0)
        l = l->next;
    return l;
}

/* A lane with nothing waiting, running or active is forgotten. */
static void lane_maybe_free(tkt_lanes_t *ls, tkt_lane_t *l)
{
    if (l->head || l->running || l->active || l->on_ready)
        return;
    tkt_lane_t **pp = &ls->buckets[bucket_of(l->key)];
    while (*pp != l)
        pp = &(*pp)->next;
    *pp = l->next;
    free(l);
}

static void make_ready(tkt_lanes_t *ls, tkt_lane_t *l)
{
    if (l->on_ready || !l->head || l->running || l->active >= ls->max_per_key)
        return;
    l->on_ready = 1;
    l->ready_next = NULL;
    if (ls->ready_tail)
        ls->ready_tail->ready_next = l;
    else
        ls->ready_head = l;
    ls->ready_tail = l;
}

static tkt_lane_t *ready_pop(tkt_lanes_t *ls)
{
    tkt_lane_t *l = ls->ready_head;
    ls->ready_head = l->ready_next;
    if (!ls->ready_head)
        ls->ready_tail = NULL;
    l->on_ready = 0;
    return l;
}

/* Starts what may start. A start callback may re-enter (release, done,
 * enter): those only update the lanes and the ready FIFO, and the loop
 * here picks up what they made ready. */
static void pump(tkt_lanes_t *ls)
{
    if (ls->pumping)
        return;
    ls->pumping = 1;
    while (ls->ready_head && ls->active < ls->max_active) {
        tkt_lane_t *l = ready_pop(ls);
        if (!l->head || l->running || l->active >= ls->max_per_key) {
            lane_maybe_free(ls, l); /* made ready again when that changes */
            continue;
        }
        tkt_lane_item_t *it = l->head;
        l->head = it->next;
        if (!l->head)
            l->tail = NULL;
        it->next = NULL;
        it->started = 1;
        l->running = it;
        l->active++;
        ls->active++;
        ls->waiting--;
        ls->waiting_bytes -= it->cost;
        ls->start(ls->ctx, it);
    }
    ls->pumping = 0;
}

tkt_lanes_t *tkt_lanes_new(size_t max_active, size_t max_per_key, tkt_lanes_start_fn start,
                           void *ctx)
{
    tkt_lanes_t *ls = calloc(1, sizeof *ls);
    if (!ls)
        return NULL;
    ls->max_active = max_active ? max_active : 1;
    ls->max_per_key = max_per_key ? max_per_key : 1;
    ls->start = start;
    ls->ctx = ctx;
    return ls;
}

int tkt_lanes_enter(tkt_lanes_t *ls, tkt_lane_item_t *item, const char *key, size_t cost)
{
    tkt_lane_t *l = lane_find(ls, key);
    if (!l) {
        size_t len = strlen(key);
        if (!(l = calloc(1, sizeof *l + len + 1)))
            return -1;
        memcpy(l->key, key, len + 1);
        unsigned b = bucket_of(key);
        l->next = ls->buckets[b];
        ls->buckets[b] = l;
    }
    item->next = NULL;
    item->lane = l;
    item->cost = cost;
    item->started = 0;
    if (l->tail)
        l->tail->next = item;
    else
        l->head = item;
    l->tail = item;
    ls->waiting++;
    ls->waiting_bytes += cost;
    make_ready(ls, l);
    pump(ls);
    return 0;
}

void tkt_lanes_release(tkt_lanes_t *ls, tkt_lane_item_t *item)
{
    tkt_lane_t *l = item->lane;
    if (!l || l->running != item)
        return;
    l->running = NULL;
    make_ready(ls, l);
    pump(ls);
}

void tkt_lanes_done(tkt_lanes_t *ls, tkt_lane_item_t *item)
{
    tkt_lane_t *l = item->lane;
    if (!l || !item->started)
        return;
    if (l->running == item)
        l->running = NULL;
    item->lane = NULL;
    l->active--;
    ls->active--;
    make_ready(ls, l);
    lane_maybe_free(ls, l);
    pump(ls);
}

int tkt_lanes_cancel(tkt_lanes_t *ls, tkt_lane_item_t *item)
{
    tkt_lane_t *l = item->lane;
    if (!l || item->started)
        return -1;
    tkt_lane_item_t **pp = &l->head, *prev = NULL;
    while (*pp && *pp != item) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (!*pp)
        return -1;
    *pp = item->next;
    if (l->tail == item)
        l->tail = prev;
    item->lane = NULL;
    item->next = NULL;
    ls->waiting--;
    ls->waiting_bytes -= item->cost;
    lane_maybe_free(ls, l);
    return 0;
}

size_t tkt_lanes_cancel_if(tkt_lanes_t *ls, int (*match)(void *ctx, tkt_lane_item_t *item),
                           void *ctx)
{
    size_t n = 0;
    for (size_t b = 0; b < BUCKETS; b++)
        for (tkt_lane_t *l = ls->buckets[b], *next; l; l = next) {
            next = l->next; /* the lane may be freed by its last cancel */
            tkt_lane_item_t **pp = &l->head, *prev = NULL;
            while (*pp) {
                tkt_lane_item_t *it = *pp, *after = it->next;
                size_t cost = it->cost;
                if (!match(ctx, it)) { /* on 1, the item is the caller's: not touched again */
                    prev = it;
                    pp = &it->next;
                    continue;
                }
                *pp = after;
                if (l->tail == it)
                    l->tail = prev;
                ls->waiting--;
                ls->waiting_bytes -= cost;
                n++;
            }
            lane_maybe_free(ls, l);
        }
    return n;
}

size_t tkt_lanes_active(const tkt_lanes_t *ls)
{
    return ls->active;
}

size_t tkt_lanes_waiting(const tkt_lanes_t *ls)
{
    return ls->waiting;
}

size_t tkt_lanes_waiting_bytes(const tkt_lanes_t *ls)
{
    return ls->waiting_bytes;
}

size_t tkt_lanes_active_of(const tkt_lanes_t *ls, const char *key)
{
    const tkt_lane_t *l = lane_find(ls, key);
    return l ? l->active : 0;
}

int tkt_lanes_has_waiting(const tkt_lanes_t *ls, const char *key)
{
    const tkt_lane_t *l = lane_find(ls, key);
    return l && l->head != NULL;
}

void tkt_lanes_free(tkt_lanes_t *ls, void (*drop)(void *ctx, tkt_lane_item_t *item), void *ctx)
{
    if (!ls)
        return;
    for (size_t b = 0; b < BUCKETS; b++)
        while (ls->buckets[b]) {
            tkt_lane_t *l = ls->buckets[b];
            ls->buckets[b] = l->next;
            for (tkt_lane_item_t *it = l->head, *next; it; it = next) {
                next = it->next;
                it->lane = NULL;
                if (drop)
                    drop(ctx, it);
            }
            free(l);
        }
    free(ls);
}
