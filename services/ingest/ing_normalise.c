/* The part every normaliser shares: the event list, the failure path, and
 * the few steps each provider mapping ends with (number, time, id, checks). */
#include "ing_normalise.h"
#include "cmn_time.h"

#include <stdarg.h>
#include <stdio.h>

void ing_events_init(ing_events_t *out)
{
    out->n = 0;
    for (size_t i = 0; i < ING_MAX_EVENTS; i++)
        cmn_event_init(&out->ev[i]);
}

void ing_events_clear(ing_events_t *out)
{
    if (!out)
        return;
    for (size_t i = 0; i < out->n; i++)
        cmn_event_clear(&out->ev[i]);
    out->n = 0;
}

cmn_event_t *ing_events_push(ing_events_t *out)
{
    if (out->n >= ING_MAX_EVENTS)
        return NULL;
    cmn_event_t *ev = &out->ev[out->n++];
    cmn_event_init(ev);
    return ev;
}

int ing_fail(ing_error_t *err, const char *field, const char *fmt, ...)
{
    if (!err)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    snprintf(err->field, sizeof err->field, "%s", field ? field : "");
    return -1;
}

int ing_set_text(char **dst, const char *value, ing_error_t *err)
{
    if (cmn_event_set(dst, value && *value ? value : NULL) < 0)
        return ing_fail(err, "", "out of memory");
    return 0;
}

cmn_phone_opts_t ing_phone_opts(const ing_ctx_t *ctx)
{
    return (cmn_phone_opts_t){.country = ctx->country,
                              .format = ctx->number_format,
                              .internal_max_digits = ctx->internal_max_digits};
}

int ing_set_customer(cmn_event_t *ev, const ing_ctx_t *ctx, const char *raw, const char *field,
                     ing_error_t *err)
{
    char e164[CMN_PHONE_MAX];
    cmn_phone_opts_t opts = ing_phone_opts(ctx);
    ev->internal = 0;
    switch (cmn_phone_normalise(raw, &opts, e164, sizeof e164)) {
    case CMN_PHONE_OK:
        return ing_set_text(&ev->customer_number, e164, err);
    case CMN_PHONE_INTERNAL:
        ev->internal = 1; /* an extension calling: no customer to key on or ticket for */
        return ing_set_text(&ev->customer_number, NULL, err);
    case CMN_PHONE_WITHHELD:
        return ing_set_text(&ev->customer_number, NULL, err);
    default:
        return ing_fail(err, field,
                        "%s is not a phone number: E.164, or national for the default country %s",
                        field, ctx->country ? ctx->country->iso : "(none configured)");
    }
}

int ing_set_time(int64_t *ms, const ing_ctx_t *ctx, const char *text, const char *field,
                 ing_error_t *err)
{
    if (!text) {
        *ms = ctx->received_at_ms;
        return 0;
    }
    if (cmn_time_parse_in_zone(text, ctx->time_zone, ms) < 0 || *ms <= 0)
        return ing_fail(err, field, "%s must be a date-time (RFC 3339 or YYYY-MM-DD HH:MM:SS)",
                        field);
    return 0;
}

int ing_set_event_id(cmn_event_t *ev, const char *const *parts, size_t n_parts, ing_error_t *err)
{
    char id[CMN_EVENT_ID_MAX];
    cmn_event_id_derive(id, sizeof id, ev->provider, parts, n_parts);
    return ing_set_text(&ev->event_id, id, err);
}

int ing_events_validate(const ing_events_t *out, ing_error_t *err)
{
    char msg[sizeof err->msg], field[sizeof err->field];
    for (size_t i = 0; i < out->n; i++)
        if (cmn_event_validate(&out->ev[i], msg, sizeof msg, field, sizeof field) < 0)
            return ing_fail(err, field, "%s", msg);
    return 0;
}

int ing_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}
