/* pop-service settings table. */
#include "pop_config.h"

#define OFF(f) offsetof(pop_config_t, f)
const cmn_cfg_spec_t pop_config_spec[] = {
    CMN_CFG_SECRET("CALLBUS_POP_PROVISIONING_SECRET", "", OFF(provisioning_secret),
                   "Bearer secret of machine clients (a CTI desktop) that log their agent in "
                   "(POST /v1/sessions) and of administrators revoking sessions (POST "
                   "/admin/sessions/revoke); never asked of an agent, who signs in through "
                   "CALLBUS_POP_OIDC_ISSUER; empty: neither (R-P1)."),
    CMN_CFG_SECRET("CALLBUS_POP_PROVISIONING_SECRET_PREVIOUS", "",
                   OFF(provisioning_secret_previous),
                   "During a rotation: the provisioning secret being replaced, accepted too; "
                   "empty: none."),
    CMN_CFG_NUM("CALLBUS_POP_SESSION_TTL_S", "120", 10, 86400, OFF(session_ttl_s),
                "An agent session without a heartbeat for this long expires (R-P1)."),
    CMN_CFG_NUM("CALLBUS_POP_HISTORY", "200", 10, 100000, OFF(history),
                "Pops kept per agent, for a browser that reconnects with Last-Event-ID (R-P5)."),
    CMN_CFG_NUM("CALLBUS_POP_RETENTION_S", "86400", 60, 2592000, OFF(retention_s),
                "How long a call's pop state and an agent's kept pops live in Redis."),
    CMN_CFG_NUM("CALLBUS_POP_KEEPALIVE_S", "15", 1, 300, OFF(keepalive_s),
                "A comment line is sent on an idle stream this often (proxies, dead clients)."),
    CMN_CFG_NUM("CALLBUS_POP_MAX_STREAMS", "10000", 1, 1000000, OFF(max_streams),
                "Open pop streams this replica serves; more are answered 503."),
    CMN_CFG_NUM("CALLBUS_POP_MAX_STREAMS_PER_SESSION", "4", 1, 1000, OFF(max_per_session),
                "Open pop streams of one session (tabs) on this replica; one more ends the "
                "session's oldest (told 'replaced'), as a reload wants."),
    CMN_CFG_NUM("CALLBUS_POP_MAX_STREAMS_PER_AGENT", "8", 1, 1000, OFF(max_per_agent),
                "Open pop streams of one agent, whatever the session, on this replica; one more "
                "ends the agent's oldest."),
    CMN_CFG_NUM("CALLBUS_POP_SESSION_CHECK_S", "30", 1, 3600, OFF(session_check_s),
                "An open stream looks this often whether its session still lives; a session "
                "revoked without an announcement (its Redis key deleted) ends its streams within "
                "it. Expiry ends them when the session's TTL runs out."),
    CMN_CFG_NUM("CALLBUS_POP_STREAM_BUFFER_KB", "256", 16, 65536, OFF(stream_buffer_kb),
                "Unread bytes a slow client may hold; past it its stream ends (it reconnects and "
                "catches up)."),
    CMN_CFG_STR("CALLBUS_POP_NEW_CASE_URL", "", OFF(new_case_url),
                "The CRM's new-case form, popped when the caller is no known customer (R-P3); "
                "{phone}; empty: the pop has no URL."),
    CMN_CFG_FLAG("CALLBUS_POP_COOKIE_SECURE", "false", OFF(cookie_secure),
                 "Mark the session cookie Secure (set it when the agent page is served over "
                 "HTTPS)."),
    CMN_CFG_STR("CALLBUS_POP_GROUP", "pop", OFF(group_id),
                "Kafka consumer group of pop-service replicas."),
    CMN_CFG_STR("CALLBUS_KAFKA_INSTANCE_ID", "", OFF(instance_id),
                "Static group membership id (the pod name); empty: dynamic membership."),
    CMN_CFG_NUM("CALLBUS_POP_MAX_IN_FLIGHT", "10000", 10, 1000000, OFF(max_in_flight),
                "Events fetched and not yet popped before fetching pauses."),
    CMN_CFG_STR("CALLBUS_POP_LOOKUP_URL", "", OFF(lookup_url),
                "ticket-service's IVR API (http://host:port, in-cluster): the ringing notice's "
                "contact fields come from its cached look-up (R-P2); empty: ringing shows only "
                "what the call's events said."),
    CMN_CFG_SECRET("CALLBUS_POP_LOOKUP_TOKEN", "", OFF(lookup_token),
                   "ticket-service's CALLBUS_IVR_TOKEN, for CALLBUS_POP_LOOKUP_URL."),
    CMN_CFG_NUM("CALLBUS_POP_LOOKUP_WAIT_MS", "20", 0, 1000, OFF(lookup_wait_ms),
                "How long a ringing notice waits for the caller's contact; past it, it goes "
                "without (a later answer still reaches the answer's pop)."),
    CMN_CFG_NUM("CALLBUS_POP_LOOKUP_TIMEOUT_MS", "2000", 100, 30000, OFF(lookup_timeout_ms),
                "A contact look-up unanswered this long is given up."),
    CMN_CFG_STR("CALLBUS_POP_ZENDESK_APP_KEY", "", OFF(zendesk_app_key),
                "The Zendesk app's public key (PEM, or the path of a file holding it; Zendesk: GET "
                "/api/v2/apps/{app_id}/public_key.pem): agents open their session from the app's "
                "signed request (POST /apps/zendesk/); empty: the app's route is off."),
    CMN_CFG_STR("CALLBUS_POP_ZENDESK_URL", "", OFF(zendesk_url),
                "The Zendesk account's URL (https://acme.zendesk.com): the signed request's issuer "
                "and the only page that may frame the app."),
    CMN_CFG_STR("CALLBUS_POP_ZENDESK_INSTALLATION_ID", "", OFF(zendesk_installation_id),
                "The app's installation id in that account: the signed request's audience."),
    CMN_CFG_STR("CALLBUS_POP_ZENDESK_SDK_URL",
                "https://static.zdassets.com/zendesk_app_framework_sdk/2.0/zaf_sdk.min.js",
                OFF(zendesk_sdk_url),
                "The Zendesk Apps Framework SDK the app's page loads (the only other script it "
                "may run)."),
    CMN_CFG_STR("CALLBUS_POP_DYNAMICS_ORG_URL", "", OFF(dynamics_org_url),
                "The Dynamics 365 org (https://<org>.crm.dynamics.com) whose Channel Integration "
                "Framework panel frames the widget GET /apps/dynamics/: its msdyn_ciLibrary.js is "
                "the widget's only other script; needs CALLBUS_POP_OIDC_ISSUER (agents sign in "
                "with Entra ID); empty: the widget's route is off."),
    CMN_CFG_NUM("CALLBUS_POP_ACK_TIMEOUT_MS", "3000", 200, 600000, OFF(ack_timeout_ms),
                "A pop the agent's page (or CRM app) has not acknowledged (POST /v1/pops/ack) "
                "this long after it was delivered goes through the CRM's own channel and is "
                "counted (R-P5, issue 22 item 4)."),
    CMN_CFG_NUM("CALLBUS_POP_ACK_SWEEP_MS", "300", 50, 10000, OFF(ack_sweep_ms),
                "Every replica looks for overdue unacknowledged pops this often; a fallback "
                "is thus sent between the timeout and the timeout plus this."),
    CMN_CFG_NUM("CALLBUS_POP_FALLBACK_GIVE_UP_S", "300", 30, 86400, OFF(fallback_give_up_s),
                "A fallback Kafka has not stored this long after the pop's delivery is dropped "
                "(logged, pop_fallback_total{result=\"dropped\"})."),
    CMN_CFG_STR("CALLBUS_POP_OIDC_ISSUER", "", OFF(oidc_issuer),
                "OpenID Connect issuer agents sign in with (https://..., exactly the ID tokens' "
                "\"iss\"; its /.well-known/openid-configuration is read); empty: OpenID Connect "
                "sign-in off."),
    CMN_CFG_STR("CALLBUS_POP_OIDC_CLIENT_ID", "", OFF(oidc_client_id),
                "The agent page's client id at the issuer (a public client: authorization code + "
                "PKCE); ID tokens must name it in \"aud\"."),
    CMN_CFG_STR("CALLBUS_POP_OIDC_AGENT_CLAIM", "sub", OFF(oidc_agent_claim),
                "The ID-token claim whose value is the agent's CRM id (a string or number claim; "
                "docs/pop.md \"Who may sign in\")."),
    CMN_CFG_STR("CALLBUS_POP_OIDC_SCOPES", "openid profile offline_access", OFF(oidc_scopes),
                "Scopes the page asks for (offline_access: a refresh token, so the session is "
                "extended while the provider still lets the agent in)."),
    CMN_CFG_NUM("CALLBUS_POP_OIDC_GRACE_S", "60", 0, 3600, OFF(oidc_grace_s),
                "A session opened with an ID token lives until the token's exp plus this, "
                "unless a fresh token of the same agent extends it."),
    CMN_CFG_NUM("CALLBUS_POP_OIDC_KEYS_REFRESH_S", "3600", 10, 86400, OFF(oidc_keys_refresh_s),
                "The issuer's discovery document and keys are fetched again this often."),
    CMN_CFG_NUM("CALLBUS_POP_OIDC_KEYS_MIN_INTERVAL_S", "30", 0, 3600,
                OFF(oidc_keys_min_interval_s),
                "A token signed by an unknown key makes the keys be fetched again, at most once "
                "in this long (a flood of forged kids costs the issuer nothing)."),
    CMN_CFG_NUM("CALLBUS_POP_OIDC_WAIT_MS", "3000", 0, 30000, OFF(oidc_wait_ms),
                "A sign-in while the issuer's keys are not loaded waits this long for them, then "
                "is answered 503."),
    CMN_CFG_CHOICE("CALLBUS_POP_DIAL_PROVIDER", "", "|callgear|twilio", OFF(dial_provider),
                   "Click-to-call (POST /v1/calls): the telephony provider whose API places an "
                   "agent's call (CallGear Call API start.employee_call, Twilio Calls resource); "
                   "empty: off (issue 24)."),
    CMN_CFG_STR(
        "CALLBUS_POP_DIAL_API_URL", "", OFF(dial_api_url),
        "The provider's API base; empty: the public one (https://callapi.callgear.com/v4.0, "
        "https://api.twilio.com). https, or http to this machine only (an emulator)."),
    CMN_CFG_STR("CALLBUS_POP_DIAL_CALLER_ID", "", OFF(dial_caller_id),
                "The number the customer sees (E.164): CallGear's virtual number, Twilio's From."),
    CMN_CFG_SECRET("CALLBUS_POP_DIAL_TOKEN", "", OFF(dial_token),
                   "The provider's secret: CallGear's Call API access token; Twilio's auth token "
                   "(or the API key's secret with CALLBUS_POP_DIAL_KEY_SID)."),
    CMN_CFG_STR("CALLBUS_POP_DIAL_ACCOUNT", "", OFF(dial_account),
                "Twilio: the Account SID (AC...) the calls are placed in."),
    CMN_CFG_STR("CALLBUS_POP_DIAL_KEY_SID", "", OFF(dial_key_sid),
                "Twilio: an API key's SID (SK...) to authenticate with instead of the account's "
                "auth token; empty: the Account SID."),
    CMN_CFG_STR("CALLBUS_POP_DIAL_STATUS_CALLBACK_URL", "", OFF(dial_status_callback),
                "Twilio: ingest's voice-status route as Twilio reaches it "
                "(CALLBUS_INGEST_PUBLIC_URL + /v1/twilio/voice-status); the ticket, the "
                "customer and the agent's Client are added as ?ticket_id=&customer=&client= "
                "(R-O1)."),
    /* as ingest's: click-to-call places the call as the agent's operator */
    CMN_AGENTDIR_CFG_SPEC(OFF(agents)),
    CMN_CFG_NUM("CALLBUS_POP_DIAL_PER_MIN", "60", 1, 100000, OFF(dial_per_min),
                "Calls pop-service places through the provider per minute, at most (a token "
                "bucket); past it the agent is answered 429 with when to try again."),
    CMN_CFG_NUM("CALLBUS_POP_DIAL_BURST", "10", 1, 10000, OFF(dial_burst),
                "Calls that may be placed at once before CALLBUS_POP_DIAL_PER_MIN paces them."),
    CMN_CFG_NUM("CALLBUS_POP_DIAL_TIMEOUT_MS", "10000", 500, 60000, OFF(dial_timeout_ms),
                "An exchange with the provider's API unanswered this long is given up (the "
                "agent is answered 504)."),
    CMN_CFG_STR("CALLBUS_POP_SUPERVISORS", "", OFF(supervisors),
                "CRM agent ids of supervisors, comma-separated: they sign in as agents do and "
                "may also read the statistics (GET /v1/stats, the /supervisor page); an agent "
                "not listed is answered 403; empty: nobody reads them."),
    CMN_CFG_NUM("CALLBUS_STATS_MAX_DAYS", "366", 1, 3660, OFF(stats_max_days),
                "The longest range of UTC days GET /v1/stats answers (one Redis read per day); "
                "longer: 400."),
};
const size_t pop_config_spec_len = sizeof pop_config_spec / sizeof pop_config_spec[0];
