/* Metrics registry: a linked list of series, grouped by family at render
 * time. Few dozen series per process, so linear look-ups are fine. */
#include "cmn_metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { M_COUNTER, M_GAUGE, M_HISTOGRAM } metric_kind_t;

static const double bucket_bounds[] = {0.5, 1,   2.5, 5,    10,   25,   50,
                                       100, 250, 500, 1000, 2500, 5000, 10000};
#define N_BUCKETS (sizeof bucket_bounds / sizeof bucket_bounds[0])
#define MAX_BUCKETS 16

struct cmn_metric {
    struct cmn_metric *next;
    metric_kind_t kind;
    char *family;
    char *help;
    char *labels;
    double value;
    double sum;
    unsigned long long count;
    const double *bounds; /* static: the default milliseconds' or the caller's */
    size_t n_bounds;
    unsigned long long buckets[MAX_BUCKETS];
    cmn_metric_fn fn;
    void *fn_ctx;
};

static cmn_metric_t *registry;

static int same(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static cmn_metric_t *find_or_create(metric_kind_t kind, const char *family, const char *help,
                                    const char *labels)
{
    cmn_metric_t *m;
    for (m = registry; m; m = m->next)
        if (m->kind == kind && same(m->family, family) && same(m->labels, labels))
            return m;
    m = calloc(1, sizeof *m);
    if (!m)
        abort(); /* metrics are registered at start; no memory there is fatal */
    m->kind = kind;
    m->family = strdup(family);
    m->help = strdup(help ? help : "");
    m->labels = strdup(labels ? labels : "");
    if (!m->family || !m->help || !m->labels)
        abort();
    /* append, so render order is registration order */
    cmn_metric_t **tail = &registry;
    while (*tail)
        tail = &(*tail)->next;
    *tail = m;
    return m;
}

cmn_metric_t *cmn_metrics_counter(const char *family, const char *help, const char *labels)
{
    return find_or_create(M_COUNTER, family, help, labels);
}

cmn_metric_t *cmn_metrics_gauge(const char *family, const char *help, const char *labels)
{
    return find_or_create(M_GAUGE, family, help, labels);
}

cmn_metric_t *cmn_metrics_gauge_fn(const char *family, const char *help, const char *labels,
                                   cmn_metric_fn fn, void *ctx)
{
    cmn_metric_t *m = find_or_create(M_GAUGE, family, help, labels);
    m->fn = fn;
    m->fn_ctx = ctx;
    return m;
}

cmn_metric_t *cmn_metrics_histogram(const char *family, const char *help, const char *labels)
{
    return cmn_metrics_histogram_bounds(family, help, labels, bucket_bounds, N_BUCKETS);
}

cmn_metric_t *cmn_metrics_histogram_bounds(const char *family, const char *help, const char *labels,
                                           const double *bounds, size_t n)
{
    cmn_metric_t *m = find_or_create(M_HISTOGRAM, family, help, labels);
    if (!m->bounds) {
        m->bounds = bounds;
        m->n_bounds = n < MAX_BUCKETS ? n : MAX_BUCKETS;
    }
    return m;
}

void cmn_metric_add(cmn_metric_t *m, double v)
{
    m->value += v;
}

void cmn_metric_set(cmn_metric_t *m, double v)
{
    m->value = v;
}

void cmn_metric_observe(cmn_metric_t *m, double v)
{
    m->count++;
    m->sum += v;
    for (size_t i = 0; i < m->n_bounds; i++)
        if (v <= m->bounds[i])
            m->buckets[i]++;
}

double cmn_metric_value(const cmn_metric_t *m)
{
    if (m->kind == M_HISTOGRAM)
        return (double)m->count;
    return m->fn ? m->fn(m->fn_ctx) : m->value;
}

double cmn_metrics_family_sum(const char *family)
{
    double sum = 0;
    for (const cmn_metric_t *m = registry; m; m = m->next)
        if (m->kind != M_HISTOGRAM && strcmp(m->family, family) == 0)
            sum += cmn_metric_value(m);
    return sum;
}

static void render_series(FILE *f, const cmn_metric_t *m)
{
    const char *sep = *m->labels ? "," : "";
    if (m->kind != M_HISTOGRAM) {
        fprintf(f, "%s%s%s%s %.17g\n", m->family, *m->labels ? "{" : "", m->labels,
                *m->labels ? "}" : "", cmn_metric_value(m));
        return;
    }
    for (size_t i = 0; i < m->n_bounds; i++)
        fprintf(f, "%s_bucket{%s%sle=\"%g\"} %llu\n", m->family, m->labels, sep, m->bounds[i],
                m->buckets[i]);
    fprintf(f, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", m->family, m->labels, sep, m->count);
    fprintf(f, "%s_sum%s%s%s %.17g\n", m->family, *m->labels ? "{" : "", m->labels,
            *m->labels ? "}" : "", m->sum);
    fprintf(f, "%s_count%s%s%s %llu\n", m->family, *m->labels ? "{" : "", m->labels,
            *m->labels ? "}" : "", m->count);
}

static int family_seen_before(const cmn_metric_t *m)
{
    for (const cmn_metric_t *p = registry; p != m; p = p->next)
        if (strcmp(p->family, m->family) == 0)
            return 1;
    return 0;
}

char *cmn_metrics_render(void)
{
    static const char *const kind_names[] = {"counter", "gauge", "histogram"};
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    for (const cmn_metric_t *m = registry; m; m = m->next) {
        if (family_seen_before(m))
            continue;
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", m->family, m->help, m->family,
                kind_names[m->kind]);
        for (const cmn_metric_t *s = m; s; s = s->next)
            if (strcmp(s->family, m->family) == 0)
                render_series(f, s);
    }
    fclose(f);
    return buf;
}

void cmn_metrics_reset(void)
{
    while (registry) {
        cmn_metric_t *next = registry->next;
        free(registry->family);
        free(registry->help);
        free(registry->labels);
        free(registry);
        registry = next;
    }
}
