/* The agent action: what an agent chose from a screen pop, for
 * ticket-service to carry out (schemas/agent-action.schema.json): the
 * contact among several with the caller's number (R-C4), another open
 * ticket for the call or a new one (R-P6); and pop-service's own word that
 * an agent did not acknowledge a pop in time, for ticket-service to show it
 * through the CRM's channel (pop.unacknowledged, issue 22 item 4; R-P5).
 * pop-service encodes it here;
 * the schema's rules live in cmn_agent_action_check. Strings are borrowed. */
#ifndef CMN_AGENT_ACTION_H
#define CMN_AGENT_ACTION_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *action_id; /* unique per action: replays are recognised by it */
    /* contact.picked | contact.linked | call.retargeted | call.new_ticket |
     * pop.unacknowledged | pop.acknowledged (for the statistics, issue 25) */
    const char *action;
    const char *call_id;
    const char *customer_number; /* E.164 or NULL (withheld) */
    const char *agent_crm_id;
    const char *contact_id; /* contact.picked, contact.linked; pop.unacknowledged: the profile */
    const char *ticket_id;  /* call.retargeted; pop.unacknowledged: the ticket shown */
    const char *pop_id;     /* pop.unacknowledged, pop.acknowledged */
    const char *pop_kind;   /* pop.(un)acknowledged: its screen pop's kind */
    int64_t occurred_at_ms;
} cmn_agent_action_t;

/* A pop id: call id, kind, ticket, agent and hand-over (pop_rules_pop_id). */
#define CMN_AGENT_ACTION_POP_ID_MAX 400

/* 0, or -1 with the offending member's name in field and a sentence in err. */
int cmn_agent_action_check(const cmn_agent_action_t *a, char *err, size_t errsz, char *field,
                           size_t fieldsz) __attribute__((warn_unused_result));
/* Checks, then encodes compactly: a heap string the caller frees; NULL
 * when invalid (err, field set) or out of memory. */
char *cmn_agent_action_encode(const cmn_agent_action_t *a, char *err, size_t errsz, char *field,
                              size_t fieldsz);
/* The Kafka key: the customer's number, else the call id (ordered with the
 * call's own events). Borrowed. */
const char *cmn_agent_action_key(const cmn_agent_action_t *a);

#endif
