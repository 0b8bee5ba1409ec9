/* The ticket event: what ticket-service publishes on `ticket-events` once a
 * call's ticket is bound (schemas/ticket-event.schema.json), and what
 * pop-service reads to pop it (R-P3). One codec for both sides (issue 10
 * item 6); tests/common/unit/test_ticket_event.c checks it against the schema's
 * rules, tests/pop/e2e validates what ticket-service publishes with a real
 * validator.
 *
 * Memory: every string member is heap-owned by the struct and released by
 * cmn_ticket_event_clear(); absent optional members are NULL. */
#ifndef CMN_TICKET_EVENT_H
#define CMN_TICKET_EVENT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *id, *url, *name, *email, *company;
} cmn_ticket_contact_t;

/* R-C4: at most this many contacts with the caller's number are offered. */
#define CMN_TICKET_MAX_CANDIDATES 8

/* R-P6 (issue 24 item 2): one of the customer's tickets the call may be
 * moved to, as ticket-service last saw it. created_at: RFC 3339. */
typedef struct {
    char *id, *url, *subject, *status, *kind, *created_at;
} cmn_ticket_choice_t;

#define CMN_TICKET_MAX_CHOICES 8

typedef struct {
    char *event_id, *cause_event_id, *call_id, *customer_number;
    char *ticket_id, *ticket_url, *ticket_kind, *subject, *status, *assignee_id;
    char *action_id; /* the agent action this event answers (issue 24), or NULL */
    int created;     /* -1 when absent */
    /* `new_contact` (issue 24 item 2): 1, the call's contact was created for
     * it (nobody had the number, R-C2); 0, the agent linked the caller to a
     * contact since; -1 when absent (nothing new said). */
    int new_contact;
    cmn_ticket_contact_t contact; /* contact.id NULL: no contact member */
    /* `contacts`: several contacts have the caller's number (R-C4): the
     * ones the agent may pick from; n_candidates 0: no such member. */
    cmn_ticket_contact_t candidates[CMN_TICKET_MAX_CANDIDATES];
    size_t n_candidates;
    /* `tickets`: the customer's other writable tickets (R-P6, R-T10 as last
     * seen), newest first; n_tickets 0: no such member. */
    cmn_ticket_choice_t tickets[CMN_TICKET_MAX_CHOICES];
    size_t n_tickets;
    /* `refusal`: the agent's action this event answers was refused
     * (ticket-service's reason label); both NULL: no such member. */
    char *refused_action_id, *refused_reason;
    char *occurred_at;
} cmn_ticket_event_t;

void cmn_ticket_event_clear(cmn_ticket_event_t *te);

/* Strict decode (unknown members, wrong types, missing required members
 * and values outside the schema's enums are refused with the member named
 * in `field`). *te is zeroed first; on failure it holds nothing. */
int cmn_ticket_event_decode(const char *text, size_t len, cmn_ticket_event_t *te, char *err,
                            size_t errsz, char *field, size_t fieldsz)
    __attribute__((warn_unused_result));

/* A new reference (NULL out of memory); absent members are left out. */
json_t *cmn_ticket_event_to_json(const cmn_ticket_event_t *te);

#endif
