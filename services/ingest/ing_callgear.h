/* CallGear webhook notifications -> canonical call events. The six
 * notifications (BEHAVIOUR.md §10) share one body; which one arrived is told
 * by the URL path suffix, passed here as `notification`. docs/providers.md has the
 * table of what each becomes. */
#ifndef ING_CALLGEAR_H
#define ING_CALLGEAR_H

#include "ing_normalise.h"

#include <jansson.h>

/* `notification`: "handset", "endleg", "end", "recording", "legout" or
 * "callout". `body` is borrowed. Produces one event on success (see
 * ing_normalise.h for `out` and `err`). Returns 0 or -1. */
int ing_callgear_normalise(const ing_ctx_t *ctx, const char *notification, const json_t *body,
                           ing_events_t *out, ing_error_t *err) __attribute__((warn_unused_result));

/* 1 when CallGear's `last_scenario_operation_name` names a voicemail box
 * (a fixed keyword list, see docs/providers.md), else 0. NULL-safe. */
int ing_callgear_is_voicemail_op(const char *operation_name);

#endif
