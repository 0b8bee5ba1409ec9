/* The Microsoft Entra ID access token Dynamics 365 takes (OAuth 2.0 client
 * credentials: POST <authority>/<tenant>/oauth2/v2.0/token with
 * grant_type=client_credentials, client_id, client_secret and
 * scope=<org URL>/.default), cached and shared by every request, on the
 * process' libevent loop through crm_curl.
 *
 * - One fetch at a time: callers asking while it runs wait for it.
 * - Refreshed in the background before it expires (refresh_margin_s, at
 *   most half its lifetime), so requests do not wait for a new one.
 * - A 401 from Dataverse (token revoked or expired early) drops that token
 *   and the request is sent once more with a fresh one
 *   (crm_dyn_token_request); a second 401 is the caller's to handle (the
 *   credentials are wrong: /readyz fails, work is held).
 * - A failed fetch with no usable token fails the callers asking in the
 *   next 1 s (doubling per failure up to 30 s) with its error, without a
 *   new fetch: a token endpoint that is down or refuses us is not asked
 *   again for every request.
 * - The secret never appears in a log line or an error text. */
#ifndef CRM_DYN_TOKEN_H
#define CRM_DYN_TOKEN_H

#include "crm_curl.h"

#include <event2/event.h>
#include <stddef.h>

#define CRM_DYN_TOKEN_MAX 8192 /* Entra access tokens are JWTs of 1-3 KB; refuse more */

typedef struct crm_dyn_token crm_dyn_token_t;

typedef struct {
    /* <authority>/<tenant>/oauth2/v2.0/token (crm_dyn_token_url). */
    const char *token_url;
    const char *client_id;
    const char *client_secret;
    const char *scope;     /* "https://org.crm.dynamics.com/.default" */
    long refresh_margin_s; /* refresh this long before expiry; 0 = 300 */
    long timeout_ms;       /* one token request; 0 = 10 s */
} crm_dyn_token_conf_t;

/* "<authority>/<tenant>/oauth2/v2.0/token"; the tenant is a GUID or a
 * domain name ([A-Za-z0-9.-]). 0, or -1 when it is not or out is too small. */
int crm_dyn_token_url(const char *authority, const char *tenant, char *out, size_t outsz)
    __attribute__((warn_unused_result));

/* Parses a token endpoint answer. Success (200): token_type Bearer,
 * access_token (printable ASCII, < CRM_DYN_TOKEN_MAX) into token,
 * expires_in (seconds, a number or a numeric string, 1..86400). An error
 * answer: -1 with errstr "<error>: <error_description>" (bounded). */
int crm_dyn_token_parse(const char *body, size_t len, char *token, size_t tokensz, long *expires_in,
                        char *errstr, size_t errsz) __attribute__((warn_unused_result));

/* A new cache; conf's strings are copied. `base` and `curl` are borrowed
 * and must outlive the cache. NULL on a bad conf or no memory. */
crm_dyn_token_t *crm_dyn_token_new(struct event_base *base, crm_curl_t *curl,
                                   const crm_dyn_token_conf_t *conf);

/* `authorization` is the header line to send ("Authorization: Bearer ...",
 * borrowed for the call) or NULL with `error` saying why none is to be had. */
typedef void (*crm_dyn_token_fn)(void *ctx, const char *authorization, const char *error);

/* Asks for the current token. 0 = accepted: cb runs once, from the loop
 * (never inside this call); -1 = refused (no memory, shutting down). */
int crm_dyn_token_get(crm_dyn_token_t *t, crm_dyn_token_fn cb, void *ctx)
    __attribute__((warn_unused_result));

/* The token in `authorization` was refused with a 401: forget it unless a
 * newer one has replaced it already (so that many requests refused with
 * the same old token cause one fetch, not many). */
void crm_dyn_token_invalidate(crm_dyn_token_t *t, const char *authorization);

/* crm_curl_request with the token added; on a 401, the token is dropped
 * and the request sent once more with a new one. The request is copied
 * (as crm_curl_request does); it must not carry Basic credentials. cb runs
 * exactly once: the last answer, or status 0 with the token's error. */
int crm_dyn_token_request(crm_dyn_token_t *t, const crm_curl_req_t *req, crm_curl_done_fn cb,
                          void *ctx) __attribute__((warn_unused_result));

/* Token requests made so far (tests, metrics). */
size_t crm_dyn_token_fetches(const crm_dyn_token_t *t);

/* Frees the cache; callers still waiting get error "shut down". Free the
 * crm_curl client first: that cancels a fetch in flight, whose callback
 * needs the cache. NULL is fine. */
void crm_dyn_token_free(crm_dyn_token_t *t);

#endif
