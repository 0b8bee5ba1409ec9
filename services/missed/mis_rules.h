/* The missed-call grouper's decisions as a pure module (no I/O; tested in
 * tests/missed/unit/test_rules.c): given a call event, the policy and what the
 * grouper remembers of the customer, decide the missed-call op (at most
 * one) and the customer's new state.
 *
 * Rules: R-M1 (which calls, the assignee, abandoned switchable), R-M2
 * (grouping until a conversation), R-M3 (a conversation ends the group:
 * group.reached, ticket-service applies (a)..(e) from the ticket the call
 * ended on; an unanswered outbound call changes nothing), R-M4 (working
 * hours). Internal calls (extensions) and withheld numbers are not the
 * grouper's (ticket-service tickets withheld ones itself).
 *
 * Replays: a call that already ended changes nothing (its id is kept in
 * `ended`), except its answer learned late (a backfill): a call counted
 * missed was a conversation after all, and reaches its group; op and group ids derive from the
 * causing event's id, so a re-decided event repeats the same op, which ticket-service recognises.
 */
#ifndef MIS_RULES_H
#define MIS_RULES_H

#include "cmn_event.h"
#include "cmn_missed_op.h"
#include "mis_hours.h"

#include <stdint.h>

#define MIS_MAX_CALLS 8  /* a customer's calls in progress at once */
#define MIS_MAX_ENDED 16 /* ended calls remembered against re-posts */

/* The grouper's own view of one call in progress. */
typedef struct {
    char call_id[CMN_ID_TEXT_MAX + 1];
    int offered, answered, outbound;
    char last_offered[CMN_CRM_ID_MAX + 1]; /* R-M1: "" none / unmapped */
} mis_call_t;

/* What the grouper remembers of one customer (Redis, by E.164). */
typedef struct {
    char group_id[CMN_ID_TEXT_MAX + 1]; /* "" = no open group */
    long count;                         /* missed calls in the open group */
    mis_call_t calls[MIS_MAX_CALLS];
    size_t n_calls;
    char ended[MIS_MAX_ENDED][CMN_ID_TEXT_MAX + 1]; /* newest first */
    /* The group each ended call was counted in as missed, "" none: its
     * answer learned late reaches that group while it is open (issue 27). */
    char ended_group[MIS_MAX_ENDED][CMN_ID_TEXT_MAX + 1];
    size_t n_ended;
    /* The last message applied (replay guard; one customer is one
     * partition): -1 = none. */
    int32_t partition;
    int64_t offset;
} mis_state_t;

typedef struct {
    int abandoned;     /* R-M1: abandoned calls make tickets (default on) */
    mis_hours_t hours; /* R-M4 */
} mis_policy_t;

typedef enum {
    MIS_IGNORED_NONE = 0,
    MIS_IGNORED_ABANDONED,     /* switched off */
    MIS_IGNORED_OUTSIDE_HOURS, /* R-M4 */
} mis_ignored_t;

typedef struct {
    int has_op;
    cmn_missed_op_t op;
    mis_state_t state; /* after the event */
    int changed;       /* state differs: store it */
    /* Figures (R-S1): a missed call grouped, a group opened, closed (by a
     * call of that direction), or ignored. */
    int grouped, opened, closed_inbound, closed_outbound;
    mis_ignored_t ignored;
    const char *note; /* why nothing happened (static) */
} mis_plan_t;

void mis_state_init(mis_state_t *s);
void mis_policy_defaults(mis_policy_t *p);

/* Returns 0 (out filled), -1 for an event that cannot be handled (note). */
int mis_decide(const mis_policy_t *pol, const cmn_event_t *ev, const mis_state_t *in,
               mis_plan_t *out);

#endif
