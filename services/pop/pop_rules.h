/* Pop decisions (R-P2, R-P3, R-P4), pure: no I/O. Given what is known of a
 * call after an event's facts were merged in (pop_calls.c keeps that in
 * Redis), which pop goes to which agent, and what it says. Like
 * tkt_rules.c: tested alone (tests/pop/unit/test_pop_rules.c), one case per
 * rule. */
#ifndef POP_RULES_H
#define POP_RULES_H

#include <jansson.h>
#include <stdint.h>

/* What happened to the call. */
typedef enum {
    POP_IN_OTHER = 0,
    POP_IN_OFFERED,     /* call.offered: ringing at an agent */
    POP_IN_ANSWERED,    /* call.answered, outbound.answered */
    POP_IN_TRANSFERRED, /* call.transferred: the receiving agent */
    POP_IN_TICKET,      /* ticket-events: ticket-service bound the call's ticket */
    POP_IN_ENDED,       /* call.ended, outbound.ended */
} pop_input_t;

/* The call as pop-service knows it. Borrowed strings, "" when unknown. */
typedef struct {
    const char *call_id, *number, *queue;
    const char *agent; /* the agent on the call (answered, or transferred to) */
    const char *leg;   /* the event that gave `agent` the call: each hand-over pops anew */
    int answered;
    int ended; /* call.ended seen: nothing rings any more */
    const char *ticket_id, *ticket_url, *subject, *status;
    const char *contact_id, *contact_url, *contact_name, *contact_email, *contact_company;
    const char *contacts; /* R-C4: JSON array of the contacts the agent may pick from, or "" */
    /* R-P6 (issue 24 item 2), from ticket-service's last ticket event, as
     * JSON text ("", "[]" or "null": none): the customer's tickets the call
     * may move to, and the refusal of the agent's last action. */
    const char *tickets, *refusal;
    /* "1": nobody in the CRM had the caller's number, the contact was made
     * for the call: the page offers to find the customer to link (issue 24). */
    const char *new_contact;
    /* The agent action ticket-service's last ticket event answered ("-" or
     * "": none): its outcome is a pop of its own (issue 24). */
    const char *action;
} pop_call_view_t;

typedef enum { POP_NONE = 0, POP_INCOMING, POP_TICKET, POP_PROFILE, POP_NEW_CASE } pop_kind_t;

typedef struct {
    pop_kind_t kind;
    const char *agent; /* borrowed from the input; who gets it */
} pop_decision_t;

/* event_agent: the CRM agent the event is about ("" when unmapped). */
pop_decision_t pop_rules_decide(pop_input_t in, const char *event_agent,
                                const pop_call_view_t *call);

const char *pop_kind_name(pop_kind_t k);

/* The pop's stable id: the same decision for the same call, agent,
 * ticket and hand-over (leg) has the same id, so a replay (or the answer
 * and the ticket binding racing on two replicas) pops once, while a call
 * transferred back to an agent (A -> B -> A) pops to A again. Writes into
 * out. */
void pop_rules_pop_id(const pop_decision_t *d, const pop_call_view_t *call, char *out,
                      size_t outsz);

/* The pop as the agent page and `screen-pops` get it
 * (schemas/screen-pop.schema.json), without its stream id. new_case_url
 * may contain {phone}. A new reference, NULL out of memory. */
json_t *pop_rules_message(const pop_decision_t *d, const pop_call_view_t *call,
                          const char *new_case_url, int64_t now_ms);

#endif
