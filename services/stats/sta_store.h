/* The stats service's Redis side (issue 25 item 3): the contract's day
 * hashes (`<ns>stats:d:<YYYY-MM-DD>`, read by cmn_stats_query) and its
 * private state under other `<ns>stats:` keys:
 *   stats:o:<topic>        hash partition -> last applied offset;
 *   stats:s:<topic>:<id>   an event id seen (republish guard), with a TTL;
 *   stats:c:<call id>      a call (sta_call_t), with a TTL: until its end,
 *                          then for a late answer to correct (issue 27);
 *   stats:t:<ticket id>    a ticket (sta_ticket_t), kept as long as the days.
 * <ns> is CALLBUS_TOPIC_PREFIX, as every service's keys ("" in production).
 *
 * Exactly once: sta_store_apply runs one Lua script, so a message's cell
 * increments, its state and its partition's offset change together or not
 * at all, and only when the stored offset is below the message's (a
 * replay, a second replica briefly holding the partition, a re-read from
 * offset 0 with another group: all find it applied). A message whose event
 * id was seen within seen_ttl_s moves the offset and adds nothing.
 *
 * Loop thread only. Borrows the Redis client; copies the prefix. */
#ifndef STA_STORE_H
#define STA_STORE_H

#include "cmn_redis.h"
#include "sta_figures.h"

#include <stdint.h>

typedef struct sta_store sta_store_t;

typedef struct {
    long retention_days; /* day hashes expire this long after the day's end */
    long seen_ttl_s;     /* event ids remembered */
    long call_ttl_s;     /* a call's state */
} sta_store_opts_t;

/* NULL out of memory. */
sta_store_t *sta_store_new(cmn_redis_t *redis, const char *prefix, const sta_store_opts_t *o);
void sta_store_free(sta_store_t *s); /* NULL-safe */

/* ok=0: Redis failed. The states are borrowed for the call; known=0 when
 * none is stored (or none was asked for). */
typedef void (*sta_store_read_fn)(void *ctx, int ok, const sta_call_t *call,
                                  const sta_ticket_t *ticket);
/* call_id / ticket_id: "" when not needed. 0 when sent (cb called once),
 * -1 when not (not connected; cb never called). */
int sta_store_read(sta_store_t *s, const char *call_id, const char *ticket_id, sta_store_read_fn cb,
                   void *ctx) __attribute__((warn_unused_result));

/* The partition's applied offset (-1: none yet), or ok=0 when Redis
 * failed. */
typedef void (*sta_store_offset_fn)(void *ctx, int ok, int64_t applied);
/* topic: the prefixed name. 0 when sent, -1 when not (cb never called). */
int sta_store_applied(sta_store_t *s, const char *topic, int32_t partition, sta_store_offset_fn cb,
                      void *ctx) __attribute__((warn_unused_result));

typedef enum {
    STA_APPLY_FAILED = -1,   /* Redis failed: nothing changed */
    STA_APPLY_REPLAYED = 0,  /* the partition's offset was at or past it */
    STA_APPLY_APPLIED = 1,   /* cells, state and offset written */
    STA_APPLY_DUPLICATE = 2, /* its event id was seen: only the offset moved */
} sta_apply_result_t;
/* stored: the partition's applied offset now (the message's own when
 * applied or seen; a replayed one's is the stored one, at or past it: a
 * lower bound the caller may skip up to without asking, since the stored
 * offset only grows); -1 when failed. */
typedef void (*sta_store_apply_fn)(void *ctx, sta_apply_result_t result, int64_t stored);

/* topic: the prefixed name. 0 when sent, -1 when not (cb never called). */
int sta_store_apply(sta_store_t *s, const char *topic, int32_t partition, int64_t offset,
                    const sta_plan_t *plan, sta_store_apply_fn cb, void *ctx)
    __attribute__((warn_unused_result));

#endif
