/* R-T9's missing fields: see tkt_fields.h. */
#include "tkt_fields.h"

#include <stdio.h>
#include <string.h>

size_t tkt_fields_find_missing(const tkt_field_map_t *map, const char (*field_ids)[TKT_ID_MAX],
                               size_t n_field_ids, tkt_missing_fields_t *out)
{
    const struct {
        const char *name, *id;
    } mapped[] = {{"session_type", map->session_type},
                  {"from_number", map->from_number},
                  {"call_duration", map->call_duration},
                  {"wait_time", map->wait_time},
                  {"queue_name", map->queue_name},
                  {"call_id", map->call_id},
                  {"hold_time", map->hold_time},
                  {"ticket_type", map->ticket_type},
                  {"csat", map->csat}};
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < sizeof mapped / sizeof mapped[0]; i++) {
        int found = !mapped[i].id[0];
        for (size_t k = 0; k < n_field_ids && !found; k++)
            found = strcmp(field_ids[k], mapped[i].id) == 0;
        if (found || out->n == sizeof out->ids / sizeof out->ids[0])
            continue;
        size_t len = strlen(out->names);
        snprintf(out->names + len, sizeof out->names - len, "%s%s (%s)", len ? ", " : "",
                 mapped[i].name, mapped[i].id);
        snprintf(out->ids[out->n++], sizeof out->ids[0], "%s", mapped[i].id);
    }
    return out->n;
}

int tkt_fields_apply(const tkt_missing_fields_t *m, tkt_op_t *op)
{
    size_t kept = 0;
    int dropped = 0;
    if (!m || !m->n)
        return 0;
    for (size_t i = 0; i < op->n_fields; i++) {
        int missing = 0;
        for (size_t k = 0; k < m->n; k++)
            missing |= strcmp(op->fields[i].field_id, m->ids[k]) == 0;
        if (missing)
            dropped = 1;
        else
            op->fields[kept++] = op->fields[i];
    }
    op->n_fields = kept;
    size_t len = strlen(op->body);
    if (dropped && len + 64 + strlen(m->names) < sizeof op->body)
        snprintf(op->body + len, sizeof op->body - len, "%sNo field found for %s.",
                 len ? "\n\n" : "", m->names);
    return dropped;
}
