/* OData v4 pieces any OData CRM shares (Dynamics 365 / Dataverse first):
 * GUID keys (also name-based ones, by OpenSSL's SHA-1), string literals
 * inside a $filter, the key of an entity id URL, and bounded copies of the
 * text a CRM sends back. Pure functions into caller buffers, no I/O. */
#ifndef CRM_ODATA_H
#define CRM_ODATA_H

#include <jansson.h>
#include <stddef.h>

#define CRM_GUID_LEN 36 /* "00aa00aa-bb11-cc22-dd33-44ee44ee44ee" */
#define CRM_GUID_MAX (CRM_GUID_LEN + 1)

/* 1 when `s` is exactly a GUID in its 8-4-4-4-12 hexadecimal form. */
int crm_odata_guid_valid(const char *s);

/* Copies a valid GUID in lower case (Dataverse answers in lower case, so
 * ids compare as strings). 0, or -1 when `s` is not a GUID. */
int crm_odata_guid_norm(const char *s, char out[CRM_GUID_MAX]) __attribute__((warn_unused_result));

/* A name-based GUID (RFC 9562 UUID version 5: SHA-1 of the namespace's 16
 * bytes and `name`), lower case: the same name always gives the same id.
 * It lets a create carry its own primary key, derived from our external id,
 * so that sending it twice is refused as a duplicate instead of making a
 * second record. 0, or -1 when `ns` is not a GUID or `name` is empty or
 * longer than 1024 bytes. */
int crm_odata_guid_from_name(const char *ns, const char *name, char out[CRM_GUID_MAX])
    __attribute__((warn_unused_result));

/* Writes `value` as an OData string literal ready for a URL query: single
 * quotes around it, a quote inside doubled (OData ABNF: SQUOTE-in-string),
 * then every byte but RFC 3986 unreserved characters percent-encoded, so
 * "O'Brien" gives "%27O%27%27Brien%27". Refuses (-1) text that is not UTF-8
 * or holds a control character, and an `out` too small. Returns the length. */
int crm_odata_string_literal(const char *value, char *out, size_t outsz)
    __attribute__((warn_unused_result));

/* Appends `s` percent-encoded (everything but RFC 3986 unreserved
 * characters) at out + *len, keeping out NUL-terminated. 0, or -1 when it
 * does not fit (out then holds what fitted before the call). */
int crm_url_encode_append(char *out, size_t outsz, size_t *len, const char *s)
    __attribute__((warn_unused_result));

/* 1 when `name` can be an OData property / entity set name from our
 * configuration: [A-Za-z_][A-Za-z0-9_]*, at most 64 characters. */
int crm_odata_name_valid(const char *name);

/* The key of an entity id ("https://org/api/data/v9.2/incidents(<guid>)",
 * as in OData-EntityId or @odata.id) when it names a record of `entity_set`
 * (NULL: any). 0, or -1 when it does not end in "<set>(<guid>)". */
int crm_odata_entity_id_key(const char *entity_id, const char *entity_set, char out[CRM_GUID_MAX])
    __attribute__((warn_unused_result));

/* A bounded copy of a CRM's text: the JSON string member `key` of `obj`
 * (borrowed) into `out`, cut at a UTF-8 character boundary when it does not
 * fit (jansson has already checked it is UTF-8), control characters
 * replaced by spaces so that nothing a CRM sends can forge a log line or a
 * header. 1 = copied whole, 2 = truncated, 0 = absent or
 * null (out is ""), -1 = present but not a string or holding a NUL. */
int crm_text_copy(const json_t *obj, const char *key, char *out, size_t outsz);

#endif
