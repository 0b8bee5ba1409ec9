/* Agent sessions: Lua scripts over pop:sess:<sha256(token)> (-> CRM agent
 * id) and pop:agent:<crm id> (the session's facts), both expiring. */
#include "pop_session.h"

#include "cmn_time.h"

#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* pop:prov:<provider id> maps to whoever logged in with it last: an agent
 * touches (deletes, extends) that mapping only while it is still its own,
 * never one another agent took over since (issue 19 item 2). Each script
 * runs whole in Redis, so no login can slip between the check and the
 * change. Defines own_prov(ns, provider, crm): the key, or nil. */
#define OWN_PROV                                                                                   \
    "local function own_prov(ns, prov, crm)\n"                                                     \
    "  if not prov or prov == '' then return nil end\n"                                            \
    "  local k = ns .. 'pop:prov:' .. prov\n"                                                      \
    "  if redis.call('GET', k) == crm then return k end\n"                                         \
    "  return nil\n"                                                                               \
    "end\n"

/* KEYS: session, agent; ARGV: ttl, crm, provider, extension, now, ns,
 * token hash, bus, bus bound, until (ms, 0: none). The previous session ends here, with its
 * token and, on every replica, its open streams (the bus entry names it,
 * so the new session's streams stay open). */
static const char login_script[] = OWN_PROV
    "local old = redis.call('HGET', KEYS[2], 'session')\n"
    "if old then\n"
    "  redis.call('DEL', ARGV[6] .. 'pop:sess:' .. old)\n"
    "  redis.call('XADD', ARGV[8], 'MAXLEN', '~', ARGV[9], '*', 'agent', ARGV[2], 'end', '1', "
    "'session', old)\n"
    "end\n"
    "local oldprov = own_prov(ARGV[6], redis.call('HGET', KEYS[2], 'provider_id'), ARGV[2])\n"
    "if oldprov then redis.call('DEL', oldprov) end\n"
    "redis.call('DEL', KEYS[2])\n"
    "redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[1])\n"
    "redis.call('HSET', KEYS[2], 'session', ARGV[7], 'provider_id', ARGV[3], 'extension', "
    "ARGV[4], 'login_ms', ARGV[5], 'until_ms', ARGV[10])\n"
    "redis.call('EXPIRE', KEYS[2], ARGV[1])\n"
    "if ARGV[3] ~= '' then redis.call('SET', ARGV[6] .. 'pop:prov:' .. ARGV[3], ARGV[2], 'EX', "
    "ARGV[1]) end\n"
    "return {ARGV[2], redis.call('HGETALL', KEYS[2]), redis.call('TTL', KEYS[1])}\n";

/* The session whose key is `skey` (set before): resolved, ended
 * (ARGV[3] '1') or extended. ARGV: ns, refresh ttl (0: none), logout
 * flag, now (ms), the agent it must be ('': any), a new until (ms, '0':
 * keep). A session with an until (an ID token's exp and grace) is never
 * extended past it: its key then expires by itself. */
#define SESSION_BODY                                                                               \
    "local crm = redis.call('GET', skey)\n"                                                        \
    "if not crm then return false end\n"                                                           \
    "if ARGV[5] ~= '' and crm ~= ARGV[5] then return false end\n"                                  \
    "local a = ARGV[1] .. 'pop:agent:' .. crm\n"                                                   \
    "if ARGV[6] ~= '0' then redis.call('HSET', a, 'until_ms', ARGV[6]) end\n"                      \
    "local f = redis.call('HGETALL', a)\n"                                                         \
    "local prov = own_prov(ARGV[1], redis.call('HGET', a, 'provider_id'), crm)\n"                  \
    "if ARGV[3] == '1' then\n"                                                                     \
    "  redis.call('DEL', skey, a)\n"                                                               \
    "  if prov then redis.call('DEL', prov) end\n"                                                 \
    "  return {crm, f, 0}\n"                                                                       \
    "end\n"                                                                                        \
    "local ttl = tonumber(ARGV[2])\n"                                                              \
    "local u = tonumber(redis.call('HGET', a, 'until_ms') or '0') or 0\n"                          \
    "if u > 0 then ttl = math.min(ttl, math.ceil((u - tonumber(ARGV[4])) / 1000)) end\n"           \
    "if ttl > 0 then\n"                                                                            \
    "  redis.call('EXPIRE', skey, ttl)\n"                                                          \
    "  redis.call('EXPIRE', a, ttl)\n"                                                             \
    "  if prov then redis.call('EXPIRE', prov, ttl) end\n"                                         \
    "end\n"                                                                                        \
    "return {crm, f, redis.call('TTL', skey)}\n"

/* KEYS: session; ARGV as SESSION_BODY's. */
static const char get_script[] = OWN_PROV "local skey = KEYS[1]\n" SESSION_BODY;

/* ARGV as SESSION_BODY's, then the agent whose session ends (admin
 * revocation: the agent's session is found from the agent's facts). */
static const char revoke_script[] =
    OWN_PROV "local h = redis.call('HGET', ARGV[1] .. 'pop:agent:' .. ARGV[7], 'session')\n"
             "if not h then return false end\n"
             "local skey = ARGV[1] .. 'pop:sess:' .. h\n" SESSION_BODY;

int pop_session_new_token(char *out, size_t outsz)
{
    unsigned char raw[POP_TOKEN_LEN / 2];
    if (outsz < POP_TOKEN_LEN + 1 || RAND_bytes(raw, sizeof raw) != 1)
        return -1;
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
    return 0;
}

static void token_hash(const char *token, char out[2 * SHA256_DIGEST_LENGTH + 1])
{
    unsigned char d[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)token, strlen(token), d);
    for (size_t i = 0; i < sizeof d; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

typedef struct {
    pop_session_fn cb;
    void *ctx;
} sess_req_t;

static void on_reply(void *ctx, redisReply *r, const char *err)
{
    sess_req_t *q = ctx;
    pop_session_info_t info = {"", "", "", "", "", 0, 0};
    if (!err && r && r->type == REDIS_REPLY_ERROR)
        err = r->str;
    if (!err && r && r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
        r->element[0]->type == REDIS_REPLY_STRING) {
        const redisReply *f = r->element[1];
        info.crm_id = r->element[0]->str;
        info.provider_id = pop_store_field(f, "provider_id");
        info.extension = pop_store_field(f, "extension");
        info.call = pop_store_field(f, "call");
        info.session = pop_store_field(f, "session");
        info.login_ms = strtoll(pop_store_field(f, "login_ms"), NULL, 10);
        info.ttl_s = (long)r->element[2]->integer;
    }
    q->cb(q->ctx, &info, err);
    free(q);
}

static int run(pop_store_t *s, const char *script, int nkeys, const char **argv, int argc,
               pop_session_fn cb, void *ctx)
{
    sess_req_t *q = malloc(sizeof *q);
    if (!q)
        return -1;
    q->cb = cb;
    q->ctx = ctx;
    char nk[8];
    snprintf(nk, sizeof nk, "%d", nkeys);
    const char *all[16] = {"EVAL", script, nk};
    for (int i = 0; i < argc; i++)
        all[3 + i] = argv[i];
    if (cmn_redis_command_argv(pop_store_redis(s), on_reply, q, argc + 3, all, NULL) < 0) {
        free(q);
        return -1;
    }
    return 0;
}

int pop_session_login(pop_store_t *s, const char *token, const pop_login_t *who, long ttl_s,
                      int64_t now_ms, pop_session_fn cb, void *ctx)
{
    char hash[2 * SHA256_DIGEST_LENGTH + 1], skey[200], akey[200], ttl[24], now[24], until[24];
    const char *ns = pop_store_ns(s);
    token_hash(token, hash);
    snprintf(until, sizeof until, "%lld", (long long)who->until_ms);
    /* born no longer-lived than its ID token */
    if (who->until_ms && (who->until_ms - now_ms + 999) / 1000 < ttl_s)
        ttl_s = (long)((who->until_ms - now_ms + 999) / 1000);
    if (ttl_s < 1)
        ttl_s = 1;
    snprintf(skey, sizeof skey, "%spop:sess:%s", ns, hash);
    snprintf(akey, sizeof akey, "%spop:agent:%s", ns, who->crm_id);
    snprintf(ttl, sizeof ttl, "%ld", ttl_s);
    snprintf(now, sizeof now, "%lld", (long long)now_ms);
    const char *argv[] = {skey,
                          akey,
                          ttl,
                          who->crm_id,
                          who->provider_id ? who->provider_id : "",
                          who->extension ? who->extension : "",
                          now,
                          ns,
                          hash,
                          pop_store_bus_key(s),
                          POP_STORE_BUS_MAX,
                          until};
    return run(s, login_script, 2, argv, 12, cb, ctx);
}

/* skey: the session's key (by token), or NULL: the agent's session (revoke). */
static int session_op(pop_store_t *s, const char *skey, long refresh, const char *logout,
                      const char *agent, const char *whose, int64_t until_ms, pop_session_fn cb,
                      void *ctx)
{
    char ttl[24], now[24], until[24];
    snprintf(ttl, sizeof ttl, "%ld", refresh);
    snprintf(now, sizeof now, "%lld", (long long)cmn_time_now_ms());
    snprintf(until, sizeof until, "%lld", (long long)until_ms);
    const char *argv[] = {skey, pop_store_ns(s), ttl, logout, now, whose, until, agent};
    return skey ? run(s, get_script, 1, argv, 7, cb, ctx)
                : run(s, revoke_script, 0, argv + 1, 7, cb, ctx);
}

static int by_token(pop_store_t *s, const char *token, long refresh, const char *logout,
                    const char *whose, int64_t until_ms, pop_session_fn cb, void *ctx)
{
    char hash[2 * SHA256_DIGEST_LENGTH + 1], skey[200];
    token_hash(token, hash);
    snprintf(skey, sizeof skey, "%spop:sess:%s", pop_store_ns(s), hash);
    return session_op(s, skey, refresh, logout, "", whose, until_ms, cb, ctx);
}

int pop_session_get(pop_store_t *s, const char *token, long refresh_ttl_s, pop_session_fn cb,
                    void *ctx)
{
    return by_token(s, token, refresh_ttl_s, "0", "", 0, cb, ctx);
}

int pop_session_logout(pop_store_t *s, const char *token, pop_session_fn cb, void *ctx)
{
    return by_token(s, token, 0, "1", "", 0, cb, ctx);
}

int pop_session_extend(pop_store_t *s, const char *token, const char *crm_id, int64_t until_ms,
                       long ttl_s, pop_session_fn cb, void *ctx)
{
    return by_token(s, token, ttl_s, "0", crm_id, until_ms, cb, ctx);
}

int pop_session_revoke(pop_store_t *s, const char *crm_id, pop_session_fn cb, void *ctx)
{
    return session_op(s, NULL, 0, "1", crm_id, "", 0, cb, ctx);
}

int pop_session_ttl(pop_store_t *s, const char *session, cmn_redis_reply_fn cb, void *ctx)
{
    return cmn_redis_command(pop_store_redis(s), cb, ctx, "TTL %spop:sess:%s", pop_store_ns(s),
                             session);
}
