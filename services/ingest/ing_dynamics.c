/* Dataverse's RemoteExecutionContext, as its service endpoints post it
 * (the .NET DataContract JSON: collections are [{"key","value"}] arrays,
 * an option set {"Value": n}, a lookup {"Id", "LogicalName"}, a time
 * "/Date(<ms>)/"), read into crm-events. The status mapping is the
 * Dynamics adapter's own (crm_dyn_status_from), so what a case's event
 * says and what a read of the case says are the same status. */
#include "ing_dynamics.h"
#include "cmn_time.h"
#include "crm_dyn_request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the DataContract shapes ---------------------------------------------- */

/* The value of `key` in a [{"key","value"}] collection; NULL when absent. */
static const json_t *kv_get(const json_t *collection, const char *key)
{
    size_t i;
    const json_t *kv;
    json_array_foreach(collection, i, kv)
    {
        const json_t *k = json_object_get(kv, "key");
        if (json_is_string(k) && strcmp(json_string_value(k), key) == 0)
            return json_object_get(kv, "value");
    }
    return NULL;
}

/* An entity's attribute (NULL when the entity or the attribute is absent,
 * or it is JSON null). */
static const json_t *attr(const json_t *entity, const char *name)
{
    const json_t *v = kv_get(json_object_get(entity, "Attributes"), name);
    return json_is_null(v) ? NULL : v;
}

/* The first image of PreEntityImages / PostEntityImages: a step registers
 * one, under the name its author chose. */
static const json_t *first_image(const json_t *body, const char *member)
{
    const json_t *images = json_object_get(body, member);
    return json_is_array(images) ? json_object_get(json_array_get(images, 0), "value") : NULL;
}

/* An option set value: {"Value": n} or a bare integer. 1 and *out, 0. */
static int option_value(const json_t *v, long *out)
{
    const json_t *n = json_is_object(v) ? json_object_get(v, "Value") : v;
    if (!json_is_integer(n))
        return 0;
    *out = (long)json_integer_value(n);
    return 1;
}

/* A lookup's id: {"Id": "<guid>"} or a bare GUID string; NULL otherwise. */
static const char *ref_id(const json_t *v)
{
    const json_t *id = json_is_object(v) ? json_object_get(v, "Id") : v;
    return json_is_string(id) ? json_string_value(id) : NULL;
}

/* "/Date(1773316800000)/" (an offset after the ms may follow) or RFC 3339. */
static int parse_time(const json_t *v, int64_t *ms)
{
    const char *text = json_string_value(v);
    char *end;
    if (!text)
        return -1;
    if (strncmp(text, "/Date(", 6) != 0)
        return cmn_time_parse_rfc3339(text, ms);
    long long n = strtoll(text + 6, &end, 10);
    if (end == text + 6 || (*end != ')' && *end != '+' && *end != '-'))
        return -1;
    *ms = (int64_t)n;
    return 0;
}

/* The attribute from the post image, else from the Target. */
static const json_t *after(const json_t *post, const json_t *target, const char *name)
{
    const json_t *v = attr(post, name);
    return v ? v : attr(target, name);
}

/* ---- the events ------------------------------------------------------------ */

typedef struct {
    const json_t *body, *target, *post, *pre;
    const char *ticket_id;
    int64_t occurred_ms, received_ms;
} dyn_post_t;

/* The status after the change; NULL when the images and Target do not say. */
static const char *status_of(const json_t *image, const json_t *target)
{
    long state = 0, reason = -1;
    if (!option_value(after(image, target, "statecode"), &state))
        return NULL;
    (void)option_value(after(image, target, "statuscode"), &reason);
    return tkt_status_name(crm_dyn_status_from(state, reason));
}

/* Adds one event of `type` about the post's ticket; -1 with err. */
static ing_crm_event_t *push(const dyn_post_t *d, ing_crm_events_t *out, ing_crm_type_t type,
                             ing_error_t *err)
{
    char id[2 * ING_CRM_EVENT_ID_MAX];
    const char *requester = ref_id(after(d->post, d->target, "customerid"));
    const json_t *created = after(d->post, d->target, "createdon");
    ing_crm_event_t *ev = ing_crm_events_push(out, "dynamics", d->received_ms);
    if (!ev)
        return ing_fail(err, "", "too many changes in one post"), NULL;
    ev->type = type;
    ev->occurred_at_ms = d->occurred_ms;
    /* Dataverse posts the same context again when it retries: the id is
     * made of what does not change between those posts. */
    snprintf(id, sizeof id, "dynamics:%s:%s:%lld", d->ticket_id, ing_crm_type_name(type),
             (long long)d->occurred_ms);
    if (ing_crm_copy(ev->event_id, sizeof ev->event_id, id, "PrimaryEntityId", err) < 0 ||
        ing_crm_copy(ev->ticket_id, sizeof ev->ticket_id, d->ticket_id, "PrimaryEntityId", err) <
            0 ||
        (requester &&
         ing_crm_copy(ev->requester_id, sizeof ev->requester_id, requester, "customerid", err) < 0))
        return NULL;
    if (created && parse_time(created, &ev->ticket_created_at_ms) < 0)
        return ing_fail(err, "createdon", "createdon is not a time"), NULL;
    ev->status = status_of(d->post, d->target);
    return ev;
}

/* Update: what the Target changed says which events. */
static int on_update(const dyn_post_t *d, ing_crm_events_t *out, ing_error_t *err)
{
    ing_crm_event_t *ev;
    long reason = -1;
    if (attr(d->target, "statecode") || attr(d->target, "statuscode")) {
        const char *master = ref_id(after(d->post, d->target, "masterid"));
        int merged = option_value(after(d->post, d->target, "statuscode"), &reason) &&
                     reason == CRM_DYN_CASE_STATUS_MERGED && master;
        if (!(ev = push(d, out, merged ? ING_CRM_MERGED : ING_CRM_STATUS_CHANGED, err)))
            return -1;
        if (!ev->status)
            return ing_fail(err, "PostEntityImages",
                            "the case's statecode is in neither the post image nor the Target");
        ev->previous_status = status_of(d->pre, NULL);
        if (merged &&
            ing_crm_copy(ev->merged_into, sizeof ev->merged_into, master, "masterid", err) < 0)
            return -1;
    }
    if (attr(d->target, "ownerid")) {
        const char *owner = ref_id(after(d->post, d->target, "ownerid"));
        if (!(ev = push(d, out, ING_CRM_ASSIGNEE_CHANGED, err)))
            return -1;
        ev->has_assignee = 1;
        if (owner &&
            ing_crm_copy(ev->assignee_id, sizeof ev->assignee_id, owner, "ownerid", err) < 0)
            return -1;
    }
    return 0;
}

static int on_close(dyn_post_t *d, ing_crm_events_t *out, ing_error_t *err)
{
    const json_t *resolution =
        kv_get(json_object_get(d->body, "InputParameters"), "IncidentResolution");
    const char *incident = ref_id(attr(resolution, "incidentid"));
    if (incident)
        d->ticket_id = incident;
    ing_crm_event_t *ev = push(d, out, ING_CRM_STATUS_CHANGED, err);
    if (!ev)
        return -1;
    ev->status = "solved"; /* CloseIncident resolves: statecode 1 */
    ev->previous_status = status_of(d->pre, NULL);
    return 0;
}

static int on_merge(dyn_post_t *d, ing_crm_events_t *out, ing_error_t *err)
{
    const json_t *params = json_object_get(d->body, "InputParameters");
    const char *master = ref_id(d->target), *subordinate = ref_id(kv_get(params, "SubordinateId"));
    if (!master || !subordinate)
        return ing_fail(err, "InputParameters",
                        "a Merge needs the Target and SubordinateId parameters");
    d->ticket_id = subordinate;
    d->post = d->pre = NULL; /* the images are the master's */
    d->target = NULL;
    ing_crm_event_t *ev = push(d, out, ING_CRM_MERGED, err);
    if (!ev)
        return -1;
    ev->status = "closed"; /* Dataverse cancels the subordinate: statecode 2 */
    return ing_crm_copy(ev->merged_into, sizeof ev->merged_into, master, "Target", err);
}

int ing_dynamics_normalise(int64_t received_at_ms, const json_t *body, ing_crm_events_t *out,
                           ing_error_t *err)
{
    const char *message = json_string_value(json_object_get(body, "MessageName"));
    const char *table = json_string_value(json_object_get(body, "PrimaryEntityName"));
    dyn_post_t d = {.body = body, .received_ms = received_at_ms};
    int rc = 0;
    out->n = 0;
    if (!json_is_object(body))
        return ing_fail(err, "", "the body must be a JSON object (a RemoteExecutionContext)");
    if (!message)
        return ing_fail(err, "MessageName", "MessageName is missing");
    if (!table || strcmp(table, "incident") != 0)
        return ing_fail(err, "PrimaryEntityName",
                        "PrimaryEntityName must be incident: register the steps on the case");
    if (parse_time(json_object_get(body, "OperationCreatedOn"), &d.occurred_ms) < 0)
        return ing_fail(err, "OperationCreatedOn", "OperationCreatedOn is missing or not a time");
    d.target = kv_get(json_object_get(body, "InputParameters"), "Target");
    d.post = first_image(body, "PostEntityImages");
    d.pre = first_image(body, "PreEntityImages");
    d.ticket_id = json_string_value(json_object_get(body, "PrimaryEntityId"));
    if (!d.ticket_id)
        return ing_fail(err, "PrimaryEntityId", "PrimaryEntityId is missing");
    if (strcmp(message, "Create") == 0)
        rc = push(&d, out, ING_CRM_TICKET_CREATED, err) ? 0 : -1;
    else if (strcmp(message, "Update") == 0)
        rc = on_update(&d, out, err);
    else if (strcmp(message, "Close") == 0)
        rc = on_close(&d, out, err);
    else if (strcmp(message, "Merge") == 0)
        rc = on_merge(&d, out, err);
    if (rc < 0)
        out->n = 0;
    return rc;
}
