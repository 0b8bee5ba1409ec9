/* A dead letter's JSON (see the header and schemas/ticket-dlq-entry.schema.json). */
#include "tkt_deadletter.h"
#include "cmn_time.h"

#include <jansson.h>
#include <string.h>

/* The event to replay: the message as it was, or the call event re-encoded.
 * A payload that is not JSON (it was decoded once, so never) is kept as text. */
static json_t *event_of(const tkt_dlq_source_t *src, const cmn_event_t *ev)
{
    if (!src->payload)
        return cmn_event_to_json(ev);
    json_t *o = json_loadb(src->payload, src->len, 0, NULL);
    return o ? o : json_stringn(src->payload, src->len);
}

static json_t *text(const char *s)
{
    json_t *j = json_string(s ? s : "");
    return j ? j : json_string("(not UTF-8)");
}

static int add_source(json_t *o, const tkt_dlq_source_t *src)
{
    json_t *s =
        json_pack("{s:s, s:i, s:I, s:o}", "topic", src->topic ? src->topic : "", "partition",
                  (int)src->partition, "offset", (json_int_t)src->offset, "key", text(src->key));
    return s ? json_object_set_new(o, "source", s) : -1;
}

static int add_times(json_t *o, const tkt_dead_letter_t *dl, int64_t now_ms)
{
    char at[CMN_TIME_TEXT_MAX];
    cmn_time_format(now_ms, at, sizeof at);
    if (json_object_set_new(o, "dead_lettered_at", json_string(at)) < 0)
        return -1;
    if (dl->first_failure_ms <= 0)
        return 0;
    cmn_time_format(dl->first_failure_ms, at, sizeof at);
    return json_object_set_new(o, "first_failure_at", json_string(at));
}

char *tkt_deadletter_encode(const tkt_dlq_source_t *src, const cmn_event_t *ev,
                            const tkt_dead_letter_t *dl, int64_t now_ms)
{
    char *out = NULL;
    json_t *event = event_of(src, ev);
    json_t *crm =
        json_pack("{s:i, s:o}", "http_status", dl->crm_status, "answer", text(dl->crm_error));
    json_t *o =
        json_pack("{s:i, s:s, s:s, s:o, s:i, s:o, s:o}", "schema_version", 1, "service", "ticket",
                  "decision", dl->decision, "reason", text(dl->reason), "attempts", dl->attempts,
                  "event_id", text(ev->event_id), "call_id", text(ev->call_id));
    if (!o || !event || !crm)
        goto cleanup;
    if (json_object_set(o, "crm", crm) < 0 || add_source(o, src) < 0 ||
        add_times(o, dl, now_ms) < 0 || json_object_set(o, "event", event) < 0)
        goto cleanup;
    out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
cleanup:
    json_decref(event);
    json_decref(crm);
    json_decref(o);
    return out;
}
