/* ticket-service's dead letters (issue 19 item 4): an event the pipeline
 * gave up on (tkt_failure.h: permanent, or transient past the retry limit)
 * is kept on ticket-service.dlq with why, so that an operator can fix the
 * cause and replay it (deploy/tools/callbus-dlq-replay) onto the topic it
 * came from. Schema: schemas/ticket-dlq-entry.schema.json. Key: the
 * source message's key (the customer), so a replay keeps its partition.
 *
 * Memory: what is passed is borrowed; the text returned is the caller's. */
#ifndef TKT_DEADLETTER_H
#define TKT_DEADLETTER_H

#include "cmn_event.h"
#include "tkt_pipeline.h"

#include <stddef.h>
#include <stdint.h>

/* Where the event came from. payload NULL: a call event, re-encoded from
 * ev (canonical, as call-events carries it); else the message as it was
 * (agent-actions, missed-call-ops). */
typedef struct {
    const char *topic;
    int32_t partition;
    int64_t offset;
    const char *key; /* "" none */
    const char *payload;
    size_t len;
} tkt_dlq_source_t;

/* The dead letter as compact JSON text, or NULL when out of memory. */
char *tkt_deadletter_encode(const tkt_dlq_source_t *src, const cmn_event_t *ev,
                            const tkt_dead_letter_t *dl, int64_t now_ms)
    __attribute__((warn_unused_result));

#endif
