/* ticket-service's CRM usage on crm-usage (R-S1, issue 25 item 3): the CRM
 * requests this process made and those batching saved it, for the durable
 * statistics (callbus-stats' crm_requests and crm_saved). ticket-service is
 * the only CRM writer; the figures are its own metrics (cmn_metrics_family_sum
 * of crm_requests_total and of the three *_requests_saved_total families),
 * not a second set of counters.
 *
 * Every interval, and once at shutdown after the work drained, one record
 * with the deltas since the last record (none when both are 0), keyed by
 * the instance, event id `usage-<process id>-<seq>` (the process id is
 * unique to this run of the process: a restart starts a new sequence that
 * no earlier id can collide with). A record is counted once sent: a crash
 * loses at most the interval's delta not yet published, a lost delivery
 * its record (an undercount; never counted twice).
 *
 * Loop thread only. */
#ifndef TKT_USAGE_H
#define TKT_USAGE_H

#include "cmn_producer.h"

#include <event2/event.h>
#include <stdint.h>

/* What the last record counted up to (or the process's start). */
typedef struct {
    double requests, saved;
    int64_t since_ms; /* the last record's "to", or the start */
    unsigned long long seq;
} tkt_usage_mark_t;

/* One record's figures. */
typedef struct {
    long long requests, saved;
    int64_t from_ms, to_ms;
    unsigned long long seq;
} tkt_usage_delta_t;

/* The sums now: CRM requests made (every crm_requests_total series) and
 * saved (batched updates, bulk creations, status reads read together). */
void tkt_usage_sums(double *requests, double *saved);

/* Pure arithmetic: a mark at `now_ms` from the sums then. */
void tkt_usage_mark_init(tkt_usage_mark_t *m, double requests, double saved, int64_t now_ms);
/* The record due at now_ms given the sums now: 1 with *out filled and the
 * mark moved on; 0 when both deltas are 0 (the mark left as it is, so the
 * next record's "from" is still the last record's "to"). */
int tkt_usage_next(tkt_usage_mark_t *m, double requests, double saved, int64_t now_ms,
                   tkt_usage_delta_t *out);
/* The record's JSON (schemas/crm-usage.schema.json); a new heap string the
 * caller frees, NULL out of memory. */
char *tkt_usage_record(const char *process_id, const tkt_usage_delta_t *d);

typedef struct tkt_usage tkt_usage_t;

/* Publishes every interval_s (>= 1) through `producer` (borrowed; it must
 * outlive the object, and be closed before it is freed: delivery reports
 * point at it). `instance` (copied) keys the records: the static member id
 * or the host name. NULL out of memory. */
tkt_usage_t *tkt_usage_new(struct event_base *base, cmn_producer_t *producer, const char *instance,
                           long interval_s);
/* At shutdown, after the work drained and before the producer's flush: the
 * last record; the timer publishes nothing after it. NULL-safe. */
void tkt_usage_publish_final(tkt_usage_t *u);
void tkt_usage_free(tkt_usage_t *u); /* NULL-safe */

#endif
