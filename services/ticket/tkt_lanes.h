/* Lanes: the order and the admission of ticket-service's jobs.
 *
 * Every job has a key (the customer's number, or the call id when it is
 * withheld). Jobs of one key start one after the other, in arrival order,
 * and the next one starts only when the previous one has passed the
 * ordered part of its work (tkt_lanes_release: the state it wrote is what
 * the next one reads). Jobs of different keys run side by side, within two
 * bounds that keep memory and fairness in check:
 *
 *   - max_active jobs started and not yet done, overall: a started job holds
 *     its state, its ops and CRM requests (kilobytes); a waiting one holds
 *     only its event;
 *   - max_per_key of them for one key: a hot key (a robocaller, a
 *     provider's retry storm on one number) cannot take every slot while its
 *     writes wait for the CRM's per-ticket limit; its surplus waits in its
 *     lane, and other keys keep flowing.
 *
 * Keys ready to start wait in one FIFO, so under saturation the slots go
 * round the keys. The bytes of waiting jobs are counted (cost given at
 * enter) so the caller can stop fetching when they pass a budget.
 *
 * No I/O; the start callback is the only way out. Memory: the lanes own
 * their lane records (key copied); items are the caller's, embedded in its
 * jobs, and must stay put from enter until done (or cancel). */
#ifndef TKT_LANES_H
#define TKT_LANES_H

#include <stddef.h>

typedef struct tkt_lanes tkt_lanes_t;
typedef struct tkt_lane tkt_lane_t;

/* Embed one per job; zero it before tkt_lanes_enter. */
typedef struct tkt_lane_item {
    struct tkt_lane_item *next; /* in its lane's queue */
    tkt_lane_t *lane;           /* NULL when not in the lanes */
    size_t cost;                /* bytes while waiting */
    int started;
} tkt_lane_item_t;

/* Called when an item may start. It may call back into the lanes
 * (release, done, enter) before it returns. */
typedef void (*tkt_lanes_start_fn)(void *ctx, tkt_lane_item_t *item);

/* max_active, max_per_key >= 1. NULL when out of memory. */
tkt_lanes_t *tkt_lanes_new(size_t max_active, size_t max_per_key, tkt_lanes_start_fn start,
                           void *ctx);

/* Queues the item behind the key's earlier items; starts it at once when
 * nothing holds it back. -1 when out of memory (the item is not queued). */
int tkt_lanes_enter(tkt_lanes_t *ls, tkt_lane_item_t *item, const char *key, size_t cost);

/* The started item is through the ordered part: the key's next item may start. */
void tkt_lanes_release(tkt_lanes_t *ls, tkt_lane_item_t *item);

/* The started item is finished (released or not): its slot is free. */
void tkt_lanes_done(tkt_lanes_t *ls, tkt_lane_item_t *item);

/* Takes out an item that has not started; returns 0, or -1 when it has. */
int tkt_lanes_cancel(tkt_lanes_t *ls, tkt_lane_item_t *item);

/* Takes out every waiting item for which match(ctx, item) returns 1: from
 * then on it is the caller's (match may free it). Returns how many. */
size_t tkt_lanes_cancel_if(tkt_lanes_t *ls, int (*match)(void *ctx, tkt_lane_item_t *item),
                           void *ctx);

size_t tkt_lanes_active(const tkt_lanes_t *ls);  /* started, not done */
size_t tkt_lanes_waiting(const tkt_lanes_t *ls); /* entered, not started */
size_t tkt_lanes_waiting_bytes(const tkt_lanes_t *ls);
/* Started items of one key (0 for a key with no lane). */
size_t tkt_lanes_active_of(const tkt_lanes_t *ls, const char *key);
/* 1 when an item of this key waits behind the started ones. */
int tkt_lanes_has_waiting(const tkt_lanes_t *ls, const char *key);

/* Frees the lanes; waiting items are handed to `drop` (may be NULL) first.
 * Started items must have been dealt with by their owner. NULL-safe. */
void tkt_lanes_free(tkt_lanes_t *ls, void (*drop)(void *ctx, tkt_lane_item_t *item), void *ctx);

#endif
