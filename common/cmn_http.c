/* evhttp glue. A small per-request record (route, start time) is kept on a
 * list from dispatch until evhttp reports the reply complete; it carries
 * the metrics labels and gives the in-flight count for graceful shutdown.
 * Connections (cap, deadline) are cmn_http_conn's. */
#include "cmn_http.h"
#include "cmn_http_413.h"
#include "cmn_http_conn.h"
#include "cmn_log.h"
#include "cmn_metrics.h"
#include "cmn_time.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#define MAX_ROUTES 32
#define MAX_CHECKS 8

typedef struct {
    const char *name;
    const char *path;
    int methods;
    cmn_http_handler_fn fn;
    void *ctx;
} route_t;

typedef struct {
    const char *name;
    cmn_http_ready_fn fn;
    void *ctx;
} check_t;

typedef struct live_req {
    struct live_req *prev, *next;
    cmn_http_t *h;
    struct evhttp_request *req;
    const char *route; /* NULL: not counted (the admin endpoints) */
    double started_ms;
} live_req_t;

struct cmn_http {
    struct evhttp *http;
    struct evhttp_bound_socket *sock;
    cmn_http_conns_t *conns;
    const cmn_http_t *admin_of; /* an admin listener: whose probes it answers */
    int port;
    int draining;
    route_t routes[MAX_ROUTES];
    size_t n_routes;
    check_t checks[MAX_CHECKS];
    size_t n_checks;
    cmn_http_limits_t lim;
    int in_flight;
};

static void count_response(const char *route, int status, double ms)
{
    char labels[160];
    if (!route)
        return;
    snprintf(labels, sizeof labels, "route=\"%s\",status=\"%d\"", route, status);
    cmn_metric_add(
        cmn_metrics_counter("http_requests_total", "HTTP requests by route and status", labels), 1);
    snprintf(labels, sizeof labels, "route=\"%s\"", route);
    cmn_metric_observe(
        cmn_metrics_histogram("http_request_duration_ms", "Time from request to reply, ms", labels),
        ms);
}

/* Requests between dispatch and reply, of every server in the process (one
 * loop per process): a sentinel of a circular list. */
static live_req_t live = {&live, &live, NULL, NULL, NULL, 0};
/* Set once a server drains: every reply then closes its connection, so a
 * keep-alive client does not send its next request into a closing server. */
static int draining;

static void live_unlink(live_req_t *lr)
{
    lr->prev->next = lr->next;
    lr->next->prev = lr->prev;
    lr->h->in_flight--;
    free(lr);
}

static void on_complete(struct evhttp_request *req, void *arg)
{
    live_req_t *lr = arg;
    cmn_http_conns_reply_done(lr->h->conns, evhttp_request_get_connection(req));
    count_response(lr->route, evhttp_request_get_response_code(req),
                   cmn_time_mono_ms_f() - lr->started_ms);
    live_unlink(lr);
}

/* evhttp frees a request whose client went away once we reply, without
 * completing it: settle its bookkeeping here instead. */
static void forget_if_orphaned(struct evhttp_request *req)
{
    if (evhttp_request_get_connection(req))
        return;
    for (live_req_t *lr = live.next; lr != &live; lr = lr->next) {
        if (lr->req == req) {
            count_response(lr->route, 499, cmn_time_mono_ms_f() - lr->started_ms);
            live_unlink(lr);
            return;
        }
    }
}

void cmn_http_reply_json(struct evhttp_request *req, int status, json_t *body)
{
    forget_if_orphaned(req);
    struct evbuffer *out = evbuffer_new();
    if (draining)
        evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(body);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    if (out && text)
        evbuffer_add(out, text, strlen(text));
    if (out)
        evbuffer_add(out, "\n", 1);
    evhttp_send_reply(req, status, NULL, out);
    if (out)
        evbuffer_free(out);
    free(text);
}

void cmn_http_reply_error(struct evhttp_request *req, int status, const char *msg,
                          const char *field)
{
    json_t *body = json_pack("{s:s}", "error", msg ? msg : "error");
    if (body && field && *field)
        json_object_set_new(body, "field", json_string(field));
    cmn_http_reply_json(req, status, body);
}

void cmn_http_reply_unavailable(struct evhttp_request *req, int retry_after_s, const char *msg)
{
    char secs[16];
    snprintf(secs, sizeof secs, "%d", retry_after_s);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", secs);
    cmn_http_reply_error(req, 503, msg, NULL);
}

const char *cmn_http_header(struct evhttp_request *req, const char *name)
{
    return evhttp_find_header(evhttp_request_get_input_headers(req), name);
}

int cmn_http_query_param(struct evhttp_request *req, const char *name, char *out, size_t outsz)
{
    struct evkeyvalq q;
    const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
    int rc = -1;
    if (!query || evhttp_parse_query_str(query, &q) < 0)
        return -1;
    const char *v = evhttp_find_header(&q, name);
    if (v && *v && strlen(v) < outsz) {
        snprintf(out, outsz, "%s", v);
        rc = 0;
    }
    evhttp_clear_headers(&q);
    return rc;
}

const char *cmn_http_body(struct evhttp_request *req, size_t *len)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    *len = evbuffer_get_length(in);
    if (*len == 0)
        return "";
    return (const char *)evbuffer_pullup(in, -1);
}

int cmn_http_content_type_is(struct evhttp_request *req, const char *type)
{
    const char *ct = cmn_http_header(req, "Content-Type");
    size_t n = strlen(type);
    if (!ct || strncasecmp(ct, type, n) != 0)
        return 0;
    return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

int cmn_http_require_json(struct evhttp_request *req)
{
    if (cmn_http_content_type_is(req, "application/json"))
        return 1;
    cmn_http_reply_error(req, 415, "Content-Type must be application/json", NULL);
    return 0;
}

static void serve_health(cmn_http_t *h, struct evhttp_request *req)
{
    cmn_http_reply_json(req, 200, json_pack("{s:s}", "status", "ok"));
}

static void serve_ready(const cmn_http_t *h, struct evhttp_request *req)
{
    json_t *body = json_object(), *failing = json_object();
    for (size_t i = 0; i < h->n_checks; i++) {
        char why[256] = "not ready";
        if (!h->checks[i].fn(h->checks[i].ctx, why, sizeof why))
            json_object_set_new(failing, h->checks[i].name, json_string(why));
    }
    /* A replica that cannot take a connection is not ready, whatever its
     * dependencies say: traffic goes elsewhere, and a replica stuck there
     * gets restarted (issue 19 item 2). Draining says so itself below. */
    if (!h->draining && cmn_http_conns_refusing(h->conns)) {
        char why[96];
        snprintf(why, sizeof why, "not accepting: %d connections open, the cap is %d",
                 cmn_http_conns_open(h->conns), h->lim.max_connections);
        json_object_set_new(failing, "connections", json_string(why));
    }
    int ready = json_object_size(failing) == 0 && !h->draining;
    json_object_set_new(body, "status", json_string(ready ? "ready" : "not ready"));
    if (h->draining)
        json_object_set_new(failing, "shutdown", json_string("draining"));
    json_object_set_new(body, "failing", failing);
    cmn_http_reply_json(req, ready ? 200 : 503, body);
}

static void serve_metrics(cmn_http_t *h, struct evhttp_request *req)
{
    forget_if_orphaned(req);
    struct evbuffer *out = evbuffer_new();
    char *text = cmn_metrics_render();
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain; version=0.0.4");
    if (out && text)
        evbuffer_add(out, text, strlen(text));
    evhttp_send_reply(req, text ? 200 : 500, NULL, out);
    if (out)
        evbuffer_free(out);
    free(text);
}

/* ---- streams ------------------------------------------------------------ */

struct cmn_http_stream {
    cmn_http_stream_t *prev, *next;
    struct evhttp_request *req;
    cmn_http_conns_t *conns; /* watching its connection; NULL: evhttp's close callback is ours */
    cmn_http_stream_closed_fn on_closed;
    void *ctx;
};

/* Open streams of the process (one loop per process), for
 * cmn_http_streaming(): a sentinel of a circular list. */
static cmn_http_stream_t streams = {&streams, &streams, NULL, NULL, NULL, NULL};

static void stream_unlink(cmn_http_stream_t *s)
{
    s->prev->next = s->next;
    s->next->prev = s->prev;
    free(s);
}

/* The connection is going down: the client left, or the server is freed.
 * A request whose client left was detached by evhttp and is ours to free
 * (ending it does); otherwise evhttp frees it with the connection. */
static void on_stream_closed(struct evhttp_connection *evcon, void *arg)
{
    cmn_http_stream_t *s = arg;
    struct evhttp_request *req = s->req;
    cmn_http_stream_closed_fn fn = s->on_closed;
    void *ctx = s->ctx;
    stream_unlink(s);
    if (!evhttp_request_get_connection(req))
        evhttp_send_reply_end(req);
    if (fn)
        fn(ctx);
}

/* The tracking record of req (dispatch made one), settled as a 200: from
 * here on the request is a stream, not a request in flight. Returns the
 * server's connections (NULL: the request was not tracked, no memory). */
static cmn_http_conns_t *untrack(struct evhttp_request *req)
{
    for (live_req_t *lr = live.next; lr != &live; lr = lr->next) {
        if (lr->req == req) {
            cmn_http_conns_t *conns = lr->h->conns;
            evhttp_request_set_on_complete_cb(req, NULL, NULL);
            count_response(lr->route, 200, cmn_time_mono_ms_f() - lr->started_ms);
            live_unlink(lr);
            return conns;
        }
    }
    return NULL;
}

/* Hears of the connection closing without taking evhttp's close callback
 * from the connection cap's accounting (issue 19 item 2); only a connection
 * the cap does not track (no memory when accepted) uses it directly. */
static void stream_watch(cmn_http_stream_t *s, struct evhttp_connection *evcon)
{
    if (s->conns && cmn_http_conns_watch(s->conns, evcon, on_stream_closed, s) == 0)
        return;
    s->conns = NULL;
    evhttp_connection_set_closecb(evcon, on_stream_closed, s);
}

cmn_http_stream_t *cmn_http_stream_start(struct evhttp_request *req, const char *content_type,
                                         cmn_http_stream_closed_fn on_closed, void *ctx)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    cmn_http_stream_t *s = evcon ? calloc(1, sizeof *s) : NULL;
    if (!s) {
        cmn_http_reply_unavailable(req, 1, "out of memory");
        return NULL;
    }
    s->req = req;
    s->on_closed = on_closed;
    s->ctx = ctx;
    s->next = streams.next;
    s->prev = &streams;
    streams.next->prev = s;
    streams.next = s;
    s->conns = untrack(req);
    struct evkeyvalq *hdrs = evhttp_request_get_output_headers(req);
    evhttp_add_header(hdrs, "Content-Type", content_type);
    evhttp_add_header(hdrs, "Cache-Control", "no-store");
    /* Proxies (nginx) must pass each chunk on at once. */
    evhttp_add_header(hdrs, "X-Accel-Buffering", "no");
    /* A stream the server ends (logout, a newer login) closes its
     * connection: the client sees the end at once, and no idle keep-alive
     * connection is left holding a slot of the cap. */
    evhttp_add_header(hdrs, "Connection", "close");
    evhttp_send_reply_start(req, 200, "OK");
    stream_watch(s, evcon);
    return s;
}

size_t cmn_http_stream_write(cmn_http_stream_t *s, const char *data, size_t len)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(s->req);
    struct evbuffer *chunk = evbuffer_new();
    if (chunk && evbuffer_add(chunk, data, len) == 0)
        evhttp_send_reply_chunk(s->req, chunk);
    if (chunk)
        evbuffer_free(chunk);
    struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
    return bev ? evbuffer_get_length(bufferevent_get_output(bev)) : 0;
}

/* The connection closes after the last chunk (Connection: close), and the
 * cap's close callback uncounts it: only the stream stops listening. */
void cmn_http_stream_end(cmn_http_stream_t *s)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(s->req);
    if (evcon && s->conns)
        (void)cmn_http_conns_watch(s->conns, evcon, NULL, NULL); /* -1: already gone */
    else if (evcon)
        evhttp_connection_set_closecb(evcon, NULL, NULL);
    evhttp_send_reply_end(s->req);
    stream_unlink(s);
}

int cmn_http_streaming(struct evhttp_request *req)
{
    for (cmn_http_stream_t *s = streams.next; s != &streams; s = s->next)
        if (s->req == req)
            return 1;
    return 0;
}

static const route_t *match(const cmn_http_t *h, const char *path)
{
    for (size_t i = 0; i < h->n_routes; i++) {
        const route_t *r = &h->routes[i];
        size_t n = strlen(r->path);
        if (r->path[n - 1] == '/' ? strncmp(path, r->path, n) == 0 : strcmp(path, r->path) == 0)
            return r;
    }
    return NULL;
}

static int method_bit(struct evhttp_request *req)
{
    switch (evhttp_request_get_command(req)) {
    case EVHTTP_REQ_GET:
        return CMN_HTTP_GET;
    case EVHTTP_REQ_POST:
        return CMN_HTTP_POST;
    default:
        return 0;
    }
}

static void track(cmn_http_t *h, struct evhttp_request *req, const char *route)
{
    live_req_t *lr = calloc(1, sizeof *lr);
    if (!lr)
        return; /* the reply still goes out; only its metrics are lost */
    lr->h = h;
    lr->req = req;
    lr->route = route;
    lr->started_ms = cmn_time_mono_ms_f();
    lr->next = live.next;
    lr->prev = &live;
    live.next->prev = lr;
    live.next = lr;
    h->in_flight++;
    evhttp_request_set_on_complete_cb(req, on_complete, lr);
}

/* Request line and headers as they came, give or take the separators. */
static size_t header_bytes(struct evhttp_request *req)
{
    size_t n = strlen(evhttp_request_get_uri(req)) + 16;
    const struct evkeyval *kv;
    TAILQ_FOREACH(kv, evhttp_request_get_input_headers(req), next)
    n += strlen(kv->key) + strlen(kv->value) + 4;
    return n;
}

/* The admin listener: probes and metrics, GET only; then the operator
 * routes a service added to it (counted like public ones). */
static void dispatch_admin(cmn_http_t *h, struct evhttp_request *req, const char *path)
{
    int known = strcmp(path, "/healthz") == 0 || strcmp(path, "/readyz") == 0 ||
                strcmp(path, "/metrics") == 0;
    const route_t *r = known ? NULL : match(h, path);
    track(h, req, r ? r->name : NULL);
    if (r) {
        if (!(method_bit(req) & r->methods))
            cmn_http_reply_error(req, 405, "method not allowed", NULL);
        else
            r->fn(req, path, r->ctx);
        return;
    }
    if (!known) {
        cmn_http_reply_error(req, 404, "no such route", NULL);
        return;
    }
    if (method_bit(req) != CMN_HTTP_GET) {
        cmn_http_reply_error(req, 405, "method not allowed", NULL);
        return;
    }
    if (strcmp(path, "/healthz") == 0) {
        serve_health(h, req);
        return;
    }
    if (strcmp(path, "/readyz") == 0) {
        serve_ready(h->admin_of, req);
        return;
    }
    serve_metrics(h, req);
}

static void dispatch(struct evhttp_request *req, void *arg)
{
    cmn_http_t *h = arg;
    /* Read whole: the deadline stops while the handler works. */
    cmn_http_conns_request_read(h->conns, evhttp_request_get_connection(req));
    if (header_bytes(req) > h->lim.max_headers) {
        track(h, req, "unmatched");
        evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
        cmn_http_reply_error(req, 431, "request header fields too large", NULL);
        return;
    }
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    if (!path || !*path)
        path = "/";
    if (h->admin_of) {
        dispatch_admin(h, req, path);
        return;
    }
    const route_t *r = match(h, path);
    track(h, req, r ? r->name : "unmatched");
    if (h->draining) {
        cmn_http_reply_unavailable(req, 1, "shutting down");
        return;
    }
    if (!r) {
        cmn_http_reply_error(req, 404, "no such route", NULL);
        return;
    }
    if (evbuffer_get_length(evhttp_request_get_input_buffer(req)) > h->lim.max_body) {
        cmn_http_reply_error(req, 413, CMN_HTTP_TOO_LARGE_MSG, NULL);
        return;
    }
    if (!(method_bit(req) & r->methods)) {
        cmn_http_reply_error(req, 405, "method not allowed", NULL);
        return;
    }
    r->fn(req, path, r->ctx);
}

static size_t or_default(size_t v, size_t def)
{
    return v ? v : def;
}

static cmn_http_t *server_new(struct event_base *base, const char *name, const char *bind, int port,
                              const cmn_http_limits_t *limits, char *errstr, size_t errsz)
{
    cmn_http_t *h = calloc(1, sizeof *h);
    if (!h || !(h->http = evhttp_new(base))) {
        snprintf(errstr, errsz, "out of memory");
        free(h);
        return NULL;
    }
    h->lim.max_body = or_default(limits->max_body, 262144);
    h->lim.max_headers = or_default(limits->max_headers, 16384);
    h->lim.max_connections = limits->max_connections > 0 ? limits->max_connections : 1024;
    h->lim.deadline_ms = limits->deadline_ms > 0 ? limits->deadline_ms : 30000;
    /* A body over the limit is refused from its Content-Length (or when a
     * chunked one passes it) before it is buffered: libevent answers that 413
     * itself, and cmn_http_413 turns its HTML into our JSON. Headers: our 431
     * up to twice the limit; beyond, libevent stops buffering (its own 400). */
    evhttp_set_max_body_size(h->http, (ev_ssize_t)h->lim.max_body);
    /* The answer goes out after the rest of an announced body was read and
     * discarded (bounded by the whole-request deadline): a client still
     * sending gets the 413, not a reset under its upload. */
    if (evhttp_set_flags(h->http, EVHTTP_SERVER_LINGERING_CLOSE) < 0)
        LOG_WARN("http %s: no lingering close; an oversize upload may see a reset", name);
    evhttp_set_max_headers_size(h->http, (ev_ssize_t)h->lim.max_headers * 2);
    evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                            EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD);
    evhttp_set_gencb(h->http, dispatch, h);
    /* Between bytes (an idle client); the whole request has the deadline. */
    evhttp_set_timeout(h->http, (h->lim.deadline_ms + 999) / 1000);
    if (!(h->conns = cmn_http_conns_new(base, h->http, name, h->lim.max_connections,
                                        h->lim.deadline_ms))) {
        snprintf(errstr, errsz, "out of memory");
        goto fail;
    }
    h->sock = evhttp_bind_socket_with_handle(h->http, bind, (ev_uint16_t)port);
    if (!h->sock) {
        snprintf(errstr, errsz, "cannot listen on %s:%d", bind, port);
        goto fail;
    }
    if (cmn_http_conns_listen(h->conns, h->sock) < 0) {
        snprintf(errstr, errsz, "libevent: cannot watch %s:%d", bind, port);
        goto fail;
    }
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    getsockname(evhttp_bound_socket_get_fd(h->sock), (struct sockaddr *)&ss, &len);
    h->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return h;
fail:
    cmn_http_free(h);
    return NULL;
}

cmn_http_t *cmn_http_new(struct event_base *base, const char *bind, int port,
                         const cmn_http_limits_t *limits, char *errstr, size_t errsz)
{
    return server_new(base, "public", bind, port, limits, errstr, errsz);
}

cmn_http_t *cmn_http_admin_new(struct event_base *base, const char *bind, int port,
                               const cmn_http_t *of, char *errstr, size_t errsz)
{
    /* Probes are small and few: a small cap keeps a scan off the loop. */
    static const cmn_http_limits_t admin_limits = {.max_body = 1024, .max_connections = 64};
    cmn_http_t *h = server_new(base, "admin", bind, port, &admin_limits, errstr, errsz);
    if (h)
        h->admin_of = of;
    return h;
}

int cmn_http_port(const cmn_http_t *h)
{
    return h->port;
}

int cmn_http_route(cmn_http_t *h, const char *name, const char *path, int methods,
                   cmn_http_handler_fn fn, void *ctx)
{
    if (h->n_routes == MAX_ROUTES || !*path)
        return -1;
    h->routes[h->n_routes++] = (route_t){name, path, methods, fn, ctx};
    return 0;
}

int cmn_http_ready_check(cmn_http_t *h, const char *name, cmn_http_ready_fn fn, void *ctx)
{
    if (h->n_checks == MAX_CHECKS)
        return -1;
    h->checks[h->n_checks++] = (check_t){name, fn, ctx};
    return 0;
}

void cmn_http_drain(cmn_http_t *h)
{
    h->draining = 1;
    draining = 1;
    if (h->sock) {
        cmn_http_conns_unlisten(h->conns); /* shares the socket */
        evhttp_del_accept_socket(h->http, h->sock);
        h->sock = NULL;
    }
}

int cmn_http_connections(const cmn_http_t *h)
{
    return cmn_http_conns_open(h->conns);
}

int cmn_http_in_flight(const cmn_http_t *h)
{
    return h->in_flight;
}

void cmn_http_free(cmn_http_t *h)
{
    if (!h)
        return;
    if (h->draining)
        draining = 0;
    cmn_http_conns_unlisten(h->conns); /* before evhttp closes the socket */
    if (h->http)
        evhttp_free(h->http);
    cmn_http_conns_free(h->conns); /* after: evhttp_free closed the connections */
    for (live_req_t *lr = live.next, *next; lr != &live; lr = next) {
        next = lr->next;
        if (lr->h == h)
            live_unlink(lr);
    }
    free(h);
}
