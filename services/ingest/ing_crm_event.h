/* The crm-events message (schemas/crm-event.schema.json, issue 25 item 1):
 * what a CRM told us about one of its tickets, normalised from a Zendesk
 * webhook (ing_zendesk.c) or a Dataverse service-endpoint post
 * (ing_dynamics.c). Pure: no I/O.
 *
 * Memory: fixed-size members sized by the schema's bounds (a CRM value
 * longer than its bound is refused, never cut); the caller owns the struct.
 * ing_crm_event_encode returns a new string the caller free()s. */
#ifndef ING_CRM_EVENT_H
#define ING_CRM_EVENT_H

#include "ing_normalise.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define ING_CRM_ID_MAX 49        /* ticket, requester, assignee ids: 48 characters */
#define ING_CRM_EVENT_ID_MAX 161 /* 160 characters */
#define ING_CRM_MAX_EVENTS 4     /* one post: a status and an assignee change at most */

typedef enum {
    ING_CRM_TICKET_CREATED,
    ING_CRM_STATUS_CHANGED,
    ING_CRM_ASSIGNEE_CHANGED,
    ING_CRM_MERGED,
} ing_crm_type_t;

typedef struct {
    char event_id[ING_CRM_EVENT_ID_MAX];
    const char *crm; /* "zendesk" | "dynamics" (static) */
    ing_crm_type_t type;
    char ticket_id[ING_CRM_ID_MAX];
    const char *status;          /* schema vocabulary (static), NULL: absent */
    const char *previous_status; /* idem */
    char merged_into[ING_CRM_ID_MAX];
    int has_assignee; /* 0: no assignee_id member; 1: one (empty = null) */
    char assignee_id[ING_CRM_ID_MAX];
    char requester_id[ING_CRM_ID_MAX]; /* empty: unknown (the key falls back to the ticket) */
    int64_t ticket_created_at_ms;      /* 0: unknown */
    int64_t occurred_at_ms;
    int64_t received_at_ms;
} ing_crm_event_t;

typedef struct {
    ing_crm_event_t ev[ING_CRM_MAX_EVENTS];
    size_t n;
} ing_crm_events_t;

/* Appends a zeroed event for `crm` received at `received_at_ms`; NULL when
 * ING_CRM_MAX_EVENTS are in use. Borrowed. */
ing_crm_event_t *ing_crm_events_push(ing_crm_events_t *out, const char *crm,
                                     int64_t received_at_ms);

/* Copies `value` into a fixed member of size `cap`: -1 (err names `field`)
 * when it is empty or does not fit. */
int ing_crm_copy(char *dst, size_t cap, const char *value, const char *field, ing_error_t *err)
    __attribute__((warn_unused_result));

/* Reads the id at `path` of `v` (a string or a whole number, ing_json
 * rules) into dst (size ING_CRM_ID_MAX). Absent (or "0", Zendesk's "none"
 * for user ids) leaves dst empty: 0, or an error when `required`. A value
 * of another type or too long: -1, err naming `path`. */
int ing_crm_take_id(const json_t *v, const char *path, int required, char dst[ING_CRM_ID_MAX],
                    ing_error_t *err) __attribute__((warn_unused_result));

/* The schema's name of a status in the neutral (Zendesk) vocabulary, case
 * ignored ("SOLVED", "Solved" -> "solved"); NULL when it is none. */
const char *ing_crm_status_name(const char *text);

/* "ticket.status_changed" ... (static). */
const char *ing_crm_type_name(ing_crm_type_t type);

/* The message key: the requester, else the ticket id (borrowed). */
const char *ing_crm_event_key(const ing_crm_event_t *ev);

/* The message text (compact JSON, schema order), new string or NULL (ENOMEM). */
char *ing_crm_event_encode(const ing_crm_event_t *ev) __attribute__((warn_unused_result));

#endif
