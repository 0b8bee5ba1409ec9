/* Zendesk webhooks in (issue 25 item 1): a webhook subscribed to Zendesk's
 * ticket events (zen:event-type:ticket.*; docs/crm-events.md) signed
 * with the webhook's signing secret. Pure: no I/O. */
#ifndef ING_ZENDESK_H
#define ING_ZENDESK_H

#include "ing_crm_event.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define ING_ZENDESK_SIGNATURE_HEADER "X-Zendesk-Webhook-Signature"
#define ING_ZENDESK_TIMESTAMP_HEADER "X-Zendesk-Webhook-Signature-Timestamp"

/* Checks X-Zendesk-Webhook-Signature = base64(HMAC-SHA256(secret,
 * timestamp + body)), where the timestamp header is the time Zendesk signed
 * (RFC 3339, "2026-03-12T12:00:00Z"), and that it is within `tolerance_ms`
 * of `now_ms`: a captured request replayed later fails. Constant-time
 * comparison. Returns 1 when valid; 0 with err naming the header. */
int ing_zendesk_signature_ok(const char *secret, const char *timestamp_header, const char *body,
                             size_t len, const char *signature_header, int64_t now_ms,
                             int64_t tolerance_ms, ing_error_t *err);

/* One event-subscription payload (borrowed) -> 0 or 1 crm-event in `out`
 * (emptied first): ticket.created, status_changed, agent_assignment_changed
 * and merged are kept; other ticket event types give none (0, nothing to
 * publish). -1 with err naming the member when the payload is unusable. */
int ing_zendesk_normalise(int64_t received_at_ms, const json_t *body, ing_crm_events_t *out,
                          ing_error_t *err) __attribute__((warn_unused_result));

#endif
