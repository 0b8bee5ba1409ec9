/* Dataverse service-endpoint posts in (issue 25 item 1): a webhook
 * registered on the incident's Create, Update, Close and Merge steps
 * (docs/crm-events.md) posts the step's RemoteExecutionContext as JSON.
 * Pure: no I/O. */
#ifndef ING_DYNAMICS_H
#define ING_DYNAMICS_H

#include "ing_crm_event.h"

#include <jansson.h>
#include <stdint.h>

/* The header the key may come in instead of `?code=` (the endpoint's
 * HttpHeader authentication, named so in its key/value pair). */
#define ING_DYNAMICS_KEY_HEADER "X-Callbus-Webhook-Key"

/* One RemoteExecutionContext (borrowed) -> 0..2 crm-events in `out`
 * (emptied first):
 *   Create: ticket.created;
 *   Update: ticket.status_changed when the Target changed statecode or
 *     statuscode (ticket.merged instead for statuscode 2000 Merged with a
 *     masterid), ticket.assignee_changed when it changed ownerid;
 *   Close (the case resolution): ticket.status_changed to solved;
 *   Merge: ticket.merged, the SubordinateId into the Target.
 * Statuses are crm_dyn_status_from's (the Dynamics adapter's mapping,
 * services/ticket/crm/crm_dyn_request.c), read from the post image, else
 * the Target; the previous one from the pre image. Other messages give
 * none. -1 with err naming the member when the post is unusable (another
 * table than incident, no OperationCreatedOn, ids of the wrong type). */
int ing_dynamics_normalise(int64_t received_at_ms, const json_t *body, ing_crm_events_t *out,
                           ing_error_t *err) __attribute__((warn_unused_result));

#endif
