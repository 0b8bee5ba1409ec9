/* Agent map: a flat array; contact centers map tens to hundreds of agents. */
#include "cmn_agentmap.h"
#include "cmn_event.h" /* the id limits */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *provider, *agent, *crm;
} entry_t;

struct cmn_agentmap {
    entry_t *entries;
    size_t n;
};

static int add_entry(cmn_agentmap_t *m, const char *item, size_t len, char *errstr, size_t errsz)
{
    char buf[512];
    if (len == 0)
        return 0;
    if (len >= sizeof buf)
        goto bad;
    memcpy(buf, item, len);
    buf[len] = '\0';
    char *colon = strchr(buf, ':');
    char *eq = strrchr(buf, '=');
    if (!colon || !eq || eq < colon || colon == buf || eq == colon + 1 || !eq[1])
        goto bad;
    *colon = *eq = '\0';
    if (strlen(eq + 1) > CMN_CRM_ID_MAX || strlen(colon + 1) > CMN_ID_TEXT_MAX)
        goto bad; /* the event decoder would refuse every call of this operator */
    entry_t *grown = realloc(m->entries, (m->n + 1) * sizeof *grown);
    if (!grown)
        goto bad;
    m->entries = grown;
    entry_t *e = &m->entries[m->n];
    e->provider = strdup(buf);
    e->agent = strdup(colon + 1);
    e->crm = strdup(eq + 1);
    m->n++;
    if (!e->provider || !e->agent || !e->crm)
        goto bad;
    return 0;
bad:
    snprintf(errstr, errsz,
             "agent map entry \"%.*s\" is not provider:operator=crm_id (operator "
             "at most %d characters, crm_id at most %d)",
             (int)(len > 80 ? 80 : len), item, CMN_ID_TEXT_MAX, CMN_CRM_ID_MAX);
    return -1;
}

cmn_agentmap_t *cmn_agentmap_parse(const char *spec, char *errstr, size_t errsz)
{
    cmn_agentmap_t *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(errstr, errsz, "out of memory");
        return NULL;
    }
    for (const char *p = spec ? spec : ""; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        while (len && *p == ' ')
            p++, len--;
        if (add_entry(m, p, len, errstr, errsz) < 0) {
            cmn_agentmap_free(m);
            return NULL;
        }
        p += len + (comma ? 1 : 0);
    }
    return m;
}

const char *cmn_agentmap_lookup(const cmn_agentmap_t *m, const char *provider,
                                const char *provider_agent_id)
{
    if (!m || !provider || !provider_agent_id)
        return NULL;
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->entries[i].provider, provider) == 0 &&
            strcmp(m->entries[i].agent, provider_agent_id) == 0)
            return m->entries[i].crm;
    return NULL;
}

const char *cmn_agentmap_operator(const cmn_agentmap_t *m, const char *provider, const char *crm_id)
{
    if (!m || !provider || !crm_id)
        return NULL;
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->entries[i].provider, provider) == 0 && strcmp(m->entries[i].crm, crm_id) == 0)
            return m->entries[i].agent;
    return NULL;
}

size_t cmn_agentmap_size(const cmn_agentmap_t *m)
{
    return m ? m->n : 0;
}

void cmn_agentmap_free(cmn_agentmap_t *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++) {
        free(m->entries[i].provider);
        free(m->entries[i].agent);
        free(m->entries[i].crm);
    }
    free(m->entries);
    free(m);
}
