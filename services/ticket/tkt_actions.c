/* Agent actions and missed-call operations as pipeline decisions. */
#include "tkt_actions.h"
#include "cmn_metrics.h"
#include "cmn_missed_op.h"
#include "cmn_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
    ACT_CONTACT_PICKED,
    ACT_RETARGETED,
    ACT_NEW_TICKET,
    OP_GROUP_OPEN,
    OP_GROUP_ADD,
    OP_GROUP_STATUS,
    OP_GROUP_REACHED,
} action_t;

typedef struct {
    const tkt_policy_t *pol;
    action_t action;
    char id[TKT_CALL_ID_MAX];
    char call_id[TKT_CALL_ID_MAX];
    char number[TKT_PHONE_MAX];
    char agent[TKT_ID_MAX];
    char contact_id[TKT_ID_MAX];
    char ticket_id[TKT_ID_MAX];
    char group_id[TKT_CALL_ID_MAX];
    char when[CMN_TIME_TEXT_MAX];
    long count;
    tkt_status_t status;
    int called_back;
} action_ctx_t;

#define SET(dst, src) snprintf(dst, sizeof(dst), "%s", src)

static tkt_op_t *add_op(tkt_plan_t *out, tkt_op_kind_t kind, const char *ticket_id)
{
    if (out->n_ops == TKT_MAX_OPS)
        return NULL;
    tkt_op_t *op = &out->ops[out->n_ops++];
    memset(op, 0, sizeof *op);
    op->kind = kind;
    SET(op->ticket_id, ticket_id);
    return op;
}

static int real_id(const char *id)
{
    return id[0] && id[0] != '$';
}

static void remember_ticket(tkt_customer_t *c, const char *id, tkt_kind_t kind, tkt_status_t st)
{
    if (c->n_tickets == TKT_MAX_TICKETS)
        c->n_tickets--;
    memmove(&c->tickets[1], &c->tickets[0], c->n_tickets * sizeof c->tickets[0]);
    memset(&c->tickets[0], 0, sizeof c->tickets[0]);
    SET(c->tickets[0].id, id);
    SET(c->tickets[0].channel, "voice");
    c->tickets[0].kind = kind;
    c->tickets[0].status = st;
    c->tickets[0].created_at_ms = cmn_time_now_ms();
    c->n_tickets++;
}

/* ---- agent actions -------------------------------------------------------------- */

/* Issue 19 item 6: whether the agent's action fits the call it names, on
 * ticket-service's own state of the call and customer and the CRM facts
 * fetched for this action (pure; issue 20 moves it to the rules). The
 * pop-service forwards what the agent's page sent, which can name any
 * contact or ticket id. */
typedef enum { ACT_OK, ACT_NEED, ACT_REFUSED } act_check_t;

typedef struct {
    act_check_t verdict;
    const char *reason; /* ACT_REFUSED: the metric's label */
    const char *why;    /* ACT_REFUSED: for the log */
} act_verdict_t;

static act_verdict_t refuse(const char *reason, const char *why)
{
    return (act_verdict_t){ACT_REFUSED, reason, why};
}

/* R-C4: the candidates are the contacts with the caller's number; the
 * call's own contact is one of them (the rules chose it among them). */
static act_verdict_t check_pick(const action_ctx_t *a, const tkt_call_t *call, const tkt_facts_t *f,
                                tkt_plan_t *out)
{
    if (strcmp(a->contact_id, call->contact_id) == 0 ||
        strcmp(a->contact_id, call->picked_contact_id) == 0)
        return (act_verdict_t){ACT_OK, NULL, NULL};
    if (!f || !f->contacts_known) {
        out->need = TKT_NEED_CONTACTS;
        return (act_verdict_t){ACT_NEED, NULL, NULL};
    }
    for (size_t i = 0; i < f->n_contacts; i++)
        if (strcmp(f->contacts[i].id, a->contact_id) == 0)
            return (act_verdict_t){ACT_OK, NULL, NULL};
    return refuse("not_a_candidate", "R-C4: the picked contact is not one of the call's "
                                     "candidates (contacts with the caller's number)");
}

/* R-P6: one of the customer's tickets (ours, remembered); R-T10: one that
 * may still be written to, its status read now (tkt_ticket_writable). */
static act_verdict_t check_retarget(const action_ctx_t *a, const tkt_call_t *call,
                                    const tkt_customer_t *cu, const tkt_facts_t *f, tkt_plan_t *out)
{
    if (strcmp(a->ticket_id, call->ticket_id) == 0) /* nothing moves (retargeted) */
        return (act_verdict_t){ACT_OK, NULL, NULL};
    for (size_t i = 0; i < cu->n_tickets; i++) {
        if (strcmp(cu->tickets[i].id, a->ticket_id) != 0)
            continue;
        int w = tkt_ticket_writable(&cu->tickets[i], f && f->tickets_checked);
        if (w < 0) {
            out->need = TKT_NEED_TICKET_STATUS;
            SET(out->need_ticket_id, a->ticket_id);
            return (act_verdict_t){ACT_NEED, NULL, NULL};
        }
        return w ? (act_verdict_t){ACT_OK, NULL, NULL}
                 : refuse("ticket_not_writable",
                          "R-T10: the re-target ticket is solved, closed or merged");
    }
    return refuse("not_the_customers_ticket",
                  "R-P6: the re-target ticket is not one of the customer's tickets");
}

static act_verdict_t check_action(const action_ctx_t *a, const tkt_call_t *call,
                                  const tkt_customer_t *cu, const tkt_facts_t *f, tkt_plan_t *out)
{
    if (!call->call_id[0])
        return refuse("unknown_call", "an agent action on a call ticket-service does not know");
    if (strcmp(call->customer, a->number) != 0)
        return refuse("other_customer", "an agent action naming another customer than the call's");
    if (a->action == ACT_CONTACT_PICKED)
        return check_pick(a, call, f, out);
    if (a->action == ACT_RETARGETED)
        return check_retarget(a, call, cu, f, out);
    return (act_verdict_t){ACT_OK, NULL, NULL};
}

/* A refused action is counted by reason here; the pipeline logs the
 * rejection with out->note, counts it in ticket_events_rejected_total and
 * moves on (the offset too): a refusal is final, retrying changes nothing. */
static void count_refusal(const act_verdict_t *v)
{
    char labels[64];
    snprintf(labels, sizeof labels, "reason=\"%s\"", v->reason);
    cmn_metric_t *m = cmn_metrics_counter(
        "ticket_agent_actions_refused_total",
        "Agent actions that do not fit their call (issue 19), refused and logged", labels);
    if (m) /* NULL only out of memory: the rejection is still logged and counted */
        cmn_metric_add(m, 1);
}

static void contact_picked(const action_ctx_t *a, tkt_plan_t *out)
{
    SET(out->call.picked_contact_id, a->contact_id); /* R-C4: the agent's choice wins */
    SET(out->call.contact_id, a->contact_id);
    if (real_id(out->call.ticket_id)) {
        tkt_op_t *op = add_op(out, TKT_OP_UPDATE, out->call.ticket_id);
        if (op)
            SET(op->requester_id, a->contact_id);
    }
}

static void retargeted(const action_ctx_t *a, tkt_plan_t *out)
{
    tkt_op_t *op;
    char old[TKT_ID_MAX];
    SET(old, out->call.ticket_id);
    if (strcmp(old, a->ticket_id) == 0) {
        out->note = "call already on that ticket";
        return;
    }
    SET(out->call.ticket_id, a->ticket_id); /* R-P6: later comments go there */
    if ((op = add_op(out, TKT_OP_COMMENT, a->ticket_id)))
        snprintf(op->body, sizeof op->body, "Call %s attached to this ticket by agent %s.",
                 a->call_id, a->agent);
    if (real_id(old) && (op = add_op(out, TKT_OP_COMMENT, old)))
        snprintf(op->body, sizeof op->body, "Call %s moved to ticket %s by agent %s.", a->call_id,
                 a->ticket_id, a->agent);
}

static void new_ticket(const action_ctx_t *a, const cmn_event_t *ev, tkt_plan_t *out)
{
    tkt_op_t *op = add_op(out, TKT_OP_CREATE_TICKET, "");
    char old[TKT_ID_MAX];
    if (!op)
        return;
    SET(old, out->call.ticket_id);
    tkt_render_subject(a->pol->subject_call, ev, op->subject, sizeof op->subject);
    SET(op->requester_id, out->call.contact_id);
    SET(op->assignee_id, a->agent);
    op->set_assignee = 1;
    op->status = TKT_ST_OPEN;
    op->ticket_kind = TKT_KIND_CALL;
    const char *parts[] = {a->call_id, a->id}; /* deterministic: replays find it (external_id) */
    cmn_event_id_derive(op->external_id, sizeof op->external_id, "callbus-new", parts, 2);
    SET(op->tags[0], "callbus");
    op->n_tags = 1;
    snprintf(op->body, sizeof op->body, "New ticket for call %s, started by agent %s.", a->call_id,
             a->agent);
    SET(out->call.ticket_id, TKT_REF_NEW_TICKET);
    remember_ticket(&out->customer, TKT_REF_NEW_TICKET, TKT_KIND_CALL, TKT_ST_OPEN);
    out->figures.created[TKT_KIND_CALL] = 1;
    if (real_id(old) && (op = add_op(out, TKT_OP_COMMENT, old)))
        snprintf(op->body, sizeof op->body, "Call %s moved to a new ticket by agent %s.",
                 a->call_id, a->agent);
}

/* ---- missed-call operations ----------------------------------------------------- */

/* The requester of a new missed-call ticket (R-C1..R-C4), or a need. */
static int requester(const tkt_customer_t *c, const tkt_facts_t *f, tkt_plan_t *out, char *id,
                     size_t idsz)
{
    const tkt_contact_ref_t *best = NULL;
    if (real_id(c->contact_id))
        return snprintf(id, idsz, "%s", c->contact_id), 0;
    if (!f || !f->contacts_known) {
        out->need = TKT_NEED_CONTACTS;
        return -1;
    }
    for (size_t i = 0; i < f->n_contacts; i++)
        if (!best || tkt_contact_newer(f->contacts[i].created_at_ms, f->contacts[i].id,
                                       best->created_at_ms, best->id))
            best = &f->contacts[i]; /* R-C4 */
    if (best) {
        snprintf(id, idsz, "%s", best->id);
        SET(out->customer.contact_id, best->id);
        return 0;
    }
    tkt_op_t *op = add_op(out, TKT_OP_CREATE_CONTACT, ""); /* R-C2 */
    if (op)
        SET(op->phone, c->number);
    snprintf(id, idsz, "%s", TKT_REF_NEW_CONTACT);
    SET(out->customer.contact_id, TKT_REF_NEW_CONTACT);
    return 0;
}

/* R-M1: the last agent offered the call; else R-T11's default user. */
static const char *group_assignee(const action_ctx_t *a)
{
    return a->agent[0] ? a->agent : a->pol->default_assignee;
}

/* R-M2's running count, one line per missed call. */
static void missed_line(const action_ctx_t *a, tkt_op_t *op)
{
    snprintf(op->body, sizeof op->body, "Missed call %ld at %s (call %s).",
             a->count > 0 ? a->count : 1, a->when, a->call_id);
}

/* R-T8 + R-M1 (issue 19 item 5): the call had its ticket made by the IVR,
 * which the caller may have been told of; it is the call's one ticket, so
 * it becomes the group's missed-call ticket rather than a second one. Its
 * ref when it may still be written to (R-T10, as last seen), else NULL. */
static tkt_ticket_ref_t *ivr_ticket(const tkt_call_t *call, tkt_customer_t *cu)
{
    if (call->ticket_kind != TKT_KIND_IVR || !real_id(call->ticket_id))
        return NULL;
    for (size_t i = 0; i < cu->n_tickets; i++)
        if (strcmp(cu->tickets[i].id, call->ticket_id) == 0)
            return tkt_ticket_writable(&cu->tickets[i], 1) == 1 ? &cu->tickets[i] : NULL;
    return NULL;
}

/* The IVR's ticket turned missed-call ticket: R-M1's status, tag and
 * assignee and R-M2's first line; its subject and type stay the IVR's. */
static void adopt_ivr_ticket(const action_ctx_t *a, tkt_ticket_ref_t *ref, tkt_plan_t *out)
{
    tkt_op_t *op = add_op(out, TKT_OP_UPDATE, ref->id);
    if (!op)
        return;
    op->status = TKT_ST_OPEN;
    SET(op->assignee_id, group_assignee(a));
    op->set_assignee = 1;
    SET(op->tags[0], "callbus_missed");
    op->n_tags = 1;
    missed_line(a, op);
    ref->status = TKT_ST_OPEN;
    SET(out->customer.missed_group_id, a->group_id);
    SET(out->customer.missed_ticket_id, ref->id);
    out->note = "R-T8/R-M1: the IVR's ticket of the call is the missed-call ticket";
}

static void group_open(const action_ctx_t *a, const cmn_event_t *ev, const tkt_facts_t *f,
                       tkt_plan_t *out)
{
    char req[TKT_ID_MAX];
    tkt_ticket_ref_t *ivr;
    if (strcmp(out->customer.missed_group_id, a->group_id) == 0) {
        out->note = "missed-call group already open";
        return;
    }
    if (strcmp(out->call.call_id, a->call_id) == 0 &&
        (ivr = ivr_ticket(&out->call, &out->customer))) {
        adopt_ivr_ticket(a, ivr, out);
        return;
    }
    if (requester(&out->customer, f, out, req, sizeof req) < 0)
        return;
    tkt_op_t *op = add_op(out, TKT_OP_CREATE_TICKET, "");
    if (!op)
        return;
    tkt_render_subject(a->pol->subject_missed, ev, op->subject, sizeof op->subject);
    SET(op->requester_id, req);
    SET(op->assignee_id, group_assignee(a));
    op->set_assignee = op->assignee_id[0] != '\0';
    op->status = TKT_ST_OPEN;
    op->ticket_kind = TKT_KIND_MISSED;
    if (a->action == OP_GROUP_ADD) { /* the group's ticket may exist: a ticket of this call */
        char gid[TKT_CALL_ID_MAX + 24];
        snprintf(gid, sizeof gid, "%s-%ld", a->group_id, a->count);
        tkt_external_id(op->external_id, sizeof op->external_id, "missed-", gid);
    } else {
        tkt_external_id(op->external_id, sizeof op->external_id, "missed-", a->group_id);
    }
    SET(op->tags[0], "callbus");
    SET(op->tags[1], "callbus_missed");
    op->n_tags = 2;
    missed_line(a, op);
    SET(out->customer.missed_group_id, a->group_id);
    SET(out->customer.missed_ticket_id, TKT_REF_NEW_TICKET);
    remember_ticket(&out->customer, TKT_REF_NEW_TICKET, TKT_KIND_MISSED, TKT_ST_OPEN);
    out->figures.created[TKT_KIND_MISSED] = 1;
}

static void group_add(const action_ctx_t *a, const cmn_event_t *ev, const tkt_facts_t *f,
                      tkt_plan_t *out)
{
    tkt_op_t *op;
    if (strcmp(out->customer.missed_group_id, a->group_id) != 0 ||
        !real_id(out->customer.missed_ticket_id)) {
        /* Our state of the group is gone (Redis lost it) or never came:
         * the missed call still makes a ticket, never dropped (issue 11
         * item 5): a second one at worst. Its external id is the group's
         * plus the count, so a replay finds it and the group's own ticket
         * (which a look-up by external id would find) is not mistaken for
         * it, which would lose this call's comment. */
        group_open(a, ev, f, out);
        return;
    }
    if ((op = add_op(out, TKT_OP_COMMENT, out->customer.missed_ticket_id))) /* R-M2 */
        snprintf(op->body, sizeof op->body, "Missed call %ld at %s (call %s).", a->count, a->when,
                 a->call_id);
}

static void group_status(const action_ctx_t *a, tkt_plan_t *out)
{
    tkt_op_t *op;
    if (strcmp(out->customer.missed_group_id, a->group_id) != 0 ||
        !real_id(out->customer.missed_ticket_id)) {
        out->note = "no open missed-call ticket for that group";
        return;
    }
    if (!(op = add_op(out, TKT_OP_UPDATE, out->customer.missed_ticket_id)))
        return;
    op->status = a->status; /* R-M3 */
    if (a->called_back) {
        SET(op->tags[0], "callbus_called_back");
        op->n_tags = 1;
    }
    if (a->status != TKT_ST_OPEN) { /* the customer was reached: the group is over */
        out->customer.missed_group_id[0] = '\0';
        out->customer.missed_ticket_id[0] = '\0';
    }
}

/* R-M3 (a)..(e): which one depends on the ticket the reaching call ended
 * on, which only ticket-service knows (tkt_missed_reached). */
static void group_reached(const action_ctx_t *a, const tkt_call_t *call, tkt_plan_t *out)
{
    if (strcmp(out->customer.missed_group_id, a->group_id) != 0 ||
        !real_id(out->customer.missed_ticket_id)) {
        out->note = "no open missed-call ticket for that group";
        return;
    }
    if (!call->ended) { /* its end comes later on call-events: it applies R-M3 */
        SET(out->customer.missed_reached_call_id, a->call_id);
        out->note = "R-M3: applied when the reaching call ends";
        return;
    }
    if (tkt_missed_reached(call, out) < 0)
        out->note = "no room for the R-M3 update";
}

static int decide_action(void *ctx, const cmn_event_t *ev, const tkt_call_t *call,
                         const tkt_customer_t *customer, const tkt_facts_t *facts, tkt_plan_t *out)
{
    const action_ctx_t *a = ctx;
    memset(out, 0, sizeof *out);
    out->call = *call;
    out->customer = *customer;
    if (a->action == ACT_CONTACT_PICKED || a->action == ACT_RETARGETED ||
        a->action == ACT_NEW_TICKET) {
        act_verdict_t v = check_action(a, call, customer, facts, out);
        if (v.verdict == ACT_REFUSED) {
            count_refusal(&v);
            out->note = v.why;
            return -1;
        }
        if (v.verdict == ACT_NEED)
            return 0;
    }
    switch (a->action) {
    case ACT_CONTACT_PICKED:
        contact_picked(a, out);
        break;
    case ACT_RETARGETED:
        retargeted(a, out);
        break;
    case ACT_NEW_TICKET:
        new_ticket(a, ev, out);
        break;
    case OP_GROUP_OPEN:
        group_open(a, ev, facts, out);
        break;
    case OP_GROUP_ADD:
        group_add(a, ev, facts, out);
        break;
    case OP_GROUP_REACHED:
        group_reached(a, call, out);
        break;
    case OP_GROUP_STATUS:
        group_status(a, out);
        break;
    }
    return 0;
}

/* ---- decoding ------------------------------------------------------------------ */

static const char *str(const json_t *o, const char *name)
{
    const char *v = json_string_value(json_object_get(o, name));
    return v ? v : "";
}

/* Ids are refused rather than cut: a cut id would name another call,
 * ticket or marker (cmn_event.h). */
static int crm_id_or_absent(const json_t *o, const char *name)
{
    const char *v = str(o, name);
    return !v[0] || cmn_id_text_ok(v, CMN_CRM_ID_MAX);
}

static int parse_agent_action(const json_t *o, action_ctx_t *a, char *err, size_t errsz)
{
    const char *action = str(o, "action");
    a->action = strcmp(action, "contact.picked") == 0    ? ACT_CONTACT_PICKED
                : strcmp(action, "call.retargeted") == 0 ? ACT_RETARGETED
                : strcmp(action, "call.new_ticket") == 0 ? ACT_NEW_TICKET
                                                         : (action_t)-1;
    SET(a->id, str(o, "action_id"));
    SET(a->agent, str(o, "agent_crm_id"));
    SET(a->contact_id, str(o, "contact_id"));
    SET(a->ticket_id, str(o, "ticket_id"));
    const char *bad = (int)a->action < 0                                        ? "action"
                      : !cmn_id_text_ok(str(o, "action_id"), CMN_ID_TEXT_MAX)   ? "action_id"
                      : !cmn_id_text_ok(str(o, "call_id"), CMN_ID_TEXT_MAX)     ? "call_id"
                      : !cmn_id_text_ok(str(o, "agent_crm_id"), CMN_CRM_ID_MAX) ? "agent_crm_id"
                      : !crm_id_or_absent(o, "contact_id")                      ? "contact_id"
                      : !crm_id_or_absent(o, "ticket_id")                       ? "ticket_id"
                      : a->action == ACT_CONTACT_PICKED && !a->contact_id[0]    ? "contact_id"
                      : a->action == ACT_RETARGETED && !a->ticket_id[0]         ? "ticket_id"
                                                                                : NULL;
    if (bad)
        snprintf(err, errsz, "agent action: %s missing or invalid", bad);
    return bad ? -1 : 0;
}

/* missed-call-ops: the one codec (cmn_missed_op.h) checks the schema. */
static int parse_missed_op(const char *payload, size_t len, action_ctx_t *a, char *err,
                           size_t errsz)
{
    cmn_missed_op_t op;
    if (cmn_missed_op_decode(payload, len, &op, err, errsz) < 0)
        return -1;
    a->action = op.op == CMN_MOP_OPEN     ? OP_GROUP_OPEN
                : op.op == CMN_MOP_ADD    ? OP_GROUP_ADD
                : op.op == CMN_MOP_STATUS ? OP_GROUP_STATUS
                                          : OP_GROUP_REACHED;
    SET(a->id, op.op_id);
    SET(a->group_id, op.group_id);
    SET(a->agent, op.assignee_crm_id);
    SET(a->call_id, op.call_id);
    SET(a->number, op.customer_number);
    SET(a->when, op.occurred_at);
    a->count = op.count;
    a->status = op.status[0] ? tkt_status_parse(op.status) : TKT_ST_UNKNOWN;
    a->called_back = op.called_back;
    return 0;
}

/* Returns a new context (free()) or NULL with err set. */
static action_ctx_t *parse(const tkt_policy_t *pol, tkt_actions_kind_t kind, const char *payload,
                           size_t len, char *err, size_t errsz)
{
    json_t *o = json_loadb(payload, len, 0, NULL);
    action_ctx_t *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, errsz, "out of memory");
        goto fail;
    }
    if (!json_is_object(o)) {
        snprintf(err, errsz, "not a JSON object");
        goto fail;
    }
    a->pol = pol;
    SET(a->call_id, str(o, "call_id"));
    SET(a->number, str(o, "customer_number"));
    SET(a->when, str(o, "occurred_at"));
    if (kind == TKT_ACTIONS_AGENT ? parse_agent_action(o, a, err, errsz) < 0
                                  : parse_missed_op(payload, len, a, err, errsz) < 0)
        goto fail;
    json_decref(o);
    return a;
fail:
    json_decref(o);
    free(a);
    return NULL;
}

/* The event the job carries: ids for the lane, the markers and templates. */
static int job_event(const action_ctx_t *a, tkt_actions_kind_t kind, cmn_event_t *ev)
{
    char event_id[TKT_CALL_ID_MAX + 8];
    cmn_event_init(ev);
    snprintf(event_id, sizeof event_id, "%s-%s", kind == TKT_ACTIONS_AGENT ? "act" : "mis", a->id);
    if (cmn_event_set(&ev->event_id, event_id) < 0 ||
        (a->call_id[0] && cmn_event_set(&ev->call_id, a->call_id) < 0) ||
        (a->number[0] && cmn_event_set(&ev->customer_number, a->number) < 0) ||
        (!a->call_id[0] && !a->number[0])) {
        cmn_event_clear(ev);
        return -1;
    }
    return 0;
}

int tkt_actions_decide_message(const tkt_policy_t *pol, tkt_actions_kind_t kind,
                               const char *payload, size_t len, const tkt_call_t *call,
                               const tkt_customer_t *customer, const tkt_facts_t *facts,
                               tkt_plan_t *out, char *err, size_t errsz)
{
    cmn_event_t ev;
    action_ctx_t *a = parse(pol, kind, payload, len, err, errsz);
    int rc = -1;
    if (a && job_event(a, kind, &ev) == 0) {
        rc = decide_action(a, &ev, call, customer, facts, out);
        cmn_event_clear(&ev);
    }
    free(a);
    return rc;
}

int tkt_actions_submit(tkt_pipeline_t *p, const tkt_policy_t *pol, tkt_actions_kind_t kind,
                       const char *payload, size_t len, tkt_pipeline_done_fn cb, void *ctx,
                       char *err, size_t errsz)
{
    cmn_event_t ev;
    action_ctx_t *a = parse(pol, kind, payload, len, err, errsz);
    if (!a)
        return strcmp(err, "out of memory") == 0 ? TKT_ACTIONS_NOT_NOW : -1;
    if (job_event(a, kind, &ev) < 0) {
        snprintf(err, errsz, "neither call_id nor customer_number");
        free(a);
        return -1;
    }
    if (tkt_pipeline_submit_with(p, &ev, decide_action, a, cb, ctx) < 0) {
        cmn_event_clear(&ev);
        free(a);
        snprintf(err, errsz, "out of memory");
        return TKT_ACTIONS_NOT_NOW;
    }
    return 0; /* the job owns a */
}
