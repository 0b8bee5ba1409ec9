/* Per-event job state machine, up to the commit: lanes, load, decide,
 * create, commit (tkt_job.h says which part does the rest); see
 * tkt_pipeline.h for the steps and docs/ticket-service.md for why each
 * crash point is safe. */
#include "tkt_job.h"
#include "cmn_log.h"
#include "cmn_time.h"
#include "tkt_create.h"

#include <stdlib.h>
#include <string.h>

#define RETRY_MAX_MS 30000

static void start(job_t *j);
static void decide(job_t *j);
static void create_next(job_t *j);

/* ---- lanes ------------------------------------------------------------------ */

static unsigned hash(const char *s)
{
    unsigned h = 2166136261u;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h % LANE_BUCKETS;
}

const char *tkt_job_key(const job_t *j)
{
    return cmn_event_key(&j->ev);
}

/* The job is through the ordered part: its key's next event may start. */
static void lane_release(job_t *j)
{
    tkt_lanes_release(j->p->lanes, &j->entry->item);
}

/* ---- jobs applying a committed plan, by event id ---------------------------
 * A provider re-post (same event id) can arrive while the first copy's
 * writes wait in the batch window: its plan is committed, not yet done, and
 * the CRM does not show its comments yet, so the marker check would let the
 * copy write them a second time. A copy finds the first one here and waits
 * for its done marker instead. */

static void applying_add(job_t *j)
{
    unsigned h = hash(j->ev.event_id);
    if (j->applying)
        return;
    j->applying_next = j->p->applying[h];
    j->p->applying[h] = j;
    j->applying = 1;
}

static void applying_remove(job_t *j)
{
    if (!j->applying)
        return;
    job_t **pp = &j->p->applying[hash(j->ev.event_id)];
    while (*pp && *pp != j)
        pp = &(*pp)->applying_next;
    if (*pp)
        *pp = j->applying_next;
    j->applying = 0;
}

/* Another job of this process is applying the same event's plan. */
static int applying_elsewhere(const job_t *j)
{
    for (const job_t *o = j->p->applying[hash(j->ev.event_id)]; o; o = o->applying_next)
        if (o != j && strcmp(o->ev.event_id, j->ev.event_id) == 0)
            return 1;
    return 0;
}

/* ---- ending a job ------------------------------------------------------- */

static void job_free(job_t *j)
{
    tkt_pipeline_t *p = j->p;
    if (j->jobs_prev)
        j->jobs_prev->jobs_next = j->jobs_next;
    else if (p->jobs == j)
        p->jobs = j->jobs_next;
    if (j->jobs_next)
        j->jobs_next->jobs_prev = j->jobs_prev;
    applying_remove(j);
    if (j->deferred)
        p->n_deferred--;
    if (j->retry)
        event_free(j->retry);
    free(j->custom_ctx);
    cmn_event_clear(&j->ev);
    free(j->ops);
    free(j->entry);
    free(j);
}

static void finish(job_t *j, int ok)
{
    tkt_pipeline_t *p = j->p;
    tkt_pipeline_done_fn cb = j->cb;
    void *cb_ctx = j->cb_ctx;
    tkt_lanes_done(p->lanes, &j->entry->item); /* may start the next job at once */
    if (!j->dead)                              /* a dead letter is counted as such */
        cmn_metric_add(ok ? p->m_done : p->m_rejected, 1);
    job_free(j);
    if (cb)
        cb(cb_ctx, ok);
}

static void send_dead_letter(job_t *j);

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    job_t *j = arg;
    if (j->dead) { /* its dead letter was not stored: again, not the event */
        send_dead_letter(j);
        return;
    }
    start(j);
}

/* Backoff from 1 s to RETRY_MAX_MS, then on_retry. */
static void schedule_retry(job_t *j, const char *why)
{
    int delay = 1000 << (j->attempts < 5 ? j->attempts : 5);
    struct timeval tv;
    if (delay > RETRY_MAX_MS)
        delay = RETRY_MAX_MS;
    j->attempts++;
    cmn_metric_add(j->p->m_retries, 1);
    LOG_CALL(CMN_LOG_WARN, j->ev.call_id, "event %s: %s; retrying in %d ms", j->ev.event_id, why,
             delay);
    tv.tv_sec = delay / 1000;
    tv.tv_usec = (delay % 1000) * 1000;
    if (!j->retry)
        j->retry = evtimer_new(j->p->d.base, on_retry, j);
    if (!j->retry || evtimer_add(j->retry, &tv) < 0)
        LOG_ERROR("cannot schedule a retry for %s", j->ev.event_id);
}

/* Something transient failed (CRM, Redis): start over later. Everything
 * before the failure is idempotent or checked, so a restart is safe. Not
 * for ever: past the retry limit the event is dead-lettered, so that its
 * partition (every later call of its customers) moves on. */
void tkt_job_retry_later(job_t *j, const char *why)
{
    int64_t now = cmn_time_mono_ms();
    int64_t limit =
        j->p->d.retry_limit_ms > 0 ? j->p->d.retry_limit_ms : TKT_RETRY_LIMIT_DEFAULT_MS;
    if (!j->first_failure_ms) {
        j->first_failure_ms = now;
        j->first_failure_wall_ms = cmn_time_now_ms();
    }
    snprintf(j->last_failure, sizeof j->last_failure, "%s", why ? why : "?");
    if (tkt_failure_outlived(j->first_failure_ms, now, limit)) {
        tkt_job_dead_letter(j, TKT_DECISION_RETRY_LIMIT, why);
        return;
    }
    schedule_retry(j, why);
}

void tkt_job_failed(job_t *j, const tkt_crm_result_t *res, const char *why)
{
    const char *reason = why && *why ? why : res->error[0] ? res->error : "CRM request failed";
    j->crm_status = res->http_status;
    snprintf(j->crm_error, sizeof j->crm_error, "%s", res->error);
    if (tkt_failure_of(res) == TKT_FAIL_PERMANENT) {
        tkt_job_dead_letter(j, TKT_DECISION_PERMANENT, reason);
        return;
    }
    tkt_job_retry_later(j, reason);
}

/* ---- dead letters (issue 19 item 4) ------------------------------------- */

static void on_dead_letter_stored(void *arg, const char *err)
{
    job_t *j = arg;
    if (err) { /* not durable: the offset stays; the letter is sent again */
        schedule_retry(j, err);
        return;
    }
    cmn_metric_add(strcmp(j->dead, TKT_DECISION_PERMANENT) == 0 ? j->p->m_dead_permanent
                                                                : j->p->m_dead_retry_limit,
                   1);
    finish(j, 0);
}

static void send_dead_letter(job_t *j)
{
    tkt_pipeline_t *p = j->p;
    tkt_dead_letter_t dl = {.decision = j->dead,
                            .reason = j->last_failure,
                            .crm_status = j->crm_status,
                            .crm_error = j->crm_error,
                            .attempts = j->attempts,
                            .first_failure_ms = j->first_failure_wall_ms};
    p->d.dead_letter(p->d.dead_letter_ctx, j->cb_ctx, &j->ev, &dl, on_dead_letter_stored, j);
}

/* Given up on, loudly: its dead letter is stored, then it is done (its
 * offset may move). Its done marker is not set: a replay of the letter
 * (deploy/tools/callbus-dlq-replay) is processed again. */
void tkt_job_dead_letter(job_t *j, const char *decision, const char *why)
{
    snprintf(j->last_failure, sizeof j->last_failure, "%s", why ? why : "?");
    if (!j->first_failure_wall_ms)
        j->first_failure_wall_ms = cmn_time_now_ms();
    LOG_CALL(CMN_LOG_ERROR, j->ev.call_id, "event %s dead-lettered (%s): %s", j->ev.event_id,
             decision, j->last_failure);
    j->dead = decision;
    if (!j->p->d.dead_letter) { /* nowhere to keep it: logged above, counted, moved on */
        on_dead_letter_stored(j, NULL);
        return;
    }
    send_dead_letter(j);
}

static void on_marked_done(void *ctx, const char *err)
{
    job_t *j = ctx;
    if (err) {
        tkt_job_retry_later(j, err);
        return;
    }
    finish(j, !j->rejected);
}

void tkt_job_mark_done(job_t *j)
{
    if (tkt_store_mark_done(j->p->d.store, j->ev.event_id, on_marked_done, j) < 0)
        tkt_job_retry_later(j, "redis unavailable");
}

/* ---- commit ------------------------------------------------------------------ */

/* Refused commits decided again at once; more in a row back off. */
#define CONFLICTS_AT_ONCE 5

static void on_committed(void *ctx, const char *err)
{
    job_t *j = ctx;
    if (err == tkt_store_conflict && ++j->conflicts <= CONFLICTS_AT_ONCE) {
        /* Another writer (a replica during a rebalance, the IVR binding)
         * stored this call or customer since we loaded it: load it again
         * and decide on what is there now. The creations made so far are
         * found again by their external ids (tkt_create.h). An event
         * without a number writes its call's customer: load that one. */
        if (!j->ev.customer_number)
            snprintf(j->cust_key, sizeof j->cust_key, "%s", j->cust.number);
        LOG_CALL(CMN_LOG_INFO, j->ev.call_id, "event %s: %s; deciding again", j->ev.event_id, err);
        start(j);
        return;
    }
    if (err) {
        tkt_job_retry_later(j, err);
        return;
    }
    j->conflicts = 0;
    lane_release(j); /* the next event of this customer may decide now */
    applying_add(j);
    tkt_job_apply(j);
}

static void commit(job_t *j)
{
    tkt_op_t rest[TKT_MAX_OPS];
    size_t n = 0;
    for (size_t i = 0; i < j->n_ops; i++)
        if (j->ops[i].kind == TKT_OP_COMMENT || j->ops[i].kind == TKT_OP_UPDATE)
            rest[n++] = j->ops[i];
    if (tkt_store_commit(j->p->d.store, j->ev.event_id, &j->call, &j->cust, &j->revs, rest, n,
                         j->call_done, on_committed, j) < 0)
        tkt_job_retry_later(j, "redis unavailable");
}

/* ---- creations (at once, R-B4) ------------------------------------------ */

static void replace_ref(char *field, size_t sz, const char *ref, const char *id)
{
    if (strcmp(field, ref) == 0)
        snprintf(field, sz, "%s", id);
}
#define REPLACE(field, ref, id) replace_ref(field, sizeof(field), ref, id)

/* Puts a created id wherever the plan used its placeholder. A placeholder
 * names the last creation of its kind before it (tkt_rules.c op_find), and
 * the state's the last one of the plan: a split transfer's idle leg (R-T4,
 * created first, not remembered) must not take the new leg's binding. */
static void resolve(job_t *j, const char *ref, const char *id)
{
    tkt_op_kind_t kind = j->ops[j->creation].kind;
    size_t next = j->creation + 1;
    for (; next < j->n_ops && j->ops[next].kind != kind; next++) {
        REPLACE(j->ops[next].ticket_id, ref, id);
        REPLACE(j->ops[next].requester_id, ref, id);
    }
    if (next < j->n_ops)
        return; /* a later creation of this kind owns the rest */
    REPLACE(j->call.ticket_id, ref, id);
    REPLACE(j->call.contact_id, ref, id);
    for (size_t i = 0; i < j->call.n_legs; i++)
        REPLACE(j->call.legs[i].ticket_id, ref, id);
    REPLACE(j->cust.contact_id, ref, id);
    REPLACE(j->cust.last_call.ticket_id, ref, id);
    REPLACE(j->cust.missed_ticket_id, ref, id); /* the group's ticket (R-M2) */
    for (size_t i = 0; i < j->cust.n_tickets; i++)
        REPLACE(j->cust.tickets[i].id, ref, id);
}

static void defer(job_t *j)
{
    if (j->deferred)
        return;
    j->deferred = 1;
    j->p->n_deferred++;
}

static void undefer(job_t *j)
{
    if (!j->deferred)
        return;
    j->deferred = 0;
    j->p->n_deferred--;
}

static void created(job_t *j, const char *ref, const char *id)
{
    resolve(j, ref, id);
    j->creation++;
    create_next(j);
}

static void on_contact_created(void *ctx, const tkt_crm_result_t *res, const char *id, int existed)
{
    job_t *j = ctx;
    undefer(j);
    if (!id) {
        tkt_job_failed(j, res, res->error[0] ? res->error : "contact not created");
        return;
    }
    if (existed) /* an attempt before a crash created it */
        cmn_metric_add(j->p->m_replayed, 1);
    else if (j->creation < j->n_ops) /* the next look-up finds it without a search */
        tkt_mirror_note_created(j->p->d.mirror, j->ops[j->creation].phone, id,
                                j->ops[j->creation].name);
    created(j, TKT_REF_NEW_CONTACT, id);
}

static void on_ticket_created(void *ctx, const tkt_crm_result_t *res, const char *id, int existed)
{
    job_t *j = ctx;
    undefer(j);
    if (!id && !res->refused && tkt_failure_of(res) == TKT_FAIL_PERMANENT && !j->recheck_contact) {
        /* Most often a cached contact the CRM no longer has (deleted or
         * merged): resolve the caller again, once. */
        j->recheck_contact = 1;
        tkt_job_retry_later(j, res->error);
        return;
    }
    if (!id) { /* refused for good: dead-lettered, not retried for ever */
        tkt_job_failed(j, res, res->error[0] ? res->error : "ticket not created");
        return;
    }
    if (existed) /* an earlier attempt created it: not twice */
        cmn_metric_add(j->p->m_replayed, 1);
    else
        cmn_metric_add(j->p->m_created[j->ops[j->creation].ticket_kind % 6], 1);
    created(j, TKT_REF_NEW_TICKET, id);
}

/* A ticket no agent is waiting for (issue 12; R-B4 keeps the others at
 * once): a missed, abandoned or voicemail call's, or one made closed (a
 * split transfer's idle leg, an outbound call no one attached, R-T4,
 * R-O2). Its event's pop, if any, went out before (R-P2 at ringing). */
static int no_one_waits(const tkt_op_t *op)
{
    return op->kind == TKT_OP_CREATE_TICKET &&
           (op->ticket_kind == TKT_KIND_MISSED || op->ticket_kind == TKT_KIND_ABANDONED ||
            op->ticket_kind == TKT_KIND_VOICEMAIL || op->status == TKT_ST_CLOSED);
}

/* Whether this creation is one for the bulk window: a ticket no one waits
 * for, or a contact made only as the requester of such tickets. (An agent
 * waiting behind it makes it go at once all the same: hurry.) */
static int deferrable(const job_t *j, const tkt_op_t *op)
{
    int tickets = 0;
    if (!j->p->d.bulk_create || !op->external_id[0])
        return 0;
    if (op->kind == TKT_OP_CREATE_TICKET)
        return no_one_waits(op);
    for (size_t i = 0; i < j->n_ops; i++) {
        if (j->ops[i].kind != TKT_OP_CREATE_TICKET)
            continue;
        if (!no_one_waits(&j->ops[i]))
            return 0;
        tickets++;
    }
    return tickets > 0;
}

static void create_next(job_t *j)
{
    for (; j->creation < j->n_ops; j->creation++) {
        const tkt_op_t *op = &j->ops[j->creation];
        if (op->kind != TKT_OP_CREATE_CONTACT && op->kind != TKT_OP_CREATE_TICKET)
            continue;
        tkt_create_done_fn done =
            op->kind == TKT_OP_CREATE_CONTACT ? on_contact_created : on_ticket_created;
        /* Its customer's next event waiting behind it: no window either. */
        int may_bulk = deferrable(j, op),
            bulk = may_bulk && !j->hurry && !tkt_lanes_has_waiting(j->p->lanes, tkt_job_key(j));
        if (bulk)
            defer(j);
        if (tkt_create_once_bulk(j->p->d.crm, j->p->d.store, bulk ? j->p->d.bulk_create : NULL,
                                 may_bulk, op, done, j) < 0) {
            undefer(j);
            tkt_job_retry_later(j, "redis unavailable");
        }
        return;
    }
    commit(j);
}

/* Events an agent may be waiting on: a ringing, answered or transferred
 * call, an outbound call being placed or answered, and what is not a call
 * event (agent actions, R-P6: counted in, to be safe). */
static int agent_facing(cmn_event_type_t type)
{
    switch (type) {
    case CMN_EV_OFFERED:
    case CMN_EV_ANSWERED:
    case CMN_EV_TRANSFERRED:
    case CMN_EV_OUTBOUND_STARTED:
    case CMN_EV_OUTBOUND_ANSWERED:
    case CMN_EV_NONE:
        return 1;
    default:
        return 0;
    }
}

/* An event entered the lane of a customer whose earlier events are being
 * worked on (the lane holds it behind them): they defer nothing more, and
 * what they already deferred goes now rather than at the window's end. An
 * agent may be waiting on that event; and even when no one is, a deferred
 * creation holding its own customer's next event for a whole window made a
 * hot number's lane drain one event per window (the backlog benchmark:
 * 0.1 events/s with a 10 s window). Other customers still share windows. */
static void expedite(tkt_pipeline_t *p, const char *key)
{
    int flush = 0;
    if (!p->d.bulk_create && !p->d.status_reads)
        return;
    for (job_t *o = p->jobs; o; o = o->jobs_next)
        if (strcmp(tkt_job_key(o), key) == 0) {
            o->hurry = 1;
            flush |= o->deferred;
        }
    if (flush && p->d.bulk_create)
        tkt_bulkcreate_flush_now(p->d.bulk_create);
    if (flush && p->d.status_reads)
        tkt_reads_flush_now(p->d.status_reads);
}

/* ---- deciding ------------------------------------------------------------ */

/* Last touches before ops are committed: R-T9 reports, replay markers. */
static void prepare_ops(job_t *j)
{
    for (size_t i = 0; i < j->n_ops; i++)
        if (j->ops[i].kind == TKT_OP_CREATE_TICKET || j->ops[i].kind == TKT_OP_UPDATE)
            tkt_fields_apply(j->p->d.missing_fields, &j->ops[i]); /* R-T9 */
    for (size_t i = 0; i < j->n_ops; i++) {
        tkt_op_t *op = &j->ops[i];
        char marker[TKT_MARKER_MAX];
        if (!op->body[0])
            continue;
        tkt_marker(marker, sizeof marker, j->ev.event_id, i);
        size_t room = sizeof op->body - 1 - strlen(marker);
        if (strlen(op->body) > room)
            op->body[room] = '\0';
        strcat(op->body, marker);
    }
}

static void count_figures(job_t *j)
{
    if (j->figures.ignored_unmapped)
        cmn_metric_add(j->p->m_ignored, 1);
    if (j->figures.ignored_internal)
        cmn_metric_add(j->p->m_ignored_internal, 1);
}

static void on_contacts(void *ctx, const tkt_crm_result_t *res)
{
    job_t *j = ctx;
    if (!res->ok) { /* a look-up form the adapter refuses is permanent */
        tkt_job_failed(j, res, res->error);
        return;
    }
    j->facts.contacts_known = 1;
    j->facts.n_contacts = 0;
    for (size_t i = 0; i < res->n_contacts && i < 8; i++) {
        tkt_contact_ref_t *c = &j->facts.contacts[j->facts.n_contacts++];
        snprintf(c->id, sizeof c->id, "%s", res->contacts[i].id);
        c->created_at_ms = res->contacts[i].created_at_ms;
        snprintf(c->name, sizeof c->name, "%s", res->contacts[i].name);
        snprintf(c->email, sizeof c->email, "%s", res->contacts[i].email);
    }
    decide(j);
}

/* The status of the ticket the rules asked about (R-T2, R-O1), read now. */
static void ticket_seen(job_t *j, tkt_status_t status, const char *merged_into)
{
    for (size_t i = 0; i < j->cust.n_tickets; i++) {
        tkt_ticket_ref_t *t = &j->cust.tickets[i];
        if (strcmp(t->id, j->need_ticket_id) != 0)
            continue;
        t->fresh = 1;
        t->status = status;
        snprintf(t->merged_into, sizeof t->merged_into, "%s", merged_into);
    }
    j->facts.tickets_checked = 1;
    decide(j);
}

static void on_ticket_status(void *ctx, const tkt_crm_result_t *res)
{
    job_t *j = ctx;
    if (!res->ok && !res->not_found) {
        tkt_job_failed(j, res, res->error);
        return;
    }
    /* A ticket gone from the CRM counts as closed: never written to again. */
    ticket_seen(j, res->not_found ? TKT_ST_CLOSED : res->ticket.status, res->ticket.merged_into);
}

/* The same, read in bulk with others (tkt_reads.h). A merge shows as the
 * ticket being closed, which is all R-T2 needs: not reused. */
static void on_ticket_read(void *owner, const tkt_crm_item_t *item)
{
    job_t *j = owner;
    undefer(j);
    if (!item->ok && !item->closed) {
        tkt_job_retry_later(j, item->error[0] ? item->error : "status read failed");
        return;
    }
    ticket_seen(j, item->ok ? item->status : TKT_ST_CLOSED, "");
}

/* The contact's tickets in the CRM (TKT_NEED_CONTACT_TICKETS), newest first. */
static void on_contact_cases(void *ctx, const tkt_crm_result_t *res)
{
    job_t *j = ctx;
    if (!res->ok) {
        tkt_job_failed(j, res, res->error);
        return;
    }
    j->facts.cases_known = 1;
    j->facts.n_cases = 0;
    for (size_t i = 0; i < res->n_tickets && i < 8; i++) {
        snprintf(j->facts.case_ids[i], sizeof j->facts.case_ids[i], "%s", res->tickets[i].id);
        j->facts.case_status[i] = res->tickets[i].status;
        j->facts.n_cases++;
    }
    decide(j);
}

static int remembers(const tkt_customer_t *c, const char *ticket_id)
{
    for (size_t i = 0; i < c->n_tickets && i < TKT_MAX_TICKETS; i++)
        if (strcmp(c->tickets[i].id, ticket_id) == 0)
            return 1;
    return 0;
}

/* R-C5: the customer whose ticket the agent called from (tkt_store.h
 * tkt:owner:). Another customer's state replaces the dialled number's for
 * this decision, and the commit writes it, checked against the revision
 * read here like any customer (a conflict loads and decides again). */
static void on_owner(void *ctx, const tkt_loaded_t *l, const char *err)
{
    job_t *j = ctx;
    if (err) {
        tkt_job_retry_later(j, err);
        return;
    }
    j->facts.owner_known = 1;
    /* only a customer that still remembers the ticket: one whose list it
     * fell off (TKT_MAX_TICKETS) is not handed in, and R-O1 makes a new
     * ticket for the dialled number as before */
    if (l->have_customer && l->customer.number[0] &&
        strcmp(l->customer.number, j->cust.number) != 0 &&
        remembers(&l->customer, j->need_ticket_id)) {
        LOG_CALL(CMN_LOG_INFO, j->ev.call_id, "event %s: ticket %s is a ticket of %s (R-C5)",
                 j->ev.event_id, j->need_ticket_id, l->customer.number);
        j->cust = l->customer;
        j->revs.cust = l->revs.cust;
    }
    decide(j);
}

static void fetch_contacts(job_t *j)
{
    char phone[32];
    if (!j->ev.customer_number || cmn_phone_lookup_form(j->ev.customer_number, j->p->d.lookup_form,
                                                        j->p->d.country, phone, sizeof phone) < 0) {
        j->facts.contacts_known = 1; /* no number to look up: nothing to find */
        decide(j);
        return;
    }
    /* R-C2 may follow a miss: the mirror vouches for one only as of now
     * (tkt_mirror_rule.h). A cached contact the CRM refused is resolved
     * by the search: the mirror may still hold it. */
    if (j->recheck_contact)
        j->p->d.crm->ops->find_contacts(j->p->d.crm, phone, TKT_PRIO_CREATE, on_contacts, j);
    else
        tkt_mirror_find(j->p->d.mirror, j->p->d.crm, j->ev.customer_number, phone, TKT_PRIO_CREATE,
                        TKT_MIRROR_FOR_CREATE, on_contacts, j);
}

/* The job's own copy of n ops (it owns them; the source is not changed). */
static int keep_ops(job_t *j, const tkt_op_t *ops, size_t n)
{
    tkt_op_t *copy = n ? malloc(n * sizeof *copy) : NULL;
    if (n && !copy)
        return -1;
    if (n)
        memcpy(copy, ops, n * sizeof *copy);
    free(j->ops);
    j->ops = copy;
    j->n_ops = n;
    return 0;
}

static void decide(job_t *j)
{
    tkt_pipeline_t *p = j->p;
    tkt_plan_t *plan = &p->scratch; /* decided and copied out before anything else runs */
    int rc = j->custom ? j->custom(j->custom_ctx, &j->ev, &j->call, &j->cust, &j->facts, plan)
                       : tkt_decide(p->d.policy, &j->ev, &j->call, &j->cust, &j->facts, plan);
    j->announce = plan->announce;
    j->refused = plan->refused;
    j->linked = plan->linked;
    snprintf(j->action_id, sizeof j->action_id, "%s", plan->action_id ? plan->action_id : "");
    if (rc < 0) {
        LOG_CALL(CMN_LOG_WARN, j->ev.call_id, "event %s rejected: %s", j->ev.event_id,
                 plan->note ? plan->note : "?");
        keep_ops(j, NULL, 0);
        j->rejected = 1;
        if (j->refused) /* the agent is told (issue 24), then done */
            tkt_job_announce_refusal(j);
        else
            tkt_job_mark_done(j); /* logged and counted; replays skip it */
        return;
    }
    snprintf(j->need_ticket_id, sizeof j->need_ticket_id, "%s", plan->need_ticket_id);
    if (plan->need == TKT_NEED_CONTACTS && !j->asked_contacts++) {
        fetch_contacts(j);
        return;
    }
    if (plan->need == TKT_NEED_TICKET_STATUS && !j->asked_ticket++) {
        /* No agent waiting on this event: the read waits for the window's
         * show_many; one waiting: read at once, exact (issue 12). */
        if (p->d.status_reads && !agent_facing(j->ev.type) && !j->hurry &&
            tkt_reads_add(p->d.status_reads, j->need_ticket_id, on_ticket_read, j) == 0) {
            defer(j);
            return;
        }
        p->d.crm->ops->show_ticket(p->d.crm, j->need_ticket_id, TKT_PRIO_CREATE, on_ticket_status,
                                   j);
        return;
    }
    if (plan->need == TKT_NEED_TICKET_OWNER && !j->asked_owner++) {
        if (tkt_store_load_owner(p->d.store, j->need_ticket_id, on_owner, j) < 0)
            tkt_job_retry_later(j, "redis unavailable");
        return;
    }
    if (plan->need == TKT_NEED_CONTACT_TICKETS && !j->asked_cases++) {
        p->d.crm->ops->contact_tickets(p->d.crm, j->need_ticket_id, TKT_PRIO_CREATE,
                                       on_contact_cases, j);
        return;
    }
    if (plan->need != TKT_NEED_NOTHING) {
        LOG_CALL(CMN_LOG_ERROR, j->ev.call_id, "rules asked twice for the same fact on %s",
                 j->ev.event_id);
        tkt_job_mark_done(j);
        return;
    }
    if (plan->note && plan->n_ops == 0)
        LOG_CALL(CMN_LOG_DEBUG, j->ev.call_id, "%s: %s", cmn_event_type_name(j->ev.type),
                 plan->note);
    if (keep_ops(j, plan->ops, plan->n_ops) < 0) {
        tkt_job_retry_later(j, "out of memory");
        return;
    }
    j->call = plan->call;
    j->cust = plan->customer;
    j->call_done = plan->call_done;
    j->figures = plan->figures;
    count_figures(j);
    prepare_ops(j);
    j->creation = 0;
    create_next(j);
}

/* ---- loading ------------------------------------------------------------- */

static void on_loaded(void *ctx, const tkt_loaded_t *l, const char *err)
{
    job_t *j = ctx;
    if (err) {
        tkt_job_retry_later(j, err);
        return;
    }
    if (l->done) {
        cmn_metric_add(j->p->m_replayed, 1);
        finish(j, 1);
        return;
    }
    if (l->have_plan && applying_elsewhere(j)) { /* a re-post while the first copy applies */
        cmn_metric_add(j->p->m_replayed, 1);
        lane_release(j);
        tkt_job_retry_later(j, "the same event is being applied; waiting for it");
        return;
    }
    if (l->have_plan) { /* committed before a crash: apply what it says, checked */
        applying_add(j);
        j->replay = 1;
        if (keep_ops(j, l->plan, l->n_plan) < 0) {
            tkt_job_retry_later(j, "out of memory");
            return;
        }
        j->call = l->call;
        j->cust = l->customer;
        j->revs = l->revs;
        snprintf(j->job_ids, sizeof j->job_ids, "%s", l->job_ids);
        cmn_metric_add(j->p->m_replayed, 1);
        lane_release(j);
        tkt_job_apply_after_jobs(j);
        return;
    }
    memset(&j->facts, 0, sizeof j->facts);
    j->asked_contacts = j->asked_ticket = j->asked_cases = j->asked_owner = 0;
    j->call = l->call;
    j->cust = l->customer;
    j->revs = l->revs;
    if (j->recheck_contact) { /* forget the contact the CRM refused */
        j->cust.contact_id[0] = '\0';
        if (strcmp(j->call.contact_id, j->call.picked_contact_id) != 0)
            j->call.contact_id[0] = '\0';
    }
    if (!l->have_call)
        snprintf(j->call.call_id, sizeof j->call.call_id, "%s", j->ev.call_id ? j->ev.call_id : "");
    if (!l->have_customer && j->ev.customer_number)
        snprintf(j->cust.number, sizeof j->cust.number, "%s", j->ev.customer_number);
    decide(j);
}

/* A ticket id the provider (an IVR, an agent desktop) sent that cannot be
 * one of the CRM's is dropped, logged and counted: the call goes on as if
 * none was given, instead of a request with it failing for ever. */
static void check_provider_ticket_id(job_t *j)
{
    const tkt_crm_t *crm = j->p->d.crm;
    if (!j->ev.ticket_id || !crm || !crm->ops->valid_ticket_id ||
        crm->ops->valid_ticket_id(crm, j->ev.ticket_id))
        return;
    LOG_CALL(CMN_LOG_WARN, j->ev.call_id,
             "event %s: ticket_id \"%.64s\" is not a ticket id of "
             "the CRM: ignored",
             j->ev.event_id, j->ev.ticket_id);
    cmn_metric_add(j->p->m_bad_ticket_ids, 1);
    free(j->ev.ticket_id);
    j->ev.ticket_id = NULL;
}

static void start(job_t *j)
{
    const char *call_id = j->ev.call_id ? j->ev.call_id : "-";
    const char *customer = j->ev.customer_number ? j->ev.customer_number : j->cust_key;
    if (tkt_store_load(j->p->d.store, j->ev.event_id, call_id, customer, on_loaded, j) < 0)
        tkt_job_retry_later(j, "redis unavailable");
}

/* The lanes let an entry start: its job is made now (the state, the ops
 * and the CRM requests come with it). Without memory for it the entry
 * keeps its slot and tries again a second later: nothing is skipped. */
static void on_lane_start(void *ctx, tkt_lane_item_t *item)
{
    tkt_pipeline_t *p = ctx;
    entry_t *e = (entry_t *)item;
    job_t *j = calloc(1, sizeof *j);
    if (!j) {
        static const struct timeval one_second = {1, 0};
        LOG_ERROR("out of memory: event %s waits for memory", e->ev.event_id);
        e->oom_next = p->oom_head;
        p->oom_head = e;
        if (evtimer_add(p->oom_timer, &one_second) < 0)
            LOG_ERROR("cannot schedule the start of %s", e->ev.event_id);
        return;
    }
    j->p = p;
    j->entry = e;
    j->ev = e->ev;
    cmn_event_init(&e->ev); /* its members now belong to the job */
    j->cb = e->cb;
    j->cb_ctx = e->cb_ctx;
    j->custom = e->custom;
    j->custom_ctx = e->custom_ctx;
    e->custom_ctx = NULL;
    check_provider_ticket_id(j);
    j->jobs_next = p->jobs;
    if (p->jobs)
        p->jobs->jobs_prev = j;
    p->jobs = j;
    start(j);
}

static void on_oom_timer(evutil_socket_t fd, short what, void *arg)
{
    tkt_pipeline_t *p = arg;
    entry_t *e = p->oom_head;
    p->oom_head = NULL;
    while (e) {
        entry_t *next = e->oom_next;
        on_lane_start(p, &e->item);
        e = next;
    }
}

int tkt_pipeline_submit(tkt_pipeline_t *p, cmn_event_t *ev, tkt_pipeline_done_fn cb, void *ctx)
{
    return tkt_pipeline_submit_with(p, ev, NULL, NULL, cb, ctx);
}

int tkt_pipeline_submit_with(tkt_pipeline_t *p, cmn_event_t *ev, tkt_decide_fn decide_fn,
                             void *decide_ctx, tkt_pipeline_done_fn cb, void *ctx)
{
    entry_t *e = calloc(1, sizeof *e);
    if (!e) {
        LOG_ERROR("out of memory: event %s not taken now", ev->event_id);
        return -1;
    }
    e->p = p;
    e->ev = *ev;
    e->cb = cb;
    e->cb_ctx = ctx;
    e->custom = decide_fn;
    e->custom_ctx = decide_ctx;
    size_t cost = sizeof *e + cmn_event_footprint(&e->ev);
    char key[TKT_CALL_ID_MAX]; /* the entry may start (and its event move) on entering */
    const char *k = cmn_event_key(&e->ev);
    snprintf(key, sizeof key, "%s", k ? k : "");
    int behind = *key && tkt_lanes_active_of(p->lanes, key) > 0; /* earlier events at work */
    if (tkt_lanes_enter(p->lanes, &e->item, cmn_event_key(&e->ev), cost) < 0) {
        LOG_ERROR("out of memory: event %s not taken now", ev->event_id);
        free(e);
        return -1;
    }
    /* Taken: the members are the entry's (or, if it started, its job's). */
    cmn_event_init(ev);
    if (behind)
        expedite(p, key);
    return 0;
}

typedef struct {
    int (*cancel)(void *cb_ctx, void *arg);
    void *arg;
} cancel_t;

static int cancel_entry(void *ctx, tkt_lane_item_t *item)
{
    const cancel_t *c = ctx;
    entry_t *e = (entry_t *)item;
    if (!c->cancel(e->cb_ctx, c->arg))
        return 0;
    cmn_event_clear(&e->ev);
    free(e->custom_ctx);
    free(e);
    return 1;
}

size_t tkt_pipeline_cancel_queued(tkt_pipeline_t *p, int (*cancel)(void *cb_ctx, void *arg),
                                  void *arg)
{
    cancel_t c = {cancel, arg};
    return tkt_lanes_cancel_if(p->lanes, cancel_entry, &c);
}

size_t tkt_pipeline_in_flight(const tkt_pipeline_t *p)
{
    return tkt_lanes_active(p->lanes) + tkt_lanes_waiting(p->lanes);
}

size_t tkt_pipeline_active(const tkt_pipeline_t *p)
{
    return tkt_lanes_active(p->lanes);
}

int tkt_pipeline_saturated(const tkt_pipeline_t *p)
{
    return tkt_lanes_waiting_bytes(p->lanes) > p->d.waiting_max_bytes;
}

/* ---- life cycle ------------------------------------------------------------ */

tkt_pipeline_t *tkt_pipeline_new(const tkt_pipeline_deps_t *deps)
{
    static const char *const kinds[] = {"call",   "ivr",       "voicemail",
                                        "missed", "abandoned", "outbound"};
    tkt_pipeline_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->d = *deps;
    p->lanes =
        tkt_lanes_new(deps->max_active ? deps->max_active : 1000,
                      deps->max_active_per_key ? deps->max_active_per_key : 16, on_lane_start, p);
    p->oom_timer = evtimer_new(deps->base, on_oom_timer, p);
    if (!p->lanes || !p->oom_timer) {
        tkt_lanes_free(p->lanes, NULL, NULL);
        if (p->oom_timer)
            event_free(p->oom_timer);
        free(p);
        return NULL;
    }
    if (!p->d.waiting_max_bytes)
        p->d.waiting_max_bytes = (size_t)48 << 20;
    p->m_done = cmn_metrics_counter("ticket_events_done_total", "Call events fully applied", NULL);
    p->m_rejected = cmn_metrics_counter("ticket_events_rejected_total",
                                        "Call events the rules could not handle (logged)", NULL);
    p->m_retries = cmn_metrics_counter(
        "ticket_event_retries_total", "Event processing restarted after a transient failure", NULL);
    p->m_timed_out = cmn_metrics_counter("ticket_calls_timed_out_total",
                                         "Calls closed because their end never came", NULL);
    p->m_replayed =
        cmn_metrics_counter("ticket_events_replayed_total",
                            "Replayed events recognised (done, planned or created)", NULL);
    p->m_ops_refused = cmn_metrics_counter("ticket_ops_refused_total",
                                           "Updates the CRM refused for good (4xx), logged", NULL);
    p->m_ignored = cmn_metrics_counter("ticket_calls_ignored_unmapped_total",
                                       "Calls of operators with no CRM agent (R-I3)", NULL);
    p->m_bad_ticket_ids =
        cmn_metrics_counter("ticket_provider_ticket_ids_refused_total",
                            "Ticket ids from providers that cannot be the CRM's (ignored)", NULL);
    p->m_dead_permanent = cmn_metrics_counter(
        "ticket_events_dead_lettered_total",
        "Events given up on and kept on ticket-service.dlq, by decision", "decision=\"permanent\"");
    p->m_dead_retry_limit =
        cmn_metrics_counter("ticket_events_dead_lettered_total",
                            "Events given up on and kept on ticket-service.dlq, by decision",
                            "decision=\"retry_limit\"");
    p->m_ignored_internal = cmn_metrics_counter("ticket_calls_ignored_internal_total",
                                                "Internal (extension) calls: no ticket", NULL);
    for (int i = 0; i < 6; i++) {
        char labels[32];
        snprintf(labels, sizeof labels, "kind=\"%s\"", kinds[i]);
        p->m_created[i] = cmn_metrics_counter("ticket_tickets_created_total",
                                              "Tickets created from calls, by kind (R-S1)", labels);
    }
    return p;
}

static void drop_waiting(void *ctx, tkt_lane_item_t *item)
{
    entry_t *e = (entry_t *)item;
    cmn_event_clear(&e->ev); /* never started: replayed from Kafka next time */
    free(e->custom_ctx);
    free(e);
}

void tkt_pipeline_free(tkt_pipeline_t *p)
{
    if (!p)
        return;
    while (p->jobs) /* unfinished: replayed from Kafka next time */
        job_free(p->jobs);
    while (p->oom_head) {
        entry_t *e = p->oom_head;
        p->oom_head = e->oom_next;
        drop_waiting(NULL, &e->item);
    }
    tkt_lanes_free(p->lanes, drop_waiting, NULL);
    if (p->oom_timer)
        event_free(p->oom_timer);
    free(p);
}
