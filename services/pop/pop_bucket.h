/* A token bucket: how many calls pop-service may place through the
 * telephony provider (issue 24 item 1). `burst` calls at once, then one
 * every 60000 / per_min ms. Pure (the caller passes the time), so the unit
 * tests move a fake clock; one bucket per provider, owned by pop_dial. Loop
 * thread only. */
#ifndef POP_BUCKET_H
#define POP_BUCKET_H

#include <stdint.h>

typedef struct {
    double tokens;   /* calls that may go now (fractional while refilling) */
    double per_ms;   /* refill rate */
    double burst;    /* the most it holds */
    int64_t last_ms; /* when tokens was last brought up to date */
} pop_bucket_t;

/* A full bucket at now_ms. per_min and burst >= 1. */
void pop_bucket_init(pop_bucket_t *b, long per_min, long burst, int64_t now_ms);

/* Takes one token: 0, or (none left) the milliseconds until one will be
 * there, and nothing is taken. */
int64_t pop_bucket_take(pop_bucket_t *b, int64_t now_ms);

#endif
