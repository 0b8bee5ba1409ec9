/* Invariants every ingest fuzz target checks after a normaliser returns:
 * success -> every event valid and encodable; failure -> no events and a
 * reason. Breaking one aborts, which libFuzzer reports as a crash. */
#ifndef FUZZ_CHECK_H
#define FUZZ_CHECK_H

#include "ing_normalise.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline void fuzz_check(int rc, ing_events_t *out, const ing_error_t *err)
{
    char msg[256], field[96];
    if (rc < 0) {
        if (out->n != 0 || err->msg[0] == '\0')
            abort();
        return;
    }
    for (size_t i = 0; i < out->n; i++) {
        if (cmn_event_validate(&out->ev[i], msg, sizeof msg, field, sizeof field) < 0) {
            fprintf(stderr, "invalid event: %s (%s)\n", msg, field);
            abort();
        }
        char *text = cmn_event_encode(&out->ev[i]);
        cmn_event_t back;
        /* What we publish must be what consumers can read back. */
        if (!text ||
            cmn_event_decode(text, strlen(text), &back, msg, sizeof msg, field, sizeof field) < 0) {
            fprintf(stderr, "round trip failed: %s (%s): %s\n", msg, field, text ? text : "");
            abort();
        }
        cmn_event_clear(&back);
        free(text);
    }
    ing_events_clear(out);
}

#endif
