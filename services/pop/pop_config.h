/* pop-service settings (the cmn_config table; docs/configuration.md). */
#ifndef POP_CONFIG_H
#define POP_CONFIG_H

#include "cmn_agentdir.h"
#include "cmn_config.h"

#include <stddef.h>

typedef struct {
    char *provisioning_secret; /* what may log agents in (Bearer); empty: nobody can */
    long session_ttl_s;        /* a session without heartbeat expires after this */
    long history;              /* pops kept per agent for reconnects (Last-Event-ID) */
    long retention_s;          /* how long a call's pop state and an agent's pops are kept */
    long keepalive_s;          /* comment line on idle streams */
    long max_streams;          /* open streams on this replica; more: 503 */
    long session_check_s;      /* a stream looks whether its session still lives this often */
    long max_per_session;      /* open streams of one session on this replica; past: oldest ends */
    long max_per_agent;        /* the same per agent */
    long stream_buffer_kb;     /* unread bytes a slow client may hold before its stream ends */
    char *new_case_url;        /* R-P3 no customer: the CRM's new-case form; {phone} */
    int cookie_secure;         /* the session cookie's Secure flag (behind TLS) */
    char *group_id;            /* Kafka consumer group */
    char *instance_id;         /* static membership (the pod name); empty: dynamic */
    long max_in_flight;
    char *lookup_url;    /* ticket-service's IVR API (http://host:port); empty: no look-up */
    char *lookup_token;  /* its CALLBUS_IVR_TOKEN */
    long lookup_wait_ms; /* the ringing notice waits this long for the contact, at most */
    long lookup_timeout_ms;
    /* provisioning_secret's previous value, accepted too during a rotation;
     * empty: none. */
    char *provisioning_secret_previous;
    /* The Zendesk app (issue 22 item 1, pop_zendesk.h): its public key (PEM
     * or a file of it; empty: the app route is off), the account's URL, the
     * installation's id, the ZAF SDK the page loads. */
    char *zendesk_app_key, *zendesk_url, *zendesk_installation_id, *zendesk_sdk_url;
    /* The Dynamics 365 widget (issue 22 item 2, pop_dynamics.h): the org's
     * URL (its CIF library, the page framing the widget); empty: off. */
    char *dynamics_org_url;
    /* Acknowledged pops (issue 22 item 4, docs/pop.md "Acknowledgements"). */
    long ack_timeout_ms;     /* a pop not acknowledged this long after delivery falls back */
    long ack_sweep_ms;       /* every replica looks for overdue pops this often */
    long fallback_give_up_s; /* a fallback Kafka would not take this long is dropped, counted */
    /* OpenID Connect sign-in of agents (pop_oidc, pop_api_oidc); issuer
     * empty: off. */
    char *oidc_issuer, *oidc_client_id, *oidc_agent_claim, *oidc_scopes;
    long oidc_grace_s;             /* session lives to the ID token's exp + this */
    long oidc_keys_refresh_s;      /* keys refetched this often */
    long oidc_keys_min_interval_s; /* an unknown kid refetches at most this often */
    long oidc_wait_ms;             /* a sign-in waits this long for keys not yet loaded */
    /* Click-to-call (issue 24 item 1, pop_dial.h): the provider ("" off),
     * its account and secrets, the agents' operator ids, the bucket. */
    char *dial_provider, *dial_api_url, *dial_caller_id, *dial_token, *dial_account, *dial_key_sid,
        *dial_status_callback;
    cmn_agentdir_cfg_t agents; /* R-I3, cmn_agentdir.h */
    long dial_per_min, dial_burst, dial_timeout_ms;
    /* Statistics (issue 25 item 3, pop_api_stats.h): the CRM agent ids
     * that may read them, comma-separated; the longest range asked. */
    char *supervisors;
    long stats_max_days;
} pop_config_t;

extern const cmn_cfg_spec_t pop_config_spec[];
extern const size_t pop_config_spec_len;

#endif
