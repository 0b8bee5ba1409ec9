/* ticket-service's settings (docs/configuration.md) and how they become
 * the rules' policy, the batch's and the adapter's configuration. */
#ifndef TKT_CONFIG_H
#define TKT_CONFIG_H

#include "cmn_config.h"
#include "crm_provider.h"
#include "tkt_batch.h"
#include "tkt_mirror.h"
#include "tkt_rules.h"

#include <stdint.h>
#include <stdio.h>
#include <sys/time.h>

typedef struct {
    char *crm; /* a provider's name (crm_provider.h); its own settings are its own */
    long crm_rate_limit, crm_timeout_ms;
    long crm_time_scale; /* benchmarks: the CRM's rate windows this many times shorter */
    int crm_allow_plain_http;
    char *lookup_form;
    long batch_window_s;
    int batch_comments, batch_updates, batch_creations, batch_status_reads;
    char *transfer_policy, *unanswered;
    int reuse, reuse_open_case, abandoned_tickets, outbound_unattached_closed;
    int crm_display; /* also pop the ticket through the CRM's telephony API (Zendesk Talk) */
    int crm_events;  /* consume crm-events (issue 25 item 2) */
    long crm_events_fresh_s;
    int contact_mirror; /* issue 26 item 3 */
    long mirror_fresh_s, mirror_interval_s, mirror_create_wait_ms, mirror_min_gap_ms,
        mirror_lease_s;
    int pop_fallback; /* display pop-service's unacknowledged pops through that API */
    char *default_assignee;
    char *subject_call, *subject_voicemail, *subject_missed, *subject_outbound, *subject_split_idle;
    char *fields;
    long max_call_age_s;
    long sweep_time_scale; /* tests: the stale-call sweep's timers this many times shorter */
    long retry_limit_s;    /* a transient failure this old is dead-lettered */
    long usage_interval_s; /* CRM usage records on crm-usage (R-S1, issue 25 item 3) */
    char *instance_id;
    char *group_id;
    long max_in_flight, max_in_flight_per_partition, max_active, max_active_per_key, waiting_max_mb;
    char *ivr_token;
    char *ivr_token_previous; /* during a rotation; empty: none */
    long ivr_deadline_ms, ivr_cache_s;
    char *ivr_lookup_case; /* latest_unresolved | latest (R-V1) */
} tkt_config_t;

extern const cmn_cfg_spec_t tkt_config_spec[];
extern const size_t tkt_config_spec_len;

/* Fills the policy from the settings; -1 with errstr for a bad field map. */
int tkt_config_policy(const tkt_config_t *c, tkt_policy_t *pol, char *errstr, size_t errsz);
/* The stale-call sweep (docs/ticket-service.md, "Calls that never end"):
 * how often it runs (TKT_SWEEP_EVERY_MS) and how old a call with no end
 * must be, both divided by CALLBUS_TICKET_SWEEP_TIME_SCALE. */
#define TKT_SWEEP_EVERY_MS 30000L
void tkt_config_sweep(const tkt_config_t *c, struct timeval *every, int64_t *max_call_age_ms);
/* The contact mirror's settings (tkt_mirror.h); the CRM's export limit
 * divided by CALLBUS_CRM_TIME_SCALE like its other windows. */
void tkt_config_mirror(const tkt_config_t *c, tkt_mirror_cfg_t *out);
/* ticket_write_limit: the CRM's (crm_provider_t). */
void tkt_config_batch(const tkt_config_t *c, int ticket_write_limit, tkt_batch_cfg_t *out);
/* What these settings ask of whichever CRM runs; strings borrowed from c. */
void tkt_config_crm(const tkt_config_t *c, cmn_phone_lookup_t form, const cmn_country_t *country,
                    crm_shared_cfg_t *out);

#endif
