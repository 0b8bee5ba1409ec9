/* ticket-service's Kafka intake (tkt_intake.h): consumer messages ->
 * pipeline jobs, and each job's done -> the message's offset. */
#include "tkt_intake.h"

#include "cmn_held.h"
#include "cmn_log.h"
#include "cmn_metrics.h"
#include "cmn_time.h"
#include "cmn_topics.h"
#include "tkt_actions.h"
#include "tkt_crmevents.h"
#include "tkt_deadletter.h"
#include "tkt_popfallback.h"

#include <stdlib.h>
#include <string.h>

struct tkt_intake {
    tkt_intake_deps_t deps;
    cmn_consumer_t *consumer; /* NULL before tkt_intake_consume and once closed */
    cmn_metric_t *m_undecodable, *m_not_taken;
    cmn_held_list_t held; /* messages handed to the pipeline or the actions, not yet done */
};

/* A message being worked on: the done callbacks' context. Its key, and the
 * payload of an action message, are kept for its dead letter, if it comes
 * to one (a call event's is re-encoded from the job's event: no second copy
 * of every call). */
typedef struct {
    cmn_held_t base;
    tkt_intake_t *in;
    char *key;     /* "" none */
    char *payload; /* NULL: a call event */
    size_t len;
} held_t;

static void held_clear(cmn_held_t *base)
{
    held_t *h = (held_t *)base;
    free(h->key);
    free(h->payload);
}

/* Unlinks and frees h. NULL-safe. */
static void unhold(held_t *h)
{
    cmn_held_release(h ? &h->base : NULL);
}

/* Fetching stops while the events waiting their turn hold too much memory
 * (a hot customer's backlog), and goes on once they have drained. */
static void follow_saturation(tkt_intake_t *in)
{
    if (in->consumer)
        cmn_consumer_hold(in->consumer, tkt_pipeline_saturated(in->deps.pipeline));
}

/* ok=1: effects durable; ok=0: rejected for good, logged and counted.
 * Either way the event is dealt with and its offset may move. */
static void on_event_done(void *ctx, int ok)
{
    held_t *h = ctx;
    tkt_intake_t *in = h->in;
    cmn_held_done(&h->base, in->consumer);
    follow_saturation(in);
}

/* No memory to take the message now: it is given back to the consumer,
 * which fetches it again (its offset never passes it). */
static void not_taken(tkt_intake_t *in, const cmn_msg_pos_t *pos, const char *why)
{
    LOG_ERROR("%s[%d]@%lld not taken (%s): delivered again", pos->topic, pos->partition,
              (long long)pos->offset, why);
    cmn_metric_add(in->m_not_taken, 1);
    cmn_consumer_retry(in->consumer, pos);
}

/* NULL out of memory (the caller gives the message back: not_taken).
 * keep_payload: an action message, kept as it came for its dead letter. */
static held_t *hold(tkt_intake_t *in, const cmn_msg_pos_t *pos, const rd_kafka_message_t *m,
                    int keep_payload)
{
    held_t *h = cmn_held_take(&in->held, pos, sizeof *h);
    if (!h)
        return NULL;
    h->in = in;
    h->key = strndup(m->key ? (const char *)m->key : "", m->key ? m->key_len : 0);
    if (keep_payload && (h->payload = malloc(m->len + 1))) {
        memcpy(h->payload, m->payload, m->len);
        h->payload[m->len] = '\0';
        h->len = m->len;
    }
    if (!h->key || (keep_payload && !h->payload)) {
        unhold(h);
        return NULL;
    }
    return h;
}

/* ---- dead letters (tkt_deadletter.h) ------------------------------------ */

typedef struct {
    tkt_dead_letter_stored_fn stored;
    void *job;
} dlq_wait_t;

/* The letter is durable (acks=all) or failed: only now may the event's
 * offset move (the pipeline finishes the event on success). */
static void on_dead_letter_delivered(void *opaque, rd_kafka_resp_err_t err, int32_t partition,
                                     int64_t offset)
{
    dlq_wait_t *w = opaque;
    w->stored(w->job, err ? rd_kafka_err2str(err) : NULL);
    free(w);
}

void tkt_intake_dead_letter(void *ctx, void *done_ctx, const cmn_event_t *ev,
                            const tkt_dead_letter_t *dl, tkt_dead_letter_stored_fn stored,
                            void *job)
{
    cmn_producer_t *producer = ctx;
    held_t *h = done_ctx;
    tkt_dlq_source_t src = {.topic = h->base.pos.topic,
                            .partition = h->base.pos.partition,
                            .offset = h->base.pos.offset,
                            .key = h->key,
                            .payload = h->payload,
                            .len = h->len};
    char *text = tkt_deadletter_encode(&src, ev, dl, cmn_time_now_ms());
    dlq_wait_t *w = text ? malloc(sizeof *w) : NULL;
    if (!w) {
        free(text);
        stored(job, "out of memory");
        return;
    }
    w->stored = stored;
    w->job = job;
    const char *key = *h->key ? h->key : ev->event_id;
    rd_kafka_resp_err_t err =
        cmn_producer_send(producer, cmn_topic(CMN_TOPIC_TICKET_DLQ), key, strlen(key), text,
                          strlen(text), on_dead_letter_delivered, w);
    free(text);
    if (err) {
        free(w);
        stored(job, rd_kafka_err2str(err));
    }
}

/* ---- rebalances ----------------------------------------------------------- */

/* A queued event of a partition being revoked: give it to the next owner
 * (tkt_pipeline_cancel_queued's cancel). */
static int give_up_if_revoking(void *cb_ctx, void *arg)
{
    held_t *h = cb_ctx;
    tkt_intake_t *in = arg;
    if (!cmn_consumer_revoking(in->consumer, &h->base.pos))
        return 0;
    cmn_consumer_retry(in->consumer, &h->base.pos);
    unhold(h);
    return 1;
}

/* Partitions are leaving this replica: finish what has started now (the
 * batch window goes at once) and hand back what has not, so the new owner
 * neither races our writes nor waits for the window (issue 7 item 4). */
static void on_revoke(void *ctx, int lost)
{
    tkt_intake_t *in = ctx;
    size_t dropped = tkt_pipeline_cancel_queued(in->deps.pipeline, give_up_if_revoking, in);
    if (dropped)
        LOG_INFO("rebalance: %zu queued event(s) left to the partitions' next owner", dropped);
    if (tkt_batch_pending(in->deps.batch))
        tkt_batch_flush_now(in->deps.batch);
    if (tkt_bulkcreate_pending(in->deps.bulk_create))
        tkt_bulkcreate_flush_now(in->deps.bulk_create);
    if (tkt_reads_pending(in->deps.status_reads))
        tkt_reads_flush_now(in->deps.status_reads);
}

/* ---- messages ------------------------------------------------------------- */

static void on_fallback_done(void *ctx)
{
    on_event_done(ctx, 1);
}

/* The messages that are not call events: which topic they came from. */
typedef enum { FROM_AGENT_ACTIONS, FROM_MISSED_OPS, FROM_CRM_EVENTS } source_t;

/* agent-actions and missed-call-ops: intent to carry out (tkt_actions.h);
 * pop-service's unacknowledged pops are displayed (tkt_popfallback.h);
 * crm-events: what the CRM says of a ticket (tkt_crmevents.h). */
static void on_action(tkt_intake_t *in, source_t src, const cmn_msg_pos_t *pos,
                      const rd_kafka_message_t *m)
{
    char err[256];
    held_t *h = hold(in, pos, m, 1);
    if (!h) {
        not_taken(in, pos, "out of memory");
        return;
    }
    int rc = src == FROM_AGENT_ACTIONS
                 ? tkt_popfallback_take(in->deps.crm, in->deps.pop_fallback, m->payload, m->len,
                                        on_fallback_done, h, err, sizeof err)
                 : 0;
    if (rc == 1)
        return;
    if (rc == 0 && src == FROM_CRM_EVENTS)
        rc = tkt_crmevents_submit(in->deps.pipeline, m->payload, m->len, on_event_done, h, err,
                                  sizeof err);
    else if (rc == 0)
        rc = tkt_actions_submit(in->deps.pipeline, in->deps.policy,
                                src == FROM_AGENT_ACTIONS ? TKT_ACTIONS_AGENT : TKT_ACTIONS_MISSED,
                                m->payload, m->len, on_event_done, h, err, sizeof err);
    if (rc == TKT_ACTIONS_NOT_NOW) {
        unhold(h);
        not_taken(in, pos, err);
        return;
    }
    if (rc < 0) {
        LOG_ERROR("%s[%d]@%lld: %s; skipped", pos->topic, pos->partition, (long long)pos->offset,
                  err);
        cmn_metric_add(in->m_undecodable, 1);
        unhold(h);
        cmn_consumer_done(in->consumer, pos);
    }
    follow_saturation(in);
}

static void on_message(void *ctx, const cmn_msg_pos_t *pos, const rd_kafka_message_t *m)
{
    tkt_intake_t *in = ctx;
    cmn_event_t ev;
    char err[256], field[64];
    if (strcmp(pos->topic, cmn_topic(CMN_TOPIC_AGENT_ACTIONS)) == 0) {
        on_action(in, FROM_AGENT_ACTIONS, pos, m);
        return;
    }
    if (strcmp(pos->topic, cmn_topic(CMN_TOPIC_MISSED_OPS)) == 0) {
        on_action(in, FROM_MISSED_OPS, pos, m);
        return;
    }
    if (strcmp(pos->topic, cmn_topic(CMN_TOPIC_CRM_EVENTS)) == 0) {
        on_action(in, FROM_CRM_EVENTS, pos, m);
        return;
    }
    if (cmn_event_decode(m->payload, m->len, &ev, err, sizeof err, field, sizeof field) < 0) {
        LOG_ERROR("%s[%d]@%lld: not a canonical event (%s: %s); skipped", pos->topic,
                  pos->partition, (long long)pos->offset, field, err);
        cmn_metric_add(in->m_undecodable, 1);
        cmn_consumer_done(in->consumer, pos);
        return;
    }
    held_t *h = hold(in, pos, m, 0);
    if (!h || tkt_pipeline_submit(in->deps.pipeline, &ev, on_event_done, h) < 0) {
        cmn_event_clear(&ev);
        unhold(h);
        not_taken(in, pos, "out of memory");
        return;
    }
    follow_saturation(in);
}

/* ---- life ----------------------------------------------------------------- */

tkt_intake_t *tkt_intake_new(const tkt_intake_deps_t *deps)
{
    tkt_intake_t *in = calloc(1, sizeof *in);
    if (!in)
        return NULL;
    in->deps = *deps;
    in->held.clear = held_clear;
    in->m_undecodable =
        cmn_metrics_counter("ticket_events_undecodable_total",
                            "Messages on call-events that are not canonical events", NULL);
    in->m_not_taken = cmn_metrics_counter(
        "ticket_events_not_taken_total",
        "Messages given back for lack of memory (fetched again, never skipped)", NULL);
    return in;
}

int tkt_intake_consume(tkt_intake_t *in, struct event_base *base, cmn_consumer_opts_t *opts,
                       char *errstr, size_t errsz)
{
    opts->on_message = on_message;
    opts->on_revoke = on_revoke;
    opts->ctx = in;
    in->consumer = cmn_consumer_new(base, opts, errstr, errsz);
    return in->consumer ? 0 : -1;
}

/* Shutdown: an event that has not started is left to the next run (its
 * offset stays where it is: it is fetched again). */
static int give_up(void *cb_ctx, void *arg)
{
    unhold(cb_ctx);
    return 1;
}

void tkt_intake_stop(tkt_intake_t *in)
{
    cmn_consumer_stop(in->consumer);
    size_t left = tkt_pipeline_cancel_queued(in->deps.pipeline, give_up, in);
    if (left)
        LOG_INFO("shutdown: %zu event(s) not started are left to the next run", left);
    tkt_batch_flush_now(in->deps.batch);
    if (in->deps.bulk_create)
        tkt_bulkcreate_flush_now(in->deps.bulk_create);
    if (in->deps.status_reads)
        tkt_reads_flush_now(in->deps.status_reads);
}

size_t tkt_intake_pending(tkt_intake_t *in)
{
    size_t left = tkt_pipeline_in_flight(in->deps.pipeline);
    if (left && tkt_batch_pending(in->deps.batch))
        tkt_batch_flush_now(in->deps.batch);
    if (left && tkt_bulkcreate_pending(in->deps.bulk_create))
        tkt_bulkcreate_flush_now(in->deps.bulk_create);
    if (left && tkt_reads_pending(in->deps.status_reads))
        tkt_reads_flush_now(in->deps.status_reads);
    return left;
}

void tkt_intake_close(tkt_intake_t *in, int timeout_ms)
{
    if (!in)
        return;
    cmn_consumer_close_within(in->consumer, timeout_ms);
    in->consumer = NULL;
}

void tkt_intake_free(tkt_intake_t *in)
{
    if (!in)
        return;
    tkt_intake_close(in, CMN_CONSUMER_CLOSE_MS);
    cmn_held_release_all(&in->held);
    free(in);
}
