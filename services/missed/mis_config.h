/* The grouper's settings (docs/configuration.md) and its policy. */
#ifndef MIS_CONFIG_H
#define MIS_CONFIG_H

#include "cmn_config.h"
#include "mis_rules.h"

typedef struct {
    char *group_id, *instance_id;
    int abandoned;
    char *hours, *timezone, *holidays;
    long state_ttl_s, max_in_flight, retry_ms;
} mis_config_t;

extern const cmn_cfg_spec_t mis_config_spec[];
extern const size_t mis_config_spec_len;

/* Returns 0, or -1 with the reason in err (working hours that do not parse). */
int mis_config_policy(const mis_config_t *c, mis_policy_t *pol, char *err, size_t errsz)
    __attribute__((warn_unused_result));

#endif
