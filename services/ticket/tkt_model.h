/* ticket-service's own model: what it remembers about a call and about a
 * customer (kept in Redis by tkt_state), and the CRM operations the rules
 * ask for. Plain fixed-size structs: they are copied, compared in tests and
 * serialised to Redis without ownership questions. */
#ifndef TKT_MODEL_H
#define TKT_MODEL_H

#include "cmn_event.h" /* CMN_ID_TEXT_MAX, CMN_CRM_ID_MAX */

#include <stddef.h>
#include <stdint.h>

#define TKT_ID_MAX (CMN_CRM_ID_MAX + 1) /* CRM ids (Zendesk: integers; Dynamics: GUIDs) */
/* A whole call id: the decoder refuses longer ones (cmn_event.h). */
#define TKT_CALL_ID_MAX (CMN_ID_TEXT_MAX + 1)
/* "callbus-<call id>" and "callbus-<call id>-after-<ticket id>": whole. */
#define TKT_EXTERNAL_ID_MAX (sizeof "callbus--after-" + CMN_ID_TEXT_MAX + TKT_ID_MAX)
#define TKT_TEXT_MAX 128            /* names, subjects' parameters */
#define TKT_QUEUE_MAX (4 * 128 + 1) /* a whole queue name: 128 characters of UTF-8 */
#define TKT_PHONE_MAX 20
#define TKT_MAX_TICKETS 8 /* a customer's recent tickets of ours that we remember */
#define TKT_MAX_LEGS 4    /* split transfer policy: tickets of one call's legs */

/* Placeholders an op may use for ids produced by an earlier op of the same plan. */
#define TKT_REF_NEW_CONTACT "$contact"
#define TKT_REF_NEW_TICKET "$ticket"
/* The executor replaces them, once the creation has returned the real id, in
 * the later ops AND in the plan's call/customer state (call.ticket_id,
 * call.contact_id, customer.contact_id, customer.tickets[].id,
 * call.legs[].ticket_id, customer.last_call.ticket_id) before storing it.
 * $ticket means the ticket of the most recent CREATE_TICKET op; only the
 * split transfer policy (R-T4) creates two in one plan, and then the first
 * (the idle leg's closed ticket) is never referred to. See docs/rules.md. */

typedef enum {
    TKT_KIND_CALL = 0, /* answered inbound call (R-T1) */
    TKT_KIND_IVR,      /* pre-created by the IVR (R-T8) */
    TKT_KIND_VOICEMAIL,
    TKT_KIND_MISSED,
    TKT_KIND_ABANDONED,
    TKT_KIND_OUTBOUND,
} tkt_kind_t;

/* Ticket statuses as Zendesk names them; other CRMs map onto these. */
typedef enum {
    TKT_ST_UNKNOWN = 0,
    TKT_ST_NEW,
    TKT_ST_OPEN,
    TKT_ST_PENDING,
    TKT_ST_HOLD,
    TKT_ST_SOLVED,
    TKT_ST_CLOSED,
} tkt_status_t;

/* The external id of a call's ticket, "callbus-<call id><suffix>": the one
 * place it is spelled, so whoever creates the ticket (the rules, the IVR,
 * an R-T10 replacement) and whoever looks it up after a crash agree.
 * Returns 0, or -1 when it does not fit (never for a validated call id and
 * a suffix of "-after-<ticket id>" in TKT_EXTERNAL_ID_MAX). */
int tkt_external_id(char *out, size_t outsz, const char *call_id, const char *suffix);

/* The marker ending every comment we write, "\n\n[callbus <event id>/<n>]",
 * by which a replay tells whether the CRM has the comment already. */
#define TKT_MARKER_MAX (sizeof "\n\n[callbus /999]" + CMN_ID_TEXT_MAX)
void tkt_marker(char *out, size_t outsz, const char *event_id, size_t op_index);

const char *tkt_status_name(tkt_status_t s); /* "new", ...; NULL for UNKNOWN */
tkt_status_t tkt_status_parse(const char *s);
const char *tkt_kind_name(tkt_kind_t k);
/* new/open/pending/hold: a ticket calls may still be added to (R-T2, R-O1). */
int tkt_status_is_active(tkt_status_t s);

/* A ticket of ours, as last seen. `fresh` is set only while one event is
 * processed, when the status was just read from the CRM or is known fresh
 * from the CRM's own events (tkt_ticket_crm_fresh, issue 25 item 2). */
typedef struct {
    char id[TKT_ID_MAX];
    tkt_kind_t kind;
    tkt_status_t status;
    char queue[TKT_QUEUE_MAX]; /* menu selection it was created for (R-T2) */
    char channel[16];          /* "voice" */
    char merged_into[TKT_ID_MAX];
    int64_t created_at_ms;
    /* As created (the op's whole subject, so never cut inside a character);
     * "" when another made it (the IVR): the pop offers it by id (R-P6). */
    char subject[256];
    /* When the CRM said status / merged_into, by its crm-events message's
     * occurred_at (issue 25 item 2); 0: never told. Only a newer event
     * changes them, so a replay or a late older event changes nothing. */
    int64_t crm_at_ms;
    int fresh;
} tkt_ticket_ref_t;

/* A contact the look-up found; name and e-mail go on the ticket event
 * for the pop (R-P3 context, R-C4's choice). */
typedef struct {
    char id[TKT_ID_MAX];
    int64_t created_at_ms;
    char name[TKT_TEXT_MAX];
    char email[TKT_TEXT_MAX];
} tkt_contact_ref_t;

/* One leg's ticket under the split transfer policy (R-T4). */
typedef struct {
    char agent_crm_id[TKT_ID_MAX];
    char ticket_id[TKT_ID_MAX];
} tkt_leg_t;

/* What ticket-service remembers of one call (Redis, by call id). Transfer
 * ownership comes from here, never from CRM search (its index lags). */
typedef struct {
    char call_id[TKT_CALL_ID_MAX];
    char customer[TKT_PHONE_MAX]; /* E.164, "" when withheld */
    char ticket_id[TKT_ID_MAX];   /* the call's ticket; "" until there is one */
    tkt_kind_t ticket_kind;
    char contact_id[TKT_ID_MAX];
    char picked_contact_id[TKT_ID_MAX]; /* an agent's choice among several (R-C4) */
    char agent_crm_id[TKT_ID_MAX];      /* current agent on the call */
    char last_offered_crm_id[TKT_ID_MAX];
    char queue[TKT_QUEUE_MAX];
    char language[36];
    char dialled_number[TKT_PHONE_MAX]; /* outbound: the number the agent dialled (R-C5) */
    int outbound;
    int answered;
    int offered; /* offered to an agent at least once, mapped or not (R-M1) */
    int ended;
    int64_t started_at_ms;
    int64_t last_event_at_ms;
    tkt_leg_t legs[TKT_MAX_LEGS];
    size_t n_legs;
} tkt_call_t;

/* The last finished conversation, for "hang up and call back" (R-O4). */
typedef struct {
    char call_id[TKT_CALL_ID_MAX];
    char ticket_id[TKT_ID_MAX];
    char agent_crm_id[TKT_ID_MAX];
    int64_t ended_at_ms;
    int64_t total_s;
} tkt_last_call_t;

/* What ticket-service remembers of one customer (Redis, by E.164). */
typedef struct {
    char number[TKT_PHONE_MAX];
    char contact_id[TKT_ID_MAX];               /* cached look-up result (expires) */
    tkt_ticket_ref_t tickets[TKT_MAX_TICKETS]; /* ours, newest first */
    size_t n_tickets;
    tkt_last_call_t last_call;
    /* The customer's open missed-call group (R-M2), as the grouper named it,
     * and the ticket ticket-service made for it. */
    char missed_group_id[TKT_CALL_ID_MAX];
    char missed_ticket_id[TKT_ID_MAX];
    /* The grouper said the customer was reached by this call (group.reached)
     * before ticket-service saw the call end: its end applies R-M3. */
    char missed_reached_call_id[TKT_CALL_ID_MAX];
} tkt_customer_t;

/* A custom field value to set (R-T9), by CRM field id. */
typedef struct {
    char field_id[TKT_ID_MAX];
    char value[TKT_TEXT_MAX];
} tkt_field_t;

#define TKT_MAX_FIELDS 10
/* Our own tags (callbus, the kind's, a marker) and up to
 * TKT_PROVIDER_TAGS_MAX of the provider's (CallGear tag_names). */
#define TKT_MAX_TAGS 10
#define TKT_PROVIDER_TAGS_MAX 4
#define TKT_TAG_MAX 48 /* bytes with the NUL: tags[i] */
#define TKT_BODY_MAX 2048

typedef enum {
    TKT_OP_CREATE_CONTACT, /* phone (+ name): result id is TKT_REF_NEW_CONTACT */
    TKT_OP_CREATE_TICKET,  /* result id is TKT_REF_NEW_TICKET; not batchable (R-B4) */
    TKT_OP_COMMENT,        /* batchable (R-B1) */
    TKT_OP_UPDATE,         /* status / assignee / fields: batchable (R-B1) */
    TKT_OP_ADD_PHONE,      /* phone added to contact requester_id (issue 24: contact.linked) */
    /* An UPDATE whose body is not empty also adds that comment (public_comment
     * applies), so comment + status + assignee + fields of one ticket are one
     * request; tkt_decide() emits COMMENT only when nothing else changes. */
} tkt_op_kind_t;

typedef struct {
    tkt_op_kind_t kind;
    char ticket_id[TKT_ID_MAX]; /* COMMENT/UPDATE: target (may be TKT_REF_NEW_TICKET) */
    /* CREATE_CONTACT, ADD_PHONE */
    char phone[TKT_PHONE_MAX];
    char name[TKT_TEXT_MAX];
    /* CREATE_TICKET */
    char subject[256];
    char requester_id[TKT_ID_MAX]; /* may be TKT_REF_NEW_CONTACT; on UPDATE: a new requester (R-C4)
                                    */
    char external_id[TKT_EXTERNAL_ID_MAX];
    tkt_kind_t ticket_kind;
    char tags[TKT_MAX_TAGS][TKT_TAG_MAX]; /* create: the ticket's tags; update: added to its tags */
    size_t n_tags;
    /* CREATE_TICKET / UPDATE */
    tkt_status_t status;          /* TKT_ST_UNKNOWN: leave as is */
    char assignee_id[TKT_ID_MAX]; /* "" with set_assignee = unassign */
    int set_assignee;
    tkt_field_t fields[TKT_MAX_FIELDS];
    size_t n_fields;
    /* CREATE_TICKET (first comment) / COMMENT */
    char body[TKT_BODY_MAX];
    int public_comment; /* always explicit: Zendesk defaults it from the first comment */
    /* UPDATE: what it sets only ends the ticket's own business (R-M3 closing
     * or pending a missed-call group's ticket): once a person solved or
     * closed the ticket it is moot, so dropped, no R-T10 replacement made. */
    int moot_if_closed;
} tkt_op_t;

#endif
