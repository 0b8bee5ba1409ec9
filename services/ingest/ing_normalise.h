/* Provider payload -> canonical call events. Each provider has its own
 * ing_<provider>.c with one entry point of this shape; all are pure (no I/O)
 * so that they are unit-tested and fuzzed in isolation.
 *
 * Memory: each entry point initialises `out` itself (pass an empty or
 * uninitialised one); on success `out` holds `out->n` initialised events
 * owned by the caller, released with ing_events_clear(). `out->n` may be 0:
 * the payload was valid but says nothing the canonical stream carries (the
 * HTTP layer answers 202 with no event ids and publishes nothing). On failure `out` is empty
 * and `err` says why. */
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
    const cmn_country_t *country;     /* default country for numbers without a prefix (R-I1) */
    int64_t received_at_ms;           /* when ingest received the request */
    cmn_phone_format_t number_format; /* CALLBUS_INGEST_<PROVIDER>_NUMBER_FORMAT */
    int internal_max_digits;          /* CALLBUS_INGEST_INTERNAL_MAX_DIGITS; 0: none */
    const char *time_zone; /* provider times without offset are in it; NULL: UTC. Borrowed */
} ing_ctx_t;

/* The phone options of a request's context (cmn_phone_normalise). */
cmn_phone_opts_t ing_phone_opts(const ing_ctx_t *ctx);

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

/* The value of a hex digit (either case), or -1. */
int ing_hex_digit(char c);

/* Sets err and returns -1: the normalisers' single failure path. */
int ing_fail(ing_error_t *err, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- helpers shared by the ing_<provider>.c normalisers ------------------ */

/* Copies `value` into *dst (an event's string member). An empty string
 * counts as absent (NULL), because the canonical event has no empty strings
 * and providers fill unknown template values with "". -1 only on ENOMEM. */
int ing_set_text(char **dst, const char *value, ing_error_t *err)
    __attribute__((warn_unused_result));

/* Sets ev->customer_number from a provider's raw number, normalised to
 * E.164 with ctx->country and ctx->number_format (R-I1). A withheld number
 * leaves it NULL; an extension (internal) leaves it NULL and sets
 * ev->internal; an invalid one is an error naming `field`. NULL raw =
 * withheld. */
int ing_set_customer(cmn_event_t *ev, const ing_ctx_t *ctx, const char *raw, const char *field,
                     ing_error_t *err) __attribute__((warn_unused_result));

/* Sets *ms from the provider's time text, or to ctx->received_at_ms when
 * `text` is NULL (the provider did not say); a text without offset is in
 * ctx->time_zone. Text cmn_time_parse rejects is an error naming `field`. */
int ing_set_time(int64_t *ms, const ing_ctx_t *ctx, const char *text, const char *field,
                 ing_error_t *err) __attribute__((warn_unused_result));

/* Derives ev->event_id from `parts` (cmn_event_id_derive, provider = ev->provider). */
int ing_set_event_id(cmn_event_t *ev, const char *const *parts, size_t n_parts, ing_error_t *err)
    __attribute__((warn_unused_result));

/* Runs cmn_event_validate on every event in `out`; the first failure is
 * reported with the canonical member as the field. Every normaliser calls
 * this last, so nothing invalid ever reaches Kafka. */
int ing_events_validate(const ing_events_t *out, ing_error_t *err)
    __attribute__((warn_unused_result));

#endif
