/* ticket-service's per-event processing. A job per call event:
 *
 *   load (done marker, plan, state) -> decide (fetching what the rules need)
 *   -> create contacts/tickets (at once, R-B4) -> commit state + remaining
 *   ops as a write-ahead plan (Redis, atomic) -> apply the remaining ops
 *   (batched or at once) -> publish ticket-events -> mark done -> the
 *   caller's done callback (the consumer stores the offset then).
 *
 * One customer's jobs run one after the other up to the commit step (the
 * rules read the state the previous event wrote), different customers in
 * parallel. A job that cannot reach the CRM or Redis is retried with
 * backoff, holding its offset, up to the retry limit; one the CRM refuses
 * for good, or past that limit, is dead-lettered (tkt_failure.h) before
 * its offset moves: nothing is skipped unkept. A replayed event that
 * was already done does nothing; one whose plan was committed re-applies
 * the plan, skipping comments the CRM already shows (marker check). */
#ifndef TKT_PIPELINE_H
#define TKT_PIPELINE_H

#include "cmn_event.h"
#include "cmn_phone.h"
#include "cmn_producer.h"
#include "tkt_batch.h"
#include "tkt_bulkcreate.h"
#include "tkt_reads.h"
#include "tkt_crm.h"
#include "tkt_mirror.h"
#include "tkt_fields.h"
#include "tkt_rules.h"
#include "tkt_store.h"

#include <event2/event.h>

typedef struct tkt_pipeline tkt_pipeline_t;

/* Why an event is given up on (issue 19 item 4): what a dead letter says
 * besides the event. Borrowed for the call it is passed to. */
typedef struct {
    const char *decision;     /* TKT_DECISION_PERMANENT / TKT_DECISION_RETRY_LIMIT */
    const char *reason;       /* what failed last */
    int crm_status;           /* the CRM's last HTTP status; 0: none (no answer, or not asked) */
    const char *crm_error;    /* the CRM's (or the adapter's) last answer; "" none */
    int attempts;             /* retries before it was given up */
    int64_t first_failure_ms; /* wall clock of its first failure; 0 for none */
} tkt_dead_letter_t;

/* The dead letter was stored durably (err NULL) or not (err: tried again
 * later). `job` is the pipeline's, passed through. */
typedef void (*tkt_dead_letter_stored_fn)(void *job, const char *err);
/* Stores the dead letter of the event submitted with done-callback context
 * done_ctx, and calls stored(job, ...) exactly once, from the loop, when it
 * is durable or failed. ev and dl are borrowed for the call. */
typedef void (*tkt_dead_letter_fn)(void *ctx, void *done_ctx, const cmn_event_t *ev,
                                   const tkt_dead_letter_t *dl, tkt_dead_letter_stored_fn stored,
                                   void *job);

/* CALLBUS_TICKET_RETRY_LIMIT_S's default: longer than a CRM's usual
 * incident or maintenance window, far inside Kafka's retention. */
#define TKT_RETRY_LIMIT_DEFAULT_MS (4LL * 3600 * 1000)

typedef struct {
    struct event_base *base;
    tkt_crm_t *crm;
    /* Issue 26 item 3: answers look-ups by phone it can vouch for; NULL:
     * every look-up searches the CRM. */
    tkt_mirror_t *mirror;
    tkt_batch_t *batch;
    /* Contacts and tickets no agent waits for, created in bulk (issue 12);
     * NULL: every creation at once. */
    tkt_bulkcreate_t *bulk_create;
    /* R-T2 status reads no agent waits for, one show_many per window
     * (issue 12); NULL: every read at once. */
    tkt_reads_t *status_reads;
    tkt_store_t *store;
    cmn_producer_t *producer; /* ticket-events */
    const tkt_policy_t *policy;
    const cmn_country_t *country;
    cmn_phone_lookup_t lookup_form;             /* R-I2 */
    int64_t max_call_age_ms;                    /* close calls whose end never came */
    const tkt_missing_fields_t *missing_fields; /* R-T9, filled by main.c at start; may be NULL */
    /* Admission (tkt_lanes.h): events worked on at once, of them per
     * customer, and the bytes of those waiting their turn before
     * tkt_pipeline_saturated() says stop fetching. 0: 1000, 16, 48 MiB. */
    size_t max_active, max_active_per_key, waiting_max_bytes;
    /* Also pop the ticket through the CRM's telephony API (display_ticket)
     * when an agent answers or receives the call. */
    int crm_display;
    /* An event that can never be applied (tkt_failure.h: permanent), or
     * whose transient failures outlived retry_limit_ms, goes to
     * dead_letter; it is done (done callback, ok = 0) only once its letter
     * is durable, so its offset never passes an event kept nowhere. NULL:
     * such an event is rejected at once (logged and counted). */
    tkt_dead_letter_fn dead_letter;
    void *dead_letter_ctx;
    int64_t retry_limit_ms; /* 0: TKT_RETRY_LIMIT_DEFAULT_MS */
} tkt_pipeline_deps_t;

/* Called once the event's effects are all durable (ok=1), or when the
 * event is rejected for good (ok=0: logged and counted; dead-lettered,
 * its letter durable, when it failed for good). Either way the
 * event is dealt with and its offset may move; an event the pipeline
 * cannot take now is refused by submit instead (-1), never reported here. */
typedef void (*tkt_pipeline_done_fn)(void *ctx, int ok);

tkt_pipeline_t *tkt_pipeline_new(const tkt_pipeline_deps_t *deps);
/* Takes ownership of *ev (its members; the struct is copied) and returns 0;
 * or -1 when out of memory: nothing taken (*ev still the caller's, cb
 * never called), the caller holds the offset and offers it again later. */
int tkt_pipeline_submit(tkt_pipeline_t *p, cmn_event_t *ev, tkt_pipeline_done_fn cb, void *ctx);
/* A decision other than the call rules, for messages that are not call
 * events (agent actions, missed-call operations): same contract as
 * tkt_decide() (the plan's ops and new state). */
typedef int (*tkt_decide_fn)(void *ctx, const cmn_event_t *ev, const tkt_call_t *call,
                             const tkt_customer_t *customer, const tkt_facts_t *facts,
                             tkt_plan_t *out);

/* Like tkt_pipeline_submit, deciding with `decide` (ctx freed with free()
 * when the job ends; the caller's again on -1). `ev` needs event_id,
 * call_id and/or customer_number (the lane key); its type may be CMN_EV_NONE. */
int tkt_pipeline_submit_with(tkt_pipeline_t *p, cmn_event_t *ev, tkt_decide_fn decide,
                             void *decide_ctx, tkt_pipeline_done_fn cb, void *ctx);

/* Drops the events that have not started (waiting in their lane, behind
 * its head or for a slot) for which cancel(cb_ctx, arg) returns 1, without calling their done
 * callback: cancel has then taken over cb_ctx (released it, and given the
 * event back to whoever redelivers it). Returns how many were dropped.
 * Used when a consumer partition is revoked: its unstarted events are the
 * next owner's. */
size_t tkt_pipeline_cancel_queued(tkt_pipeline_t *p, int (*cancel)(void *cb_ctx, void *arg),
                                  void *arg);

/* Events taken and not finished yet (waiting or worked on); of them, worked on. */
size_t tkt_pipeline_in_flight(const tkt_pipeline_t *p);
size_t tkt_pipeline_active(const tkt_pipeline_t *p);
/* The events waiting their turn hold more than waiting_max_bytes: stop
 * fetching until they drain (a hot customer's surplus, typically). */
int tkt_pipeline_saturated(const tkt_pipeline_t *p);
/* For tkt_batch_cfg_t.on_job (owner: the job that added the op): a bulk
 * request carrying one of its ops was accepted as the CRM's job `job_id`;
 * stored with its plan, so a replay waits for that job (issue 7 item 3). */
void tkt_pipeline_job_started(void *owner, const char *job_id);
/* Looks for calls open longer than max_call_age_ms and ends them (run by a timer). */
void tkt_pipeline_sweep(tkt_pipeline_t *p);
void tkt_pipeline_free(tkt_pipeline_t *p);

#endif
