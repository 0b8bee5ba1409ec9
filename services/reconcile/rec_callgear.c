/* CallGear calls-report record -> the /end notification's body -> events.
 *
 * The body is the notification template's (docs/providers.md, CallGear):
 * call_info.call_session_id = id, direction, is_lost, scenario_name, the
 * three durations, tag_names; contact_info from contact_phone_number and
 * contact_full_name; employee_info: the employee who answered last
 * (last_answered_employee_*), or, for a lost call, the last employee it was
 * offered to (the last of `employees`), as /end names them (R-M1);
 * notification_time = finish_time; leg_id = the session's last leg, which
 * the /end notification carries and which is part of its event id;
 * last_scenario_operation_name = the name of the last of
 * scenario_operations (the operations the call went through, in order), so
 * the normaliser's one voicemail rule decides a backfilled call too. */
#include "rec_callgear.h"
#include "ing_callgear.h"

#include <stdio.h>
#include <string.h>

const char *rec_callgear_call_id(const json_t *call, char *buf, size_t bufsz)
{
    const json_t *id = json_object_get(call, "id");
    if (json_is_integer(id))
        snprintf(buf, bufsz, "%lld", (long long)json_integer_value(id));
    else if (json_is_string(id) && *json_string_value(id))
        snprintf(buf, bufsz, "%s", json_string_value(id));
    else
        return NULL;
    return buf;
}

/* A copy of call[name] (null when absent): the body borrows nothing. */
static json_t *member(const json_t *call, const char *name)
{
    json_t *v = json_object_get(call, name);
    return v ? json_deep_copy(v) : json_null();
}

/* The employee /end names: the last who answered, else the last offered. */
static json_t *employee_of(const json_t *call)
{
    const json_t *id = json_object_get(call, "last_answered_employee_id");
    const json_t *name = json_object_get(call, "last_answered_employee_full_name");
    const json_t *all = json_object_get(call, "employees");
    if ((!id || json_is_null(id)) && json_is_array(all) && json_array_size(all)) {
        const json_t *last = json_array_get(all, json_array_size(all) - 1);
        id = json_object_get(last, "employee_id");
        name = json_object_get(last, "employee_full_name");
    }
    return json_pack("{s:O?, s:O?}", "employee_id", id, "employee_full_name", name);
}

/* tag_names from the report's tags ([{tag_name}] or names). */
static json_t *tag_names(const json_t *call)
{
    const json_t *tags = json_object_get(call, "tags"), *t;
    json_t *names = json_array();
    size_t i;
    json_array_foreach(tags, i, t)
    {
        const json_t *name = json_is_object(t) ? json_object_get(t, "tag_name") : t;
        if (json_is_string(name))
            json_array_append(names, (json_t *)name);
    }
    return names;
}

/* The last scenario operation's name, borrowed; NULL when the report has
 * none (the body then omits it, as a notification without it would). */
static const json_t *last_operation_name(const json_t *call)
{
    const json_t *ops = json_object_get(call, "scenario_operations");
    if (!json_is_array(ops) || json_array_size(ops) == 0)
        return NULL;
    const json_t *name = json_object_get(json_array_get(ops, json_array_size(ops) - 1), "name");
    return json_is_string(name) ? name : NULL;
}

static json_t *end_body(const json_t *call, const json_t *last_leg_id)
{
    json_t *body = json_pack(
        "{s:s, s:o, s:o, s:o, s:o,"
        " s:{s:o, s:o},"
        " s:{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o},"
        " s:O?}",
        "notification_name", "Call finished", "notification_time", member(call, "finish_time"),
        "virtual_phone_number", member(call, "virtual_phone_number"), "external_id", json_null(),
        "employee_info", employee_of(call), "contact_info", "contact_phone_number",
        member(call, "contact_phone_number"), "contact_full_name",
        member(call, "contact_full_name"), "call_info", "direction", member(call, "direction"),
        "call_session_id", member(call, "id"), "scenario_name", member(call, "scenario_name"),
        "talk_time_duration", member(call, "talk_duration"), "total_time_duration",
        member(call, "total_duration"), "wait_time_duration", member(call, "wait_duration"),
        "tag_names", tag_names(call), "is_lost", member(call, "is_lost"), "leg_id", last_leg_id);
    const json_t *op = last_operation_name(call);
    if (body && op && json_object_set(body, "last_scenario_operation_name", (json_t *)op) < 0) {
        json_decref(body);
        return NULL;
    }
    return body;
}

int rec_callgear_call_events(const ing_ctx_t *ctx, const json_t *call, const json_t *last_leg_id,
                             rec_batch_t *out, ing_error_t *err)
{
    ing_events_t events;
    json_t *body = end_body(call, last_leg_id);
    if (!body)
        return ing_fail(err, "", "out of memory");
    int rc = ing_callgear_normalise(ctx, "end", body, &events, err);
    json_decref(body);
    return rec_batch_add_normalised(out, rc, &events, err);
}
