/* Microsoft Dynamics 365 as a CRM provider (crm_provider.h): its settings,
 * what it needs before it starts, its limits and its adapter (crm_dyn.c). */
#include "crm_dyn.h"
#include "crm_provider.h"

#include <stddef.h>

typedef struct {
    char *url, *authority, *tenant_id, *client_id, *client_secret;
    char *phone_attrs, *app_id, *withheld_contact, *marker_column;
} dyn_settings_t;

#define OFF(f) offsetof(dyn_settings_t, f)
static const cmn_cfg_spec_t settings[] = {
    CMN_CFG_STR("CALLBUS_DYNAMICS_URL", "", OFF(url),
                "Dynamics 365 organisation URL, https://<org>.crm.dynamics.com (or the "
                "emulator's): Web API at /api/data/v9.2, forms at /main.aspx; required with "
                "CALLBUS_CRM=dynamics."),
    CMN_CFG_STR("CALLBUS_DYNAMICS_AUTHORITY", "https://login.microsoftonline.com", OFF(authority),
                "Microsoft Entra ID authority; the token comes from "
                "<authority>/<tenant>/oauth2/v2.0/token."),
    CMN_CFG_STR("CALLBUS_DYNAMICS_TENANT_ID", "", OFF(tenant_id),
                "Entra ID tenant (GUID or domain); required with CALLBUS_CRM=dynamics."),
    CMN_CFG_STR("CALLBUS_DYNAMICS_CLIENT_ID", "", OFF(client_id),
                "App registration (client) id of the application user; required with "
                "CALLBUS_CRM=dynamics."),
    CMN_CFG_SECRET("CALLBUS_DYNAMICS_CLIENT_SECRET", "", OFF(client_secret),
                   "Client secret of that app registration; required with CALLBUS_CRM=dynamics."),
    CMN_CFG_STR("CALLBUS_DYNAMICS_PHONE_ATTRS", "telephone1,mobilephone", OFF(phone_attrs),
                "Contact columns searched for the caller's number (at most 4, OR-ed); a new "
                "contact gets the number in the first (R-I2, R-C2)."),
    CMN_CFG_STR("CALLBUS_DYNAMICS_APP_ID", "", OFF(app_id),
                "Model-driven app id put on form URLs (appid=); empty: none."),
    CMN_CFG_STR("CALLBUS_DYNAMICS_WITHHELD_CONTACT", "", OFF(withheld_contact),
                "Contact (GUID) that withheld-number calls' cases are made for: a case needs a "
                "customer and such a call has none. Empty: those cases are refused and their "
                "events dead-lettered (docs/dynamics.md)."),
    CMN_CFG_STR("CALLBUS_DYNAMICS_MARKER_COLUMN", "new_callbusmarkers", OFF(marker_column),
                "Text column of the incident the call markers (the rules' tags: callbus_call, "
                "callbus_missed, callbus_called_back, ...) are added to, space-separated (R-M1, "
                "R-M3); checked against the incident's metadata at start-up (a column it lacks: "
                "a warning, markers off). Empty: markers not written. Setup: docs/dynamics.md."),
};

static int check(const void *own, const crm_shared_cfg_t *shared, FILE *errs)
{
    const dyn_settings_t *s = own;
    const crm_required_t req[] = {{"CALLBUS_DYNAMICS_URL", s->url},
                                  {"CALLBUS_DYNAMICS_TENANT_ID", s->tenant_id},
                                  {"CALLBUS_DYNAMICS_CLIENT_ID", s->client_id},
                                  {"CALLBUS_DYNAMICS_CLIENT_SECRET", s->client_secret}};
    int problems = crm_provider_require(shared->name, req, sizeof req / sizeof req[0], errs);
    if (shared->display) {
        fprintf(errs, "CALLBUS_TICKET_CRM_DISPLAY: Dynamics 365 has no API to display a record "
                      "to an agent; pops go through pop-service (set it to false)\n");
        problems++;
    }
    /* CALLBUS_TICKET_FIELDS names incident columns by logical name: checked
     * against the table's metadata once started (R-T9, crm_dyn_fields.h). */
    if (!s->withheld_contact || !*s->withheld_contact)
        fprintf(errs, "CALLBUS_DYNAMICS_WITHHELD_CONTACT: not set: a withheld-number call's case "
                      "has no customer, so such events are dead-lettered (warning only)\n");
    return problems;
}

static tkt_crm_t *create(struct event_base *base, const void *own, const crm_shared_cfg_t *shared,
                         char *errstr, size_t errsz)
{
    const dyn_settings_t *s = own;
    /* Dataverse's budget is per 5 minutes per user (0: 6,000). */
    crm_dyn_cfg_t cfg = {.url = s->url,
                         .authority = s->authority,
                         .tenant_id = s->tenant_id,
                         .client_id = s->client_id,
                         .client_secret = s->client_secret,
                         .phone_attrs = s->phone_attrs,
                         .app_id = s->app_id,
                         .withheld_contact = s->withheld_contact,
                         .marker_column = s->marker_column,
                         .lookup_form = shared->lookup_form,
                         .country = shared->country,
                         .allow_plain_http = shared->allow_plain_http,
                         .rate_limit = shared->rate_limit,
                         .rate_window_ms = CRM_DYN_RATE_WINDOW_MS / shared->time_scale,
                         .timeout_ms = shared->timeout_ms,
                         .interactive_ttl_ms = shared->interactive_ttl_ms,
                         .interactive_max_queued = shared->interactive_max_queued};
    return crm_dyn_new(base, &cfg, errstr, errsz);
}

const crm_provider_t crm_dyn_provider = {
    .name = "dynamics",
    .settings = settings,
    .n_settings = sizeof settings / sizeof settings[0],
    .settings_size = sizeof(dyn_settings_t),
    /* Dataverse has no per-record write limit. */
    .ticket_write_limit = 1000000,
    .check = check,
    .create = create,
};
