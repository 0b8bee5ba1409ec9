/* The table of CRM providers (crm_provider.h) and what goes for all of
 * them: look-up by name, their settings' listing, load-check-create. */
#include "crm_provider.h"

#include "cmn_log.h"

#include <stdlib.h>
#include <string.h>

/* The rows of CRM_PROVIDERS (crm_provider.h). */
#define CRM_PROVIDER_ROW_(name, provider) &provider,
static const crm_provider_t *const providers[] = {CRM_PROVIDERS(CRM_PROVIDER_ROW_)};
#define N_PROVIDERS (sizeof providers / sizeof providers[0])

size_t crm_provider_count(void)
{
    return N_PROVIDERS;
}

const crm_provider_t *crm_provider_at(size_t index)
{
    return index < N_PROVIDERS ? providers[index] : NULL;
}

const crm_provider_t *crm_provider_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < N_PROVIDERS; i++)
        if (strcmp(providers[i]->name, name) == 0)
            return providers[i];
    return NULL;
}

void crm_provider_print_markdown(FILE *out)
{
    for (size_t i = 0; i < N_PROVIDERS; i++)
        cmn_config_print_markdown(providers[i]->settings, providers[i]->n_settings, out);
}

int crm_provider_require(const char *crm, const crm_required_t *req, size_t n, FILE *errs)
{
    int problems = 0;
    for (size_t i = 0; i < n; i++) {
        if (!req[i].value || !*req[i].value) {
            fprintf(errs, "%s: required with CALLBUS_CRM=%s, not set\n", req[i].name, crm);
            problems++;
        }
    }
    return problems;
}

tkt_crm_t *crm_provider_start(const crm_provider_t *p, struct event_base *base,
                              const crm_shared_cfg_t *shared, FILE *errs, char *errstr,
                              size_t errsz)
{
    tkt_crm_t *crm = NULL;
    void *own = calloc(1, p->settings_size);
    if (!own) {
        snprintf(errstr, errsz, "%s: out of memory", p->name);
        return NULL;
    }
    /* Its settings have defaults: only memory can fail them here. */
    int problems = cmn_config_load(p->settings, p->n_settings, own, errs);
    if (problems == 0) {
        cmn_config_log(p->settings, p->n_settings, own);
        problems = p->check(own, shared, errs);
    }
    if (problems > 0)
        snprintf(errstr, errsz, "the CRM's settings (above)");
    else
        crm = p->create(base, own, shared, errstr, errsz);
    cmn_config_free(p->settings, p->n_settings, own);
    free(own);
    return crm;
}
