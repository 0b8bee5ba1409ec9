/* Twilio's call log (the Calls resource, issue 27) -> the canonical events
 * its status callbacks would have made. Pure: no I/O (rec_twilio_list.c
 * lists the records). A Calls record is one *leg*; the mapping rebuilds the
 * status callbacks that leg fired, as form parameters, and runs them
 * through ingest's own normaliser (ing_twilio_normalise), so the events and
 * their event ids are the webhook's (docs/providers.md, "Reconciliation"). */
#ifndef REC_TWILIO_H
#define REC_TWILIO_H

#include "ing_normalise.h"
#include "rec_batch.h"

#include <jansson.h>
#include <stdint.h>

/* 1 when the leg's `status` is final (completed, busy, no-answer, canceled,
 * failed): its callbacks have all been fired. NULL-safe (0). */
int rec_twilio_leg_over(const json_t *leg);

/* The call a leg belongs to: parent_call_sid when set, else sid. Borrowed;
 * NULL when the record has no sid. */
const char *rec_twilio_call_id(const json_t *leg);

/* start_time of the record in ms (0 when absent or unreadable). */
int64_t rec_twilio_start_ms(const json_t *leg);

/* Appends to `out` the events of one finished leg (`leg`: a Calls record,
 * borrowed), each marked source = reconciliation. A leg not over adds
 * nothing. 0, or -1 with err set (the record cannot be mapped; `out` keeps
 * what it had). */
int rec_twilio_leg_events(const ing_ctx_t *ctx, const json_t *leg, rec_batch_t *out,
                          ing_error_t *err) __attribute__((warn_unused_result));

#endif
