/* Dataverse response parsing: see crm_dyn_parse.h. */
#include "crm_dyn_parse.h"

#include "cmn_time.h"
#include "crm_dyn_request.h"
#include "crm_odata.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static json_t *load(const char *body, size_t len, char *errstr, size_t errsz)
{
    json_error_t jerr;
    json_t *root = body ? json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    if (!root) {
        snprintf(errstr, errsz, "response is not JSON: %s", body ? jerr.text : "no body");
        return NULL;
    }
    if (!json_is_object(root)) {
        snprintf(errstr, errsz, "response is not a JSON object");
        json_decref(root);
        return NULL;
    }
    return root;
}

/* A GUID member into out; `required` says whether absence is an error. */
static int guid_member(const json_t *o, const char *key, int required, char out[CRM_GUID_MAX],
                       char *errstr, size_t errsz)
{
    json_t *v = json_object_get(o, key);
    out[0] = '\0';
    if (!v || json_is_null(v)) {
        if (!required)
            return 0;
        snprintf(errstr, errsz, "record without %s", key);
        return -1;
    }
    if (!json_is_string(v) || crm_odata_guid_norm(json_string_value(v), out) != 0) {
        snprintf(errstr, errsz, "%s is not a GUID", key);
        return -1;
    }
    return 0;
}

static int64_t time_member(const json_t *o, const char *key)
{
    int64_t ms = 0;
    json_t *v = json_object_get(o, key);
    if (json_is_string(v) && cmn_time_parse(json_string_value(v), &ms) == 0)
        return ms;
    return 0;
}

static int text_member(const json_t *o, const char *key, char *out, size_t outsz, char *errstr,
                       size_t errsz)
{
    if (crm_text_copy(o, key, out, outsz) < 0) {
        snprintf(errstr, errsz, "%s is not text", key);
        return -1;
    }
    return 0;
}

static int contact_of(const json_t *o, tkt_crm_contact_t *c, char *errstr, size_t errsz)
{
    memset(c, 0, sizeof *c);
    char id[CRM_GUID_MAX];
    if (!json_is_object(o)) {
        snprintf(errstr, errsz, "contact is not an object");
        return -1;
    }
    if (guid_member(o, "contactid", 1, id, errstr, errsz) != 0 ||
        text_member(o, "fullname", c->name, sizeof c->name, errstr, errsz) != 0 ||
        text_member(o, "emailaddress1", c->email, sizeof c->email, errstr, errsz) != 0)
        return -1;
    memcpy(c->id, id, sizeof id);
    if (!c->name[0]) {
        /* fullname is computed by Dataverse; a $select without it, or a
         * record imported without it, still has the parts. */
        char first[TKT_TEXT_MAX], last[TKT_TEXT_MAX];
        if (text_member(o, "firstname", first, sizeof first, errstr, errsz) != 0 ||
            text_member(o, "lastname", last, sizeof last, errstr, errsz) != 0)
            return -1;
        int n = snprintf(c->name, sizeof c->name, "%s%s%s", first, first[0] && last[0] ? " " : "",
                         last);
        if (n >= (int)sizeof c->name) {
            /* cut at a character boundary, as crm_text_copy does */
            size_t l = sizeof c->name - 1;
            while (l > 0 && ((unsigned char)c->name[l] & 0xC0) == 0x80)
                l--;
            c->name[l] = '\0';
        }
    }
    c->created_at_ms = time_member(o, "createdon");
    return 0;
}

static int case_of(const json_t *o, tkt_crm_ticket_t *t, char *errstr, size_t errsz)
{
    memset(t, 0, sizeof *t);
    char id[CRM_GUID_MAX], owner[CRM_GUID_MAX], customer[CRM_GUID_MAX], master[CRM_GUID_MAX];
    if (!json_is_object(o)) {
        snprintf(errstr, errsz, "case is not an object");
        return -1;
    }
    json_t *state = json_object_get(o, "statecode");
    json_t *status = json_object_get(o, "statuscode");
    if (guid_member(o, "incidentid", 1, id, errstr, errsz) != 0 ||
        guid_member(o, "_ownerid_value", 0, owner, errstr, errsz) != 0 ||
        guid_member(o, "_customerid_value", 0, customer, errstr, errsz) != 0 ||
        guid_member(o, "_masterid_value", 0, master, errstr, errsz) != 0 ||
        text_member(o, "title", t->subject, sizeof t->subject, errstr, errsz) != 0 ||
        text_member(o, "ticketnumber", t->external_id, sizeof t->external_id, errstr, errsz) != 0 ||
        /* R-V1: the number a caller can be told */
        text_member(o, "ticketnumber", t->number, sizeof t->number, errstr, errsz) != 0)
        return -1;
    if (!json_is_integer(state) || (status && !json_is_null(status) && !json_is_integer(status))) {
        snprintf(errstr, errsz, "case without an integer statecode");
        return -1;
    }
    t->status = crm_dyn_status_from((long)json_integer_value(state),
                                    json_is_integer(status) ? (long)json_integer_value(status) : 0);
    if (t->status == TKT_ST_UNKNOWN) {
        snprintf(errstr, errsz, "case statecode %lld is not one Dataverse defines",
                 (long long)json_integer_value(state));
        return -1;
    }
    memcpy(t->id, id, sizeof id);
    memcpy(t->assignee_id, owner, sizeof owner);
    memcpy(t->requester_id, customer, sizeof customer);
    /* R-T7: only a merge's deactivation names a target; masterid on a case
     * someone re-activated since is history, not where writes go. */
    if (t->status == TKT_ST_CLOSED && json_integer_value(status) == CRM_DYN_CASE_STATUS_MERGED)
        memcpy(t->merged_into, master, sizeof master);
    t->created_at_ms = time_member(o, "createdon");
    t->updated_at_ms = time_member(o, "modifiedon");
    return 0;
}

static json_t *collection(json_t *root, char *errstr, size_t errsz)
{
    json_t *value = json_object_get(root, "value");
    if (!json_is_array(value)) {
        snprintf(errstr, errsz, "response has no \"value\" array");
        return NULL;
    }
    return value;
}

typedef int (*record_fn)(const json_t *o, void *out, char *errstr, size_t errsz);

static int contact_rec(const json_t *o, void *out, char *errstr, size_t errsz)
{
    return contact_of(o, out, errstr, errsz);
}

static int case_rec(const json_t *o, void *out, char *errstr, size_t errsz)
{
    return case_of(o, out, errstr, errsz);
}

/* A collection's records, each parsed by `one` into out[i] (elem bytes apart). */
static int parse_list(const char *body, size_t len, void *out, size_t elem, size_t max, size_t *n,
                      int *more, record_fn one, char *errstr, size_t errsz)
{
    int rc = -1;
    *n = 0;
    if (more)
        *more = 0;
    json_t *root = load(body, len, errstr, errsz);
    json_t *value = root ? collection(root, errstr, errsz) : NULL;
    if (!value)
        goto cleanup;
    size_t count = json_array_size(value);
    for (size_t i = 0; i < count && i < max; i++)
        if (one(json_array_get(value, i), (char *)out + i * elem, errstr, errsz) != 0)
            goto cleanup;
    *n = count < max ? count : max;
    if (more)
        *more = count > max;
    rc = 0;
cleanup:
    json_decref(root);
    return rc;
}

int crm_dyn_parse_contacts(const char *body, size_t len, tkt_crm_contact_t *out, size_t max,
                           size_t *n, int *more, char *errstr, size_t errsz)
{
    return parse_list(body, len, out, sizeof *out, max, n, more, contact_rec, errstr, errsz);
}

_Static_assert(CRM_DYN_PHONE_ATTR_MAX == CRM_DYN_NAME_MAX, "the conf's phone column names");

/* One row of a change-tracking page: a deleted one ({"id", "reason":
 * "deleted"}), or a contact, gone when deactivated (statecode 1). */
static int change_of(json_t *o, const char (*phone_attrs)[CRM_DYN_PHONE_ATTR_MAX], size_t n_attrs,
                     tkt_crm_change_t *c, char *errstr, size_t errsz)
{
    memset(c, 0, sizeof *c);
    const char *reason = json_string_value(json_object_get(o, "reason"));
    if (reason && !json_object_get(o, "contactid")) {
        char id[CRM_GUID_MAX];
        if (guid_member(o, "id", 1, id, errstr, errsz) != 0)
            return -1;
        memcpy(c->contact.id, id, sizeof id);
        c->gone = 1;
        return 0;
    }
    if (contact_of(o, &c->contact, errstr, errsz) != 0)
        return -1;
    c->gone = json_integer_value(json_object_get(o, "statecode")) != 0;
    for (size_t i = 0; i < n_attrs && c->n_phones < TKT_CRM_MAX_PHONES; i++)
        if (crm_text_copy(o, phone_attrs[i], c->phones[c->n_phones], sizeof c->phones[0]) == 1 &&
            c->phones[c->n_phones][0])
            c->n_phones++;
    return 0;
}

int crm_dyn_parse_changes(const char *body, size_t len,
                          const char (*phone_attrs)[CRM_DYN_PHONE_ATTR_MAX], size_t n_attrs,
                          tkt_crm_change_t *out, size_t max, size_t *n, char **link, int *end,
                          char *errstr, size_t errsz)
{
    json_t *root = load(body, len, errstr, errsz);
    json_t *value = root ? json_object_get(root, "value") : NULL;
    const char *next = json_string_value(json_object_get(root, "@odata.nextLink"));
    const char *delta = json_string_value(json_object_get(root, "@odata.deltaLink"));
    int rc = -1;
    size_t i;
    json_t *o;
    *n = 0;
    *link = NULL;
    if (!json_is_array(value) || (!next && !delta) || json_array_size(value) > max) {
        snprintf(errstr, errsz, "not a change-tracking page (value, and a next or delta link)");
        goto cleanup;
    }
    json_array_foreach(value, i, o)
    {
        if (change_of(o, phone_attrs, n_attrs, &out[*n], errstr, errsz) != 0)
            goto cleanup;
        (*n)++;
    }
    *end = next == NULL;
    if (!(*link = strdup(next ? next : delta))) {
        snprintf(errstr, errsz, "out of memory");
        goto cleanup;
    }
    rc = 0;
cleanup:
    json_decref(root);
    return rc;
}

int crm_dyn_parse_cases(const char *body, size_t len, tkt_crm_ticket_t *out, size_t max, size_t *n,
                        char *errstr, size_t errsz)
{
    return parse_list(body, len, out, sizeof *out, max, n, NULL, case_rec, errstr, errsz);
}

int crm_dyn_parse_case(const char *body, size_t len, tkt_crm_ticket_t *out, char *errstr,
                       size_t errsz)
{
    json_t *root = load(body, len, errstr, errsz);
    int rc = root ? case_of(root, out, errstr, errsz) : -1;
    json_decref(root);
    return rc;
}

int crm_dyn_parse_error(const char *body, size_t len, crm_dyn_error_t *err)
{
    char ignored[64];
    memset(err, 0, sizeof *err);
    json_t *root = load(body, len, ignored, sizeof ignored);
    json_t *e = root ? json_object_get(root, "error") : NULL;
    int rc = -1;
    if (!json_is_object(e))
        goto cleanup;
    if (crm_text_copy(e, "code", err->code, sizeof err->code) != 1 ||
        crm_text_copy(e, "message", err->message, sizeof err->message) < 0) {
        memset(err, 0, sizeof *err);
        goto cleanup;
    }
    rc = 0;
cleanup:
    json_decref(root);
    return rc;
}

int crm_dyn_error_is_throttle(const crm_dyn_error_t *err)
{
    static const char *const codes[] = {"0x80072322", "0x80072321", "0x80072326"};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (strcasecmp(err->code, codes[i]) == 0)
            return 1;
    return 0;
}
