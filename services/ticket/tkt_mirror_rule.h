/* When the contact mirror (tkt_mirror.h) may answer a caller's look-up by
 * phone instead of the CRM's search (issue 26 item 3, R-C1/R-C2). Pure:
 * no I/O, no clock (times are handed in), unit-tested alone.
 *
 * The mirror's watermark is the local time at which the export request
 * was made whose answer reached the present (end_of_stream): every contact
 * the CRM had then is in the mirror. docs/contact-mirror.md says why each
 * rule is safe. */
#ifndef TKT_MIRROR_RULE_H
#define TKT_MIRROR_RULE_H

#include <stddef.h>
#include <stdint.h>

/* What the look-up is for. */
typedef enum {
    /* The IVR's and the ringing notice's look-up: shown, never acted on. */
    TKT_MIRROR_FOR_DISPLAY = 0,
    /* A decision that creates a contact when none is found (R-C2). */
    TKT_MIRROR_FOR_CREATE,
    /* The same, with a caller on the line (the IVR's ticket): no waiting
     * for the next pass, a miss searches at once. */
    TKT_MIRROR_FOR_CREATE_NOW,
} tkt_mirror_purpose_t;

typedef enum {
    TKT_MIRROR_SEARCH = 0, /* the mirror cannot vouch: ask the CRM's search */
    TKT_MIRROR_HIT,        /* the mirror's contacts are the answer */
    TKT_MIRROR_NONE,       /* no contact has the number: the answer, without a search */
    TKT_MIRROR_WAIT,       /* ask again after the next pass (creation, not yet covered) */
} tkt_mirror_verdict_t;

/* What the mirror holds for one number, and its state. */
typedef struct {
    int complete;         /* a first pass over every contact has ended */
    int64_t watermark_ms; /* see above; 0 never */
    size_t n_contacts;    /* contacts with the number */
} tkt_mirror_view_t;

typedef struct {
    int64_t fresh_ms;       /* older watermark than this: stale, never vouches */
    int64_t create_wait_ms; /* FOR_CREATE: how long a miss may wait for a pass */
} tkt_mirror_rule_t;

/* now_ms: the local wall clock; asked_ms: when the look-up was first
 * asked (a creation's miss needs a watermark at or after it). */
tkt_mirror_verdict_t tkt_mirror_vouch(const tkt_mirror_rule_t *rule, const tkt_mirror_view_t *v,
                                      tkt_mirror_purpose_t purpose, int64_t now_ms,
                                      int64_t asked_ms);

#endif
