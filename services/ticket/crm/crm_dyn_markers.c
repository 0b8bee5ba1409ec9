/* The call markers on Dynamics 365: see crm_dyn_markers.h. */
#include "crm_dyn_markers.h"

#include "crm_odata.h"

#include <stdio.h>
#include <string.h>

#define SEP " "

/* 1 when the word of length len at w is among markers' words. */
static int has_word(const char *markers, const char *w, size_t len)
{
    const char *p = markers ? markers : "";
    while (*(p += strspn(p, SEP))) {
        size_t l = strcspn(p, SEP);
        if (l == len && strncmp(p, w, len) == 0)
            return 1;
        p += l;
    }
    return 0;
}

int crm_dyn_marker_tag(const char *tag)
{
    /* a provider's tag (issue 24 item 3): the rules never let one start
     * with "callbus", and make it one word */
    if (strncmp(tag, "callbus", 7) != 0)
        return tag[0] != '\0' && !strchr(tag, ' ');
    return strncmp(tag, CRM_DYN_MARKER_PREFIX, strlen(CRM_DYN_MARKER_PREFIX)) == 0 &&
           tag[strlen(CRM_DYN_MARKER_PREFIX)] != '\0';
}

int crm_dyn_markers_any(const char (*tags)[48], size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (crm_dyn_marker_tag(tags[i]))
            return 1;
    return 0;
}

int crm_dyn_markers_has(const char *markers, const char *marker)
{
    return marker && *marker && has_word(markers, marker, strlen(marker));
}

/* Appends the word w (length len) to out unless it is there. 0, or -1. */
static int add_word(char *out, size_t outsz, const char *w, size_t len)
{
    size_t used = strlen(out);
    if (!len || has_word(out, w, len))
        return 0;
    if (used + (used ? 1 : 0) + len >= outsz)
        return -1;
    if (used)
        out[used++] = ' ';
    memcpy(out + used, w, len);
    out[used + len] = '\0';
    return 0;
}

int crm_dyn_markers_merge(const char *existing, const char (*tags)[48], size_t n, char *out,
                          size_t outsz)
{
    const char *p = existing ? existing : "";
    if (!outsz)
        return -1;
    out[0] = '\0';
    /* the column's words first (normalised), so nothing it held is lost */
    while (*(p += strspn(p, SEP))) {
        size_t l = strcspn(p, SEP);
        if (add_word(out, outsz, p, l) != 0)
            return -1;
        p += l;
    }
    for (size_t i = 0; i < n; i++)
        if (crm_dyn_marker_tag(tags[i]) && add_word(out, outsz, tags[i], strnlen(tags[i], 48)) != 0)
            return -1;
    return 0;
}

int crm_dyn_markers_check(const crm_dyn_columns_t *c, const char *column, char *err, size_t errsz)
{
    if (!column || !*column)
        return 0;
    switch (crm_dyn_columns_type(c, column)) {
    case CRM_DYN_COL_TEXT:
        return 0;
    case CRM_DYN_COL_UNKNOWN:
        snprintf(err, errsz,
                 "CALLBUS_DYNAMICS_MARKER_COLUMN: the incident has no column %s "
                 "(docs/dynamics.md says how to create it)",
                 column);
        return -1;
    default:
        snprintf(err, errsz,
                 "CALLBUS_DYNAMICS_MARKER_COLUMN: column %s is not a text column "
                 "(String or Memo)",
                 column);
        return -1;
    }
}

int crm_dyn_markers_put(json_t *body, const char *column, const char *existing,
                        const char (*tags)[48], size_t n, char *err, size_t errsz)
{
    char merged[CRM_DYN_MARKERS_MAX];
    if (!column || !*column || !crm_dyn_markers_any(tags, n))
        return 0;
    if (!crm_odata_name_valid(column)) {
        snprintf(err, errsz, "marker column \"%s\" is not a column logical name", column);
        return -1;
    }
    /* The marker words all fit (about 110 characters); only text a person
     * put in the column can make it overflow: the case keeps what it holds
     * rather than losing the write the markers ride on. */
    if (crm_dyn_markers_merge(existing, tags, n, merged, sizeof merged) != 0)
        return 0;
    if (json_object_set_new(body, column, json_string(merged)) != 0) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    return 0;
}

int crm_dyn_markers_url(const crm_dyn_conf_t *conf, const char *column, const char *const *ids,
                        size_t n, char *out, size_t outsz)
{
    char id[CRM_GUID_MAX];
    int len = snprintf(out, outsz, "%s/incidents?$select=incidentid,%s&$filter=", conf->api_base,
                       column ? column : "");
    if (!n || !column || !crm_odata_name_valid(column) || len < 0 || (size_t)len >= outsz)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (crm_odata_guid_norm(ids[i], id) != 0)
            return -1;
        int k = snprintf(out + len, outsz - (size_t)len, "%sincidentid%%20eq%%20%s",
                         i ? "%20or%20" : "", id);
        if (k < 0 || (size_t)k >= outsz - (size_t)len)
            return -1;
        len += k;
    }
    return 0;
}
