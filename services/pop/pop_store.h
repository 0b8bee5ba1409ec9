/* pop-service's state in Redis (docs/pop.md "Redis keys"): per call what is
 * known for its pops, per agent the stream of their pops (bounded, for
 * reconnects), and the bus stream every replica reads to reach the agents
 * connected to it. Each change is one Lua script, so it is atomic and one
 * round trip. Keys carry the topic prefix (one Redis, several installs).
 * Single-instance Redis: the scripts build some keys themselves. */
#ifndef POP_STORE_H
#define POP_STORE_H

#include "cmn_redis.h"

#include <hiredis/hiredis.h>
#include <stddef.h>

typedef struct pop_store pop_store_t;

/* Borrows redis and ns (outlive the store). ack_timeout_ms: how long a
 * delivered pop waits for its acknowledgement (pop_ack.h); ack_keep_s: how
 * long its details stay (a repeated ack is recognised that long; past it,
 * it is unknown). */
pop_store_t *pop_store_new(cmn_redis_t *redis, const char *ns, long retention_s, long history,
                           long ack_timeout_ms, long ack_keep_s);
void pop_store_free(pop_store_t *s);
const char *pop_store_ns(const pop_store_t *s);
cmn_redis_t *pop_store_redis(const pop_store_t *s);

/* What an event does to the agent's "current call" (R-P1). */
typedef enum { POP_CALL_KEEP = 0, POP_CALL_ON, POP_CALL_OFF } pop_call_mode_t;

/* reply: [resolved agent, [field, value, ...]] (borrowed), NULL with err. */
typedef void (*pop_store_call_fn)(void *ctx, const redisReply *agent, const redisReply *fields,
                                  const char *err);

/* Merges the fields (name, value pairs; n_fields pairs) into the call's
 * state, resolves the event's agent (crm id, else the CRM agent logged in
 * with this provider agent id), applies mode (POP_CALL_ON giving the call
 * to another agent also records leg, the event's id, as the call's "leg"), and answers the state
 * after. Returns 0 (cb will be called) or -1 (Redis unavailable). */
int pop_store_call_update(pop_store_t *s, const char *call_id, const char *agent_crm,
                          const char *agent_provider, pop_call_mode_t mode, const char *leg,
                          const char *const *fields, size_t n_fields, pop_store_call_fn cb,
                          void *ctx) __attribute__((warn_unused_result));

/* stream_id: the pop's id on the agent's stream (its SSE id); fresh: 0 when
 * this pop id was delivered before (a replay: nothing was added). */
typedef void (*pop_store_deliver_fn)(void *ctx, const char *stream_id, int fresh, const char *err);
/* What the acknowledgement's fallback needs of a pop (borrowed, "" when
 * unknown): kept beside it while it awaits its acknowledgement. */
typedef struct {
    const char *kind, *call_id, *ticket_id, *contact_id;
} pop_store_ack_info_t;

/* Adds the pop to the agent's stream and the bus, once per pop id, and, in
 * the same script, to the pops awaiting an acknowledgement (due at
 * delivery + ack timeout, on Redis' clock: one clock for every replica). */
int pop_store_deliver(pop_store_t *s, const char *agent, const char *pop_id, const char *pop_json,
                      const pop_store_ack_info_t *ack, pop_store_deliver_fn cb, void *ctx)
    __attribute__((warn_unused_result));

/* The sorted set of pops awaiting their acknowledgement (member: pop id,
 * score: when it is due, ms) and a pop's details beside it (a hash:
 * agent, at (delivered, ms), dl (due), kind, call, ticket, contact, then
 * acked / claimed once so). Keys built by the scripts use the same
 * shapes. */
const char *pop_store_pending_key(const pop_store_t *s);
void pop_store_ack_key(const pop_store_t *s, const char *pop_id, char *out, size_t outsz);

/* The agent's pops after stream id `after` ("0-0": all kept), oldest
 * first: reply is Redis' XRANGE answer (borrowed). */
int pop_store_read(pop_store_t *s, const char *agent, const char *after, long count,
                   cmn_redis_reply_fn cb, void *ctx) __attribute__((warn_unused_result));

/* Tells every replica to end the streams of the agent's session `session`
 * (its token's hash; logout). Streams of another session of the agent
 * stay open. */
int pop_store_announce_end(pop_store_t *s, const char *agent, const char *session)
    __attribute__((warn_unused_result));

/* Entries the bus keeps: far more than any replica lags. */
#define POP_STORE_BUS_MAX "100000"

/* The bus stream's key (pop_hub reads it). Borrowed. */
const char *pop_store_bus_key(const pop_store_t *s);

/* Looks a field up in an HGETALL-style array reply; "" when absent. */
const char *pop_store_field(const redisReply *fields, const char *name);

#endif
