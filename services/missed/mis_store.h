/* The grouper's per-customer state in Redis: one JSON value per customer
 * (`<prefix>mis:cust:<E.164>`), written whole with one SET, so a customer's
 * group, calls in progress and replay guard change together. Expires
 * after the configured TTL (a group nobody touched for that long is
 * forgotten: the next missed call opens a new one, R-M2 at worst twice).
 * Memory: the store borrows the Redis client; states are copied. */
#ifndef MIS_STORE_H
#define MIS_STORE_H

#include "cmn_redis.h"
#include "mis_rules.h"

typedef struct mis_store mis_store_t;

/* prefix: borrowed, copied. NULL out of memory. */
mis_store_t *mis_store_new(cmn_redis_t *redis, const char *prefix, long ttl_s);
void mis_store_free(mis_store_t *s); /* NULL-safe */

/* ok=0: Redis failed (st NULL); ok=1: st is the stored state, or a fresh
 * one when none is stored. st is borrowed for the call. */
typedef void (*mis_store_get_fn)(void *ctx, int ok, const mis_state_t *st);
typedef void (*mis_store_put_fn)(void *ctx, int ok);

/* Return 0 when sent (cb is called once), -1 when not (cb never called). */
int mis_store_get(mis_store_t *s, const char *number, mis_store_get_fn cb, void *ctx)
    __attribute__((warn_unused_result));
int mis_store_put(mis_store_t *s, const char *number, const mis_state_t *st, mis_store_put_fn cb,
                  void *ctx) __attribute__((warn_unused_result));

/* The codec, for tests: a new heap string (free()), NULL out of memory;
 * decode returns 0, or -1 for a value that is not a state (logged by the
 * caller and read as a fresh state). */
char *mis_store_encode(const mis_state_t *st);
int mis_store_decode(const char *text, size_t len, mis_state_t *st);

#endif
