/* Provider payload -> canonical call events. Each provider has its own
 * ing_<provider>.c with one entry point of this shape; all are pure (no I/O)
 * so that they are unit-tested and fuzzed in isolation.
 *
 * Memory: on success `out` holds `out->n` initialised events owned by the
 * caller, released with ing_events_clear(). On failure `out` is empty. */
#ifndef ING_NORMALISE_H
#define ING_NORMALISE_H

#include "cmn_event.h"
#include "cmn_phone.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define ING_MAX_EVENTS 8

typedef struct {
    cmn_event_t ev[ING_MAX_EVENTS];
    size_t n;
} ing_events_t;

typedef struct {
    const cmn_country_t *country; /* default country for numbers without a prefix (R-I1) */
    int64_t received_at_ms;       /* when ingest received the request */
} ing_ctx_t;

/* Why a payload could not be normalised: a sentence and the provider field
 * it concerns (JSON path or form parameter), returned to the provider in the
 * 400 body and kept on the dead-letter topic. */
typedef struct {
    char msg[256];
    char field[96];
} ing_error_t;

void ing_events_init(ing_events_t *out);
void ing_events_clear(ing_events_t *out);
/* Appends an initialised event; NULL when ING_MAX_EVENTS are in use. Borrowed. */
cmn_event_t *ing_events_push(ing_events_t *out);

/* Sets err and returns -1: the normalisers' single failure path. */
int ing_fail(ing_error_t *err, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
