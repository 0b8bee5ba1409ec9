/* The stats service's Prometheus series (issue 25 item 3; the contract's
 * names): stats_events_total{topic,result}, and per applied plan its cells
 * as stats_calls_total{queue,kind}, stats_agent_calls_total{agent,kind},
 * stats_tickets_total{queue,kind,action}, stats_close_seconds (R-S2),
 * stats_missed_grouped_total{queue}, stats_pops_total{state} and
 * stats_crm_requests_total{result}. Per-process counters: the durable
 * figures are Redis's. The agent label is given to the first `agent_cap`
 * distinct agents the process sees, the others count under "other".
 *
 * Loop thread only; the series live in cmn_metrics' registry. */
#ifndef STA_METRICS_H
#define STA_METRICS_H

#include "sta_figures.h"

typedef struct sta_metrics sta_metrics_t;

/* NULL out of memory. */
sta_metrics_t *sta_metrics_new(long agent_cap);
void sta_metrics_free(sta_metrics_t *m); /* NULL-safe */

/* result: applied, duplicate, skipped, rejected. */
void sta_metrics_event(sta_metrics_t *m, sta_source_t src, const char *result);
/* An applied plan's cells; none of a correction's (issue 27: a counter
 * cannot go down, so Prometheus keeps each call as its end counted it). */
void sta_metrics_plan(sta_metrics_t *m, const sta_plan_t *p);

#endif
