/* R-T9's columns on Dynamics 365: see crm_dyn_fields.h. */
#include "crm_dyn_fields.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int crm_dyn_columns_url(const crm_dyn_conf_t *conf, char *out, size_t outsz)
{
    int n = snprintf(out, outsz,
                     "%s/EntityDefinitions(LogicalName='incident')/Attributes"
                     "?$select=LogicalName,AttributeType",
                     conf->api_base);
    return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

static crm_dyn_col_type_t type_of(const char *attribute_type)
{
    static const struct {
        const char *name;
        crm_dyn_col_type_t type;
    } types[] = {{"String", CRM_DYN_COL_TEXT},     {"Memo", CRM_DYN_COL_TEXT},
                 {"Integer", CRM_DYN_COL_WHOLE},   {"BigInt", CRM_DYN_COL_WHOLE},
                 {"Decimal", CRM_DYN_COL_DECIMAL}, {"Double", CRM_DYN_COL_DECIMAL},
                 {"Money", CRM_DYN_COL_DECIMAL},   {"Picklist", CRM_DYN_COL_CHOICE},
                 {"State", CRM_DYN_COL_CHOICE},    {"Status", CRM_DYN_COL_CHOICE},
                 {"Boolean", CRM_DYN_COL_BOOL}};
    for (size_t i = 0; attribute_type && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(attribute_type, types[i].name) == 0)
            return types[i].type;
    return CRM_DYN_COL_OTHER;
}

void crm_dyn_columns_free(crm_dyn_columns_t *c)
{
    if (!c)
        return;
    free(c->cols);
    c->cols = NULL;
    c->n = 0;
}

int crm_dyn_columns_parse(const char *body, size_t len, crm_dyn_columns_t *out, char *err,
                          size_t errsz)
{
    json_error_t jerr;
    json_t *j = json_loadb(body ? body : "", len, 0, &jerr);
    json_t *arr = json_object_get(j, "value");
    int rc = -1;
    crm_dyn_columns_free(out);
    if (!json_is_array(arr)) {
        snprintf(err, errsz, "attributes: no \"value\" array");
        goto cleanup;
    }
    if (json_array_size(arr) && !(out->cols = calloc(json_array_size(arr), sizeof *out->cols))) {
        snprintf(err, errsz, "out of memory");
        goto cleanup;
    }
    size_t i;
    json_t *a;
    json_array_foreach(arr, i, a)
    {
        const char *name = json_string_value(json_object_get(a, "LogicalName"));
        if (!name || strlen(name) >= sizeof out->cols[0].name)
            continue; /* no name a mapping could give */
        snprintf(out->cols[out->n].name, sizeof out->cols[0].name, "%s", name);
        out->cols[out->n++].type = type_of(json_string_value(json_object_get(a, "AttributeType")));
    }
    rc = 0;
cleanup:
    json_decref(j);
    return rc;
}

crm_dyn_col_type_t crm_dyn_columns_type(const crm_dyn_columns_t *c, const char *name)
{
    for (size_t i = 0; c && i < c->n; i++)
        if (strcmp(c->cols[i].name, name) == 0)
            return c->cols[i].type;
    return CRM_DYN_COL_UNKNOWN;
}

/* The whole of s as an integer. */
static int whole(const char *s, long long *out)
{
    char *end;
    errno = 0;
    *out = strtoll(s, &end, 10);
    return *s && !*end && errno == 0 ? 0 : -1;
}

/* Digits only, no leading zero, at most 9 of them (Dataverse's whole
 * number column holds up to 2,147,483,647): a count, not an identifier. */
static int plain_count(const char *s)
{
    size_t len = strspn(s, "0123456789");
    return len && !s[len] && len <= 9 && (s[0] != '0' || len == 1);
}

/* The field's value as its column takes it; NULL when it cannot. */
static json_t *value_of(crm_dyn_col_type_t type, const char *v)
{
    long long n;
    char *end;
    switch (type) {
    case CRM_DYN_COL_TEXT:
        return json_string(v);
    case CRM_DYN_COL_WHOLE:
    case CRM_DYN_COL_CHOICE:
        return whole(v, &n) == 0 ? json_integer(n) : NULL;
    case CRM_DYN_COL_DECIMAL: {
        double d = strtod(v, &end);
        return *v && !*end ? json_real(d) : NULL;
    }
    case CRM_DYN_COL_BOOL:
        if (!strcmp(v, "true") || !strcmp(v, "1"))
            return json_true();
        return !strcmp(v, "false") || !strcmp(v, "0") ? json_false() : NULL;
    case CRM_DYN_COL_UNKNOWN:
        /* unchecked (metadata not read): durations and scores are whole
         * numbers, the rest text; a number as a phone or call id has (a
         * '+', a leading 0, more digits than a whole-number column holds)
         * stays text */
        return plain_count(v) && whole(v, &n) == 0 ? json_integer(n) : json_string(v);
    case CRM_DYN_COL_OTHER:
        break;
    }
    return NULL;
}

int crm_dyn_columns_put(const crm_dyn_columns_t *c, json_t *body, const tkt_field_t *fields,
                        size_t n, char *err, size_t errsz)
{
    for (size_t i = 0; i < n && i < TKT_MAX_FIELDS; i++) {
        const tkt_field_t *f = &fields[i];
        if (!crm_odata_name_valid(f->field_id)) {
            snprintf(err, errsz, "custom field \"%s\" is not a column logical name", f->field_id);
            return -1;
        }
        json_t *v = value_of(crm_dyn_columns_type(c, f->field_id), f->value);
        if (!v || json_object_set_new(body, f->field_id, v) != 0) {
            snprintf(err, errsz, "column %s cannot take the value \"%s\"", f->field_id, f->value);
            return -1;
        }
    }
    return 0;
}
