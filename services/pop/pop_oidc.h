/* OpenID Connect sign-in of agents (issue 22 item 3): the issuer's
 * discovery document (OpenID Connect Discovery 1.0 §4) and key set (its
 * jwks_uri), fetched on the event loop with crm_curl (libcurl multi on
 * libevent: https with peer and host verification, which evhttp's client
 * does not do by itself), cached, fetched again periodically and when a
 * token names a key the cache does not hold (a rotation; rate-limited).
 * ID tokens are checked with pop_jwt: signature, iss = the issuer, aud =
 * the client id, exp/nbf/iat. The nonce is the browser's business (it
 * made it: services/pop/www/oidc.js). Loop thread only. */
#ifndef POP_OIDC_H
#define POP_OIDC_H

#include "pop_jwt.h"

#include <event2/event.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pop_oidc pop_oidc_t;

typedef struct {
    const char *issuer;      /* https://... (http only to this machine: tests) */
    const char *client_id;   /* the ID tokens' audience */
    const char *agent_claim; /* the claim holding the agent's CRM id */
    const char *scopes;      /* what the browser asks for (told it as is) */
    long refresh_s;          /* discovery and keys fetched again this often */
    long min_interval_s;     /* an unknown kid refetches the keys at most this often */
    long wait_ms;            /* a verification waits this long for keys not loaded */
} pop_oidc_opts_t;

/* Copies the options; starts fetching at once (from the loop). NULL with
 * err when the issuer is no URL we may fetch, or out of memory. */
pop_oidc_t *pop_oidc_new(struct event_base *base, const pop_oidc_opts_t *opts, char *err,
                         size_t errsz);

/* What a verification found; strings borrowed for the callback. */
typedef struct {
    int ok;              /* the token is good and names an agent */
    int unavailable;     /* no keys to check it with (yet): answer 503 */
    const char *name;    /* "ok", pop_jwt_status_name(), "agent_claim" or "unavailable" */
    const char *agent;   /* ok: the agent's CRM id (the agent claim, as text) */
    const char *subject; /* ok: "sub" */
    int64_t exp_s;       /* ok: the token's exp */
} pop_oidc_result_t;
typedef void (*pop_oidc_fn)(void *ctx, const pop_oidc_result_t *r);

/* Verifies the ID token (copied). cb is called exactly once: at once when
 * the keys are at hand, else later from the loop (after a fetch, or after
 * wait_ms). */
void pop_oidc_verify(pop_oidc_t *o, const char *id_token, pop_oidc_fn cb, void *ctx);

/* What the browser needs (GET /v1/auth/config): issuer, client id,
 * endpoints, scopes; NULL until the discovery document was read. Caller
 * owns it. */
json_t *pop_oidc_browser_config(const pop_oidc_t *o);

/* Verifications waiting for keys. */
size_t pop_oidc_waiting(const pop_oidc_t *o);

/* Answers every waiting verification "unavailable", then frees. NULL-safe. */
void pop_oidc_free(pop_oidc_t *o);

#endif
