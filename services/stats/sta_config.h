/* The stats service's settings (docs/configuration.md). */
#ifndef STA_CONFIG_H
#define STA_CONFIG_H

#include "cmn_config.h"

typedef struct {
    char *group_id, *instance_id;
    long retention_days, seen_ttl_s, call_ttl_s, metric_agents, max_in_flight, retry_ms,
        max_retry_ms;
} sta_config_t;

extern const cmn_cfg_spec_t sta_config_spec[];
extern const size_t sta_config_spec_len;

#endif
