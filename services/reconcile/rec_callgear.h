/* CallGear's call log (the Data API's calls report, issue 27) -> the
 * canonical events its notifications would have made. Pure: no I/O
 * (rec_callgear_list.c reads the reports). A calls-report record is one
 * call session; it is turned back into the body of the "call finished"
 * notification (/end) and run through ingest's own normaliser
 * (ing_callgear_normalise), so the event and its event id are the
 * webhook's (docs/providers.md, "Reconciliation"). */
#ifndef REC_CALLGEAR_H
#define REC_CALLGEAR_H

#include "ing_normalise.h"
#include "rec_batch.h"

#include <jansson.h>

/* The call session id of a calls-report record as text into buf (>= 32
 * bytes); NULL when the record has none. */
const char *rec_callgear_call_id(const json_t *call, char *buf, size_t bufsz);

/* Appends to `out` the events of one finished call session (`call`: a
 * calls-report record; `last_leg_id`: the id of the session's last leg,
 * as the legs report lists it, NULL when unknown), each marked source =
 * reconciliation. 0, or -1 with err set. */
int rec_callgear_call_events(const ing_ctx_t *ctx, const json_t *call, const json_t *last_leg_id,
                             rec_batch_t *out, ing_error_t *err)
    __attribute__((warn_unused_result));

#endif
