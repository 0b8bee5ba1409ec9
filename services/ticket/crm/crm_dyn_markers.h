/* R-M1 / R-M3 on Dynamics 365: the call markers Zendesk carries as tags
 * (callbus_call, callbus_missed, callbus_voicemail, callbus_outbound,
 * callbus_called_back, callbus_idle_leg, ...) are written, as the same
 * words, space-separated, to a text column of the incident
 * (CALLBUS_DYNAMICS_MARKER_COLUMN), so views and reports filter on them.
 * A write adds to what the column holds, never replaces it, as Zendesk's
 * additional_tags do. Pure: no I/O; callers own every buffer. Runs on the
 * adapter's (the service's) thread. */
#ifndef CRM_DYN_MARKERS_H
#define CRM_DYN_MARKERS_H

#include "crm_dyn_fields.h"

#include <jansson.h>
#include <stddef.h>

/* Room for the markers of a case: a text column of 400 characters (the
 * setup step's MaxLength) holds every marker the rules give. */
#define CRM_DYN_MARKERS_MAX 401

/* The tags that are markers: "callbus_<what>" (callbus_call, callbus_missed,
 * ...), and the provider's tags on the call (CallGear tag_names, one word
 * each, never starting with "callbus": tkt_rules.c provider_tag; issue 24
 * item 3). The others are not: "callbus" is on every case, and
 * "callbus-<call id>" names one call (a reused case would gather one per
 * call; Dynamics finds a call's case by its key, not by a tag). */
#define CRM_DYN_MARKER_PREFIX "callbus_"
int crm_dyn_marker_tag(const char *tag);

/* 1 when one of the n tags is a marker. */
int crm_dyn_markers_any(const char (*tags)[48], size_t n);

/* The words of `existing` (space-separated, may be NULL) followed by the
 * marker tags among the n tags that are not among them, into out. 0, or
 * -1 when the result does not fit outsz. */
int crm_dyn_markers_merge(const char *existing, const char (*tags)[48], size_t n, char *out,
                          size_t outsz);

/* 1 when `marker` is one of the words of `markers` (NULL: none). */
int crm_dyn_markers_has(const char *markers, const char *marker);

/* Start-up check: `column` ("" : markers off) is a text column (String or
 * Memo) of the incident's metadata c. 0, or -1 with err. */
int crm_dyn_markers_check(const crm_dyn_columns_t *c, const char *column, char *err, size_t errsz);

/* Sets `column` on body (a JSON object) to `existing` merged with the n
 * tags; nothing when column is "", no marker tag is new, or the merge does
 * not fit (the column keeps what it holds). 0, or -1 with err. */
int crm_dyn_markers_put(json_t *body, const char *column, const char *existing,
                        const char (*tags)[48], size_t n, char *err, size_t errsz);

/* GET URL of the markers (column, with incidentid) of the n cases ids
 * (GUIDs). 0, or -1 when an id is no GUID, n is 0 or it does not fit. */
int crm_dyn_markers_url(const crm_dyn_conf_t *conf, const char *column, const char *const *ids,
                        size_t n, char *out, size_t outsz);

#endif
