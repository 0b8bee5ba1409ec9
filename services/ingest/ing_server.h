/* ingest's HTTP side: one route per provider; authenticate, normalise,
 * publish to call-events (the CRMs' routes: to crm-events), and answer 202 only once Kafka's
 * delivery report says every event of the request is stored. Authenticated payloads that cannot be
 * normalised are kept on call-events.dlq before the 4xx goes out. */
#ifndef ING_SERVER_H
#define ING_SERVER_H

#include "cmn_agentdir.h"
#include "cmn_http.h"
#include "cmn_metrics.h"
#include "cmn_phone.h"
#include "cmn_producer.h"

typedef struct {
    char *callgear_token;        /* empty: CallGear route answers 404 */
    char *callgear_token_header; /* empty: token is a path segment */
    char *twilio_auth_token;
    char *public_url; /* base URL providers post to, for Twilio's signature */
    char *webex_bearer;
    char *generic_secret;
    /* the secrets being rotated out, still accepted; empty: none */
    char *callgear_token_previous;
    char *twilio_auth_token_previous;
    char *webex_bearer_previous;
    char *generic_secret_previous;
    long generic_tolerance_s;
    /* CRM events in (issue 25 item 1); empty: the route answers 404 */
    char *zendesk_webhook_secret;
    char *zendesk_webhook_secret_previous;
    long zendesk_tolerance_s;
    char *dynamics_webhook_key;
    char *dynamics_webhook_key_previous;
    cmn_agentdir_cfg_t agents; /* R-I3, cmn_agentdir.h */
    long kafka_message_timeout_ms;
    long kafka_queue_max;
    long retry_after_s;
    /* How each provider writes numbers without '+' (cmn_phone_format_parse
     * names) and where its offset-less times are (issue 9). */
    char *callgear_number_format;
    char *twilio_number_format;
    char *webex_number_format;
    char *generic_number_format; /* generic and TVox */
    long internal_max_digits;
    char *callgear_time_zone;
} ing_config_t;

/* Providers whose secret has a *_PREVIOUS setting (previous_secret_used). */
enum {
    PREV_CALLGEAR,
    PREV_TWILIO,
    PREV_WEBEX,
    PREV_GENERIC,
    PREV_ZENDESK,
    PREV_DYNAMICS,
    PREV_PROVIDERS
};

/* The CRMs whose events come in (crm_refused). */
enum { ING_CRM_ZENDESK, ING_CRM_DYNAMICS, ING_CRMS };

typedef struct {
    const ing_config_t *cfg;
    const cmn_country_t *country;
    cmn_producer_t *producer; /* borrowed */
    cmn_agentdir_t *agents;   /* borrowed */
    cmn_metric_t *publish_ms;
    cmn_metric_t *dlq_total;
    cmn_metric_t *too_large_total;
    cmn_metric_t *unmapped_agents;
    /* requests authenticated by a *_PREVIOUS secret, per provider: zero for
     * long enough means the rotation is over */
    cmn_metric_t *previous_secret_used[PREV_PROVIDERS];
    /* CRM posts answered 400: authenticated but unusable (no dead letter:
     * the CRM still has the ticket, a read gets what the event said) */
    cmn_metric_t *crm_refused[ING_CRMS];
} ing_server_t;

/* Registers the routes of the configured providers on `http`; -1 (logged)
 * when a provider setting cannot be used (an unknown time zone). */
int ing_server_routes(ing_server_t *srv, cmn_http_t *http) __attribute__((warn_unused_result));

#endif
