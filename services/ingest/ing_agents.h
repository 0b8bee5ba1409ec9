/* The provider's agent ids of an event mapped to CRM agents (R-I3,
 * CALLBUS_AGENT_MAP): what ingest does to every event before publishing it,
 * and callbus-reconcile to every event it backfills. Pure (no I/O). */
#ifndef ING_AGENTS_H
#define ING_AGENTS_H

#include "cmn_agentmap.h"
#include "cmn_event.h"

/* Sets agent.crm_id and previous_agent.crm_id from the map where the event
 * names the provider's agent and has no CRM id yet. Returns how many named
 * agents the map does not know (ticketing ignores them, R-I3), or -1 out of
 * memory. `map` is borrowed. */
int ing_map_agents(const cmn_agentmap_t *map, cmn_event_t *ev) __attribute__((warn_unused_result));

#endif
