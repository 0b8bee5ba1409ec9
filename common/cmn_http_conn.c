/* Connection cap and whole-request deadline for evhttp (see the header for
 * why libevent 2.1 needs this done from outside). */
#include "cmn_http_conn.h"
#include "cmn_http_413.h"
#include "cmn_log.h"
#include "cmn_metrics.h"
#include "cmn_time.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <errno.h>
#include <event2/listener.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Refused sockets still being answered; past this many they are closed
 * without an answer (a flood is not owed one). */
#define MAX_REFUSING 64
/* How long a refused client gets to read its 503 before the socket goes. */
#define REFUSE_LINGER_S 2
/* accept() failed for want of descriptors (or memory): the listening
 * socket stays readable, so the listeners pause this long instead of
 * spinning the loop on it. */
#define ACCEPT_PAUSE_MS 250
/* At most one warning per this long while accept keeps failing. */
#define ACCEPT_WARN_EVERY_MS 10000

typedef struct conn {
    struct conn *prev, *next;
    struct conn *hnext; /* in its by_evcon bucket, once adopted */
    cmn_http_conns_t *c;
    struct bufferevent *bev;
    struct evhttp_connection *evcon; /* NULL until adopted */
    struct event *deadline;
    cmn_http_conns_gone_fn on_gone; /* a stream watching the connection */
    void *gone_arg;
} conn_t;

struct cmn_http_conns {
    struct event_base *base;
    const char *name;
    int max, deadline_ms;
    conn_t live; /* sentinel: adopted connections */
    /* Adopted connections by evcon: a request finds its own in O(1), not
     * by walking every open one (issue 26 item 2: pop-service holds one
     * per agent's stream, 10,000 and more). mask + 1 buckets. */
    conn_t **by_evcon;
    size_t mask;
    conn_t unadopted; /* sentinel: accepted, evcon not yet known */
    struct event *adopt;
    struct evconnlistener *evhttp_listener; /* borrowed from evhttp */
    struct evconnlistener *refuser;         /* ours, on the same socket */
    int open;
    struct bufferevent *refusing[MAX_REFUSING]; /* answering a 503 */
    int n_refusing;
    struct event *resume; /* ends an accept pause */
    int paused;
    int64_t last_warn_ms;
    cmn_metric_t *m_open, *m_refused, *m_deadline, *m_no_fds;
};

static const char refusal[] = "HTTP/1.1 503 Service Unavailable\r\n"
                              "Content-Type: application/json\r\n"
                              "Retry-After: 1\r\n"
                              "Connection: close\r\n"
                              "Content-Length: 33\r\n"
                              "\r\n"
                              "{\"error\":\"too many connections\"}\n";

static void list_init(conn_t *s)
{
    s->prev = s->next = s;
}

static void list_push(conn_t *s, conn_t *n)
{
    n->next = s->next;
    n->prev = s;
    s->next->prev = n;
    s->next = n;
}

static void list_unlink(conn_t *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = n;
}

/* At the cap evhttp's listener pauses and ours refuses; below it, the
 * reverse. Only one of the two is ever enabled on the shared socket. */
static void balance(cmn_http_conns_t *c)
{
    if (!c->evhttp_listener || !c->refuser)
        return;
    if (c->paused) {
        evconnlistener_disable(c->evhttp_listener);
        evconnlistener_disable(c->refuser);
    } else if (c->open >= c->max) {
        evconnlistener_disable(c->evhttp_listener);
        evconnlistener_enable(c->refuser);
    } else {
        evconnlistener_disable(c->refuser);
        evconnlistener_enable(c->evhttp_listener);
    }
}

static void arm(conn_t *k)
{
    struct timeval tv = {k->c->deadline_ms / 1000, (k->c->deadline_ms % 1000) * 1000};
    event_add(k->deadline, &tv); /* cannot fail for a timer once created */
}

static conn_t **bucket(const cmn_http_conns_t *c, const struct evhttp_connection *evcon)
{
    uint64_t h = (uint64_t)(uintptr_t)evcon * 0x9E3779B97F4A7C15ULL; /* Fibonacci hashing */
    return &c->by_evcon[(size_t)(h >> 32) & c->mask];
}

static void unindex(conn_t *k)
{
    if (!k->evcon)
        return;
    conn_t **p = bucket(k->c, k->evcon);
    while (*p && *p != k)
        p = &(*p)->hnext;
    if (*p)
        *p = k->hnext;
}

static void conn_forget(conn_t *k)
{
    cmn_http_conns_t *c = k->c;
    unindex(k);
    list_unlink(k);
    event_free(k->deadline);
    free(k);
    c->open--;
    cmn_metric_set(c->m_open, c->open);
    balance(c);
}

static void on_close(struct evhttp_connection *evcon, void *arg)
{
    conn_t *k = arg;
    cmn_http_conns_gone_fn fn = k->on_gone;
    k->on_gone = NULL;
    if (fn)
        fn(evcon, k->gone_arg);
    conn_forget(k);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    conn_t *k = arg;
    if (!k->evcon)
        return; /* not adopted yet: cannot happen, adoption is immediate */
    LOG_WARN("http %s: a request did not arrive whole within %d ms; closing its connection",
             k->c->name, k->c->deadline_ms);
    cmn_metric_add(k->c->m_deadline, 1);
    /* Calls on_close, which frees k. */
    evhttp_connection_free(k->evcon);
}

/* After evhttp wired the bufferevent: its callback argument is the new
 * evhttp_connection, which is what a close callback hangs on. A connection
 * evhttp already gave up on has had its callbacks cleared (we held a
 * reference, so the bufferevent is still there to ask). */
static void on_adopt(evutil_socket_t fd, short what, void *arg)
{
    cmn_http_conns_t *c = arg;
    while (c->unadopted.next != &c->unadopted) {
        conn_t *k = c->unadopted.next;
        bufferevent_data_cb rd = NULL;
        void *cbarg = NULL;
        bufferevent_getcb(k->bev, &rd, NULL, NULL, &cbarg);
        struct bufferevent *bev = k->bev;
        if (!rd || !cbarg) {
            conn_forget(k);
        } else {
            list_unlink(k);
            list_push(&c->live, k);
            k->evcon = cbarg;
            conn_t **b = bucket(c, k->evcon);
            k->hnext = *b;
            *b = k;
            evhttp_connection_set_closecb(k->evcon, on_close, k);
        }
        bufferevent_decref(bev);
    }
}

/* evhttp's bufferevent callback: one call per accepted socket. */
static struct bufferevent *on_new_bev(struct event_base *base, void *arg)
{
    cmn_http_conns_t *c = arg;
    conn_t *k = calloc(1, sizeof *k);
    struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!k || !bev || !(k->deadline = evtimer_new(base, on_deadline, k)) ||
        cmn_http_413_watch(bev) < 0) {
        /* evhttp makes its own bufferevent: the connection is served, only
         * uncounted and without a deadline. */
        LOG_WARN("http %s: out of memory tracking a connection", c->name);
        if (bev)
            bufferevent_free(bev);
        free(k);
        return NULL;
    }
    k->c = c;
    k->bev = bev;
    bufferevent_incref(bev); /* until on_adopt has looked at it */
    list_push(&c->unadopted, k);
    arm(k);
    c->open++;
    cmn_metric_set(c->m_open, c->open);
    event_active(c->adopt, EV_TIMEOUT, 0);
    balance(c); /* evhttp's listener stops accepting within this callback */
    return bev;
}

/* ---- refusing over the cap ------------------------------------------------ */

static void refused_done(cmn_http_conns_t *c, struct bufferevent *bev)
{
    for (int i = 0; i < c->n_refusing; i++) {
        if (c->refusing[i] == bev) {
            c->refusing[i] = c->refusing[--c->n_refusing];
            break;
        }
    }
    bufferevent_free(bev);
}

/* The 503 is out: half-close, and read what the client still sends until
 * it closes too, so that our close does not reset the connection and take
 * the unread answer with it. */
static void refused_written(struct bufferevent *bev, void *arg)
{
    shutdown(bufferevent_getfd(bev), SHUT_WR);
}

static void refused_read(struct bufferevent *bev, void *arg)
{
    evbuffer_drain(bufferevent_get_input(bev), evbuffer_get_length(bufferevent_get_input(bev)));
}

static void refused_event(struct bufferevent *bev, short what, void *arg)
{
    refused_done(arg, bev);
}

static void on_refuse(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
                      void *arg)
{
    cmn_http_conns_t *c = arg;
    struct bufferevent *bev = NULL;
    cmn_metric_add(c->m_refused, 1);
    if (c->n_refusing >= MAX_REFUSING ||
        !(bev = bufferevent_socket_new(c->base, fd, BEV_OPT_CLOSE_ON_FREE))) {
        evutil_closesocket(fd);
        return;
    }
    struct timeval linger = {REFUSE_LINGER_S, 0};
    bufferevent_setcb(bev, refused_read, refused_written, refused_event, c);
    bufferevent_set_timeouts(bev, &linger, &linger);
    if (bufferevent_write(bev, refusal, sizeof refusal - 1) < 0 ||
        bufferevent_enable(bev, EV_READ | EV_WRITE) < 0) {
        bufferevent_free(bev);
        return;
    }
    c->refusing[c->n_refusing++] = bev;
}

/* ---- accept failures -------------------------------------------------------- */

/* Servers listening in this process (one loop per process): evhttp's
 * listener reports its accept errors with evhttp's own argument, so the
 * error callback finds its server here. */
#define MAX_SERVERS 8
static cmn_http_conns_t *listening[MAX_SERVERS];

static cmn_http_conns_t *owner_of(const struct evconnlistener *l)
{
    for (size_t i = 0; i < MAX_SERVERS; i++)
        if (listening[i] && (listening[i]->evhttp_listener == l || listening[i]->refuser == l))
            return listening[i];
    return NULL;
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
    cmn_http_conns_t *c = arg;
    c->paused = 0;
    balance(c);
}

/* libevent calls this for an accept() error it does not retry itself
 * (EMFILE, ENFILE, ENOBUFS, ENOMEM...), leaving the listener enabled on a
 * socket that stays readable: without a pause the loop would do nothing
 * else. Connections wait in the kernel's backlog meanwhile. */
static void on_accept_error(struct evconnlistener *l, void *arg)
{
    int err = EVUTIL_SOCKET_ERROR();
    cmn_http_conns_t *c = owner_of(l);
    static const struct timeval pause = {0, ACCEPT_PAUSE_MS * 1000};
    if (!c)
        return;
    if (err == EMFILE || err == ENFILE)
        cmn_metric_add(c->m_no_fds, 1);
    int64_t now = cmn_time_mono_ms();
    if (!c->last_warn_ms || now - c->last_warn_ms >= ACCEPT_WARN_EVERY_MS) {
        c->last_warn_ms = now;
        LOG_WARN("http %s: accept: %s (%d connection(s) open); not accepting for %d ms at a "
                 "time until it succeeds",
                 c->name, evutil_socket_error_to_string(err), c->open, ACCEPT_PAUSE_MS);
    }
    c->paused = 1;
    balance(c);
    if (event_add(c->resume, &pause) < 0)
        on_resume(-1, 0, c); /* no timer: better a busy loop than a dead port */
}

static void remember(cmn_http_conns_t *c, int listen)
{
    for (size_t i = 0; i < MAX_SERVERS; i++) {
        if (listen ? !listening[i] : listening[i] == c) {
            listening[i] = listen ? c : NULL;
            return;
        }
    }
}

/* ---- the interface ------------------------------------------------------ */

cmn_http_conns_t *cmn_http_conns_new(struct event_base *base, struct evhttp *http, const char *name,
                                     int max_connections, int deadline_ms)
{
    char labels[96];
    cmn_http_conns_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->base = base;
    c->name = name;
    c->max = max_connections;
    c->deadline_ms = deadline_ms;
    list_init(&c->live);
    list_init(&c->unadopted);
    size_t buckets = 64;
    while (buckets < (size_t)max_connections) /* at most one connection a bucket on average */
        buckets *= 2;
    c->mask = buckets - 1;
    if (!(c->by_evcon = calloc(buckets, sizeof *c->by_evcon)) ||
        !(c->adopt = event_new(base, -1, 0, on_adopt, c)) ||
        !(c->resume = evtimer_new(base, on_resume, c))) {
        if (c->adopt)
            event_free(c->adopt);
        free(c->by_evcon);
        free(c);
        return NULL;
    }
    snprintf(labels, sizeof labels, "server=\"%s\"", name);
    c->m_open = cmn_metrics_gauge("http_connections_open", "Open HTTP connections", labels);
    c->m_refused = cmn_metrics_counter(
        "http_connections_refused_total",
        "Connections answered 503 and closed because the server was at its cap", labels);
    c->m_deadline = cmn_metrics_counter(
        "http_request_deadline_closed_total",
        "Connections closed because a request did not arrive whole in time", labels);
    c->m_no_fds = cmn_metrics_counter(
        "http_accept_out_of_descriptors_total",
        "accept() failures for want of file descriptors (EMFILE/ENFILE); the listener pauses "
        "for a moment each time",
        labels);
    evhttp_set_bevcb(http, on_new_bev, c);
    return c;
}

int cmn_http_conns_listen(cmn_http_conns_t *c, struct evhttp_bound_socket *sock)
{
    c->evhttp_listener = evhttp_bound_socket_get_listener(sock);
    /* Backlog 0: the socket already listens; no close-on-free: evhttp's
     * listener owns it. */
    c->refuser = evconnlistener_new(c->base, on_refuse, c, LEV_OPT_DISABLED, 0,
                                    evhttp_bound_socket_get_fd(sock));
    if (!c->refuser) {
        c->evhttp_listener = NULL;
        return -1;
    }
    evconnlistener_set_error_cb(c->evhttp_listener, on_accept_error);
    evconnlistener_set_error_cb(c->refuser, on_accept_error);
    remember(c, 1);
    balance(c);
    return 0;
}

void cmn_http_conns_unlisten(cmn_http_conns_t *c)
{
    if (!c)
        return;
    if (c->refuser)
        evconnlistener_free(c->refuser);
    c->refuser = NULL;
    c->evhttp_listener = NULL;
    remember(c, 0);
    event_del(c->resume);
    c->paused = 0;
}

static conn_t *find(cmn_http_conns_t *c, struct evhttp_connection *evcon)
{
    conn_t *k = *bucket(c, evcon);
    while (k && k->evcon != evcon)
        k = k->hnext;
    return k;
}

void cmn_http_conns_request_read(cmn_http_conns_t *c, struct evhttp_connection *evcon)
{
    conn_t *k = evcon ? find(c, evcon) : NULL;
    if (k)
        event_del(k->deadline);
}

void cmn_http_conns_reply_done(cmn_http_conns_t *c, struct evhttp_connection *evcon)
{
    conn_t *k = evcon ? find(c, evcon) : NULL;
    if (k)
        arm(k);
}

int cmn_http_conns_open(const cmn_http_conns_t *c)
{
    return c->open;
}

int cmn_http_conns_refusing(const cmn_http_conns_t *c)
{
    return c->open >= c->max || !c->evhttp_listener;
}

int cmn_http_conns_watch(cmn_http_conns_t *c, struct evhttp_connection *evcon,
                         cmn_http_conns_gone_fn on_gone, void *arg)
{
    conn_t *k = evcon ? find(c, evcon) : NULL;
    if (!k)
        return -1;
    k->on_gone = on_gone;
    k->gone_arg = arg;
    return 0;
}

void cmn_http_conns_free(cmn_http_conns_t *c)
{
    if (!c)
        return;
    cmn_http_conns_unlisten(c);
    on_adopt(-1, 0, c); /* settles (and frees) what evhttp_free closed */
    while (c->live.next != &c->live)
        conn_forget(c->live.next);
    while (c->n_refusing)
        refused_done(c, c->refusing[0]);
    event_free(c->adopt);
    event_free(c->resume);
    free(c->by_evcon);
    free(c);
}
