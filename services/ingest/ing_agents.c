/* R-I3's mapping, one home for ingest and the reconciler (ing_agents.h). */
#include "ing_agents.h"

#include <stddef.h>

int ing_map_agents(const cmn_agentmap_t *map, cmn_event_t *ev)
{
    cmn_agent_t *agents[] = {&ev->agent, &ev->previous_agent};
    int unmapped = 0;
    for (size_t i = 0; i < 2; i++) {
        const char *crm;
        if (!agents[i]->provider_id || agents[i]->crm_id)
            continue;
        crm = cmn_agentmap_lookup(map, ev->provider, agents[i]->provider_id);
        if (!crm) {
            unmapped++;
            continue;
        }
        if (cmn_event_set(&agents[i]->crm_id, crm) < 0)
            return -1;
    }
    return unmapped;
}
