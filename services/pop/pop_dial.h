/* Click-to-call (issue 24 item 1; docs/pop.md "Click-to-call"): places a
 * call through the telephony provider's API as the signed-in agent's
 * operator (the agent directory read the other way, R-I3), carrying the
 * ticket the agent called from (R-O1) so the call's own webhooks land on
 * it. The provider plug-ins are pop_dial_provider.h's table; this module
 * normalises the number, spends the provider's token bucket (pop_bucket),
 * sends the request with crm_curl on the loop (bounded by a timeout) and
 * turns the answer into the agent's reply. Loop thread only. */
#ifndef POP_DIAL_H
#define POP_DIAL_H

#include "cmn_agentdir.h"
#include "cmn_phone.h"
#include "pop_dial_provider.h"

#include <event2/event.h>
#include <jansson.h>
#include <stddef.h>

typedef struct pop_dial pop_dial_t;

typedef struct {
    const char *provider;             /* "callgear" | "twilio"; "" off */
    pop_dial_account_t account;       /* api_url "" = the provider's public API */
    const cmn_agentdir_cfg_t *agents; /* CALLBUS_AGENT_MAP, _FILE */
    const cmn_country_t *country;
    long per_min, burst; /* the token bucket */
    long timeout_ms;     /* one exchange with the provider */
} pop_dial_opts_t;

/* The agent's answer: HTTP status and a JSON body (a new reference the
 * callee steals): 202 {"status": "placed", "provider", "call_id",
 * "ticket_id"}, or {"error": <the provider's reason>, "provider",
 * "provider_code"}. */
typedef void (*pop_dial_done_fn)(void *ctx, int status, json_t *body);

/* *out NULL when opts->provider is "" (click-to-call off). -1 with errstr:
 * an unknown provider, a setting it needs is empty, a malformed agent map
 * (or a map file that cannot be read) or API URL. Everything is copied; the
 * agent directory reloads its file on `base` (cmn_agentdir.h). */
int pop_dial_new(struct event_base *base, const pop_dial_opts_t *opts, pop_dial_t **out,
                 char *errstr, size_t errsz) __attribute__((warn_unused_result));

/* Places a call for the agent crm_id to `number` (as typed; normalised to
 * E.164 here) from ticket_id (NULL: none). 0: cb is called once, later
 * (503 when freed first). Otherwise the status of a refusal made at once,
 * with *refusal its body (a new reference) for the caller to answer: 400
 * a number that is not one, 403 an agent with no operator at the
 * provider, 429 the bucket is empty (Retry-After in "retry_after_s"), 503
 * out of memory. */
int pop_dial_place(pop_dial_t *d, const char *crm_id, const char *number, const char *ticket_id,
                   pop_dial_done_fn cb, void *ctx, json_t **refusal);

size_t pop_dial_in_flight(const pop_dial_t *d);
/* Answers what is in flight 503, then frees. NULL-safe. */
void pop_dial_free(pop_dial_t *d);

#endif
