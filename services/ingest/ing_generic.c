/* The generic form: a signed POST of canonical events. The decoding is
 * cmn_event_from_json's; ingest only adds what it owns (received_at, the
 * number in E.164) and refuses provider names it does not accept here. */
#include "ing_generic.h"
#include "ing_hmac.h"
#include "cmn_time.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

/* ---- signature ------------------------------------------------------------ */

#define SHA256_LEN 32

/* "v1=<64 hex>" -> 32 bytes; -1 when it is not that. */
static int parse_signature(const char *header, unsigned char out[SHA256_LEN])
{
    if (!header || strncmp(header, "v1=", 3) != 0 || strlen(header + 3) != 2 * SHA256_LEN)
        return -1;
    for (size_t i = 0; i < SHA256_LEN; i++) {
        int hi = ing_hex_digit(header[3 + 2 * i]), lo = ing_hex_digit(header[4 + 2 * i]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (unsigned char)(hi * 16 + lo);
    }
    return 0;
}

/* Unix seconds: 1 to 12 digits, nothing else. */
static int parse_unix_seconds(const char *text, int64_t *secs)
{
    size_t n = text ? strspn(text, "0123456789") : 0;
    if (n == 0 || n > 12 || text[n] != '\0')
        return -1;
    *secs = 0;
    for (size_t i = 0; i < n; i++)
        *secs = *secs * 10 + (text[i] - '0');
    return 0;
}

static int mac_matches(const char *secret, const char *timestamp, const char *body, size_t len,
                       const unsigned char want[SHA256_LEN])
{
    unsigned char mac[ING_HMAC_MAX];
    size_t mac_len = 0;
    int ok = 0;
    ing_hmac_t *h = ing_hmac_new("SHA256", secret, strlen(secret));
    if (!h || ing_hmac_update(h, timestamp, strlen(timestamp)) < 0 ||
        ing_hmac_update(h, ".", 1) < 0 || (len && ing_hmac_update(h, body, len) < 0) ||
        ing_hmac_final(h, mac, &mac_len) < 0)
        goto done;
    ok = mac_len == SHA256_LEN && CRYPTO_memcmp(mac, want, SHA256_LEN) == 0;
done:
    ing_hmac_free(h);
    return ok;
}

int ing_generic_signature_ok(const char *secret, const char *timestamp_header, const char *body,
                             size_t len, const char *signature_header, int64_t now_ms,
                             int64_t tolerance_ms, ing_error_t *err)
{
    unsigned char want[SHA256_LEN];
    int64_t secs;
    if (!secret || !*secret)
        return ing_fail(err, "", "no signing secret is configured for the generic form"), 0;
    if (parse_unix_seconds(timestamp_header, &secs) < 0)
        return ing_fail(err, ING_GENERIC_TIMESTAMP_HEADER,
                        ING_GENERIC_TIMESTAMP_HEADER " must be unix seconds"),
               0;
    int64_t skew = now_ms - secs * 1000;
    if (skew > tolerance_ms || -skew > tolerance_ms)
        return ing_fail(err, ING_GENERIC_TIMESTAMP_HEADER,
                        ING_GENERIC_TIMESTAMP_HEADER " is too far from now (replayed request or "
                                                     "clock skew)"),
               0;
    if (parse_signature(signature_header, want) < 0)
        return ing_fail(err, ING_GENERIC_SIGNATURE_HEADER,
                        ING_GENERIC_SIGNATURE_HEADER " must be v1= and 64 hex digits"),
               0;
    if (!body && len)
        return ing_fail(err, "", "no body"), 0;
    if (!mac_matches(secret, timestamp_header, body, len, want))
        return ing_fail(err, ING_GENERIC_SIGNATURE_HEADER,
                        ING_GENERIC_SIGNATURE_HEADER " does not match the body"),
               0;
    return 1;
}

/* ---- events --------------------------------------------------------------- */

/* Fails naming `member` inside the array element `prefix` ("[2]." or ""). */
static int fail_at(ing_error_t *err, const char *prefix, const char *member, const char *msg)
{
    char field[sizeof err->field];
    snprintf(field, sizeof field, "%s%s", prefix, member);
    return ing_fail(err, field, "%s%s", prefix, msg);
}

/* Fills in what ingest owns on a shallow copy of the sender's object. */
static int prepare(const ing_ctx_t *ctx, json_t *copy, const char *prefix, ing_error_t *err)
{
    char when[CMN_TIME_TEXT_MAX], e164[CMN_PHONE_MAX];
    json_t *number = json_object_get(copy, "customer_number");
    cmn_phone_opts_t opts = ing_phone_opts(ctx);
    cmn_time_format(ctx->received_at_ms, when, sizeof when);
    if (json_object_set_new(copy, "received_at", json_string(when)) < 0)
        return ing_fail(err, "", "out of memory");
    if (!json_is_string(number))
        return 0; /* absent, or a type the decoder will name */
    switch (cmn_phone_normalise(json_string_value(number), &opts, e164, sizeof e164)) {
    case CMN_PHONE_OK:
        return json_object_set_new(copy, "customer_number", json_string(e164)) < 0
                   ? ing_fail(err, "", "out of memory")
                   : 0;
    case CMN_PHONE_INTERNAL:
        return json_object_del(copy, "customer_number") < 0 ||
                       json_object_set_new(copy, "internal", json_true()) < 0
                   ? ing_fail(err, "", "out of memory")
                   : 0;
    case CMN_PHONE_WITHHELD:
        return json_object_del(copy, "customer_number") < 0 ? ing_fail(err, "", "out of memory")
                                                            : 0;
    default:
        return fail_at(err, prefix, "customer_number",
                       "customer_number is not a phone number: E.164, or national for the "
                       "default country");
    }
}

static int decode_one(const ing_ctx_t *ctx, const json_t *obj, const char *prefix, cmn_event_t *ev,
                      ing_error_t *err)
{
    char msg[sizeof err->msg], field[sizeof err->field];
    int rc = -1;
    json_t *copy = NULL;
    if (!json_is_object(obj))
        return fail_at(err, prefix, "", "an event must be a JSON object");
    if (!(copy = json_copy((json_t *)obj)))
        return ing_fail(err, "", "out of memory");
    if (prepare(ctx, copy, prefix, err) < 0)
        goto done;
    if (cmn_event_from_json(copy, ev, msg, sizeof msg, field, sizeof field) < 0) {
        fail_at(err, prefix, field, msg);
        goto done;
    }
    if (strcmp(ev->provider, "generic") != 0 && strcmp(ev->provider, "tvox") != 0) {
        fail_at(err, prefix, "provider", "provider must be generic or tvox on this endpoint");
        goto done;
    }
    rc = 0;
done:
    json_decref(copy);
    return rc;
}

int ing_generic_normalise(const ing_ctx_t *ctx, const json_t *body, ing_events_t *out,
                          ing_error_t *err)
{
    char prefix[24] = "";
    size_t n = json_is_array(body) ? json_array_size(body) : 1;
    ing_events_init(out);
    if (json_is_array(body) && (n == 0 || n > ING_MAX_EVENTS))
        return ing_fail(err, "", "an array of events must hold 1 to %d events", ING_MAX_EVENTS);
    for (size_t i = 0; i < n; i++) {
        const json_t *obj = json_is_array(body) ? json_array_get(body, i) : body;
        if (json_is_array(body))
            snprintf(prefix, sizeof prefix, "[%zu].", i);
        if (decode_one(ctx, obj, prefix, ing_events_push(out), err) < 0)
            goto fail;
    }
    if (ing_events_validate(out, err) < 0)
        goto fail;
    return 0;
fail:
    ing_events_clear(out);
    return -1;
}
