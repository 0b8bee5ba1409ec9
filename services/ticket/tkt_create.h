/* "Mark, then create or find": the one home of the sequence that makes a
 * CRM creation safe to repeat after a crash or a retry (issue 7 items 5
 * and 11). Used for the rules' contacts and tickets; meant for every
 * creation that carries a deterministic external id (IVR pre-created
 * tickets, R-T10 replacement tickets).
 *
 *   1. SET NX tkt:creating:<external id> (tkt_store_intent).
 *   2. Just set: no earlier attempt, create.
 *      It existed: an earlier attempt may have created it (and crashed
 *      before storing its id), so look the external id up first; found:
 *      that one (existed = 1), else create.
 * An op without an external id has nothing to be found by: created at once. */
#ifndef TKT_CREATE_H
#define TKT_CREATE_H

#include "tkt_bulkcreate.h"
#include "tkt_crm.h"
#include "tkt_store.h"

/* id: the created or found CRM id on success, NULL on failure (res->error
 * and res->http_status say why; 0 with a Redis error). res and id are
 * borrowed for the call. existed: 1 when an earlier attempt had made it. */
typedef void (*tkt_create_done_fn)(void *ctx, const tkt_crm_result_t *res, const char *id,
                                   int existed);

/* op: TKT_OP_CREATE_TICKET (placeholders resolved) or TKT_OP_CREATE_CONTACT,
 * copied. crm and store are borrowed and must outlive the callback, which
 * runs exactly once, from the loop. Returns -1 (cb not called) when Redis
 * is not connected, memory is short or op is of another kind. */
int tkt_create_once(tkt_crm_t *crm, tkt_store_t *store, const tkt_op_t *op, tkt_create_done_fn cb,
                    void *ctx) __attribute__((warn_unused_result));

/* The same, for a creation that may go through the bulk creations (issue
 * 12). bulk (borrowed): created there, with others, when the window is
 * sent; NULL: at once. maybe_bulked: an earlier attempt may have gone
 * through them, and its job may still be queued at the CRM (its record
 * not there to be found yet): when the mark already existed, the CRM's
 * queued and running jobs are waited for (await_jobs) before the external
 * id is looked up, so a retried bulk creation never makes a second record. */
int tkt_create_once_bulk(tkt_crm_t *crm, tkt_store_t *store, tkt_bulkcreate_t *bulk,
                         int maybe_bulked, const tkt_op_t *op, tkt_create_done_fn cb, void *ctx)
    __attribute__((warn_unused_result));

#endif
