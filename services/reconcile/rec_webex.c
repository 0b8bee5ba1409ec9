/* Webex CC task -> the flow's "ended" body -> events.
 *
 * The body is the one docs/providers.md defines for the flow: interactionId
 * = the task's id, direction, ani = origin, dnis = destination, queue =
 * lastQueue.name, agentId/agentName = lastAgent (the agent who had, or was
 * last offered, the contact; none when it never reached one), durations =
 * queueDuration, connectedDuration, holdDuration, totalDuration (the Search
 * API's milliseconds, in whole seconds), timestamp = endedTime as RFC 3339
 * in whole seconds, UTC ("2026-04-02T08:44:02Z": the form the flow is
 * asked to post, part of the event id), outcome: answered when the
 * contact was connected, else missed when an agent was offered it, else
 * abandoned (R-T5, R-M1, R-T11). */
#include "rec_webex.h"
#include "ing_webex.h"

#include <stdio.h>
#include <strings.h>
#include <time.h>

int rec_webex_task_over(const json_t *task)
{
    return !json_is_true(json_object_get(task, "isActive")) &&
           json_integer_value(json_object_get(task, "endedTime")) > 0;
}

static json_int_t seconds(const json_t *task, const char *name)
{
    return json_integer_value(json_object_get(task, name)) / 1000;
}

static json_t *end_body(const json_t *task)
{
    char ts[32];
    time_t ended = (time_t)(json_integer_value(json_object_get(task, "endedTime")) / 1000);
    struct tm tm;
    const char *dir = json_string_value(json_object_get(task, "direction"));
    const json_t *agent = json_object_get(task, "lastAgent");
    const json_t *agent_id = json_object_get(agent, "id");
    int outbound = dir && strcasecmp(dir, "outbound") == 0;
    int reached = json_is_string(agent_id) && *json_string_value(agent_id);
    int connected = seconds(task, "connectedDuration") > 0;
    /* an outdial ends answered or missed only (R-O3) */
    const char *outcome = connected ? "answered" : reached || outbound ? "missed" : "abandoned";
    gmtime_r(&ended, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_pack("{s:s, s:O?, s:s, s:O?, s:O?, s:O?, s:O?, s:O?, s:s, s:s,"
                     " s:{s:I, s:I, s:I, s:I}}",
                     "event", "ended", "interactionId", json_object_get(task, "id"), "direction",
                     outbound ? "outbound" : "inbound", "ani", json_object_get(task, "origin"),
                     "dnis", json_object_get(task, "destination"), "queue",
                     json_object_get(json_object_get(task, "lastQueue"), "name"), "agentId",
                     reached ? agent_id : NULL, "agentName",
                     reached ? json_object_get(agent, "name") : NULL, "outcome", outcome,
                     "timestamp", ts, "durations", "wait", seconds(task, "queueDuration"), "talk",
                     seconds(task, "connectedDuration"), "hold", seconds(task, "holdDuration"),
                     "total", seconds(task, "totalDuration"));
}

int rec_webex_task_events(const ing_ctx_t *ctx, const json_t *task, rec_batch_t *out,
                          ing_error_t *err)
{
    ing_events_t events;
    if (!rec_webex_task_over(task))
        return 0;
    json_t *body = end_body(task);
    if (!body)
        return ing_fail(err, "", "a task needs its id (and is refused when out of memory)");
    int rc = ing_webex_normalise(ctx, body, &events, err);
    json_decref(body);
    return rec_batch_add_normalised(out, rc, &events, err);
}
