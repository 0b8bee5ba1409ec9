/* The agents' pop streams on this replica (R-P5): Server-Sent Events, one
 * per open agent page, each fed from the agent's Redis stream. A stream
 * first replays what the agent missed (after Last-Event-ID, or since the
 * session began), then follows the bus: every replica reads every pop from
 * the bus stream (a second Redis connection, blocking XREAD) and writes
 * those of its own agents, so a pop produced on any replica reaches an
 * agent connected to any other. Streams are never requests in flight: at
 * shutdown they are ended (the page reconnects to another replica). */
#ifndef POP_HUB_H
#define POP_HUB_H

#include "pop_store.h"

#include <event2/event.h>
#include <event2/http.h>
#include <stdint.h>

typedef struct pop_hub pop_hub_t;

typedef struct {
    long history;         /* pops replayed at most per catch-up round */
    long keepalive_s;     /* a comment line per stream this often, the streams spread over it */
    long max_streams;     /* beyond: 503 */
    size_t max_unread;    /* a client holding more unread bytes is cut off */
    long session_check_s; /* a stream rechecks that its session lives at least this often */
    long max_per_session; /* streams of one session on this replica; past: the oldest ends */
    long max_per_agent;   /* the same for one agent, whatever the session */
} pop_hub_opts_t;

/* Borrows store and bus (a Redis client of its own: blocking reads). */
pop_hub_t *pop_hub_new(struct event_base *base, pop_store_t *store, cmn_redis_t *bus,
                       const pop_hub_opts_t *opts);
/* Answers req with the agent's stream, replaying pops after stream id
 * `after` ("0-0": every kept one). session: the session it belongs to,
 * ttl_s its seconds left. The stream ends with the session: at once when
 * it is announced ended (logout, a newer login: pop_store_announce_end);
 * when its TTL runs out or its key is gone, within session_check_s
 * (expiry, or a revocation nobody announced). Past max_per_session or
 * max_per_agent, the oldest stream of that session (agent) here ends,
 * told first by a "replaced" event. Copies the strings. */
void pop_hub_attach(pop_hub_t *h, struct evhttp_request *req, const char *agent,
                    const char *session, const char *after, long ttl_s);
/* Ends every stream (shutdown) and stops reading the bus. */
void pop_hub_close_all(pop_hub_t *h);
size_t pop_hub_streams(const pop_hub_t *h);
/* NULL-safe; ends what is still open. */
void pop_hub_free(pop_hub_t *h);

/* Stream ids "<ms>-<seq>" compared as numbers: <0, 0, >0. Unparsable
 * text counts as 0-0. */
int pop_hub_id_cmp(const char *a, const char *b);

#endif
