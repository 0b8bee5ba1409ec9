/* Agent streams of this replica, the bus reader, catch-up reads. */
#include "pop_hub.h"

#include "cmn_http.h"
#include "cmn_log.h"
#include "cmn_metrics.h"
#include "cmn_sse.h"
#include "pop_session.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 4096
#define ID_MAX 48

typedef struct client {
    struct client *next;     /* in its bucket */
    struct client *all_next; /* every client, for keep-alives and shutdown */
    struct client **all_prev;
    pop_hub_t *hub;
    cmn_http_stream_t *stream; /* NULL once gone */
    char *agent;
    char last[ID_MAX];   /* the last stream id written */
    char session[65];    /* the session's id (token hash): its end ends this stream */
    struct event *check; /* when to look whether the session still lives */
    int catching;        /* a catch-up read is outstanding */
    int recatch;         /* the bus brought the agent a pop meanwhile: read again */
    int refs;            /* 1 for the stream + outstanding reads */
    long slot;           /* the second of the keep-alive interval it is pinged in */
} client_t;

struct pop_hub {
    struct event_base *base;
    pop_store_t *store;
    cmn_redis_t *bus;
    pop_hub_opts_t o;
    client_t *buckets[BUCKETS];
    client_t *all;
    size_t n;
    struct event *keepalive, *bus_retry;
    long ka_tick, ka_next_slot; /* the keep-alive second now; the slot the next stream gets */
    char bus_last[ID_MAX];
    int bus_reading, bus_started, closing;
    cmn_metric_t *m_delivered, *m_replayed, *m_cut, *m_session_gone, *m_replaced;
};

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static void parse_id(const char *s, uint64_t *ms, uint64_t *seq)
{
    char *end;
    *ms = strtoull(s, &end, 10);
    *seq = *end == '-' ? strtoull(end + 1, NULL, 10) : 0;
}

int pop_hub_id_cmp(const char *a, const char *b)
{
    uint64_t am, as, bm, bs;
    parse_id(a, &am, &as);
    parse_id(b, &bm, &bs);
    if (am != bm)
        return am < bm ? -1 : 1;
    return as < bs ? -1 : as > bs;
}

static void client_unref(client_t *c)
{
    if (--c->refs > 0)
        return;
    free(c->agent);
    free(c);
}

/* Off the hub (the stream ended or its client left). */
static void client_detach(client_t *c)
{
    pop_hub_t *h = c->hub;
    client_t **p = &h->buckets[hash(c->agent) % BUCKETS];
    while (*p && *p != c)
        p = &(*p)->next;
    if (*p)
        *p = c->next;
    *c->all_prev = c->all_next;
    if (c->all_next)
        c->all_next->all_prev = c->all_prev;
    c->stream = NULL;
    event_free(c->check);
    c->check = NULL;
    h->n--;
    client_unref(c);
}

static void client_end(client_t *c)
{
    cmn_http_stream_end(c->stream);
    client_detach(c);
}

static void on_client_gone(void *ctx)
{
    client_detach(ctx);
}

/* Writes one pop; a client that does not read is cut off (it reconnects
 * with Last-Event-ID and catches up from Redis). Returns 0, or -1 when the
 * client was cut off. */
static int client_write(client_t *c, const char *id, const char *pop)
{
    char *text = cmn_sse_event(id, "pop", pop);
    if (!text)
        return 0; /* no memory now: the next catch-up or reconnect brings it */
    size_t unread = cmn_http_stream_write(c->stream, text, strlen(text));
    free(text);
    snprintf(c->last, sizeof c->last, "%s", id);
    cmn_metric_add(c->hub->m_delivered, 1);
    if (unread <= c->hub->o.max_unread)
        return 0;
    LOG_WARN("pop stream of agent %s: %zu bytes unread; cut off (it will catch up)", c->agent,
             unread);
    cmn_metric_add(c->hub->m_cut, 1);
    client_end(c);
    return -1;
}

static void catch_up(client_t *c);

/* ---- the session's end ------------------------------------------------ */

/* Next look at the session: when its TTL runs out, or after the check
 * interval, whichever comes first (a heartbeat may have extended it; a
 * revocation nobody announced shows only as its key gone). ttl_s < 0:
 * unknown (Redis did not say). 0 is Redis' TTL for less than half a
 * second left: look again in a second, not a whole interval later (a
 * stream outlived its expired session by up to the interval). */
static void check_later(client_t *c, long ttl_s)
{
    long s = c->hub->o.session_check_s;
    if (ttl_s >= 0 && ttl_s < s)
        s = ttl_s;
    struct timeval tv = {s > 0 ? s : 1, 0};
    event_add(c->check, &tv); /* cannot fail for a timer once created */
}

/* TTL reply: -2 once the session expired or was revoked: its token is dead,
 * so is its stream (the page's reconnect then gets its 401). */
static void on_session_ttl(void *ctx, redisReply *r, const char *err)
{
    client_t *c = ctx;
    if (!c->stream) {
        client_unref(c);
        return;
    }
    if (err || !r || r->type != REDIS_REPLY_INTEGER) {
        /* Redis unreachable: the stream stays; the next check decides. */
        check_later(c, -1);
        client_unref(c);
        return;
    }
    if (r->integer == -2) {
        LOG_INFO("pop stream of agent %s: its session expired or was revoked; ending it", c->agent);
        cmn_metric_add(c->hub->m_session_gone, 1);
        client_end(c);
        client_unref(c);
        return;
    }
    check_later(c, (long)r->integer);
    client_unref(c);
}

static void on_check(evutil_socket_t fd, short what, void *arg)
{
    client_t *c = arg;
    c->refs++;
    if (pop_session_ttl(c->hub->store, c->session, on_session_ttl, c) < 0) {
        c->refs--;
        check_later(c, -1);
    }
}

/* XRANGE reply: [[id, [field, value...]], ...]. */
static void on_caught_up(void *ctx, redisReply *r, const char *err)
{
    client_t *c = ctx;
    size_t n = 0;
    c->catching = 0;
    if (!c->stream) {
        client_unref(c);
        return;
    }
    if (err || !r || r->type != REDIS_REPLY_ARRAY) {
        LOG_WARN("pop stream of agent %s: catch-up failed (%s); ending it so the page "
                 "reconnects",
                 c->agent, err ? err : (r && r->type == REDIS_REPLY_ERROR ? r->str : "?"));
        client_end(c);
        client_unref(c);
        return;
    }
    for (n = 0; n < r->elements; n++) {
        const redisReply *e = r->element[n];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2)
            continue;
        const char *pop = pop_store_field(e->element[1], "pop");
        if (pop_hub_id_cmp(e->element[0]->str, c->last) <= 0 || !*pop)
            continue;
        cmn_metric_add(c->hub->m_replayed, 1);
        if (client_write(c, e->element[0]->str, pop) < 0) {
            client_unref(c);
            return;
        }
    }
    int again = c->recatch || (long)r->elements >= c->hub->o.history;
    c->recatch = 0;
    if (again)
        catch_up(c);
    client_unref(c);
}

static void catch_up(client_t *c)
{
    c->catching = 1;
    c->refs++;
    if (pop_store_read(c->hub->store, c->agent, c->last, c->hub->o.history, on_caught_up, c) < 0) {
        c->refs--;
        c->catching = 0;
        LOG_WARN("pop stream of agent %s: Redis unavailable; ending it", c->agent);
        client_end(c);
    }
}

/* ---- streams per session and agent ------------------------------------ */

/* Tells a stream a newer one took its place, then ends it. The page stops
 * reconnecting on it: two tabs past the cap do not take turns ending each
 * other; a half-dead connection (a reload over flaky Wi-Fi) never reads it. */
static void client_replace(client_t *c)
{
    static const char replaced[] = "event: replaced\ndata: {\"reason\":\"a newer stream of this "
                                   "agent took its place\"}\n\n";
    cmn_http_stream_write(c->stream, replaced, sizeof replaced - 1);
    cmn_metric_add(c->hub->m_replaced, 1);
    LOG_INFO("pop stream of agent %s: replaced by a newer one (per-session or per-agent cap)",
             c->agent);
    client_end(c);
}

/* Makes room for one more stream of agent/session: ends the oldest streams
 * of the session, then of the agent, past their caps. A bucket lists its
 * clients newest first, so the last match is the oldest. */
static void make_room(pop_hub_t *h, const char *agent, const char *session)
{
    for (;;) {
        long n_agent = 0, n_session = 0;
        client_t *oldest_agent = NULL, *oldest_session = NULL;
        for (client_t *c = h->buckets[hash(agent) % BUCKETS]; c; c = c->next) {
            if (strcmp(c->agent, agent) != 0)
                continue;
            n_agent++;
            oldest_agent = c;
            if (strcmp(c->session, session) == 0) {
                n_session++;
                oldest_session = c;
            }
        }
        if (n_session >= h->o.max_per_session)
            client_replace(oldest_session);
        else if (n_agent >= h->o.max_per_agent)
            client_replace(oldest_agent);
        else
            return;
    }
}

void pop_hub_attach(pop_hub_t *h, struct evhttp_request *req, const char *agent,
                    const char *session, const char *after, long ttl_s)
{
    if (h->closing) {
        cmn_http_reply_unavailable(req, 1, "shutting down");
        return;
    }
    make_room(h, agent, session);
    if ((long)h->n >= h->o.max_streams) {
        cmn_http_reply_unavailable(req, 5, "too many open pop streams on this replica");
        return;
    }
    client_t *c = calloc(1, sizeof *c);
    if (!c || !(c->agent = strdup(agent)) || !(c->check = evtimer_new(h->base, on_check, c))) {
        if (c)
            free(c->agent);
        free(c);
        cmn_http_reply_unavailable(req, 1, "out of memory");
        return;
    }
    c->hub = h;
    c->refs = 1;
    c->slot = h->ka_next_slot++ % h->o.keepalive_s;
    snprintf(c->last, sizeof c->last, "%s", after);
    snprintf(c->session, sizeof c->session, "%s", session);
    if (!(c->stream = cmn_http_stream_start(req, "text/event-stream", on_client_gone, c))) {
        event_free(c->check);
        free(c->agent);
        free(c);
        return;
    }
    client_t **b = &h->buckets[hash(agent) % BUCKETS];
    c->next = *b;
    *b = c;
    c->all_next = h->all;
    c->all_prev = &h->all;
    if (h->all)
        h->all->all_prev = &c->all_next;
    h->all = c;
    h->n++;
    /* Tell the browser how long to wait before reconnecting, and that the
     * stream is open (a comment: no event). */
    cmn_http_stream_write(c->stream, "retry: 1000\n: open\n\n", 20);
    check_later(c, ttl_s);
    catch_up(c);
}

/* ---- the bus ---------------------------------------------------------- */

static void bus_read(pop_hub_t *h);

static void bus_later(pop_hub_t *h)
{
    static const struct timeval soon = {0, 200000};
    h->bus_reading = 0;
    if (!h->closing)
        event_add(h->bus_retry, &soon);
}

static void on_bus_entry(pop_hub_t *h, const redisReply *e)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2)
        return;
    const redisReply *f = e->element[1];
    const char *agent = pop_store_field(f, "agent"), *id = pop_store_field(f, "id");
    const char *pop = pop_store_field(f, "pop");
    int end = *pop_store_field(f, "end") != '\0';
    /* An end names its session (logout, or a newer login); one without
     * (written by an older version) ends all of the agent's streams. */
    const char *session = pop_store_field(f, "session");
    client_t *c = h->buckets[hash(agent) % BUCKETS], *next;
    for (; c; c = next) {
        next = c->next;
        if (strcmp(c->agent, agent) != 0)
            continue;
        if (end) { /* that session ended (on whichever replica): its token is dead */
            if (!*session || strcmp(session, c->session) == 0)
                client_end(c);
        } else if (c->catching)
            c->recatch = 1;
        else if (*pop && pop_hub_id_cmp(id, c->last) > 0)
            client_write(c, id, pop);
    }
}

/* XREAD reply: [[bus, [[id, fields], ...]]] or nil on timeout. */
static void on_bus(void *ctx, redisReply *r, const char *err)
{
    pop_hub_t *h = ctx;
    if (err || (r && r->type == REDIS_REPLY_ERROR)) {
        if (!h->closing)
            LOG_WARN("pop bus: %s; reading again shortly", err ? err : r->str);
        bus_later(h);
        return;
    }
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 1 && r->element[0]->elements == 2) {
        const redisReply *entries = r->element[0]->element[1];
        for (size_t i = 0; i < entries->elements; i++) {
            const redisReply *e = entries->element[i];
            if (e->type == REDIS_REPLY_ARRAY && e->elements == 2)
                snprintf(h->bus_last, sizeof h->bus_last, "%s", e->element[0]->str);
            on_bus_entry(h, e);
        }
    }
    h->bus_reading = 0;
    bus_read(h);
}

/* Where to start: the bus's newest entry (what came before is in the
 * agents' own streams, which catch-up reads). */
static void on_bus_start(void *ctx, redisReply *r, const char *err)
{
    pop_hub_t *h = ctx;
    if (err || !r || r->type != REDIS_REPLY_ARRAY) {
        bus_later(h);
        return;
    }
    snprintf(h->bus_last, sizeof h->bus_last, "%s",
             r->elements ? r->element[0]->element[0]->str : "0-0");
    h->bus_started = 1;
    h->bus_reading = 0;
    bus_read(h);
}

static void bus_read(pop_hub_t *h)
{
    if (h->closing || h->bus_reading)
        return;
    int rc;
    h->bus_reading = 1;
    if (!h->bus_started) {
        const char *argv[] = {"XREVRANGE", pop_store_bus_key(h->store), "+", "-", "COUNT", "1"};
        rc = cmn_redis_command_argv(h->bus, on_bus_start, h, 6, argv, NULL);
    } else {
        /* Short blocks: the connection stays responsive to shutdown. */
        const char *argv[] = {
            "XREAD",    "COUNT", "1000", "BLOCK", "1000", "STREAMS", pop_store_bus_key(h->store),
            h->bus_last};
        rc = cmn_redis_command_argv(h->bus, on_bus, h, 8, argv, NULL);
    }
    if (rc < 0)
        bus_later(h);
}

static void on_bus_retry(evutil_socket_t fd, short what, void *arg)
{
    bus_read(arg);
}

/* Every second, the streams whose slot it is: each stream is pinged once
 * per keepalive_s, and the streams are spread over its seconds (issue 26
 * item 2: one timer pinging 10,000 streams at once stalled the loop for
 * every pop behind it and held a ping buffer per stream at once, +13 MB). */
static void on_keepalive(evutil_socket_t fd, short what, void *arg)
{
    pop_hub_t *h = arg;
    client_t *c, *next;
    h->ka_tick = (h->ka_tick + 1) % h->o.keepalive_s;
    for (c = h->all; c; c = next) {
        next = c->all_next;
        if (c->slot == h->ka_tick)
            cmn_http_stream_write(c->stream, ": ping\n\n", 8);
    }
}

static double streams_open(void *ctx)
{
    return (double)((pop_hub_t *)ctx)->n;
}

pop_hub_t *pop_hub_new(struct event_base *base, pop_store_t *store, cmn_redis_t *bus,
                       const pop_hub_opts_t *opts)
{
    pop_hub_t *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->base = base;
    h->store = store;
    h->bus = bus;
    h->o = *opts;
    if (h->o.keepalive_s < 1)
        h->o.keepalive_s = 1;
    struct timeval every = {1, 0}; /* a slice of the streams each second */
    h->keepalive = event_new(base, -1, EV_PERSIST, on_keepalive, h);
    h->bus_retry = evtimer_new(base, on_bus_retry, h);
    if (!h->keepalive || !h->bus_retry || event_add(h->keepalive, &every) < 0) {
        pop_hub_free(h);
        return NULL;
    }
    h->m_delivered = cmn_metrics_counter("pop_pops_delivered_total",
                                         "Pops written to an agent's open stream (R-S1)", NULL);
    h->m_replayed = cmn_metrics_counter("pop_pops_replayed_total",
                                        "Of those, pops a reconnecting stream caught up on", NULL);
    h->m_cut = cmn_metrics_counter("pop_streams_cut_total",
                                   "Streams ended because their client did not read", NULL);
    h->m_session_gone =
        cmn_metrics_counter("pop_streams_session_gone_total",
                            "Streams ended because their session expired or was revoked", NULL);
    h->m_replaced = cmn_metrics_counter(
        "pop_streams_replaced_total",
        "Streams ended for a newer one of their session or agent (the per-session and "
        "per-agent caps)",
        NULL);
    cmn_metrics_gauge_fn("pop_streams_open", "Agent pop streams open on this replica", NULL,
                         streams_open, h);
    bus_later(h); /* the bus client connects in the background */
    return h;
}

void pop_hub_close_all(pop_hub_t *h)
{
    h->closing = 1;
    while (h->all)
        client_end(h->all);
}

size_t pop_hub_streams(const pop_hub_t *h)
{
    return h->n;
}

void pop_hub_free(pop_hub_t *h)
{
    if (!h)
        return;
    pop_hub_close_all(h);
    if (h->keepalive)
        event_free(h->keepalive);
    if (h->bus_retry)
        event_free(h->bus_retry);
    free(h);
}
