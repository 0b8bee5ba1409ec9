/* Zendesk's ticket events: the signature, then the payload's
 * {type, id, time, detail: the ticket after the change, event: what
 * changed} read into one crm-event. */
#include "ing_zendesk.h"
#include "cmn_time.h"
#include "ing_hmac.h"
#include "ing_json.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

/* ---- signature ------------------------------------------------------------ */

#define SHA256_LEN 32
#define SHA256_B64_LEN 44 /* 4 * ceil(32 / 3) */

/* base64 of HMAC-SHA256(secret, timestamp + body) into out (>= 45). */
static int sign(const char *secret, const char *timestamp, const char *body, size_t len,
                char out[SHA256_B64_LEN + 1])
{
    unsigned char mac[ING_HMAC_MAX];
    size_t mac_len = 0;
    int rc = -1;
    ing_hmac_t *h = ing_hmac_new("SHA256", secret, strlen(secret));
    if (!h || ing_hmac_update(h, timestamp, strlen(timestamp)) < 0 ||
        (len && ing_hmac_update(h, body, len) < 0) || ing_hmac_final(h, mac, &mac_len) < 0 ||
        mac_len != SHA256_LEN)
        goto done;
    rc = EVP_EncodeBlock((unsigned char *)out, mac, SHA256_LEN) == SHA256_B64_LEN ? 0 : -1;
done:
    ing_hmac_free(h);
    return rc;
}

int ing_zendesk_signature_ok(const char *secret, const char *timestamp_header, const char *body,
                             size_t len, const char *signature_header, int64_t now_ms,
                             int64_t tolerance_ms, ing_error_t *err)
{
    char want[SHA256_B64_LEN + 1];
    int64_t signed_ms;
    if (!secret || !*secret)
        return ing_fail(err, "", "no Zendesk webhook signing secret is configured"), 0;
    if (!timestamp_header || cmn_time_parse_rfc3339(timestamp_header, &signed_ms) < 0)
        return ing_fail(err, ING_ZENDESK_TIMESTAMP_HEADER,
                        ING_ZENDESK_TIMESTAMP_HEADER " must be an RFC 3339 time"),
               0;
    int64_t skew = now_ms - signed_ms;
    if (skew > tolerance_ms || -skew > tolerance_ms)
        return ing_fail(err, ING_ZENDESK_TIMESTAMP_HEADER,
                        ING_ZENDESK_TIMESTAMP_HEADER " is too far from now (replayed request or "
                                                     "clock skew)"),
               0;
    if (!signature_header || strlen(signature_header) != SHA256_B64_LEN)
        return ing_fail(err, ING_ZENDESK_SIGNATURE_HEADER,
                        ING_ZENDESK_SIGNATURE_HEADER " must be the base64 of an HMAC-SHA256"),
               0;
    if ((!body && len) || sign(secret, timestamp_header, body, len, want) < 0)
        return ing_fail(err, "", "the signature could not be computed"), 0;
    if (CRYPTO_memcmp(want, signature_header, SHA256_B64_LEN) != 0)
        return ing_fail(err, ING_ZENDESK_SIGNATURE_HEADER,
                        ING_ZENDESK_SIGNATURE_HEADER " does not match the body"),
               0;
    return 1;
}

/* ---- events --------------------------------------------------------------- */

#define TYPE_PREFIX "zen:event-type:ticket."

static const struct {
    const char *name;
    ing_crm_type_t type;
} kept_types[] = {
    {"created", ING_CRM_TICKET_CREATED},
    {"status_changed", ING_CRM_STATUS_CHANGED},
    {"agent_assignment_changed", ING_CRM_ASSIGNEE_CHANGED},
    {"merged", ING_CRM_MERGED},
};

/* 1 and *type for a kept ticket event, 0 for any other event type. */
static int kept_type(const char *text, ing_crm_type_t *type)
{
    if (strncmp(text, TYPE_PREFIX, strlen(TYPE_PREFIX)) != 0)
        return 0;
    for (size_t i = 0; i < sizeof kept_types / sizeof kept_types[0]; i++)
        if (strcmp(text + strlen(TYPE_PREFIX), kept_types[i].name) == 0) {
            *type = kept_types[i].type;
            return 1;
        }
    return 0;
}

/* A status member ("SOLVED", "Solved", "solved"): absent is NULL (0); a
 * value outside the vocabulary (a custom status name) is an error. */
static int take_status(const json_t *body, const char *path, const char **dst, ing_error_t *err)
{
    const json_t *v = ing_json_get(body, path);
    *dst = NULL;
    if (!v)
        return 0;
    if (!json_is_string(v) || !(*dst = ing_crm_status_name(json_string_value(v))))
        return ing_fail(err, path, "%s is not a Zendesk ticket status", path);
    return 0;
}

static int take_time(const json_t *body, const char *path, int64_t *ms, ing_error_t *err)
{
    const json_t *v = ing_json_get(body, path);
    if (!v)
        return 0;
    if (!json_is_string(v) || cmn_time_parse_rfc3339(json_string_value(v), ms) < 0)
        return ing_fail(err, path, "%s must be an RFC 3339 time", path);
    return 0;
}

/* What the event type adds: its event.current / event.previous, the
 * assignee, the target of a merge. */
static int take_change(const json_t *body, ing_crm_event_t *ev, ing_error_t *err)
{
    switch (ev->type) {
    case ING_CRM_STATUS_CHANGED:
        if (take_status(body, "event.current", &ev->status, err) < 0 ||
            take_status(body, "event.previous", &ev->previous_status, err) < 0)
            return -1;
        return ev->status ? 0 : ing_fail(err, "event.current", "event.current is missing");
    case ING_CRM_ASSIGNEE_CHANGED:
        ev->has_assignee = 1; /* absent or "0": unassigned */
        return ing_crm_take_id(body, "event.current", 0, ev->assignee_id, err);
    case ING_CRM_MERGED:
        if (!ev->status)
            ev->status = "closed"; /* Zendesk closes a merged source ticket */
        return ing_crm_take_id(body, "event.target_ticket_id", 1, ev->merged_into, err);
    default:
        return 0;
    }
}

int ing_zendesk_normalise(int64_t received_at_ms, const json_t *body, ing_crm_events_t *out,
                          ing_error_t *err)
{
    const json_t *type = json_object_get(body, "type"), *id = json_object_get(body, "id");
    ing_crm_type_t t;
    char event_id[2 * ING_CRM_EVENT_ID_MAX]; /* a longer id fails ing_crm_copy, never cut */
    out->n = 0;
    if (!json_is_object(body))
        return ing_fail(err, "", "the body must be a JSON object");
    if (!json_is_string(type))
        return ing_fail(err, "type", "type must be a string (zen:event-type:...)");
    if (!kept_type(json_string_value(type), &t))
        return 0; /* another event of the subscription: nothing callbus uses */
    if (!json_is_string(id) || !*json_string_value(id))
        return ing_fail(err, "id", "id (the event's id) is missing");
    ing_crm_event_t *ev = ing_crm_events_push(out, "zendesk", received_at_ms);
    ev->type = t;
    snprintf(event_id, sizeof event_id, "zendesk:%s", json_string_value(id));
    if (ing_crm_copy(ev->event_id, sizeof ev->event_id, event_id, "id", err) < 0 ||
        ing_crm_take_id(body, "detail.id", 1, ev->ticket_id, err) < 0 ||
        ing_crm_take_id(body, "detail.requester_id", 0, ev->requester_id, err) < 0 ||
        take_status(body, "detail.status", &ev->status, err) < 0 ||
        take_time(body, "detail.created_at", &ev->ticket_created_at_ms, err) < 0 ||
        take_time(body, "time", &ev->occurred_at_ms, err) < 0 || take_change(body, ev, err) < 0) {
        out->n = 0;
        return -1;
    }
    return 0;
}
