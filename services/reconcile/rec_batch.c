/* The backfill's event list (rec_batch.h). */
#include "rec_batch.h"

#include <stdlib.h>

void rec_batch_init(rec_batch_t *b)
{
    b->ev = NULL;
    b->n = b->cap = 0;
}

void rec_batch_clear(rec_batch_t *b)
{
    for (size_t i = 0; i < b->n; i++)
        cmn_event_clear(&b->ev[i]);
    free(b->ev);
    rec_batch_init(b);
}

static int grow(rec_batch_t *b, size_t more)
{
    size_t cap = b->cap ? b->cap : 8;
    while (cap < b->n + more)
        cap *= 2;
    if (cap == b->cap)
        return 0;
    cmn_event_t *ev = realloc(b->ev, cap * sizeof *ev);
    if (!ev)
        return -1;
    b->ev = ev;
    b->cap = cap;
    return 0;
}

int rec_batch_take(rec_batch_t *b, ing_events_t *from)
{
    if (grow(b, from->n) < 0) {
        ing_events_clear(from);
        return -1;
    }
    size_t first = b->n;
    for (size_t i = 0; i < from->n; i++) {
        b->ev[b->n++] = from->ev[i]; /* the batch owns its strings from here */
        cmn_event_init(&from->ev[i]);
    }
    from->n = 0;
    for (size_t i = first; i < b->n; i++)
        if (cmn_event_set(&b->ev[i].source, CMN_EVENT_SOURCE_RECONCILIATION) < 0)
            return -1;
    return 0;
}

int rec_batch_add_normalised(rec_batch_t *b, int rc, ing_events_t *events, ing_error_t *err)
{
    if (rc < 0)
        return -1;
    if (rec_batch_take(b, events) < 0)
        return ing_fail(err, "", "out of memory");
    return 0;
}
