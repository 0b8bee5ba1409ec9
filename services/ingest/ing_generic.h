/* The generic form: anyone (and the TVox IVR script) may post canonical
 * events themselves, signed with a shared secret. */
#ifndef ING_GENERIC_H
#define ING_GENERIC_H

#include "ing_normalise.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define ING_GENERIC_SIGNATURE_HEADER "X-Callbus-Signature"
#define ING_GENERIC_TIMESTAMP_HEADER "X-Callbus-Timestamp"

/* Checks X-Callbus-Signature = "v1=" + hex(HMAC-SHA256(secret, timestamp +
 * "." + body)) where X-Callbus-Timestamp is unix seconds, and that the
 * timestamp is within `tolerance_ms` of `now_ms` (a captured request replayed
 * later fails). Hex digits may be of either case; the comparison is constant
 * time. Returns 1 when valid; 0 with err naming the header otherwise. */
int ing_generic_signature_ok(const char *secret, const char *timestamp_header, const char *body,
                             size_t len, const char *signature_header, int64_t now_ms,
                             int64_t tolerance_ms, ing_error_t *err);

/* `body`: one canonical event object, or an array of 1..ING_MAX_EVENTS of
 * them (borrowed). Each is decoded strictly (cmn_event_from_json) after
 * received_at is set to ctx->received_at_ms (the sender's value, if any, is
 * replaced) and customer_number is normalised with ctx->country. provider
 * must be "generic" or "tvox". Errors in an array name the element:
 * "[2].customer_number". */
int ing_generic_normalise(const ing_ctx_t *ctx, const json_t *body, ing_events_t *out,
                          ing_error_t *err) __attribute__((warn_unused_result));

#endif
