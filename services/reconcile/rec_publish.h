/* Backfilled events to `call-events`, as ingest publishes them: keyed by
 * cmn_event_key (the customer, one partition per customer), acks=all and
 * idempotent, stored only when the delivery report says so. Blocking: a
 * call's events are sent, then flushed and their reports read. One thread. */
#ifndef REC_PUBLISH_H
#define REC_PUBLISH_H

#include "cmn_event.h"

#include <stddef.h>

typedef struct rec_publish rec_publish_t;

rec_publish_t *rec_publish_new(const char *brokers, int timeout_ms, char *errstr, size_t errsz);
void rec_publish_free(rec_publish_t *p); /* NULL-safe; flushes nothing */

/* Publishes the n events in order and waits for every report. 0 when all
 * are stored, -1 with errstr set otherwise. */
int rec_publish_events(rec_publish_t *p, const cmn_event_t *ev, size_t n, char *errstr,
                       size_t errsz) __attribute__((warn_unused_result));

#endif
