/* Redis scripts of pop-service. */
#include "pop_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pop_store {
    cmn_redis_t *redis;
    const char *ns;
    char ttl[24], history[24];
    char bus[256];
    char pending[256];
    char ack_timeout[24], ack_keep[24];
};

/* KEYS[1] the call; ARGV: ttl, namespace, agent crm id, provider agent id,
 * mode (on/off/""), call id, leg (the event's id), then field/value pairs.
 * An unmapped agent (R-I3) is found by the provider id they logged in
 * with. "on" (answered, transferred to) records who has the call and, when
 * that changes, by which event (the leg): a replay of the events sets the
 * same legs again, another answer by the agent who has the call keeps it. */
static const char call_script[] =
    "local agent = ARGV[3]\n"
    "if agent == '' and ARGV[4] ~= '' then\n"
    "  agent = redis.call('GET', ARGV[2] .. 'pop:prov:' .. ARGV[4]) or '' end\n"
    "if #ARGV >= 9 then redis.call('HSET', KEYS[1], unpack(ARGV, 8)) end\n"
    "if ARGV[5] == 'on' and agent ~= '' then\n"
    "  if redis.call('HGET', KEYS[1], 'agent') ~= agent then\n"
    "    redis.call('HSET', KEYS[1], 'leg', ARGV[7]) end\n"
    "  redis.call('HSET', KEYS[1], 'agent', agent, 'answered', '1')\n"
    "  local a = ARGV[2] .. 'pop:agent:' .. agent\n"
    "  if redis.call('EXISTS', a) == 1 then redis.call('HSET', a, 'call', ARGV[6]) end\n"
    "elseif ARGV[5] == 'off' then\n"
    "  local cur = redis.call('HGET', KEYS[1], 'agent')\n"
    "  if cur then\n"
    "    local a = ARGV[2] .. 'pop:agent:' .. cur\n"
    "    if redis.call('HGET', a, 'call') == ARGV[6] then redis.call('HDEL', a, 'call') end\n"
    "  end\n"
    "  redis.call('HSET', KEYS[1], 'ended', '1')\n"
    "end\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[1])\n"
    "return {agent, redis.call('HGETALL', KEYS[1])}\n";

/* KEYS: seen marker, agent stream, bus, pending set, the pop's ack hash;
 * ARGV: ttl, history, pop, agent, bus bound, pop id, ack timeout (ms),
 * kind, call, ticket, contact, ack hash ttl. A pop id seen before answers its first
 * stream id: replays add nothing, nor a second deadline. The deadline is
 * on Redis' clock so that every replica's sweep agrees on it. */
static const char deliver_script[] =
    "local prev = redis.call('GET', KEYS[1])\n"
    "if prev then return {0, prev} end\n"
    "local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'pop', ARGV[3])\n"
    "redis.call('EXPIRE', KEYS[2], ARGV[1])\n"
    "redis.call('SET', KEYS[1], id, 'EX', ARGV[1])\n"
    "redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[5], '*', 'agent', ARGV[4], 'id', id, "
    "'pop', ARGV[3])\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local due = string.format('%.0f', now + tonumber(ARGV[7]))\n"
    "redis.call('HSET', KEYS[5], 'agent', ARGV[4], 'at', string.format('%.0f', now), 'dl', due, "
    "'kind', ARGV[8], 'call', ARGV[9], 'ticket', ARGV[10], 'contact', ARGV[11])\n"
    "redis.call('EXPIRE', KEYS[5], ARGV[12])\n"
    "redis.call('ZADD', KEYS[4], due, ARGV[6])\n"
    "return {1, id}\n";

pop_store_t *pop_store_new(cmn_redis_t *redis, const char *ns, long retention_s, long history,
                           long ack_timeout_ms, long ack_keep_s)
{
    pop_store_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->redis = redis;
    s->ns = ns ? ns : "";
    snprintf(s->ttl, sizeof s->ttl, "%ld", retention_s);
    snprintf(s->history, sizeof s->history, "%ld", history);
    snprintf(s->bus, sizeof s->bus, "%spop:bus", s->ns);
    snprintf(s->pending, sizeof s->pending, "%spop:pending", s->ns);
    snprintf(s->ack_timeout, sizeof s->ack_timeout, "%ld", ack_timeout_ms);
    snprintf(s->ack_keep, sizeof s->ack_keep, "%ld", ack_keep_s);
    return s;
}

void pop_store_free(pop_store_t *s)
{
    free(s);
}

const char *pop_store_ns(const pop_store_t *s)
{
    return s->ns;
}

cmn_redis_t *pop_store_redis(const pop_store_t *s)
{
    return s->redis;
}

const char *pop_store_bus_key(const pop_store_t *s)
{
    return s->bus;
}

const char *pop_store_pending_key(const pop_store_t *s)
{
    return s->pending;
}

void pop_store_ack_key(const pop_store_t *s, const char *pop_id, char *out, size_t outsz)
{
    snprintf(out, outsz, "%spop:ack:%s", s->ns, pop_id);
}

const char *pop_store_field(const redisReply *f, const char *name)
{
    if (!f || f->type != REDIS_REPLY_ARRAY)
        return "";
    for (size_t i = 0; i + 1 < f->elements; i += 2)
        if (f->element[i]->type == REDIS_REPLY_STRING && strcmp(f->element[i]->str, name) == 0)
            return f->element[i + 1]->type == REDIS_REPLY_STRING ? f->element[i + 1]->str : "";
    return "";
}

typedef struct {
    pop_store_call_fn cb;
    void *ctx;
} call_req_t;

static void on_call_reply(void *ctx, redisReply *r, const char *err)
{
    call_req_t *q = ctx;
    if (!err && (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2))
        err = r && r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply";
    if (err)
        q->cb(q->ctx, NULL, NULL, err);
    else
        q->cb(q->ctx, r->element[0], r->element[1], NULL);
    free(q);
}

int pop_store_call_update(pop_store_t *s, const char *call_id, const char *agent_crm,
                          const char *agent_provider, pop_call_mode_t mode, const char *leg,
                          const char *const *fields, size_t n_fields, pop_store_call_fn cb,
                          void *ctx)
{
    char key[300];
    const char *argv[64];
    size_t argc = 0;
    if (n_fields > 24)
        return -1;
    call_req_t *q = malloc(sizeof *q);
    if (!q)
        return -1;
    q->cb = cb;
    q->ctx = ctx;
    snprintf(key, sizeof key, "%spop:call:%s", s->ns, call_id);
    argv[argc++] = "EVAL";
    argv[argc++] = call_script;
    argv[argc++] = "1";
    argv[argc++] = key;
    argv[argc++] = s->ttl;
    argv[argc++] = s->ns;
    argv[argc++] = agent_crm ? agent_crm : "";
    argv[argc++] = agent_provider ? agent_provider : "";
    argv[argc++] = mode == POP_CALL_ON ? "on" : mode == POP_CALL_OFF ? "off" : "";
    argv[argc++] = call_id;
    argv[argc++] = leg ? leg : "";
    for (size_t i = 0; i < 2 * n_fields; i++)
        argv[argc++] = fields[i];
    if (cmn_redis_command_argv(s->redis, on_call_reply, q, (int)argc, argv, NULL) < 0) {
        free(q);
        return -1;
    }
    return 0;
}

typedef struct {
    pop_store_deliver_fn cb;
    void *ctx;
} deliver_req_t;

static void on_deliver_reply(void *ctx, redisReply *r, const char *err)
{
    deliver_req_t *q = ctx;
    if (!err && (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
                 r->element[1]->type != REDIS_REPLY_STRING))
        err = r && r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply";
    if (err)
        q->cb(q->ctx, NULL, 0, err);
    else
        q->cb(q->ctx, r->element[1]->str, r->element[0]->integer == 1, NULL);
    free(q);
}

int pop_store_deliver(pop_store_t *s, const char *agent, const char *pop_id, const char *pop_json,
                      const pop_store_ack_info_t *ack, pop_store_deliver_fn cb, void *ctx)
{
    char seen[700], stream[300], ackkey[700];
    deliver_req_t *q = malloc(sizeof *q);
    if (!q)
        return -1;
    q->cb = cb;
    q->ctx = ctx;
    snprintf(seen, sizeof seen, "%spop:seen:%s", s->ns, pop_id);
    snprintf(stream, sizeof stream, "%spop:stream:%s", s->ns, agent);
    pop_store_ack_key(s, pop_id, ackkey, sizeof ackkey);
    const char *argv[] = {"EVAL",
                          deliver_script,
                          "5",
                          seen,
                          stream,
                          s->bus,
                          s->pending,
                          ackkey,
                          s->ttl,
                          s->history,
                          pop_json,
                          agent,
                          POP_STORE_BUS_MAX,
                          pop_id,
                          s->ack_timeout,
                          ack->kind,
                          ack->call_id,
                          ack->ticket_id,
                          ack->contact_id,
                          s->ack_keep};
    if (cmn_redis_command_argv(s->redis, on_deliver_reply, q, (int)(sizeof argv / sizeof *argv),
                               argv, NULL) < 0) {
        free(q);
        return -1;
    }
    return 0;
}

int pop_store_read(pop_store_t *s, const char *agent, const char *after, long count,
                   cmn_redis_reply_fn cb, void *ctx)
{
    char stream[300], from[64], n[24];
    snprintf(stream, sizeof stream, "%spop:stream:%s", s->ns, agent);
    snprintf(from, sizeof from, "(%s", after); /* exclusive: what comes after it */
    snprintf(n, sizeof n, "%ld", count);
    const char *argv[] = {"XRANGE", stream, from, "+", "COUNT", n};
    return cmn_redis_command_argv(s->redis, cb, ctx, 6, argv, NULL);
}

int pop_store_announce_end(pop_store_t *s, const char *agent, const char *session)
{
    const char *argv[] = {"XADD",  s->bus, "MAXLEN", "~", POP_STORE_BUS_MAX, "*",
                          "agent", agent,  "end",    "1", "session",         session};
    return cmn_redis_command_argv(s->redis, NULL, NULL, 12, argv, NULL);
}
