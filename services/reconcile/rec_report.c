/* rec_report.h. */
#include "rec_report.h"
#include "cmn_metrics.h"

#include <stdlib.h>
#include <string.h>

void rec_report(FILE *out, const char *provider, const rec_tally_t *t, int dry_run)
{
    const struct {
        const char *result;
        long n;
    } rows[] = {{"logged", t->logged},           {"seen", t->seen},
                {"backfilled", t->backfilled},   {"complete", t->complete},
                {"in_progress", t->in_progress}, {"failed", t->failed}};
    char labels[128];
    fprintf(out,
            "RESULT reconcile provider=%s logged=%ld seen=%ld backfilled=%ld complete=%ld "
            "in_progress=%ld failed=%ld%s\n",
            provider, t->logged, t->seen, t->backfilled, t->complete, t->in_progress, t->failed,
            dry_run ? " dry_run=1" : "");
    fflush(out);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        snprintf(labels, sizeof labels, "provider=\"%s\",result=\"%s\"", provider, rows[i].result);
        cmn_metric_set(cmn_metrics_gauge("reconcile_calls",
                                         "Calls of the last reconciliation run, by what was found",
                                         labels),
                       (double)rows[i].n);
    }
}

int rec_report_write_metrics(const char *path, double now_s)
{
    char tmp[4096];
    cmn_metric_set(cmn_metrics_gauge("reconcile_last_run_timestamp_seconds",
                                     "When the last reconciliation run ended", NULL),
                   now_s);
    char *text = cmn_metrics_render();
    FILE *f = NULL;
    int rc = -1;
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (!text || !(f = fopen(tmp, "w")))
        goto cleanup;
    if (fputs(text, f) < 0) {
        fclose(f);
        goto cleanup;
    }
    if (fclose(f) != 0 || rename(tmp, path) != 0)
        goto cleanup;
    rc = 0;
cleanup:
    free(text);
    return rc;
}
