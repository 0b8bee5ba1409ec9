/* The grouper's settings table (mis_config.h). */
#include "mis_config.h"

#include <stddef.h>

#define OFF(f) offsetof(mis_config_t, f)

const cmn_cfg_spec_t mis_config_spec[] = {
    CMN_CFG_STR("CALLBUS_MISSED_GROUP", "missed", OFF(group_id),
                "Kafka consumer group of the grouper's replicas."),
    CMN_CFG_STR("CALLBUS_KAFKA_INSTANCE_ID", "", OFF(instance_id),
                "Static group membership id (the pod name); empty: dynamic membership."),
    CMN_CFG_FLAG("CALLBUS_MISSED_ABANDONED", "true", OFF(abandoned),
                 "Group calls abandoned before an agent was offered them (R-M1)."),
    CMN_CFG_STR("CALLBUS_MISSED_HOURS", "", OFF(hours),
                "Working hours (R-M4), e.g. `mon-fri 09:00-18:00, sat 09:00-13:00`; an end not "
                "after its start runs past midnight; empty: always."),
    CMN_CFG_STR("CALLBUS_MISSED_TIMEZONE", "UTC", OFF(timezone),
                "IANA time zone of the working hours and holidays (DST included)."),
    CMN_CFG_STR("CALLBUS_MISSED_HOLIDAYS", "", OFF(holidays),
                "Local dates without working hours, e.g. `2026-12-25,2026-12-26`."),
    CMN_CFG_NUM("CALLBUS_MISSED_STATE_TTL_S", "2592000", 3600, 31536000, OFF(state_ttl_s),
                "How long a customer's group and calls are kept in Redis untouched."),
    CMN_CFG_NUM("CALLBUS_MISSED_MAX_IN_FLIGHT", "10000", 10, 1000000, OFF(max_in_flight),
                "Events fetched and not yet done before fetching pauses."),
    CMN_CFG_NUM("CALLBUS_MISSED_RETRY_MS", "500", 10, 60000, OFF(retry_ms),
                "Wait before an event whose Redis or Kafka step failed is tried again."),
};
const size_t mis_config_spec_len = sizeof mis_config_spec / sizeof mis_config_spec[0];

int mis_config_policy(const mis_config_t *c, mis_policy_t *pol, char *err, size_t errsz)
{
    mis_policy_defaults(pol);
    pol->abandoned = c->abandoned;
    return mis_hours_parse(&pol->hours, c->hours, c->timezone, c->holidays, err, errsz);
}
