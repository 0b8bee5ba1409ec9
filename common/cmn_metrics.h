/* Prometheus metrics: counters, gauges and histograms in one process-wide
 * registry, rendered as the text exposition format on /metrics.
 * Series are found-or-created by (family, labels) and live until
 * cmn_metrics_reset(); callers keep the returned pointers (borrowed). All
 * updates happen on the event-loop thread, so no locking. */
#ifndef CMN_METRICS_H
#define CMN_METRICS_H

#include <stddef.h>

typedef struct cmn_metric cmn_metric_t;
typedef double (*cmn_metric_fn)(void *ctx);

/* labels: NULL or Prometheus label text without braces: `route="x",status="202"`. */
cmn_metric_t *cmn_metrics_counter(const char *family, const char *help, const char *labels);
cmn_metric_t *cmn_metrics_gauge(const char *family, const char *help, const char *labels);
/* A gauge read at render time (queue depths, in-flight counts). */
cmn_metric_t *cmn_metrics_gauge_fn(const char *family, const char *help, const char *labels,
                                   cmn_metric_fn fn, void *ctx);
/* Histogram of milliseconds with fixed buckets from 0.5 ms to 10 s. */
cmn_metric_t *cmn_metrics_histogram(const char *family, const char *help, const char *labels);
/* Histogram with the caller's upper bounds (ascending, at most 16; borrowed:
 * static storage), e.g. seconds from minutes to weeks. */
cmn_metric_t *cmn_metrics_histogram_bounds(const char *family, const char *help, const char *labels,
                                           const double *bounds, size_t n);

void cmn_metric_add(cmn_metric_t *m, double v);     /* counter or gauge */
void cmn_metric_set(cmn_metric_t *m, double v);     /* gauge */
void cmn_metric_observe(cmn_metric_t *m, double v); /* histogram */
double cmn_metric_value(const cmn_metric_t *m);     /* counter/gauge value; histogram count */
/* The sum of the values of every counter and gauge series of `family`
 * (all label sets); 0 when none is registered. For a figure made of a
 * family's series (ticket-service's CRM usage: crm_requests_total). */
double cmn_metrics_family_sum(const char *family);

/* Returns a new heap string (caller frees) in the text exposition format. */
char *cmn_metrics_render(void);
/* Frees every series (tests; process exit under the leak checker). */
void cmn_metrics_reset(void);

#endif
