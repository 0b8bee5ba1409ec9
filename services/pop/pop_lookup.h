/* The caller's contact for the ringing notice (R-P2), asked of
 * ticket-service's IVR look-up (GET /v1/ivr/lookup?number=..., the cached
 * one: the CRM rate budget is spent in one process, ticket-service). Plain
 * HTTP on the cluster network through libevent's client (a few kept-alive
 * connections); the answer is awaited only briefly by the flow (pop_flow:
 * CALLBUS_POP_LOOKUP_WAIT_MS), so a slow CRM never holds a pop. */
#ifndef POP_LOOKUP_H
#define POP_LOOKUP_H

#include <event2/event.h>
#include <jansson.h>
#include <stddef.h>

typedef struct pop_lookup pop_lookup_t;

/* What the look-up said; strings borrowed for the callback, "" unknown.
 * found 0: no contact has the number (or ticket-service could not say). */
typedef struct {
    int found;
    const char *id, *url, *name, *email, *company;
} pop_contact_t;

/* err: NULL, or why there is no answer (timeout, refused, bad reply,
 * "shutting down": then c is NULL). */
typedef void (*pop_lookup_fn)(void *ctx, const pop_contact_t *c, const char *err);

/* base_url: "http://host[:port]" of ticket-service (copied); token: its
 * CALLBUS_IVR_TOKEN (copied). NULL with errstr when the URL is not a
 * plain http:// URL with a host, or out of memory. */
pop_lookup_t *pop_lookup_new(struct event_base *base, const char *base_url, const char *token,
                             long timeout_ms, char *errstr, size_t errsz);
/* Asks for number (E.164). 0: cb is called exactly once, later (never from
 * inside this call); -1: not sent (cb is not called). */
int pop_lookup_ask(pop_lookup_t *l, const char *number, pop_lookup_fn cb, void *ctx)
    __attribute__((warn_unused_result));
/* Issue 24 item 2: contacts whose name or e-mail match `query`, asked of
 * ticket-service's GET /v1/contacts/search (the CRM's search, for an
 * agent's "find the customer to link"). contacts: the answer's array
 * (borrowed for the callback; NULL with err). 0: cb is called exactly
 * once, later; -1: not sent. */
typedef void (*pop_search_fn)(void *ctx, const json_t *contacts, const char *err);
int pop_lookup_search(pop_lookup_t *l, const char *query, pop_search_fn cb, void *ctx)
    __attribute__((warn_unused_result));

/* Questions still unanswered. */
size_t pop_lookup_pending(const pop_lookup_t *l);
/* Answers what is pending with an error ("shutting down"), then frees.
 * NULL-safe. */
void pop_lookup_free(pop_lookup_t *l);

#endif
