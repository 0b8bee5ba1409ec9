/* Webex Contact Center flow requests -> canonical events. The body is ours
 * (docs/providers.md), named after the flow variables that fill it. Flow templates
 * render numbers as strings as often as not, hence the ing_json readers. */
#include "ing_webex.h"
#include "ing_json.h"

#include <string.h>

/* An event name and what it becomes for an inbound and an outbound contact
 * (CMN_EV_NONE: that direction has no such event). */
static const struct {
    const char *name;
    cmn_event_type_t inbound, outbound;
} events[] = {
    {"offered", CMN_EV_OFFERED, CMN_EV_NONE},
    {"answered", CMN_EV_ANSWERED, CMN_EV_OUTBOUND_ANSWERED},
    {"transferred", CMN_EV_TRANSFERRED, CMN_EV_TRANSFERRED},
    {"leg_ended", CMN_EV_LEG_ENDED, CMN_EV_LEG_ENDED},
    {"ended", CMN_EV_ENDED, CMN_EV_OUTBOUND_ENDED},
    {"recording", CMN_EV_RECORDING_READY, CMN_EV_RECORDING_READY},
    {"csat", CMN_EV_CSAT, CMN_EV_CSAT},
    {"started", CMN_EV_NONE, CMN_EV_OUTBOUND_STARTED},
};
#define N_EVENTS (sizeof events / sizeof events[0])

static const char *const outcomes[] = {"", "answered", "missed", "abandoned", "voicemail"};

/* Returns the index in `events`, or -1 with err set. */
static int take_event(const json_t *body, ing_error_t *err)
{
    const json_t *v = ing_json_get(body, "event");
    if (!json_is_string(v))
        return ing_fail(err, "event",
                        "event is required: offered, answered, transferred, "
                        "leg_ended, ended, recording, csat or started");
    for (size_t i = 0; i < N_EVENTS; i++)
        if (strcmp(json_string_value(v), events[i].name) == 0)
            return (int)i;
    return ing_fail(err, "event",
                    "event must be offered, answered, transferred, leg_ended, ended, "
                    "recording, csat or started");
}

static int take_direction(const json_t *body, cmn_event_t *ev, ing_error_t *err)
{
    const json_t *v = ing_json_get(body, "direction");
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    if (!v || (s && strcmp(s, "inbound") == 0))
        ev->direction = CMN_DIR_INBOUND; /* flows start on inbound entry points by default */
    else if (s && strcmp(s, "outbound") == 0)
        ev->direction = CMN_DIR_OUTBOUND;
    else
        return ing_fail(err, "direction", "direction must be inbound or outbound");
    return 0;
}

static int take_outcome(const json_t *body, cmn_event_t *ev, ing_error_t *err)
{
    const json_t *v = ing_json_get(body, "outcome");
    if (!v)
        return 0;
    for (size_t i = 1; json_is_string(v) && i < sizeof outcomes / sizeof outcomes[0]; i++)
        if (strcmp(json_string_value(v), outcomes[i]) == 0) {
            ev->outcome = (cmn_outcome_t)i;
            return 0;
        }
    return ing_fail(err, "outcome", "outcome must be answered, missed, abandoned or voicemail");
}

/* Inbound: the caller is the ANI and the DNIS is the number they dialled.
 * Outbound (outdial): the DNIS is the customer, the ANI our number. */
static int take_numbers(const ing_ctx_t *ctx, const json_t *body, cmn_event_t *ev, ing_error_t *err)
{
    int inbound = ev->direction == CMN_DIR_INBOUND;
    const char *customer_path = inbound ? "ani" : "dnis";
    char buf[ING_JSON_NUM_MAX];
    const char *raw;
    int rc = ing_json_text(body, customer_path, buf, &raw);
    if (rc < 0)
        return ing_fail(err, customer_path, "%s must be a string", customer_path);
    if (ing_set_customer(ev, ctx, rc ? raw : NULL, customer_path, err) < 0)
        return -1;
    return ing_json_take_text(body, inbound ? "dnis" : "ani", 0, &ev->dialled_number, err);
}

static int take_durations(const json_t *body, cmn_event_t *ev, ing_error_t *err)
{
    const json_t *d = ing_json_get(body, "durations");
    if (d && !json_is_object(d))
        return ing_fail(err, "durations", "durations must be an object of whole seconds");
    return ing_json_take_seconds(body, "durations.wait", &ev->wait_s, err) < 0 ||
                   ing_json_take_seconds(body, "durations.talk", &ev->talk_s, err) < 0 ||
                   ing_json_take_seconds(body, "durations.hold", &ev->hold_s, err) < 0 ||
                   ing_json_take_seconds(body, "durations.total", &ev->total_s, err) < 0
               ? -1
               : 0;
}

static int take_csat(const json_t *body, cmn_event_t *ev, ing_error_t *err)
{
    int64_t score = -1, scale = 0;
    if (ing_json_int(body, "csat.score", &score) < 0 ||
        ing_json_int(body, "csat.scale", &scale) < 0)
        return ing_fail(err, "csat", "csat.score and csat.scale must be whole numbers");
    if (!ing_json_get(body, "csat.score"))
        return 0;
    if (scale < 1 || scale > 100 || score < 0 || score > scale)
        return ing_fail(err, "csat.score", "csat needs scale 1-100 and score 0..scale");
    ev->csat_score = (int)score;
    ev->csat_scale = (int)scale;
    return 0;
}

static int take_time(const ing_ctx_t *ctx, const json_t *body, cmn_event_t *ev, ing_error_t *err)
{
    const json_t *v = ing_json_get(body, "timestamp");
    if (v && !json_is_string(v))
        return ing_fail(err, "timestamp", "timestamp must be an RFC 3339 string");
    const char *text = v && *json_string_value(v) ? json_string_value(v) : NULL;
    ev->received_at_ms = ctx->received_at_ms;
    return ing_set_time(&ev->occurred_at_ms, ctx, text, "timestamp", err);
}

static int take_members(const ing_ctx_t *ctx, const json_t *body, cmn_event_t *ev, ing_error_t *err)
{
    return ing_set_text(&ev->provider, "webex", err) < 0 ||
                   ing_json_take_text(body, "interactionId", 1, &ev->call_id, err) < 0 ||
                   ing_json_take_text(body, "legId", 0, &ev->leg_id, err) < 0 ||
                   take_numbers(ctx, body, ev, err) < 0 ||
                   ing_json_take_text(body, "queue", 0, &ev->queue, err) < 0 ||
                   ing_json_take_text(body, "agentId", 0, &ev->agent.provider_id, err) < 0 ||
                   ing_json_take_text(body, "agentName", 0, &ev->agent.name, err) < 0 ||
                   ing_json_take_text(body, "previousAgentId", 0, &ev->previous_agent.provider_id,
                                      err) < 0 ||
                   ing_json_take_text(body, "previousAgentName", 0, &ev->previous_agent.name, err) <
                       0 ||
                   ing_json_take_text(body, "language", 0, &ev->language, err) < 0 ||
                   ing_json_take_text(body, "ticketId", 0, &ev->ticket_id, err) < 0 ||
                   ing_json_take_text(body, "ticketType", 0, &ev->ticket_type, err) < 0 ||
                   ing_json_take_text(body, "recordingUrl", 0, &ev->recording_url, err) < 0 ||
                   ing_json_take_seconds(body, "recordingDuration", &ev->recording_duration_s,
                                         err) < 0 ||
                   take_outcome(body, ev, err) < 0 || take_durations(body, ev, err) < 0 ||
                   take_csat(body, ev, err) < 0 || take_time(ctx, body, ev, err) < 0
               ? -1
               : 0;
}

/* What the validator would say in canonical terms, said in the body's. */
static int check_required(const cmn_event_t *ev, const char *event, ing_error_t *err)
{
    cmn_event_type_t t = ev->type;
    if ((t == CMN_EV_OFFERED || t == CMN_EV_ANSWERED || t == CMN_EV_TRANSFERRED) &&
        !ev->agent.provider_id)
        return ing_fail(err, "agentId", "agentId is required for event %s", event);
    if ((t == CMN_EV_ENDED || t == CMN_EV_OUTBOUND_ENDED) && ev->outcome == CMN_OUT_NONE)
        return ing_fail(err, "outcome", "outcome is required for event %s", event);
    if (t == CMN_EV_RECORDING_READY && !ev->recording_url)
        return ing_fail(err, "recordingUrl", "recordingUrl is required for event %s", event);
    if (t == CMN_EV_CSAT && ev->csat_score < 0)
        return ing_fail(err, "csat.score", "csat.score is required for event %s", event);
    return 0;
}

/* The same request re-sent -> the same id. An interaction offered twice to
 * the same agent (re-queued after no answer) differs by its timestamp,
 * which is why the flow should always send one. */
static int set_id(const json_t *body, cmn_event_t *ev, ing_error_t *err)
{
    const json_t *ts = ing_json_get(body, "timestamp");
    const char *parts[] = {json_string_value(ing_json_get(body, "event")), ev->call_id, ev->leg_id,
                           ev->agent.provider_id, json_string_value(ts)};
    return ing_set_event_id(ev, parts, 5, err);
}

int ing_webex_normalise(const ing_ctx_t *ctx, const json_t *body, ing_events_t *out,
                        ing_error_t *err)
{
    int idx;
    cmn_event_t *ev;
    ing_events_init(out);
    if (!json_is_object(body))
        return ing_fail(err, "", "the Webex body must be a JSON object");
    if ((idx = take_event(body, err)) < 0)
        return -1;
    ev = ing_events_push(out);
    if (take_direction(body, ev, err) < 0)
        goto fail;
    ev->type = ev->direction == CMN_DIR_INBOUND ? events[idx].inbound : events[idx].outbound;
    if (ev->type == CMN_EV_NONE) {
        ing_fail(err, "event", "event %s does not exist for %s contacts", events[idx].name,
                 cmn_direction_name(ev->direction));
        goto fail;
    }
    if (take_members(ctx, body, ev, err) < 0 || check_required(ev, events[idx].name, err) < 0 ||
        set_id(body, ev, err) < 0 || ing_events_validate(out, err) < 0)
        goto fail;
    return 0;
fail:
    ing_events_clear(out);
    return -1;
}
