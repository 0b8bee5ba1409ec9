/* ticket-service's state in Redis (ARCHITECTURE: "call<->ticket binding,
 * contact cache, applied-effect markers").
 *
 * Every key starts with "<CALLBUS_TOPIC_PREFIX>tkt:".
 *   tkt:done:<event id>      the event's effects are all durable (7 days)
 *   tkt:plan:<event id>      write-ahead plan: the ops still to apply, written
 *                            with the new state before any batched op is sent
 *   tkt:jobs:<event id>      "<job id>,..." the CRM's bulk jobs that carried
 *                            the plan's ops, appended as each request is
 *                            accepted (7 days; dropped with the plan)
 *   tkt:call:<call id>       tkt_call_t as JSON (7 days; 1 day once ended)
 *   tkt:cust:<E.164>         tkt_customer_t as JSON (30 days)
 *   tkt:creating:<ext id>    a ticket or contact with this external_id may
 *                            exist (1 day; tkt_create.h)
 *   tkt:owner:<ticket id>    E.164 of the customer whose state remembers
 *                            this ticket of ours (30 days, written with the
 *                            customer): R-C5, a call from the ticket to
 *                            another number finds the ticket's customer
 *   tkt:open-calls           sorted set: call id by when its last event was
 *                            processed, for closing calls whose end never comes
 * See docs/ticket-service.md for the crash points this makes safe.
 *
 * The call and customer values end with their revision, `"rev":<n>`, which
 * only tkt_store_commit writes (one more than the stored one): a commit
 * names the revisions it decided on and is refused (tkt_store_conflict)
 * when another writer (a second replica, the IVR binding, a job of the
 * same customer that runs past its commit) stored the key since. The
 * writer then loads the state again and decides again (issue 19 item 3;
 * docs/architecture.md "Replicas"). */
#ifndef TKT_STORE_H
#define TKT_STORE_H

#include "cmn_redis.h"
#include "tkt_model.h"

#define TKT_PLAN_MAX 8
#define TKT_JOB_IDS_MAX 1024

/* The revisions of the call and customer keys a decision was made on (0:
 * not stored). tkt_store_commit checks them and, once the commit succeeded,
 * sets them to those it wrote: a later commit of the same writer (the
 * rebinding after an R-T10 replacement) names its own write. */
typedef struct {
    int64_t call;
    int64_t cust;
} tkt_revs_t;

typedef struct {
    int done;
    int have_plan;
    tkt_op_t plan[TKT_PLAN_MAX];
    size_t n_plan;
    char job_ids[TKT_JOB_IDS_MAX]; /* tkt:jobs: as stored ("" for none); may be cut */
    int have_call;
    tkt_call_t call;
    int have_customer;
    tkt_customer_t customer;
    tkt_revs_t revs; /* of the call and customer as loaded */
} tkt_loaded_t;

/* The error a commit reports when a key changed since `revs` were loaded
 * (compare by pointer or strcmp). Nothing of the commit is applied. */
extern const char tkt_store_conflict[];

typedef struct tkt_store tkt_store_t;

/* err NULL = success. `loaded` is borrowed for the call. */
typedef void (*tkt_store_loaded_fn)(void *ctx, const tkt_loaded_t *loaded, const char *err);
typedef void (*tkt_store_done_fn)(void *ctx, const char *err);
/* fresh: 1 when the marker was just set (no earlier attempt), 0 when it existed. */
typedef void (*tkt_store_intent_fn)(void *ctx, int fresh, const char *err);

/* prefix: CALLBUS_TOPIC_PREFIX, so installations may share one Redis
 * ("<prefix>tkt:..."). */
tkt_store_t *tkt_store_new(cmn_redis_t *redis, const char *prefix);
/* "<prefix>tkt:", for other keys of ticket-service (IVR cache). */
const char *tkt_store_ns(const tkt_store_t *s);
void tkt_store_free(tkt_store_t *s);
int tkt_store_ready(const tkt_store_t *s);

/* Loads the done marker, the plan, the call and the customer in one round
 * trip. customer_key: E.164, or "" (withheld). Returns -1 when Redis is not
 * connected (cb not called). */
int tkt_store_load(tkt_store_t *s, const char *event_id, const char *call_id,
                   const char *customer_key, tkt_store_loaded_fn cb, void *ctx)
    __attribute__((warn_unused_result));

/* Atomically (one Lua script: compare and set) stores the call and customer
 * state and the remaining ops as the event's plan, provided neither key
 * changed since revs were loaded; call_done moves the call out of the
 * open-calls set. cb gets tkt_store_conflict when a key changed (counted in
 * ticket_state_conflicts_total). revs: the caller's, valid until cb; on
 * success set to the revisions written. */
int tkt_store_commit(tkt_store_t *s, const char *event_id, const tkt_call_t *call,
                     const tkt_customer_t *customer, tkt_revs_t *revs, const tkt_op_t *ops,
                     size_t n_ops, int call_done, tkt_store_done_fn cb, void *ctx)
    __attribute__((warn_unused_result));

/* R-C5: the state of the customer tkt:owner:<ticket_id> names (the last
 * one whose commit remembered that ticket), as tkt_store_load loads a
 * customer: have_customer 0 when the ticket is not one callbus made (or
 * its customer expired). Whether that state still remembers the ticket is
 * the caller's to check. Only customer and revs.cust are set. -1 when
 * Redis is not connected (cb not called). */
int tkt_store_load_owner(tkt_store_t *s, const char *ticket_id, tkt_store_loaded_fn cb, void *ctx)
    __attribute__((warn_unused_result));

/* Appends a bulk job that carries ops of the event's plan (tkt:jobs:).
 * Not waited for: a replay that misses it falls back to the CRM's list of
 * jobs (docs/ticket-service.md). -1 when Redis is not connected. */
int tkt_store_add_job(tkt_store_t *s, const char *event_id, const char *job_id)
    __attribute__((warn_unused_result));

/* Marks the event done and drops its plan (and its jobs). */
int tkt_store_mark_done(tkt_store_t *s, const char *event_id, tkt_store_done_fn cb, void *ctx)
    __attribute__((warn_unused_result));

/* SET NX of the creation marker for an external id. */
int tkt_store_intent(tkt_store_t *s, const char *external_id, tkt_store_intent_fn cb, void *ctx)
    __attribute__((warn_unused_result));

/* Up to `max` call ids whose last event is older than before_ms (wall). */
typedef void (*tkt_store_ids_fn)(void *ctx, const char *const *ids, size_t n, const char *err);
int tkt_store_stale_calls(tkt_store_t *s, int64_t before_ms, size_t max, tkt_store_ids_fn cb,
                          void *ctx) __attribute__((warn_unused_result));
/* Takes a stale call out of the open set; fresh=1 only for the one replica
 * whose ZREM removed it, so two replicas never close the same call. */
int tkt_store_claim_stale(tkt_store_t *s, const char *call_id, tkt_store_intent_fn cb, void *ctx)
    __attribute__((warn_unused_result));
int tkt_store_load_call(tkt_store_t *s, const char *call_id, tkt_store_loaded_fn cb, void *ctx)
    __attribute__((warn_unused_result));

#endif
