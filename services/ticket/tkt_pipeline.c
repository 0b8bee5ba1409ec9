/* Per-event job state machine; see tkt_pipeline.h for the steps and
 * docs/ticket-service.md for why each crash point is safe. */
#include "tkt_pipeline.h"
#include "cmn_log.h"
#include "tkt_lanes.h"
#include "cmn_metrics.h"
#include "cmn_time.h"
#include "cmn_topics.h"

#include <stdlib.h>
#include <string.h>

#define LANE_BUCKETS 1024
#define RETRY_MAX_MS 30000

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
    tkt_facts_t facts;
    /* What outlives a decision (the plan itself is the pipeline's scratch:
     * a plan holds TKT_MAX_OPS ops of kilobytes each). */
    char need_ticket_id[TKT_ID_MAX];
    int call_done;
    tkt_figures_t figures;
    int asked_contacts, asked_ticket;
    tkt_op_t *ops; /* n_ops of them */
    size_t n_ops;
    size_t creation; /* next op index in the creation step */
    int replay;
    int outstanding;
    int failed;
    int rejected;
    int recheck_contact; /* the CRM refused the cached contact: look it up again */
    int rebound;         /* a write was redirected: the call now lives on another ticket */
    int attempts;
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
    struct event *oom_timer;
    cmn_metric_t *m_done, *m_rejected, *m_retries, *m_timed_out, *m_replayed, *m_ignored;
    cmn_metric_t *m_ops_refused, *m_ignored_internal;
    cmn_metric_t *m_created[6];
};

static void start(job_t *j);
static void decide(job_t *j);
static void create_next(job_t *j);
static void apply(job_t *j);

/* ---- lanes ------------------------------------------------------------------ */

static unsigned hash(const char *s)
{
    unsigned h = 2166136261u;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h % LANE_BUCKETS;
}

static const char *job_key(const job_t *j)
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
    cmn_metric_add(ok ? p->m_done : p->m_rejected, 1);
    job_free(j);
    if (cb)
        cb(cb_ctx, ok);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    start(arg);
}

/* Something transient failed (CRM, Redis): start over later. Everything
 * before the failure is idempotent or checked, so a restart is safe. */
static void retry_later(job_t *j, const char *why)
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

static void on_marked_done(void *ctx, const char *err)
{
    job_t *j = ctx;
    if (err)
        return retry_later(j, err);
    finish(j, !j->rejected);
}

static void mark_done(job_t *j)
{
    if (tkt_store_mark_done(j->p->d.store, j->ev.event_id, on_marked_done, j) < 0)
        retry_later(j, "redis unavailable");
}

/* ---- ticket-events ------------------------------------------------------ */

static const tkt_ticket_ref_t *ticket_ref(const tkt_customer_t *c, const char *id)
{
    for (size_t i = 0; i < c->n_tickets; i++)
        if (strcmp(c->tickets[i].id, id) == 0)
            return &c->tickets[i];
    return NULL;
}

static int announces_ticket(const job_t *j)
{
    switch (j->ev.type) {
    case CMN_EV_ANSWERED:
    case CMN_EV_TRANSFERRED:
    case CMN_EV_OUTBOUND_STARTED:
    case CMN_EV_ENDED:
    case CMN_EV_OUTBOUND_ENDED:
        return j->call.ticket_id[0] && j->call.ticket_id[0] != '$';
    default:
        return 0;
    }
}

static int created_any(const tkt_figures_t *f)
{
    int n = 0;
    for (size_t i = 0; i < sizeof f->created / sizeof f->created[0]; i++)
        n += f->created[i];
    return n > 0;
}

static json_t *ticket_event(const job_t *j)
{
    char url[512], contact_url[512], when[CMN_TIME_TEXT_MAX], id[sizeof "tkt-" + CMN_ID_TEXT_MAX];
    const tkt_crm_t *crm = j->p->d.crm;
    const tkt_ticket_ref_t *ref = ticket_ref(&j->cust, j->call.ticket_id);
    const char *status = tkt_status_name(ref ? ref->status : TKT_ST_OPEN);
    crm->ops->ticket_url(crm, j->call.ticket_id, url, sizeof url);
    cmn_time_format(cmn_time_now_ms(), when, sizeof when);
    snprintf(id, sizeof id, "tkt-%s", j->ev.event_id);
    json_t *o = json_pack(
        "{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:s}", "schema_version", 1, "event_id", id,
        "cause_event_id", j->ev.event_id, "call_id", j->ev.call_id, "ticket_id", j->call.ticket_id,
        "ticket_url", url, "ticket_kind", tkt_kind_name(j->call.ticket_kind), "status",
        status ? status : "open", "created", created_any(&j->figures), "occurred_at", when);
    if (o && j->ev.customer_number)
        json_object_set_new(o, "customer_number", json_string(j->ev.customer_number));
    if (o && j->call.agent_crm_id[0])
        json_object_set_new(o, "assignee_id", json_string(j->call.agent_crm_id));
    if (o && j->call.contact_id[0] && j->call.contact_id[0] != '$') {
        crm->ops->contact_url(crm, j->call.contact_id, contact_url, sizeof contact_url);
        json_object_set_new(o, "contact",
                            json_pack("{s:s, s:s}", "id", j->call.contact_id, "url", contact_url));
    }
    return o;
}

static void on_published(void *opaque, rd_kafka_resp_err_t err, int32_t partition, int64_t offset)
{
    job_t *j = opaque;
    if (err)
        return retry_later(j, rd_kafka_err2str(err));
    mark_done(j);
}

static void publish(job_t *j);

static void on_rebound_stored(void *ctx, const char *err)
{
    job_t *j = ctx;
    if (err)
        return retry_later(j, err);
    j->rebound = 0;
    publish(j);
}

static void publish_then_done(job_t *j)
{
    if (j->rebound) { /* the call's new ticket first, then announce it */
        if (tkt_store_commit(j->p->d.store, j->ev.event_id, &j->call, &j->cust, NULL, 0,
                             j->call_done, on_rebound_stored, j) < 0)
            retry_later(j, "redis unavailable");
        return;
    }
    publish(j);
}

static void publish(job_t *j)
{
    if (!j->p->d.producer || !announces_ticket(j))
        return mark_done(j);
    json_t *o = ticket_event(j);
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    const char *key = job_key(j);
    json_decref(o);
    if (!text)
        return retry_later(j, "out of memory");
    rd_kafka_resp_err_t err =
        cmn_producer_send(j->p->d.producer, cmn_topic(CMN_TOPIC_TICKET_EVENTS), key, strlen(key),
                          text, strlen(text), on_published, j);
    free(text);
    if (err)
        retry_later(j, rd_kafka_err2str(err));
}

/* ---- applying the committed ops ---------------------------------------- */

static void op_settled(job_t *j, int ok, const char *why)
{
    if (!ok) {
        j->failed = 1;
        LOG_CALL(CMN_LOG_WARN, j->ev.call_id, "op on %s failed: %s", j->ev.event_id,
                 why ? why : "?");
    }
    if (--j->outstanding > 0)
        return;
    if (j->failed) {
        j->failed = 0;
        j->replay = 1; /* from now on, comments are checked before they are re-sent */
        return retry_later(j, "an operation did not complete");
    }
    publish_then_done(j);
}

static void send_now(job_t *j, const tkt_op_t *op);
static void apply_one(job_t *j, const tkt_op_t *op);

/* A write meant for `from` went to `to` (R-T7 merge target, R-T10
 * replacement): the call follows, so its later writes, its ticket event and
 * its pop name the ticket that has them. Stored before the event is done. */
static void rebind(job_t *j, const char *from, const char *to)
{
    for (size_t i = 0; i < j->cust.n_tickets; i++)
        if (strcmp(j->cust.tickets[i].id, from) == 0) {
            j->cust.tickets[i].status = TKT_ST_CLOSED;
            snprintf(j->cust.tickets[i].merged_into, sizeof j->cust.tickets[i].merged_into, "%s",
                     to);
        }
    if (strcmp(j->call.ticket_id, from) != 0)
        return;
    snprintf(j->call.ticket_id, sizeof j->call.ticket_id, "%s", to);
    j->rebound = 1;
}

/* R-T10: a write for a ticket a person closed goes to a new ticket instead.
 * Its external id names the call and the closed ticket, and its creation is
 * marked in Redis first (as the rules' creations are): a later write of the
 * same call (a recording after the end of the call, a replay after a crash)
 * finds that ticket and writes there instead of making another one. */
typedef struct {
    job_t *j;
    tkt_op_t create; /* the new ticket, the write as its first comment */
    tkt_op_t write;  /* the write itself, for when the new ticket exists already */
} instead_t;

static void instead_done(instead_t *w, int ok, const char *error)
{
    job_t *j = w->j;
    free(w);
    op_settled(j, ok, error);
}

/* A 4xx other than 409/429: asking again would get the same answer. */
static int refused_for_good(const tkt_crm_result_t *res)
{
    return !res->ok && res->http_status >= 400 && res->http_status < 500 &&
           res->http_status != 409 && res->http_status != 429 && !res->closed;
}

/* The CRM will never take this op: say so loudly, count it, and let the
 * event finish rather than stall its customer's lane for ever. */
static void op_refused(job_t *j, const tkt_op_t *op, const char *why)
{
    cmn_metric_add(j->p->m_ops_refused, 1);
    LOG_CALL(CMN_LOG_ERROR, j->ev.call_id, "event %s: the CRM refused an update of ticket %s: %s",
             j->ev.event_id, op->ticket_id, why ? why : "?");
    op_settled(j, 1, NULL);
}

static void on_created_instead(void *ctx, const tkt_crm_result_t *res)
{
    instead_t *w = ctx;
    if (res->ok)
        rebind(w->j, w->write.ticket_id, res->ticket.id);
    instead_done(w, res->ok, res->error);
}

static void on_instead_found(void *ctx, const tkt_crm_result_t *res)
{
    instead_t *w = ctx;
    job_t *j = w->j;
    if (!res->ok)
        return instead_done(w, 0, res->error);
    if (res->n_tickets) { /* an earlier write of this call made it: write there */
        rebind(j, w->write.ticket_id, res->tickets[0].id);
        snprintf(w->write.ticket_id, sizeof w->write.ticket_id, "%s", res->tickets[0].id);
        j->outstanding++;
        apply_one(j, &w->write); /* checked first when replaying: it may be there already */
        return instead_done(w, 1, NULL);
    }
    if (j->attempts < 2) /* its creation may still be under way: look again later */
        return instead_done(w, 0, "the replacement ticket is not visible yet");
    j->p->d.crm->ops->create_ticket(j->p->d.crm, &w->create, on_created_instead, w);
}

static void on_instead_intent(void *ctx, int fresh, const char *err)
{
    instead_t *w = ctx;
    tkt_crm_t *crm = w->j->p->d.crm;
    if (err)
        return instead_done(w, 0, err);
    if (fresh)
        crm->ops->create_ticket(crm, &w->create, on_created_instead, w);
    else
        crm->ops->find_by_external_id(crm, w->create.external_id, on_instead_found, w);
}

static void write_to_new_ticket(job_t *j, const tkt_op_t *op)
{
    const tkt_policy_t *pol = j->p->d.policy;
    const char *call_id = j->call.call_id[0] ? j->call.call_id : j->ev.call_id ? j->ev.call_id : "";
    instead_t *w = calloc(1, sizeof *w);
    if (!w)
        return op_settled(j, 0, "out of memory");
    w->j = j;
    w->write = *op;
    tkt_op_t *c = &w->create;
    cmn_event_t view = j->ev; /* borrowed members, for the subject only */
    if (!view.customer_number && j->call.customer[0])
        view.customer_number = j->call.customer;
    c->kind = TKT_OP_CREATE_TICKET;
    c->ticket_kind = j->call.outbound ? TKT_KIND_OUTBOUND : TKT_KIND_CALL;
    c->status = op->status != TKT_ST_UNKNOWN ? op->status : TKT_ST_OPEN;
    tkt_render_subject(j->call.outbound ? pol->subject_outbound : pol->subject_call, &view,
                       c->subject, sizeof c->subject);
    if (j->call.contact_id[0] != '$')
        snprintf(c->requester_id, sizeof c->requester_id, "%s", j->call.contact_id);
    char suffix[sizeof "-after-" + TKT_ID_MAX];
    snprintf(suffix, sizeof suffix, "-after-%s", op->ticket_id);
    tkt_external_id(c->external_id, sizeof c->external_id, call_id, suffix); /* fits: tkt_model.h */
    snprintf(c->tags[0], sizeof c->tags[0], "callbus");
    snprintf(c->tags[1], sizeof c->tags[1], "%s",
             j->call.outbound ? "callbus_outbound" : "callbus_call");
    c->n_tags = 2;
    /* the write's assignee, else the call's agent (R-T1), else the default (R-T11) */
    c->set_assignee = 1;
    snprintf(c->assignee_id, sizeof c->assignee_id, "%s",
             op->set_assignee          ? op->assignee_id
             : j->call.agent_crm_id[0] ? j->call.agent_crm_id
                                       : pol->default_assignee);
    memcpy(c->fields, op->fields, sizeof c->fields);
    c->n_fields = op->n_fields;
    /* The body keeps its replay marker at the end: the note goes first, if it fits. */
    if (snprintf(c->body, sizeof c->body,
                 "Ticket %s of this call was solved or closed; the call continues here.\n\n%s",
                 op->ticket_id, op->body) >= (int)sizeof c->body)
        memcpy(c->body, op->body, sizeof c->body);
    c->public_comment = op->public_comment;
    if (tkt_store_intent(j->p->d.store, c->external_id, on_instead_intent, w) < 0)
        instead_done(w, 0, "redis unavailable");
}

typedef struct {
    job_t *j;
    tkt_op_t op;
} redirect_t;

static void on_closed_ticket_seen(void *ctx, const tkt_crm_result_t *res)
{
    redirect_t *r = ctx;
    job_t *j = r->j;
    if (!res->ok) {
        op_settled(j, 0, res->error);
    } else if (res->ticket.merged_into[0]) { /* R-T7: follow the merge */
        rebind(j, r->op.ticket_id, res->ticket.merged_into);
        snprintf(r->op.ticket_id, sizeof r->op.ticket_id, "%s", res->ticket.merged_into);
        j->outstanding++;
        send_now(j, &r->op);
        op_settled(j, 1, NULL);
    } else {
        write_to_new_ticket(j, &r->op);
    }
    free(r);
}

static void redirect_closed(job_t *j, const tkt_op_t *op)
{
    redirect_t *r = malloc(sizeof *r);
    if (!r)
        return op_settled(j, 0, "out of memory");
    r->j = j;
    r->op = *op;
    j->p->d.crm->ops->show_ticket(j->p->d.crm, op->ticket_id, TKT_PRIO_ENRICH,
                                  on_closed_ticket_seen, r);
}

static void on_batched(void *owner, const tkt_op_t *op, tkt_batch_outcome_t outcome,
                       const char *error)
{
    job_t *j = owner;
    if (outcome == TKT_BATCH_CLOSED)
        return redirect_closed(j, op);
    if (outcome == TKT_BATCH_REJECTED)
        return op_refused(j, op, error);
    op_settled(j, outcome == TKT_BATCH_OK, error);
}

typedef struct {
    job_t *j;
    tkt_op_t op;
} sent_t;

static void on_sent(void *ctx, const tkt_crm_result_t *res)
{
    sent_t *s = ctx;
    if (res->closed)
        redirect_closed(s->j, &s->op);
    else if (refused_for_good(res))
        op_refused(s->j, &s->op, res->error);
    else
        op_settled(s->j, res->ok, res->error);
    free(s);
}

static void on_status_checked(void *ctx, const tkt_crm_result_t *res)
{
    sent_t *s = ctx;
    if (res->ok && res->n_items && res->items[0].closed) { /* R-T10: solved or closed */
        redirect_closed(s->j, &s->op);
        free(s);
        return;
    }
    s->j->p->d.crm->ops->update_ticket(s->j->p->d.crm, &s->op, on_sent, s);
}

/* At once (not batched). The ticket's status is read first, as the batch
 * does for a flight: a ticket a person solved or closed is not written to. */
static void send_now(job_t *j, const tkt_op_t *op)
{
    tkt_crm_t *crm = j->p->d.crm;
    sent_t *s = malloc(sizeof *s);
    if (!s)
        return op_settled(j, 0, "out of memory");
    s->j = j;
    s->op = *op;
    if (crm->ops->ticket_statuses) {
        const char *ids[] = {s->op.ticket_id};
        crm->ops->ticket_statuses(crm, ids, 1, on_status_checked, s);
        return;
    }
    crm->ops->update_ticket(crm, op, on_sent, s);
}

static void dispatch_op(job_t *j, const tkt_op_t *op)
{
    if (tkt_batch_accepts(j->p->d.batch, op)) {
        if (tkt_batch_add(j->p->d.batch, op, on_batched, j) < 0)
            op_settled(j, 0, "out of memory");
        return;
    }
    send_now(j, op);
}

/* The marker at the end of every comment we write, so recovery can tell
 * whether the CRM already has it. */
static void marker_of(const tkt_op_t *op, char *out, size_t outsz)
{
    const char *m = strrchr(op->body, '[');
    snprintf(out, outsz, "%s", m ? m : "");
}

typedef struct {
    job_t *j;
    tkt_op_t op;
} check_t;

static void on_marker_checked(void *ctx, const tkt_crm_result_t *res)
{
    check_t *c = ctx;
    if (!res->ok)
        op_settled(c->j, 0, res->error);
    else if (res->marker_found)
        op_settled(c->j, 1, NULL); /* already there before the crash: not again */
    else
        dispatch_op(c->j, &c->op);
    free(c);
}

static void apply_one(job_t *j, const tkt_op_t *op)
{
    char marker[TKT_MARKER_MAX];
    marker_of(op, marker, sizeof marker);
    if (!j->replay || !op->body[0] || !marker[0])
        return dispatch_op(j, op);
    check_t *c = malloc(sizeof *c);
    if (!c)
        return op_settled(j, 0, "out of memory");
    c->j = j;
    c->op = *op;
    j->p->d.crm->ops->has_marker(j->p->d.crm, op->ticket_id, marker, on_marker_checked, c);
}

static void apply(job_t *j)
{
    size_t n = 0;
    for (size_t i = 0; i < j->n_ops; i++)
        if (j->ops[i].kind == TKT_OP_COMMENT || j->ops[i].kind == TKT_OP_UPDATE)
            n++;
    if (n == 0)
        return publish_then_done(j);
    j->outstanding = (int)n + 1; /* +1: held until every op is dispatched */
    for (size_t i = 0; i < j->n_ops; i++)
        if (j->ops[i].kind == TKT_OP_COMMENT || j->ops[i].kind == TKT_OP_UPDATE)
            apply_one(j, &j->ops[i]);
    op_settled(j, 1, NULL);
}

/* ---- commit ------------------------------------------------------------------ */

static void on_committed(void *ctx, const char *err)
{
    job_t *j = ctx;
    if (err)
        return retry_later(j, err);
    lane_release(j); /* the next event of this customer may decide now */
    applying_add(j);
    apply(j);
}

static void commit(job_t *j)
{
    tkt_op_t rest[TKT_MAX_OPS];
    size_t n = 0;
    for (size_t i = 0; i < j->n_ops; i++)
        if (j->ops[i].kind == TKT_OP_COMMENT || j->ops[i].kind == TKT_OP_UPDATE)
            rest[n++] = j->ops[i];
    if (tkt_store_commit(j->p->d.store, j->ev.event_id, &j->call, &j->cust, rest, n, j->call_done,
                         on_committed, j) < 0)
        retry_later(j, "redis unavailable");
}

/* ---- creations (at once, R-B4) ------------------------------------------ */

static void replace_ref(char *field, size_t sz, const char *ref, const char *id)
{
    if (strcmp(field, ref) == 0)
        snprintf(field, sz, "%s", id);
}
#define REPLACE(field, ref, id) replace_ref(field, sizeof(field), ref, id)

/* Puts a created id wherever the plan used its placeholder. */
static void resolve(job_t *j, const char *ref, const char *id)
{
    for (size_t i = j->creation + 1; i < j->n_ops; i++) {
        REPLACE(j->ops[i].ticket_id, ref, id);
        REPLACE(j->ops[i].requester_id, ref, id);
    }
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

static void created(job_t *j, const char *ref, const char *id)
{
    resolve(j, ref, id);
    j->creation++;
    create_next(j);
}

static void on_contact_created(void *ctx, const tkt_crm_result_t *res)
{
    job_t *j = ctx;
    if (!res->ok || !res->n_contacts)
        return retry_later(j, res->error[0] ? res->error : "contact not created");
    created(j, TKT_REF_NEW_CONTACT, res->contacts[0].id);
}

static void on_ticket_created(void *ctx, const tkt_crm_result_t *res)
{
    job_t *j = ctx;
    if (refused_for_good(res) && !j->recheck_contact) {
        /* Most often a cached contact the CRM no longer has (deleted or
         * merged): resolve the caller again, once. */
        j->recheck_contact = 1;
        return retry_later(j, res->error);
    }
    if (refused_for_good(res)) {
        LOG_CALL(CMN_LOG_ERROR, j->ev.call_id, "event %s: the CRM refuses its ticket: %s",
                 j->ev.event_id, res->error);
        j->rejected = 1;
        return mark_done(j); /* logged and counted, not retried for ever */
    }
    if (!res->ok)
        return retry_later(j, res->error[0] ? res->error : "ticket not created");
    cmn_metric_add(j->p->m_created[j->ops[j->creation].ticket_kind % 6], 1);
    created(j, TKT_REF_NEW_TICKET, res->ticket.id);
}

static void on_existing_looked_up(void *ctx, const tkt_crm_result_t *res)
{
    job_t *j = ctx;
    if (!res->ok)
        return retry_later(j, res->error);
    if (res->n_tickets) { /* an earlier attempt created it: do not create twice */
        cmn_metric_add(j->p->m_replayed, 1);
        return created(j, TKT_REF_NEW_TICKET, res->tickets[0].id);
    }
    j->p->d.crm->ops->create_ticket(j->p->d.crm, &j->ops[j->creation], on_ticket_created, j);
}

static void on_intent(void *ctx, int fresh, const char *err)
{
    job_t *j = ctx;
    tkt_crm_t *crm = j->p->d.crm;
    const tkt_op_t *op = &j->ops[j->creation];
    if (err)
        return retry_later(j, err);
    if (fresh)
        crm->ops->create_ticket(crm, op, on_ticket_created, j);
    else
        crm->ops->find_by_external_id(crm, op->external_id, on_existing_looked_up, j);
}

static void create_next(job_t *j)
{
    tkt_crm_t *crm = j->p->d.crm;
    for (; j->creation < j->n_ops; j->creation++) {
        const tkt_op_t *op = &j->ops[j->creation];
        if (op->kind == TKT_OP_CREATE_CONTACT)
            return crm->ops->create_contact(crm, op->phone, op->name, on_contact_created, j);
        if (op->kind == TKT_OP_CREATE_TICKET) {
            if (tkt_store_intent(j->p->d.store, op->external_id, on_intent, j) < 0)
                retry_later(j, "redis unavailable");
            return;
        }
    }
    commit(j);
}

/* ---- deciding ------------------------------------------------------------ */

/* R-T9: a mapped field the CRM does not have is left out and named on the
 * ticket it was meant for, instead of failing or vanishing silently. */
static void report_missing_fields(job_t *j, tkt_op_t *op)
{
    const tkt_missing_fields_t *m = j->p->d.missing_fields;
    size_t kept = 0;
    int dropped = 0;
    if (!m || !m->n)
        return;
    for (size_t i = 0; i < op->n_fields; i++) {
        int missing = 0;
        for (size_t k = 0; k < m->n; k++)
            missing |= strcmp(op->fields[i].field_id, m->ids[k]) == 0;
        if (missing)
            dropped = 1;
        else
            op->fields[kept++] = op->fields[i];
    }
    op->n_fields = kept;
    size_t len = strlen(op->body);
    if (dropped && len + 64 + strlen(m->names) < sizeof op->body)
        snprintf(op->body + len, sizeof op->body - len, "%sNo field found for %s.",
                 len ? "\n\n" : "", m->names);
}

/* Last touches before ops are committed: R-T9 reports, replay markers. */
static void prepare_ops(job_t *j)
{
    for (size_t i = 0; i < j->n_ops; i++)
        if (j->ops[i].kind == TKT_OP_CREATE_TICKET || j->ops[i].kind == TKT_OP_UPDATE)
            report_missing_fields(j, &j->ops[i]);
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
    if (!res->ok)
        return retry_later(j, res->error);
    j->facts.contacts_known = 1;
    j->facts.n_contacts = 0;
    for (size_t i = 0; i < res->n_contacts && i < 8; i++) {
        tkt_contact_ref_t *c = &j->facts.contacts[j->facts.n_contacts++];
        snprintf(c->id, sizeof c->id, "%s", res->contacts[i].id);
        c->created_at_ms = res->contacts[i].created_at_ms;
    }
    decide(j);
}

static void on_ticket_status(void *ctx, const tkt_crm_result_t *res)
{
    job_t *j = ctx;
    if (!res->ok && !res->not_found)
        return retry_later(j, res->error);
    for (size_t i = 0; i < j->cust.n_tickets; i++) {
        tkt_ticket_ref_t *t = &j->cust.tickets[i];
        if (strcmp(t->id, j->need_ticket_id) != 0)
            continue;
        t->fresh = 1;
        /* A ticket gone from the CRM counts as closed: never written to again. */
        t->status = res->not_found ? TKT_ST_CLOSED : res->ticket.status;
        snprintf(t->merged_into, sizeof t->merged_into, "%s", res->ticket.merged_into);
    }
    j->facts.tickets_checked = 1;
    decide(j);
}

static void fetch_contacts(job_t *j)
{
    char phone[32];
    if (!j->ev.customer_number || cmn_phone_lookup_form(j->ev.customer_number, j->p->d.lookup_form,
                                                        j->p->d.country, phone, sizeof phone) < 0) {
        j->facts.contacts_known = 1; /* no number to look up: nothing to find */
        return decide(j);
    }
    j->p->d.crm->ops->find_contacts(j->p->d.crm, phone, TKT_PRIO_CREATE, on_contacts, j);
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
    if (rc < 0) {
        LOG_CALL(CMN_LOG_WARN, j->ev.call_id, "event %s rejected: %s", j->ev.event_id,
                 plan->note ? plan->note : "?");
        keep_ops(j, NULL, 0);
        j->rejected = 1;
        return mark_done(j); /* logged and counted; replays skip it */
    }
    snprintf(j->need_ticket_id, sizeof j->need_ticket_id, "%s", plan->need_ticket_id);
    if (plan->need == TKT_NEED_CONTACTS && !j->asked_contacts++)
        return fetch_contacts(j);
    if (plan->need == TKT_NEED_TICKET_STATUS && !j->asked_ticket++)
        return p->d.crm->ops->show_ticket(p->d.crm, j->need_ticket_id, TKT_PRIO_CREATE,
                                          on_ticket_status, j);
    if (plan->need != TKT_NEED_NOTHING) {
        LOG_CALL(CMN_LOG_ERROR, j->ev.call_id, "rules asked twice for the same fact on %s",
                 j->ev.event_id);
        return mark_done(j);
    }
    if (plan->note && plan->n_ops == 0)
        LOG_CALL(CMN_LOG_DEBUG, j->ev.call_id, "%s: %s", cmn_event_type_name(j->ev.type),
                 plan->note);
    if (keep_ops(j, plan->ops, plan->n_ops) < 0)
        return retry_later(j, "out of memory");
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
    if (err)
        return retry_later(j, err);
    if (l->done) {
        cmn_metric_add(j->p->m_replayed, 1);
        return finish(j, 1);
    }
    if (l->have_plan && applying_elsewhere(j)) { /* a re-post while the first copy applies */
        cmn_metric_add(j->p->m_replayed, 1);
        lane_release(j);
        return retry_later(j, "the same event is being applied; waiting for it");
    }
    if (l->have_plan) { /* committed before a crash: apply what it says, checked */
        applying_add(j);
        j->replay = 1;
        if (keep_ops(j, l->plan, l->n_plan) < 0)
            return retry_later(j, "out of memory");
        j->call = l->call;
        j->cust = l->customer;
        cmn_metric_add(j->p->m_replayed, 1);
        lane_release(j);
        return apply(j);
    }
    memset(&j->facts, 0, sizeof j->facts);
    j->asked_contacts = j->asked_ticket = 0;
    j->call = l->call;
    j->cust = l->customer;
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

static void start(job_t *j)
{
    const char *call_id = j->ev.call_id ? j->ev.call_id : "-";
    const char *customer = j->ev.customer_number ? j->ev.customer_number : "";
    if (tkt_store_load(j->p->d.store, j->ev.event_id, call_id, customer, on_loaded, j) < 0)
        retry_later(j, "redis unavailable");
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
    if (tkt_lanes_enter(p->lanes, &e->item, cmn_event_key(&e->ev), cost) < 0) {
        LOG_ERROR("out of memory: event %s not taken now", ev->event_id);
        free(e);
        return -1;
    }
    /* Taken: the members are the entry's (or, if it started, its job's). */
    cmn_event_init(ev);
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

/* ---- calls that never end -------------------------------------------------- */

static void on_stale_call(void *ctx, const tkt_loaded_t *l, const char *err)
{
    tkt_pipeline_t *p = ctx;
    cmn_event_t ev;
    char id[CMN_EVENT_ID_MAX];
    if (err || !l->have_call)
        return;
    const char *parts[] = {"timeout", l->call.call_id};
    cmn_event_id_derive(id, sizeof id, "generic", parts, 2);
    cmn_event_init(&ev);
    ev.type = l->call.outbound ? CMN_EV_OUTBOUND_ENDED : CMN_EV_ENDED;
    ev.direction = l->call.outbound ? CMN_DIR_OUTBOUND : CMN_DIR_INBOUND;
    ev.outcome = tkt_call_outcome(&l->call);
    ev.occurred_at_ms = ev.received_at_ms = cmn_time_now_ms();
    if (cmn_event_set(&ev.event_id, id) < 0 || cmn_event_set(&ev.provider, "generic") < 0 ||
        cmn_event_set(&ev.call_id, l->call.call_id) < 0 ||
        (l->call.customer[0] && cmn_event_set(&ev.customer_number, l->call.customer) < 0) ||
        (l->call.queue[0] && cmn_event_set(&ev.queue, l->call.queue) < 0)) {
        cmn_event_clear(&ev);
        return;
    }
    LOG_CALL(CMN_LOG_WARN, ev.call_id, "no end after %lld s: closing the call with what is known",
             (long long)(p->d.max_call_age_ms / 1000));
    cmn_metric_add(p->m_timed_out, 1);
    if (tkt_pipeline_submit(p, &ev, NULL, NULL) < 0) {
        LOG_CALL(CMN_LOG_ERROR, ev.call_id, "out of memory: the stale call is not closed now");
        cmn_event_clear(&ev);
    }
}

typedef struct {
    tkt_pipeline_t *p;
    char call_id[TKT_CALL_ID_MAX];
} claim_t;

static void on_claim(void *ctx, int won, const char *err)
{
    claim_t *c = ctx;
    if (won && !err && tkt_store_load_call(c->p->d.store, c->call_id, on_stale_call, c->p) < 0)
        LOG_CALL(CMN_LOG_WARN, c->call_id, "stale call claimed but not loaded: redis unavailable");
    free(c);
}

static void on_stale_ids(void *ctx, const char *const *ids, size_t n, const char *err)
{
    tkt_pipeline_t *p = ctx;
    for (size_t i = 0; !err && i < n; i++) {
        claim_t *c = malloc(sizeof *c);
        if (!c)
            break;
        c->p = p;
        snprintf(c->call_id, sizeof c->call_id, "%s", ids[i]);
        if (tkt_store_claim_stale(p->d.store, ids[i], on_claim, c) < 0) {
            free(c);
            break;
        }
    }
}

void tkt_pipeline_sweep(tkt_pipeline_t *p)
{
    int64_t before = cmn_time_now_ms() - p->d.max_call_age_ms;
    if (tkt_store_stale_calls(p->d.store, before, 100, on_stale_ids, p) < 0)
        LOG_DEBUG("sweep skipped: redis unavailable");
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
