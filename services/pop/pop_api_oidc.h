/* pop-service's sign-in routes for agents and administrators (issue 22
 * item 3; docs/pop.md "Who may sign in"):
 *   GET  /v1/auth/config             what the page needs to sign in (public)
 *   POST /v1/sessions/oidc           {"id_token", "provider_agent_id"?, "extension"?}:
 *                                    the agent's session, as POST /v1/sessions opens it,
 *                                    living until the token's exp + CALLBUS_POP_OIDC_GRACE_S
 *   POST /v1/sessions/oidc/refresh   {"id_token"} with the session: a fresh token of the
 *                                    same agent extends it (no fresh token: it ends)
 *   POST /admin/sessions/revoke      {"agent_crm_id"}, on the admin listener, Bearer
 *                                    provisioning secret: the agent's session and streams end
 * Refusals are 401 {"error": <pop_jwt status name>} and counted in
 * pop_signin_total{method,result}. Loop thread only. */
#ifndef POP_API_OIDC_H
#define POP_API_OIDC_H

#include "cmn_http.h"
#include "pop_api.h"
#include "pop_config.h"
#include "pop_oidc.h"

typedef struct pop_api_oidc pop_api_oidc_t;

/* Borrows everything; oidc NULL: OpenID Connect sign-in off (the routes
 * say so). Adds the public routes to http, the revocation to admin. */
pop_api_oidc_t *pop_api_oidc_new(cmn_http_t *http, cmn_http_t *admin, const pop_config_t *cfg,
                                 pop_api_t *api, pop_oidc_t *oidc);
void pop_api_oidc_free(pop_api_oidc_t *o);

#endif
