/* The stats service's Prometheus series (sta_metrics.h). */
#include "sta_metrics.h"

#include "cmn_metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sta_metrics {
    long cap;
    char **agents; /* the first `cap` agents seen: they keep their label */
    long n_agents;
};

/* R-S2's buckets: a minute to 30 days. */
static const double close_bounds[] = {60,    300,    900,    3600,   14400,   28800,
                                      86400, 172800, 345600, 604800, 1209600, 2592000};

sta_metrics_t *sta_metrics_new(long agent_cap)
{
    sta_metrics_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->cap = agent_cap;
    if (agent_cap > 0 && !(m->agents = calloc((size_t)agent_cap, sizeof *m->agents))) {
        free(m);
        return NULL;
    }
    cmn_metrics_histogram_bounds("stats_close_seconds",
                                 "Seconds from a ticket's creation to its close (R-S2)", NULL,
                                 close_bounds, sizeof close_bounds / sizeof close_bounds[0]);
    return m;
}

void sta_metrics_free(sta_metrics_t *m)
{
    if (!m)
        return;
    for (long i = 0; i < m->n_agents; i++)
        free(m->agents[i]);
    free(m->agents);
    free(m);
}

/* A label value: quotes, backslashes and control bytes are not kept. */
static void label(char *out, size_t outsz, const char *v)
{
    size_t n = 0;
    for (; v && *v && n + 1 < outsz; v++)
        out[n++] = (*v == '"' || *v == '\\' || (unsigned char)*v < 0x20) ? '_' : *v;
    out[n] = '\0';
}

static const char *agent_label(sta_metrics_t *m, const char *agent)
{
    for (long i = 0; i < m->n_agents; i++)
        if (strcmp(m->agents[i], agent) == 0)
            return agent;
    if (m->n_agents < m->cap && (m->agents[m->n_agents] = strdup(agent))) {
        m->n_agents++;
        return agent;
    }
    return "other";
}

void sta_metrics_event(sta_metrics_t *m, sta_source_t src, const char *result)
{
    char labels[128];
    (void)m;
    snprintf(labels, sizeof labels, "topic=\"%s\",result=\"%s\"", sta_source_topic(src), result);
    cmn_metric_add(cmn_metrics_counter("stats_events_total",
                                       "Messages read by the stats service, by what became of them",
                                       labels),
                   1);
}

static void add(cmn_metric_t *m, long long delta)
{
    cmn_metric_add(m, (double)delta);
}

/* The families are named literally (tests/deploy and the dashboard's check
 * read them from the code). */
static void cell(sta_metrics_t *m, const sta_cell_t *c)
{
    char q[STA_TEXT_MAX + 1], a[STA_TEXT_MAX + 1], l[3 * STA_TEXT_MAX + 64];
    const char *f = c->figure, *action = NULL;
    label(q, sizeof q, c->queue);
    label(a, sizeof a, c->agent);
    if (strcmp(f, "calls") == 0) {
        snprintf(l, sizeof l, "queue=\"%s\",kind=\"%s\"", q, c->kind);
        add(cmn_metrics_counter("stats_calls_total", "Calls ended, by queue and call kind", l),
            c->delta);
        snprintf(l, sizeof l, "agent=\"%s\",kind=\"%s\"", agent_label(m, a), c->kind);
        add(cmn_metrics_counter("stats_agent_calls_total", "Calls ended, by agent and call kind",
                                l),
            c->delta);
        return;
    }
    if (strcmp(f, "tickets_created") == 0)
        action = "created";
    else if (strcmp(f, "reopened") == 0 || strcmp(f, "solved") == 0 || strcmp(f, "closed") == 0)
        action = f;
    if (action) {
        snprintf(l, sizeof l, "queue=\"%s\",kind=\"%s\",action=\"%s\"", q, c->kind, action);
        add(cmn_metrics_counter("stats_tickets_total",
                                "Tickets created, reopened, solved, closed (R-S1)", l),
            c->delta);
    } else if (strcmp(f, "missed_grouped") == 0) {
        snprintf(l, sizeof l, "queue=\"%s\"", q);
        add(cmn_metrics_counter("stats_missed_grouped_total", "Missed calls grouped (R-M2, R-S1)",
                                l),
            c->delta);
    } else if (strncmp(f, "pops_", 5) == 0) {
        snprintf(l, sizeof l, "state=\"%s\"", f + 5);
        add(cmn_metrics_counter("stats_pops_total", "Screen pops delivered, acknowledged (R-S1)",
                                l),
            c->delta);
    } else if (strncmp(f, "crm_", 4) == 0) {
        snprintf(l, sizeof l, "result=\"%s\"", strcmp(f, "crm_saved") == 0 ? "saved" : "made");
        add(cmn_metrics_counter("stats_crm_requests_total",
                                "CRM requests made and saved by batching (R-S1)", l),
            c->delta);
    }
}

void sta_metrics_plan(sta_metrics_t *m, const sta_plan_t *p)
{
    if (p->correction)
        return; /* counters only grow: each call counted once, as its end said */
    for (size_t i = 0; i < p->n_cells; i++)
        cell(m, &p->cells[i]);
    if (p->close_s > 0)
        cmn_metric_observe(cmn_metrics_histogram_bounds(
                               "stats_close_seconds",
                               "Seconds from a ticket's creation to its close (R-S2)", NULL,
                               close_bounds, sizeof close_bounds / sizeof close_bounds[0]),
                           (double)p->close_s);
}
