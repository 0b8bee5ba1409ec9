/* The contact mirror; see tkt_mirror.h and docs/contact-mirror.md. */
#include "tkt_mirror.h"

#include "cmn_log.h"
#include "cmn_metrics.h"
#include "cmn_time.h"
#include "tkt_rules.h" /* tkt_contact_newer: R-C4's order */

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TICK_MS 100
#define WANT_PX_MS 1000
#define KEY_MAX 320

/* One look-up (its copy of the question). */
typedef struct lookup {
    tkt_mirror_t *m;
    tkt_crm_t *crm;
    char number[TKT_PHONE_MAX * 2];
    char lookup_phone[TKT_PHONE_MAX * 2];
    tkt_prio_t prio;
    tkt_mirror_purpose_t purpose;
    int64_t asked_ms;
    tkt_crm_cb cb;
    void *ctx;
    struct lookup *next; /* waiting for a pass */
} lookup_t;

/* One page being written to Redis. */
typedef struct {
    tkt_mirror_t *m;
    char *cursor;
    int end_of_stream;
    int64_t asked_ms; /* when the page's request was made: the watermark */
    size_t pending;
    int failed;
} page_t;

struct tkt_mirror {
    tkt_mirror_cfg_t cfg;
    char prefix[128]; /* "<topic prefix>tkt:mirror:" */
    char *instance_id;
    struct event *tick;
    int closed;
    /* the lease and the feed (the holder only) */
    int holder, lease_busy, state_loaded, export_busy, pass_open, wanted;
    int64_t lease_renew_at, next_request_at, last_pass_at;
    char *cursor;
    /* what this replica knows of the shared state (metrics, waiters) */
    int complete;
    int64_t watermark_ms;
    double size;
    int state_busy;
    lookup_t *waiting;
    tkt_crm_result_t scratch; /* the answer handed to a look-up's callback */
    cmn_metric_t *m_hit, *m_none, *m_search_unknown, *m_search_window, *m_waited, *m_requests,
        *m_failures, *m_noted;
};

/* KEYS: n:<number> state. Returns {complete, watermark_ms, {contact JSON...}}. */
static const char lookup_script[] =
    "local s = redis.call('HMGET', KEYS[2], 'complete', 'watermark_ms') "
    "return {s[1] or '0', s[2] or '0', redis.call('HVALS', KEYS[1])}";

/* ARGV: prefix, contact id, mode ("set": its numbers are the rest; "add":
 * add the rest; "gone": out), contact JSON, numbers... */
static const char apply_script[] =
    "local p, id, mode = ARGV[1], ARGV[2], ARGV[3] "
    "local old = redis.call('HGET', p .. 'u', id) "
    "local keep = {} "
    "if old then for n in string.gmatch(old, '%S+') do "
    "  if mode == 'add' then keep[#keep + 1] = n else redis.call('HDEL', p .. 'n:' .. n, id) end "
    "end end "
    "if mode == 'gone' then redis.call('HDEL', p .. 'u', id) return 0 end "
    "for i = 5, #ARGV do "
    "  redis.call('HSET', p .. 'n:' .. ARGV[i], id, ARGV[4]) "
    "  local dup = false for _, k in ipairs(keep) do if k == ARGV[i] then dup = true end end "
    "  if not dup then keep[#keep + 1] = ARGV[i] end "
    "end "
    "if #keep == 0 then redis.call('HDEL', p .. 'u', id) return 0 end "
    "redis.call('HSET', p .. 'u', id, table.concat(keep, ' ')) return 1";

/* KEYS: lease. ARGV: holder, ms. 1 while ours (renewed), else 0. */
static const char renew_script[] = "if redis.call('GET', KEYS[1]) == ARGV[1] then "
                                   "redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end return 0";

static void key(const tkt_mirror_t *m, char *out, size_t outsz, const char *name)
{
    snprintf(out, outsz, "%s%s", m->prefix, name);
}

/* ------------------------------------------------------------ answering */

static void answer_search(lookup_t *l)
{
    l->crm->ops->find_contacts(l->crm, l->lookup_phone, l->prio, l->cb, l->ctx);
    free(l);
}

static void parse_contact(json_t *j, tkt_crm_contact_t *c)
{
    memset(c, 0, sizeof *c);
    const char *id = json_string_value(json_object_get(j, "id")),
               *name = json_string_value(json_object_get(j, "name")),
               *email = json_string_value(json_object_get(j, "email"));
    snprintf(c->id, sizeof c->id, "%s", id ? id : "");
    snprintf(c->name, sizeof c->name, "%s", name ? name : "");
    snprintf(c->email, sizeof c->email, "%s", email ? email : "");
    c->created_at_ms = (int64_t)json_integer_value(json_object_get(j, "created_at_ms"));
}

/* Keeps res->contacts newest first (R-C4 picks the most recently created;
 * the search answered newest first too): c goes in its place, the oldest
 * falls off a full list. */
static void keep_newest(tkt_crm_result_t *res, const tkt_crm_contact_t *c)
{
    size_t at = res->n_contacts;
    while (at > 0 && tkt_contact_newer(c->created_at_ms, c->id, res->contacts[at - 1].created_at_ms,
                                       res->contacts[at - 1].id))
        at--;
    if (at >= TKT_CRM_MAX_LIST)
        return;
    size_t last = res->n_contacts < TKT_CRM_MAX_LIST ? res->n_contacts : TKT_CRM_MAX_LIST - 1;
    memmove(&res->contacts[at + 1], &res->contacts[at], (last - at) * sizeof res->contacts[0]);
    res->contacts[at] = *c;
    if (res->n_contacts < TKT_CRM_MAX_LIST)
        res->n_contacts++;
}

/* The mirror's answer: the contacts in reply->element[2] (0 for NONE). */
static void answer_mirror(lookup_t *l, const redisReply *list)
{
    tkt_crm_result_t *res = &l->m->scratch;
    tkt_crm_contact_t c;
    memset(res, 0, sizeof *res);
    res->ok = 1;
    res->http_status = 200;
    for (size_t i = 0; list && i < list->elements; i++) {
        const redisReply *e = list->element[i];
        json_t *j = e->type == REDIS_REPLY_STRING ? json_loadb(e->str, e->len, 0, NULL) : NULL;
        if (j && json_string_value(json_object_get(j, "id"))) {
            parse_contact(j, &c);
            keep_newest(res, &c);
        }
        json_decref(j);
    }
    tkt_crm_cb cb = l->cb;
    void *ctx = l->ctx;
    free(l);
    cb(ctx, res);
}

static int ask_redis(lookup_t *l);

static void on_lookup(void *ctx, redisReply *r, const char *err)
{
    lookup_t *l = ctx;
    tkt_mirror_t *m = l->m;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[2]->type != REDIS_REPLY_ARRAY) {
        LOG_WARN("contact mirror: look-up not read (%s): searching",
                 err ? err : "unexpected reply");
        cmn_metric_add(m->m_search_unknown, 1);
        answer_search(l);
        return;
    }
    tkt_mirror_view_t v = {.complete = r->element[0]->str && strcmp(r->element[0]->str, "1") == 0,
                           .watermark_ms = r->element[1]->str ? atoll(r->element[1]->str) : 0,
                           .n_contacts = r->element[2]->elements};
    m->complete = v.complete;
    if (v.watermark_ms > m->watermark_ms)
        m->watermark_ms = v.watermark_ms;
    tkt_mirror_purpose_t purpose = m->closed ? TKT_MIRROR_FOR_CREATE_NOW : l->purpose;
    switch (tkt_mirror_vouch(&m->cfg.rule, &v, purpose, cmn_time_now_ms(), l->asked_ms)) {
    case TKT_MIRROR_HIT:
        cmn_metric_add(m->m_hit, 1);
        answer_mirror(l, r->element[2]);
        return;
    case TKT_MIRROR_NONE:
        cmn_metric_add(m->m_none, 1);
        answer_mirror(l, NULL);
        return;
    case TKT_MIRROR_WAIT: /* until the next pass (tick) */
        l->next = m->waiting;
        m->waiting = l;
        return;
    case TKT_MIRROR_SEARCH:
    default:
        cmn_metric_add(v.complete && v.n_contacts == 0 &&
                               cmn_time_now_ms() - v.watermark_ms <= m->cfg.rule.fresh_ms
                           ? m->m_search_window
                           : m->m_search_unknown,
                       1);
        answer_search(l);
        return;
    }
}

static int ask_redis(lookup_t *l)
{
    char nkey[KEY_MAX], skey[KEY_MAX], n[64];
    snprintf(n, sizeof n, "n:%s", l->number);
    key(l->m, nkey, sizeof nkey, n);
    key(l->m, skey, sizeof skey, "state");
    const char *argv[] = {"EVAL", lookup_script, "2", nkey, skey};
    return cmn_redis_command_argv(l->m->cfg.redis, on_lookup, l, 5, argv, NULL);
}

/* Redis unreachable at once: the search, still from the loop. */
static void on_search_later(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    answer_search(arg);
}

void tkt_mirror_find(tkt_mirror_t *m, tkt_crm_t *crm, const char *number, const char *lookup_phone,
                     tkt_prio_t prio, tkt_mirror_purpose_t purpose, tkt_crm_cb cb, void *ctx)
{
    lookup_t *l = m && !m->closed && number && *number ? calloc(1, sizeof *l) : NULL;
    if (!l || strlen(number) >= sizeof l->number) {
        free(l);
        crm->ops->find_contacts(crm, lookup_phone, prio, cb, ctx);
        return;
    }
    *l = (lookup_t){.m = m,
                    .crm = crm,
                    .prio = prio,
                    .purpose = purpose,
                    .asked_ms = cmn_time_now_ms(),
                    .cb = cb,
                    .ctx = ctx};
    snprintf(l->number, sizeof l->number, "%s", number);
    snprintf(l->lookup_phone, sizeof l->lookup_phone, "%s", lookup_phone ? lookup_phone : "");
    if (ask_redis(l) == 0)
        return;
    cmn_metric_add(m->m_search_unknown, 1);
    if (event_base_once(m->cfg.base, -1, EV_TIMEOUT, on_search_later, l, NULL) < 0)
        answer_search(l); /* the adapter itself calls back from the loop */
}

/* ------------------------------------------------------------- writing */

static void on_applied(void *ctx, redisReply *r, const char *err);

/* A contact's numbers in E.164 (those the country's rules can read). */
static size_t numbers_of(const tkt_mirror_t *m, const tkt_crm_change_t *c,
                         char out[][TKT_PHONE_MAX * 2])
{
    size_t n = 0;
    const cmn_phone_opts_t opts = {.country = m->cfg.country, .format = m->cfg.stored_format};
    for (size_t i = 0; i < c->n_phones; i++) {
        if (cmn_phone_normalise(c->phones[i], &opts, out[n], sizeof out[n]) != CMN_PHONE_OK)
            continue;
        int dup = 0;
        for (size_t k = 0; k < n; k++)
            dup |= strcmp(out[k], out[n]) == 0;
        if (!dup)
            n++;
    }
    return n;
}

static int apply(tkt_mirror_t *m, const tkt_crm_contact_t *c, const char *mode,
                 char numbers[][TKT_PHONE_MAX * 2], size_t n, cmn_redis_reply_fn cb, void *ctx)
{
    json_t *j = json_pack("{s:s, s:s, s:s, s:I}", "id", c->id, "name", c->name, "email", c->email,
                          "created_at_ms", (json_int_t)c->created_at_ms);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    const char *argv[4 + 4 + TKT_CRM_MAX_PHONES] = {
        "EVAL", apply_script, "0", m->prefix, c->id, mode, text ? text : "{}"};
    int argc = 7;
    for (size_t i = 0; i < n && i < TKT_CRM_MAX_PHONES; i++)
        argv[argc++] = numbers[i];
    int rc = text ? cmn_redis_command_argv(m->cfg.redis, cb, ctx, argc, argv, NULL) : -1;
    free(text);
    return rc;
}

static void page_done(page_t *pg);

static void on_applied(void *ctx, redisReply *r, const char *err)
{
    page_t *pg = ctx;
    if (!r || r->type == REDIS_REPLY_ERROR) {
        LOG_WARN("contact mirror: a contact not stored (%s)", err ? err : r->str);
        pg->failed = 1;
    }
    if (--pg->pending == 0)
        page_done(pg);
}

static void on_state_saved(void *ctx, redisReply *r, const char *err)
{
    page_t *pg = ctx;
    tkt_mirror_t *m = pg->m;
    m->export_busy = 0;
    if (!r || r->type == REDIS_REPLY_ERROR) {
        LOG_WARN("contact mirror: state not stored (%s)", err ? err : r->str);
    } else {
        free(m->cursor);
        m->cursor = pg->cursor;
        pg->cursor = NULL;
        m->pass_open = !pg->end_of_stream;
        if (pg->end_of_stream) {
            if (!m->complete)
                LOG_INFO("contact mirror: first pass complete");
            m->complete = 1;
            m->watermark_ms = pg->asked_ms;
            m->last_pass_at = cmn_time_mono_ms();
        }
    }
    free(pg->cursor);
    free(pg);
}

/* Every contact of the page is written: the cursor (and, at the end of
 * the stream, the watermark) moves only now, so a page half written is
 * read again. */
static void page_done(page_t *pg)
{
    tkt_mirror_t *m = pg->m;
    char skey[KEY_MAX], wm[32];
    key(m, skey, sizeof skey, "state");
    snprintf(wm, sizeof wm, "%lld", (long long)pg->asked_ms);
    int rc = -1;
    if (!pg->failed && !m->closed) {
        if (pg->end_of_stream) {
            const char *argv[] = {"HSET",     skey, "cursor",       pg->cursor,
                                  "complete", "1",  "watermark_ms", wm};
            rc = cmn_redis_command_argv(m->cfg.redis, on_state_saved, pg, 8, argv, NULL);
        } else {
            const char *argv[] = {"HSET", skey, "cursor", pg->cursor};
            rc = cmn_redis_command_argv(m->cfg.redis, on_state_saved, pg, 4, argv, NULL);
        }
    }
    if (rc < 0) {
        m->export_busy = 0;
        free(pg->cursor);
        free(pg);
    }
}

static void on_changes(void *ctx, const tkt_crm_result_t *res)
{
    page_t *pg = ctx;
    tkt_mirror_t *m = pg->m;
    /* The gap counts from the answer: the CRM saw this request at the
     * latest now, so two requests never reach it closer than the gap,
     * however long this one queued behind the rate limiter. */
    m->next_request_at = cmn_time_mono_ms() + m->cfg.min_gap_ms;
    if (!res->ok || m->closed) {
        if (!m->closed) {
            cmn_metric_add(m->m_failures, 1);
            LOG_WARN("contact mirror: export failed (%s)", res->error);
        }
        m->export_busy = 0;
        free(pg);
        return;
    }
    if (!(pg->cursor = strdup(res->cursor))) {
        m->export_busy = 0;
        free(pg);
        return;
    }
    pg->end_of_stream = res->end_of_stream;
    pg->pending = 1; /* held until every write is sent */
    for (size_t i = 0; i < res->n_changes; i++) {
        const tkt_crm_change_t *c = &res->changes[i];
        char numbers[TKT_CRM_MAX_PHONES][TKT_PHONE_MAX * 2];
        size_t n = c->gone ? 0 : numbers_of(m, c, numbers);
        pg->pending++;
        if (apply(m, &c->contact, n ? "set" : "gone", numbers, n, on_applied, pg) < 0) {
            pg->pending--;
            pg->failed = 1;
        }
    }
    if (--pg->pending == 0)
        page_done(pg);
}

void tkt_mirror_note_created(tkt_mirror_t *m, const char *number, const char *contact_id,
                             const char *name)
{
    if (!m || m->closed || !number || !*number || !contact_id || !*contact_id)
        return;
    tkt_crm_contact_t c = {0};
    char numbers[1][TKT_PHONE_MAX * 2];
    snprintf(c.id, sizeof c.id, "%s", contact_id);
    snprintf(c.name, sizeof c.name, "%s", name ? name : "");
    c.created_at_ms = cmn_time_now_ms();
    snprintf(numbers[0], sizeof numbers[0], "%s", number);
    if (apply(m, &c, "add", numbers, 1, NULL, NULL) == 0)
        cmn_metric_add(m->m_noted, 1);
}

/* ------------------------------------------------------- lease and feed */

static void on_lease(void *ctx, redisReply *r, const char *err)
{
    tkt_mirror_t *m = ctx;
    (void)err;
    m->lease_busy = 0;
    int ours = r && ((r->type == REDIS_REPLY_STATUS && strcmp(r->str, "OK") == 0) ||
                     (r->type == REDIS_REPLY_INTEGER && r->integer == 1));
    if (ours != m->holder)
        LOG_INFO("contact mirror: %s the export lease", ours ? "holding" : "lost");
    if (!ours)
        m->state_loaded = 0;
    m->holder = ours;
}

static void on_state(void *ctx, redisReply *r, const char *err)
{
    tkt_mirror_t *m = ctx;
    (void)err;
    m->state_busy = 0;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 4)
        return;
    const redisReply *cur = r->element[0], *done = r->element[1], *wm = r->element[2],
                     *size = r->element[3];
    m->complete = done->str && strcmp(done->str, "1") == 0;
    if (wm->str && atoll(wm->str) > m->watermark_ms)
        m->watermark_ms = atoll(wm->str);
    m->size = size->type == REDIS_REPLY_INTEGER ? (double)size->integer : m->size;
    if (m->holder && !m->state_loaded) {
        free(m->cursor);
        m->cursor = cur->str ? strdup(cur->str) : NULL;
        m->state_loaded = 1;
    }
}

/* KEYS: state u want. {cursor, complete, watermark_ms, size} and want. */
static const char state_script[] =
    "local s = redis.call('HMGET', KEYS[1], 'cursor', 'complete', 'watermark_ms') "
    "return {s[1] or false, s[2] or '0', s[3] or '0', redis.call('HLEN', KEYS[2]), "
    "redis.call('EXISTS', KEYS[3])}";

static void on_state_want(void *ctx, redisReply *r, const char *err)
{
    tkt_mirror_t *m = ctx;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 5) {
        m->wanted = r->element[4]->type == REDIS_REPLY_INTEGER && r->element[4]->integer == 1;
        r->elements = 4; /* on_state reads the first four */
        on_state(ctx, r, err);
        r->elements = 5;
        return;
    }
    on_state(ctx, r, err);
}

static void read_state(tkt_mirror_t *m)
{
    char skey[KEY_MAX], ukey[KEY_MAX], wkey[KEY_MAX];
    if (m->state_busy)
        return;
    key(m, skey, sizeof skey, "state");
    key(m, ukey, sizeof ukey, "u");
    key(m, wkey, sizeof wkey, "want");
    const char *argv[] = {"EVAL", state_script, "3", skey, ukey, wkey};
    if (cmn_redis_command_argv(m->cfg.redis, on_state_want, m, 6, argv, NULL) == 0)
        m->state_busy = 1;
}

static void keep_lease(tkt_mirror_t *m, int64_t now)
{
    char lkey[KEY_MAX], ms[24];
    if (m->lease_busy || now < m->lease_renew_at)
        return;
    key(m, lkey, sizeof lkey, "lease");
    snprintf(ms, sizeof ms, "%ld", m->cfg.lease_ms);
    int rc;
    if (m->holder) {
        const char *argv[] = {"EVAL", renew_script, "1", lkey, m->instance_id, ms};
        rc = cmn_redis_command_argv(m->cfg.redis, on_lease, m, 6, argv, NULL);
    } else {
        const char *argv[] = {"SET", lkey, m->instance_id, "NX", "PX", ms};
        rc = cmn_redis_command_argv(m->cfg.redis, on_lease, m, 6, argv, NULL);
    }
    if (rc == 0) {
        m->lease_busy = 1;
        m->lease_renew_at = now + m->cfg.lease_ms / 3;
    }
}

/* The holder's next export request, when the CRM's export limit allows
 * one and something asks for it: the first pass, a pass under way, a
 * creation waiting (here or on another replica: `want`), or the interval. */
static void maybe_export(tkt_mirror_t *m, int64_t now)
{
    if (!m->holder || !m->state_loaded || m->export_busy || now < m->next_request_at)
        return;
    int due = !m->complete || m->pass_open || m->waiting || m->wanted ||
              now - m->last_pass_at >= m->cfg.interval_ms;
    if (!due)
        return;
    page_t *pg = calloc(1, sizeof *pg);
    if (!pg)
        return;
    pg->m = m;
    pg->asked_ms = cmn_time_now_ms(); /* before the request: the CRM answers as of later */
    m->export_busy = 1;
    m->next_request_at = now + m->cfg.min_gap_ms;
    cmn_metric_add(m->m_requests, 1);
    m->cfg.crm->ops->contacts_changed(m->cfg.crm, m->cursor, on_changes, pg);
}

/* Waiting creations: asked again once a pass ended after they were asked
 * (then the rule vouches, or searches), or at their deadline. */
static void serve_waiting(tkt_mirror_t *m)
{
    int64_t now = cmn_time_now_ms();
    lookup_t **pp = &m->waiting;
    int still = 0;
    while (*pp) {
        lookup_t *l = *pp;
        if (m->watermark_ms >= l->asked_ms || now - l->asked_ms >= m->cfg.rule.create_wait_ms) {
            *pp = l->next;
            cmn_metric_add(m->m_waited, 1);
            l->purpose = TKT_MIRROR_FOR_CREATE_NOW; /* no second wait */
            if (ask_redis(l) < 0)
                answer_search(l);
            continue;
        }
        still = 1;
        pp = &l->next;
    }
    if (still) { /* tells the holder, wherever it runs */
        char wkey[KEY_MAX], px[16];
        key(m, wkey, sizeof wkey, "want");
        snprintf(px, sizeof px, "%d", WANT_PX_MS);
        const char *argv[] = {"SET", wkey, "1", "PX", px};
        if (cmn_redis_command_argv(m->cfg.redis, NULL, NULL, 5, argv, NULL) < 0)
            LOG_DEBUG("contact mirror: want not set (redis)");
    }
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    tkt_mirror_t *m = arg;
    int64_t now = cmn_time_mono_ms();
    if (m->closed || !cmn_redis_connected(m->cfg.redis))
        return;
    keep_lease(m, now);
    read_state(m);
    maybe_export(m, now);
    serve_waiting(m);
}

/* ------------------------------------------------------------- metrics */

static double size_of(void *ctx)
{
    return ((tkt_mirror_t *)ctx)->size;
}

static double age_of(void *ctx)
{
    const tkt_mirror_t *m = ctx;
    return m->watermark_ms > 0 ? (double)(cmn_time_now_ms() - m->watermark_ms) / 1000.0 : -1;
}

static double complete_of(void *ctx)
{
    return ((tkt_mirror_t *)ctx)->complete;
}

static void metrics(tkt_mirror_t *m)
{
    const char *f = "ticket_contact_mirror_lookups_total",
               *h = "Look-ups by phone and who answered them (issue 26 item 3)";
    m->m_hit = cmn_metrics_counter(f, h, "answer=\"mirror_hit\"");
    m->m_none = cmn_metrics_counter(f, h, "answer=\"mirror_none\"");
    m->m_search_window = cmn_metrics_counter(f, h, "answer=\"search_window\"");
    m->m_search_unknown = cmn_metrics_counter(f, h, "answer=\"search_cannot_vouch\"");
    m->m_waited = cmn_metrics_counter("ticket_contact_mirror_waited_total",
                                      "Creations' misses that waited for the next pass", NULL);
    m->m_requests = cmn_metrics_counter("ticket_contact_mirror_export_requests_total",
                                        "Export requests made by this replica", NULL);
    m->m_failures = cmn_metrics_counter("ticket_contact_mirror_export_failures_total",
                                        "Export requests that failed", NULL);
    m->m_noted = cmn_metrics_counter("ticket_contact_mirror_created_total",
                                     "Contacts callbus created, put in the mirror at once", NULL);
    cmn_metrics_gauge_fn("ticket_contact_mirror_size", "Contacts with a number in the mirror", NULL,
                         size_of, m);
    cmn_metrics_gauge_fn("ticket_contact_mirror_age_seconds",
                         "Seconds since the mirror's watermark (-1: never complete)", NULL, age_of,
                         m);
    cmn_metrics_gauge_fn("ticket_contact_mirror_complete", "1 once a first pass has ended", NULL,
                         complete_of, m);
}

tkt_mirror_t *tkt_mirror_new(const tkt_mirror_cfg_t *cfg)
{
    tkt_mirror_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->cfg = *cfg;
    snprintf(m->prefix, sizeof m->prefix,
             "%stkt:mirror:", cfg->topic_prefix ? cfg->topic_prefix : "");
    struct timeval tv = {0, TICK_MS * 1000};
    char host[128] = "", holder[256];
    if (gethostname(host, sizeof host - 1) < 0)
        snprintf(host, sizeof host, "?");
    /* unique per process: two replicas never both think they hold it */
    snprintf(holder, sizeof holder, "%s/%s/%ld", cfg->instance_id ? cfg->instance_id : "", host,
             (long)getpid());
    if (!(m->instance_id = strdup(holder)) ||
        !(m->tick = event_new(cfg->base, -1, EV_PERSIST, on_tick, m)) ||
        event_add(m->tick, &tv) < 0) {
        tkt_mirror_free(m);
        return NULL;
    }
    metrics(m);
    return m;
}

void tkt_mirror_close(tkt_mirror_t *m)
{
    if (!m || m->closed)
        return;
    m->closed = 1;
    if (m->tick)
        event_del(m->tick);
    while (m->waiting) {
        lookup_t *l = m->waiting;
        m->waiting = l->next;
        tkt_crm_result_t *res = &m->scratch;
        memset(res, 0, sizeof *res);
        snprintf(res->error, sizeof res->error, "shut down");
        tkt_crm_cb cb = l->cb;
        void *ctx = l->ctx;
        free(l);
        cb(ctx, res);
    }
}

void tkt_mirror_free(tkt_mirror_t *m)
{
    if (!m)
        return;
    tkt_mirror_close(m);
    if (m->tick)
        event_free(m->tick);
    free(m->cursor);
    free(m->instance_id);
    free(m);
}
