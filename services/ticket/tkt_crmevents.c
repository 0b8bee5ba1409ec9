/* crm-events as pipeline jobs (tkt_crmevents.h): decoding, submission and
 * the count of what each did. The decision is the rules'
 * (tkt_decide_crm_event in tkt_rules_crm.c). */
#include "tkt_crmevents.h"
#include "cmn_metrics.h"
#include "cmn_time.h"
#include "tkt_actions.h" /* TKT_ACTIONS_NOT_NOW */

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EVENT_ID_MAX 160 /* the schema's maxLength */

static const char *str(const json_t *o, const char *name)
{
    const char *v = json_string_value(json_object_get(o, name));
    return v ? v : "";
}

static int known_type(const char *t)
{
    return strcmp(t, "ticket.created") == 0 || strcmp(t, "ticket.status_changed") == 0 ||
           strcmp(t, "ticket.assignee_changed") == 0 || strcmp(t, "ticket.merged") == 0;
}

/* An absent status is fine (assignee changes); one outside the schema's
 * enum is not. */
static int status_ok(const json_t *o, const char *name, tkt_status_t *out)
{
    const char *s = str(o, name);
    *out = s[0] ? tkt_status_parse(s) : TKT_ST_UNKNOWN;
    return !json_object_get(o, name) || *out != TKT_ST_UNKNOWN;
}

/* The first field that breaks the schema, NULL when none. A ticket id the
 * schema allows but no ref of ours can hold (longer than CMN_CRM_ID_MAX)
 * is decoded as "": no customer remembers it (counted as unknown). */
static const char *check(const json_t *o, tkt_crm_event_t *e)
{
    const char *crm = str(o, "crm"), *ticket = str(o, "ticket_id"), *merged = str(o, "merged_into");
    tkt_status_t previous;
    int64_t received_ms;
    if (json_integer_value(json_object_get(o, "schema_version")) != 1)
        return "schema_version";
    if (!cmn_id_text_ok(str(o, "event_id"), EVENT_ID_MAX) || strlen(str(o, "event_id")) < 8)
        return "event_id";
    if (strcmp(crm, "zendesk") != 0 && strcmp(crm, "dynamics") != 0)
        return "crm";
    if (!known_type(str(o, "type")))
        return "type";
    if (!cmn_id_text_ok(ticket, CMN_CRM_ID_MAX + 1))
        return "ticket_id";
    if (!status_ok(o, "status", &e->status) || !status_ok(o, "previous_status", &previous))
        return "status";
    if (json_object_get(o, "merged_into") && !cmn_id_text_ok(merged, CMN_CRM_ID_MAX + 1))
        return "merged_into";
    if (cmn_time_parse_rfc3339(str(o, "occurred_at"), &e->occurred_at_ms) < 0 ||
        e->occurred_at_ms <= 0)
        return "occurred_at";
    if (cmn_time_parse_rfc3339(str(o, "received_at"), &received_ms) < 0)
        return "received_at";
    snprintf(e->event_id, sizeof e->event_id, "%s", str(o, "event_id"));
    if (strlen(ticket) <= CMN_CRM_ID_MAX)
        snprintf(e->ticket_id, sizeof e->ticket_id, "%s", ticket);
    if (strlen(merged) <= CMN_CRM_ID_MAX)
        snprintf(e->merged_into, sizeof e->merged_into, "%s", merged);
    return NULL;
}

int tkt_crmevents_decode(const char *payload, size_t len, tkt_crm_event_t *e, char *err,
                         size_t errsz)
{
    json_t *o = json_loadb(payload, len, 0, NULL);
    const char *bad = json_is_object(o) ? NULL : "not a JSON object";
    memset(e, 0, sizeof *e);
    if (!bad && (bad = check(o, e)))
        snprintf(err, errsz, "crm event: %s missing or invalid", bad);
    else if (bad)
        snprintf(err, errsz, "crm event: %s", bad);
    json_decref(o);
    return bad ? -1 : 0;
}

/* ---- the job ------------------------------------------------------------------ */

static void count(tkt_crmev_result_t r)
{
    static const char *const labels[] = {"", "result=\"applied\"", "result=\"not_newer\"",
                                         "result=\"unknown_ticket\""};
    cmn_metric_t *m = cmn_metrics_counter(
        "ticket_crm_events_total",
        "crm-events messages by what they did to the customer's state (issue 25 item 2)",
        labels[r]);
    if (m) /* NULL only out of memory: the outcome is still logged */
        cmn_metric_add(m, 1);
}

/* A tkt_decide_fn: ctx is the decoded event. Counted on the pass that
 * decides (a commit refused by another writer decides again: counted again). */
static int decide(void *ctx, const cmn_event_t *ev, const tkt_call_t *call,
                  const tkt_customer_t *customer, const tkt_facts_t *facts, tkt_plan_t *out)
{
    tkt_crmev_result_t r = tkt_decide_crm_event(ctx, customer, facts, out);
    if (r != TKT_CRMEV_NEED_OWNER)
        count(r);
    return 0;
}

/* The job's event: its id (the done marker: a replay does nothing) and its
 * lane, one per ticket (its events in order); the customer's state is
 * found through the owner index, its commit checked by revision. */
static int job_event(const tkt_crm_event_t *e, cmn_event_t *ev)
{
    char id[CMN_ID_TEXT_MAX + 1], lane[CMN_ID_TEXT_MAX + 1];
    cmn_event_init(ev);
    /* the CRM's id when it fits ours; else its other stable form (the
     * schema's own fallback: ticket and change time) */
    if (strlen(e->event_id) + 4 <= CMN_ID_TEXT_MAX) /* the precision says so to gcc */
        snprintf(id, sizeof id, "crm-%.*s", CMN_ID_TEXT_MAX - 4, e->event_id);
    else
        snprintf(id, sizeof id, "crm-%s-%lld", e->ticket_id, (long long)e->occurred_at_ms);
    snprintf(lane, sizeof lane, "crm-ticket-%s", e->ticket_id);
    if (cmn_event_set(&ev->event_id, id) < 0 || cmn_event_set(&ev->call_id, lane) < 0) {
        cmn_event_clear(ev);
        return -1;
    }
    ev->occurred_at_ms = ev->received_at_ms = e->occurred_at_ms;
    return 0;
}

int tkt_crmevents_submit(tkt_pipeline_t *p, const char *payload, size_t len,
                         tkt_pipeline_done_fn cb, void *ctx, char *err, size_t errsz)
{
    cmn_event_t ev;
    tkt_crm_event_t *e = malloc(sizeof *e);
    if (!e) {
        snprintf(err, errsz, "out of memory");
        return TKT_ACTIONS_NOT_NOW;
    }
    if (tkt_crmevents_decode(payload, len, e, err, errsz) < 0) {
        free(e);
        return -1;
    }
    if (job_event(e, &ev) < 0)
        goto out_of_memory;
    if (tkt_pipeline_submit_with(p, &ev, decide, e, cb, ctx) < 0) {
        cmn_event_clear(&ev);
        goto out_of_memory;
    }
    return 0; /* the job owns e */
out_of_memory:
    free(e);
    snprintf(err, errsz, "out of memory");
    return TKT_ACTIONS_NOT_NOW;
}
