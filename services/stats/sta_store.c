/* The stats service's Redis side (sta_store.h). Two Lua scripts: one
 * reads a call's and a ticket's state in one round trip, one applies a
 * plan guarded by the partition's offset. */
#include "sta_store.h"

#include "cmn_log.h"

#include <stdarg.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sta_store {
    cmn_redis_t *redis;
    char *prefix;
    sta_store_opts_t o;
};

/* KEYS: call state, ticket state ("" = not needed). */
static const char read_script[] = "local c, t = {}, {}\n"
                                  "if KEYS[1] ~= '' then c = redis.call('HGETALL', KEYS[1]) end\n"
                                  "if KEYS[2] ~= '' then t = redis.call('HGETALL', KEYS[2]) end\n"
                                  "return {c, t}\n";

/* KEYS: 1 offsets hash, 2 seen-id key ("" = none), 3 day hash, 4 call
 * state, 5 ticket state. ARGV: 1 partition, 2 offset, 3 seen TTL, 4 the
 * day hash's expiry (unix s), 5 call TTL, 6 ticket TTL, 7 n cells, then
 * field/delta pairs, then for the call and the ticket: n fields (0 = left
 * as it is) and field/value pairs, set over what is stored (HSET: a field
 * the plan does not name is kept). Returns 1 applied, 2 seen, or, replayed,
 * -1 - the stored offset (what the caller may skip without asking). A
 * delta may be negative (a late answer's correction, issue 27): HINCRBY
 * takes it, under the same offset guard; a cell it brings to 0 is deleted,
 * so an agent whose one missed call was corrected has no row of zeros. */
static const char apply_script[] =
    "local cur = redis.call('HGET', KEYS[1], ARGV[1])\n"
    "if cur and tonumber(cur) >= tonumber(ARGV[2]) then return -1 - tonumber(cur) end\n"
    "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])\n"
    "if KEYS[2] ~= '' and not redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[3]) then\n"
    "  return 2\n"
    "end\n"
    "local n, i = tonumber(ARGV[7]), 8\n"
    "for j = 1, n do\n"
    "  if redis.call('HINCRBY', KEYS[3], ARGV[i], ARGV[i + 1]) == 0 then\n"
    "    redis.call('HDEL', KEYS[3], ARGV[i])\n"
    "  end\n"
    "  i = i + 2\n"
    "end\n"
    "if n > 0 then redis.call('EXPIREAT', KEYS[3], ARGV[4]) end\n"
    "for k = 4, 5 do\n"
    "  local m = tonumber(ARGV[i])\n"
    "  i = i + 1\n"
    "  if m > 0 then\n"
    "    for j = 1, m do\n"
    "      redis.call('HSET', KEYS[k], ARGV[i], ARGV[i + 1])\n"
    "      i = i + 2\n"
    "    end\n"
    "    redis.call('EXPIRE', KEYS[k], ARGV[k + 1])\n"
    "  end\n"
    "end\n"
    "return 1\n";

sta_store_t *sta_store_new(cmn_redis_t *redis, const char *prefix, const sta_store_opts_t *o)
{
    sta_store_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    if (!(s->prefix = strdup(prefix ? prefix : ""))) {
        free(s);
        return NULL;
    }
    s->redis = redis;
    s->o = *o;
    return s;
}

void sta_store_free(sta_store_t *s)
{
    if (!s)
        return;
    free(s->prefix);
    free(s);
}

/* ---- arguments --------------------------------------------------------------- */

#define MAX_ARGS 80
#define ARENA 16384

/* A command's arguments, their text in one arena. */
typedef struct {
    const char *argv[MAX_ARGS];
    size_t lens[MAX_ARGS];
    int argc;
    char arena[ARENA];
    size_t used;
    int overflow;
} args_t;

static void arg(args_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void arg(args_t *a, const char *fmt, ...)
{
    va_list ap;
    if (a->overflow || a->argc == MAX_ARGS) {
        a->overflow = 1;
        return;
    }
    va_start(ap, fmt);
    int n = vsnprintf(a->arena + a->used, ARENA - a->used, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= ARENA - a->used) {
        a->overflow = 1;
        return;
    }
    a->argv[a->argc] = a->arena + a->used;
    a->lens[a->argc++] = (size_t)n;
    a->used += (size_t)n + 1;
}

static void key(args_t *a, const sta_store_t *s, const char *kind, const char *id)
{
    if (id && *id)
        arg(a, "%sstats:%s:%s", s->prefix, kind, id);
    else
        arg(a, "%s", "");
}

/* ---- reading ----------------------------------------------------------------- */

typedef struct {
    sta_store_read_fn cb;
    sta_store_apply_fn apply_cb;
    sta_store_offset_fn offset_cb;
    void *ctx;
    int64_t offset; /* an apply's message */
} req_t;

static void field_copy(char *dst, size_t dstsz, const redisReply *v)
{
    snprintf(dst, dstsz, "%.*s", (int)v->len, v->str);
}

static int64_t field_int(const redisReply *v)
{
    return strtoll(v->str, NULL, 10);
}

#define F(name) (strcmp(f->str, name) == 0)

static void parse_call(const redisReply *r, sta_call_t *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2) {
        const redisReply *f = r->element[i], *v = r->element[i + 1];
        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            continue;
        c->known = 1;
        if (F("q"))
            field_copy(c->queue, sizeof c->queue, v);
        else if (F("a"))
            field_copy(c->agent, sizeof c->agent, v);
        else if (F("o"))
            field_copy(c->offered, sizeof c->offered, v);
        else if (F("k"))
            field_copy(c->kind, sizeof c->kind, v);
        else if (F("ans"))
            c->answered = (int)field_int(v);
        else if (F("off"))
            c->offered_any = (int)field_int(v);
        else if (F("out"))
            c->outbound = (int)field_int(v);
        else if (F("end"))
            c->ended = (int)field_int(v);
        else if (F("et"))
            c->ended_ms = field_int(v);
    }
}

static void parse_ticket(const redisReply *r, sta_ticket_t *t)
{
    memset(t, 0, sizeof *t);
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2) {
        const redisReply *f = r->element[i], *v = r->element[i + 1];
        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            continue;
        t->known = 1;
        if (F("k"))
            field_copy(t->kind, sizeof t->kind, v);
        else if (F("q"))
            field_copy(t->queue, sizeof t->queue, v);
        else if (F("a"))
            field_copy(t->agent, sizeof t->agent, v);
        else if (F("s"))
            field_copy(t->status, sizeof t->status, v);
        else if (F("c"))
            t->created_ms = field_int(v);
        else if (F("cnt"))
            t->counted = (int)field_int(v);
        else if (F("d"))
            t->done = (int)field_int(v);
    }
}

static void on_read(void *ctx, redisReply *r, const char *err)
{
    req_t *q = ctx;
    sta_call_t call;
    sta_ticket_t ticket;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
        LOG_WARN("stats state read failed: %s",
                 err ? err : (r && r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply"));
        q->cb(q->ctx, 0, NULL, NULL);
        free(q);
        return;
    }
    parse_call(r->element[0], &call);
    parse_ticket(r->element[1], &ticket);
    q->cb(q->ctx, 1, &call, &ticket);
    free(q);
}

int sta_store_read(sta_store_t *s, const char *call_id, const char *ticket_id, sta_store_read_fn cb,
                   void *ctx)
{
    args_t *a = calloc(1, sizeof *a);
    req_t *q = calloc(1, sizeof *q);
    int rc = -1;
    if (!a || !q)
        goto cleanup;
    arg(a, "EVAL");
    arg(a, "%s", read_script);
    arg(a, "2");
    key(a, s, "c", call_id);
    key(a, s, "t", ticket_id);
    q->cb = cb;
    q->ctx = ctx;
    if (!a->overflow &&
        cmn_redis_command_argv(s->redis, on_read, q, a->argc, a->argv, a->lens) == 0) {
        q = NULL; /* the reply frees it */
        rc = 0;
    }
cleanup:
    free(q);
    free(a);
    return rc;
}

static void on_offset(void *ctx, redisReply *r, const char *err)
{
    req_t *q = ctx;
    if (r && r->type == REDIS_REPLY_STRING)
        q->offset_cb(q->ctx, 1, strtoll(r->str, NULL, 10));
    else if (r && r->type == REDIS_REPLY_NIL)
        q->offset_cb(q->ctx, 1, -1);
    else {
        LOG_WARN("stats offset read failed: %s",
                 err ? err : (r && r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply"));
        q->offset_cb(q->ctx, 0, -1);
    }
    free(q);
}

int sta_store_applied(sta_store_t *s, const char *topic, int32_t partition, sta_store_offset_fn cb,
                      void *ctx)
{
    char key[512], part[16];
    req_t *q = calloc(1, sizeof *q);
    if (!q)
        return -1;
    q->offset_cb = cb;
    q->ctx = ctx;
    snprintf(key, sizeof key, "%sstats:o:%s", s->prefix, topic);
    snprintf(part, sizeof part, "%" PRId32, partition);
    const char *argv[] = {"HGET", key, part};
    if (cmn_redis_command_argv(s->redis, on_offset, q, 3, argv, NULL) < 0) {
        free(q);
        return -1;
    }
    return 0;
}

/* ---- applying ----------------------------------------------------------------- */

static void call_fields(args_t *a, const sta_plan_t *p)
{
    const sta_call_t *c = &p->call;
    if (!p->write_call) {
        arg(a, "0");
        return;
    }
    arg(a, "9");
    arg(a, "q"), arg(a, "%s", c->queue);
    arg(a, "a"), arg(a, "%s", c->agent);
    arg(a, "o"), arg(a, "%s", c->offered);
    arg(a, "k"), arg(a, "%s", c->kind);
    arg(a, "ans"), arg(a, "%d", c->answered);
    arg(a, "off"), arg(a, "%d", c->offered_any);
    arg(a, "out"), arg(a, "%d", c->outbound);
    arg(a, "end"), arg(a, "%d", c->ended);
    arg(a, "et"), arg(a, "%" PRId64, c->ended_ms);
}

/* Each source writes its own fields (sta_plan_t.write_ticket); the
 * created time and agent both may fill in. */
static void ticket_fields(args_t *a, const sta_plan_t *p)
{
    const sta_ticket_t *t = &p->ticket;
    if (!p->write_ticket) {
        arg(a, "0");
        return;
    }
    arg(a, "%d", p->write_ticket == STA_TICKET_CREATION ? 5 : 4);
    arg(a, "a"), arg(a, "%s", t->agent);
    arg(a, "c"), arg(a, "%" PRId64, t->created_ms);
    if (p->write_ticket == STA_TICKET_CREATION) {
        arg(a, "k"), arg(a, "%s", t->kind);
        arg(a, "q"), arg(a, "%s", t->queue);
        arg(a, "cnt"), arg(a, "%d", t->counted);
    } else {
        arg(a, "s"), arg(a, "%s", t->status);
        arg(a, "d"), arg(a, "%d", t->done);
    }
}

static void on_applied(void *ctx, redisReply *r, const char *err)
{
    req_t *q = ctx;
    sta_apply_result_t res = STA_APPLY_FAILED;
    int64_t stored = -1;
    if (r && r->type == REDIS_REPLY_INTEGER && (r->integer == 1 || r->integer == 2)) {
        res = (sta_apply_result_t)r->integer;
        stored = q->offset;
    } else if (r && r->type == REDIS_REPLY_INTEGER && r->integer < 0) {
        res = STA_APPLY_REPLAYED;
        stored = -1 - r->integer;
    } else {
        LOG_WARN("stats apply failed: %s",
                 err ? err : (r && r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply"));
    }
    q->apply_cb(q->ctx, res, stored);
    free(q);
}

int sta_store_apply(sta_store_t *s, const char *topic, int32_t partition, int64_t offset,
                    const sta_plan_t *p, sta_store_apply_fn cb, void *ctx)
{
    args_t *a = calloc(1, sizeof *a);
    req_t *q = calloc(1, sizeof *q);
    char field[4 * (STA_TEXT_MAX + 1) + 32];
    int rc = -1;
    if (!a || !q)
        goto cleanup;
    arg(a, "EVAL");
    arg(a, "%s", apply_script);
    arg(a, "5");
    key(a, s, "o", topic);
    if (p->dedup_id[0])
        arg(a, "%sstats:s:%s:%s", s->prefix, topic, p->dedup_id);
    else
        arg(a, "%s", "");
    key(a, s, "d", p->day);
    key(a, s, "c", p->write_call ? p->call_id : "");
    key(a, s, "t", p->write_ticket ? p->ticket_id : "");
    arg(a, "%" PRId32, partition);
    arg(a, "%" PRId64, offset);
    arg(a, "%ld", s->o.seen_ttl_s);
    arg(a, "%" PRId64, p->day_start_s + 86400 + (int64_t)s->o.retention_days * 86400);
    arg(a, "%ld", s->o.call_ttl_s);
    arg(a, "%ld", s->o.retention_days * 86400); /* a ticket's state lives as long as its days */
    arg(a, "%zu", p->n_cells);
    for (size_t i = 0; i < p->n_cells; i++) {
        if (sta_cell_field(&p->cells[i], field, sizeof field) < 0)
            goto cleanup;
        arg(a, "%s", field);
        arg(a, "%lld", p->cells[i].delta);
    }
    call_fields(a, p);
    ticket_fields(a, p);
    q->apply_cb = cb;
    q->ctx = ctx;
    q->offset = offset;
    if (!a->overflow &&
        cmn_redis_command_argv(s->redis, on_applied, q, a->argc, a->argv, a->lens) == 0) {
        q = NULL;
        rc = 0;
    }
cleanup:
    free(q);
    free(a);
    return rc;
}
