/* One provider's reconciliation (issue 27): its calls for the window
 * against the record of calls seen; each call never seen, or seen without
 * some of its events, gets the events call-events lacks (by event id),
 * published; a call whose end was there gets its end again, last. */
#ifndef REC_RUN_H
#define REC_RUN_H

#include "cmn_agentmap.h"
#include "ing_normalise.h"
#include "rec_publish.h"
#include "rec_report.h"
#include "rec_seen.h"

#include <jansson.h>

typedef struct {
    const ing_ctx_t *ctx;          /* Twilio's normalising context */
    const ing_ctx_t *callgear_ctx; /* CallGear's (its numbers, its time zone) */
    const ing_ctx_t *webex_ctx;    /* Webex's */
    const cmn_agentmap_t *agents;  /* R-I3 */
    const rec_seen_t *seen;
    rec_publish_t *publish; /* NULL: dry run */
} rec_run_t;

/* Twilio: `calls` as rec_twilio_list gives them (borrowed). Adds to *t. */
void rec_run_twilio(const rec_run_t *r, const json_t *calls, rec_tally_t *t);
/* CallGear: `calls` and `last_legs` as rec_callgear_list gives them. */
/* Webex: `tasks` as rec_webex_list gives them. */
void rec_run_webex(const rec_run_t *r, const json_t *tasks, rec_tally_t *t);
void rec_run_callgear(const rec_run_t *r, const json_t *calls, const json_t *last_legs,
                      rec_tally_t *t);

#endif
