/* CallGear notifications -> canonical events. Each notification fills the
 * same body template (BEHAVIOUR.md §10), so the common members are read once
 * (fill_common) and a small builder per notification decides the event type,
 * the outcome and who the agent is. The rules are tabled in docs/providers.md. */
#include "ing_callgear.h"
#include "ing_json.h"
#include "cmn_utf8.h"

#include <string.h>

typedef enum { CG_HANDSET, CG_ENDLEG, CG_END, CG_RECORDING, CG_LEGOUT, CG_CALLOUT } cg_kind_t;

static const char *const kind_names[] = {"handset",   "endleg", "end",
                                         "recording", "legout", "callout"};
#define N_KINDS (sizeof kind_names / sizeof kind_names[0])

/* Names a voicemail operation may carry, in the languages our contact
 * centers run in (and CallGear's own en/ru). Kept short on purpose: a word
 * like "voice" alone would also match "voice menu", where a caller who
 * hangs up has abandoned, not left a message. Compared ignoring ASCII case. */
static const char *const voicemail_words[] = {
    "voicemail",  "voice mail",   "telesekreter",    "sesli mesaj",
    "segreteria", "buzón de voz", "голосовая почта", "Голосовая почта",
};

static int contains_ascii_nocase(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] &&
               (hay[i] == needle[i] ||
                (hay[i] >= 'A' && hay[i] <= 'Z' && hay[i] - 'A' + 'a' == needle[i])))
            i++;
        if (i == n)
            return 1;
    }
    return 0;
}

int ing_callgear_is_voicemail_op(const char *operation_name)
{
    if (!operation_name)
        return 0;
    for (size_t i = 0; i < sizeof voicemail_words / sizeof voicemail_words[0]; i++)
        if (contains_ascii_nocase(operation_name, voicemail_words[i]))
            return 1;
    return 0;
}

/* ---- members every notification carries --------------------------------- */

static int take_direction(const json_t *body, cg_kind_t kind, cmn_event_t *ev, ing_error_t *err)
{
    static const char path[] = "call_info.direction";
    const json_t *v = ing_json_get(body, path);
    /* legout/callout exist only for outbound calls, whatever the body says. */
    if (kind == CG_LEGOUT || kind == CG_CALLOUT) {
        ev->direction = CMN_DIR_OUTBOUND;
        return 0;
    }
    if (!v)
        return ing_fail(err, path, "%s is required but is missing or null", path);
    if (json_is_string(v) && strcmp(json_string_value(v), "in") == 0)
        ev->direction = CMN_DIR_INBOUND;
    else if (json_is_string(v) && strcmp(json_string_value(v), "out") == 0)
        ev->direction = CMN_DIR_OUTBOUND;
    else
        return ing_fail(err, path, "%s must be \"in\" or \"out\"", path);
    return 0;
}

static int take_customer(const ing_ctx_t *ctx, const json_t *body, cmn_event_t *ev,
                         ing_error_t *err)
{
    static const char path[] = "contact_info.contact_phone_number";
    char buf[ING_JSON_NUM_MAX];
    const char *raw;
    int rc = ing_json_text(body, path, buf, &raw);
    if (rc < 0)
        return ing_fail(err, path, "%s must be a string or a number", path);
    return ing_set_customer(ev, ctx, rc ? raw : NULL, path, err);
}

/* Keeps at most the 32 tags the canonical event holds; a tag over 64 bytes
 * is cut at a UTF-8 character boundary. Tags are labels, not worth
 * refusing a call event for. */
static int add_tag(cmn_event_t *ev, const char *tag, ing_error_t *err)
{
    char cut[65];
    if (ev->n_tags >= 32 || !*tag)
        return 0;
    if (cmn_utf8_cut_copy(cut, sizeof cut, tag, 64) && cmn_event_add_tag(ev, cut) < 0)
        return ing_fail(err, "", "out of memory");
    return 0;
}

static int take_tags(const json_t *body, cmn_event_t *ev, ing_error_t *err)
{
    static const char path[] = "call_info.tag_names";
    const json_t *tags = ing_json_get(body, path), *tag;
    char buf[ING_JSON_NUM_MAX];
    const char *text;
    size_t i;
    if (!tags)
        return 0;
    if (json_is_string(tags))
        return add_tag(ev, json_string_value(tags), err);
    if (!json_is_array(tags))
        return ing_fail(err, path, "%s must be an array of tag names", path);
    json_array_foreach(tags, i, tag)
    {
        int rc = ing_json_text_of(tag, buf, &text);
        if (rc < 0)
            return ing_fail(err, path, "%s must be an array of tag names", path);
        if (rc > 0 && add_tag(ev, text, err) < 0)
            return -1;
    }
    return 0;
}

static int take_time(const ing_ctx_t *ctx, const json_t *body, cmn_event_t *ev, ing_error_t *err)
{
    static const char path[] = "notification_time";
    const json_t *v = ing_json_get(body, path);
    if (v && !json_is_string(v))
        return ing_fail(err, path, "%s must be a date-time string", path);
    if (ing_set_time(&ev->occurred_at_ms, ctx,
                     v && *json_string_value(v) ? json_string_value(v) : NULL, path, err) < 0)
        return -1;
    ev->received_at_ms = ctx->received_at_ms;
    return 0;
}

/* contact_full_name: CallGear's name of the contact (issue 24 item 3),
 * for a contact callbus creates. Cut to the 128 characters the event
 * holds: a name is worth keeping even when long, never worth refusing a
 * call event for. */
static int take_name(const json_t *body, cmn_event_t *ev, ing_error_t *err)
{
    static const char path[] = "contact_info.contact_full_name";
    const json_t *v = ing_json_get(body, path);
    char cut[4 * 128 + 1];
    if (!v || !json_is_string(v))
        return 0; /* absent, null or not text: no name */
    cmn_utf8_cut_copy(cut, sizeof cut, json_string_value(v), 128);
    return ing_set_text(&ev->customer_name, cut, err);
}

static int fill_common(const ing_ctx_t *ctx, cg_kind_t kind, const json_t *body, cmn_event_t *ev,
                       ing_error_t *err)
{
    if (ing_set_text(&ev->provider, "callgear", err) < 0 ||
        ing_json_take_text(body, "call_info.call_session_id", 1, &ev->call_id, err) < 0 ||
        ing_json_take_text(body, "leg_id", 0, &ev->leg_id, err) < 0 ||
        take_direction(body, kind, ev, err) < 0 || take_customer(ctx, body, ev, err) < 0 ||
        ing_json_take_text(body, "virtual_phone_number", 0, &ev->dialled_number, err) < 0 ||
        ing_json_take_text(body, "call_info.scenario_name", 0, &ev->queue, err) < 0 ||
        ing_json_take_text(body, "external_id", 0, &ev->ticket_id, err) < 0 ||
        take_name(body, ev, err) < 0 ||
        ing_json_take_seconds(body, "call_info.wait_time_duration", &ev->wait_s, err) < 0 ||
        ing_json_take_seconds(body, "call_info.talk_time_duration", &ev->talk_s, err) < 0 ||
        ing_json_take_seconds(body, "call_info.total_time_duration", &ev->total_s, err) < 0 ||
        take_tags(body, ev, err) < 0 || take_time(ctx, body, ev, err) < 0)
        return -1;
    return 0;
}

/* The employee as the event's agent; `required` for events that must name one. */
static int take_agent(const json_t *body, cmn_event_t *ev, int required, ing_error_t *err)
{
    return ing_json_take_text(body, "employee_info.employee_id", required, &ev->agent.provider_id,
                              err) < 0 ||
                   ing_json_take_text(body, "employee_info.employee_full_name", 0, &ev->agent.name,
                                      err) < 0
               ? -1
               : 0;
}

static int has_employee(const json_t *body)
{
    char buf[ING_JSON_NUM_MAX];
    const char *text;
    return ing_json_text(body, "employee_info.employee_id", buf, &text) > 0;
}

/* ---- one builder per notification ---------------------------------------- */

/* Call accepted: an employee picked up (R-T1, R-P3). */
static int build_handset(const json_t *body, cmn_event_t *ev, ing_error_t *err)
{
    ev->type = ev->direction == CMN_DIR_INBOUND ? CMN_EV_ANSWERED : CMN_EV_OUTBOUND_ANSWERED;
    return take_agent(body, ev, 1, err);
}

/* Leg finished. CallGear has no "ringing" notification, so an operator leg
 * that ends unanswered is the only sign the call was offered to that
 * employee (R-M1's "last agent offered"): outcome missed, agent set. */
static int build_endleg(const json_t *body, cmn_event_t *ev, ing_error_t *err)
{
    int is_operator = 0;
    ev->type = CMN_EV_LEG_ENDED;
    if (ing_json_take_bool(body, "call_info.is_operator", 1, &is_operator, err) < 0)
        return -1;
    if (!is_operator)
        return 0;
    ev->outcome = ev->talk_s > 0 ? CMN_OUT_ANSWERED : CMN_OUT_MISSED;
    return take_agent(body, ev, 0, err);
}

/* Call finished: the outcome rules of R-M1, R-T3, R-T11, R-O3. */
static int build_end(const json_t *body, cmn_event_t *ev, ing_error_t *err)
{
    int is_lost = 0;
    const json_t *op = ing_json_get(body, "last_scenario_operation_name");
    if (ing_json_take_bool(body, "call_info.is_lost", 1, &is_lost, err) < 0)
        return -1;
    if (op && !json_is_string(op))
        return ing_fail(err, "last_scenario_operation_name",
                        "last_scenario_operation_name must be a string");
    if (ev->direction == CMN_DIR_OUTBOUND) {
        ev->type = CMN_EV_OUTBOUND_ENDED;
        ev->outcome = ev->talk_s > 0 && !is_lost ? CMN_OUT_ANSWERED : CMN_OUT_MISSED;
        return take_agent(body, ev, 0, err);
    }
    ev->type = CMN_EV_ENDED;
    int talked = !is_lost && has_employee(body);
    if (ing_callgear_is_voicemail_op(op ? json_string_value(op) : NULL) && !talked) {
        ev->outcome = CMN_OUT_VOICEMAIL; /* no agent: R-T11 assigns it to the default user */
        return 0;
    }
    if (is_lost && !has_employee(body)) {
        ev->outcome = CMN_OUT_ABANDONED; /* hung up before any employee was offered the call */
        return 0;
    }
    ev->outcome = is_lost ? CMN_OUT_MISSED : CMN_OUT_ANSWERED;
    return take_agent(body, ev, 0, err);
}

/* Every link of record_file_links (R-T6, issue 24 item 3): the first is
 * the event's recording.url, the next CMN_RECORDING_MORE_MAX its
 * more_urls; links past those are dropped (a recording has one link per
 * leg or format, a handful). Empty strings (unfilled templates) are skipped. */
static int has_link(const cmn_event_t *ev, const char *url)
{
    if (ev->recording_url && strcmp(url, ev->recording_url) == 0)
        return 1;
    for (size_t i = 0; i < ev->n_recording_more; i++)
        if (strcmp(url, ev->recording_more[i]) == 0)
            return 1;
    return 0;
}

static int take_links(const json_t *links, cmn_event_t *ev, ing_error_t *err)
{
    static const char links_path[] = "call_record_file_info.record_file_links";
    size_t i;
    const json_t *link;
    json_array_foreach(links, i, link)
    {
        const char *url = json_is_string(link) ? json_string_value(link) : NULL;
        if (!url)
            return ing_fail(err, links_path, "%s must be an array of URLs", links_path);
        if (!*url || has_link(ev, url))
            continue;
        if (!ev->recording_url) {
            if (ing_set_text(&ev->recording_url, url, err) < 0)
                return -1;
        } else if (ev->n_recording_more < CMN_RECORDING_MORE_MAX &&
                   cmn_event_add_recording_link(ev, url) < 0) {
            return ing_fail(err, "", "out of memory");
        }
    }
    return 0;
}

/* Recording completed (R-T6): every link of record_file_links, else file_link. */
static int build_recording(const json_t *body, cmn_event_t *ev, ing_error_t *err)
{
    static const char links_path[] = "call_record_file_info.record_file_links";
    const json_t *links = ing_json_get(body, links_path);
    ev->type = CMN_EV_RECORDING_READY;
    if (links && !json_is_array(links))
        return ing_fail(err, links_path, "%s must be an array of URLs", links_path);
    if (links && take_links(links, ev, err) < 0)
        return -1;
    if (ev->recording_url) {
        /* from the links */
    } else if (ing_json_take_text(body, "call_record_file_info.file_link", 0, &ev->recording_url,
                                  err) < 0) {
        return -1;
    }
    if (!ev->recording_url)
        return ing_fail(err, links_path,
                        "%s (or call_record_file_info.file_link) is required for /recording",
                        links_path);
    if (ing_json_take_seconds(body, "call_record_file_info.call_record_duration",
                              &ev->recording_duration_s, err) < 0)
        return -1;
    return take_agent(body, ev, 0, err);
}

/* legout (a leg placed: first the employee's phone rings) and callout (the
 * call to the customer placed) both only say an outbound call started; the
 * customer answering is /handset, the result /end (R-O1..R-O3). */
static int build_outbound_started(const json_t *body, cmn_event_t *ev, ing_error_t *err)
{
    ev->type = CMN_EV_OUTBOUND_STARTED;
    return take_agent(body, ev, 0, err);
}

static int (*const builders[])(const json_t *, cmn_event_t *, ing_error_t *) = {
    build_handset,   build_endleg,           build_end,
    build_recording, build_outbound_started, build_outbound_started,
};

/* Same notification re-posted -> same id; a different notification, leg or
 * recording file -> a different id. notification_time is left out: a
 * re-post may be rendered again with a new time. */
static int set_id(cg_kind_t kind, cmn_event_t *ev, ing_error_t *err)
{
    const char *parts[] = {kind_names[kind], ev->call_id, ev->leg_id,
                           kind == CG_RECORDING ? ev->recording_url : NULL};
    return ing_set_event_id(ev, parts, 4, err);
}

int ing_callgear_normalise(const ing_ctx_t *ctx, const char *notification, const json_t *body,
                           ing_events_t *out, ing_error_t *err)
{
    size_t kind = 0;
    cmn_event_t *ev;
    ing_events_init(out);
    while (kind < N_KINDS && (!notification || strcmp(notification, kind_names[kind]) != 0))
        kind++;
    if (kind == N_KINDS)
        return ing_fail(err, "notification",
                        "unknown CallGear notification: expected handset, endleg, end, recording, "
                        "legout or callout");
    if (!json_is_object(body))
        return ing_fail(err, "", "the CallGear body must be a JSON object");
    if (!(ev = ing_events_push(out)) || fill_common(ctx, (cg_kind_t)kind, body, ev, err) < 0 ||
        builders[kind](body, ev, err) < 0 || set_id((cg_kind_t)kind, ev, err) < 0 ||
        ing_events_validate(out, err) < 0)
        goto fail;
    return 0;
fail:
    ing_events_clear(out);
    return -1;
}
