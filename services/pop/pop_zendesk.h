/* The Zendesk app's sign-in (issue 22 item 1; apps/zendesk, docs/pop.md):
 * Zendesk posts the app's first page request as a form with `token`, a
 * JWT it signs (RS256) with the app's key pair (manifest signedUrls).
 * pop-service verifies it with the app's public key (pop_jwt), takes the
 * agent from its `sub` (the Zendesk user id IS the agent's CRM id), opens
 * a session exactly as the provisioning login does (pop_session_login)
 * and answers the app's page with the session token in it: the page is a
 * third-party iframe, so no cookie. No secret is typed by anyone.
 *
 * Off (no route) while CALLBUS_POP_ZENDESK_APP_KEY is empty. Loop thread
 * only. */
#ifndef POP_ZENDESK_H
#define POP_ZENDESK_H

#include "cmn_http.h"
#include "pop_config.h"
#include "pop_store.h"

#include <stddef.h>

typedef struct pop_zendesk pop_zendesk_t;

/* Borrows http, cfg and store. *out is NULL (and 0 returned) when the app
 * is not configured; -1 with err on a bad setting (a key that is no PEM
 * nor a readable file of one, a missing URL or installation id). The
 * caller owns *out (pop_zendesk_free). */
int pop_zendesk_new(cmn_http_t *http, const pop_config_t *cfg, pop_store_t *store,
                    pop_zendesk_t **out, char *err, size_t errsz)
    __attribute__((warn_unused_result));
/* Sign-ins waiting for Redis (shutdown waits for them). NULL-safe. */
size_t pop_zendesk_in_flight(const pop_zendesk_t *z);
/* NULL-safe. */
void pop_zendesk_free(pop_zendesk_t *z);

#endif
