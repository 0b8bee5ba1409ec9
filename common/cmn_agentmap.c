/* Agent map (cmn_agentmap.h): the sources' text copied into one block, the
 * entries pointing into it, and two open-addressing hash indexes over the
 * entries — (provider, operator) and (provider, CRM id) — so a look-up costs
 * the same at 20,000 agents as at 20 (issue 26 item 1), and a map of
 * 20,000 is four allocations, not 60,000 strdup's. */
#include "cmn_agentmap.h"
#include "cmn_event.h" /* the id limits */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *provider, *agent, *crm; /* into text */
} entry_t;

struct cmn_agentmap {
    char *text;
    size_t text_len;
    entry_t *entries;
    size_t n, cap;
    /* index + 1 of an entry; 0 empty. mask + 1 slots, at least twice n. */
    uint32_t *by_agent, *by_crm;
    size_t mask;
};

/* ---- parsing ------------------------------------------------------------- */

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

static int push_entry(cmn_agentmap_t *m, char *item)
{
    if (m->n == m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 64;
        entry_t *grown = realloc(m->entries, cap * sizeof *grown);
        if (!grown)
            return -1;
        m->entries = grown;
        m->cap = cap;
    }
    char *colon = strchr(item, ':'), *eq = strrchr(item, '=');
    *colon = *eq = '\0';
    m->entries[m->n++] = (entry_t){item, colon + 1, eq + 1};
    return 0;
}

/* 1 when item (NUL-terminated, trimmed) is provider:operator=crm_id within
 * the limits the event decoder enforces (an operator past them would have
 * every one of its calls refused). */
static int well_formed(const char *item)
{
    const char *colon = strchr(item, ':'), *eq = strrchr(item, '=');
    if (!colon || !eq || eq < colon || colon == item || eq == colon + 1 || !eq[1])
        return 0;
    return strlen(eq + 1) <= CMN_CRM_ID_MAX && (size_t)(eq - colon - 1) <= CMN_ID_TEXT_MAX;
}

static void bad_entry(const cmn_agentmap_src_t *src, size_t line, const char *item, char *errstr,
                      size_t errsz)
{
    size_t len = strlen(item);
    snprintf(errstr, errsz,
             "%s%sline %zu: entry \"%.*s\" is not provider:operator=crm_id (operator at most %d "
             "characters, crm_id at most %d)",
             src->name ? src->name : "", src->name ? ": " : "", line, (int)(len > 80 ? 80 : len),
             item, CMN_ID_TEXT_MAX, CMN_CRM_ID_MAX);
}

/* Splits `text` (the map's own copy, written into) into entries. */
static int parse_text(cmn_agentmap_t *m, const cmn_agentmap_src_t *src, char *text, char *errstr,
                      size_t errsz)
{
    size_t line = 1;
    for (char *p = text; *p;) {
        while (is_blank(*p))
            p++;
        char *end = p + strcspn(p, *p == '#' ? "\n" : ",\n"); /* a comment runs to the line end */
        char sep = *end, *last = end;
        while (last > p && is_blank(last[-1]))
            last--;
        *last = '\0';
        if (*p && *p != '#') {
            if (!well_formed(p)) {
                bad_entry(src, line, p, errstr, errsz);
                return -1;
            }
            if (push_entry(m, p) < 0) {
                snprintf(errstr, errsz, "out of memory");
                return -1;
            }
        }
        line += sep == '\n';
        p = sep ? end + 1 : end;
    }
    return 0;
}

/* ---- indexes ------------------------------------------------------------- */

static uint64_t key_hash(const char *provider, const char *id)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (const unsigned char *s = (const unsigned char *)provider; *s; s++)
        h = (h ^ *s) * 1099511628211ULL;
    h = (h ^ 0xffu) * 1099511628211ULL; /* no byte of text: "a"+"bc" differs from "ab"+"c" */
    for (const unsigned char *s = (const unsigned char *)id; *s; s++)
        h = (h ^ *s) * 1099511628211ULL;
    return h;
}

/* The slot of (provider, id) in `index` (keyed by the agent or the CRM id):
 * the entry's, or the empty one where it would go. */
static size_t find_slot(const cmn_agentmap_t *m, const uint32_t *index, int by_crm,
                        const char *provider, const char *id)
{
    size_t i = (size_t)key_hash(provider, id) & m->mask;
    for (; index[i]; i = (i + 1) & m->mask) {
        const entry_t *e = &m->entries[index[i] - 1];
        if (strcmp(by_crm ? e->crm : e->agent, id) == 0 && strcmp(e->provider, provider) == 0)
            break;
    }
    return i;
}

static int build_indexes(cmn_agentmap_t *m)
{
    size_t slots = 16;
    while (slots < 2 * m->n)
        slots *= 2;
    m->mask = slots - 1;
    m->by_agent = calloc(slots, sizeof *m->by_agent);
    m->by_crm = calloc(slots, sizeof *m->by_crm);
    if (!m->by_agent || !m->by_crm || m->n >= UINT32_MAX)
        return -1;
    for (size_t k = 0; k < m->n; k++) {
        const entry_t *e = &m->entries[k];
        size_t a = find_slot(m, m->by_agent, 0, e->provider, e->agent);
        size_t c = find_slot(m, m->by_crm, 1, e->provider, e->crm);
        if (!m->by_agent[a]) /* the first entry of a duplicate wins */
            m->by_agent[a] = (uint32_t)(k + 1);
        if (!m->by_crm[c])
            m->by_crm[c] = (uint32_t)(k + 1);
    }
    return 0;
}

/* ---- the API ------------------------------------------------------------- */

cmn_agentmap_t *cmn_agentmap_build(const cmn_agentmap_src_t *srcs, size_t n, char *errstr,
                                   size_t errsz)
{
    cmn_agentmap_t *m = calloc(1, sizeof *m);
    size_t total = 1, at = 0;
    for (size_t i = 0; i < n; i++)
        total += (srcs[i].text ? strlen(srcs[i].text) : 0) + 1;
    if (!m || !(m->text = malloc(total))) {
        snprintf(errstr, errsz, "out of memory");
        goto fail;
    }
    m->text_len = total;
    for (size_t i = 0; i < n; i++) {
        char *copy = m->text + at;
        size_t len = srcs[i].text ? strlen(srcs[i].text) : 0;
        memcpy(copy, srcs[i].text ? srcs[i].text : "", len + 1);
        at += len + 1;
        if (parse_text(m, &srcs[i], copy, errstr, errsz) < 0)
            goto fail;
    }
    if (build_indexes(m) < 0) {
        snprintf(errstr, errsz, "out of memory");
        goto fail;
    }
    return m;
fail:
    cmn_agentmap_free(m);
    return NULL;
}

cmn_agentmap_t *cmn_agentmap_parse(const char *spec, char *errstr, size_t errsz)
{
    cmn_agentmap_src_t src = {.name = NULL, .text = spec};
    return cmn_agentmap_build(&src, 1, errstr, errsz);
}

const char *cmn_agentmap_lookup(const cmn_agentmap_t *m, const char *provider,
                                const char *provider_agent_id)
{
    if (!m || !provider || !provider_agent_id)
        return NULL;
    uint32_t k = m->by_agent[find_slot(m, m->by_agent, 0, provider, provider_agent_id)];
    return k ? m->entries[k - 1].crm : NULL;
}

const char *cmn_agentmap_operator(const cmn_agentmap_t *m, const char *provider, const char *crm_id)
{
    if (!m || !provider || !crm_id)
        return NULL;
    uint32_t k = m->by_crm[find_slot(m, m->by_crm, 1, provider, crm_id)];
    return k ? m->entries[k - 1].agent : NULL;
}

size_t cmn_agentmap_size(const cmn_agentmap_t *m)
{
    return m ? m->n : 0;
}

size_t cmn_agentmap_bytes(const cmn_agentmap_t *m)
{
    if (!m)
        return 0;
    return sizeof *m + m->text_len + m->cap * sizeof *m->entries +
           2 * (m->mask + 1) * sizeof *m->by_agent;
}

void cmn_agentmap_free(cmn_agentmap_t *m)
{
    if (!m)
        return;
    free(m->text);
    free(m->entries);
    free(m->by_agent);
    free(m->by_crm);
    free(m);
}
