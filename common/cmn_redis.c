/* Redis connection: a bufferevent (plain or OpenSSL), hiredis' reply
 * reader, a FIFO of callbacks (Redis answers in order), a tick that
 * enforces the command deadline and pings an idle connection, and
 * reconnection with backoff. */
#include "cmn_redis.h"
#include "cmn_log.h"
#include "cmn_time.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define DEFAULT_TIMEOUT_MS 2000
#define TICK_MS 100
/* An idle connection is pinged this often: a hung server is noticed within
 * this plus the timeout, traffic or not. */
#define IDLE_PING_MS 1000
#define MAX_BACKOFF_MS 2000

typedef struct pending {
    struct pending *next;
    cmn_redis_reply_fn cb;
    void *ctx;
    int64_t sent_ms;
    int handshake; /* our own AUTH/SELECT/PING: an error reply fails the connection */
} pending_t;

struct cmn_redis {
    struct event_base *base;
    cmn_redis_url_t url;
    int timeout_ms;
    SSL_CTX *ssl_ctx;
    struct bufferevent *bev;
    redisReader *reader;
    pending_t *head, *tail;
    int handshake_left; /* handshake replies still awaited */
    int connected;
    int64_t last_io_ms;
    int64_t last_read_ms; /* bytes from the server: it is alive, however far behind we read */
    struct event *retry, *tick;
    int backoff_ms;
    int closing;
};

/* ---- URL -------------------------------------------------------------------- */

/* Copies [s, s+n) into out, %XX decoded (libevent's decoder; a "%00" or
 * a result too long is refused). */
static int decode(const char *s, size_t n, char *out, size_t outsz)
{
    char raw[512];
    size_t len = 0;
    if (n >= sizeof raw)
        return -1;
    memcpy(raw, s, n);
    raw[n] = '\0';
    char *dec = evhttp_uridecode(raw, 0, &len);
    int ok = dec && strlen(dec) == len && len < outsz;
    if (ok)
        memcpy(out, dec, len + 1);
    free(dec);
    return ok ? 0 : -1;
}

int cmn_redis_parse_url(const char *url, cmn_redis_url_t *out)
{
    memset(out, 0, sizeof *out);
    const char *p;
    if (strncmp(url, "redis://", 8) == 0) {
        p = url + 8;
    } else if (strncmp(url, "rediss://", 9) == 0) {
        p = url + 9;
        out->tls = 1;
    } else {
        return -1;
    }
    const char *end = p + strcspn(p, "/?#");
    const char *at = NULL;
    for (const char *q = p; q < end; q++)
        if (*q == '@')
            at = q; /* the last one: a raw '@' in a password is common */
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (!colon) /* redis://password@host is not a form Redis clients agree on */
            return -1;
        if (decode(p, (size_t)(colon - p), out->user, sizeof out->user) < 0 ||
            decode(colon + 1, (size_t)(at - colon - 1), out->pass, sizeof out->pass) < 0)
            return -1;
        p = at + 1;
    }
    const char *colon = memchr(p, ':', (size_t)(end - p));
    const char *host_end = colon ? colon : end;
    if (host_end == p || (size_t)(host_end - p) >= sizeof out->host)
        return -1;
    memcpy(out->host, p, (size_t)(host_end - p));
    out->port = 6379;
    if (colon) {
        char *e;
        long port = strtol(colon + 1, &e, 10);
        if (e != end || port <= 0 || port > 65535)
            return -1;
        out->port = (int)port;
    }
    if (*end == '/' && end[1]) {
        char *e;
        long db = strtol(end + 1, &e, 10);
        if (*e || db < 0 || db > 1000000)
            return -1;
        out->db = (int)db;
    } else if (*end && !(*end == '/' && !end[1])) {
        return -1;
    }
    return 0;
}

/* ---- the connection --------------------------------------------------------- */

static void connect_now(cmn_redis_t *r);

static void schedule_retry(cmn_redis_t *r)
{
    if (r->closing)
        return;
    struct timeval tv = {r->backoff_ms / 1000, (r->backoff_ms % 1000) * 1000};
    event_add(r->retry, &tv);
    r->backoff_ms = r->backoff_ms * 2 > MAX_BACKOFF_MS ? MAX_BACKOFF_MS : r->backoff_ms * 2;
}

/* Fails every pending command with `why`, closes, and (unless freeing)
 * tries again later. Callbacks may send commands: they get -1. */
static void drop(cmn_redis_t *r, const char *why)
{
    int was = r->connected;
    r->connected = 0;
    if (r->bev)
        bufferevent_free(r->bev);
    r->bev = NULL;
    if (r->reader)
        redisReaderFree(r->reader);
    r->reader = NULL;
    pending_t *p = r->head;
    r->head = r->tail = NULL;
    r->handshake_left = 0;
    if (!r->closing && (was || r->backoff_ms <= 200)) /* not every retry of an outage */
        LOG_WARN("redis %s:%d: %s", r->url.host, r->url.port, why);
    while (p) {
        pending_t *next = p->next;
        if (p->cb)
            p->cb(p->ctx, NULL, why);
        free(p);
        p = next;
    }
    schedule_retry(r);
}

static int enqueue(cmn_redis_t *r, cmn_redis_reply_fn cb, void *ctx, int handshake, char *cmd,
                   int len)
{
    pending_t *p = calloc(1, sizeof *p);
    if (!p || bufferevent_write(r->bev, cmd, (size_t)len) < 0) {
        free(p);
        return -1;
    }
    p->cb = cb;
    p->ctx = ctx;
    p->handshake = handshake;
    p->sent_ms = cmn_time_mono_ms();
    if (r->tail)
        r->tail->next = p;
    else
        r->head = p;
    r->tail = p;
    return 0;
}

static int send_handshake(cmn_redis_t *r, int argc, const char **argv)
{
    char *cmd = NULL;
    int len = redisFormatCommandArgv(&cmd, argc, argv, NULL);
    int rc = len < 0 ? -1 : enqueue(r, NULL, NULL, 1, cmd, len);
    redisFreeCommand(cmd);
    if (rc == 0)
        r->handshake_left++;
    return rc;
}

static void on_read(struct bufferevent *bev, void *arg)
{
    cmn_redis_t *r = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    r->last_io_ms = r->last_read_ms = cmn_time_mono_ms();
    while (evbuffer_get_length(in)) {
        struct evbuffer_iovec v;
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
            break;
        if (redisReaderFeed(r->reader, v.iov_base, v.iov_len) != REDIS_OK) {
            drop(r, "bad reply from server");
            return;
        }
        evbuffer_drain(in, v.iov_len);
    }
    for (;;) {
        void *reply = NULL;
        if (redisReaderGetReply(r->reader, &reply) != REDIS_OK) {
            drop(r, "bad reply from server");
            return;
        }
        if (!reply)
            return;
        pending_t *p = r->head;
        if (!p) {
            freeReplyObject(reply);
            drop(r, "a reply nobody asked for");
            return;
        }
        r->head = p->next;
        if (!r->head)
            r->tail = NULL;
        redisReply *rr = reply;
        if (p->handshake) {
            char why[300];
            if (rr->type == REDIS_REPLY_ERROR) {
                snprintf(why, sizeof why, "handshake refused: %.*s", (int)rr->len, rr->str);
                freeReplyObject(reply);
                free(p);
                drop(r, why);
                return;
            }
            if (--r->handshake_left == 0 && !r->connected) {
                r->connected = 1;
                r->backoff_ms = 100;
                LOG_INFO("redis %s:%d connected%s", r->url.host, r->url.port,
                         r->url.tls ? " (TLS)" : "");
            }
        } else if (p->cb) {
            p->cb(p->ctx, rr, NULL);
        }
        freeReplyObject(reply);
        free(p);
        if (!r->reader) /* a callback freed the connection (drop) */
            return;
    }
}

static void set_keepalive(evutil_socket_t fd)
{
    /* A peer that vanished (host gone, network cut) without a FIN: noticed
     * in about 15 + 3 * 5 s even when the deadline is not running. */
    int on = 1, idle = 15, intvl = 5, cnt = 3;
    if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on) < 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle) < 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl) < 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt) < 0)
        LOG_WARN("redis: cannot set TCP keepalive; the command deadline still applies");
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    cmn_redis_t *r = arg;
    char why[300];
    if (what & BEV_EVENT_CONNECTED) {
        set_keepalive(bufferevent_getfd(bev));
        return;
    }
    unsigned long ssl_err = r->url.tls ? bufferevent_get_openssl_error(bev) : 0;
    if (ssl_err) {
        char buf[200];
        ERR_error_string_n(ssl_err, buf, sizeof buf);
        snprintf(why, sizeof why, "TLS: %s", buf);
    } else if (what & BEV_EVENT_EOF) {
        snprintf(why, sizeof why, "connection closed by server");
    } else {
        int err = EVUTIL_SOCKET_ERROR();
        snprintf(why, sizeof why, "connection lost: %s",
                 err ? evutil_socket_error_to_string(err) : "error");
    }
    drop(r, why);
}

/* The deadline and the idle ping. The deadline runs from the oldest
 * unanswered command's send or the server's last bytes, whichever is later:
 * a service busy with its own work (10,000 pop streams opening at once,
 * issue 26 item 2) reads replies the server sent long ago, and dropping
 * the connection then failed every command in flight for a server that
 * was answering all along. A hung server sends nothing: still caught. */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    cmn_redis_t *r = arg;
    if (!r->bev)
        return;
    int64_t now = cmn_time_mono_ms();
    int64_t since =
        r->head && r->head->sent_ms > r->last_read_ms ? r->head->sent_ms : r->last_read_ms;
    if (r->head && now - since > r->timeout_ms) {
        char why[96];
        snprintf(why, sizeof why, "no reply within %d ms; reconnecting", r->timeout_ms);
        drop(r, why);
        return;
    }
    if (r->connected && !r->head && now - r->last_io_ms > IDLE_PING_MS) {
        char *cmd = NULL;
        int len = redisFormatCommand(&cmd, "PING");
        r->last_io_ms = now;
        /* A heartbeat: nobody waits for its reply; the deadline does. */
        if (len < 0 || enqueue(r, NULL, NULL, 0, cmd, len) < 0)
            drop(r, "out of memory");
        redisFreeCommand(cmd);
    }
}

static struct bufferevent *new_bev(cmn_redis_t *r)
{
    if (!r->url.tls)
        return bufferevent_socket_new(r->base, -1, BEV_OPT_CLOSE_ON_FREE);
    SSL *ssl = SSL_new(r->ssl_ctx);
    if (!ssl)
        return NULL;
    /* SNI, and the certificate must name the host we asked for. */
    if (!SSL_set_tlsext_host_name(ssl, r->url.host) ||
        !X509_VERIFY_PARAM_set1_host(SSL_get0_param(ssl), r->url.host, 0)) {
        SSL_free(ssl);
        return NULL;
    }
    struct bufferevent *bev = bufferevent_openssl_socket_new(
        r->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
    if (!bev)
        SSL_free(ssl);
    return bev;
}

static void connect_now(cmn_redis_t *r)
{
    if (!(r->reader = redisReaderCreate()) || !(r->bev = new_bev(r))) {
        drop(r, "out of memory");
        return;
    }
    bufferevent_setcb(r->bev, on_read, NULL, on_event, r);
    if (bufferevent_enable(r->bev, EV_READ) < 0) {
        drop(r, "libevent: cannot read");
        return;
    }
    /* Queued before the connection is up (the bufferevent holds them): the
     * deadline covers connect, TLS and handshake alike. PING last, so that
     * "connected" means the server answers. */
    char db[16];
    snprintf(db, sizeof db, "%d", r->url.db);
    const char *auth2[] = {"AUTH", r->url.pass}, *auth3[] = {"AUTH", r->url.user, r->url.pass};
    const char *select[] = {"SELECT", db}, *ping[] = {"PING"};
    int rc = 0;
    if (r->url.pass[0])
        rc = r->url.user[0] ? send_handshake(r, 3, auth3) : send_handshake(r, 2, auth2);
    if (rc == 0 && r->url.db)
        rc = send_handshake(r, 2, select);
    if (rc == 0)
        rc = send_handshake(r, 1, ping);
    if (rc < 0) {
        drop(r, "out of memory");
        return;
    }
    r->last_io_ms = cmn_time_mono_ms();
    /* A blocking lookup for a name; an address (the usual case) is not. */
    if (bufferevent_socket_connect_hostname(r->bev, NULL, AF_UNSPEC, r->url.host, r->url.port) <
        0) {
        drop(r, "connect failed");
        return;
    }
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    cmn_redis_t *r = arg;
    if (!r->bev)
        connect_now(r);
}

static SSL_CTX *tls_context(const char *ca, char *errstr, size_t errsz)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        snprintf(errstr, errsz, "TLS: out of memory");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    int ok = ca && *ca ? SSL_CTX_load_verify_locations(ctx, ca, NULL)
                       : SSL_CTX_set_default_verify_paths(ctx);
    if (!ok) {
        snprintf(errstr, errsz, "TLS: cannot load CA certificates%s%s", ca && *ca ? " from " : "",
                 ca && *ca ? ca : "");
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

cmn_redis_t *cmn_redis_new_opts(struct event_base *base, const cmn_redis_opts_t *opts, char *errstr,
                                size_t errsz)
{
    cmn_redis_t *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(errstr, errsz, "out of memory");
        return NULL;
    }
    if (cmn_redis_parse_url(opts->url, &r->url) < 0) {
        /* The url may hold a password: not echoed. */
        snprintf(errstr, errsz,
                 "bad redis url (want redis[s]://[[user]:password@]host[:port][/db])");
        goto fail;
    }
    r->base = base;
    r->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;
    r->backoff_ms = 100;
    if (r->url.tls && !(r->ssl_ctx = tls_context(opts->tls_ca, errstr, errsz)))
        goto fail;
    static const struct timeval every = {0, TICK_MS * 1000};
    if (!(r->retry = evtimer_new(base, on_retry, r)) ||
        !(r->tick = event_new(base, -1, EV_PERSIST, on_tick, r)) || event_add(r->tick, &every)) {
        snprintf(errstr, errsz, "libevent: cannot create timers");
        goto fail;
    }
    connect_now(r);
    return r;
fail:
    if (r->retry)
        event_free(r->retry);
    if (r->tick)
        event_free(r->tick);
    if (r->ssl_ctx)
        SSL_CTX_free(r->ssl_ctx);
    free(r);
    return NULL;
}

cmn_redis_t *cmn_redis_new(struct event_base *base, const char *url, char *errstr, size_t errsz)
{
    cmn_redis_opts_t opts = {.url = url};
    return cmn_redis_new_opts(base, &opts, errstr, errsz);
}

int cmn_redis_command(cmn_redis_t *r, cmn_redis_reply_fn cb, void *ctx, const char *fmt, ...)
{
    if (!r->connected)
        return -1;
    char *cmd = NULL;
    va_list ap;
    va_start(ap, fmt);
    int len = redisvFormatCommand(&cmd, fmt, ap);
    va_end(ap);
    int rc = len < 0 ? -1 : enqueue(r, cb, ctx, 0, cmd, len);
    redisFreeCommand(cmd);
    return rc;
}

int cmn_redis_command_argv(cmn_redis_t *r, cmn_redis_reply_fn cb, void *ctx, int argc,
                           const char **argv, const size_t *lens)
{
    if (!r->connected)
        return -1;
    char *cmd = NULL;
    int len = redisFormatCommandArgv(&cmd, argc, argv, lens);
    int rc = len < 0 ? -1 : enqueue(r, cb, ctx, 0, cmd, len);
    redisFreeCommand(cmd);
    return rc;
}

int cmn_redis_connected(const cmn_redis_t *r)
{
    return r->connected;
}

void cmn_redis_close(cmn_redis_t *r)
{
    if (!r || r->closing)
        return;
    r->closing = 1; /* no reconnect: drop schedules none */
    event_del(r->retry);
    event_del(r->tick);
    drop(r, "redis client closed");
}

void cmn_redis_free(cmn_redis_t *r)
{
    if (!r)
        return;
    r->closing = 1;
    drop(r, "redis client freed");
    event_free(r->retry);
    event_free(r->tick);
    if (r->ssl_ctx)
        SSL_CTX_free(r->ssl_ctx);
    free(r);
}
