/* Who is a supervisor (issue 25 item 3): a signed-in agent whose CRM id
 * is in CALLBUS_POP_SUPERVISORS. A supervisor signs in exactly as an
 * agent does (OpenID Connect, or a machine client with the provisioning
 * secret); only what the session's agent may read differs: the
 * statistics (GET /v1/stats, the /supervisor page). Decided at each
 * request from the setting, so nothing about it is kept in the session.
 * Pure; any thread. */
#ifndef POP_SUPERVISOR_H
#define POP_SUPERVISOR_H

/* 1 when crm_id is one of list's comma-separated ids (spaces around an
 * id ignored), else 0; an empty crm_id is nobody. */
int pop_supervisor_is(const char *list, const char *crm_id);

#endif
