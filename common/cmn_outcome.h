/* How an unanswered call is told apart, from the call's own history: the
 * one home of that decision for every consumer that keeps a view of a call
 * (ticket-service's tkt_call_t, the grouper's mis_call_t). Twilio's caller
 * leg ends `completed` (issue 9): whether an agent answered, was offered
 * the call, or never saw it, only the call's earlier events say. No state,
 * no memory: plain functions of their arguments. */
#ifndef CMN_OUTCOME_H
#define CMN_OUTCOME_H

#include "cmn_event.h"

/* 1 when `ev` shows the call offered to an agent (R-M1): an offer, or an
 * operator's leg that ended missed (CallGear reports no offers, only legs).
 * The agent may be unmapped: the call was still offered, not abandoned. */
int cmn_outcome_offers(const cmn_event_t *ev);

/* 1 when `ev` shows someone answered (inbound answer, transfer to an
 * agent, outbound answer). */
int cmn_outcome_answers(const cmn_event_t *ev);

/* A call's outcome from what was seen of it: answered -> answered;
 * outbound and not answered -> missed (R-O3's attempt); offered to an
 * agent -> missed (R-M1); never offered -> abandoned. */
cmn_outcome_t cmn_outcome_of_call(int answered, int outbound, int offered);

/* The outcome `ev` (a call end) stands for: its own, unless it is
 * `completed`, then cmn_outcome_of_call() of the call's history. */
cmn_outcome_t cmn_outcome_of_end(const cmn_event_t *ev, int answered, int outbound, int offered);

/* R-M1's assignee of a missed call: the agent its end names (the last
 * leg offered), else the last agent it was offered to (`last_offered`);
 * "" when that agent is unmapped or none was. Borrowed strings. */
const char *cmn_outcome_missed_agent(const cmn_event_t *end, const char *last_offered);

#endif
