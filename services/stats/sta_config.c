/* The stats service's settings table (sta_config.h). */
#include "sta_config.h"

#include <stddef.h>

#define OFF(f) offsetof(sta_config_t, f)

const cmn_cfg_spec_t sta_config_spec[] = {
    CMN_CFG_STR("CALLBUS_STATS_GROUP", "stats", OFF(group_id),
                "Kafka consumer group of the stats service's replicas (its own: it never slows the "
                "call path)."),
    CMN_CFG_STR("CALLBUS_KAFKA_INSTANCE_ID", "", OFF(instance_id),
                "Static group membership id (the pod name); empty: dynamic membership."),
    CMN_CFG_NUM("CALLBUS_STATS_RETENTION_DAYS", "400", 1, 3650, OFF(retention_days),
                "Days a day's figures are kept after the day's end (EXPIRE on `stats:d:<day>`); "
                "a ticket's state for R-S2 as long."),
    CMN_CFG_NUM("CALLBUS_STATS_SEEN_TTL_S", "86400", 3600, 31536000, OFF(seen_ttl_s),
                "How long the id of a CRM event, missed-call op, pop or acknowledgement is "
                "remembered, so that one republished at a new offset (pop-service's replay, a "
                "webhook re-posted) counts once; a re-read of old offsets is the offset "
                "guard's, whatever this says."),
    CMN_CFG_NUM("CALLBUS_STATS_CALL_TTL_S", "604800", 3600, 31536000, OFF(call_ttl_s),
                "How long a call's state (queue, agent, offers) waits for its end."),
    CMN_CFG_NUM("CALLBUS_STATS_METRIC_AGENTS", "500", 0, 100000, OFF(metric_agents),
                "Distinct agents given their own `agent` label on /metrics; the rest are "
                "`other`."),
    CMN_CFG_NUM("CALLBUS_STATS_MAX_IN_FLIGHT", "10000", 10, 1000000, OFF(max_in_flight),
                "Messages fetched and not yet applied before fetching pauses."),
    CMN_CFG_NUM("CALLBUS_STATS_RETRY_MS", "200", 10, 60000, OFF(retry_ms),
                "First wait before a message whose Redis step failed is tried again (doubled "
                "per failure)."),
    CMN_CFG_NUM("CALLBUS_STATS_MAX_RETRY_MS", "5000", 10, 600000, OFF(max_retry_ms),
                "Longest wait between two tries of a message (Redis down)."),
};
const size_t sta_config_spec_len = sizeof sta_config_spec / sizeof sta_config_spec[0];
