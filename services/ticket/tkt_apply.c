/* Applying a committed plan: each op batched (R-B1) or sent at once, a
 * ticket's status read before a write (R-T10), writes to a merged ticket
 * followed (R-T7) and to a closed one redirected to a replacement (R-T10),
 * comments checked against the CRM first on a replay (markers), a
 * replay's bulk jobs awaited first; then the ticket event is published and
 * the event marked done. See tkt_job.h. */
#include "tkt_job.h"
#include "cmn_log.h"
#include "cmn_ticket_event.h"
#include "cmn_time.h"
#include "cmn_topics.h"
#include "tkt_create.h"

#include <stdlib.h>
#include <string.h>

/* ---- ticket-events ------------------------------------------------------ */

static const tkt_ticket_ref_t *ticket_ref(const tkt_customer_t *c, const char *id)
{
    for (size_t i = 0; i < c->n_tickets; i++)
        if (strcmp(c->tickets[i].id, id) == 0)
            return &c->tickets[i];
    return NULL;
}

static int real_ticket(const char *id)
{
    return id[0] && id[0] != '$';
}

static int announces_ticket(const job_t *j)
{
    if (j->announce) /* an agent's action: its outcome, on the pop (issue 24) */
        return real_ticket(j->call.ticket_id);
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

static const char *or_null(const char *s)
{
    return s && *s ? s : NULL;
}

/* The subject of the ticket this event created ("" when it reused one:
 * the pop then shows the ticket with the subject remembered of it, if any). */
static const char *created_subject(const job_t *j)
{
    for (size_t i = 0; i < j->n_ops; i++)
        if (j->ops[i].kind == TKT_OP_CREATE_TICKET)
            return j->ops[i].subject;
    return "";
}

/* R-C2: this event made the call's contact (nobody had the number). */
static int created_contact(const job_t *j)
{
    for (size_t i = 0; i < j->n_ops; i++)
        if (j->ops[i].kind == TKT_OP_CREATE_CONTACT)
            return 1;
    return 0;
}

static const tkt_contact_ref_t *found_contact(const job_t *j, const char *id)
{
    for (size_t i = 0; i < j->facts.n_contacts && i < 8; i++)
        if (strcmp(j->facts.contacts[i].id, id) == 0)
            return &j->facts.contacts[i];
    return NULL;
}

/* R-P6 (issue 24 item 2): the customer's tickets the call may move to,
 * newest first: ours, writable as last seen (R-T10; the move reads the
 * status again), not the call's own. Only when the job's customer is the
 * call's (a refused action may name another). The strings are the job's or
 * urls'. Returns how many. */
static size_t ticket_choices(const job_t *j, cmn_ticket_choice_t *out, char urls[][512],
                             char whens[][CMN_TIME_TEXT_MAX])
{
    const tkt_crm_t *crm = j->p->d.crm;
    size_t n = 0;
    if (!j->call.customer[0] || strcmp(j->cust.number, j->call.customer) != 0)
        return 0;
    for (size_t i = 0; i < j->cust.n_tickets && n < CMN_TICKET_MAX_CHOICES; i++) {
        const tkt_ticket_ref_t *r = &j->cust.tickets[i];
        if (!real_ticket(r->id) || strcmp(r->id, j->call.ticket_id) == 0 || r->merged_into[0] ||
            !tkt_status_is_active(r->status))
            continue;
        crm->ops->ticket_url(crm, r->id, urls[n], sizeof urls[n]);
        whens[n][0] = '\0';
        if (r->created_at_ms > 0)
            cmn_time_format(r->created_at_ms, whens[n], sizeof whens[n]);
        out[n] = (cmn_ticket_choice_t){.id = (char *)r->id,
                                       .url = urls[n],
                                       .subject = (char *)or_null(r->subject),
                                       .status = (char *)tkt_status_name(r->status),
                                       .kind = (char *)tkt_kind_name(r->kind),
                                       .created_at = or_null(whens[n]) ? whens[n] : NULL};
        n++;
    }
    return n;
}

/* The ticket event through the one codec (cmn_ticket_event.h, checked
 * against schemas/ticket-event.schema.json): the ticket with its subject
 * and status, the contact with what the look-up said of them, and, when
 * several contacts have the number (R-C4), those the agent may pick from,
 * newest first. The strings are the job's or the buffers here. */
static json_t *ticket_event(const job_t *j)
{
    char url[512], contact_url[512], when[CMN_TIME_TEXT_MAX], id[sizeof "tkt-" + CMN_ID_TEXT_MAX];
    char cand_urls[CMN_TICKET_MAX_CANDIDATES][512];
    char choice_urls[CMN_TICKET_MAX_CHOICES][512],
        choice_whens[CMN_TICKET_MAX_CHOICES][CMN_TIME_TEXT_MAX];
    const tkt_crm_t *crm = j->p->d.crm;
    const tkt_ticket_ref_t *ref = ticket_ref(&j->cust, j->call.ticket_id);
    const char *status = tkt_status_name(ref ? ref->status : TKT_ST_OPEN);
    crm->ops->ticket_url(crm, j->call.ticket_id, url, sizeof url);
    cmn_time_format(cmn_time_now_ms(), when, sizeof when);
    snprintf(id, sizeof id, "tkt-%s", j->ev.event_id);
    cmn_ticket_event_t te = {
        .event_id = id,
        .cause_event_id = j->ev.event_id,
        .call_id = j->ev.call_id,
        .customer_number = j->ev.customer_number,
        .ticket_id = (char *)j->call.ticket_id,
        .ticket_url = url,
        .ticket_kind = (char *)tkt_kind_name(j->call.ticket_kind),
        .subject =
            (char *)or_null(created_subject(j)[0] || !ref ? created_subject(j) : ref->subject),
        .status = (char *)(status ? status : "open"),
        .assignee_id = (char *)or_null(j->call.agent_crm_id),
        .created = created_any(&j->figures),
        .new_contact = created_contact(j) ? 1
                       : j->linked        ? 0
                                          : -1,
        .occurred_at = when,
    };
    if (j->call.contact_id[0] && j->call.contact_id[0] != '$') {
        const tkt_contact_ref_t *c = found_contact(j, j->call.contact_id);
        crm->ops->contact_url(crm, j->call.contact_id, contact_url, sizeof contact_url);
        te.contact = (cmn_ticket_contact_t){.id = (char *)j->call.contact_id,
                                            .url = contact_url,
                                            .name = c ? (char *)or_null(c->name) : NULL,
                                            .email = c ? (char *)or_null(c->email) : NULL};
    }
    if (j->facts.contacts_known && j->facts.n_contacts > 1) {
        /* Newest first: the one R-C4 takes when nobody picks leads. */
        size_t n = j->facts.n_contacts < CMN_TICKET_MAX_CANDIDATES ? j->facts.n_contacts
                                                                   : CMN_TICKET_MAX_CANDIDATES;
        const tkt_contact_ref_t *order[CMN_TICKET_MAX_CANDIDATES];
        for (size_t i = 0; i < n; i++) {
            size_t k = i;
            for (; k > 0 && order[k - 1]->created_at_ms < j->facts.contacts[i].created_at_ms; k--)
                order[k] = order[k - 1];
            order[k] = &j->facts.contacts[i];
        }
        for (size_t i = 0; i < n; i++) {
            crm->ops->contact_url(crm, order[i]->id, cand_urls[i], sizeof cand_urls[i]);
            te.candidates[i] = (cmn_ticket_contact_t){.id = (char *)order[i]->id,
                                                      .url = cand_urls[i],
                                                      .name = (char *)or_null(order[i]->name),
                                                      .email = (char *)or_null(order[i]->email)};
        }
        te.n_candidates = n;
    }
    te.n_tickets = ticket_choices(j, te.tickets, choice_urls, choice_whens);
    if (j->announce && j->action_id[0])
        te.action_id = (char *)j->action_id;
    if (j->refused && j->action_id[0]) {
        te.refused_action_id = (char *)j->action_id;
        te.refused_reason = (char *)j->refused;
    }
    return cmn_ticket_event_to_json(&te); /* borrows te's strings; te is not cleared */
}

/* ---- the CRM's own screen pop (Zendesk Talk "display ticket") ---------- */

static void on_displayed(void *ctx, const tkt_crm_result_t *res)
{
    char *call_id = ctx;
    if (!res->ok)
        LOG_CALL(CMN_LOG_WARN, call_id, "CRM display of the ticket failed: %s",
                 res->not_found ? "agent or ticket unknown to the CRM" : res->error);
    free(call_id);
}

/* Best effort and not an effect of the event: its done does not wait for
 * it (an event replayed before it was marked done, after a crash, shows
 * the ticket again: harmless). The adapter sends it in its interactive
 * lane, ahead of creations and enrichment, within the one rate budget. */
static void display_in_crm(const job_t *j)
{
    tkt_crm_t *crm = j->p->d.crm;
    int handover = j->ev.type == CMN_EV_ANSWERED || j->ev.type == CMN_EV_TRANSFERRED;
    if (!j->p->d.crm_display || !handover || !crm->ops->display_ticket ||
        !j->call.agent_crm_id[0] || !real_ticket(j->call.ticket_id))
        return;
    char *call_id = strdup(j->ev.call_id);
    if (!call_id) {
        LOG_CALL(CMN_LOG_WARN, j->ev.call_id, "CRM display skipped: out of memory");
        return;
    }
    crm->ops->display_ticket(crm, j->call.agent_crm_id, j->call.ticket_id, on_displayed, call_id);
}

static void on_published(void *opaque, rd_kafka_resp_err_t err, int32_t partition, int64_t offset)
{
    job_t *j = opaque;
    if (err) {
        tkt_job_retry_later(j, rd_kafka_err2str(err));
        return;
    }
    display_in_crm(j);
    tkt_job_mark_done(j);
}

static void publish(job_t *j);

static void on_rebound_stored(void *ctx, const char *err)
{
    job_t *j = ctx;
    if (err) {
        tkt_job_retry_later(j, err);
        return;
    }
    j->rebound = 0;
    publish(j);
}

static void publish_then_done(job_t *j)
{
    if (j->rebound) { /* the call's new ticket first, then announce it */
        if (tkt_store_commit(j->p->d.store, j->ev.event_id, &j->call, &j->cust, &j->revs, NULL, 0,
                             j->call_done, on_rebound_stored, j) < 0)
            tkt_job_retry_later(j, "redis unavailable");
        return;
    }
    publish(j);
}

static void publish(job_t *j)
{
    if (!j->p->d.producer || !announces_ticket(j)) {
        tkt_job_mark_done(j);
        return;
    }
    json_t *o = ticket_event(j);
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    const char *key = tkt_job_key(j);
    json_decref(o);
    if (!text) {
        tkt_job_retry_later(j, "out of memory");
        return;
    }
    rd_kafka_resp_err_t err =
        cmn_producer_send(j->p->d.producer, cmn_topic(CMN_TOPIC_TICKET_EVENTS), key, strlen(key),
                          text, strlen(text), on_published, j);
    free(text);
    if (err)
        tkt_job_retry_later(j, rd_kafka_err2str(err));
}

void tkt_job_announce_refusal(job_t *j)
{
    publish(j); /* nothing was applied: the call's ticket as it is, and why */
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
        tkt_job_retry_later(j, "an operation did not complete");
        return;
    }
    publish_then_done(j);
}

static void send_now(job_t *j, const tkt_op_t *op);
static void apply_one(job_t *j, const tkt_op_t *op);

/* A write meant for `from` went to `to` (R-T7 merge target, R-T10
 * replacement): the call follows, so its later writes, its ticket event and
 * its pop name the ticket that has them, and so does the customer's open
 * missed-call group. Stored before the event is done. */
static void rebind(job_t *j, const char *from, const char *to)
{
    for (size_t i = 0; i < j->cust.n_tickets; i++)
        if (strcmp(j->cust.tickets[i].id, from) == 0) {
            j->cust.tickets[i].status = TKT_ST_CLOSED;
            snprintf(j->cust.tickets[i].merged_into, sizeof j->cust.tickets[i].merged_into, "%s",
                     to);
        }
    /* the open group's later missed calls go there too (R-M2), not to a
     * replacement each */
    if (strcmp(j->cust.missed_ticket_id, from) == 0) {
        snprintf(j->cust.missed_ticket_id, sizeof j->cust.missed_ticket_id, "%s", to);
        j->rebound = 1;
    }
    if (strcmp(j->call.ticket_id, from) != 0)
        return;
    snprintf(j->call.ticket_id, sizeof j->call.ticket_id, "%s", to);
    j->rebound = 1;
}

/* R-T10: a write for a ticket a person closed goes to a new ticket instead.
 * Its external id names the call and the closed ticket, and it is made
 * through tkt_create_once (as the rules' creations are): a later write of the
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

/* The CRM will never take this op: say so loudly, count it, and let the
 * event finish rather than stall its customer's lane for ever. */
static void op_refused(job_t *j, const tkt_op_t *op, const char *why)
{
    cmn_metric_add(j->p->m_ops_refused, 1);
    int contact = op->kind == TKT_OP_ADD_PHONE;
    LOG_CALL(CMN_LOG_ERROR, j->ev.call_id, "event %s: the CRM refused an update of %s %s: %s",
             j->ev.event_id, contact ? "contact" : "ticket",
             contact ? op->requester_id : op->ticket_id, why ? why : "?");
    op_settled(j, 1, NULL);
}

/* The replacement exists: made now (the write was its first comment), or
 * found (an earlier write of this call, or this one before a crash, made
 * it): then the write goes there, checked first when replaying. */
static void on_instead_made(void *ctx, const tkt_crm_result_t *res, const char *id, int existed)
{
    instead_t *w = ctx;
    job_t *j = w->j;
    if (!id) {
        instead_done(w, 0, res->error[0] ? res->error : "replacement ticket not made");
        return;
    }
    rebind(j, w->write.ticket_id, id);
    if (existed) {
        snprintf(w->write.ticket_id, sizeof w->write.ticket_id, "%s", id);
        j->outstanding++;
        apply_one(j, &w->write);
    }
    instead_done(w, 1, NULL);
}

/* The write's own fields join the replacement's session-start ones (the
 * write's value wins for a field both name). */
static void merge_fields(tkt_op_t *into, const tkt_op_t *from)
{
    for (size_t i = 0; i < from->n_fields; i++) {
        size_t k = 0;
        while (k < into->n_fields && strcmp(into->fields[k].field_id, from->fields[i].field_id))
            k++;
        if (k == into->n_fields && into->n_fields == TKT_MAX_FIELDS)
            continue;
        into->fields[k] = from->fields[i];
        if (k == into->n_fields)
            into->n_fields++;
    }
}

static void write_to_new_ticket(job_t *j, const tkt_op_t *op)
{
    instead_t *w = calloc(1, sizeof *w);
    if (!w) {
        op_settled(j, 0, "out of memory");
        return;
    }
    w->j = j;
    w->write = *op;
    tkt_op_t *c = &w->create;
    cmn_event_t view = j->ev; /* borrowed members, for the subject only */
    if (!view.customer_number && j->call.customer[0])
        view.customer_number = j->call.customer;
    if (!view.call_id)
        view.call_id = j->call.call_id;
    tkt_status_t status = op->status != TKT_ST_UNKNOWN ? op->status : TKT_ST_OPEN;
    if (tkt_replacement_ticket(j->p->d.policy, &view, &j->call, &j->cust, op->ticket_id, status,
                               c) < 0) {
        free(w);
        op_settled(j, 0, "replacement ticket not made");
        return;
    }
    if (op->set_assignee) /* the write's assignee wins over the call's agent */
        snprintf(c->assignee_id, sizeof c->assignee_id, "%s", op->assignee_id);
    merge_fields(c, op);
    /* The body keeps the write's replay marker at the end: the note first, if it fits. */
    size_t len = strlen(c->body), sep = len ? 2 : 0, add = strlen(op->body);
    if (len + sep + add < sizeof c->body) { /* memcpy: gcc -O1 cannot see the check (-Werror) */
        memcpy(c->body + len, "\n\n", sep);
        memcpy(c->body + len + sep, op->body, add + 1);
    } else
        memcpy(c->body, op->body, sizeof c->body);
    c->public_comment = op->public_comment;
    if (tkt_create_once(j->p->d.crm, j->p->d.store, c, on_instead_made, w) < 0)
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
    } else if (r->op.moot_if_closed) {
        LOG_CALL(CMN_LOG_INFO, j->call.call_id,
                 "ticket %s was solved or closed by a person: left as it is (R-M3, R-T10)",
                 r->op.ticket_id);
        op_settled(j, 1, NULL);
    } else {
        write_to_new_ticket(j, &r->op);
    }
    free(r);
}

static void redirect_closed(job_t *j, const tkt_op_t *op)
{
    redirect_t *r = malloc(sizeof *r);
    if (!r) {
        op_settled(j, 0, "out of memory");
        return;
    }
    r->j = j;
    r->op = *op;
    j->p->d.crm->ops->show_ticket(j->p->d.crm, op->ticket_id, TKT_PRIO_ENRICH,
                                  on_closed_ticket_seen, r);
}

static void on_batched(void *owner, const tkt_op_t *op, tkt_batch_outcome_t outcome,
                       const char *error)
{
    job_t *j = owner;
    if (outcome == TKT_BATCH_CLOSED) {
        redirect_closed(j, op);
        return;
    }
    if (outcome == TKT_BATCH_REJECTED) {
        op_refused(j, op, error);
        return;
    }
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
    else if (tkt_failure_of(res) == TKT_FAIL_PERMANENT) /* tkt_failure.h */
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
/* The op's copy for its CRM callback; NULL (the op settled as failed) out
 * of memory. */
static sent_t *sent_new(job_t *j, const tkt_op_t *op)
{
    sent_t *s = malloc(sizeof *s);
    if (!s) {
        op_settled(j, 0, "out of memory");
        return NULL;
    }
    s->j = j;
    s->op = *op;
    return s;
}

static void send_now(job_t *j, const tkt_op_t *op)
{
    tkt_crm_t *crm = j->p->d.crm;
    sent_t *s = sent_new(j, op);
    if (!s)
        return;
    if (crm->ops->ticket_statuses) {
        const char *ids[] = {s->op.ticket_id};
        crm->ops->ticket_statuses(crm, ids, 1, on_status_checked, s);
        return;
    }
    crm->ops->update_ticket(crm, op, on_sent, s);
}

/* Issue 24 item 2: the linked contact has the caller's number now; one
 * the CRM refuses for good (a contact it does not have) is logged and
 * counted like a refused update, the rest of the plan stands. */
static void on_phone_added(void *ctx, const tkt_crm_result_t *res)
{
    sent_t *s = ctx;
    if (res->ok)
        op_settled(s->j, 1, NULL);
    else if (tkt_failure_of(res) == TKT_FAIL_PERMANENT)
        op_refused(s->j, &s->op, res->error);
    else
        op_settled(s->j, 0, res->error);
    free(s);
}

static void add_phone(job_t *j, const tkt_op_t *op)
{
    tkt_crm_t *crm = j->p->d.crm;
    if (!crm->ops->add_contact_phone) {
        op_refused(j, op, "this CRM adapter cannot add a phone number to a contact");
        return;
    }
    sent_t *s = sent_new(j, op);
    if (!s)
        return;
    crm->ops->add_contact_phone(crm, s->op.requester_id, s->op.phone, on_phone_added, s);
}

static void dispatch_op(job_t *j, const tkt_op_t *op)
{
    if (op->kind == TKT_OP_ADD_PHONE) {
        add_phone(j, op);
        return;
    }
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
    if (tkt_failure_of(res) == TKT_FAIL_PERMANENT) /* never checkable: not written */
        op_refused(c->j, &c->op, res->error);
    else if (!res->ok)
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
    if (!j->replay || !op->body[0] || !marker[0]) {
        dispatch_op(j, op);
        return;
    }
    check_t *c = malloc(sizeof *c);
    if (!c) {
        op_settled(j, 0, "out of memory");
        return;
    }
    c->j = j;
    c->op = *op;
    j->p->d.crm->ops->has_marker(j->p->d.crm, op->ticket_id, marker, on_marker_checked, c);
}

/* The ops applied after the commit (creations were made before it). */
static int applied_here(const tkt_op_t *op)
{
    return op->kind == TKT_OP_COMMENT || op->kind == TKT_OP_UPDATE || op->kind == TKT_OP_ADD_PHONE;
}

void tkt_job_apply(job_t *j)
{
    size_t n = 0;
    for (size_t i = 0; i < j->n_ops; i++)
        if (applied_here(&j->ops[i]))
            n++;
    if (n == 0) {
        publish_then_done(j);
        return;
    }
    j->outstanding = (int)n + 1; /* +1: held until every op is dispatched */
    for (size_t i = 0; i < j->n_ops; i++)
        if (applied_here(&j->ops[i]))
            apply_one(j, &j->ops[i]);
    op_settled(j, 1, NULL);
}

/* Issue 7 item 3: a bulk request of this plan may have left before a crash
 * (or its job's status could not be read), and its job may still be queued
 * at the CRM, where a marker check cannot see its comments yet. So a replay
 * waits first for the jobs stored with the plan, then for those the CRM
 * lists as queued or working (a request whose id was never stored); see
 * docs/ticket-service.md. */
static void on_listed_jobs_awaited(void *ctx, const tkt_crm_result_t *res)
{
    job_t *j = ctx;
    if (!res->ok) {
        tkt_job_retry_later(j, res->error[0] ? res->error : "the CRM's jobs are still running");
        return;
    }
    tkt_job_apply(j);
}

static void await_listed_jobs(job_t *j)
{
    j->p->d.crm->ops->await_jobs(j->p->d.crm, NULL, 0, on_listed_jobs_awaited, j);
}

static void on_stored_jobs_awaited(void *ctx, const tkt_crm_result_t *res)
{
    job_t *j = ctx;
    if (!res->ok) {
        tkt_job_retry_later(j, res->error[0] ? res->error : "the plan's jobs are still running");
        return;
    }
    await_listed_jobs(j);
}

void tkt_job_apply_after_jobs(job_t *j)
{
    tkt_crm_t *crm = j->p->d.crm;
    const char *ids[TKT_CRM_MAX_LIST];
    size_t n = 0;
    int batched = 0;
    for (size_t i = 0; i < j->n_ops; i++)
        batched |= j->ops[i].body[0] && tkt_batch_accepts(j->p->d.batch, &j->ops[i]);
    if (!batched || !crm->ops->await_jobs) {
        tkt_job_apply(j);
        return;
    }
    /* "id,id,": complete ids only (the stored text may have been cut) */
    for (char *p = j->job_ids, *comma; n < TKT_CRM_MAX_LIST && (comma = strchr(p, ','));
         p = comma + 1) {
        *comma = '\0';
        if (*p)
            ids[n++] = p;
    }
    if (n == 0) {
        await_listed_jobs(j);
        return;
    }
    crm->ops->await_jobs(crm, ids, n, on_stored_jobs_awaited, j);
}

void tkt_pipeline_job_started(void *owner, const char *job_id)
{
    job_t *j = owner;
    if (tkt_store_add_job(j->p->d.store, j->ev.event_id, job_id) < 0)
        LOG_CALL(CMN_LOG_WARN, j->ev.call_id,
                 "job %s of %s not stored (redis unavailable): a replay looks in the CRM's list",
                 job_id, j->ev.event_id);
}
