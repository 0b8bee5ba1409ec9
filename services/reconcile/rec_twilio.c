/* Twilio call-log record -> the status callbacks it stands for -> events.
 *
 * Which callbacks a leg fired, and their SequenceNumber (part of the event
 * id), follows the subscription docs/providers.md asks for: every leg
 * subscribed to initiated, ringing, answered and completed, each callback
 * numbered from 0 in the order fired. So a dialled leg (an agent's Client,
 * a customer called out) fired initiated 0, ringing 1, then in-progress 2
 * and completed 3 when answered, or its end (no-answer, busy...) as 2; the
 * caller's own inbound leg completed as 3, or ended unanswered (canceled:
 * the caller hung up before the TwiML answered) as 1. Callbacks the
 * normaliser maps to nothing (the caller's in-progress...) are dropped by
 * it, as for the webhook. */
#include "rec_twilio.h"
#include "ing_form.h"
#include "ing_twilio.h"

#include <stdio.h>
#include <string.h>

static const char *text(const json_t *leg, const char *name)
{
    const char *v = json_string_value(json_object_get(leg, name));
    return v && *v ? v : NULL;
}

int rec_twilio_leg_over(const json_t *leg)
{
    static const char *const final[] = {"completed", "busy", "no-answer", "canceled", "failed"};
    const char *status = leg ? text(leg, "status") : NULL;
    for (size_t i = 0; status && i < sizeof final / sizeof final[0]; i++)
        if (strcmp(status, final[i]) == 0)
            return 1;
    return 0;
}

const char *rec_twilio_call_id(const json_t *leg)
{
    const char *parent = text(leg, "parent_call_sid");
    return parent ? parent : text(leg, "sid");
}

int64_t rec_twilio_start_ms(const json_t *leg)
{
    int64_t ms = 0;
    const char *start = text(leg, "start_time");
    return start && ing_twilio_time_parse(start, &ms) == 0 ? ms : 0;
}

/* One callback the leg fired. */
typedef struct {
    const char *status;
    int seq;
    const char *time; /* the record's start_time or end_time */
    int final;        /* carries the durations */
} callback_t;

/* The callbacks of a finished leg, in the order fired; returns how many. */
static size_t callbacks_of(const json_t *leg, callback_t cb[4])
{
    const char *status = text(leg, "status"), *dir = text(leg, "direction");
    const char *start = text(leg, "start_time"), *end = text(leg, "end_time");
    int inbound = dir && strcmp(dir, "inbound") == 0;
    int answered = strcmp(status, "completed") == 0;
    size_t n = 0;
    end = end ? end : start;
    if (inbound) {
        cb[n++] = (callback_t){status, answered ? 3 : 1, end, 1};
        return n;
    }
    cb[n++] = (callback_t){"initiated", 0, start, 0};
    cb[n++] = (callback_t){"ringing", 1, start, 0};
    if (answered)
        cb[n++] = (callback_t){"in-progress", 2, start, 0};
    cb[n++] = (callback_t){status, answered ? 3 : 2, end, 1};
    return n;
}

/* The form of one callback, as Twilio posts it, normalised into `out`. */
static int one_callback(const ing_ctx_t *ctx, const json_t *leg, const callback_t *cb,
                        rec_batch_t *out, ing_error_t *err)
{
    char seq[16];
    const char *duration = cb->final ? text(leg, "duration") : NULL;
    const char *parent = text(leg, "parent_call_sid");
    ing_form_pair_t pairs[] = {
        {"CallSid", (char *)text(leg, "sid")},
        {"CallStatus", (char *)cb->status},
        {"Direction", (char *)text(leg, "direction")},
        {"From", (char *)text(leg, "from")},
        {"To", (char *)text(leg, "to")},
        {"SequenceNumber", seq},
        {"Timestamp", (char *)cb->time},
        {"ParentCallSid", (char *)parent},
        {"CallDuration", (char *)duration},
    };
    ing_form_t form = {.pairs = pairs, .n = 0};
    ing_events_t events;
    snprintf(seq, sizeof seq, "%d", cb->seq);
    /* absent members are left out, as Twilio leaves out what does not apply */
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        if (pairs[i].value)
            pairs[form.n++] = pairs[i];
    return rec_batch_add_normalised(out, ing_twilio_normalise(ctx, &form, &events, err), &events,
                                    err);
}

int rec_twilio_leg_events(const ing_ctx_t *ctx, const json_t *leg, rec_batch_t *out,
                          ing_error_t *err)
{
    callback_t cb[4];
    if (!rec_twilio_leg_over(leg))
        return 0;
    if (!text(leg, "sid") || !text(leg, "direction") || !text(leg, "start_time"))
        return ing_fail(err, "sid", "a Calls record needs sid, direction and start_time");
    size_t n = callbacks_of(leg, cb);
    for (size_t i = 0; i < n; i++)
        if (one_callback(ctx, leg, &cb[i], out, err) < 0)
            return -1;
    return 0;
}
