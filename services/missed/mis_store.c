/* The grouper's per-customer state in Redis (mis_store.h). */
#include "mis_store.h"
#include "cmn_log.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mis_store {
    cmn_redis_t *redis;
    char *prefix;
    long ttl_s;
};

typedef struct {
    mis_store_get_fn get;
    mis_store_put_fn put;
    void *ctx;
} pending_t;

mis_store_t *mis_store_new(cmn_redis_t *redis, const char *prefix, long ttl_s)
{
    mis_store_t *s = calloc(1, sizeof *s);
    if (!s || !(s->prefix = strdup(prefix ? prefix : ""))) {
        free(s);
        return NULL;
    }
    s->redis = redis;
    s->ttl_s = ttl_s;
    return s;
}

void mis_store_free(mis_store_t *s)
{
    if (!s)
        return;
    free(s->prefix);
    free(s);
}

/* ---- codec ------------------------------------------------------------------ */

char *mis_store_encode(const mis_state_t *st)
{
    json_t *o = json_object(), *calls = json_array(), *ended = json_array(), *groups = json_array();
    char *text = NULL;
    if (!o || !calls || !ended || !groups)
        goto cleanup;
    for (size_t i = 0; i < st->n_calls; i++) {
        const mis_call_t *c = &st->calls[i];
        if (json_array_append_new(calls, json_pack("{s:s, s:b, s:b, s:b, s:s}", "id", c->call_id,
                                                   "o", c->offered, "a", c->answered, "out",
                                                   c->outbound, "lo", c->last_offered)) < 0)
            goto cleanup;
    }
    for (size_t i = 0; i < st->n_ended; i++)
        if (json_array_append_new(ended, json_string(st->ended[i])) < 0 ||
            json_array_append_new(groups, json_string(st->ended_group[i])) < 0)
            goto cleanup;
    if (json_object_set_new(o, "v", json_integer(1)) < 0 ||
        json_object_set_new(o, "group", json_string(st->group_id)) < 0 ||
        json_object_set_new(o, "count", json_integer(st->count)) < 0 ||
        json_object_set_new(o, "part", json_integer(st->partition)) < 0 ||
        json_object_set_new(o, "off", json_integer(st->offset)) < 0 ||
        json_object_set(o, "calls", calls) < 0 || json_object_set(o, "ended", ended) < 0 ||
        json_object_set(o, "ended_group", groups) < 0)
        goto cleanup;
    text = json_dumps(o, JSON_COMPACT);
cleanup:
    json_decref(o);
    json_decref(calls);
    json_decref(ended);
    json_decref(groups);
    return text;
}

static int get_str(const json_t *o, const char *name, char *out, size_t outsz)
{
    const char *s = json_string_value(json_object_get(o, name));
    if (!s || strlen(s) >= outsz)
        return -1;
    memcpy(out, s, strlen(s) + 1);
    return 0;
}

int mis_store_decode(const char *text, size_t len, mis_state_t *st)
{
    json_t *o = json_loadb(text, len, 0, NULL), *v;
    size_t i;
    int rc = -1;
    mis_state_init(st);
    if (!json_is_object(o) || json_integer_value(json_object_get(o, "v")) != 1 ||
        get_str(o, "group", st->group_id, sizeof st->group_id) < 0)
        goto cleanup;
    st->count = (long)json_integer_value(json_object_get(o, "count"));
    st->partition = (int32_t)json_integer_value(json_object_get(o, "part"));
    st->offset = (int64_t)json_integer_value(json_object_get(o, "off"));
    json_array_foreach(json_object_get(o, "calls"), i, v)
    {
        mis_call_t *c = &st->calls[st->n_calls];
        if (i >= MIS_MAX_CALLS || get_str(v, "id", c->call_id, sizeof c->call_id) < 0 ||
            get_str(v, "lo", c->last_offered, sizeof c->last_offered) < 0)
            goto cleanup;
        c->offered = json_is_true(json_object_get(v, "o"));
        c->answered = json_is_true(json_object_get(v, "a"));
        c->outbound = json_is_true(json_object_get(v, "out"));
        st->n_calls++;
    }
    json_array_foreach(json_object_get(o, "ended"), i, v)
    {
        const char *id = json_string_value(v);
        if (i >= MIS_MAX_ENDED || !id || strlen(id) >= sizeof st->ended[0])
            goto cleanup;
        memcpy(st->ended[st->n_ended++], id, strlen(id) + 1);
    }
    /* absent in a state stored before issue 27: no group (a late answer
     * of those calls then changes nothing, as before) */
    json_array_foreach(json_object_get(o, "ended_group"), i, v)
    {
        const char *id = json_string_value(v);
        if (i >= st->n_ended || !id || strlen(id) >= sizeof st->ended_group[0])
            goto cleanup;
        memcpy(st->ended_group[i], id, strlen(id) + 1);
    }
    rc = 0;
cleanup:
    json_decref(o);
    if (rc < 0)
        mis_state_init(st);
    return rc;
}

/* ---- Redis ------------------------------------------------------------------ */

static void on_get(void *ctx, redisReply *reply, const char *err)
{
    pending_t *p = ctx;
    mis_state_t st;
    mis_state_init(&st);
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
        LOG_WARN("grouper state not read: %s", reply ? reply->str : err);
        p->get(p->ctx, 0, NULL);
    } else {
        if (reply->type == REDIS_REPLY_STRING && mis_store_decode(reply->str, reply->len, &st) < 0)
            LOG_ERROR("grouper state unreadable: read as none (at worst a second ticket)");
        p->get(p->ctx, 1, &st);
    }
    free(p);
}

static void on_put(void *ctx, redisReply *reply, const char *err)
{
    pending_t *p = ctx;
    int ok = reply && reply->type == REDIS_REPLY_STATUS;
    if (!ok)
        LOG_WARN("grouper state not stored: %s", reply ? reply->str : err);
    p->put(p->ctx, ok);
    free(p);
}

int mis_store_get(mis_store_t *s, const char *number, mis_store_get_fn cb, void *ctx)
{
    pending_t *p = calloc(1, sizeof *p);
    if (!p)
        return -1;
    p->get = cb;
    p->ctx = ctx;
    if (cmn_redis_command(s->redis, on_get, p, "GET %smis:cust:%s", s->prefix, number) < 0) {
        free(p);
        return -1;
    }
    return 0;
}

int mis_store_put(mis_store_t *s, const char *number, const mis_state_t *st, mis_store_put_fn cb,
                  void *ctx)
{
    char *text = mis_store_encode(st);
    pending_t *p = text ? calloc(1, sizeof *p) : NULL;
    int rc = -1;
    if (!p)
        goto cleanup;
    p->put = cb;
    p->ctx = ctx;
    if (cmn_redis_command(s->redis, on_put, p, "SET %smis:cust:%s %s EX %ld", s->prefix, number,
                          text, s->ttl_s) < 0) {
        free(p);
        goto cleanup;
    }
    rc = 0;
cleanup:
    free(text);
    return rc;
}
