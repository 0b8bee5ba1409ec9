/* What the CRM tells, as the rules keep it (issue 25 item 2): a crm-events
 * message updates the ref of the ticket in its owner's state, so R-T10
 * (solved/closed) and R-T7 (merged) are known without a status read while
 * the word is fresh (tkt_ticket_crm_fresh). Pure, like the other rules. */
#include "tkt_rules_ctx.h"

#include <string.h>

/* The ref of ticket `id` in cu, NULL when cu does not remember it. */
static tkt_ticket_ref_t *ref_of(tkt_customer_t *cu, const char *id)
{
    for (size_t i = 0; i < cu->n_tickets && i < TKT_MAX_TICKETS; i++)
        if (tkt_rc_same(cu->tickets[i].id, id))
            return &cu->tickets[i];
    return NULL;
}

tkt_crmev_result_t tkt_decide_crm_event(const tkt_crm_event_t *e, const tkt_customer_t *customer,
                                        const tkt_facts_t *facts, tkt_plan_t *out)
{
    memset(out, 0, sizeof *out); /* no ops, no call state: only the customer's is stored */
    if (customer)
        out->customer = *customer;
    if (e->ticket_id[0] && (!facts || !facts->owner_known)) {
        out->need = TKT_NEED_TICKET_OWNER;
        COPY(out->need_ticket_id, e->ticket_id);
        out->note = "waiting for CRM facts";
        return TKT_CRMEV_NEED_OWNER;
    }
    tkt_ticket_ref_t *r = out->customer.number[0] ? ref_of(&out->customer, e->ticket_id) : NULL;
    if (!r) {
        out->note = "a ticket no customer's state remembers: ignored";
        return TKT_CRMEV_UNKNOWN_TICKET;
    }
    /* Ordered by the CRM's change time, not by arrival: a replay (same
     * time) or a late older event never overwrites a newer word. */
    if (e->occurred_at_ms <= r->crm_at_ms) {
        out->note = "the ticket's ref knows a newer change: nothing to do";
        return TKT_CRMEV_NOT_NEWER;
    }
    if (e->status != TKT_ST_UNKNOWN)
        r->status = e->status;
    if (e->merged_into[0] && !tkt_rc_same(e->merged_into, r->id)) {
        COPY(r->merged_into, e->merged_into);
        if (e->status == TKT_ST_UNKNOWN)
            r->status = TKT_ST_CLOSED; /* a merged ticket is closed (Zendesk) */
    }
    r->crm_at_ms = e->occurred_at_ms;
    r->fresh = 0; /* per event, never stored */
    out->note = "the ticket's ref updated from the CRM's event";
    return TKT_CRMEV_APPLIED;
}
