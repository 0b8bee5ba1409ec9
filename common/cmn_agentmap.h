/* Provider operator -> CRM agent mapping (R-I3). Configured as a list:
 *   "callgear:101=900001,callgear:102=900002,twilio:alice=900003"
 * (provider, the operator id as the event carries it — Twilio's "client:alice"
 * arrives as "alice"; an id may itself contain ':' — and the CRM user id). A call handled by an
 * unmapped operator is ignored for ticketing downstream; the mapping only states who is who. */
#ifndef CMN_AGENTMAP_H
#define CMN_AGENTMAP_H

#include <stddef.h>

typedef struct cmn_agentmap cmn_agentmap_t;

/* Returns a new map (empty for an empty spec), or NULL with errstr naming
 * the malformed entry. */
cmn_agentmap_t *cmn_agentmap_parse(const char *spec, char *errstr, size_t errsz);
/* Borrowed CRM id, or NULL when the operator is not mapped. */
const char *cmn_agentmap_lookup(const cmn_agentmap_t *m, const char *provider,
                                const char *provider_agent_id);
/* The other way (click-to-call places a call as the agent's operator,
 * issue 24 item 1): the provider's operator id of a CRM agent, borrowed, or
 * NULL when the agent has none at that provider. An agent mapped twice at
 * one provider: the first entry. */
const char *cmn_agentmap_operator(const cmn_agentmap_t *m, const char *provider,
                                  const char *crm_id);
size_t cmn_agentmap_size(const cmn_agentmap_t *m);
void cmn_agentmap_free(cmn_agentmap_t *m);

#endif
