/* Agent actions and missed-call operations as pipeline jobs: decoding and
 * submission. The decisions are the rules' (tkt_decide_action in
 * tkt_rules_actions.c, issue 20 item 1); refusals are counted here (metrics). */
#include "tkt_actions.h"
#include "cmn_metrics.h"
#include "cmn_missed_op.h"
#include "cmn_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What a job needs to decide: the policy and the decoded action. */
typedef struct {
    const tkt_policy_t *pol;
    tkt_action_t a;
    int64_t received_at_ms; /* when it was decoded: the clock if occurred_at is unreadable */
} action_ctx_t;

#define SET(dst, src) snprintf(dst, sizeof(dst), "%s", src)

/* A refused action is counted by reason here; the pipeline logs the
 * rejection with out->note, counts it in ticket_events_rejected_total and
 * moves on (the offset too): a refusal is final, retrying changes nothing. */
static void count_refusal(const char *reason)
{
    char labels[64];
    snprintf(labels, sizeof labels, "reason=\"%s\"", reason);
    cmn_metric_t *m = cmn_metrics_counter(
        "ticket_agent_actions_refused_total",
        "Agent actions that do not fit their call (issue 19), refused and logged", labels);
    if (m) /* NULL only out of memory: the rejection is still logged and counted */
        cmn_metric_add(m, 1);
}

/* The decision is the rules' (tkt_decide_action); counting refusals is ours. */
static int decide_action(void *ctx, const cmn_event_t *ev, const tkt_call_t *call,
                         const tkt_customer_t *customer, const tkt_facts_t *facts, tkt_plan_t *out)
{
    const action_ctx_t *x = ctx;
    const char *refusal = NULL;
    int rc = tkt_decide_action(x->pol, &x->a, ev, call, customer, facts, out, &refusal);
    if (refusal)
        count_refusal(refusal);
    return rc;
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

static int agent_action_kind(const char *action)
{
    return strcmp(action, "contact.picked") == 0    ? TKT_ACT_CONTACT_PICKED
           : strcmp(action, "call.retargeted") == 0 ? TKT_ACT_RETARGETED
           : strcmp(action, "call.new_ticket") == 0 ? TKT_ACT_NEW_TICKET
           : strcmp(action, "contact.linked") == 0  ? TKT_ACT_CONTACT_LINKED
                                                    : -1;
}

static int parse_agent_action(const json_t *o, tkt_action_t *a, char *err, size_t errsz)
{
    int kind = agent_action_kind(str(o, "action"));
    SET(a->id, str(o, "action_id"));
    SET(a->agent, str(o, "agent_crm_id"));
    SET(a->contact_id, str(o, "contact_id"));
    SET(a->ticket_id, str(o, "ticket_id"));
    const char *bad =
        kind < 0                                                  ? "action"
        : !cmn_id_text_ok(str(o, "action_id"), CMN_ID_TEXT_MAX)   ? "action_id"
        : !cmn_id_text_ok(str(o, "call_id"), CMN_ID_TEXT_MAX)     ? "call_id"
        : !cmn_id_text_ok(str(o, "agent_crm_id"), CMN_CRM_ID_MAX) ? "agent_crm_id"
        : !crm_id_or_absent(o, "contact_id")                      ? "contact_id"
        : !crm_id_or_absent(o, "ticket_id")                       ? "ticket_id"
        : (kind == TKT_ACT_CONTACT_PICKED || kind == TKT_ACT_CONTACT_LINKED) && !a->contact_id[0]
            ? "contact_id"
        : kind == TKT_ACT_RETARGETED && !a->ticket_id[0] ? "ticket_id"
                                                         : NULL;
    if (bad)
        snprintf(err, errsz, "agent action: %s missing or invalid", bad);
    else
        a->kind = (tkt_action_kind_t)kind;
    return bad ? -1 : 0;
}

/* missed-call-ops: the one codec (cmn_missed_op.h) checks the schema. */
static int parse_missed_op(const char *payload, size_t len, tkt_action_t *a, char *err,
                           size_t errsz)
{
    cmn_missed_op_t op;
    if (cmn_missed_op_decode(payload, len, &op, err, errsz) < 0)
        return -1;
    a->kind = op.op == CMN_MOP_OPEN     ? TKT_ACT_GROUP_OPEN
              : op.op == CMN_MOP_ADD    ? TKT_ACT_GROUP_ADD
              : op.op == CMN_MOP_STATUS ? TKT_ACT_GROUP_STATUS
                                        : TKT_ACT_GROUP_REACHED;
    SET(a->id, op.op_id);
    SET(a->group_id, op.group_id);
    SET(a->agent, op.assignee_crm_id);
    SET(a->call_id, op.call_id);
    SET(a->number, op.customer_number);
    SET(a->when, op.occurred_at);
    SET(a->customer_name, op.customer_name);
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
    action_ctx_t *x = calloc(1, sizeof *x);
    if (!x) {
        snprintf(err, errsz, "out of memory");
        goto fail;
    }
    if (!json_is_object(o)) {
        snprintf(err, errsz, "not a JSON object");
        goto fail;
    }
    x->pol = pol;
    x->received_at_ms = cmn_time_now_ms();
    SET(x->a.call_id, str(o, "call_id"));
    SET(x->a.number, str(o, "customer_number"));
    SET(x->a.when, str(o, "occurred_at"));
    if (kind == TKT_ACTIONS_AGENT ? parse_agent_action(o, &x->a, err, errsz) < 0
                                  : parse_missed_op(payload, len, &x->a, err, errsz) < 0)
        goto fail;
    json_decref(o);
    return x;
fail:
    json_decref(o);
    free(x);
    return NULL;
}

/* The event the job carries: ids for the lane, the markers and templates;
 * its times are the decision's clock (the action's occurred_at, else when
 * it was decoded), so a replay decides on the same time. */
static int job_event(const action_ctx_t *x, tkt_actions_kind_t kind, cmn_event_t *ev)
{
    const tkt_action_t *a = &x->a;
    char event_id[TKT_CALL_ID_MAX + 8];
    int64_t occurred_ms;
    cmn_event_init(ev);
    snprintf(event_id, sizeof event_id, "%s-%s", kind == TKT_ACTIONS_AGENT ? "act" : "mis", a->id);
    if (cmn_event_set(&ev->event_id, event_id) < 0 ||
        (a->call_id[0] && cmn_event_set(&ev->call_id, a->call_id) < 0) ||
        (a->number[0] && cmn_event_set(&ev->customer_number, a->number) < 0) ||
        (a->customer_name[0] && cmn_event_set(&ev->customer_name, a->customer_name) < 0) ||
        (!a->call_id[0] && !a->number[0])) {
        cmn_event_clear(ev);
        return -1;
    }
    ev->received_at_ms = x->received_at_ms;
    if (cmn_time_parse_rfc3339(a->when, &occurred_ms) == 0)
        ev->occurred_at_ms = occurred_ms;
    return 0;
}

int tkt_actions_decide_message(const tkt_policy_t *pol, tkt_actions_kind_t kind,
                               const char *payload, size_t len, const tkt_call_t *call,
                               const tkt_customer_t *customer, const tkt_facts_t *facts,
                               tkt_plan_t *out, char *err, size_t errsz)
{
    cmn_event_t ev;
    action_ctx_t *x = parse(pol, kind, payload, len, err, errsz);
    int rc = -1;
    if (x && job_event(x, kind, &ev) == 0) {
        rc = decide_action(x, &ev, call, customer, facts, out);
        cmn_event_clear(&ev);
    }
    free(x);
    return rc;
}

int tkt_actions_submit(tkt_pipeline_t *p, const tkt_policy_t *pol, tkt_actions_kind_t kind,
                       const char *payload, size_t len, tkt_pipeline_done_fn cb, void *ctx,
                       char *err, size_t errsz)
{
    cmn_event_t ev;
    action_ctx_t *x = parse(pol, kind, payload, len, err, errsz);
    if (!x)
        return strcmp(err, "out of memory") == 0 ? TKT_ACTIONS_NOT_NOW : -1;
    if (job_event(x, kind, &ev) < 0) {
        snprintf(err, errsz, "neither call_id nor customer_number");
        free(x);
        return -1;
    }
    if (tkt_pipeline_submit_with(p, &ev, decide_action, x, cb, ctx) < 0) {
        cmn_event_clear(&ev);
        free(x);
        snprintf(err, errsz, "out of memory");
        return TKT_ACTIONS_NOT_NOW;
    }
    return 0; /* the job owns x */
}
