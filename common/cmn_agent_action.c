/* agent-actions codec (encoder side). */
#include "cmn_agent_action.h"

#include "cmn_event.h"
#include "cmn_time.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

static int e164_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 8 || n > 16 || s[0] != '+' || s[1] < '1' || s[1] > '9')
        return 0;
    return strspn(s + 1, "0123456789") == n - 1;
}

/* pop.acknowledged (issue 25 item 3): its pop and the pop's kind. */
static const char *pop_bad(const cmn_agent_action_t *a)
{
    if (!cmn_id_text_ok(a->pop_id, CMN_AGENT_ACTION_POP_ID_MAX))
        return "pop_id";
    if (!a->pop_kind || !*a->pop_kind || strlen(a->pop_kind) > 16)
        return "pop_kind";
    return NULL;
}

/* pop.unacknowledged: its pop, and a ticket or a profile to show. */
static const char *unacked_bad(const cmn_agent_action_t *a)
{
    const char *bad = pop_bad(a);
    if (bad)
        return bad;
    if (a->ticket_id && !cmn_id_text_ok(a->ticket_id, CMN_CRM_ID_MAX))
        return "ticket_id";
    if (a->contact_id && !cmn_id_text_ok(a->contact_id, CMN_CRM_ID_MAX))
        return "contact_id";
    return a->ticket_id || a->contact_id ? NULL : "ticket_id";
}

int cmn_agent_action_check(const cmn_agent_action_t *a, char *err, size_t errsz, char *field,
                           size_t fieldsz)
{
    const char *act = a->action ? a->action : "";
    /* contact.linked (issue 24 item 2): an unknown caller's call moved to
     * a contact the agent found in the CRM; the contact id like a pick's. */
    int picked = strcmp(act, "contact.picked") == 0 || strcmp(act, "contact.linked") == 0;
    int retarget = strcmp(act, "call.retargeted") == 0;
    int unacked = strcmp(act, "pop.unacknowledged") == 0;
    int acked = strcmp(act, "pop.acknowledged") == 0;
    const char *bad =
        !picked && !retarget && !unacked && !acked && strcmp(act, "call.new_ticket") != 0 ? "action"
        : !a->action_id || strlen(a->action_id) < 8 ||
                !cmn_id_text_ok(a->action_id, CMN_ID_TEXT_MAX)
            ? "action_id"
        : !cmn_id_text_ok(a->call_id, CMN_ID_TEXT_MAX)              ? "call_id"
        : !cmn_id_text_ok(a->agent_crm_id, CMN_CRM_ID_MAX)          ? "agent_crm_id"
        : a->customer_number && !e164_ok(a->customer_number)        ? "customer_number"
        : picked && !cmn_id_text_ok(a->contact_id, CMN_CRM_ID_MAX)  ? "contact_id"
        : retarget && !cmn_id_text_ok(a->ticket_id, CMN_CRM_ID_MAX) ? "ticket_id"
        : unacked                                                   ? unacked_bad(a)
        : acked                                                     ? pop_bad(a)
                                                                    : NULL;
    if (!bad)
        return 0;
    snprintf(err, errsz, "agent action: %s missing or invalid", bad);
    snprintf(field, fieldsz, "%s", bad);
    return -1;
}

char *cmn_agent_action_encode(const cmn_agent_action_t *a, char *err, size_t errsz, char *field,
                              size_t fieldsz)
{
    char when[CMN_TIME_TEXT_MAX];
    if (cmn_agent_action_check(a, err, errsz, field, fieldsz) < 0)
        return NULL;
    cmn_time_format(a->occurred_at_ms, when, sizeof when);
    json_t *o = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s}", "schema_version", 1, "action_id",
                          a->action_id, "action", a->action, "call_id", a->call_id, "agent_crm_id",
                          a->agent_crm_id, "occurred_at", when);
    if (o && a->customer_number)
        json_object_set_new(o, "customer_number", json_string(a->customer_number));
    if (o && (strcmp(a->action, "contact.picked") == 0 || strcmp(a->action, "contact.linked") == 0))
        json_object_set_new(o, "contact_id", json_string(a->contact_id));
    if (o && strcmp(a->action, "call.retargeted") == 0)
        json_object_set_new(o, "ticket_id", json_string(a->ticket_id));
    if (o && strncmp(a->action, "pop.", 4) == 0) { /* pop.unacknowledged, pop.acknowledged */
        json_object_set_new(o, "pop_id", json_string(a->pop_id));
        json_object_set_new(o, "pop_kind", json_string(a->pop_kind));
        if (a->ticket_id)
            json_object_set_new(o, "ticket_id", json_string(a->ticket_id));
        if (a->contact_id)
            json_object_set_new(o, "contact_id", json_string(a->contact_id));
    }
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (!text)
        snprintf(err, errsz, "out of memory");
    return text;
}

const char *cmn_agent_action_key(const cmn_agent_action_t *a)
{
    return a->customer_number ? a->customer_number : a->call_id;
}
