/* Names of ticket statuses and kinds, as they appear in Redis, in logs and
 * on ticket-events. Tables indexed by the enums, so adding a value to an
 * enum without a name is caught by the size checks below. */
#include "tkt_model.h"

#include <stdio.h>
#include <string.h>

static const char *const status_names[] = {NULL,   "new",    "open",  "pending",
                                           "hold", "solved", "closed"};
static const char *const kind_names[] = {"call",   "ivr",       "voicemail",
                                         "missed", "abandoned", "outbound"};

_Static_assert(sizeof status_names / sizeof status_names[0] == TKT_ST_CLOSED + 1,
               "a status without a name");
_Static_assert(sizeof kind_names / sizeof kind_names[0] == TKT_KIND_OUTBOUND + 1,
               "a ticket kind without a name");

const char *tkt_status_name(tkt_status_t s)
{
    if ((int)s <= (int)TKT_ST_UNKNOWN || (int)s > (int)TKT_ST_CLOSED)
        return NULL;
    return status_names[s];
}

tkt_status_t tkt_status_parse(const char *s)
{
    if (!s)
        return TKT_ST_UNKNOWN;
    for (int i = TKT_ST_NEW; i <= TKT_ST_CLOSED; i++)
        if (strcmp(s, status_names[i]) == 0)
            return (tkt_status_t)i;
    return TKT_ST_UNKNOWN;
}

const char *tkt_kind_name(tkt_kind_t k)
{
    if ((int)k < (int)TKT_KIND_CALL || (int)k > (int)TKT_KIND_OUTBOUND)
        return "unknown"; /* never NULL: it goes straight into JSON */
    return kind_names[k];
}

int tkt_status_is_active(tkt_status_t s)
{
    return s == TKT_ST_NEW || s == TKT_ST_OPEN || s == TKT_ST_PENDING || s == TKT_ST_HOLD;
}

int tkt_external_id(char *out, size_t outsz, const char *call_id, const char *suffix)
{
    int n = snprintf(out, outsz, "callbus-%s%s", call_id ? call_id : "", suffix ? suffix : "");
    return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

void tkt_marker(char *out, size_t outsz, const char *event_id, size_t op_index)
{
    snprintf(out, outsz, "\n\n[callbus %s/%zu]", event_id, op_index);
}
