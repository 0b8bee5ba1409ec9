/* Acknowledgements and the fallback sweep (pop_ack.h). */
#include "pop_ack.h"

#include "cmn_agent_action.h"
#include "cmn_event.h"
#include "cmn_log.h"
#include "cmn_metrics.h"
#include "cmn_time.h"
#include "cmn_topics.h"
#include "pop_session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FALLBACK_HELP                                                                              \
    "Pops not acknowledged in time, by what became of them: sent to the CRM's channel (through "   \
    "ticket-service), no_channel (nothing to display), dropped (Kafka did not take the fallback "  \
    "in time)"

/* Overdue pops one sweep claims, at most: the rest wait for the next. */
#define SWEEP_BATCH "200"

struct pop_ack {
    pop_store_t *store;
    cmn_producer_t *producer;
    pop_ack_opts_t o;
    struct event *timer;
    char lease[24], give_up[24];
    int sweeping; /* a claim is waiting for Redis: one at a time */
    size_t in_flight;
    cmn_metric_t *m_late, *m_latency, *m_sent, *m_no_channel, *m_dropped, *m_retry;
};

/* KEYS: pending set, the pop's hash; ARGV: pop id, agent. Answers {code,
 * latency ms, kind, call}: -1 not this agent's (or gone), 0 acknowledged
 * before, 1 in time, 2 late. A late ack still takes the pop out of the set
 * unless a sweep claimed it already: the agent saw it, no fallback needed. */
static const char ack_script[] =
    "local h = redis.call('HMGET', KEYS[2], 'agent', 'at', 'dl', 'acked', 'claimed', 'kind', "
    "'call')\n"
    "if h[1] ~= ARGV[2] then return {-1, 0, '', ''} end\n"
    "if h[4] then return {0, 0, h[6] or '', h[7] or ''} end\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "redis.call('HSET', KEYS[2], 'acked', '1')\n"
    "if not h[5] then redis.call('ZREM', KEYS[1], ARGV[1]) end\n"
    "local lat = string.format('%.0f', now - tonumber(h[2]))\n"
    "if now > tonumber(h[3]) then return {2, lat, h[6] or '', h[7] or ''} end\n"
    "return {1, lat, h[6] or '', h[7] or ''}\n";

/* KEYS: pending set; ARGV: namespace, lease ms, give-up ms, batch. Claims
 * the overdue pops: each one's score moves a lease ahead, so no other
 * replica's sweep sees it until then, and its hash says it was claimed (a
 * late ack then leaves it to the fallback). Answers per pop {id, "claimed"
 * or "dropped", agent, kind, call, ticket, contact}; a pop whose hash is
 * gone (expired) just leaves the set. */
static const char claim_script[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now), "
    "'LIMIT', 0, tonumber(ARGV[4]))\n"
    "local out = {}\n"
    "for _, id in ipairs(ids) do\n"
    "  local hk = ARGV[1] .. 'pop:ack:' .. id\n"
    "  local h = redis.call('HMGET', hk, 'agent', 'at', 'kind', 'call', 'ticket', 'contact')\n"
    "  if not h[1] then redis.call('ZREM', KEYS[1], id)\n"
    "  else\n"
    "    local state = 'claimed'\n"
    "    if now - tonumber(h[2]) > tonumber(ARGV[3]) then\n"
    "      state = 'dropped'\n"
    "      redis.call('ZREM', KEYS[1], id)\n"
    "    else\n"
    "      redis.call('ZADD', KEYS[1], 'XX', string.format('%.0f', now + tonumber(ARGV[2])), id)\n"
    "    end\n"
    "    redis.call('HSET', hk, 'claimed', '1')\n"
    "    out[#out + 1] = {id, state, h[1], h[3] or '', h[4] or '', h[5] or '', h[6] or ''}\n"
    "  end\n"
    "end\n"
    "return out\n";

const char *pop_ack_result_name(pop_ack_result_t r)
{
    switch (r) {
    case POP_ACK_IN_TIME:
        return "acknowledged";
    case POP_ACK_LATE:
        return "late";
    case POP_ACK_REPEATED:
        return "already acknowledged";
    default:
        return "unknown";
    }
}

/* ---- acknowledgements ------------------------------------------------------ */

typedef struct {
    pop_ack_t *a;
    pop_ack_fn cb;
    void *ctx;
    char *agent, *pop_id; /* owned */
} ack_req_t;

static void on_acked_stored(void *opaque, rd_kafka_resp_err_t err, int32_t partition,
                            int64_t offset)
{
    (void)opaque;
    (void)partition;
    (void)offset;
    if (err) /* the ack itself is stored (Redis): only the statistics miss it */
        LOG_WARN("pop.acknowledged not stored on agent-actions: %s", rd_kafka_err2str(err));
}

/* The first acknowledgement of a pop, for the statistics (pops
 * acknowledged, R-S1, issue 25 item 3): pop.acknowledged on agent-actions,
 * its action id derived from the pop id so a republish counts once. */
static void publish_ack(pop_ack_t *a, const ack_req_t *q, const char *kind, const char *call)
{
    char action_id[CMN_EVENT_ID_MAX], e[160], field[64];
    const char *parts[] = {q->pop_id};
    cmn_event_id_derive(action_id, sizeof action_id, "ack", parts, 1);
    cmn_agent_action_t act = {.action_id = action_id,
                              .action = "pop.acknowledged",
                              .call_id = call,
                              .agent_crm_id = q->agent,
                              .pop_id = q->pop_id,
                              .pop_kind = kind,
                              .occurred_at_ms = cmn_time_now_ms()};
    char *text = cmn_agent_action_encode(&act, e, sizeof e, field, sizeof field);
    if (!text) {
        LOG_WARN("pop %s: pop.acknowledged not encoded (%s)", q->pop_id, e);
        return;
    }
    const char *key = cmn_agent_action_key(&act);
    rd_kafka_resp_err_t err =
        cmn_producer_send(a->producer, cmn_topic(CMN_TOPIC_AGENT_ACTIONS), key, strlen(key), text,
                          strlen(text), on_acked_stored, NULL);
    if (err)
        LOG_WARN("pop %s: pop.acknowledged not queued (%s)", q->pop_id, rd_kafka_err2str(err));
    free(text);
}

static void ack_req_free(ack_req_t *q)
{
    free(q->agent);
    free(q->pop_id);
    free(q);
}

static void count_ack(pop_ack_t *a, pop_ack_result_t r, long long latency_ms, const char *kind)
{
    char labels[64];
    if (r == POP_ACK_IN_TIME) {
        snprintf(labels, sizeof labels, "kind=\"%s\"", kind);
        cmn_metric_t *m =
            cmn_metrics_counter("pop_acknowledged_total",
                                "Pops acknowledged by the agent's page within the timeout", labels);
        if (m) /* NULL only out of memory */
            cmn_metric_add(m, 1);
    } else if (r == POP_ACK_LATE)
        cmn_metric_add(a->m_late, 1);
    if (r == POP_ACK_IN_TIME || r == POP_ACK_LATE)
        cmn_metric_observe(a->m_latency, (double)latency_ms);
}

static void on_ack_reply(void *ctx, redisReply *r, const char *err)
{
    ack_req_t *q = ctx;
    pop_ack_result_t res = POP_ACK_UNKNOWN;
    if (!err && (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 4 ||
                 r->element[0]->type != REDIS_REPLY_INTEGER))
        err = r && r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply";
    if (!err) {
        long long code = r->element[0]->integer;
        res = code == 1   ? POP_ACK_IN_TIME
              : code == 2 ? POP_ACK_LATE
              : code == 0 ? POP_ACK_REPEATED
                          : POP_ACK_UNKNOWN;
        const redisReply *lat = r->element[1], *kind = r->element[2], *call = r->element[3];
        const char *k = kind->type == REDIS_REPLY_STRING ? kind->str : "";
        count_ack(q->a, res, lat->type == REDIS_REPLY_STRING ? atoll(lat->str) : 0, k);
        if ((res == POP_ACK_IN_TIME || res == POP_ACK_LATE) && call->type == REDIS_REPLY_STRING)
            publish_ack(q->a, q, k, call->str);
    }
    q->cb(q->ctx, res, err);
    ack_req_free(q);
}

int pop_ack_one(pop_ack_t *a, const char *agent, const char *pop_id, pop_ack_fn cb, void *ctx)
{
    char hash[700];
    ack_req_t *q = malloc(sizeof *q);
    if (!q)
        return -1;
    *q = (ack_req_t){a, cb, ctx, strdup(agent), strdup(pop_id)};
    if (!q->agent || !q->pop_id) {
        ack_req_free(q);
        return -1;
    }
    pop_store_ack_key(a->store, pop_id, hash, sizeof hash);
    const char *argv[] = {"EVAL", ack_script, "2",  pop_store_pending_key(a->store),
                          hash,   pop_id,     agent};
    if (cmn_redis_command_argv(pop_store_redis(a->store), on_ack_reply, q, 7, argv, NULL) < 0) {
        ack_req_free(q);
        return -1;
    }
    return 0;
}

/* ---- the sweep and the fallback ------------------------------------------- */

/* One fallback waiting for Kafka's report. */
typedef struct {
    pop_ack_t *a;
    char *pop_id;
} fallback_t;

/* Out of the set: done with. A failure here leaves it to be claimed again
 * after the lease: one more (harmless) display. */
static void remove_pending(pop_ack_t *a, const char *pop_id)
{
    const char *argv[] = {"ZREM", pop_store_pending_key(a->store), pop_id};
    if (cmn_redis_command_argv(pop_store_redis(a->store), NULL, NULL, 3, argv, NULL) < 0)
        LOG_WARN("pop %s: not taken out of the pending set (redis); claimed again later", pop_id);
}

/* Offsets-follow-effects: the pop leaves the set only once Kafka has the
 * fallback; otherwise it stays claimed and a sweep after the lease sends
 * it again. */
static void on_fallback_stored(void *opaque, rd_kafka_resp_err_t err, int32_t partition,
                               int64_t offset)
{
    fallback_t *fb = opaque;
    pop_ack_t *a = fb->a;
    a->in_flight--;
    if (err) {
        LOG_WARN("pop %s: fallback not stored (%s); sent again in %ld ms", fb->pop_id,
                 rd_kafka_err2str(err), a->o.lease_ms);
        cmn_metric_add(a->m_retry, 1);
    } else {
        cmn_metric_add(a->m_sent, 1);
        remove_pending(a, fb->pop_id);
    }
    free(fb->pop_id);
    free(fb);
}

static const char *elem(const redisReply *r, size_t i)
{
    return i < r->elements && r->element[i]->type == REDIS_REPLY_STRING ? r->element[i]->str : "";
}

static const char *or_null(const char *s)
{
    return *s ? s : NULL;
}

/* Sends pop.unacknowledged for one claimed pop; -1: not sent (the lease
 * brings it back). */
static int send_fallback(pop_ack_t *a, const redisReply *p)
{
    char action_id[48], rnd[POP_TOKEN_LEN + 1], e[160], field[64];
    const char *pop_id = elem(p, 0);
    if (pop_session_new_token(rnd, sizeof rnd) < 0)
        return -1;
    snprintf(action_id, sizeof action_id, "unack-%.32s", rnd);
    cmn_agent_action_t act = {.action_id = action_id,
                              .action = "pop.unacknowledged",
                              .call_id = elem(p, 4),
                              .agent_crm_id = elem(p, 2),
                              .ticket_id = or_null(elem(p, 5)),
                              .contact_id = or_null(elem(p, 6)),
                              .pop_id = pop_id,
                              .pop_kind = elem(p, 3),
                              .occurred_at_ms = cmn_time_now_ms()};
    char *text = cmn_agent_action_encode(&act, e, sizeof e, field, sizeof field);
    fallback_t *fb = text ? calloc(1, sizeof *fb) : NULL;
    if (fb)
        *fb = (fallback_t){a, strdup(pop_id)};
    if (!text || !fb || !fb->pop_id) {
        LOG_WARN("pop %s: fallback not encoded (%s)", pop_id, text ? "out of memory" : e);
        free(text);
        if (fb)
            free(fb->pop_id);
        free(fb);
        return -1;
    }
    const char *key = cmn_agent_action_key(&act);
    rd_kafka_resp_err_t err =
        cmn_producer_send(a->producer, cmn_topic(CMN_TOPIC_AGENT_ACTIONS), key, strlen(key), text,
                          strlen(text), on_fallback_stored, fb);
    free(text);
    if (err) {
        LOG_WARN("pop %s: fallback not queued (%s)", pop_id, rd_kafka_err2str(err));
        free(fb->pop_id);
        free(fb);
        return -1;
    }
    a->in_flight++;
    return 0;
}

/* One claimed (or dropped) pop of the sweep's answer. */
static void settle(pop_ack_t *a, const redisReply *p)
{
    const char *pop_id = elem(p, 0), *state = elem(p, 1), *agent = elem(p, 2);
    if (strcmp(state, "dropped") == 0) {
        LOG_WARN("pop %s of agent %s: not acknowledged and its fallback not stored for %ld s; "
                 "dropped",
                 pop_id, agent, a->o.give_up_ms / 1000);
        cmn_metric_add(a->m_dropped, 1);
        return;
    }
    LOG_INFO("pop %s (%s) of agent %s not acknowledged in time", pop_id, elem(p, 3), agent);
    if (!*elem(p, 5) && !*elem(p, 6)) { /* nothing the CRM could display */
        cmn_metric_add(a->m_no_channel, 1);
        remove_pending(a, pop_id);
        return;
    }
    if (send_fallback(a, p) < 0)
        cmn_metric_add(a->m_retry, 1);
}

static void on_claimed(void *ctx, redisReply *r, const char *err)
{
    pop_ack_t *a = ctx;
    a->sweeping = 0;
    if (!err && (!r || r->type != REDIS_REPLY_ARRAY))
        err = r && r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply";
    if (err) {
        LOG_WARN("pop ack sweep: %s", err);
        return;
    }
    for (size_t i = 0; i < r->elements; i++)
        if (r->element[i]->type == REDIS_REPLY_ARRAY && r->element[i]->elements == 7)
            settle(a, r->element[i]);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    pop_ack_t *a = arg;
    if (a->sweeping)
        return;
    const char *argv[] = {
        "EVAL",   claim_script, "1",        pop_store_pending_key(a->store), pop_store_ns(a->store),
        a->lease, a->give_up,   SWEEP_BATCH};
    if (cmn_redis_command_argv(pop_store_redis(a->store), on_claimed, a, 8, argv, NULL) == 0)
        a->sweeping = 1; /* else Redis is down: the next tick tries again */
}

pop_ack_t *pop_ack_new(struct event_base *base, pop_store_t *store, cmn_producer_t *producer,
                       const pop_ack_opts_t *o)
{
    pop_ack_t *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    *a = (pop_ack_t){.store = store, .producer = producer, .o = *o};
    snprintf(a->lease, sizeof a->lease, "%ld", o->lease_ms);
    snprintf(a->give_up, sizeof a->give_up, "%ld", o->give_up_ms);
    a->m_late = cmn_metrics_counter("pop_ack_late_total",
                                    "Pops acknowledged for the first time after the timeout", NULL);
    a->m_latency = cmn_metrics_histogram(
        "pop_ack_latency_ms", "From a pop's delivery to its first acknowledgement", NULL);
    a->m_sent = cmn_metrics_counter("pop_fallback_total", FALLBACK_HELP, "result=\"sent\"");
    a->m_no_channel =
        cmn_metrics_counter("pop_fallback_total", FALLBACK_HELP, "result=\"no_channel\"");
    a->m_dropped = cmn_metrics_counter("pop_fallback_total", FALLBACK_HELP, "result=\"dropped\"");
    a->m_retry =
        cmn_metrics_counter("pop_fallback_retries_total",
                            "Fallbacks not stored by Kafka, sent again after the lease", NULL);
    struct timeval tv = {o->sweep_ms / 1000, (o->sweep_ms % 1000) * 1000};
    if (!(a->timer = event_new(base, -1, EV_PERSIST, on_tick, a)) || event_add(a->timer, &tv) < 0) {
        pop_ack_free(a);
        return NULL;
    }
    return a;
}

void pop_ack_stop(pop_ack_t *a)
{
    if (a && a->timer)
        event_del(a->timer);
}

size_t pop_ack_in_flight(const pop_ack_t *a)
{
    return a ? a->in_flight : 0;
}

void pop_ack_free(pop_ack_t *a)
{
    if (!a)
        return;
    if (a->timer)
        event_free(a->timer);
    free(a);
}
