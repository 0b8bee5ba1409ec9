/* Redis persistence for ticket-service, on the async client. */
#include "tkt_store.h"
#include "cmn_log.h"
#include "cmn_metrics.h"
#include "tkt_codec.h"
#include "cmn_time.h"

#include <stdlib.h>
#include <string.h>

#define DONE_TTL_S (7 * 86400)
#define CALL_TTL_S (7 * 86400)
#define ENDED_CALL_TTL_S 86400
#define CUSTOMER_TTL_S (30 * 86400)
#define INTENT_TTL_S 86400

const char tkt_store_conflict[] = "the state changed since it was loaded";

struct tkt_store {
    cmn_redis_t *redis;
    char ns[96]; /* key prefix: installations may share one Redis */
    cmn_metric_t *m_conflicts;
};

typedef struct {
    tkt_store_t *s;
    tkt_revs_t *revs; /* commit: the caller's, set on success */
    tkt_revs_t next;  /* commit: what it writes */
    union {
        tkt_store_loaded_fn loaded;
        tkt_store_done_fn done;
        tkt_store_intent_fn intent;
        tkt_store_ids_fn ids;
    } cb;
    void *ctx;
} req_t;

/* The caller sets the one cb member it reads back: no cast between a
 * function pointer and void * (ISO C has none). */
static req_t *req_new(tkt_store_t *s, void *ctx)
{
    req_t *r = malloc(sizeof *r);
    if (r) {
        r->s = s;
        r->revs = NULL;
        r->ctx = ctx;
    }
    return r;
}

tkt_store_t *tkt_store_new(cmn_redis_t *redis, const char *prefix)
{
    tkt_store_t *s = calloc(1, sizeof *s);
    if (s) {
        s->redis = redis;
        snprintf(s->ns, sizeof s->ns, "%stkt:", prefix ? prefix : "");
        s->m_conflicts = cmn_metrics_counter(
            "ticket_state_conflicts_total",
            "Commits refused because another writer changed the call or customer since it was "
            "loaded (decided again)",
            NULL);
    }
    return s;
}

const char *tkt_store_ns(const tkt_store_t *s)
{
    return s->ns;
}

void tkt_store_free(tkt_store_t *s)
{
    free(s);
}

int tkt_store_ready(const tkt_store_t *s)
{
    return cmn_redis_connected(s->redis);
}

/* ---- load ------------------------------------------------------------------ */

static json_t *element_json(const redisReply *r)
{
    if (!r || r->type != REDIS_REPLY_STRING)
        return NULL;
    return json_loadb(r->str, r->len, 0, NULL);
}

static void decode_plan(const redisReply *r, tkt_loaded_t *l)
{
    json_t *plan = element_json(r), *op;
    size_t i;
    if (!plan)
        return;
    l->have_plan = 1;
    json_array_foreach(plan, i, op)
    {
        if (l->n_plan == TKT_PLAN_MAX)
            break;
        if (tkt_codec_op_from_json(op, &l->plan[l->n_plan]) == 0)
            l->n_plan++;
    }
    json_decref(plan);
}

/* The revision a stored value carries (tkt_store.h); 0 for none. */
static int64_t rev_of(const json_t *j)
{
    return j ? json_integer_value(json_object_get(j, "rev")) : 0;
}

static void on_loaded(void *ctx, redisReply *reply, const char *err)
{
    req_t *r = ctx;
    tkt_loaded_t *l = calloc(1, sizeof *l);
    if (!err && (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 5))
        err = reply && reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected MGET reply";
    if (!l)
        err = "out of memory";
    if (!err) {
        json_t *call = element_json(reply->element[2]), *cust = element_json(reply->element[3]);
        l->done = reply->element[0]->type == REDIS_REPLY_STRING;
        decode_plan(reply->element[1], l);
        l->have_call = call && tkt_codec_call_from_json(call, &l->call) == 0;
        l->have_customer = cust && tkt_codec_customer_from_json(cust, &l->customer) == 0;
        l->revs.call = rev_of(call);
        l->revs.cust = rev_of(cust);
        if (reply->element[4]->type == REDIS_REPLY_STRING)
            snprintf(l->job_ids, sizeof l->job_ids, "%.*s", (int)reply->element[4]->len,
                     reply->element[4]->str);
        json_decref(call);
        json_decref(cust);
    }
    r->cb.loaded(r->ctx, err ? NULL : l, err);
    free(l);
    free(r);
}

int tkt_store_load(tkt_store_t *s, const char *event_id, const char *call_id,
                   const char *customer_key, tkt_store_loaded_fn cb, void *ctx)
{
    req_t *r = req_new(s, ctx);
    if (!r)
        return -1;
    r->cb.loaded = cb;
    /* An empty customer key names no customer: ask for a key that cannot exist. */
    if (cmn_redis_command(s->redis, on_loaded, r,
                          "MGET %sdone:%s %splan:%s %scall:%s %scust:%s %sjobs:%s", s->ns, event_id,
                          s->ns, event_id, s->ns, call_id, s->ns,
                          *customer_key ? customer_key : "-", s->ns, event_id) < 0) {
        free(r);
        return -1;
    }
    return 0;
}

/* One stored value, the call's or (customer) a customer's, to the caller. */
static void deliver_one(req_t *r, redisReply *reply, const char *err, int customer)
{
    tkt_loaded_t *l = calloc(1, sizeof *l);
    if (!l)
        err = "out of memory";
    if (!err && reply && reply->type == REDIS_REPLY_ERROR)
        err = reply->str;
    if (!err && reply && reply->type == REDIS_REPLY_STRING) {
        json_t *v = element_json(reply);
        if (customer) {
            l->have_customer = v && tkt_codec_customer_from_json(v, &l->customer) == 0;
            l->revs.cust = rev_of(v);
        } else {
            l->have_call = v && tkt_codec_call_from_json(v, &l->call) == 0;
            l->revs.call = rev_of(v);
        }
        json_decref(v);
    }
    r->cb.loaded(r->ctx, err ? NULL : l, err);
    free(l);
    free(r);
}

static void on_loaded_call(void *ctx, redisReply *reply, const char *err)
{
    deliver_one(ctx, reply, err, 0);
}

int tkt_store_load_call(tkt_store_t *s, const char *call_id, tkt_store_loaded_fn cb, void *ctx)
{
    req_t *r = req_new(s, ctx);
    if (!r)
        return -1;
    r->cb.loaded = cb;
    if (cmn_redis_command(s->redis, on_loaded_call, r, "GET %scall:%s", s->ns, call_id) < 0) {
        free(r);
        return -1;
    }
    return 0;
}

/* ---- writes ------------------------------------------------------------ */

/* Replies of a queued MULTI are ignored; EXEC's tells the outcome. */
static void on_ignored(void *ctx, redisReply *reply, const char *err) {}

static void on_exec(void *ctx, redisReply *reply, const char *err)
{
    req_t *r = ctx;
    if (!err && (!reply || reply->type != REDIS_REPLY_ARRAY))
        err = reply && reply->type == REDIS_REPLY_ERROR ? reply->str : "transaction aborted";
    r->cb.done(r->ctx, err);
    free(r);
}

static char *dump(json_t *j)
{
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return text;
}

/* The value with its revision (tkt_store.h): the one the script checks. */
static char *dump_rev(json_t *j, int64_t rev)
{
    if (j && json_object_set_new(j, "rev", json_integer(rev)) < 0) {
        json_decref(j);
        return NULL;
    }
    return dump(j);
}

static char *plan_text(const tkt_op_t *ops, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++)
        json_array_append_new(arr, tkt_codec_op_to_json(&ops[i]));
    return dump(arr);
}

/* Compare and set in one step. A Lua script rather than WATCH/MULTI/EXEC:
 * WATCH belongs to a connection, and every job of the process shares one
 * pipelined connection (another job's EXEC would end our watch, and a
 * watch would be another job's too). The revision is read from the stored
 * text: `"rev":` can only be the member (a quote inside a string is
 * escaped), and a value without one (written before revisions) is 0.
 * KEYS: call, customer, plan, open-calls.
 * ARGV: call json ("" = not written), its expected revision, its TTL,
 *       "1" = the call is over, now (ms), call id,
 *       customer json ("" = not written), its expected revision, its TTL,
 *       plan json, its TTL, the owner index's key prefix, the customer's
 *       ticket ids ("," between), the customer's number. Returns 1, or 0
 *       (a key changed: nothing written). The owner keys are named in
 *       ARGV, not KEYS: like the rest of the store this assumes one Redis,
 *       not a cluster (the call and customer keys hash apart already). */
static const char commit_script[] =
    "local function rev(k) local v = redis.call('GET', k) "
    "if not v then return 0 end "
    "return tonumber(string.match(v, '\"rev\":(%d+)')) or 0 end "
    "if ARGV[1] ~= '' and rev(KEYS[1]) ~= tonumber(ARGV[2]) then return 0 end "
    "if ARGV[7] ~= '' and rev(KEYS[2]) ~= tonumber(ARGV[8]) then return 0 end "
    "if ARGV[1] ~= '' then "
    "redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3]) "
    "if ARGV[4] == '1' then redis.call('ZREM', KEYS[4], ARGV[6]) "
    "else redis.call('ZADD', KEYS[4], ARGV[5], ARGV[6]) end end "
    "if ARGV[7] ~= '' then redis.call('SET', KEYS[2], ARGV[7], 'EX', ARGV[9]) "
    "for id in string.gmatch(ARGV[13], '[^,]+') do "
    "redis.call('SET', ARGV[12] .. id, ARGV[14], 'EX', ARGV[9]) end end "
    "redis.call('SET', KEYS[3], ARGV[10], 'EX', ARGV[11]) "
    "return 1";

static void on_committed(void *ctx, redisReply *reply, const char *err)
{
    req_t *r = ctx;
    if (!err && (!reply || reply->type != REDIS_REPLY_INTEGER))
        err = reply && reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected commit reply";
    if (!err && reply->integer == 0) {
        cmn_metric_add(r->s->m_conflicts, 1);
        err = tkt_store_conflict;
    }
    if (!err)
        *r->revs = r->next;
    r->cb.done(r->ctx, err);
    free(r);
}

/* The state's texts for the script: each written key carries the revision
 * after the expected one. "" for a key not written. */
typedef struct {
    char *call, *cust, *plan;
    char owned[TKT_MAX_TICKETS * TKT_ID_MAX + 1]; /* the customer's ticket ids, "," between */
} commit_text_t;

/* R-C5: every ticket of ours the customer state remembers is indexed to
 * that customer (tkt:owner:<ticket id>), so that a call an agent makes
 * from one of them to another number finds the ticket's customer
 * (tkt_store_load_owner). Refreshed with the customer, expiring with it.
 * Placeholders ($ticket) are never indexed: the commit after a creation
 * carries the real id. */
static void owned_ids(char *out, size_t outsz, const tkt_customer_t *cust)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < cust->n_tickets && i < TKT_MAX_TICKETS; i++) {
        const char *id = cust->tickets[i].id;
        int n;
        if (!id[0] || id[0] == '$' || strchr(id, ','))
            continue;
        n = snprintf(out + used, outsz - used, "%s%s", used ? "," : "", id);
        if (n < 0 || (size_t)n >= outsz - used)
            break;
        used += (size_t)n;
    }
}

static int commit_text(commit_text_t *t, req_t *r, const tkt_call_t *call,
                       const tkt_customer_t *cust, const tkt_op_t *ops, size_t n_ops)
{
    r->next = *r->revs;
    if (call->call_id[0])
        r->next.call++;
    if (cust->number[0])
        r->next.cust++;
    t->call = call->call_id[0] ? dump_rev(tkt_codec_call_to_json(call), r->next.call) : strdup("");
    t->cust =
        cust->number[0] ? dump_rev(tkt_codec_customer_to_json(cust), r->next.cust) : strdup("");
    t->plan = plan_text(ops, n_ops);
    owned_ids(t->owned, sizeof t->owned, cust);
    return t->call && t->cust && t->plan ? 0 : -1;
}

int tkt_store_commit(tkt_store_t *s, const char *event_id, const tkt_call_t *call,
                     const tkt_customer_t *customer, tkt_revs_t *revs, const tkt_op_t *ops,
                     size_t n_ops, int call_done, tkt_store_done_fn cb, void *ctx)
{
    int rc = -1;
    commit_text_t t = {0};
    req_t *r = req_new(s, ctx);
    if (!r || !cmn_redis_connected(s->redis))
        goto done;
    r->cb.done = cb;
    r->revs = revs;
    if (commit_text(&t, r, call, customer, ops, n_ops) < 0)
        goto done;
    /* An empty call id or number names no key: one that cannot exist. */
    if (cmn_redis_command(
            s->redis, on_committed, r,
            "EVAL %s 4 %scall:%s %scust:%s %splan:%s %sopen-calls %s %lld %d %s %lld %s %s %lld "
            "%d %s %d %sowner: %s %s",
            commit_script, s->ns, call->call_id[0] ? call->call_id : "-", s->ns,
            customer->number[0] ? customer->number : "-", s->ns, event_id, s->ns, t.call,
            (long long)revs->call, call_done ? ENDED_CALL_TTL_S : CALL_TTL_S, call_done ? "1" : "0",
            /* processing time, not the provider's: a replayed backlog must
             * not look stale */
            (long long)cmn_time_now_ms(), call->call_id[0] ? call->call_id : "-", t.cust,
            (long long)revs->cust, CUSTOMER_TTL_S, t.plan, DONE_TTL_S, s->ns,
            t.owned[0] ? t.owned : ",", customer->number[0] ? customer->number : "-") < 0) {
        LOG_WARN("redis: commit of %s not sent", event_id);
        goto done;
    }
    r = NULL;
    rc = 0;
done:
    free(r);
    free(t.call);
    free(t.cust);
    free(t.plan);
    return rc;
}

/* The owner's customer state, or nil: one round trip, so that the number
 * read and the state read agree. KEYS: the owner key; ARGV: "<ns>cust:". */
static const char owner_script[] = "local n = redis.call('GET', KEYS[1]) "
                                   "if not n then return false end "
                                   "return redis.call('GET', ARGV[1] .. n)";

static void on_owner(void *ctx, redisReply *reply, const char *err)
{
    deliver_one(ctx, reply, err, 1);
}

int tkt_store_load_owner(tkt_store_t *s, const char *ticket_id, tkt_store_loaded_fn cb, void *ctx)
{
    req_t *r = req_new(s, ctx);
    if (!r)
        return -1;
    r->cb.loaded = cb;
    if (cmn_redis_command(s->redis, on_owner, r, "EVAL %s 1 %sowner:%s %scust:", owner_script,
                          s->ns, ticket_id, s->ns) < 0) {
        free(r);
        return -1;
    }
    return 0;
}

int tkt_store_mark_done(tkt_store_t *s, const char *event_id, tkt_store_done_fn cb, void *ctx)
{
    req_t *r = req_new(s, ctx);
    if (!r)
        return -1;
    r->cb.done = cb;
    if (cmn_redis_command(s->redis, on_ignored, NULL, "MULTI") < 0 ||
        cmn_redis_command(s->redis, on_ignored, NULL, "SET %sdone:%s 1 EX %d", s->ns, event_id,
                          DONE_TTL_S) < 0 ||
        cmn_redis_command(s->redis, on_ignored, NULL, "DEL %splan:%s %sjobs:%s", s->ns, event_id,
                          s->ns, event_id) < 0 ||
        cmn_redis_command(s->redis, on_exec, r, "EXEC") < 0) {
        free(r);
        return -1;
    }
    return 0;
}

static void on_job_added(void *ctx, redisReply *reply, const char *err)
{
    if (err || (reply && reply->type == REDIS_REPLY_ERROR))
        LOG_WARN("redis: a bulk job id not stored: %s", err ? err : reply->str);
}

int tkt_store_add_job(tkt_store_t *s, const char *event_id, const char *job_id)
{
    if (cmn_redis_command(s->redis, on_job_added, NULL, "APPEND %sjobs:%s %s,", s->ns, event_id,
                          job_id) < 0 ||
        cmn_redis_command(s->redis, on_job_added, NULL, "EXPIRE %sjobs:%s %d", s->ns, event_id,
                          DONE_TTL_S) < 0)
        return -1;
    return 0;
}

static void on_intent(void *ctx, redisReply *reply, const char *err)
{
    req_t *r = ctx;
    if (!err && reply && reply->type == REDIS_REPLY_ERROR)
        err = reply->str;
    r->cb.intent(r->ctx, !err && reply && reply->type == REDIS_REPLY_STATUS, err);
    free(r);
}

int tkt_store_intent(tkt_store_t *s, const char *external_id, tkt_store_intent_fn cb, void *ctx)
{
    req_t *r = req_new(s, ctx);
    if (!r)
        return -1;
    r->cb.intent = cb;
    if (cmn_redis_command(s->redis, on_intent, r, "SET %screating:%s 1 NX EX %d", s->ns,
                          external_id, INTENT_TTL_S) < 0) {
        free(r);
        return -1;
    }
    return 0;
}

static void on_ids(void *ctx, redisReply *reply, const char *err)
{
    req_t *r = ctx;
    const char *ids[128];
    size_t n = 0;
    if (!err && reply && reply->type == REDIS_REPLY_ARRAY)
        for (size_t i = 0; i < reply->elements && n < 128; i++)
            if (reply->element[i]->type == REDIS_REPLY_STRING)
                ids[n++] = reply->element[i]->str;
    r->cb.ids(r->ctx, ids, n, err);
    free(r);
}

int tkt_store_stale_calls(tkt_store_t *s, int64_t before_ms, size_t max, tkt_store_ids_fn cb,
                          void *ctx)
{
    req_t *r = req_new(s, ctx);
    if (!r)
        return -1;
    r->cb.ids = cb;
    if (cmn_redis_command(s->redis, on_ids, r, "ZRANGEBYSCORE %sopen-calls 0 %lld LIMIT 0 %d",
                          s->ns, (long long)before_ms, (int)(max > 128 ? 128 : max)) < 0) {
        free(r);
        return -1;
    }
    return 0;
}

static void on_claimed(void *ctx, redisReply *reply, const char *err)
{
    req_t *r = ctx;
    r->cb.intent(r->ctx, !err && reply && reply->type == REDIS_REPLY_INTEGER && reply->integer == 1,
                 err);
    free(r);
}

int tkt_store_claim_stale(tkt_store_t *s, const char *call_id, tkt_store_intent_fn cb, void *ctx)
{
    req_t *r = req_new(s, ctx);
    if (!r)
        return -1;
    r->cb.intent = cb;
    if (cmn_redis_command(s->redis, on_claimed, r, "ZREM %sopen-calls %s", s->ns, call_id) < 0) {
        free(r);
        return -1;
    }
    return 0;
}
