/* Zendesk Support as a CRM provider (crm_provider.h): its settings, what it
 * needs before it starts, its limits and its adapter (crm_zendesk.c). */
#include "crm_provider.h"
#include "crm_zendesk.h"

#include <stddef.h>

typedef struct {
    char *url, *email, *token;
} zendesk_settings_t;

#define OFF(f) offsetof(zendesk_settings_t, f)
static const cmn_cfg_spec_t settings[] = {
    CMN_CFG_STR("CALLBUS_ZENDESK_URL", "", OFF(url),
                "Zendesk base URL, https://<subdomain>.zendesk.com (or the emulator's URL); "
                "required with CALLBUS_CRM=zendesk."),
    CMN_CFG_STR("CALLBUS_ZENDESK_EMAIL", "", OFF(email),
                "Zendesk API user's e-mail; required with CALLBUS_CRM=zendesk."),
    CMN_CFG_SECRET("CALLBUS_ZENDESK_TOKEN", "", OFF(token),
                   "Zendesk API token; required with CALLBUS_CRM=zendesk."),
};

static int check(const void *own, const crm_shared_cfg_t *shared, FILE *errs)
{
    const zendesk_settings_t *s = own;
    const crm_required_t req[] = {{"CALLBUS_ZENDESK_URL", s->url},
                                  {"CALLBUS_ZENDESK_EMAIL", s->email},
                                  {"CALLBUS_ZENDESK_TOKEN", s->token}};
    return crm_provider_require(shared->name, req, sizeof req / sizeof req[0], errs);
}

static tkt_crm_t *create(struct event_base *base, const void *own, const crm_shared_cfg_t *shared,
                         char *errstr, size_t errsz)
{
    const zendesk_settings_t *s = own;
    /* The account's budget is per minute (CALLBUS_CRM_RATE_LIMIT, 0: 700). */
    crm_zendesk_cfg_t cfg = {.base_url = s->url,
                             .email = s->email,
                             .api_token = s->token,
                             .rate_limit_per_min = shared->rate_limit,
                             .rate_window_ms = 60000 / shared->time_scale,
                             .timeout_ms = shared->timeout_ms,
                             .allow_plain_http = shared->allow_plain_http,
                             .interactive_ttl_ms = shared->interactive_ttl_ms,
                             .interactive_max_queued = shared->interactive_max_queued};
    return crm_zendesk_new(base, &cfg, errstr, errsz);
}

const crm_provider_t crm_zendesk_provider = {
    .name = "zendesk",
    .settings = settings,
    .n_settings = sizeof settings / sizeof settings[0],
    .settings_size = sizeof(zendesk_settings_t),
    /* Zendesk allows 30 updates per ticket per 10 minutes: keep a margin. */
    .ticket_write_limit = 28,
    .check = check,
    .create = create,
};
