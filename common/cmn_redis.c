/* hiredis async context management: connect, select db, reconnect. */
#include "cmn_redis.h"
#include "cmn_log.h"

#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cmn_redis {
    struct event_base *base;
    redisAsyncContext *ac;
    struct event *retry;
    char host[256];
    int port, db;
    int connected;
    int backoff_ms;
    int closing;
};

typedef struct {
    cmn_redis_reply_fn cb;
    void *ctx;
} pending_t;

static void connect_now(cmn_redis_t *r);

int cmn_redis_parse_url(const char *url, char *host, size_t hostsz, int *port, int *db)
{
    static const char scheme[] = "redis://";
    char rest[300];
    *db = 0;
    if (strncmp(url, scheme, sizeof scheme - 1) != 0 ||
        strlen(url + sizeof scheme - 1) >= sizeof rest)
        return -1;
    snprintf(rest, sizeof rest, "%s", url + sizeof scheme - 1);
    char *slash = strchr(rest, '/');
    if (slash) {
        *slash = '\0';
        if (slash[1] && sscanf(slash + 1, "%d", db) != 1)
            return -1;
    }
    char *colon = strrchr(rest, ':');
    *port = 6379;
    if (colon) {
        *colon = '\0';
        if (sscanf(colon + 1, "%d", port) != 1 || *port <= 0 || *port > 65535)
            return -1;
    }
    if (!*rest || strlen(rest) >= hostsz)
        return -1;
    snprintf(host, hostsz, "%s", rest);
    return 0;
}

static void schedule_retry(cmn_redis_t *r)
{
    if (r->closing)
        return;
    struct timeval tv = {r->backoff_ms / 1000, (r->backoff_ms % 1000) * 1000};
    event_add(r->retry, &tv);
    r->backoff_ms = r->backoff_ms * 2 > 2000 ? 2000 : r->backoff_ms * 2;
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    cmn_redis_t *r = ac->data;
    if (status != REDIS_OK) {
        LOG_WARN("redis %s:%d: connect failed: %s", r->host, r->port, ac->errstr);
        r->ac = NULL; /* hiredis frees the context after this callback */
        schedule_retry(r);
        return;
    }
    r->connected = 1;
    r->backoff_ms = 100;
    LOG_INFO("redis %s:%d connected", r->host, r->port);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    cmn_redis_t *r = ac->data;
    r->connected = 0;
    r->ac = NULL;
    if (status != REDIS_OK)
        LOG_WARN("redis %s:%d: connection lost: %s", r->host, r->port, ac->errstr);
    schedule_retry(r);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    connect_now(arg);
}

static void connect_now(cmn_redis_t *r)
{
    redisAsyncContext *ac = redisAsyncConnect(r->host, r->port);
    if (!ac || ac->err) {
        LOG_WARN("redis %s:%d: %s", r->host, r->port, ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        schedule_retry(r);
        return;
    }
    ac->data = r;
    redisLibeventAttach(ac, r->base);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    r->ac = ac;
    /* Sent first on the connection, so every later command sees this db. */
    if (r->db)
        redisAsyncCommand(ac, NULL, NULL, "SELECT %d", r->db);
}

cmn_redis_t *cmn_redis_new(struct event_base *base, const char *url, char *errstr, size_t errsz)
{
    cmn_redis_t *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(errstr, errsz, "out of memory");
        return NULL;
    }
    if (cmn_redis_parse_url(url, r->host, sizeof r->host, &r->port, &r->db) < 0) {
        snprintf(errstr, errsz, "bad redis url \"%s\" (want redis://host:port[/db])", url);
        free(r);
        return NULL;
    }
    r->base = base;
    r->backoff_ms = 100;
    r->retry = evtimer_new(base, on_retry, r);
    if (!r->retry) {
        snprintf(errstr, errsz, "libevent: cannot create timer");
        free(r);
        return NULL;
    }
    connect_now(r);
    return r;
}

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    pending_t *p = privdata;
    redisReply *rr = reply;
    const char *err = NULL;
    if (!rr)
        err = ac->errstr[0] ? ac->errstr : "redis connection closed";
    if (p->cb) /* fire-and-forget commands pass no callback */
        p->cb(p->ctx, rr, err);
    free(p);
}

static pending_t *pending_new(cmn_redis_t *r, cmn_redis_reply_fn cb, void *ctx)
{
    if (!r->connected || !r->ac)
        return NULL;
    pending_t *p = malloc(sizeof *p);
    if (p) {
        p->cb = cb;
        p->ctx = ctx;
    }
    return p;
}

int cmn_redis_command(cmn_redis_t *r, cmn_redis_reply_fn cb, void *ctx, const char *fmt, ...)
{
    pending_t *p = pending_new(r, cb, ctx);
    if (!p)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    int rc = redisvAsyncCommand(r->ac, on_reply, p, fmt, ap);
    va_end(ap);
    if (rc != REDIS_OK) {
        free(p);
        return -1;
    }
    return 0;
}

int cmn_redis_command_argv(cmn_redis_t *r, cmn_redis_reply_fn cb, void *ctx, int argc,
                           const char **argv, const size_t *lens)
{
    pending_t *p = pending_new(r, cb, ctx);
    if (!p)
        return -1;
    if (redisAsyncCommandArgv(r->ac, on_reply, p, argc, argv, lens) != REDIS_OK) {
        free(p);
        return -1;
    }
    return 0;
}

int cmn_redis_connected(const cmn_redis_t *r)
{
    return r->connected;
}

void cmn_redis_free(cmn_redis_t *r)
{
    if (!r)
        return;
    r->closing = 1;
    if (r->ac)
        redisAsyncFree(r->ac); /* calls pending callbacks with NULL, then on_disconnect */
    event_free(r->retry);
    free(r);
}
