/* crm-events (issue 25 item 2): what the CRM says happened to a ticket
 * (schemas/crm-event.schema.json; ingest normalises Zendesk's and
 * Dataverse's webhooks onto it), consumed when CALLBUS_TICKET_CRM_EVENTS
 * is on. Each message is a pipeline job like an agent action: the state of
 * the customer whose state remembers the ticket (tkt:owner:) is loaded,
 * the ticket's ref updated (tkt_decide_crm_event) and stored with the same
 * revision check as every customer commit, and only then may the offset
 * move. A ticket callbus does not remember is ignored; a replay or an
 * older event changes nothing; all counted in ticket_crm_events_total.
 * Loop thread only. */
#ifndef TKT_CRMEVENTS_H
#define TKT_CRMEVENTS_H

#include "tkt_pipeline.h"

/* Decodes one message into *e. -1 with err for one that does not follow
 * the schema (skipped, logged and counted by the caller). */
int tkt_crmevents_decode(const char *payload, size_t len, tkt_crm_event_t *e, char *err,
                         size_t errsz);

/* Same contract as tkt_actions_submit (TKT_ACTIONS_NOT_NOW: no memory now;
 * -1 with err: not a crm event). */
int tkt_crmevents_submit(tkt_pipeline_t *p, const char *payload, size_t len,
                         tkt_pipeline_done_fn cb, void *ctx, char *err, size_t errsz)
    __attribute__((warn_unused_result));

#endif
