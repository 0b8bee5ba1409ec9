/* Bulk creations (issue 12): contacts and tickets no agent is waiting for
 * (missed, abandoned, voicemail, a split transfer's idle leg, an outbound
 * call no one attached: the caller decides which, R-B4 keeps the rest at
 * once) are collected for a window across all calls and created with the
 * CRM's bulk creation (Zendesk: tickets/create_many, users/create_many, up
 * to TKT_CRM_MAX_BULK each), one kind per request; the job's results give
 * each creation its id.
 *
 * Nothing here makes a creation safe to repeat: the caller marks it first
 * and, when the mark already existed, waits for the CRM's jobs and looks
 * the external id up before it creates again (tkt_create.h). A creation
 * whose outcome is unknown comes back with maybe_applied set and is never
 * re-sent from here. */
#ifndef TKT_BULKCREATE_H
#define TKT_BULKCREATE_H

#include "tkt_crm.h"

#include <event2/event.h>

typedef struct tkt_bulkcreate tkt_bulkcreate_t;

/* The creation's outcome (borrowed for the call): item->ok and its
 * ticket_id (the created record's id), or item->error with retryable /
 * maybe_applied. */
typedef void (*tkt_bulkcreate_done_fn)(void *owner, const tkt_crm_item_t *item);

/* NULL when out of memory or when the CRM has no bulk creation. crm is
 * borrowed and must outlive the returned object. window_s: 1..60. */
tkt_bulkcreate_t *tkt_bulkcreate_new(struct event_base *base, tkt_crm_t *crm, int window_s);
/* Copies op (CREATE_TICKET with placeholders resolved, or CREATE_CONTACT);
 * cb runs exactly once, from the loop. -1 (cb not called): out of memory
 * or another kind of op. */
int tkt_bulkcreate_add(tkt_bulkcreate_t *b, const tkt_op_t *op, tkt_bulkcreate_done_fn cb,
                       void *owner) __attribute__((warn_unused_result));
/* Send what is collected now (shutdown, a rebalance, or an event of the
 * same customer waiting behind one of them). */
void tkt_bulkcreate_flush_now(tkt_bulkcreate_t *b);
/* Creations added and not yet called back. */
size_t tkt_bulkcreate_pending(const tkt_bulkcreate_t *b);
/* Bulk requests sent, and creations they carried (their difference is the
 * requests saved, counted in ticket_bulk_create_requests_saved_total). */
size_t tkt_bulkcreate_requests(const tkt_bulkcreate_t *b);
size_t tkt_bulkcreate_sent(const tkt_bulkcreate_t *b);
/* Collected creations get a failed callback (maybe_applied 0: never sent);
 * free the CRM adapter first (its cancelled requests call back here).
 * NULL-safe. */
void tkt_bulkcreate_free(tkt_bulkcreate_t *b);

#endif
