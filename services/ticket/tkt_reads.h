/* Status reads no agent waits for (R-T2's "is the ticket still open?"
 * before a call is added to it, issue 12): collected for a window across
 * all calls and read with the CRM's ticket_statuses (Zendesk: show_many,
 * up to TKT_CRM_MAX_BULK tickets a request). A read an agent is waiting
 * on (an answered call's pop) is not made here: the caller reads it at
 * once (show_ticket), exact. */
#ifndef TKT_READS_H
#define TKT_READS_H

#include "tkt_crm.h"

#include <event2/event.h>

typedef struct tkt_reads tkt_reads_t;

/* The ticket's status (borrowed for the call): item->ok with status (and
 * closed for solved/closed); ok = 0 with closed = 1: the CRM no longer has
 * it; ok = 0 and closed = 0: the read failed (item->error). */
typedef void (*tkt_reads_done_fn)(void *owner, const tkt_crm_item_t *item);

/* NULL when out of memory or the CRM cannot read statuses in bulk. crm is
 * borrowed and must outlive the returned object. window_s: 1..60. */
tkt_reads_t *tkt_reads_new(struct event_base *base, tkt_crm_t *crm, int window_s);
/* cb runs exactly once, from the loop. -1 (cb not called): out of memory
 * or not a ticket id the CRM could have. */
int tkt_reads_add(tkt_reads_t *r, const char *ticket_id, tkt_reads_done_fn cb, void *owner)
    __attribute__((warn_unused_result));
void tkt_reads_flush_now(tkt_reads_t *r);
size_t tkt_reads_pending(const tkt_reads_t *r); /* NULL-safe */
/* Reads not yet sent fail (free the CRM adapter first). NULL-safe. */
void tkt_reads_free(tkt_reads_t *r);

#endif
