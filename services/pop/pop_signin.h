/* Every way an agent's session is opened or extended, counted in one
 * metric family so an operator sees them side by side:
 * pop_signin_total{method, result}. method: "secret" (a machine client's
 * provisioning secret), "oidc", "oidc_refresh" (the identity provider's
 * ID token), "zendesk" (the Zendesk app's signed request); result: "ok" or
 * why not (a pop_jwt status name, "refused", "subject"...). Event-loop
 * thread. */
#ifndef POP_SIGNIN_H
#define POP_SIGNIN_H

void pop_signin_count(const char *method, const char *result);

#endif
