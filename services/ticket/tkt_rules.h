/* The behaviour rules as a pure decision module: given a call event, what
 * ticket-service knows (the call, the customer) and the facts fetched from
 * the CRM for this event, decide the CRM operations and the new state.
 * No I/O: every rule is unit-tested here (tests/ticket/unit/test_rules.c).
 *
 * Decisions may need facts the caller does not have yet (the customer's
 * contacts; a ticket's current status). Then tkt_decide() returns a plan
 * whose `need` says what to fetch; the caller fetches it, adds it to the
 * facts and calls tkt_decide() again. Each need is asked at most once per
 * event, so the loop ends.
 *
 * Rules covered: R-I3, R-C1..R-C5, R-T1..R-T12, R-O1..R-O4 and, while the
 * missed-call grouper is not in charge (policy unanswered=direct), R-M1
 * without grouping; for the intent of other services (tkt_decide_action):
 * the agent's actions (R-C4, R-P6) and the grouper's operations (R-M1..R-M3). */
#ifndef TKT_RULES_H
#define TKT_RULES_H

#include "cmn_event.h"
#include "cmn_time.h" /* CMN_TIME_TEXT_MAX */
#include "tkt_model.h"

typedef enum { TKT_TRANSFER_REASSIGN = 0, TKT_TRANSFER_SPLIT } tkt_transfer_policy_t;
typedef enum { TKT_UNANSWERED_DIRECT = 0, TKT_UNANSWERED_GROUPER } tkt_unanswered_policy_t;
/* R-V1: which of the customer's tickets the IVR look-up answers with. */
typedef enum {
    TKT_LOOKUP_LATEST_UNRESOLVED = 0, /* R-V1, the Webex + Zendesk seed */
    TKT_LOOKUP_LATEST,                /* the Webex + Dynamics seed: "l'ultimo caso", any state */
} tkt_lookup_case_policy_t;

/* R-T9 mapping: CRM field ids ("" = not mapped). */
typedef struct {
    char session_type[TKT_ID_MAX];
    char from_number[TKT_ID_MAX];
    char call_duration[TKT_ID_MAX];
    char wait_time[TKT_ID_MAX];
    char queue_name[TKT_ID_MAX];
    char call_id[TKT_ID_MAX];
    char hold_time[TKT_ID_MAX];
    char ticket_type[TKT_ID_MAX];
    char csat[TKT_ID_MAX];
} tkt_field_map_t;

typedef struct {
    tkt_transfer_policy_t transfer;
    tkt_unanswered_policy_t unanswered;
    int reuse;                            /* R-T2, default on */
    tkt_lookup_case_policy_t lookup_case; /* R-V1, default latest unresolved */
    int reuse_open_case; /* with reuse: the customer's open case in the CRM, any (Webex+Dynamics) */
    int abandoned_tickets;             /* R-M1 last sentence / CCAI, default on */
    int outbound_unattached_closed;    /* R-O2 Deskie: unattached softphone call -> closed ticket */
    char default_assignee[TKT_ID_MAX]; /* R-T11; "" = no one */
    char subject_call[128];            /* default "Call from {phone}" */
    char subject_split_idle[128];      /* default "Incoming call from {phone}" */
    char subject_voicemail[128];       /* default "Voicemail from {phone}" */
    char subject_missed[128];          /* default "Missed call from {phone}" */
    char subject_outbound[128];        /* default "Call to {phone}" */
    int callback_window_s;             /* R-O4: how soon a call back counts, default 120 */
    int short_call_s;                  /* R-O4: "lasted under", default 10 */
    /* Issue 25 item 2: a ticket's status the CRM's events told at most this
     * long before the decision's clock is believed without a read (R-T2,
     * R-O1, R-T7, R-T10); 0 (the default, and CALLBUS_TICKET_CRM_EVENTS off):
     * never, every status is read as before. */
    int crm_fresh_s;
    tkt_field_map_t fields;
} tkt_policy_t;

/* Fills the defaults above. */
void tkt_policy_defaults(tkt_policy_t *p);

/* Facts fetched from the CRM while processing one event. */
typedef struct {
    int contacts_known;            /* a contact look-up by phone was done */
    tkt_contact_ref_t contacts[8]; /* its result, any order */
    size_t n_contacts;
    int tickets_checked; /* customer.tickets[*].fresh were just refreshed */
    /* The contact's newest tickets in the CRM, any origin, newest first
     * (TKT_NEED_CONTACT_TICKETS; policy reuse_open_case). */
    int cases_known;
    char case_ids[8][TKT_ID_MAX];
    tkt_status_t case_status[8];
    size_t n_cases;
    /* TKT_NEED_TICKET_OWNER was answered. When the index named another
     * customer as the owner of the ticket asked about, the caller hands in
     * that customer's state from then on (R-C5: the agent called, from
     * that customer's ticket, a number that is not theirs). */
    int owner_known;
} tkt_facts_t;

typedef enum {
    TKT_NEED_NOTHING = 0,
    TKT_NEED_CONTACTS,        /* look the customer up by phone (R-C1) */
    TKT_NEED_TICKET_STATUS,   /* read need_ticket_id's status and merge target (R-T2, R-T7, R-O1) */
    TKT_NEED_CONTACT_TICKETS, /* read the tickets of the contact need_ticket_id names (the
                               * contact's id there) into facts.case_* (reuse_open_case) */
    TKT_NEED_TICKET_OWNER,    /* R-C5: which customer's state remembers need_ticket_id (a ticket
                               * callbus made); hand that state in, set facts.owner_known */
} tkt_need_t;

/* Figures (R-S1) the plan moves when it is carried out. */
typedef struct {
    int created[6]; /* by tkt_kind_t */
    int reopened;
    int closed;
    int reused;
    int ignored_unmapped; /* R-I3 */
    int ignored_internal; /* issue 9: an internal (extension) call ended, no ticket */
} tkt_figures_t;

#define TKT_MAX_OPS 8

typedef struct {
    tkt_need_t need;
    char need_ticket_id[TKT_ID_MAX];
    tkt_op_t ops[TKT_MAX_OPS];
    size_t n_ops;
    tkt_call_t call;         /* the call's state after the plan */
    tkt_customer_t customer; /* the customer's state after the plan */
    int call_done;           /* the call is over: its state may be dropped after a while */
    const char *note;        /* why nothing was done, for the log (static string) */
    tkt_figures_t figures;
    /* An agent's action (R-P6, R-C4, issue 24 item 2): the agent hears of
     * its outcome through a ticket event for the call, its pop: the
     * call's ticket as it now is, and when refused the reason's label
     * (static string) with the action's id (borrowed from the action). */
    int announce;
    const char *refused;
    const char *action_id;
    int linked; /* contact.linked carried out: the caller is known now */
} tkt_plan_t;

/* How a call ended, from its own state, when its end does not say (a
 * `completed` outcome, a call whose end never came): an agent answered ->
 * answered; outbound and not answered -> missed; offered to an agent ->
 * missed (R-M1); never offered -> abandoned. */
cmn_outcome_t tkt_call_outcome(const tkt_call_t *call);

/* Decides what `ev` means for the CRM. `call` and `customer` are the stored
 * state (zeroed structs when none); `facts` what was fetched so far.
 * `now_ms` is the event time used for windows (R-O4). Returns 0, or -1 for
 * an event that cannot be handled (note says why).
 * (The time used for windows is ev->occurred_at_ms. `facts` may be NULL: no
 * facts yet. While `need` is set the plan has no ops and its call/customer
 * are the inputs unchanged.) */
int tkt_decide(const tkt_policy_t *pol, const cmn_event_t *ev, const tkt_call_t *call,
               const tkt_customer_t *customer, const tkt_facts_t *facts, tkt_plan_t *out);

/* R-C4, the one place it is decided: of several contacts with the number,
 * the most recently created; at the same instant the greater id (any
 * fixed order: a replay must pick the same one). 1 when a is newer than b. */
int tkt_contact_newer(int64_t a_created_ms, const char *a_id, int64_t b_created_ms,
                      const char *b_id);

/* R-T10's replacement ticket, the one place it is made: the CREATE_TICKET
 * for a write meant for `closed_id`, which a person solved or closed — the
 * rules use it when they know at decision time, the executor when the
 * status read before a write says so. External id
 * "callbus-<call>-after-<closed>" (a replay finds it), the call's kind of
 * subject, its agent (else the default assignee, R-T11), the session-start
 * fields, the note naming the closed ticket as the body's first line; the
 * requester is the call's contact. 0, or -1 (the op did not fit). */
int tkt_replacement_ticket(const tkt_policy_t *pol, const cmn_event_t *ev, const tkt_call_t *call,
                           const tkt_customer_t *customer, const char *closed_id,
                           tkt_status_t status, tkt_op_t *out);

/* R-M3 (a)..(e), the one home: the customer's open missed-call group
 * (out->customer) ends because they were reached by `call`, which has
 * ended answered. On the group's ticket -> pending, and an outbound call
 * from it marks it called back (b, c, e); on another ticket or none ->
 * the group's ticket is closed (a, d). Adds one UPDATE to `out` and clears
 * the group. Returns 0, -1 when out has no room (nothing changed). */
int tkt_missed_reached(const tkt_call_t *call, tkt_plan_t *out);

/* Whether calls may still be added to ticket `r` of the customer's (R-T2,
 * R-O1, R-T10), the one home of that judgement: 1 yes, 0 no (solved,
 * closed, merged away), -1 its status must be read first (ask
 * TKT_NEED_TICKET_STATUS for r->id; `tickets_checked` says it was). A
 * status just read (fresh) is believed; closed is final in Zendesk and
 * never asked; after the check a ref still not fresh is judged as stored. */
int tkt_ticket_writable(const tkt_ticket_ref_t *r, int tickets_checked);

/* Whether what the CRM's events told of `r` (crm_at_ms) is recent enough at
 * now_ms to be believed like a status just read (issue 25 item 2): within
 * pol->crm_fresh_s, never when that is 0. The decision context marks such
 * refs fresh (tkt_rc_init), so every rule that reads a status skips it. */
int tkt_ticket_crm_fresh(const tkt_policy_t *pol, const tkt_ticket_ref_t *r, int64_t now_ms);

/* ---- what the CRM tells (issue 25 item 2: crm-events) -------------------------- */

/* One crm-events message as tkt_crmevents.c decodes it
 * (schemas/crm-event.schema.json); only what the customer's state keeps. */
typedef struct {
    char event_id[161];
    char ticket_id[TKT_ID_MAX];
    tkt_status_t status; /* TKT_ST_UNKNOWN: the event does not say */
    char merged_into[TKT_ID_MAX];
    int64_t occurred_at_ms; /* when the CRM made the change */
} tkt_crm_event_t;

/* What a CRM event did to the customer's state (for the log and
 * ticket_crm_events_total{result}). */
typedef enum {
    TKT_CRMEV_NEED_OWNER = 0, /* the plan asks TKT_NEED_TICKET_OWNER first */
    TKT_CRMEV_APPLIED,        /* the ticket's ref now says what the event says */
    TKT_CRMEV_NOT_NEWER,      /* a replay or a late event: the ref knows a newer change */
    TKT_CRMEV_UNKNOWN_TICKET, /* not a ticket any customer's state remembers: ignored */
} tkt_crmev_result_t;

/* Decides a CRM event on the state of the customer whose state remembers
 * its ticket: asks TKT_NEED_TICKET_OWNER until facts->owner_known, then
 * updates that ticket's ref (status; merged_into, R-T7; crm_at_ms) when the
 * event is newer than what the ref was told (R-T10: a ticket a person
 * solved is known without a read). No ops; the plan's call is empty (no
 * call state is written). Same contract as tkt_decide otherwise. */
tkt_crmev_result_t tkt_decide_crm_event(const tkt_crm_event_t *e, const tkt_customer_t *customer,
                                        const tkt_facts_t *facts, tkt_plan_t *out);

/* R-V1, the one home of which ticket the IVR look-up reads to the caller:
 * of the customer's tickets' statuses, newest first (`st[0]` the newest),
 * the index of the newest unresolved one (new/open/pending/hold) or, under
 * TKT_LOOKUP_LATEST, of the newest whatever its status; -1 for none. */
int tkt_lookup_case_pick(const tkt_policy_t *pol, const tkt_status_t *st, size_t n);

/* ---- intent from other services (issue 20 item 1: one decision engine) ---- */

typedef enum {
    TKT_ACT_CONTACT_PICKED, /* agent-actions contact.picked (R-C4) */
    TKT_ACT_RETARGETED,     /* call.retargeted (R-P6) */
    TKT_ACT_NEW_TICKET,     /* call.new_ticket (R-P6) */
    TKT_ACT_CONTACT_LINKED, /* contact.linked: an unknown caller is this contact (issue 24) */
    TKT_ACT_GROUP_OPEN,     /* missed-call-ops group.open (R-M1) */
    TKT_ACT_GROUP_ADD,      /* group.add (R-M2) */
    TKT_ACT_GROUP_STATUS,   /* group.status (R-M3) */
    TKT_ACT_GROUP_REACHED,  /* group.reached (R-M3 (a)..(e)) */
} tkt_action_kind_t;

/* One agent action or missed-call operation, as tkt_actions.c decodes it
 * (schemas/agent-action.schema.json, schemas/missed-call-op.schema.json). */
typedef struct {
    tkt_action_kind_t kind;
    char id[TKT_CALL_ID_MAX];      /* action_id / op_id */
    char call_id[TKT_CALL_ID_MAX]; /* the call it names */
    char number[TKT_PHONE_MAX];    /* customer_number */
    char agent[TKT_ID_MAX];        /* agent_crm_id / assignee_crm_id */
    char contact_id[TKT_ID_MAX];   /* contact.picked, contact.linked */
    char ticket_id[TKT_ID_MAX];    /* call.retargeted */
    char group_id[TKT_CALL_ID_MAX];
    char when[CMN_TIME_TEXT_MAX]; /* occurred_at as sent, for R-M2's lines */
    long count;                   /* R-M2's running count */
    tkt_status_t status;          /* group.status */
    int called_back;              /* group.status */
    /* group.open: names a contact it creates ("" = none; issue 24 item 3) */
    char customer_name[4 * 128 + 1];
} tkt_action_t;

/* Decides `a` like tkt_decide() decides a call event, with the same
 * contract: `ev` is the job's event (call_id and customer_number as the
 * action names them; the clock is ev->occurred_at_ms, else
 * ev->received_at_ms), `call`/`customer` the stored state, `facts` what was
 * fetched (may be NULL); a plan with `need` asks for a fact. An agent action
 * that does not fit its call (R-C4: not a candidate contact; R-P6: not the
 * customer's ticket; R-T10: not writable; an unknown or other customer's
 * call) is refused: -1, note says why and *refusal (when refusal is not
 * NULL) the reason's label for ticket_agent_actions_refused_total (static
 * strings; out->refused says it too, out->announce asks for the ticket
 * event that shows it to the agent); -1 with *refusal NULL for a plan that
 * does not fit. Every agent action's plan has announce set. New tickets
 * get the R-T9 session-start fields and new contacts their deterministic
 * external id ("callbus-<call id>-contact"), as the call rules' do. */
int tkt_decide_action(const tkt_policy_t *pol, const tkt_action_t *a, const cmn_event_t *ev,
                      const tkt_call_t *call, const tkt_customer_t *customer,
                      const tkt_facts_t *facts, tkt_plan_t *out, const char **refusal);

/* Fills {phone}, {call_id}, {queue} in a subject template. */
void tkt_render_subject(const char *tmpl, const cmn_event_t *ev, char *out, size_t outsz);

/* Seconds as people read them in comments: "45s", "3m 12s", "1h 02m 03s". */
void tkt_format_duration(int64_t seconds, char *out, size_t outsz);

#endif
