/* Webex Contact Center's task history (the Search API, issue 27) -> the
 * canonical events its flow's HTTP Request would have posted. Pure: no I/O
 * (rec_webex_list.c queries the tasks). A task is one contact; it is turned
 * back into the body the PhoneContactEnded event flow posts ("event":
 * "ended", docs/providers.md) and run through ingest's own normaliser
 * (ing_webex_normalise), so the event and its id are the webhook's. */
#ifndef REC_WEBEX_H
#define REC_WEBEX_H

#include "ing_normalise.h"
#include "rec_batch.h"

#include <jansson.h>

/* 1 when the task is over (isActive false and an endedTime). */
int rec_webex_task_over(const json_t *task);

/* Appends to `out` the events of one finished telephony task (borrowed),
 * each marked source = reconciliation. 0, or -1 with err set. */
int rec_webex_task_events(const ing_ctx_t *ctx, const json_t *task, rec_batch_t *out,
                          ing_error_t *err) __attribute__((warn_unused_result));

#endif
