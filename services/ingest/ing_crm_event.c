/* The crm-events message: construction helpers and its JSON. The schema is
 * the contract the consumer (ticket-service) is built against, so every
 * member written here is one it declares, in its vocabulary. */
#include "ing_crm_event.h"
#include "cmn_time.h"
#include "ing_json.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const type_names[] = {
    [ING_CRM_TICKET_CREATED] = "ticket.created",
    [ING_CRM_STATUS_CHANGED] = "ticket.status_changed",
    [ING_CRM_ASSIGNEE_CHANGED] = "ticket.assignee_changed",
    [ING_CRM_MERGED] = "ticket.merged",
};

static const char *const statuses[] = {"new", "open", "pending", "hold", "solved", "closed"};

ing_crm_event_t *ing_crm_events_push(ing_crm_events_t *out, const char *crm, int64_t received_at_ms)
{
    if (out->n >= ING_CRM_MAX_EVENTS)
        return NULL;
    ing_crm_event_t *ev = &out->ev[out->n++];
    memset(ev, 0, sizeof *ev);
    ev->crm = crm;
    ev->received_at_ms = received_at_ms;
    ev->occurred_at_ms = received_at_ms;
    return ev;
}

int ing_crm_copy(char *dst, size_t cap, const char *value, const char *field, ing_error_t *err)
{
    size_t n = value ? strlen(value) : 0;
    if (n == 0)
        return ing_fail(err, field, "%s is missing or empty", field);
    if (n >= cap)
        return ing_fail(err, field, "%s is longer than %zu characters", field, cap - 1);
    memcpy(dst, value, n + 1);
    return 0;
}

int ing_crm_take_id(const json_t *v, const char *path, int required, char dst[ING_CRM_ID_MAX],
                    ing_error_t *err)
{
    char buf[ING_JSON_NUM_MAX];
    const char *text = NULL;
    int rc = ing_json_text(v, path, buf, &text);
    *dst = '\0';
    if (rc < 0)
        return ing_fail(err, path, "%s must be a string or a whole number", path);
    if (rc == 0 || strcmp(text, "0") == 0)
        return required ? ing_fail(err, path, "%s is missing", path) : 0;
    return ing_crm_copy(dst, ING_CRM_ID_MAX, text, path, err);
}

const char *ing_crm_status_name(const char *text)
{
    for (size_t i = 0; text && i < sizeof statuses / sizeof statuses[0]; i++)
        if (strcasecmp(text, statuses[i]) == 0)
            return statuses[i];
    return NULL;
}

const char *ing_crm_type_name(ing_crm_type_t type)
{
    return type_names[type];
}

const char *ing_crm_event_key(const ing_crm_event_t *ev)
{
    return *ev->requester_id ? ev->requester_id : ev->ticket_id;
}

/* Sets `name` to the time text of `ms`; 0 or -1 (ENOMEM). */
static int set_time(json_t *o, const char *name, int64_t ms)
{
    char text[CMN_TIME_TEXT_MAX];
    cmn_time_format(ms, text, sizeof text);
    return json_object_set_new(o, name, json_string(text));
}

static int set_optional(json_t *o, const char *name, const char *value)
{
    return value && *value ? json_object_set_new(o, name, json_string(value)) : 0;
}

char *ing_crm_event_encode(const ing_crm_event_t *ev)
{
    char *text = NULL;
    json_t *o =
        json_pack("{s:i, s:s, s:s, s:s, s:s}", "schema_version", 1, "event_id", ev->event_id, "crm",
                  ev->crm, "type", type_names[ev->type], "ticket_id", ev->ticket_id);
    if (!o || set_optional(o, "status", ev->status) < 0 ||
        set_optional(o, "previous_status", ev->previous_status) < 0 ||
        set_optional(o, "merged_into", ev->merged_into) < 0 ||
        (ev->has_assignee &&
         json_object_set_new(o, "assignee_id",
                             *ev->assignee_id ? json_string(ev->assignee_id) : json_null()) < 0) ||
        set_optional(o, "requester_id", ev->requester_id) < 0 ||
        (ev->ticket_created_at_ms &&
         set_time(o, "ticket_created_at", ev->ticket_created_at_ms) < 0) ||
        set_time(o, "occurred_at", ev->occurred_at_ms) < 0 ||
        set_time(o, "received_at", ev->received_at_ms) < 0)
        goto done;
    text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
done:
    json_decref(o);
    return text;
}
