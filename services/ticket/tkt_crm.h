/* The CRM adapter interface: everything ticket-service asks of a CRM, as
 * asynchronous calls on the libevent loop. The core calls only this (and,
 * at start, crm/crm_provider.h to make one). The implementations are the
 * CRM client in crm/, one per CRM (Zendesk: crm_zendesk.c, Dynamics 365:
 * crm_dyn.c), each a row of the provider table CALLBUS_CRM picks from.
 * Which one, and its base URL (the real SaaS, or an emulator in
 * tests/emulators/), is
 * configuration: the same code talks to both.
 *
 * Every call is queued by priority (tkt_prio_t) behind the adapter's rate
 * limiter, retried with backoff on 5xx / network errors / 429 (after its
 * Retry-After), and ends in exactly one callback with a tkt_crm_result_t
 * that is borrowed for the callback only. */
#ifndef TKT_CRM_H
#define TKT_CRM_H

#include "tkt_model.h"

#include <event2/event.h>
#include <stddef.h>

/* Served in this order: a caller waiting on the IVR or an agent waiting
 * for a pop must never queue behind a burst of comments. */
typedef enum {
    TKT_PRIO_INTERACTIVE = 0, /* IVR look-ups, screen-pop reads */
    TKT_PRIO_CREATE = 1,      /* contact / ticket creation */
    TKT_PRIO_ENRICH = 2,      /* comments, updates, bulk flushes, checks */
    TKT_PRIO__COUNT
} tkt_prio_t;

/* A ticket as the CRM shows it. */
typedef struct {
    char id[TKT_ID_MAX];
    tkt_status_t status;
    char subject[256];
    char assignee_id[TKT_ID_MAX];
    char requester_id[TKT_ID_MAX];
    char external_id[TKT_EXTERNAL_ID_MAX];
    char merged_into[TKT_ID_MAX]; /* closed by a merge: where it went (R-T7) */
    /* What a caller can be told (R-V1): Dynamics' case number
     * (`ticketnumber`, "CAS-01234-X1Y2Z3"); "" when the id is that number
     * (Zendesk: ticket #1234 is what its agents and customers quote). */
    char number[64];
    int64_t created_at_ms;
    int64_t updated_at_ms;
} tkt_crm_ticket_t;

/* A contact as the CRM shows it (display fields for pops, R-P2). */
typedef struct {
    char id[TKT_ID_MAX];
    char name[TKT_TEXT_MAX];
    char email[TKT_TEXT_MAX];
    char company[TKT_TEXT_MAX];
    int64_t created_at_ms;
} tkt_crm_contact_t;

/* Issue 26 item 3: one contact as the CRM's change feed tells it (the
 * contact mirror's input, tkt_mirror.h). */
#define TKT_CRM_MAX_PHONES 4
typedef struct {
    tkt_crm_contact_t contact;
    /* as the CRM stores them (not normalised); the look-up's phone fields */
    char phones[TKT_CRM_MAX_PHONES][TKT_PHONE_MAX * 2];
    size_t n_phones;
    int gone; /* deleted, deactivated or no longer a customer: out of the index */
} tkt_crm_change_t;
/* Contacts in one page of the change feed (Zendesk's per_page). */
#define TKT_CRM_MAX_CHANGES 500

/* One ticket's outcome in a bulk update (R-B3). */
typedef struct {
    char ticket_id[TKT_ID_MAX];
    int ok;
    int retryable;       /* e.g. per-ticket rate limit: try again in a later flush */
    int closed;          /* refused because the ticket is closed (R-T7/R-T10 path); for
                          * ticket_statuses: solved, closed or gone — not to be written to */
    tkt_status_t status; /* ticket_statuses */
    /* bulk_update: the write may have been applied though no result says so
     * (answer lost, job status unreadable or unfinished). Never sent again
     * before its job is over (await_jobs) and its marker was checked. */
    int maybe_applied;
    char error[160];
} tkt_crm_item_t;

#define TKT_CRM_MAX_LIST 16
#define TKT_CRM_MAX_BULK 100
/* Dataverse's incident has some 200 columns before any custom one. */
#define TKT_CRM_MAX_FIELDS 1024

typedef struct {
    int ok;
    int http_status; /* last status seen; 0 = no answer (network, timeout) */
    int not_found;
    int closed; /* a write refused because the ticket is closed */
    /* The adapter refused the op itself, before any request: as asked it
     * can never succeed (an id that is not one of the CRM's, a number it
     * cannot look up, a case with no customer). What that means for the
     * event is tkt_failure.h's to decide, not the adapter's. */
    int refused;
    char error[256];
    /* find_contacts, create_contact, find_contact_by_external_id */
    tkt_crm_contact_t contacts[TKT_CRM_MAX_LIST];
    size_t n_contacts;
    /* create_ticket, show_ticket, update_ticket */
    tkt_crm_ticket_t ticket;
    /* The lists below are the adapter's buffers (borrowed, like the result),
     * made only for the ops that fill them: a result in every in-flight op
     * would otherwise hold ~40 KB (issue 7 item 8). NULL when n is 0. */
    /* find_by_external_id, contact_tickets: up to TKT_CRM_MAX_LIST */
    tkt_crm_ticket_t *tickets;
    size_t n_tickets;
    /* bulk_update, ticket_statuses: one item per op/id, in their order (up
     * to TKT_CRM_MAX_BULK) */
    tkt_crm_item_t *items;
    size_t n_items;
    /* has_marker */
    int marker_found;
    /* list_fields: ids of the ticket fields the CRM has (up to TKT_CRM_MAX_FIELDS) */
    char (*field_ids)[TKT_ID_MAX];
    size_t n_field_ids;
    /* contacts_changed: the page's contacts (up to TKT_CRM_MAX_CHANGES),
     * the cursor to continue from (never NULL when ok) and whether the page
     * reached the present (every change the CRM had when the request was
     * made is in this page or an earlier one). */
    tkt_crm_change_t *changes;
    size_t n_changes;
    char *cursor;
    int end_of_stream;
} tkt_crm_result_t;

typedef void (*tkt_crm_cb)(void *ctx, const tkt_crm_result_t *res);
/* A bulk request was accepted as the CRM's background job `job_id`, which
 * has not necessarily run yet. Borrowed for the call; never free the
 * adapter from it. */
typedef void (*tkt_crm_job_fn)(void *ctx, const char *job_id);

typedef struct tkt_crm tkt_crm_t;

typedef struct {
    /* R-C1: contacts whose phone matches (look-up form per R-I2). */
    void (*find_contacts)(tkt_crm_t *crm, const char *phone, tkt_prio_t prio, tkt_crm_cb cb,
                          void *ctx);
    /* R-C2. external_id: deterministic, so a creation an earlier attempt
     * made can be found again (find_contact_by_external_id); NULL or "" for
     * none. */
    void (*create_contact)(tkt_crm_t *crm, const char *phone, const char *name,
                           const char *external_id, tkt_crm_cb cb, void *ctx);
    /* Recovery: was a contact with this external_id already created? Result
     * in contacts[]. Read from the CRM's records, not its search index (which
     * lags behind writes). Creation priority, like find_by_external_id. */
    void (*find_contact_by_external_id)(tkt_crm_t *crm, const char *external_id, tkt_crm_cb cb,
                                        void *ctx);
    /* op: TKT_OP_CREATE_TICKET with placeholders already resolved. */
    void (*create_ticket)(tkt_crm_t *crm, const tkt_op_t *op, tkt_crm_cb cb, void *ctx);
    /* Recovery: was a ticket with this external_id already created?
     * (Served at creation priority: it stands in for a create.) */
    void (*find_by_external_id)(tkt_crm_t *crm, const char *external_id, tkt_crm_cb cb, void *ctx);
    /* Status, assignee and merge target of one ticket. */
    void (*show_ticket)(tkt_crm_t *crm, const char *ticket_id, tkt_prio_t prio, tkt_crm_cb cb,
                        void *ctx);
    /* op: TKT_OP_COMMENT or TKT_OP_UPDATE, sent at once (not batched). */
    void (*update_ticket)(tkt_crm_t *crm, const tkt_op_t *op, tkt_crm_cb cb, void *ctx);
    /* Up to TKT_CRM_MAX_BULK ops on distinct tickets in one bulk request;
     * the callback comes once the CRM's job has finished, with per-item results.
     * on_job (may be NULL) is called first, once the request was accepted,
     * with the job's id: stored at once, it lets a replay wait for exactly
     * that job (await_jobs) before it checks markers. Both get ctx. */
    void (*bulk_update)(tkt_crm_t *crm, const tkt_op_t *ops, size_t n, tkt_crm_job_fn on_job,
                        tkt_crm_cb cb, void *ctx);
    /* Up to TKT_CRM_MAX_BULK creations of one kind (all TKT_OP_CREATE_TICKET
     * with placeholders resolved, or all TKT_OP_CREATE_CONTACT) in one bulk
     * request, for records no one is waiting for (R-B4 keeps the others at
     * once). Like bulk_update: on_job first, then the callback once the
     * CRM's job has finished; items[i] is ops[i]'s outcome, its ticket_id
     * the created record's id (ticket or contact) when ok. maybe_applied:
     * the job's outcome is unknown; the creation may exist, so it is looked
     * up by its external id (after await_jobs) before it is made again.
     * Creation priority. Optional (NULL: the CRM has no bulk creation). */
    void (*bulk_create)(tkt_crm_t *crm, const tkt_op_t *ops, size_t n, tkt_crm_job_fn on_job,
                        tkt_crm_cb cb, void *ctx);
    /* Recovery of bulk writes whose outcome is unknown: waits until the
     * CRM's background jobs `ids` have finished (n = 0: the ids unknown,
     * every job the CRM lists as queued or working now), so that a marker
     * check afterwards sees what they wrote. ok once none of them is queued
     * or working (a job the CRM no longer knows counts as finished); fails
     * when they are still running after the adapter's job timeout.
     * Enrichment priority. Optional (NULL: not a job-based CRM). */
    void (*await_jobs)(tkt_crm_t *crm, const char *const *ids, size_t n, tkt_crm_cb cb, void *ctx);
    /* The current status of up to TKT_CRM_MAX_BULK tickets in one request,
     * as result items in the ids' order (R-T10: a ticket a person solved or
     * closed is not written to). Enrichment priority. */
    void (*ticket_statuses)(tkt_crm_t *crm, const char *const *ids, size_t n, tkt_crm_cb cb,
                            void *ctx);
    /* Recovery: does one of the ticket's comments contain `marker`?
     * (Enrichment priority, like the comment it guards.) */
    void (*has_marker)(tkt_crm_t *crm, const char *ticket_id, const char *marker, tkt_crm_cb cb,
                       void *ctx);
    /* Issue 24 item 2: contacts whose name or e-mail match what an agent
     * typed (an unknown caller's "find the customer to link"), up to
     * TKT_CRM_MAX_LIST in contacts[]. Interactive priority: an agent waits. */
    void (*search_contacts)(tkt_crm_t *crm, const char *query, tkt_crm_cb cb, void *ctx);
    /* Issue 24 item 2: adds `phone` (E.164) to the contact's phone numbers
     * (Zendesk: a phone_number identity; Dynamics: the first empty column of
     * the look-up's phone columns). ok when the contact has it already, so
     * a replay is harmless. Enrichment priority. */
    void (*add_contact_phone)(tkt_crm_t *crm, const char *contact_id, const char *phone,
                              tkt_crm_cb cb, void *ctx);
    /* Issue 26 item 3, the contact mirror's feed: one page of the CRM's
     * contacts changed after `cursor` (NULL or "": every contact, from the
     * beginning), in the order the CRM changed them (Zendesk: the cursor-
     * based incremental user export; Dynamics: change tracking's delta
     * link). The caller paces the requests within the CRM's export limit
     * (Zendesk: 10 a minute). Creation priority: it stands in for the
     * look-ups of callers no one knows yet. Optional (NULL: no mirror). */
    void (*contacts_changed)(tkt_crm_t *crm, const char *cursor, tkt_crm_cb cb, void *ctx);
    /* R-V1: a contact's tickets, newest first. */
    void (*contact_tickets)(tkt_crm_t *crm, const char *contact_id, tkt_prio_t prio, tkt_crm_cb cb,
                            void *ctx);
    /* Screen pop through the CRM's telephony API (Zendesk Talk display).
     * Optional (NULL: the CRM has no such API, Dynamics 365). */
    void (*display_ticket)(tkt_crm_t *crm, const char *agent_id, const char *ticket_id,
                           tkt_crm_cb cb, void *ctx);
    /* The same for a contact's profile (an unacknowledged profile pop's
     * fallback, issue 22 item 4). Optional (NULL: the CRM has no such API). */
    void (*display_user)(tkt_crm_t *crm, const char *agent_id, const char *contact_id,
                         tkt_crm_cb cb, void *ctx);
    /* The ticket fields the CRM has (R-T9: a mapping naming a missing one
     * is reported on the ticket, not a failure). */
    void (*list_fields)(tkt_crm_t *crm, tkt_crm_cb cb, void *ctx);
    /* Whether `id` can name a ticket in this CRM at all (Zendesk: a positive
     * integer): a provider-supplied ticket id that cannot is refused before
     * any request is made with it (a 400 answered for ever otherwise). */
    int (*valid_ticket_id)(const tkt_crm_t *crm, const char *id);
    /* The URL an agent opens for a ticket / a contact. */
    void (*ticket_url)(const tkt_crm_t *crm, const char *ticket_id, char *out, size_t outsz);
    void (*contact_url)(const tkt_crm_t *crm, const char *contact_id, char *out, size_t outsz);
    /* Requests queued or in flight (0 = idle). */
    size_t (*pending)(const tkt_crm_t *crm);
    /* 1 while the CRM refuses our credentials (its last word on them was a
     * 401/403, e.g. an expired token or a suspended account): callers hold
     * their work and retry, /readyz fails. Cleared by the next success.
     * Optional (NULL: never). */
    int (*auth_failing)(const tkt_crm_t *crm);
    /* Cancels what is pending: each pending callback then runs once, with
     * ok = 0 and error "shut down". Never call it (or any op) from inside one
     * of the adapter's own callbacks. */
    void (*free)(tkt_crm_t *crm);
} tkt_crm_ops_t;

struct tkt_crm {
    const tkt_crm_ops_t *ops;
};

#endif
