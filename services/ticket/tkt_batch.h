/* The batched CRM flush (R-B1..R-B5). Comments and assignment/ticket
 * updates, each switched on or off on its own, are collected across all
 * calls for a window (1-60 s), coalesced per ticket — comments in their
 * order, later status/assignee/field values winning — and flushed with the
 * CRM's bulk update, at most TKT_CRM_MAX_BULK tickets a request. Per-item
 * results are read back: failed items are retried in a later window. A
 * ticket already near the CRM's per-ticket limit (Zendesk: 30 updates per
 * 10 minutes) waits for a later window instead of being refused.
 *
 * Each added op gets exactly one completion callback, when it is durable in
 * the CRM or has definitively failed. The caller holds its Kafka offset
 * until then (offsets follow effects). */
#ifndef TKT_BATCH_H
#define TKT_BATCH_H

#include "tkt_crm.h"

#include <event2/event.h>

typedef struct tkt_batch tkt_batch_t;

typedef struct {
    int window_s;     /* R-B2: 1..60, default 10 */
    int comments;     /* R-B1: batch comments */
    int updates;      /* R-B1: batch assignment/ticket updates */
    int ticket_limit; /* updates per ticket per ticket_window_s we allow ourselves */
    int ticket_window_s;
    int max_attempts; /* per op, before it is reported failed */
    /* Optional: the bulk request carrying an op of `owner` was accepted as
     * the CRM's job `job_id` (not necessarily run yet); once per op and
     * flight, before the op's completion. */
    void (*on_job)(void *owner, const char *job_id);
} tkt_batch_cfg_t;

typedef enum {
    TKT_BATCH_OK = 0,
    TKT_BATCH_CLOSED,   /* the ticket is closed: redirect (R-T7) or new ticket (R-T10) */
    TKT_BATCH_FAILED,   /* gave up after max_attempts transient failures, or at once when
                         * the write may have been applied (never re-sent blind: the
                         * owner waits for the CRM's jobs and checks markers first) */
    TKT_BATCH_REJECTED, /* the CRM refused it for good (invalid assignee, field...) */
} tkt_batch_outcome_t;

/* `op` is borrowed for the call. */
typedef void (*tkt_batch_done_fn)(void *owner, const tkt_op_t *op, tkt_batch_outcome_t outcome,
                                  const char *error);

tkt_batch_t *tkt_batch_new(struct event_base *base, tkt_crm_t *crm, const tkt_batch_cfg_t *cfg);
/* Whether this op goes through the batch under the configuration (R-B1, R-B4). */
int tkt_batch_accepts(const tkt_batch_t *b, const tkt_op_t *op);
/* Copies `op` (COMMENT or UPDATE on a real ticket id). */
int tkt_batch_add(tkt_batch_t *b, const tkt_op_t *op, tkt_batch_done_fn cb, void *owner)
    __attribute__((warn_unused_result));
/* Flush what is collected now (shutdown: R-B2 window cut short). */
void tkt_batch_flush_now(tkt_batch_t *b);
/* Ops added and not yet completed. */
size_t tkt_batch_pending(const tkt_batch_t *b);
/* Bulk requests sent, and ops those carried (ops - requests = requests saved). */
size_t tkt_batch_requests(const tkt_batch_t *b);
size_t tkt_batch_ops_sent(const tkt_batch_t *b);
/* Pending ops get a FAILED callback. Free the CRM adapter first: its
 * cancelled bulk requests call back into the batch. NULL-safe. */
void tkt_batch_free(tkt_batch_t *b);

#endif
