/* What callbus received, for the reconciliation window (issue 27 item 1):
 * read from `call-events` itself, from the window's start to the topic's
 * end as it was when the run began. No state of its own: the topic is the
 * record, and its retention is the reconciliation horizon (a window older
 * than the oldest message kept is refused). docs/architecture.md says why.
 *
 * Memory: the record owns copies of every id it keeps. One thread. */
#ifndef REC_SEEN_H
#define REC_SEEN_H

#include "cmn_event.h"

#include <stddef.h>
#include <stdint.h>

typedef struct rec_seen rec_seen_t;

typedef enum {
    REC_CALL_UNSEEN = 0, /* no event of the call */
    REC_CALL_OPEN,       /* events, but not its end (call.ended / outbound.ended) */
    REC_CALL_ENDED,      /* its end is on call-events */
} rec_call_state_t;

rec_seen_t *rec_seen_new(void);
void rec_seen_free(rec_seen_t *s); /* NULL-safe */

/* Records one event (its id, its call, whether it ends the call). 0, or -1
 * out of memory. */
int rec_seen_add(rec_seen_t *s, const cmn_event_t *ev) __attribute__((warn_unused_result));

rec_call_state_t rec_seen_call(const rec_seen_t *s, const char *provider, const char *call_id);
/* 1 when an event with this id is on call-events. */
int rec_seen_event(const rec_seen_t *s, const char *event_id);
/* How many events were recorded. */
size_t rec_seen_count(const rec_seen_t *s);

/* Reads `topic` on `brokers` (CALLBUS_KAFKA_X_* apply) from the first
 * message at or after from_ms on every partition to the partition's end as
 * it is now, recording every valid event. -1 with errstr set when the
 * broker cannot be read, or when a partition no longer holds from_ms (the
 * window is older than the topic's retention: nothing could tell a call
 * received from one lost). */
int rec_seen_load(rec_seen_t *s, const char *brokers, const char *topic, int64_t from_ms,
                  int timeout_ms, char *errstr, size_t errsz) __attribute__((warn_unused_result));

#endif
