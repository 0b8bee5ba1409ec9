/* Dynamics 365 requests: see crm_dyn_request.h. URLs are built with a
 * bounded appender that fails rather than truncates: a cut-off $filter
 * would still be a valid query, for the wrong records. */
#include "crm_dyn_request.h"

#include "cmn_utf8.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Read back on creates and reads: what tkt_crm_ticket_t holds. */
#define CASE_SELECT                                                                                \
    "incidentid,title,ticketnumber,statecode,statuscode,createdon,modifiedon,"                     \
    "_customerid_value,_ownerid_value,_masterid_value"
#define CONTACT_SELECT                                                                             \
    "contactid,fullname,firstname,lastname,emailaddress1,telephone1,mobilephone,createdon"
const char crm_dyn_case_select[] = CASE_SELECT;

const char *const crm_dyn_json_headers[] = {
    "OData-MaxVersion: 4.0",         "OData-Version: 4.0",
    "Accept: application/json",      "Content-Type: application/json; charset=utf-8",
    "Prefer: return=representation", NULL};

typedef struct {
    char *p;
    size_t sz, len;
    int err;
} sb_t;

static void sb_init(sb_t *b, char *out, size_t outsz)
{
    b->p = out;
    b->sz = outsz;
    b->len = 0;
    b->err = !out || outsz == 0;
    if (!b->err)
        out[0] = '\0';
}

static void sb_printf(sb_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sb_t *b, const char *fmt, ...)
{
    if (b->err)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->len, b->sz - b->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= b->sz - b->len) {
        b->err = 1;
        return;
    }
    b->len += (size_t)n;
}

static void sb_encode(sb_t *b, const char *s)
{
    if (!b->err && crm_url_encode_append(b->p, b->sz, &b->len, s) != 0)
        b->err = 1;
}

static int sb_done(sb_t *b)
{
    if (b->err) {
        if (b->p && b->sz)
            b->p[0] = '\0';
        return -1;
    }
    return 0;
}

int crm_dyn_phone_attrs_parse(crm_dyn_conf_t *conf, const char *csv, char *errstr, size_t errsz)
{
    conf->n_phone_attrs = 0;
    const char *p = csv ? csv : "";
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *start = p;
        while (*p && *p != ',' && *p != ' ')
            p++;
        size_t n = (size_t)(p - start);
        if (n == 0)
            break;
        char name[CRM_DYN_NAME_MAX];
        if (n >= sizeof name) {
            snprintf(errstr, errsz, "phone attribute \"%.*s...\" is too long", 16, start);
            return -1;
        }
        memcpy(name, start, n);
        name[n] = '\0';
        if (!crm_odata_name_valid(name)) {
            snprintf(errstr, errsz, "\"%s\" is not a column name", name);
            return -1;
        }
        if (conf->n_phone_attrs == CRM_DYN_PHONE_ATTRS_MAX) {
            snprintf(errstr, errsz, "at most %d phone attributes", CRM_DYN_PHONE_ATTRS_MAX);
            return -1;
        }
        memcpy(conf->phone_attrs[conf->n_phone_attrs++], name, n + 1);
    }
    if (conf->n_phone_attrs == 0) {
        snprintf(errstr, errsz, "no phone attribute to search");
        return -1;
    }
    return 0;
}

/* The number as the phone columns hold it: an E.164 number ("+39...") is
 * turned into the configured look-up form (R-I2); digits alone are taken as
 * that form already (the pipeline computes it, cmn_phone_lookup_form). It is
 * never turned back into E.164: "30777100001" is an Italian national number
 * and also reads as a Greek "+30..." one. */
static int lookup_form_of(const crm_dyn_conf_t *conf, const char *number, char form[CMN_PHONE_MAX])
{
    size_t len = number ? strlen(number) : 0;
    if (len > 0 && number[0] == '+')
        return cmn_phone_lookup_form(number, conf->lookup_form, conf->country, form, CMN_PHONE_MAX);
    if (len == 0 || len >= CMN_PHONE_MAX || strspn(number, "0123456789") != len)
        return -1;
    memcpy(form, number, len + 1);
    return 0;
}

int crm_dyn_contacts_by_phone_url(const crm_dyn_conf_t *conf, const char *number, size_t max,
                                  char *out, size_t outsz)
{
    char form[CMN_PHONE_MAX], literal[3 * CMN_PHONE_MAX + 8];
    sb_t b;
    sb_init(&b, out, outsz);
    if (conf->n_phone_attrs == 0 || max == 0 || lookup_form_of(conf, number, form) != 0 ||
        crm_odata_string_literal(form, literal, sizeof literal) < 0)
        b.err = 1;
    sb_printf(&b, "%s/contacts?$select=" CONTACT_SELECT "&$filter=", conf->api_base);
    for (size_t i = 0; i < conf->n_phone_attrs; i++)
        sb_printf(&b, "%s%s%%20eq%%20%s", i ? "%20or%20" : "", conf->phone_attrs[i], literal);
    /* Newest first: with more matches than `max`, the ones kept include the
     * most recently created contact, which R-C4 falls back to. */
    sb_printf(&b, "&$orderby=createdon%%20desc&$top=%zu", max);
    return sb_done(&b);
}

/* Whether CONTACT_SELECT names the column already. */
static int selected(const char *column)
{
    char needle[CRM_DYN_NAME_MAX + 2];
    snprintf(needle, sizeof needle, ",%s,", column);
    return strstr("," CONTACT_SELECT ",", needle) != NULL;
}

int crm_dyn_contacts_changes_url(const crm_dyn_conf_t *conf, char *out, size_t outsz)
{
    sb_t b;
    sb_init(&b, out, outsz);
    sb_printf(&b, "%s/contacts?$select=" CONTACT_SELECT ",statecode", conf->api_base);
    for (size_t i = 0; i < conf->n_phone_attrs; i++)
        if (!selected(conf->phone_attrs[i]))
            sb_printf(&b, ",%s", conf->phone_attrs[i]);
    return sb_done(&b);
}

int crm_dyn_contacts_search_url(const crm_dyn_conf_t *conf, const char *query, size_t max,
                                char *out, size_t outsz)
{
    char literal[1024];
    sb_t b;
    sb_init(&b, out, outsz);
    if (!query || !*query || max == 0 ||
        crm_odata_string_literal(query, literal, sizeof literal) < 0)
        b.err = 1;
    sb_printf(&b,
              "%s/contacts?$select=" CONTACT_SELECT "&$filter=contains(fullname,%s)%%20or%%20"
              "contains(emailaddress1,%s)&$orderby=createdon%%20desc&$top=%zu",
              conf->api_base, literal, literal, max);
    return sb_done(&b);
}

int crm_dyn_contact_phone_body(const crm_dyn_conf_t *conf, const json_t *contact,
                               const char *number, char **body)
{
    char form[CMN_PHONE_MAX];
    const char *free_col = NULL;
    *body = NULL;
    if (lookup_form_of(conf, number, form) != 0)
        return -1;
    for (size_t i = 0; i < conf->n_phone_attrs; i++) {
        const char *v = json_string_value(json_object_get(contact, conf->phone_attrs[i]));
        if (v && strcmp(v, form) == 0)
            return 1;
        if ((!v || !*v) && !free_col)
            free_col = conf->phone_attrs[i];
    }
    if (!free_col)
        return -1;
    json_t *o = json_pack("{s:s}", free_col, form);
    *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return *body ? 0 : -1;
}

static int guid_or_fail(const char *id, char norm[CRM_GUID_MAX], char *out, size_t outsz)
{
    if (crm_odata_guid_norm(id, norm) != 0) {
        if (out && outsz)
            out[0] = '\0';
        return -1;
    }
    return 0;
}

/* "<api>/<set>(<id>)<suffix>" for a GUID id. The suffix is ours (a
 * constant $select), never the caller's. */
static int record_url(const crm_dyn_conf_t *conf, const char *set, const char *rid,
                      const char *suffix, char *out, size_t outsz)
{
    char id[CRM_GUID_MAX];
    sb_t b;
    if (guid_or_fail(rid, id, out, outsz) != 0)
        return -1;
    sb_init(&b, out, outsz);
    sb_printf(&b, "%s/%s(%s)%s", conf->api_base, set, id, suffix);
    return sb_done(&b);
}

int crm_dyn_contact_get_url(const crm_dyn_conf_t *conf, const char *contact_id, char *out,
                            size_t outsz)
{
    return record_url(conf, "contacts", contact_id, "?$select=" CONTACT_SELECT, out, outsz);
}

int crm_dyn_contact_record_url(const crm_dyn_conf_t *conf, const char *contact_id, char *out,
                               size_t outsz)
{
    return record_url(conf, "contacts", contact_id, "", out, outsz);
}

int crm_dyn_contact_phones_url(const crm_dyn_conf_t *conf, const char *contact_id, char *out,
                               size_t outsz)
{
    char suffix[16 + CRM_DYN_PHONE_ATTRS_MAX * CRM_DYN_NAME_MAX];
    size_t len = (size_t)snprintf(suffix, sizeof suffix, "?$select=contactid");
    for (size_t i = 0; i < conf->n_phone_attrs && len < sizeof suffix; i++)
        len += (size_t)snprintf(suffix + len, sizeof suffix - len, ",%s", conf->phone_attrs[i]);
    if (len >= sizeof suffix)
        return -1;
    return record_url(conf, "contacts", contact_id, suffix, out, outsz);
}

int crm_dyn_case_get_url(const crm_dyn_conf_t *conf, const char *incident_id, char *out,
                         size_t outsz)
{
    return record_url(conf, "incidents", incident_id, "?$select=" CASE_SELECT, out, outsz);
}

int crm_dyn_case_record_url(const crm_dyn_conf_t *conf, const char *incident_id, char *out,
                            size_t outsz)
{
    return record_url(conf, "incidents", incident_id, "", out, outsz);
}

int crm_dyn_latest_case_url(const crm_dyn_conf_t *conf, const char *contact_id, size_t top,
                            char *out, size_t outsz)
{
    char id[CRM_GUID_MAX];
    sb_t b;
    if (guid_or_fail(contact_id, id, out, outsz) != 0)
        return -1;
    sb_init(&b, out, outsz);
    if (top < 1 || top > 5000) /* Dataverse's page limit */
        b.err = 1;
    sb_printf(&b,
              "%s/incidents?$select=" CASE_SELECT
              "&$filter=_customerid_value%%20eq%%20%s&$orderby=createdon%%20desc&$top=%zu",
              conf->api_base, id, top);
    return sb_done(&b);
}

int crm_dyn_case_statuses_url(const crm_dyn_conf_t *conf, const char *const *ids, size_t n,
                              char *out, size_t outsz)
{
    char id[CRM_GUID_MAX];
    sb_t b;
    sb_init(&b, out, outsz);
    if (!ids || n == 0 || n > CRM_DYN_STATUSES_MAX)
        b.err = 1;
    sb_printf(&b, "%s/incidents?$select=" CASE_SELECT "&$filter=", conf->api_base);
    for (size_t i = 0; i < n && !b.err; i++) {
        if (crm_odata_guid_norm(ids[i], id) != 0)
            b.err = 1;
        sb_printf(&b, "%sincidentid%%20eq%%20%s", i ? "%20or%20" : "", id);
    }
    sb_printf(&b, "&$top=%zu", n);
    return sb_done(&b);
}

int crm_dyn_note_marker_url(const crm_dyn_conf_t *conf, const char *incident_id, const char *marker,
                            char *out, size_t outsz)
{
    char id[CRM_GUID_MAX], literal[512];
    sb_t b;
    if (guid_or_fail(incident_id, id, out, outsz) != 0)
        return -1;
    sb_init(&b, out, outsz);
    if (!marker || !*marker || crm_odata_string_literal(marker, literal, sizeof literal) < 0)
        b.err = 1;
    sb_printf(&b,
              "%s/annotations?$select=annotationid&$filter=_objectid_value%%20eq%%20%s%%20and%%20"
              "contains(notetext,%s)&$top=1",
              conf->api_base, id, literal);
    return sb_done(&b);
}

int crm_dyn_collection_url(const crm_dyn_conf_t *conf, const char *entity_set, const char *select,
                           char *out, size_t outsz)
{
    sb_t b;
    sb_init(&b, out, outsz);
    if (!crm_odata_name_valid(entity_set))
        b.err = 1;
    sb_printf(&b, "%s/%s", conf->api_base, entity_set);
    if (select)
        sb_printf(&b, "?$select=%s", select);
    return sb_done(&b);
}

/* ---------------------------------------------------------------- bodies */

/* Dataverse's default maximum for a case title / a note subject. */
#define DYN_TITLE_MAX 200
#define DYN_NOTE_SUBJECT_MAX 500
#define DYN_LASTNAME_MAX 50

static int text_ok(const char *s)
{
    return s && cmn_utf8_valid_str(s);
}

/* Sets `key` to a copy of `s` shortened to `max` characters (not bytes,
 * as Dataverse counts them), never splitting a UTF-8 sequence. */
static int set_text(json_t *o, const char *key, const char *s, size_t max)
{
    size_t bytes = 0, chars = 0;
    while (s[bytes] && chars < max) {
        bytes++;
        while (((unsigned char)s[bytes] & 0xC0) == 0x80)
            bytes++;
        chars++;
    }
    return json_object_set_new(o, key, json_stringn(s, bytes));
}

static char *dump(json_t *o)
{
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

char *crm_dyn_case_create_body(const char *contact_id, const char *title, const char *description,
                               const char *incident_id)
{
    char cid[CRM_GUID_MAX], iid[CRM_GUID_MAX], bind[sizeof "/contacts()" + CRM_GUID_MAX];
    if (crm_odata_guid_norm(contact_id, cid) != 0 || !text_ok(title) || !*title ||
        (description && !text_ok(description)) ||
        (incident_id && crm_odata_guid_norm(incident_id, iid) != 0))
        return NULL;
    snprintf(bind, sizeof bind, "/contacts(%s)", cid);
    json_t *o = json_object();
    if (!o || set_text(o, "title", title, DYN_TITLE_MAX) != 0 ||
        json_object_set_new(o, "caseorigincode", json_integer(CRM_DYN_CASE_ORIGIN_PHONE)) != 0 ||
        json_object_set_new(o, "customerid_contact@odata.bind", json_string(bind)) != 0 ||
        (description && json_object_set_new(o, "description", json_string(description)) != 0) ||
        (incident_id && json_object_set_new(o, "incidentid", json_string(iid)) != 0)) {
        json_decref(o);
        return NULL;
    }
    return dump(o);
}

char *crm_dyn_contact_create_body(const crm_dyn_conf_t *conf, const char *number, const char *name,
                                  const char *contact_id)
{
    char form[CMN_PHONE_MAX], cid[CRM_GUID_MAX];
    if (conf->n_phone_attrs == 0 || lookup_form_of(conf, number, form) != 0 ||
        (name && !text_ok(name)) || (contact_id && crm_odata_guid_norm(contact_id, cid) != 0))
        return NULL;
    json_t *o = json_object();
    /* lastname is the one name column Dataverse requires; an unknown
     * caller is named by their number, as agents would type it. */
    if (!o || json_object_set_new(o, conf->phone_attrs[0], json_string(form)) != 0 ||
        set_text(o, "lastname", name && *name ? name : form, DYN_LASTNAME_MAX) != 0 ||
        (contact_id && json_object_set_new(o, "contactid", json_string(cid)) != 0)) {
        json_decref(o);
        return NULL;
    }
    return dump(o);
}

char *crm_dyn_note_body(const char *incident_id, const char *subject, const char *text)
{
    char iid[CRM_GUID_MAX], bind[sizeof "/incidents()" + CRM_GUID_MAX];
    if (crm_odata_guid_norm(incident_id, iid) != 0 || !text_ok(text) ||
        (subject && !text_ok(subject)))
        return NULL;
    snprintf(bind, sizeof bind, "/incidents(%s)", iid);
    json_t *o = json_object();
    if (!o || json_object_set_new(o, "notetext", json_string(text)) != 0 ||
        json_object_set_new(o, "objectid_incident@odata.bind", json_string(bind)) != 0 ||
        (subject && set_text(o, "subject", subject, DYN_NOTE_SUBJECT_MAX) != 0)) {
        json_decref(o);
        return NULL;
    }
    return dump(o);
}

/* Our active statuses -> statuscode of an active case (statecode 0). */
static long active_statuscode(tkt_status_t st)
{
    switch (st) {
    case TKT_ST_NEW:
    case TKT_ST_OPEN:
        return 1; /* In Progress */
    case TKT_ST_PENDING:
        return 3; /* Waiting for Details */
    case TKT_ST_HOLD:
        return 2; /* On Hold */
    default:
        return -1;
    }
}

char *crm_dyn_case_update_body(const char *owner_id, tkt_status_t status)
{
    char oid[CRM_GUID_MAX], bind[sizeof "/systemusers()" + CRM_GUID_MAX];
    long code = status == TKT_ST_UNKNOWN ? 0 : active_statuscode(status);
    if ((!owner_id && code == 0) || code < 0 ||
        (owner_id && crm_odata_guid_norm(owner_id, oid) != 0))
        return NULL;
    json_t *o = json_object();
    if (!o)
        return NULL;
    if (owner_id) {
        snprintf(bind, sizeof bind, "/systemusers(%s)", oid);
        if (json_object_set_new(o, "ownerid@odata.bind", json_string(bind)) != 0)
            goto fail;
    }
    if (code > 0 && (json_object_set_new(o, "statecode", json_integer(0)) != 0 ||
                     json_object_set_new(o, "statuscode", json_integer(code)) != 0))
        goto fail;
    return dump(o);
fail:
    json_decref(o);
    return NULL;
}

char *crm_dyn_close_case_body(const char *incident_id, const char *subject)
{
    char iid[CRM_GUID_MAX], bind[sizeof "/incidents()" + CRM_GUID_MAX];
    if (crm_odata_guid_norm(incident_id, iid) != 0 || !text_ok(subject) || !*subject)
        return NULL;
    snprintf(bind, sizeof bind, "/incidents(%s)", iid);
    json_t *o = json_object();
    json_t *res = json_object();
    /* set_new steals `res` whether or not it succeeds: after it, only o is freed. */
    if (!o || !res || json_object_set_new(o, "IncidentResolution", res) != 0) {
        if (!o)
            json_decref(res);
        json_decref(o);
        return NULL;
    }
    if (set_text(res, "subject", subject, DYN_TITLE_MAX) != 0 ||
        json_object_set_new(res, "incidentid@odata.bind", json_string(bind)) != 0 ||
        json_object_set_new(o, "Status", json_integer(5)) != 0) { /* 5 = Problem Solved */
        json_decref(o);
        return NULL;
    }
    return dump(o);
}

tkt_status_t crm_dyn_status_from(long statecode, long statuscode)
{
    switch (statecode) {
    case 0:
        switch (statuscode) {
        case 1:
        case 4:
            return TKT_ST_OPEN;
        case 2:
            return TKT_ST_HOLD;
        case 3:
            return TKT_ST_PENDING;
        default:
            return TKT_ST_OPEN; /* a custom active reason: still active */
        }
    case 1:
        return TKT_ST_SOLVED;
    case 2:
        return TKT_ST_CLOSED;
    default:
        return TKT_ST_UNKNOWN;
    }
}

/* ------------------------------------------------------------------ pops */

static void form_prefix(sb_t *b, const crm_dyn_conf_t *conf, const char *etn)
{
    sb_printf(b, "%s/main.aspx?", conf->app_base);
    if (conf->app_id && *conf->app_id) {
        char id[CRM_GUID_MAX];
        if (crm_odata_guid_norm(conf->app_id, id) != 0)
            b->err = 1;
        else
            sb_printf(b, "appid=%s&", id);
    }
    sb_printf(b, "pagetype=entityrecord&etn=%s", etn);
}

static int record_form(const crm_dyn_conf_t *conf, const char *etn, const char *rid, char *out,
                       size_t outsz)
{
    char id[CRM_GUID_MAX];
    sb_t b;
    if (guid_or_fail(rid, id, out, outsz) != 0)
        return -1;
    sb_init(&b, out, outsz);
    form_prefix(&b, conf, etn);
    sb_printf(&b, "&id=%s", id);
    return sb_done(&b);
}

int crm_dyn_case_form_url(const crm_dyn_conf_t *conf, const char *incident_id, char *out,
                          size_t outsz)
{
    return record_form(conf, "incident", incident_id, out, outsz);
}

int crm_dyn_contact_form_url(const crm_dyn_conf_t *conf, const char *contact_id, char *out,
                             size_t outsz)
{
    return record_form(conf, "contact", contact_id, out, outsz);
}

int crm_dyn_new_case_form_url(const crm_dyn_conf_t *conf, const char *contact_id,
                              const char *contact_name, const char *title, char *out, size_t outsz)
{
    /* extraqs is itself a query string ("customerid=..&customeridname=.."),
     * passed as one encoded parameter: each value is encoded once inside it
     * and the whole once more, so a name holding '&' or '=' stays a value. */
    char extra[1024], id[CRM_GUID_MAX];
    sb_t e, b;
    sb_init(&e, extra, sizeof extra);
    if (contact_id && *contact_id) {
        if (crm_odata_guid_norm(contact_id, id) != 0 || (contact_name && !text_ok(contact_name)))
            e.err = 1;
        sb_printf(&e, "customerid=%s&customeridtype=contact", id);
        if (contact_name && *contact_name) {
            sb_printf(&e, "&customeridname=");
            sb_encode(&e, contact_name);
        }
    }
    if (title && *title) {
        if (!text_ok(title))
            e.err = 1;
        sb_printf(&e, "%stitle=", e.len ? "&" : "");
        sb_encode(&e, title);
    }
    if (sb_done(&e) != 0) {
        if (out && outsz)
            out[0] = '\0';
        return -1;
    }
    sb_init(&b, out, outsz);
    form_prefix(&b, conf, "incident");
    if (e.len) {
        sb_printf(&b, "&extraqs=");
        sb_encode(&b, extra);
    }
    return sb_done(&b);
}

int crm_dyn_pop_url(const crm_dyn_conf_t *conf, const char *incident_id, const char *contact_id,
                    const char *title, char *out, size_t outsz)
{
    if (incident_id && *incident_id)
        return crm_dyn_case_form_url(conf, incident_id, out, outsz);
    if (contact_id && *contact_id)
        return crm_dyn_contact_form_url(conf, contact_id, out, outsz);
    return crm_dyn_new_case_form_url(conf, NULL, NULL, title, out, outsz);
}
