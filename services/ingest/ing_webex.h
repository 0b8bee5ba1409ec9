/* Webex Contact Center -> canonical events. Webex CC has no webhook of its
 * own for call progress; a flow (and its event flows: AgentOffered,
 * AgentAnswered, AgentTransferred, PhoneContactEnded...) posts the body we
 * define, through an HTTP Request activity. docs/providers.md documents that body
 * with an example and the flow variable each member comes from. */
#ifndef ING_WEBEX_H
#define ING_WEBEX_H

#include "ing_normalise.h"

#include <jansson.h>

/* `body` is borrowed. Produces one event (see ing_normalise.h). */
int ing_webex_normalise(const ing_ctx_t *ctx, const json_t *body, ing_events_t *out,
                        ing_error_t *err) __attribute__((warn_unused_result));

#endif
