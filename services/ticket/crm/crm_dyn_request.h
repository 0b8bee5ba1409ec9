/* Dynamics 365 (Dataverse Web API, OData v4): the requests our operations
 * map onto, built as URLs and JSON bodies. Pure: no I/O; URLs go into
 * caller buffers (-1 when one does not fit: nothing is ever cut short),
 * bodies are new strings the caller free()s. Every id is checked to be a
 * GUID and every name of configuration a plain OData name before it is put
 * into a URL, so nothing a caller passes can change a query's meaning.
 *
 * Mapping (docs/dynamics.md): contacts found by phone in their look-up form
 * (R-I2, R-C1); the contact's newest cases (R-V1); a case created with the
 * call's title and origin Phone (R-T1); call comments as notes
 * (annotations) on the case; owner and status as a PATCH, resolution as the
 * CloseIncident action; record URLs for pops (R-P3). */
#ifndef CRM_DYN_REQUEST_H
#define CRM_DYN_REQUEST_H

#include "cmn_phone.h"
#include "crm_odata.h"
#include "tkt_model.h"

#include <stddef.h>

#define CRM_DYN_PHONE_ATTRS_MAX                                                                    \
    4 /* an OR of more would be a slow query; 4 is all a contact has                               \
       */
#define CRM_DYN_NAME_MAX 65
#define CRM_DYN_CASE_ORIGIN_PHONE 1 /* caseorigincode: Phone */
/* statuscode of a case Dataverse's Merge deactivated (statecode 2); its
 * masterid names the case it went into (R-T7). */
#define CRM_DYN_CASE_STATUS_MERGED 2000

typedef struct {
    /* Web API root, no trailing slash: "https://org.api.crm.dynamics.com/api/data/v9.2". */
    const char *api_base;
    /* The organisation's app URL for forms: "https://org.crm.dynamics.com". */
    const char *app_base;
    /* Optional model-driven app id (appid= on form URLs); NULL or "" for none. */
    const char *app_id;
    /* The contact columns searched for the caller's number, in order
     * (configuration: telephone1, mobilephone, telephone2 ...). */
    char phone_attrs[CRM_DYN_PHONE_ATTRS_MAX][CRM_DYN_NAME_MAX];
    size_t n_phone_attrs;
    /* How the organisation stores numbers (R-I2): the Dynamics flow keeps
     * them national, '+' and country code stripped. */
    cmn_phone_lookup_t lookup_form;
    const cmn_country_t *country; /* borrowed (static in cmn_phone) */
} crm_dyn_conf_t;

/* The headers of every Web API request with a JSON body or answer:
 * OData-MaxVersion/OData-Version 4.0, JSON both ways, and
 * Prefer: return=representation so a create or update answers with the
 * record ($select-ed) instead of 204 and a header crm_curl does not keep.
 * NULL-terminated, static. */
extern const char *const crm_dyn_json_headers[];

/* Parses the phone attributes setting, "telephone1,mobilephone" (spaces
 * around names allowed), into conf->phone_attrs. 0, or -1 with errstr when
 * empty, more than CRM_DYN_PHONE_ATTRS_MAX, or a name is not an OData name. */
int crm_dyn_phone_attrs_parse(crm_dyn_conf_t *conf, const char *csv, char *errstr, size_t errsz)
    __attribute__((warn_unused_result));

/* The query for contacts whose phone columns hold `number`: an E.164 number
 * is put in the configured look-up form, digits alone are that form already
 * (R-I2): contacts?$select=...&$filter=telephone1 eq '0612345678' or
 * mobilephone eq '0612345678'&$orderby=createdon desc&$top=max. -1 when
 * number is neither a possible E.164 number nor digits, or out is too small. */
int crm_dyn_contacts_by_phone_url(const crm_dyn_conf_t *conf, const char *number, size_t max,
                                  char *out, size_t outsz) __attribute__((warn_unused_result));

/* Issue 26 item 3: the first request of change tracking on contacts (the
 * contact mirror's feed): every contact's display columns, statecode and
 * the look-up's phone columns; sent with "Prefer: odata.track-changes".
 * 0, or -1 when it does not fit. */
int crm_dyn_contacts_changes_url(const crm_dyn_conf_t *conf, char *out, size_t outsz)
    __attribute__((warn_unused_result));
/* Issue 24 item 2: contacts whose full name or e-mail contain what an
 * agent typed (an unknown caller's "find the customer to link"):
 * contacts?$select=...&$filter=contains(fullname,'q') or
 * contains(emailaddress1,'q')&$orderby=createdon desc&$top=max. -1 when
 * query is empty, not UTF-8, or out is too small. */
int crm_dyn_contacts_search_url(const crm_dyn_conf_t *conf, const char *query, size_t max,
                                char *out, size_t outsz) __attribute__((warn_unused_result));

/* Issue 24 item 2: one contact's id and configured phone columns, read
 * before the caller's number is added to it. */
int crm_dyn_contact_phones_url(const crm_dyn_conf_t *conf, const char *contact_id, char *out,
                               size_t outsz) __attribute__((warn_unused_result));

/* The PATCH body that adds `number` (E.164, written in the look-up form,
 * R-I2, so R-C1's look-up finds it) to `contact` (the record read with
 * crm_dyn_contact_phones_url) in its first empty phone column: 0 with
 * *body (free()), 1 when a column holds it already (nothing to write), -1
 * when every column is taken, the number is unusable, or out of memory
 * (*body NULL). */
int crm_dyn_contact_phone_body(const crm_dyn_conf_t *conf, const json_t *contact,
                               const char *number, char **body) __attribute__((warn_unused_result));

/* The contact's record, for a PATCH. */
int crm_dyn_contact_record_url(const crm_dyn_conf_t *conf, const char *contact_id, char *out,
                               size_t outsz) __attribute__((warn_unused_result));

/* One contact by id, display columns only. */
int crm_dyn_contact_get_url(const crm_dyn_conf_t *conf, const char *contact_id, char *out,
                            size_t outsz) __attribute__((warn_unused_result));

/* The contact's `top` (1..5000) newest cases, whatever their state (R-V1:
 * the rules pick the latest or the latest unresolved, as configured):
 * incidents?$select=...&$filter=_customerid_value eq <guid>
 * &$orderby=createdon desc&$top=<top> */
int crm_dyn_latest_case_url(const crm_dyn_conf_t *conf, const char *contact_id, size_t top,
                            char *out, size_t outsz) __attribute__((warn_unused_result));

/* One case by id (status, owner, title): incidents(<guid>)?$select=... */
int crm_dyn_case_get_url(const crm_dyn_conf_t *conf, const char *incident_id, char *out,
                         size_t outsz) __attribute__((warn_unused_result));

/* The status of up to CRM_DYN_STATUSES_MAX cases in one read (R-T10):
 * incidents?$select=<case columns>&$filter=incidentid eq <a> or incidentid eq
 * <b> ...&$top=n. 100 GUIDs are about 6 KB of URL, well under Dataverse's
 * 32 KB for a GET. Answers come in no particular order: match them by id. */
#define CRM_DYN_STATUSES_MAX 100
int crm_dyn_case_statuses_url(const crm_dyn_conf_t *conf, const char *const *ids, size_t n,
                              char *out, size_t outsz) __attribute__((warn_unused_result));

/* Whether a note on the case holds `marker` (recovery of a comment whose
 * answer was lost, when notes do not carry our own ids):
 * annotations?$select=annotationid&$filter=_objectid_value eq <guid> and
 * contains(notetext,'<marker>')&$top=1 */
int crm_dyn_note_marker_url(const crm_dyn_conf_t *conf, const char *incident_id, const char *marker,
                            char *out, size_t outsz) __attribute__((warn_unused_result));

/* The collection URL to POST a create to: "<api>/incidents", "<api>/annotations".
 * `select` (NULL: none) is appended as $select for Prefer: return=representation. */
int crm_dyn_collection_url(const crm_dyn_conf_t *conf, const char *entity_set, const char *select,
                           char *out, size_t outsz) __attribute__((warn_unused_result));

/* A case's record URL for PATCH: "<api>/incidents(<guid>)". */
int crm_dyn_case_record_url(const crm_dyn_conf_t *conf, const char *incident_id, char *out,
                            size_t outsz) __attribute__((warn_unused_result));

/* The $select a created case is read back with (Prefer: return=representation). */
extern const char crm_dyn_case_select[];

/* Body of a case create: title, description (may be NULL), origin Phone,
 * the customer bound to the contact. `incident_id` (NULL: Dataverse picks)
 * sets the primary key, so that a create sent twice after an unclear answer
 * is refused as a duplicate instead of making a second case (docs/dynamics.md).
 * Returns a new string (free()), or NULL on a bad id / text / no memory. */
char *crm_dyn_case_create_body(const char *contact_id, const char *title, const char *description,
                               const char *incident_id) __attribute__((warn_unused_result));

/* Body of a contact create (R-C2): `number` in the look-up form (as for
 * crm_dyn_contacts_by_phone_url: E.164 or the form already) in the
 * first configured phone column (so that the next look-up finds it),
 * lastname = `name` (NULL or "": the number). `contact_id` (NULL: Dataverse
 * picks) sets the primary key, as for cases. New string or NULL. */
char *crm_dyn_contact_create_body(const crm_dyn_conf_t *conf, const char *number, const char *name,
                                  const char *contact_id) __attribute__((warn_unused_result));

/* Body of a note on a case: subject (may be NULL) and text. New string or NULL. */
char *crm_dyn_note_body(const char *incident_id, const char *subject, const char *text)
    __attribute__((warn_unused_result));

/* Body of a PATCH on an active case: new owner (systemuser GUID, NULL: unchanged)
 * and/or status (TKT_ST_UNKNOWN: unchanged; only statuses of an active case:
 * new/open/pending/hold). NULL when nothing to change or not expressible. */
char *crm_dyn_case_update_body(const char *owner_id, tkt_status_t status)
    __attribute__((warn_unused_result));

/* Body of the CloseIncident action (solved/closed: Dataverse resolves a case
 * only through it, never by a PATCH of statecode). New string or NULL. */
char *crm_dyn_close_case_body(const char *incident_id, const char *subject)
    __attribute__((warn_unused_result));

/* Dataverse statecode/statuscode -> our status; statecode 0 with status
 * 1 In Progress / 4 Researching = open, 2 = hold, 3 = pending; 1 Resolved =
 * solved; 2 Cancelled = closed. TKT_ST_UNKNOWN for anything else. */
tkt_status_t crm_dyn_status_from(long statecode, long statuscode);

/* ------------------------------------------------------------ pops (R-P3) */

/* The case form: <app>/main.aspx?[appid=..&]pagetype=entityrecord&etn=incident&id=<guid> */
int crm_dyn_case_form_url(const crm_dyn_conf_t *conf, const char *incident_id, char *out,
                          size_t outsz) __attribute__((warn_unused_result));
/* The contact form: ...&etn=contact&id=<guid> */
int crm_dyn_contact_form_url(const crm_dyn_conf_t *conf, const char *contact_id, char *out,
                             size_t outsz) __attribute__((warn_unused_result));
/* The new-case form, ...&etn=incident with no id; prefilled through extraqs
 * with the customer when one is known (contact_id, contact_name; NULL for
 * none) and the title (NULL for none). */
int crm_dyn_new_case_form_url(const crm_dyn_conf_t *conf, const char *contact_id,
                              const char *contact_name, const char *title, char *out, size_t outsz)
    __attribute__((warn_unused_result));

/* R-P3's choice: the case when there is one, else the contact's profile,
 * else the new-case form titled `title`. Ids NULL or "" when unknown. */
int crm_dyn_pop_url(const crm_dyn_conf_t *conf, const char *incident_id, const char *contact_id,
                    const char *title, char *out, size_t outsz) __attribute__((warn_unused_result));

#endif
