/* ticket-service settings table. */
#include "tkt_config.h"

#include <stdio.h>
#include <string.h>

#define OFF(f) offsetof(tkt_config_t, f)
const cmn_cfg_spec_t tkt_config_spec[] = {
    /* Each CRM's own settings (CALLBUS_ZENDESK_*, CALLBUS_DYNAMICS_*) are in
     * its provider (crm/crm_provider.c's table). */
    CMN_CFG_CHOICE("CALLBUS_CRM", "zendesk", CRM_PROVIDER_NAMES, OFF(crm),
                   "The CRM: Zendesk Support, or Microsoft Dynamics 365 (docs/dynamics.md)."),
    CMN_CFG_NUM("CALLBUS_CRM_RATE_LIMIT", "0", 0, 100000, OFF(crm_rate_limit),
                "Requests per the CRM's window (R-B5); 0: the CRM's documented limit (Zendesk "
                "700 per minute; set the plan's, Team 200 ... Enterprise Plus 2500; Dynamics "
                "6,000 per 5 minutes per user)."),
    CMN_CFG_NUM("CALLBUS_CRM_TIME_SCALE", "1", 1, 60, OFF(crm_time_scale),
                "Benchmarks only: the CRM's rate windows (a minute, a ticket's 10 minutes) run "
                "this many times faster, against an emulator with the same time_scale."),
    CMN_CFG_FLAG("CALLBUS_CRM_ALLOW_PLAIN_HTTP", "false", OFF(crm_allow_plain_http),
                 "Allow a plain http:// CRM URL on another host (the demo compose's emulator "
                 "container only: the API token would travel unencrypted)."),
    CMN_CFG_NUM("CALLBUS_CRM_TIMEOUT_MS", "10000", 500, 120000, OFF(crm_timeout_ms),
                "Timeout of one CRM request."),
    CMN_CFG_CHOICE("CALLBUS_CRM_LOOKUP_FORM", "digits", "e164|digits|national", OFF(lookup_form),
                   "How a number is searched in the CRM (R-I2): +39..., 39..., or national 0..."),
    CMN_CFG_NUM("CALLBUS_TICKET_BATCH_WINDOW_S", "10", 1, 60, OFF(batch_window_s),
                "Batch window of comments and updates (R-B2)."),
    CMN_CFG_FLAG("CALLBUS_TICKET_BATCH_COMMENTS", "true", OFF(batch_comments),
                 "Send comments through the batched flush (R-B1)."),
    CMN_CFG_FLAG("CALLBUS_TICKET_BATCH_UPDATES", "true", OFF(batch_updates),
                 "Send assignment/ticket updates through the batched flush (R-B1)."),
    CMN_CFG_FLAG("CALLBUS_TICKET_BATCH_CREATIONS", "true", OFF(batch_creations),
                 "Create contacts and tickets no agent waits for (missed, abandoned, voicemail, "
                 "closed) in bulk, once per batch window (issue 12)."),
    CMN_CFG_FLAG("CALLBUS_TICKET_BATCH_STATUS_READS", "true", OFF(batch_status_reads),
                 "Read the status of a ticket to reuse (R-T2) with the window's show_many when "
                 "no agent waits on the event; at once when one does (issue 12)."),
    CMN_CFG_CHOICE("CALLBUS_TICKET_TRANSFER_POLICY", "reassign", "reassign|split",
                   OFF(transfer_policy),
                   "On transfer: reassign the ticket, or a ticket per leg (R-T4)."),
    CMN_CFG_CHOICE(
        "CALLBUS_TICKET_UNANSWERED", "direct", "direct|grouper", OFF(unanswered),
        "Missed/abandoned calls: ticket here (direct), or left to the missed-call grouper."),
    CMN_CFG_FLAG("CALLBUS_TICKET_REUSE", "true", OFF(reuse),
                 "Add a call to the customer's open ticket of the same menu selection (R-T2)."),
    CMN_CFG_FLAG("CALLBUS_TICKET_REUSE_OPEN_CASE", "false", OFF(reuse_open_case),
                 "With CALLBUS_TICKET_REUSE: an answered call with no open ticket of ours to "
                 "reuse goes to the customer's newest unresolved ticket in the CRM, whoever "
                 "made it and whatever its menu selection, and the agent's pop opens it (the "
                 "Webex + Dynamics flow, issue 23 item 4); no such ticket: a new one (R-T1)."),
    CMN_CFG_FLAG("CALLBUS_TICKET_CRM_EVENTS", "off", OFF(crm_events),
                 "Consume crm-events (the CRM's webhooks, normalised by ingest; issue 25): a "
                 "ticket's status and merge, told by the CRM, are kept in the customer's state, "
                 "so a ticket a person solved is known without a read (R-T10, R-T7) and the "
                 "R-T2/R-O1 status read is skipped while that word is fresh."),
    CMN_CFG_NUM("CALLBUS_TICKET_CRM_EVENTS_FRESH_S", "300", 0, 86400, OFF(crm_events_fresh_s),
                "With CALLBUS_TICKET_CRM_EVENTS: how long what a CRM event told of a ticket is "
                "believed without reading its status (R-T2, R-O1); older, or never told: read "
                "as without events. 0: never believed (always read)."),
    CMN_CFG_FLAG("CALLBUS_TICKET_CONTACT_MIRROR", "off", OFF(contact_mirror),
                 "Keep a phone-number index of the CRM's contacts in Redis, fed by the CRM's "
                 "export (Zendesk: incremental user export, an admin's token), and answer "
                 "look-ups by phone from it when it can vouch (docs/contact-mirror.md)."),
    CMN_CFG_NUM("CALLBUS_TICKET_CONTACT_MIRROR_FRESH_S", "120", 1, 86400, OFF(mirror_fresh_s),
                "With the mirror: a look-up is answered from it only when its last complete "
                "pass is at most this old; older: the CRM's search, as without it."),
    CMN_CFG_NUM("CALLBUS_TICKET_CONTACT_MIRROR_INTERVAL_S", "30", 1, 3600, OFF(mirror_interval_s),
                "With the mirror: a pass over the CRM's changes this often while no contact "
                "creation waits for one (one request when little changed)."),
    CMN_CFG_NUM("CALLBUS_TICKET_CONTACT_MIRROR_CREATE_WAIT_MS", "8000", 0, 60000,
                OFF(mirror_create_wait_ms),
                "With the mirror: how long a caller the mirror does not know waits for the "
                "next pass before a contact is created for them (R-C2); past it, or 0: the "
                "CRM's search decides, as without the mirror."),
    CMN_CFG_NUM("CALLBUS_TICKET_CONTACT_MIRROR_MIN_GAP_MS", "6000", 100, 600000,
                OFF(mirror_min_gap_ms),
                "With the mirror: time from an export request's answer to the next request "
                "(Zendesk: 10 a minute; divided by CALLBUS_CRM_TIME_SCALE)."),
    CMN_CFG_NUM("CALLBUS_TICKET_CONTACT_MIRROR_LEASE_S", "30", 3, 600, OFF(mirror_lease_s),
                "With the mirror: the lease of the one replica that reads the CRM's export; "
                "another takes over this long after the holder died."),
    CMN_CFG_FLAG("CALLBUS_TICKET_CRM_DISPLAY", "false", OFF(crm_display),
                 "Also open the call's ticket in the agent's CRM browser through Zendesk Talk "
                 "Partner Edition's display API when they answer or receive the call (the "
                 "CRM's own screen pop, in the interactive lane)."),
    CMN_CFG_FLAG("CALLBUS_TICKET_POP_FALLBACK", "true", OFF(pop_fallback),
                 "Show a pop its agent did not acknowledge (pop-service's pop.unacknowledged on "
                 "agent-actions) through the CRM's display API: Zendesk Talk Partner Edition's "
                 "open ticket / user profile in the agent's browser (issue 22 item 4). Set it "
                 "to false to count them only (no_channel), as a CRM without such an API "
                 "(Dynamics 365) does anyway."),
    CMN_CFG_FLAG("CALLBUS_TICKET_ABANDONED", "true", OFF(abandoned_tickets),
                 "Make tickets for calls abandoned before an agent was offered them (R-M1)."),
    CMN_CFG_FLAG("CALLBUS_TICKET_OUTBOUND_UNATTACHED_CLOSED", "false",
                 OFF(outbound_unattached_closed),
                 "An outbound call attached to no ticket ends as a closed ticket (R-O2, Deskie)."),
    CMN_CFG_STR("CALLBUS_TICKET_DEFAULT_ASSIGNEE", "", OFF(default_assignee),
                "CRM user for tickets no agent answered; empty: unassigned (R-T11)."),
    CMN_CFG_STR("CALLBUS_TICKET_SUBJECT_CALL", "Call from {phone}", OFF(subject_call),
                "Subject of a call's ticket (R-T1); {phone}, {queue}, {call_id}."),
    CMN_CFG_STR("CALLBUS_TICKET_SUBJECT_VOICEMAIL", "Voicemail from {phone}",
                OFF(subject_voicemail), "Subject of a voicemail ticket (R-T3)."),
    CMN_CFG_STR("CALLBUS_TICKET_SUBJECT_MISSED", "Missed call from {phone}", OFF(subject_missed),
                "Subject of a missed-call ticket (R-M1)."),
    CMN_CFG_STR("CALLBUS_TICKET_SUBJECT_OUTBOUND", "Call to {phone}", OFF(subject_outbound),
                "Subject of an outbound call's new ticket (R-O2)."),
    CMN_CFG_STR("CALLBUS_TICKET_SUBJECT_SPLIT_IDLE", "Incoming call from {phone}",
                OFF(subject_split_idle), "Split policy: the idle leg's closed ticket (R-T4)."),
    CMN_CFG_STR("CALLBUS_TICKET_FIELDS", "", OFF(fields),
                "Custom field ids (R-T9): session_type=ID,from_number=ID,call_duration=ID,"
                "wait_time=ID,queue_name=ID,call_id=ID,hold_time=ID,ticket_type=ID,csat=ID; "
                "Zendesk: ticket field ids, Dynamics 365: incident column logical names "
                "(docs/dynamics.md). Checked against the CRM's fields at start."),
    CMN_CFG_NUM("CALLBUS_TICKET_MAX_CALL_AGE_S", "14400", 60, 604800, OFF(max_call_age_s),
                "A call with no end after this long is closed with what is known."),
    CMN_CFG_NUM("CALLBUS_TICKET_SWEEP_TIME_SCALE", "1", 1, 12, OFF(sweep_time_scale),
                "Tests only: the stale-call sweep runs this many times faster (it looks every "
                "30 s / scale for calls older than CALLBUS_TICKET_MAX_CALL_AGE_S / scale)."),
    CMN_CFG_STR("CALLBUS_TICKET_GROUP", "ticket", OFF(group_id),
                "Kafka consumer group of ticket-service replicas."),
    CMN_CFG_STR("CALLBUS_KAFKA_INSTANCE_ID", "", OFF(instance_id),
                "Static group membership id (the pod name); empty: dynamic membership."),
    CMN_CFG_NUM("CALLBUS_TICKET_RETRY_LIMIT_S", "14400", 1, 604800, OFF(retry_limit_s),
                "How long an event may keep failing transiently (CRM down or overloaded, Redis) "
                "before it is dead-lettered and its partition moves on (docs/operations.md)."),
    CMN_CFG_NUM("CALLBUS_TICKET_USAGE_INTERVAL_S", "60", 1, 3600, OFF(usage_interval_s),
                "How often the CRM requests made and saved by batching since the last report are "
                "published on crm-usage for the statistics (R-S1; also once at shutdown; none "
                "when both are 0). A crash loses at most this long's figures."),
    CMN_CFG_NUM("CALLBUS_TICKET_MAX_IN_FLIGHT", "200000", 100, 1000000, OFF(max_in_flight),
                "Events fetched and not yet done (waiting or worked on) before fetching pauses."),
    CMN_CFG_NUM("CALLBUS_TICKET_MAX_IN_FLIGHT_PER_PARTITION", "50000", 100, 1000000,
                OFF(max_in_flight_per_partition),
                "Of those, at most this many of one partition: past it that partition alone waits "
                "in Kafka (a hot number's backlog) while the others flow."),
    CMN_CFG_NUM("CALLBUS_TICKET_MAX_ACTIVE", "1000", 1, 100000, OFF(max_active),
                "Events worked on at once (state loaded, CRM requests, batch); the rest wait "
                "their turn holding only the event."),
    CMN_CFG_NUM("CALLBUS_TICKET_MAX_ACTIVE_PER_CUSTOMER", "16", 1, 10000, OFF(max_active_per_key),
                "Of those, at most this many of one customer: a hot number's surplus waits while "
                "other customers' events flow."),
    CMN_CFG_NUM("CALLBUS_TICKET_WAITING_MAX_MB", "48", 1, 4096, OFF(waiting_max_mb),
                "Memory for events waiting their turn; past it fetching pauses."),
    CMN_CFG_SECRET("CALLBUS_IVR_TOKEN", "", OFF(ivr_token),
                   "Bearer token of the IVR API (R-V1, R-V2); empty disables it."),
    CMN_CFG_SECRET("CALLBUS_IVR_TOKEN_PREVIOUS", "", OFF(ivr_token_previous),
                   "During a rotation: the IVR API token being replaced, accepted too; empty: "
                   "none."),
    CMN_CFG_NUM("CALLBUS_IVR_DEADLINE_MS", "1500", 100, 30000, OFF(ivr_deadline_ms),
                "The IVR's patience: past it the API answers 504."),
    CMN_CFG_NUM("CALLBUS_IVR_CACHE_S", "30", 0, 3600, OFF(ivr_cache_s),
                "How long an IVR look-up answer is reused."),
    CMN_CFG_CHOICE("CALLBUS_IVR_LOOKUP_CASE", "latest_unresolved", "latest_unresolved|latest",
                   OFF(ivr_lookup_case),
                   "Which of the caller's tickets the IVR look-up answers with (R-V1): the newest "
                   "unresolved one (new/open/pending/hold), or the newest whatever its status "
                   "(the Webex + Dynamics flow's \"latest case\")."),
};
const size_t tkt_config_spec_len = sizeof tkt_config_spec / sizeof tkt_config_spec[0];

static char *field_slot(tkt_field_map_t *m, const char *name, size_t len)
{
    static const struct {
        const char *name;
        size_t offset;
    } slots[] = {
        {"session_type", offsetof(tkt_field_map_t, session_type)},
        {"from_number", offsetof(tkt_field_map_t, from_number)},
        {"call_duration", offsetof(tkt_field_map_t, call_duration)},
        {"wait_time", offsetof(tkt_field_map_t, wait_time)},
        {"queue_name", offsetof(tkt_field_map_t, queue_name)},
        {"call_id", offsetof(tkt_field_map_t, call_id)},
        {"hold_time", offsetof(tkt_field_map_t, hold_time)},
        {"ticket_type", offsetof(tkt_field_map_t, ticket_type)},
        {"csat", offsetof(tkt_field_map_t, csat)},
    };
    for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++)
        if (strlen(slots[i].name) == len && strncmp(slots[i].name, name, len) == 0)
            return (char *)m + slots[i].offset;
    return NULL;
}

static int parse_fields(const char *spec, tkt_field_map_t *m, char *errstr, size_t errsz)
{
    for (const char *p = spec; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        char *slot = eq ? field_slot(m, p, (size_t)(eq - p)) : NULL;
        size_t idlen = eq ? len - (size_t)(eq - p) - 1 : 0;
        if (!slot || idlen == 0 || idlen >= TKT_ID_MAX) {
            snprintf(errstr, errsz, "CALLBUS_TICKET_FIELDS: \"%.*s\" is not name=field_id",
                     (int)len, p);
            return -1;
        }
        memcpy(slot, eq + 1, idlen);
        slot[idlen] = '\0';
        p += len + (comma ? 1 : 0);
    }
    return 0;
}

int tkt_config_policy(const tkt_config_t *c, tkt_policy_t *pol, char *errstr, size_t errsz)
{
    tkt_policy_defaults(pol);
    pol->transfer =
        strcmp(c->transfer_policy, "split") == 0 ? TKT_TRANSFER_SPLIT : TKT_TRANSFER_REASSIGN;
    pol->unanswered =
        strcmp(c->unanswered, "grouper") == 0 ? TKT_UNANSWERED_GROUPER : TKT_UNANSWERED_DIRECT;
    pol->reuse = c->reuse;
    pol->reuse_open_case = c->reuse_open_case;
    pol->crm_fresh_s = c->crm_events ? (int)c->crm_events_fresh_s : 0;
    pol->lookup_case = strcmp(c->ivr_lookup_case, "latest") == 0 ? TKT_LOOKUP_LATEST
                                                                 : TKT_LOOKUP_LATEST_UNRESOLVED;
    pol->abandoned_tickets = c->abandoned_tickets;
    pol->outbound_unattached_closed = c->outbound_unattached_closed;
    snprintf(pol->default_assignee, sizeof pol->default_assignee, "%s", c->default_assignee);
    snprintf(pol->subject_call, sizeof pol->subject_call, "%s", c->subject_call);
    snprintf(pol->subject_voicemail, sizeof pol->subject_voicemail, "%s", c->subject_voicemail);
    snprintf(pol->subject_missed, sizeof pol->subject_missed, "%s", c->subject_missed);
    snprintf(pol->subject_outbound, sizeof pol->subject_outbound, "%s", c->subject_outbound);
    snprintf(pol->subject_split_idle, sizeof pol->subject_split_idle, "%s", c->subject_split_idle);
    return parse_fields(c->fields, &pol->fields, errstr, errsz);
}

void tkt_config_sweep(const tkt_config_t *c, struct timeval *every, int64_t *max_call_age_ms)
{
    long every_ms = TKT_SWEEP_EVERY_MS / c->sweep_time_scale;
    *every = (struct timeval){every_ms / 1000, (every_ms % 1000) * 1000};
    *max_call_age_ms = (int64_t)c->max_call_age_s * 1000 / c->sweep_time_scale;
}

void tkt_config_batch(const tkt_config_t *c, int ticket_write_limit, tkt_batch_cfg_t *out)
{
    *out = (tkt_batch_cfg_t){.window_s = (int)c->batch_window_s,
                             .comments = c->batch_comments,
                             .updates = c->batch_updates,
                             .ticket_limit = ticket_write_limit,
                             .ticket_window_s = (int)(600 / c->crm_time_scale),
                             .max_attempts = 5};
}

void tkt_config_crm(const tkt_config_t *c, cmn_phone_lookup_t form, const cmn_country_t *country,
                    crm_shared_cfg_t *out)
{
    *out = (crm_shared_cfg_t){.name = c->crm,
                              .lookup_form = form,
                              .country = country,
                              .rate_limit = (int)c->crm_rate_limit,
                              .time_scale = (int)c->crm_time_scale,
                              .timeout_ms = (int)c->crm_timeout_ms,
                              .allow_plain_http = c->crm_allow_plain_http,
                              /* an IVR caller waits CALLBUS_IVR_DEADLINE_MS, no longer */
                              .interactive_ttl_ms = (int)c->ivr_deadline_ms,
                              .interactive_max_queued = 64,
                              .display = c->crm_display,
                              .field_map = c->fields && *c->fields};
}

void tkt_config_mirror(const tkt_config_t *c, tkt_mirror_cfg_t *out)
{
    memset(out, 0, sizeof *out);
    out->rule.fresh_ms = (int64_t)c->mirror_fresh_s * 1000;
    out->rule.create_wait_ms = c->mirror_create_wait_ms;
    out->interval_ms = c->mirror_interval_s * 1000;
    out->min_gap_ms = c->mirror_min_gap_ms / c->crm_time_scale;
    out->lease_ms = c->mirror_lease_s * 1000;
    out->instance_id = c->instance_id;
}
