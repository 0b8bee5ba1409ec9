/* What a run found, per provider (issue 27 item 3): the RESULT line on
 * stdout and the Prometheus series (cmn_metrics), written to a textfile. */
#ifndef REC_REPORT_H
#define REC_REPORT_H

#include <stdio.h>

typedef struct {
    long logged;      /* calls in the provider's log for the window */
    long seen;        /* of those, calls with at least one event on call-events */
    long backfilled;  /* calls whose missing events were published (dry run: would be) */
    long complete;    /* calls with every event already on call-events */
    long in_progress; /* calls not over at the provider: left to the next run */
    long failed;      /* calls that could not be mapped or published; 1 for a log not read */
} rec_tally_t;

/* "RESULT reconcile provider=twilio logged=... seen=... backfilled=...
 * complete=... in_progress=... failed=..." on `out`, and the tally into
 * the metrics registry (reconcile_calls{provider,result}). */
void rec_report(FILE *out, const char *provider, const rec_tally_t *t, int dry_run);

/* Writes the registry (with reconcile_last_run_timestamp_seconds) to
 * `path` atomically (a temporary file renamed). 0, or -1 (errno). */
int rec_report_write_metrics(const char *path, double now_s);

#endif
