/* Async Redis client on hiredis' libevent adapter, reconnecting with
 * backoff when the server goes away. Commands are only accepted while
 * connected: a caller learns at once (-1) instead of queueing work that
 * would be silently lost. */
#ifndef CMN_REDIS_H
#define CMN_REDIS_H

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <stddef.h>

typedef struct cmn_redis cmn_redis_t;

/* reply is borrowed for the call; NULL when the command failed (connection
 * lost, client freed), with err saying why. Called exactly once per
 * accepted command, on the loop. */
typedef void (*cmn_redis_reply_fn)(void *ctx, redisReply *reply, const char *err);

/* url: redis://host:port[/db]. Connects in the background. NULL on a bad
 * url (errstr set). */
cmn_redis_t *cmn_redis_new(struct event_base *base, const char *url, char *errstr, size_t errsz);

/* Returns 0 when the command was sent (cb, unless NULL, will be called),
 * -1 when not connected or out of memory (cb will not be called). */
int cmn_redis_command(cmn_redis_t *r, cmn_redis_reply_fn cb, void *ctx, const char *fmt, ...)
    __attribute__((warn_unused_result));
int cmn_redis_command_argv(cmn_redis_t *r, cmn_redis_reply_fn cb, void *ctx, int argc,
                           const char **argv, const size_t *lens)
    __attribute__((warn_unused_result));

int cmn_redis_connected(const cmn_redis_t *r);
/* Pending callbacks are called with a NULL reply. NULL-safe. */
void cmn_redis_free(cmn_redis_t *r);

/* Parses redis://host:port[/db]; returns 0 or -1. host >= 256 bytes. */
int cmn_redis_parse_url(const char *url, char *host, size_t hostsz, int *port, int *db);

#endif
