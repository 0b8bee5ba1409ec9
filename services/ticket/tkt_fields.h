/* R-T9, the one home of "a mapped field the CRM does not have": learnt once
 * from the CRM's field list at start (main.c), applied to every op that
 * sets fields (the pipeline): the field is left out and named on the
 * ticket it was meant for, instead of failing the write or vanishing
 * silently. Plain data: no I/O, no allocation. */
#ifndef TKT_FIELDS_H
#define TKT_FIELDS_H

#include "tkt_model.h"
#include "tkt_rules.h" /* tkt_field_map_t */

#include <stddef.h>

typedef struct {
    char names[256]; /* "call_duration (1234), ..." as reported on tickets */
    char ids[9][TKT_ID_MAX];
    size_t n;
} tkt_missing_fields_t;

/* Fills *out with the mapped fields (non-empty ids of `map`) that are not
 * among the CRM's `field_ids`; returns how many. */
size_t tkt_fields_find_missing(const tkt_field_map_t *map, const char (*field_ids)[TKT_ID_MAX],
                               size_t n_field_ids, tkt_missing_fields_t *out);

/* Takes the missing fields out of op and names them at the end of its body
 * (before the replay marker is added). Returns 1 when something was left out. */
int tkt_fields_apply(const tkt_missing_fields_t *m, tkt_op_t *op);

#endif
