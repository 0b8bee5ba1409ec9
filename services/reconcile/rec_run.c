/* rec_run.h: compare, build the missing events, publish. */
#include "rec_run.h"
#include "cmn_log.h"
#include "ing_agents.h"
#include "rec_callgear.h"
#include "rec_twilio.h"
#include "rec_webex.h"

/* The call's end, seen on call-events, published again last under an id
 * derived from its own: the call ended on less than the provider logged
 * (an answer refused while ingest was down), and ticket-service, having
 * reopened the call on the late answer (tkt_rules.c, on_answered), ends it
 * again with everything; to every other reader it is a replay. Stable: a
 * second run finds the missing events on call-events and needs no end. */
static int end_again(cmn_event_t *end)
{
    char id[CMN_EVENT_ID_MAX];
    const char *parts[] = {end->event_id, "reconciled end"};
    cmn_event_id_derive(id, sizeof id, end->provider, parts, 2);
    return cmn_event_set(&end->event_id, id);
}

static int is_end(const cmn_event_t *ev)
{
    return ev->type == CMN_EV_ENDED || ev->type == CMN_EV_OUTBOUND_ENDED;
}

/* Events already on call-events (same id) are left out; when the end is
 * among them but others are missing, the end goes again last (end_again).
 * The rest mapped to CRM agents. Returns how many remain, or -1 out of
 * memory. */
static long keep_missing(const rec_run_t *r, rec_batch_t *b)
{
    size_t kept = 0;
    cmn_event_t end;
    int have_end = 0;
    cmn_event_init(&end);
    for (size_t i = 0; i < b->n; i++) {
        if (!rec_seen_event(r->seen, b->ev[i].event_id)) {
            b->ev[kept++] = b->ev[i];
        } else if (!have_end && is_end(&b->ev[i])) {
            end = b->ev[i];
            have_end = 1;
        } else {
            cmn_event_clear(&b->ev[i]);
        }
    }
    b->n = kept;
    if (have_end && kept > 0) { /* room: the end's own slot was freed */
        if (end_again(&end) < 0) {
            cmn_event_clear(&end);
            return -1;
        }
        b->ev[b->n++] = end;
    } else {
        cmn_event_clear(&end);
    }
    for (size_t i = 0; i < b->n; i++)
        if (ing_map_agents(r->agents, &b->ev[i]) < 0)
            return -1;
    return (long)b->n;
}

/* A call's events: its child legs first, its own (the caller's) leg last:
 * ticket-service decides the caller leg's `completed` from the legs before
 * it (docs/providers.md, "Unanswered calls"). */
static int twilio_events(const rec_run_t *r, const json_t *legs, rec_batch_t *b, ing_error_t *err)
{
    for (int own = 0; own < 2; own++) {
        size_t i;
        json_t *leg;
        json_array_foreach(legs, i, leg)
        {
            int child = json_string_value(json_object_get(leg, "parent_call_sid")) != NULL;
            if (child == !own && rec_twilio_leg_events(r->ctx, leg, b, err) < 0)
                return -1;
        }
    }
    return 0;
}

static int twilio_over(const json_t *legs)
{
    size_t i;
    json_t *leg;
    json_array_foreach(legs, i, leg)
    {
        if (!rec_twilio_leg_over(leg))
            return 0;
    }
    return 1;
}

/* The common tail: what the call lacks on call-events is published. */
static void backfill(const rec_run_t *r, const char *provider, const char *call_id, rec_batch_t *b,
                     int mapped, const ing_error_t *err, rec_tally_t *t)
{
    char why[256];
    long missing = mapped < 0 ? -1 : keep_missing(r, b);
    if (missing < 0) {
        LOG_CALL(CMN_LOG_ERROR, call_id, "%s call %s not mapped: %s (%s)", provider, call_id,
                 err->msg, err->field);
        t->failed++;
    } else if (missing == 0) {
        t->complete++; /* every event it makes is there: nothing ends such a call */
    } else if (r->publish && rec_publish_events(r->publish, b->ev, b->n, why, sizeof why) < 0) {
        LOG_CALL(CMN_LOG_ERROR, call_id, "%s call %s not backfilled: %s", provider, call_id, why);
        t->failed++;
    } else {
        LOG_CALL(CMN_LOG_INFO, call_id, "%s call %s %s: %ld event(s)", provider, call_id,
                 r->publish ? "backfilled" : "would be backfilled (dry run)", missing);
        t->backfilled++;
    }
}

/* Counts the call; 1 when it still needs looking at: over, by the log or
 * by its end on call-events (which may still lack events: keep_missing). */
static int needs_look(const rec_run_t *r, const char *provider, const char *call_id, int over,
                      rec_tally_t *t)
{
    rec_call_state_t state = rec_seen_call(r->seen, provider, call_id);
    t->logged++;
    t->seen += state != REC_CALL_UNSEEN;
    if (!over && state != REC_CALL_ENDED) {
        t->in_progress++;
        return 0;
    }
    return 1;
}

static void one_call(const rec_run_t *r, const char *call_id, const json_t *legs, rec_tally_t *t)
{
    rec_batch_t b;
    ing_error_t err = {{0}, {0}};
    if (!needs_look(r, "twilio", call_id, twilio_over(legs), t))
        return;
    rec_batch_init(&b);
    backfill(r, "twilio", call_id, &b, twilio_events(r, legs, &b, &err), &err, t);
    rec_batch_clear(&b);
}

void rec_run_twilio(const rec_run_t *r, const json_t *calls, rec_tally_t *t)
{
    const char *call_id;
    json_t *legs;
    json_object_foreach((json_t *)calls, call_id, legs)
    {
        one_call(r, call_id, legs, t);
    }
}

void rec_run_callgear(const rec_run_t *r, const json_t *calls, const json_t *last_legs,
                      rec_tally_t *t)
{
    size_t i;
    json_t *call;
    char id[32];
    json_array_foreach(calls, i, call)
    {
        rec_batch_t b;
        ing_error_t err = {{0}, {0}};
        const char *call_id = rec_callgear_call_id(call, id, sizeof id);
        const char *finish = json_string_value(json_object_get(call, "finish_time"));
        if (!call_id) {
            t->logged++;
            t->failed++;
            LOG_ERROR("callgear: a calls-report record without id");
            continue;
        }
        if (!needs_look(r, "callgear", call_id, finish && *finish, t))
            continue;
        rec_batch_init(&b);
        backfill(r, "callgear", call_id, &b,
                 rec_callgear_call_events(r->callgear_ctx, call,
                                          json_object_get(last_legs, call_id), &b, &err),
                 &err, t);
        rec_batch_clear(&b);
    }
}

void rec_run_webex(const rec_run_t *r, const json_t *tasks, rec_tally_t *t)
{
    size_t i;
    json_t *task;
    json_array_foreach(tasks, i, task)
    {
        rec_batch_t b;
        ing_error_t err = {{0}, {0}};
        const char *call_id = json_string_value(json_object_get(task, "id"));
        if (!call_id || !*call_id) {
            t->logged++;
            t->failed++;
            LOG_ERROR("webex: a task without id");
            continue;
        }
        if (!needs_look(r, "webex", call_id, rec_webex_task_over(task), t))
            continue;
        rec_batch_init(&b);
        backfill(r, "webex", call_id, &b, rec_webex_task_events(r->webex_ctx, task, &b, &err), &err,
                 t);
        rec_batch_clear(&b);
    }
}
