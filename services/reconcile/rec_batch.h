/* A growing list of canonical events: what the reconciler backfills for
 * one call. Memory: the batch owns its events (rec_batch_clear frees them);
 * rec_batch_take moves a normaliser's events in. One thread. */
#ifndef REC_BATCH_H
#define REC_BATCH_H

#include "ing_normalise.h"

#include <stddef.h>

typedef struct {
    cmn_event_t *ev;
    size_t n, cap;
} rec_batch_t;

void rec_batch_init(rec_batch_t *b);
/* Frees every event and the array; the batch is empty and usable again. */
void rec_batch_clear(rec_batch_t *b);
/* Moves every event of `from` to the end of `b`, marked as backfilled
 * (source = reconciliation); `from` is left empty. 0, or -1 out of memory
 * (then `from` is cleared). */
int rec_batch_take(rec_batch_t *b, ing_events_t *from) __attribute__((warn_unused_result));

/* A normaliser's result into the batch: rc is what it returned; on 0 its
 * events are taken (rec_batch_take). 0, or -1 with err set (the
 * normaliser's reason, or out of memory). */
int rec_batch_add_normalised(rec_batch_t *b, int rc, ing_events_t *events, ing_error_t *err)
    __attribute__((warn_unused_result));

#endif
