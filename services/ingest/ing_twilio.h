/* Twilio voice webhooks: the X-Twilio-Signature check and the mapping of
 * voice status callbacks (and recording status callbacks) to canonical
 * events. Twilio reports each call *leg* separately; docs/providers.md tables how a
 * leg's kind and CallStatus become an event. */
#ifndef ING_TWILIO_H
#define ING_TWILIO_H

#include "ing_form.h"
#include "ing_normalise.h"

/* Twilio's documented algorithm: base64(HMAC-SHA1(auth_token, full_url +
 * name1 + value1 + name2 + value2 ...)) with the POST parameters sorted by
 * name (then value; identical pairs counted once), compared in constant
 * time. Like Twilio's own helper libraries, the URL is also tried with its
 * port removed and with the scheme's default port added, because Twilio
 * signs whichever form it was configured with. `full_url` is the URL Twilio
 * requested, query string included. Returns 1 when valid, 0 otherwise
 * (a NULL argument or a crypto failure counts as invalid). */
int ing_twilio_signature_ok(const char *auth_token, const char *full_url, const ing_form_t *params,
                            const char *signature_b64);

/* Status callback or recording status callback -> 0 or 1 event (see
 * ing_normalise.h for `out`, `err`). `params` is borrowed. */
int ing_twilio_normalise(const ing_ctx_t *ctx, const ing_form_t *params, ing_events_t *out,
                         ing_error_t *err) __attribute__((warn_unused_result));

/* Twilio's times, RFC 2822 ("Tue, 06 Feb 2024 10:00:00 +0000": callbacks'
 * Timestamp, the Calls resource's start_time and end_time) -> ms since the
 * epoch. 0, or -1 when the text is not such a time. */
int ing_twilio_time_parse(const char *text, int64_t *ms) __attribute__((warn_unused_result));

/* Click-to-call (issue 24 item 1, R-O1): pop-service gives Twilio status
 * callback URLs that say what Twilio's legs cannot: ?ticket_id=<the ticket
 * the agent called from>&customer=<E.164>&client=<the agent's identity>.
 * The agent's leg (To=client:X) names no customer, the customer's leg
 * (<Dial><Number>) no agent; without these, the first is keyed apart from
 * the call's other events and finds none of the customer's tickets, the
 * second belongs to no agent (R-I3). The URL is Twilio-signed like the
 * body, so it is as trusted. Reads them from the request URI Twilio
 * posted to into every event of `events` that lacks them (the customer
 * only where the leg has no number and is not internal). No query: nothing
 * changes. 0, or -1 with err naming the parameter (a ticket_id or client
 * that is no id, a customer that is no number). */
int ing_twilio_url_params(const ing_ctx_t *ctx, const char *uri, ing_events_t *events,
                          ing_error_t *err) __attribute__((warn_unused_result));

#endif
