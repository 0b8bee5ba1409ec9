/* Dynamics 365 (Dataverse Web API) responses, parsed into the CRM
 * interface's records (tkt_crm.h). Pure: the body is borrowed, results go
 * into caller storage, every string is bounded (crm_text_copy) and every
 * id must be a GUID, so a record the CRM sends malformed is refused rather
 * than passed on half-read. 0 on success; -1 with errstr saying why. */
#ifndef CRM_DYN_PARSE_H
#define CRM_DYN_PARSE_H

#include "tkt_crm.h"

#include <stddef.h>

/* A Dataverse error: {"error":{"code":"0x80040217","message":"..."}}. */
typedef struct {
    char code[16];     /* "0x80040217"; "" when the body is not an error body */
    char message[256]; /* bounded, control characters blanked */
} crm_dyn_error_t;

/* Issue 26 item 3: one page of change tracking on contacts. Rows as
 * crm_dyn_parse_contacts, plus statecode (not 0: gone) and the phone
 * columns named in phone_attrs; a deleted row ({"id", "reason"}) is gone.
 * *link: the page's @odata.nextLink (*end 0) or @odata.deltaLink (*end 1),
 * a new string the caller frees. More than max rows: refused (ask for
 * odata.maxpagesize = max). */
#define CRM_DYN_PHONE_ATTR_MAX 65
int crm_dyn_parse_changes(const char *body, size_t len,
                          const char (*phone_attrs)[CRM_DYN_PHONE_ATTR_MAX], size_t n_attrs,
                          tkt_crm_change_t *out, size_t max, size_t *n, char **link, int *end,
                          char *errstr, size_t errsz) __attribute__((warn_unused_result));

/* A contacts collection ({"value":[...]}) into out[0..max): id (contactid),
 * name (fullname, else "firstname lastname"), email (emailaddress1),
 * created_at_ms (createdon). More than `max` records: the first `max`, and
 * *more set (NULL allowed). */
int crm_dyn_parse_contacts(const char *body, size_t len, tkt_crm_contact_t *out, size_t max,
                           size_t *n, int *more, char *errstr, size_t errsz)
    __attribute__((warn_unused_result));

/* An incidents collection, same rules: id (incidentid), status
 * (statecode/statuscode, crm_dyn_status_from), subject (title),
 * assignee_id (_ownerid_value), requester_id (_customerid_value),
 * external_id and number (ticketnumber, the number agents quote and the IVR
 * reads to callers, R-V1), created/updated. */
int crm_dyn_parse_cases(const char *body, size_t len, tkt_crm_ticket_t *out, size_t max, size_t *n,
                        char *errstr, size_t errsz) __attribute__((warn_unused_result));

/* One incident (a retrieve, or a create / update with
 * Prefer: return=representation). */
int crm_dyn_parse_case(const char *body, size_t len, tkt_crm_ticket_t *out, char *errstr,
                       size_t errsz) __attribute__((warn_unused_result));

/* Reads a Dataverse error body; 0 when it is one, -1 (err->code "") when not. */
int crm_dyn_parse_error(const char *body, size_t len, crm_dyn_error_t *err);

/* 1 when the error code is one of the three service-protection limits
 * (0x80072322 requests, 0x80072321 execution time, 0x80072326 concurrency):
 * wait for Retry-After and slow down, do not count it as a failure. */
int crm_dyn_error_is_throttle(const crm_dyn_error_t *err);

#endif
