/* The inside of ticket-service's pipeline, shared by its parts and by
 * nothing else: the job of one event, the pipeline's own state, and the
 * steps one part hands to another.
 *
 *   tkt_pipeline.c  life cycle, lanes, load -> decide -> create -> commit
 *   tkt_apply.c     apply the committed ops (batched or at once), R-T7 and
 *                   R-T10 redirects, bulk jobs awaited on replay, publish
 *                   ticket-events, then mark done
 *   tkt_sweep.c     calls whose end never came
 *
 * Memory: a job owns its event's members, its ops and custom_ctx, and its
 * entry (freed by tkt_job_free); callbacks borrow the job. */
#ifndef TKT_JOB_H
#define TKT_JOB_H

#include "cmn_metrics.h"
#include "tkt_failure.h"
#include "tkt_lanes.h"
#include "tkt_pipeline.h"

#define LANE_BUCKETS 1024

typedef struct job job_t;

/* An event waiting its turn in its key's lane: no more than the event. The
 * job proper (state, ops) is made when it starts (tkt_lanes.h). */
typedef struct entry {
    tkt_lane_item_t item; /* first: the lanes hand it back */
    tkt_pipeline_t *p;
    cmn_event_t ev;
    tkt_pipeline_done_fn cb;
    void *cb_ctx;
    tkt_decide_fn custom;
    void *custom_ctx;
    struct entry *oom_next; /* waiting for memory to start */
} entry_t;

struct job {
    tkt_pipeline_t *p;
    entry_t *entry; /* its place in the lanes */
    job_t *jobs_prev, *jobs_next;
    cmn_event_t ev;
    tkt_pipeline_done_fn cb;
    void *cb_ctx;
    tkt_decide_fn custom; /* NULL: the call rules */
    void *custom_ctx;     /* freed with the job */
    tkt_call_t call;
    tkt_customer_t cust;
    tkt_revs_t revs; /* of call and cust as loaded, then as committed (tkt_store.h) */
    /* The customer to load when the event names none: the one its call
     * belongs to, learnt when a commit for it was refused (tkt_store.h). */
    char cust_key[TKT_PHONE_MAX];
    int conflicts; /* commits refused in a row: past a few, back off */
    tkt_facts_t facts;
    /* What outlives a decision (the plan itself is the pipeline's scratch:
     * a plan holds TKT_MAX_OPS ops of kilobytes each). */
    char need_ticket_id[TKT_ID_MAX];
    int call_done;
    tkt_figures_t figures;
    int asked_contacts, asked_ticket, asked_cases, asked_owner;
    tkt_op_t *ops; /* n_ops of them */
    size_t n_ops;
    size_t creation; /* next op index in the creation step */
    int replay;
    int outstanding;
    int failed;
    int rejected;
    int recheck_contact; /* the CRM refused the cached contact: look it up again */
    int rebound;         /* a write was redirected: the call (or the customer's missed-call
                          * group) now lives on another ticket, stored again */
    /* An agent's action: its ticket event shows the agent the outcome
     * (tkt_plan_t). Not kept with a committed plan: a replay after a crash
     * applies it without the event, the next call event pops the ticket. */
    int announce;
    const char *refused; /* static */
    char action_id[TKT_CALL_ID_MAX];
    int linked;   /* contact.linked: the event says the contact is not new any more */
    int deferred; /* its creation or status read waits for the bulk window */
    int hurry;    /* an agent waits behind it: nothing more of it deferred */
    int attempts;
    /* Failures (issue 19 item 4): since when (monotonic, wall clock), the
     * CRM's last answer, and whether it is being dead-lettered. */
    int64_t first_failure_ms, first_failure_wall_ms;
    int crm_status;
    char crm_error[256];
    char last_failure[256];
    const char *dead; /* its decision while its dead letter is stored; NULL otherwise */
    char job_ids[TKT_JOB_IDS_MAX]; /* replay: the bulk jobs stored with the plan */
    struct event *retry;
    job_t *applying_next; /* in the pipeline's applying set */
    int applying;
};

struct tkt_pipeline {
    tkt_pipeline_deps_t d;
    tkt_lanes_t *lanes;
    job_t *applying[LANE_BUCKETS]; /* jobs past their commit, by event id */
    tkt_plan_t scratch;            /* the decision being made (synchronous) */
    entry_t *oom_head;             /* started, but no memory for their job yet */
    job_t *jobs;                   /* every job started and not finished */
    size_t n_deferred;             /* of them, deferred (a bulk creation or read) */
    struct event *oom_timer;
    cmn_metric_t *m_done, *m_rejected, *m_retries, *m_timed_out, *m_replayed, *m_ignored;
    cmn_metric_t *m_ops_refused, *m_ignored_internal, *m_bad_ticket_ids;
    cmn_metric_t *m_created[6];
    cmn_metric_t *m_dead_permanent, *m_dead_retry_limit;
};

/* tkt_pipeline.c */
void tkt_job_retry_later(job_t *j, const char *why); /* transient failure: start over later */
/* A CRM answer that is not a success: classified (tkt_failure.h), then
 * retried later or dead-lettered. */
void tkt_job_failed(job_t *j, const tkt_crm_result_t *res, const char *why);
/* Given up on: its dead letter, then done (ok = 0). */
void tkt_job_dead_letter(job_t *j, const char *decision, const char *why);
void tkt_job_mark_done(job_t *j);        /* done marker, then finish */
const char *tkt_job_key(const job_t *j); /* its lane's key */

/* tkt_apply.c */
void tkt_job_apply(job_t *j);            /* the committed ops (j->ops), then publish, done */
void tkt_job_apply_after_jobs(job_t *j); /* a replay: the plan's bulk jobs first */
void tkt_job_announce_refusal(job_t *j); /* a refused agent action: its ticket event, done */

#endif
