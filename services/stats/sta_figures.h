/* The statistics' figures (issue 25 item 3; R-S1, R-S2): which cells of a
 * UTC day's hash one message of a topic adds to, and what the stats
 * service remembers of calls and tickets to get there. Pure: no I/O; the
 * state a decision needs is read before (sta_store) and the plan it makes
 * is applied after, atomically with the message's offset.
 *
 *   call-events      calls, answered, missed by call kind, on the call's
 *                    end (the call's history tells an unanswered call
 *                    apart: cmn_outcome), with its queue and agent; an
 *                    answer after an end counted missed or abandoned
 *                    (reconciliation's backfill, issue 27) moves the
 *                    call to answered inbound on the end's day;
 *   ticket-events    tickets_created (a ticket made for a call, once);
 *   crm-events       solved, closed, reopened by the ticket's assignee;
 *                    R-S2's close_s_sum / close_n when a ticket is first
 *                    done (solved or closed), created != closed;
 *   missed-call-ops  missed_grouped (group.open, group.add);
 *   screen-pops      pops_delivered;
 *   agent-actions    pops_acknowledged (pop-service's pop.acknowledged),
 *                    with the call's queue;
 *   crm-usage        crm_requests, crm_saved (ticket-service's crm.usage
 *                    deltas), kind, queue and agent `-`.
 * Cells are `figure \x1f kind \x1f queue \x1f agent` (sta_cell_field).
 *
 * Memory: a sta_msg_t owns what it decoded (sta_msg_clear); plans and
 * states are plain structs. */
#ifndef STA_FIGURES_H
#define STA_FIGURES_H

#include "cmn_event.h"
#include "cmn_missed_op.h"
#include "cmn_ticket_event.h"

#include <stddef.h>
#include <stdint.h>

/* Ids and queue names longer than this are cut in cells and state. */
#define STA_TEXT_MAX 128
/* Event ids remembered against a republish: pop ids are the longest. */
#define STA_DEDUP_MAX 400
#define STA_KIND_MAX 12
#define STA_STATUS_MAX 8
#define STA_MAX_CELLS 8

typedef enum {
    STA_SRC_CALL = 0, /* call-events */
    STA_SRC_TICKET,   /* ticket-events */
    STA_SRC_CRM,      /* crm-events */
    STA_SRC_MISSED,   /* missed-call-ops */
    STA_SRC_POP,      /* screen-pops */
    STA_SRC_ACTION,   /* agent-actions: pop.acknowledged only */
    STA_SRC_USAGE,    /* crm-usage: ticket-service's crm.usage records */
    STA_SRC__COUNT
} sta_source_t;

/* The unprefixed topic a source reads (cmn_topics.h). */
const char *sta_source_topic(sta_source_t s);

/* What the service keeps of a call until its end (`<ns>stats:c:<call id>`). */
typedef struct {
    int known; /* 0: nothing stored */
    char queue[STA_TEXT_MAX + 1];
    char agent[STA_TEXT_MAX + 1];   /* who answered (CRM id) */
    char offered[STA_TEXT_MAX + 1]; /* the last agent offered it (R-M1) */
    int answered, offered_any, outbound, ended;
    char kind[STA_KIND_MAX]; /* once ended */
    /* The end's time (ms): the day its cells are on, where a late answer
     * corrects them (issue 27). 0: unknown (a state stored before). */
    int64_t ended_ms;
} sta_call_t;

/* What the service keeps of a ticket (`<ns>stats:t:<ticket id>`). */
typedef struct {
    int known;
    int counted; /* tickets_created was counted for it */
    char kind[STA_KIND_MAX];
    char queue[STA_TEXT_MAX + 1];
    char agent[STA_TEXT_MAX + 1];
    int64_t created_ms; /* 0: unknown */
    char status[STA_STATUS_MAX];
    int done; /* solved or closed, R-S2 measured */
} sta_ticket_t;

enum { STA_TICKET_CREATION = 1, STA_TICKET_STATUS = 2 };

typedef struct {
    const char *figure; /* static: "calls", ... */
    char kind[STA_KIND_MAX];
    char queue[STA_TEXT_MAX + 1];
    char agent[STA_TEXT_MAX + 1];
    long long delta;
} sta_cell_t;

typedef struct {
    char day[11]; /* YYYY-MM-DD (UTC) of the cells */
    int64_t day_start_s;
    /* The seen-id guard against a record republished at a new offset: the
     * event id of a crm-events, missed-call-ops, screen-pops or
     * pop.acknowledged message; "" for calls and tickets, whose state
     * (a call ended, a ticket counted) guards them. */
    char dedup_id[STA_DEDUP_MAX + 1];
    sta_cell_t cells[STA_MAX_CELLS];
    size_t n_cells;
    int write_call; /* store `call` under call_id */
    char call_id[CMN_ID_TEXT_MAX + 1];
    sta_call_t call;
    /* store `ticket` under ticket_id: STA_TICKET_CREATION's fields (a
     * ticket event) or STA_TICKET_STATUS's (a CRM event), each source its
     * own, so that two replicas applying the two topics at once lose
     * neither's (the created flag above all). */
    int write_ticket;
    char ticket_id[STA_TEXT_MAX + 1];
    sta_ticket_t ticket;
    int64_t close_s; /* R-S2 seconds counted by this plan, -1: none */
    /* The cells move a call counted before (a late answer, issue 27):
     * the day hashes take them, monotonic counters do not (sta_metrics). */
    int correction;
    const char *note; /* why nothing is done, for the debug log; NULL */
} sta_plan_t;

/* A crm-events message, as far as the figures need it. */
typedef struct {
    char event_id[161];
    char type[32];
    char ticket_id[STA_TEXT_MAX + 1];
    char status[STA_STATUS_MAX], previous_status[STA_STATUS_MAX]; /* "": absent */
    int has_assignee;
    char assignee_id[STA_TEXT_MAX + 1]; /* "": null */
    int64_t ticket_created_ms;          /* 0: absent */
    int64_t occurred_ms;
} sta_crm_event_t;

/* A screen-pops message (and a pop.acknowledged: action_id in pop_id), as
 * far as the figures need it. */
typedef struct {
    char pop_id[STA_DEDUP_MAX + 1];
    char agent[STA_TEXT_MAX + 1];
    char call_id[CMN_ID_TEXT_MAX + 1];
    char queue[STA_TEXT_MAX + 1];
    int64_t created_ms;
} sta_pop_t;

/* A crm-usage record (schemas/crm-usage.schema.json): the CRM requests one
 * ticket-service process made and saved since its previous record. */
typedef struct {
    char event_id[STA_DEDUP_MAX + 1];
    long long requests, saved;
    int64_t occurred_ms;
} sta_usage_t;

typedef struct {
    sta_source_t src;
    union { /* by src: one message waits per job, up to max_in_flight of them */
        cmn_event_t call;
        cmn_ticket_event_t ticket;
        cmn_missed_op_t op;
        sta_crm_event_t crm;
        sta_pop_t pop; /* screen-pops and pop.acknowledged */
        sta_usage_t usage;
    };
} sta_msg_t;

/* Decodes a message of `src`. Returns 1 when it may add to the figures,
 * 0 when it cannot (an agent login, a ticket event of a reused ticket...),
 * -1 when it is not what its topic carries (err says why). On 1 and 0 the
 * message owns what it decoded: sta_msg_clear it. */
int sta_msg_decode(sta_source_t src, const char *payload, size_t len, sta_msg_t *m, char *err,
                   size_t errsz) __attribute__((warn_unused_result));
void sta_msg_clear(sta_msg_t *m); /* NULL-safe */

/* What must be read before deciding: a call's and a ticket's state (""
 * when not needed). Borrowed from m. */
const char *sta_msg_call_id(const sta_msg_t *m);
const char *sta_msg_ticket_id(const sta_msg_t *m);

/* The plan for m given the states read (a state with known=0 when none is
 * stored). A plan with no cells and no state to write changes nothing. */
void sta_decide(const sta_msg_t *m, const sta_call_t *call, const sta_ticket_t *ticket,
                sta_plan_t *out);
/* 1 when applying the plan changes something. */
int sta_plan_empty(const sta_plan_t *p);

/* A cell's field in the day hash: figure, kind, queue and agent joined by
 * 0x1F, each part's 0x1F and control bytes replaced by '_' and an empty
 * part written `-`. Returns the length, or -1 when it does not fit. */
int sta_cell_field(const sta_cell_t *c, char *out, size_t outsz);

/* "YYYY-MM-DD" of the UTC day holding ms, and that day's start (s). */
void sta_day_of(int64_t ms, char out[11], int64_t *start_s);

/* The contract's call kind of a ticket_kind ("call" -> "inbound"...); "-"
 * for an unknown one. Static string. */
const char *sta_kind_of_ticket(const char *ticket_kind);

#endif
