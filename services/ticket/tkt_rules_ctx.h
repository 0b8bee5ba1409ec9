/* The decision context the rules' files share (tkt_rules.c: the call
 * events' rules and the machinery; tkt_rules_actions.c: agent actions and
 * the grouper's operations). Internal to the ticket_rules library: other
 * modules call tkt_rules.h only. Pure like the rules: no I/O, no clock (the
 * context's now_ms is the event's time), no allocation; a context lives on
 * the decider's stack for one pass, its plan is the caller's. */
#ifndef TKT_RULES_CTX_H
#define TKT_RULES_CTX_H

#include "tkt_rules.h"

/* One pass of a decision: what was true before (call, cust, facts) and the
 * plan being built (plan->call / plan->customer: the new state). */
typedef struct {
    const tkt_policy_t *pol;
    const cmn_event_t *ev;
    const tkt_call_t *call;     /* stored, before this event */
    const tkt_customer_t *cust; /* `view`: stored, with refs made fresh by the caller
                                 * (a status just read) or by the CRM's events */
    tkt_customer_t view;
    tkt_facts_t facts;
    tkt_plan_t *plan; /* plan->call / plan->customer: the state being built */
    int64_t now_ms;
    int withheld; /* no customer number: no contact look-up, no customer state */
    int have_requester;
    char requester[TKT_ID_MAX];
    int overflow;
    tkt_op_t spare; /* written to once the plan is full; tkt_decide() then fails */
} tkt_rc_t;

/* Whether a remembered ticket may be written (tkt_rc_ref_check). */
typedef enum { TKT_RC_ACTIVE, TKT_RC_INACTIVE, TKT_RC_NEED } tkt_rc_chk_t;

/* A ticket to create (tkt_rc_new_ticket). */
typedef struct {
    tkt_kind_t kind;
    const char *subject; /* template */
    tkt_status_t status;
    const char *assignee;   /* "" = nobody */
    const char *ext_suffix; /* after "callbus-<call id>" */
    const char *tag;        /* besides "callbus" and the kind's tag */
    int keep;               /* remember it among the customer's tickets, bind the call to it */
} tkt_rc_spec_t;

/* A decision's context on the stored state (NULL: none) and the facts so
 * far; the plan starts as that state unchanged, its refs the CRM's events
 * told recently marked fresh (tkt_ticket_crm_fresh). The clock is the
 * event's. */
void tkt_rc_init(tkt_rc_t *c, const tkt_policy_t *pol, const cmn_event_t *ev,
                 const tkt_call_t *call, const tkt_customer_t *customer, const tkt_facts_t *facts,
                 tkt_plan_t *out);
/* Ends a pass: 0 with the plan settled, 1 when a fact is needed, -1 when
 * the plan did not fit. */
int tkt_rc_finish(tkt_rc_t *c);
/* Figures from the ops, and the remembered statuses of the tickets written. */
void tkt_rc_settle(tkt_plan_t *p);

/* Copies src (NULL as "") into dst, cut to fit, always terminated. */
void tkt_rc_copy(char *dst, size_t dstsz, const char *src);
#define COPY(dst, src) tkt_rc_copy((dst), sizeof(dst), (src)) /* dst: an array */
int tkt_rc_empty(const char *s);                              /* NULL or "" */
int tkt_rc_same(const char *a, const char *b);                /* equal, NULL as "" */
tkt_call_t *tkt_rc_call(tkt_rc_t *c);                         /* the call's new state */
void tkt_rc_note(tkt_rc_t *c, const char *why);               /* why the plan is what it is */
/* Asks the caller for a fact; only the first need of a pass is kept. */
void tkt_rc_need(tkt_rc_t *c, tkt_need_t what, const char *ticket_id);
/* The call's customer; an agent action or a grouper's operation on a call
 * ticket-service has no state of yet names the customer in its event. */
const char *tkt_rc_customer_number(tkt_rc_t *c);

/* An op on the plan (the spare op when the plan is full: the pass fails). */
tkt_op_t *tkt_rc_op_add(tkt_rc_t *c, tkt_op_kind_t kind, const char *ticket_id);
/* One line of a comment; lines are separated by "\n". No '[' is ever
 * written: the executor takes the last '[' of a body as its replay marker. */
void __attribute__((format(printf, 2, 3))) tkt_rc_body_line(tkt_op_t *op, const char *fmt, ...);
void tkt_rc_tag_add(tkt_op_t *op, const char *tag);

/* The customer's remembered tickets (the new state's). */
tkt_ticket_ref_t *tkt_rc_ref_find(tkt_rc_t *c, const char *id);
/* Newest first; the oldest falls off. Pointers to refs are stale after this. */
void tkt_rc_ref_push(tkt_rc_t *c, const char *id, tkt_kind_t kind, tkt_status_t status);
/* The subject of the ticket just pushed, for the pop's choices (R-P6). */
void tkt_rc_ref_subject(tkt_rc_t *c, const char *subject);
/* tkt_ticket_writable, asking for the status once per event. */
tkt_rc_chk_t tkt_rc_ref_check(tkt_rc_t *c, const tkt_ticket_ref_t *r);

/* CREATE_TICKET with requester, subject, external id, tags, status,
 * assignee and the session-start fields (R-T9); the caller writes the first
 * comment into its body. NULL when the contacts are needed first. */
tkt_op_t *tkt_rc_new_ticket(tkt_rc_t *c, const tkt_rc_spec_t *s);

#endif
