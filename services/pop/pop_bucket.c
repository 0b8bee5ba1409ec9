/* Token bucket arithmetic (pop_bucket.h). */
#include "pop_bucket.h"

#include <math.h>

void pop_bucket_init(pop_bucket_t *b, long per_min, long burst, int64_t now_ms)
{
    b->burst = burst < 1 ? 1.0 : (double)burst;
    b->per_ms = (per_min < 1 ? 1.0 : (double)per_min) / 60000.0;
    b->tokens = b->burst;
    b->last_ms = now_ms;
}

int64_t pop_bucket_take(pop_bucket_t *b, int64_t now_ms)
{
    /* A clock that went backwards refills nothing (and takes nothing back). */
    if (now_ms > b->last_ms) {
        b->tokens = fmin(b->burst, b->tokens + (double)(now_ms - b->last_ms) * b->per_ms);
        b->last_ms = now_ms;
    }
    if (b->tokens >= 1.0) {
        b->tokens -= 1.0;
        return 0;
    }
    return (int64_t)ceil((1.0 - b->tokens) / b->per_ms);
}
