/* OData v4 helpers shared by OData CRMs: see crm_odata.h. */
#include "crm_odata.h"

#include "cmn_utf8.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

int crm_odata_guid_valid(const char *s)
{
    if (!s || strlen(s) != CRM_GUID_LEN)
        return 0;
    for (size_t i = 0; i < CRM_GUID_LEN; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
            return 0;
    }
    return 1;
}

int crm_odata_guid_norm(const char *s, char out[CRM_GUID_MAX])
{
    if (!crm_odata_guid_valid(s))
        return -1;
    for (size_t i = 0; i < CRM_GUID_LEN; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[CRM_GUID_LEN] = '\0';
    return 0;
}

static int hexval(char c)
{
    return isdigit((unsigned char)c) ? c - '0' : tolower((unsigned char)c) - 'a' + 10;
}

int crm_odata_guid_from_name(const char *ns, const char *name, char out[CRM_GUID_MAX])
{
    unsigned char buf[16 + 1024], md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    size_t nl = name ? strlen(name) : 0;
    if (!crm_odata_guid_valid(ns) || nl == 0 || nl > 1024)
        return -1;
    for (size_t i = 0, j = 0; i < CRM_GUID_LEN; i++) {
        if (ns[i] == '-')
            continue;
        buf[j / 2] = (unsigned char)(j % 2 ? buf[j / 2] | hexval(ns[i]) : hexval(ns[i]) << 4);
        j++;
    }
    memcpy(buf + 16, name, nl);
    if (EVP_Digest(buf, 16 + nl, md, &mdlen, EVP_sha1(), NULL) != 1 || mdlen < 16)
        return -1;
    md[6] = (unsigned char)((md[6] & 0x0f) | 0x50); /* version 5 */
    md[8] = (unsigned char)((md[8] & 0x3f) | 0x80); /* RFC 9562 variant */
    snprintf(out, CRM_GUID_MAX,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", md[0], md[1],
             md[2], md[3], md[4], md[5], md[6], md[7], md[8], md[9], md[10], md[11], md[12], md[13],
             md[14], md[15]);
    return 0;
}

static int unreserved(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* Appends one byte percent-encoded unless unreserved; -1 when out is full. */
static int put_encoded(char *out, size_t outsz, size_t *len, unsigned char c)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t need = unreserved(c) ? 1 : 3;
    if (*len + need >= outsz)
        return -1;
    if (need == 1) {
        out[(*len)++] = (char)c;
    } else {
        out[(*len)++] = '%';
        out[(*len)++] = hex[c >> 4];
        out[(*len)++] = hex[c & 15];
    }
    return 0;
}

int crm_odata_string_literal(const char *value, char *out, size_t outsz)
{
    size_t len = 0;
    if (!value || !out || outsz == 0 || !cmn_utf8_valid_str(value))
        return -1;
    if (put_encoded(out, outsz, &len, '\'') != 0)
        return -1;
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return -1;
        if (put_encoded(out, outsz, &len, *p) != 0)
            return -1;
        /* The quote inside a literal is written twice (OData's escape). */
        if (*p == '\'' && put_encoded(out, outsz, &len, '\'') != 0)
            return -1;
    }
    if (put_encoded(out, outsz, &len, '\'') != 0)
        return -1;
    out[len] = '\0';
    return (int)len;
}

int crm_url_encode_append(char *out, size_t outsz, size_t *len, const char *s)
{
    size_t start = *len;
    if (!out || *len >= outsz)
        return -1;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (put_encoded(out, outsz, len, *p) != 0) {
            *len = start;
            out[start] = '\0';
            return -1;
        }
    }
    out[*len] = '\0';
    return 0;
}

int crm_odata_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 64 || !(isalpha((unsigned char)name[0]) || name[0] == '_'))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!(isalnum((unsigned char)name[i]) || name[i] == '_'))
            return 0;
    return 1;
}

int crm_odata_entity_id_key(const char *entity_id, const char *entity_set, char out[CRM_GUID_MAX])
{
    size_t n = entity_id ? strlen(entity_id) : 0;
    /* "<set>(" + GUID + ")" at the very end */
    if (n < CRM_GUID_LEN + 3 || entity_id[n - 1] != ')' || entity_id[n - CRM_GUID_LEN - 2] != '(')
        return -1;
    char key[CRM_GUID_MAX];
    memcpy(key, entity_id + n - CRM_GUID_LEN - 1, CRM_GUID_LEN);
    key[CRM_GUID_LEN] = '\0';
    if (entity_set) {
        size_t sl = strlen(entity_set);
        size_t set_end = n - CRM_GUID_LEN - 2; /* index of '(' */
        if (set_end < sl || strncmp(entity_id + set_end - sl, entity_set, sl) != 0 ||
            (set_end > sl && entity_id[set_end - sl - 1] != '/'))
            return -1;
    }
    return crm_odata_guid_norm(key, out);
}

int crm_text_copy(const json_t *obj, const char *key, char *out, size_t outsz)
{
    if (!out || outsz == 0)
        return -1;
    out[0] = '\0';
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return -1;
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (strlen(s) != len)
        return -1; /* an embedded NUL: not a name we can show */
    int truncated = 0;
    if (len >= outsz) {
        len = outsz - 1;
        /* Back up over continuation bytes so no character is cut in half. */
        while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
            len--;
        truncated = 1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
    }
    out[len] = '\0';
    return truncated ? 2 : 1;
}
