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
 * backoff, holding its offset: nothing is skipped. A replayed event that
 * was already done does nothing; one whose plan was committed re-applies
 * the plan, skipping comments the CRM already shows (marker check). */
#ifndef TKT_PIPELINE_H
#define TKT_PIPELINE_H

#include "cmn_event.h"
#include "cmn_phone.h"
#include "cmn_producer.h"
#include "tkt_batch.h"
#include "tkt_crm.h"
#include "tkt_rules.h"
#include "tkt_store.h"

#include <event2/event.h>

typedef struct tkt_pipeline tkt_pipeline_t;

/* Mapped custom fields the CRM turned out not to have (R-T9), filled in by
 * main.c once the CRM's field list arrives. */
typedef struct {
    char names[256]; /* "call_duration (1234), ..." as reported on tickets */
    char ids[9][TKT_ID_MAX];
    size_t n;
} tkt_missing_fields_t;

typedef struct {
    struct event_base *base;
    tkt_crm_t *crm;
    tkt_batch_t *batch;
    tkt_store_t *store;
    cmn_producer_t *producer; /* ticket-events */
    const tkt_policy_t *policy;
    const cmn_country_t *country;
    cmn_phone_lookup_t lookup_form;             /* R-I2 */
    int64_t max_call_age_ms;                    /* close calls whose end never came */
    const tkt_missing_fields_t *missing_fields; /* may be NULL */
} tkt_pipeline_deps_t;

/* Called once the event's effects are all durable (ok=1), or when the
 * event is rejected for good (ok=0: logged and counted). */
typedef void (*tkt_pipeline_done_fn)(void *ctx, int ok);

tkt_pipeline_t *tkt_pipeline_new(const tkt_pipeline_deps_t *deps);
/* Takes ownership of *ev (its members; the struct is copied). */
void tkt_pipeline_submit(tkt_pipeline_t *p, cmn_event_t *ev, tkt_pipeline_done_fn cb, void *ctx);
/* A decision other than the call rules, for messages that are not call
 * events (agent actions, missed-call operations): same contract as
 * tkt_decide() (the plan's ops and new state). */
typedef int (*tkt_decide_fn)(void *ctx, const cmn_event_t *ev, const tkt_call_t *call,
                             const tkt_customer_t *customer, const tkt_facts_t *facts,
                             tkt_plan_t *out);

/* Like tkt_pipeline_submit, deciding with `decide` (ctx freed with free()
 * when the job ends). `ev` needs event_id, call_id and/or customer_number
 * (the lane key); its type may be CMN_EV_NONE. */
void tkt_pipeline_submit_with(tkt_pipeline_t *p, cmn_event_t *ev, tkt_decide_fn decide,
                              void *decide_ctx, tkt_pipeline_done_fn cb, void *ctx);

/* Jobs not finished yet. */
size_t tkt_pipeline_in_flight(const tkt_pipeline_t *p);
/* For tkt_batch_cfg_t.on_job (owner: the job that added the op): a bulk
 * request carrying one of its ops was accepted as the CRM's job `job_id`;
 * stored with its plan, so a replay waits for that job (issue 7 item 3). */
void tkt_pipeline_job_started(void *owner, const char *job_id);
/* Looks for calls open longer than max_call_age_ms and ends them (run by a timer). */
void tkt_pipeline_sweep(tkt_pipeline_t *p);
void tkt_pipeline_free(tkt_pipeline_t *p);

#endif
