/* The Dynamics 365 widget (issue 22 item 2; docs/pop.md "The Dynamics
 * widget"): a page for the Channel Integration Framework's panel, an
 * iframe inside the agent's Dynamics 365 app.
 *   GET /apps/dynamics/           the widget (www/dynamics.html): loads the
 *                                 org's msdyn_ciLibrary.js, signs the agent in
 *                                 with OpenID Connect (Entra ID) in a popup
 *                                 (www/oidc.js), follows the pops with the
 *                                 session token in memory (www/popstream.js)
 *   GET /apps/dynamics/signed-in  where the popup lands (the redirect URI):
 *                                 no script; the widget reads the code from
 *                                 it (same origin) and closes it
 * CSP: scripts from pop-service and the org only, connect-src pop-service
 * and the issuer, framed by the org only.
 *
 * Off (no route) while CALLBUS_POP_DYNAMICS_ORG_URL is empty; set, it
 * needs OpenID Connect sign-in (CALLBUS_POP_OIDC_ISSUER): the widget has
 * no other way to sign an agent in. Loop thread only. */
#ifndef POP_DYNAMICS_H
#define POP_DYNAMICS_H

#include "cmn_http.h"
#include "pop_config.h"

#include <stddef.h>

typedef struct pop_dynamics pop_dynamics_t;

/* Borrows http and cfg. *out is NULL (and 0 returned) when the widget is
 * not configured; -1 with err on a bad or half-made configuration (an org
 * URL that is no https://host origin, no OpenID Connect issuer). The
 * caller owns *out (pop_dynamics_free). */
int pop_dynamics_new(cmn_http_t *http, const pop_config_t *cfg, pop_dynamics_t **out, char *err,
                     size_t errsz) __attribute__((warn_unused_result));
/* NULL-safe. */
void pop_dynamics_free(pop_dynamics_t *d);

#endif
