/* What a cmn_http server holds for each open connection (issue 8 item 1):
 * a cap on how many are open, and a whole-request deadline.
 *
 * libevent 2.1 has neither (no evhttp_set_max_connections, no
 * evhttp_set_newreqcb), and its timeout restarts with every byte
 * (slowloris). So: evhttp's bufferevent callback, called once per accepted
 * socket, counts the connection and arms its deadline; the connection's
 * close callback (set once evhttp has wired the new bufferevent) uncounts it.
 * At the cap, evhttp's listener is paused and a second listener on the same
 * socket answers newcomers 503 (JSON, Connection: close) and closes them
 * cleanly; below the cap again, evhttp's listener takes over.
 *
 * The deadline runs from the connection's opening, or from its previous
 * reply, until a request has been read whole; then it stops while the
 * handler works (deferred replies), and starts again with the reply. A
 * connection that overruns it is closed.
 *
 * An accept() that fails for want of descriptors (EMFILE/ENFILE) or memory
 * leaves the listening socket readable: both listeners then pause for a
 * moment (counted in http_accept_out_of_descriptors_total) instead of
 * spinning the loop, and the waiting connections are taken once accept
 * succeeds again (issue 19 item 6d). Used by cmn_http only. */
#ifndef CMN_HTTP_CONN_H
#define CMN_HTTP_CONN_H

#include <event2/event.h>
#include <event2/http.h>

typedef struct cmn_http_conns cmn_http_conns_t;

/* Installs the bufferevent callback on `http`: call before it binds.
 * `name` (borrowed) labels the metrics. NULL when out of memory. */
cmn_http_conns_t *cmn_http_conns_new(struct event_base *base, struct evhttp *http, const char *name,
                                     int max_connections, int deadline_ms);
/* The socket evhttp listens on (paused at the cap). -1 on failure. */
int cmn_http_conns_listen(cmn_http_conns_t *c, struct evhttp_bound_socket *sock)
    __attribute__((warn_unused_result));
/* Stops refusing: the listening socket is about to go (drain). */
void cmn_http_conns_unlisten(cmn_http_conns_t *c);
/* A request on `evcon` was read whole: its deadline stops. */
void cmn_http_conns_request_read(cmn_http_conns_t *c, struct evhttp_connection *evcon);
/* Its reply went out: the deadline starts again for the next request. */
void cmn_http_conns_reply_done(cmn_http_conns_t *c, struct evhttp_connection *evcon);
int cmn_http_conns_open(const cmn_http_conns_t *c);
/* 1 while a new connection would be refused (at the cap, or no listener
 * taking connections): what /readyz reports (issue 19 item 2). */
int cmn_http_conns_refusing(const cmn_http_conns_t *c);

/* evhttp has one close callback per connection, and the cap's accounting
 * hangs on it: nobody else may replace it (a stream did, and its closed
 * connections never freed their slots: issue 19 item 2). Instead, whoever
 * must hear of the connection closing (a stream: client gone, server freed)
 * watches it: on_gone(arg) is called once, on the loop, as the connection
 * closes, before it is uncounted. fn NULL stops watching (the stream ended
 * first). Returns 0, or -1 when evcon is not tracked (out of memory when it
 * was accepted): then evhttp's close callback is the caller's to use. */
typedef void (*cmn_http_conns_gone_fn)(struct evhttp_connection *evcon, void *arg);
int cmn_http_conns_watch(cmn_http_conns_t *c, struct evhttp_connection *evcon,
                         cmn_http_conns_gone_fn on_gone, void *arg);
/* After evhttp_free (which closed every connection). NULL-safe. */
void cmn_http_conns_free(cmn_http_conns_t *c);

#endif
