/* pop-service's fallback for a pop its agent did not acknowledge in time
 * (agent-actions pop.unacknowledged, issue 22 item 4; R-P5): the ticket, or
 * the contact's profile, shown to the agent through the CRM's own
 * telephony API (Zendesk Talk Partner Edition's "display"). Only
 * ticket-service writes to the CRM (ARCHITECTURE.md), so pop-service asks
 * through Kafka. Not a pipeline job: it changes no ticket, needs no
 * ordering with the call's events, and a replay displays once more,
 * harmlessly. Counted in ticket_pop_fallback_total{result="displayed"|
 * "no_channel"|"failed"}.
 *
 * Loop thread only; the adapter is borrowed. */
#ifndef TKT_POPFALLBACK_H
#define TKT_POPFALLBACK_H

#include "tkt_crm.h"

#include <stddef.h>

/* The message's effect is over (displayed, failed for good, or nothing to
 * do): its offset may move. */
typedef void (*tkt_popfallback_done_fn)(void *ctx);

/* An agent-actions message: 1 it is a pop.unacknowledged, taken (done is
 * called later, once), or a pop.acknowledged (pop-service's word for the
 * statistics, issue 25 item 3: done at once, nothing shown); 0 another
 * action (not touched); -1 a
 * pop.unacknowledged that does not follow the schema (err set, done not
 * called). enabled = 0 (CALLBUS_TICKET_POP_FALLBACK=false): counted as
 * no_channel and done at once. */
int tkt_popfallback_take(tkt_crm_t *crm, int enabled, const char *payload, size_t len,
                         tkt_popfallback_done_fn done, void *ctx, char *err, size_t errsz)
    __attribute__((warn_unused_result));

#endif
