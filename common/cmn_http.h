/* HTTP server glue on libevent's evhttp: routing, JSON replies and errors
 * ({"error": "...", "field": "..."}), limits for strangers (body 413,
 * headers 431, a connection cap, a whole-request deadline), per-route
 * request metrics, a drain mode for graceful shutdown, and an admin
 * listener that alone answers /healthz, /readyz and /metrics, off the
 * public port (issue 8 item 2).
 *
 * Every request handed to a handler must end in exactly one cmn_http_reply*
 * call, possibly later on the loop (after a Kafka delivery report). */
#ifndef CMN_HTTP_H
#define CMN_HTTP_H

#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>
#include <stddef.h>

typedef struct cmn_http cmn_http_t;
typedef void (*cmn_http_handler_fn)(struct evhttp_request *req, const char *path, void *ctx);
/* Returns 1 when the dependency is ready, else 0 with a reason in why. */
typedef int (*cmn_http_ready_fn)(void *ctx, char *why, size_t whysz);

#define CMN_HTTP_GET 0x1
#define CMN_HTTP_POST 0x2

/* What a server holds for strangers (issue 8 item 1). 0 fields take the
 * defaults in brackets. */
typedef struct {
    size_t max_body;     /* largest body read; larger: 413, before it is read [262144] */
    size_t max_headers;  /* request line + headers; larger: 431 (beyond twice: 413) [16384] */
    int max_connections; /* open connections; more are answered 503 and closed [1024] */
    int deadline_ms;     /* a request must arrive whole within it of the connection's
                            opening or its previous reply, else the connection is
                            closed [30000] */
} cmn_http_limits_t;

cmn_http_t *cmn_http_new(struct event_base *base, const char *bind, int port,
                         const cmn_http_limits_t *limits, char *errstr, size_t errsz);

/* An admin listener: GET /healthz, /readyz (the readiness checks and drain
 * state of `of`, borrowed, which must outlive it) and /metrics; then the
 * routes added to it with cmn_http_route (operators' APIs, e.g.
 * pop-service's session revocation: reachable only where the admin port
 * is, and each checks its own credential); every other path 404, other
 * methods 405. It keeps answering while `of` drains. */
cmn_http_t *cmn_http_admin_new(struct event_base *base, const char *bind, int port,
                               const cmn_http_t *of, char *errstr, size_t errsz);

/* The port actually bound (useful with port 0). */
int cmn_http_port(const cmn_http_t *h);

/* A route matches a path exactly, or every path under it when `path` ends
 * in '/'. `name` labels the route's metrics. Routes are tried in the order
 * added. Borrowed strings must outlive the server. */
int cmn_http_route(cmn_http_t *h, const char *name, const char *path, int methods,
                   cmn_http_handler_fn fn, void *ctx) __attribute__((warn_unused_result));
int cmn_http_ready_check(cmn_http_t *h, const char *name, cmn_http_ready_fn fn, void *ctx)
    __attribute__((warn_unused_result));

/* Steals `body`. Adds Content-Type: application/json. */
void cmn_http_reply_json(struct evhttp_request *req, int status, json_t *body);
/* {"error": msg, "field": field}; field may be NULL. */
void cmn_http_reply_error(struct evhttp_request *req, int status, const char *msg,
                          const char *field);
/* 503 with Retry-After (seconds). */
void cmn_http_reply_unavailable(struct evhttp_request *req, int retry_after_s, const char *msg);

/* Request helpers: header (borrowed, NULL if absent); the body made
 * contiguous (borrowed until the reply). */
const char *cmn_http_header(struct evhttp_request *req, const char *name);
const char *cmn_http_body(struct evhttp_request *req, size_t *len);
/* The URI's query parameter `name`, decoded, copied into out: 0, or -1
 * when it is absent, empty or does not fit. */
int cmn_http_query_param(struct evhttp_request *req, const char *name, char *out, size_t outsz);
/* 1 when Content-Type's media type equals `type` (parameters ignored). */
int cmn_http_content_type_is(struct evhttp_request *req, const char *type);
/* 1 when the request declares a JSON body (Content-Type application/json);
 * else req was answered 415 (a JSON error) and 0 is returned. A route that
 * takes a session cookie needs it: an HTML form on another port of the same
 * site can post with the cookie, but only as a form or text/plain. */
int cmn_http_require_json(struct evhttp_request *req);

/* Streaming replies (Server-Sent Events, issue 10): instead of one reply a
 * handler may start a long-lived chunked 200 and write to it for as long
 * as it likes. From cmn_http_stream_start on, the request is no longer in
 * flight: it does not hold shutdown (cmn_http_in_flight), its metrics are
 * counted at once (status 200), and no whole-request deadline applies to it
 * (it was received whole; what follows is ours to write). A deadline or
 * other per-request bookkeeping added to dispatch must skip requests
 * marked streaming: cmn_http_streaming(req). The owner ends every stream
 * it started (cmn_http_stream_end), at the latest in its drain stop hook,
 * so that SIGTERM closes streams cleanly and the clients reconnect
 * elsewhere.
 *
 * on_closed is called at most once, on the loop, when the client went
 * away (or the server is freed): the request is gone when it returns and
 * must not be used again (nor ended). Returns 0, or -1 (no memory: the
 * request was answered 503). */
typedef struct cmn_http_stream cmn_http_stream_t;
typedef void (*cmn_http_stream_closed_fn)(void *ctx);
/* Returns the stream (owned by cmn_http until cmn_http_stream_end or
 * on_closed), or NULL: no memory, and req was answered 503. */
cmn_http_stream_t *cmn_http_stream_start(struct evhttp_request *req, const char *content_type,
                                         cmn_http_stream_closed_fn on_closed, void *ctx);
/* Queues bytes on the stream. Returns how many bytes the client has not
 * read yet (the caller bounds a slow reader by ending its stream). */
size_t cmn_http_stream_write(cmn_http_stream_t *s, const char *data, size_t len);
/* Ends the stream (the last chunk) and frees it; on_closed is not called. */
void cmn_http_stream_end(cmn_http_stream_t *s);
/* 1 when req was turned into a stream (and is not ended). */
int cmn_http_streaming(struct evhttp_request *req);

/* Drain: stop listening; new requests on open connections get 503. */
void cmn_http_drain(cmn_http_t *h);
/* Connections open now. */
int cmn_http_connections(const cmn_http_t *h);
/* Requests handed to handlers and not yet replied. */
int cmn_http_in_flight(const cmn_http_t *h);
void cmn_http_free(cmn_http_t *h);

#endif
