/* Shared bits of the integration tests: the local stack's addresses (set by
 * tests/run.sh), unique names, and running a loop until a condition holds. */
#ifndef IT_ENV_H
#define IT_ENV_H

#include <event2/event.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static inline const char *it_brokers(void)
{
    const char *b = getenv("CALLBUS_KAFKA_BROKERS");
    return b ? b : "127.0.0.1:19192";
}

static inline const char *it_redis_url(void)
{
    const char *r = getenv("CALLBUS_REDIS_URL");
    return r ? r : "redis://127.0.0.1:16479";
}

/* "prefix-<pid>-<ns>": topics and groups no other run shares. */
static inline void it_unique(char *out, size_t sz, const char *prefix)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(out, sz, "%s-%d-%ld", prefix, (int)getpid(), (long)ts.tv_nsec);
}

typedef int (*it_cond_fn)(void *ctx);

/* Runs the loop in 10 ms slices until cond(ctx) or timeout; returns 1 when
 * the condition held. */
static inline int it_run_until(struct event_base *base, it_cond_fn cond, void *ctx, int timeout_ms)
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        if (cond(ctx))
            return 1;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long elapsed = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (elapsed > timeout_ms)
            return 0;
        struct timeval slice = {0, 10000};
        event_base_loopexit(base, &slice);
        event_base_dispatch(base);
    }
}

#endif
