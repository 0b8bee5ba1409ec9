/* The 413 of a body over the limit, in JSON like every other error of
 * cmn_http (issue 19 item 6e).
 *
 * A body announced larger than the limit (Content-Length) is refused by
 * libevent 2.1 before it is read, and answered by libevent itself:
 * evhttp_send_error's HTML page, and 2.1 has no hook for our own body
 * (evhttp_set_errorcb is 2.2). cmn_http lets libevent read and discard
 * the rest of such a body first (EVHTTP_SERVER_LINGERING_CLOSE), so the
 * client gets the answer instead of a reset under its upload; and this
 * watches a connection's output buffer, before any byte of that answer is
 * written, and replaces libevent's HTML 413 with the JSON one. Used by
 * cmn_http_conn (it creates every connection's bufferevent); loop thread
 * only. */
#ifndef CMN_HTTP_413_H
#define CMN_HTTP_413_H

#include <event2/bufferevent.h>

/* The error text of every 413 a cmn_http server sends. */
#define CMN_HTTP_TOO_LARGE_MSG "request body too large"

/* Watches bev's output (the watch is freed with bev). Returns 0 or -1. */
int cmn_http_413_watch(struct bufferevent *bev) __attribute__((warn_unused_result));

#endif
