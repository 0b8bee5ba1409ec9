/* pop.unacknowledged -> the CRM's display API (tkt_popfallback.h). */
#include "tkt_popfallback.h"

#include "cmn_agent_action.h"
#include "cmn_log.h"
#include "cmn_metrics.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    tkt_popfallback_done_fn done;
    void *ctx;
    char call_id[CMN_ID_TEXT_MAX + 1];
} wait_t;

static void count(const char *result)
{
    char labels[48];
    snprintf(labels, sizeof labels, "result=\"%s\"", result);
    cmn_metric_t *m = cmn_metrics_counter(
        "ticket_pop_fallback_total",
        "Unacknowledged pops (pop-service's pop.unacknowledged) by what the CRM's display did",
        labels);
    if (m) /* NULL only out of memory: the outcome is logged anyway */
        cmn_metric_add(m, 1);
}

/* The CRM's answer: a refusal (agent or record unknown to it) or an error
 * is final for a best-effort display: logged, counted, done. */
static void on_displayed(void *ctx, const tkt_crm_result_t *res)
{
    wait_t *w = ctx;
    if (!res->ok)
        LOG_CALL(CMN_LOG_WARN, w->call_id, "unacknowledged pop not displayed in the CRM: %s",
                 res->not_found ? "agent or record unknown to the CRM" : res->error);
    count(res->ok ? "displayed" : "failed");
    w->done(w->ctx);
    free(w);
}

static const char *opt(const json_t *o, const char *name)
{
    return json_string_value(json_object_get(o, name));
}

/* The message as the codec's struct, checked by the codec's own rules
 * (cmn_agent_action_check: one home for the schema). Borrows from o. */
static int decode(const json_t *o, cmn_agent_action_t *a, char *err, size_t errsz)
{
    char field[64];
    *a = (cmn_agent_action_t){.action_id = opt(o, "action_id"),
                              .action = opt(o, "action"),
                              .call_id = opt(o, "call_id"),
                              .customer_number = opt(o, "customer_number"),
                              .agent_crm_id = opt(o, "agent_crm_id"),
                              .contact_id = opt(o, "contact_id"),
                              .ticket_id = opt(o, "ticket_id"),
                              .pop_id = opt(o, "pop_id"),
                              .pop_kind = opt(o, "pop_kind")};
    return cmn_agent_action_check(a, err, errsz, field, sizeof field);
}

int tkt_popfallback_take(tkt_crm_t *crm, int enabled, const char *payload, size_t len,
                         tkt_popfallback_done_fn done, void *ctx, char *err, size_t errsz)
{
    cmn_agent_action_t a;
    json_t *o = json_loadb(payload, len, 0, NULL);
    const char *action = opt(o, "action");
    int rc = 1;
    if (action && strcmp(action, "pop.acknowledged") == 0) {
        done(ctx); /* for the statistics (issue 25 item 3): nothing to show */
        goto cleanup;
    }
    if (!action || strcmp(action, "pop.unacknowledged") != 0) {
        rc = 0; /* another action, or not JSON at all: tkt_actions says which */
        goto cleanup;
    }
    if (decode(o, &a, err, errsz) < 0) {
        rc = -1;
        goto cleanup;
    }
    /* A ticket pop shows its ticket; a profile pop the contact, where the
     * CRM can. */
    int ticket = a.ticket_id != NULL;
    void (*display)(tkt_crm_t *, const char *, const char *, tkt_crm_cb, void *) =
        ticket ? crm->ops->display_ticket : crm->ops->display_user;
    wait_t *w = enabled && display ? calloc(1, sizeof *w) : NULL;
    if (!w) {
        if (enabled && display)
            LOG_CALL(CMN_LOG_WARN, a.call_id, "unacknowledged pop not displayed: out of memory");
        count(enabled && display ? "failed" : "no_channel");
        done(ctx);
        goto cleanup;
    }
    *w = (wait_t){.done = done, .ctx = ctx};
    snprintf(w->call_id, sizeof w->call_id, "%s", a.call_id);
    LOG_CALL(CMN_LOG_INFO, a.call_id, "pop %s not acknowledged by agent %s: displayed in the CRM",
             a.pop_id, a.agent_crm_id);
    display(crm, a.agent_crm_id, ticket ? a.ticket_id : a.contact_id, on_displayed, w);
cleanup:
    json_decref(o);
    return rc;
}
