/* Phone numbers: E.164 normalisation with a default country (R-I1) and the
 * form a CRM searches by (R-I2). Pure functions, caller-provided buffers. */
#ifndef CMN_PHONE_H
#define CMN_PHONE_H

#include <stddef.h>

#define CMN_PHONE_MAX 17 /* '+', 15 digits, NUL */

typedef enum {
    CMN_PHONE_OK = 0,
    CMN_PHONE_WITHHELD = 1, /* anonymous / private / empty: no number to key on */
    CMN_PHONE_INVALID = -1, /* letters, too short or too long */
} cmn_phone_rc_t;

/* A country as used for numbers dialled without an international prefix. */
typedef struct {
    char iso[3];       /* "IT" */
    char code[4];      /* calling code digits, "39" */
    int strips_trunk0; /* national numbers carry a trunk '0' dropped in E.164 (not IT) */
} cmn_country_t;

/* Looks up an ISO 3166 alpha-2 code ("IT", case-insensitive) or a calling
 * code ("+39" or "39"); returns NULL when unknown. Borrowed, static. */
const cmn_country_t *cmn_phone_country(const char *iso_or_code);

/* Normalises `raw` ("0039 06-1234 5678", "(212) 555-0100", "+90 532 ...")
 * to E.164 in `out` (>= CMN_PHONE_MAX bytes). `country` may be NULL: then a
 * number without international prefix is invalid. */
cmn_phone_rc_t cmn_phone_e164(const char *raw, const cmn_country_t *country, char *out,
                              size_t outsz);

typedef enum {
    CMN_PHONE_LOOKUP_E164,     /* "+390612345678" */
    CMN_PHONE_LOOKUP_DIGITS,   /* "390612345678" */
    CMN_PHONE_LOOKUP_NATIONAL, /* "0612345678": '+' and country code stripped (Dynamics flow) */
} cmn_phone_lookup_t;

/* Parses "e164|digits|national"; -1 when unknown. */
int cmn_phone_lookup_parse(const char *s, cmn_phone_lookup_t *out);

/* Writes the CRM look-up form of an E.164 number. For NATIONAL, the number's
 * own country code is stripped when it is `country`'s (trunk '0' restored
 * where the country uses one); a foreign number keeps its digits form.
 * Returns 0, or -1 when `e164` is not E.164 or `out` too small. */
int cmn_phone_lookup_form(const char *e164, cmn_phone_lookup_t form, const cmn_country_t *country,
                          char *out, size_t outsz);

#endif
