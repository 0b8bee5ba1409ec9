/* The canonical call event: what ingest publishes on `call-events` and every
 * consumer reads. schemas/call-event.schema.json is its JSON form; the two
 * are kept in step by tests/schema (the C encoder's output is validated by a
 * real JSON Schema validator, and invalid fixtures must fail both).
 *
 * Memory: every string member is heap-owned by the event and released by
 * cmn_event_clear(); set them with cmn_event_set() (copies). */
#ifndef CMN_EVENT_H
#define CMN_EVENT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define CMN_EVENT_SCHEMA_VERSION 1

/* The one value of `source` besides its absence (a webhook). */
#define CMN_EVENT_SOURCE_RECONCILIATION "reconciliation"

#define CMN_EVENT_TYPES(X)                                                                         \
    X(CMN_EV_OFFERED, "call.offered")                                                              \
    X(CMN_EV_ANSWERED, "call.answered")                                                            \
    X(CMN_EV_TRANSFERRED, "call.transferred")                                                      \
    X(CMN_EV_LEG_ENDED, "call.leg_ended")                                                          \
    X(CMN_EV_ENDED, "call.ended")                                                                  \
    X(CMN_EV_RECORDING_READY, "call.recording_ready")                                              \
    X(CMN_EV_CSAT, "call.csat")                                                                    \
    X(CMN_EV_OUTBOUND_STARTED, "outbound.started")                                                 \
    X(CMN_EV_OUTBOUND_ANSWERED, "outbound.answered")                                               \
    X(CMN_EV_OUTBOUND_ENDED, "outbound.ended")                                                     \
    X(CMN_EV_AGENT_LOGIN, "agent.login")                                                           \
    X(CMN_EV_AGENT_LOGOUT, "agent.logout")

typedef enum {
    CMN_EV_NONE = 0,
#define X(id, name) id,
    CMN_EVENT_TYPES(X)
#undef X
        CMN_EV__COUNT
} cmn_event_type_t;

typedef enum { CMN_DIR_NONE = 0, CMN_DIR_INBOUND, CMN_DIR_OUTBOUND } cmn_direction_t;

/* How a call (or outbound attempt) ended; R-T5, R-M1, R-T3, R-O3. */
typedef enum {
    CMN_OUT_NONE = 0,
    CMN_OUT_ANSWERED,
    CMN_OUT_MISSED,    /* offered to an agent, nobody answered */
    CMN_OUT_ABANDONED, /* caller hung up before any agent was offered the call */
    CMN_OUT_VOICEMAIL,
    /* The call ended, and its provider cannot tell whether an agent answered
     * (Twilio's caller leg, issue 9): consumers decide from the call's own
     * legs (answered, offered to an agent, or never offered). */
    CMN_OUT_COMPLETED,
} cmn_outcome_t;

typedef struct {
    char *provider_id; /* the provider's operator id (CallGear employee_id, ...) */
    char *crm_id;      /* mapped CRM agent (R-I3); NULL when unmapped */
    char *name;
} cmn_agent_t;

#define CMN_DURATION_UNKNOWN (-1)
/* The longest duration an event may carry: 30 days. Nothing real is
 * longer, and sums of two durations stay far from overflowing. */
#define CMN_DURATION_MAX 2592000

/* Ids that become Kafka keys, Redis keys, comment markers and external ids
 * (event_id, call_id, leg_id, parent_call_id, agent.provider_id) are at most
 * this many bytes of visible ASCII: the decoder refuses anything else, so
 * a buffer of CMN_ID_TEXT_MAX + 1 always holds one whole. */
#define CMN_ID_TEXT_MAX 128
/* agent.crm_id: a CRM id (Zendesk: digits; Dynamics: a GUID). */
#define CMN_CRM_ID_MAX 47
/* 1 when s is 1..max bytes of visible ASCII (the rule above, for ids that
 * reach a service by another way than an event: IVR requests, agent
 * actions, missed-call operations). NULL-safe (0). */
int cmn_id_text_ok(const char *s, size_t max);
/* 1 when s has the E.164 form the schemas require ("+", 7..15 digits, no
 * leading 0): the check of every number a message carries. NULL-safe (0). */
int cmn_e164_form_ok(const char *s);

/* recording.more_urls: at most this many links besides recording.url. */
#define CMN_RECORDING_MORE_MAX 7

typedef struct {
    char *event_id; /* stable across a provider's re-posts */
    cmn_event_type_t type;
    char *provider; /* callgear | twilio | webex | tvox | generic */
    char *call_id;  /* required except for agent.* events */
    char *leg_id;
    char *parent_call_id;
    cmn_direction_t direction;
    char *customer_number; /* E.164; NULL when withheld or internal */
    /* The customer's name as the provider knows it (CallGear
     * contact_full_name): names a contact callbus creates (R-C2). */
    char *customer_name;
    int internal;         /* the other end is an extension, not a customer: no ticket (issue 9) */
    char *dialled_number; /* virtual number / DNIS, as given */
    cmn_agent_t agent;    /* who this event is about (answering, offered, target of transfer) */
    cmn_agent_t previous_agent; /* transfers: who had the call */
    char *queue;                /* queue / IVR menu selection */
    char *language;
    char *ticket_id;   /* when the caller's side (IVR, agent desktop) knows it */
    char *ticket_type; /* IVR pre-created ticket type (R-T8) */
    /* How callbus learnt of the event: NULL for the provider's own webhook,
     * CMN_EVENT_SOURCE_RECONCILIATION for a backfill from the provider's call
     * log (services/reconcile, issue 27): such a call is long over, so
     * nobody is popped for it. */
    char *source;
    cmn_outcome_t outcome;
    int64_t wait_s, talk_s, hold_s, total_s; /* CMN_DURATION_UNKNOWN when not given */
    char *recording_url;
    /* Further links of the same recording (CallGear record_file_links after
     * the first, one per leg or format), in the provider's order (R-T6). */
    char *recording_more[CMN_RECORDING_MORE_MAX];
    size_t n_recording_more;
    int64_t recording_duration_s;
    int csat_score; /* -1 when none */
    int csat_scale;
    char **tags;
    size_t n_tags;
    int64_t occurred_at_ms;
    int64_t received_at_ms;
} cmn_event_t;

/* Zeroes the event and sets the "unknown" markers. */
void cmn_event_init(cmn_event_t *ev);
/* Frees every owned member and re-initialises. NULL-safe. */
void cmn_event_clear(cmn_event_t *ev);
/* Replaces *field with a copy of value (NULL clears). Returns 0 or -1 (ENOMEM). */
int cmn_event_set(char **field, const char *value) __attribute__((warn_unused_result));
int cmn_event_add_tag(cmn_event_t *ev, const char *tag) __attribute__((warn_unused_result));
/* Appends a copy of url to recording_more; -1 on ENOMEM or when
 * CMN_RECORDING_MORE_MAX are there. */
int cmn_event_add_recording_link(cmn_event_t *ev, const char *url)
    __attribute__((warn_unused_result));

const char *cmn_event_type_name(cmn_event_type_t t);
cmn_event_type_t cmn_event_type_parse(const char *s); /* CMN_EV_NONE if unknown */
const char *cmn_outcome_name(cmn_outcome_t o);
const char *cmn_direction_name(cmn_direction_t d);

/* Checks the rules the schema states (required fields per type, formats).
 * On failure returns -1, writes a sentence to err and the offending field's
 * JSON name to field (both may be NULL). */
int cmn_event_validate(const cmn_event_t *ev, char *err, size_t errsz, char *field, size_t fieldsz)
    __attribute__((warn_unused_result));

/* Returns a new reference; NULL only on allocation failure. */
json_t *cmn_event_to_json(const cmn_event_t *ev);
/* Encodes compactly; returns a heap string the caller frees. */
char *cmn_event_encode(const cmn_event_t *ev);

/* Strict decode of a JSON object into *ev (initialised here): unknown
 * members, wrong types, bad enum values and rule violations are rejected
 * with the field named. Borrows `obj`. Returns 0 or -1. */
int cmn_event_from_json(const json_t *obj, cmn_event_t *ev, char *err, size_t errsz, char *field,
                        size_t fieldsz) __attribute__((warn_unused_result));
int cmn_event_decode(const char *text, size_t len, cmn_event_t *ev, char *err, size_t errsz,
                     char *field, size_t fieldsz) __attribute__((warn_unused_result));

/* The Kafka key of an event on call-events: the customer's E.164 number, or
 * the call id when the number is withheld (one customer, one partition);
 * agent.* events, which have neither, are keyed by the agent. */
const char *cmn_event_key(const cmn_event_t *ev);

/* Heap bytes the event's members hold, allocator overhead included (an
 * estimate): what keeping it waiting costs. */
size_t cmn_event_footprint(const cmn_event_t *ev);

/* Derives a stable event id from provider data: "<provider>-<32 hex>" where
 * the hex is SHA-256 over the parts, NUL-separated. out >= CMN_EVENT_ID_MAX. */
#define CMN_EVENT_ID_MAX 48
void cmn_event_id_derive(char *out, size_t outsz, const char *provider, const char *const *parts,
                         size_t n_parts);

#endif
