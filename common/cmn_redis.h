/* Async Redis client on the process's event loop, reconnecting with
 * backoff when the server goes away. Commands are only accepted while
 * connected: a caller learns at once (-1) instead of queueing work that
 * would be silently lost.
 *
 * Issue 8 item 3: the URL may carry credentials, a database and TLS
 * (rediss://); every command has a deadline (a server that stops answering,
 * e.g. SIGSTOPped, fails its commands and the connection, which is then
 * re-made, instead of holding callers for ever); an idle connection is
 * pinged, so a hung server shows in cmn_redis_connected (and /readyz)
 * without traffic; TCP keepalive notices a peer that vanished.
 *
 * hiredis 0.14 (Debian bookworm's) has neither TLS nor async timeouts, so
 * the connection is a libevent bufferevent (an OpenSSL one for rediss://)
 * and hiredis only formats commands and parses replies. */
#ifndef CMN_REDIS_H
#define CMN_REDIS_H

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <stddef.h>

typedef struct cmn_redis cmn_redis_t;

/* reply is borrowed for the call; NULL when the command failed (connection
 * lost, timed out, client freed), with err saying why. Called exactly once
 * per accepted command, on the loop. */
typedef void (*cmn_redis_reply_fn)(void *ctx, redisReply *reply, const char *err);

typedef struct {
    const char *url;    /* redis[s]://[[user]:password@]host[:port][/db] */
    int timeout_ms;     /* a command's (and a connect's) deadline; 0: 2000 */
    const char *tls_ca; /* rediss://: CA file to verify the server; NULL/"": the system's */
} cmn_redis_opts_t;

/* Connects in the background. NULL on a bad url (errstr set). Strings are
 * copied. */
cmn_redis_t *cmn_redis_new_opts(struct event_base *base, const cmn_redis_opts_t *opts, char *errstr,
                                size_t errsz);
/* cmn_redis_new_opts with the defaults. */
cmn_redis_t *cmn_redis_new(struct event_base *base, const char *url, char *errstr, size_t errsz);

/* Returns 0 when the command was sent (cb, unless NULL, will be called),
 * -1 when not connected or out of memory (cb will not be called). */
int cmn_redis_command(cmn_redis_t *r, cmn_redis_reply_fn cb, void *ctx, const char *fmt, ...)
    __attribute__((warn_unused_result));
int cmn_redis_command_argv(cmn_redis_t *r, cmn_redis_reply_fn cb, void *ctx, int argc,
                           const char **argv, const size_t *lens)
    __attribute__((warn_unused_result));

/* 1 once the server answered the connection's handshake (AUTH, SELECT,
 * PING) and until the connection fails or a command overruns its deadline. */
int cmn_redis_connected(const cmn_redis_t *r);
/* Shutdown, step 1: disconnects for good and calls every pending callback
 * with a NULL reply now, while what they touch is still alive; from here
 * on every command is refused (-1) and nothing reconnects. The client
 * stays valid until cmn_redis_free. NULL-safe, idempotent. */
void cmn_redis_close(cmn_redis_t *r);
/* Pending callbacks are called with a NULL reply. NULL-safe. */
void cmn_redis_free(cmn_redis_t *r);

typedef struct {
    int tls;
    char host[256];
    int port; /* 6379 when absent */
    int db;
    char user[128]; /* "" when absent: AUTH <password> */
    char pass[256]; /* "" when absent: no AUTH */
} cmn_redis_url_t;

/* Parses redis[s]://[[user]:password@]host[:port][/db]; user and password
 * may be %-encoded. Returns 0 or -1. */
int cmn_redis_parse_url(const char *url, cmn_redis_url_t *out);

#endif
