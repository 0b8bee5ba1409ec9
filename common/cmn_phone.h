/* Phone numbers: E.164 normalisation with a default country (R-I1) and the
 * form a CRM searches by (R-I2), both decided by Google's libphonenumber
 * (its numbering plans, not ours). Implemented in C++ (cmn_phone.cc) behind
 * this C API. Pure functions, caller-provided buffers; thread-safe. */
#ifndef CMN_PHONE_H
#define CMN_PHONE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CMN_PHONE_MAX 17 /* '+', 15 digits, NUL */

typedef enum {
    CMN_PHONE_OK = 0,
    CMN_PHONE_WITHHELD = 1, /* anonymous / private / empty: no number to key on */
    CMN_PHONE_INTERNAL = 2, /* a short extension: an internal call, no customer */
    CMN_PHONE_INVALID = -1, /* letters, or no reading libphonenumber finds possible */
} cmn_phone_rc_t;

/* A country as used for numbers dialled without an international prefix. */
typedef struct {
    char iso[3];  /* "IT" */
    char code[4]; /* calling code digits, "39" */
} cmn_country_t;

/* Looks up an ISO 3166 alpha-2 code ("IT", case-insensitive) or a calling
 * code ("+39" or "39": its main country); returns NULL when libphonenumber
 * does not know it. Borrowed, static. */
const cmn_country_t *cmn_phone_country(const char *iso_or_code);

/* How a provider writes numbers that carry no '+' or international prefix
 * (CALLBUS_INGEST_<PROVIDER>_NUMBER_FORMAT). It only decides between two
 * readings that are both valid; a reading that is not valid never wins. */
typedef enum {
    CMN_PHONE_FORMAT_AUTO = 0,      /* both valid: national (the default country's) */
    CMN_PHONE_FORMAT_INTERNATIONAL, /* full international digits without '+' (CallGear) */
    CMN_PHONE_FORMAT_NATIONAL,      /* national numbers of the default country */
} cmn_phone_format_t;

/* Parses "auto|international|national"; -1 when unknown. */
int cmn_phone_format_parse(const char *s, cmn_phone_format_t *out);

typedef struct {
    const cmn_country_t *country; /* NULL: only international numbers are accepted */
    cmn_phone_format_t format;
    int internal_max_digits; /* bare numbers this short are extensions; 0: none are */
} cmn_phone_opts_t;

/* Normalises `raw` ("0039 06-1234 5678", "(212) 736-5000", "905321112233")
 * to E.164 in `out` (>= CMN_PHONE_MAX bytes). The readings are: as dialled
 * internationally ('+', "00", the country's own international prefix, or -
 * for bare digits - the digits as a country code and number) and as a
 * national number of opts->country (its trunk prefix removed as its plan
 * says). Only a reading libphonenumber finds possible is taken; a valid one
 * wins over one that is merely possible; two valid ones are decided by
 * opts->format. A bare-digit number no reading of which is valid is refused
 * unless opts->format says which reading it is. */
cmn_phone_rc_t cmn_phone_normalise(const char *raw, const cmn_phone_opts_t *opts, char *out,
                                   size_t outsz);

/* cmn_phone_normalise with format auto and no extensions: for numbers a
 * person typed (IVR API, pre-created tickets). */
cmn_phone_rc_t cmn_phone_e164(const char *raw, const cmn_country_t *country, char *out,
                              size_t outsz);

typedef enum {
    CMN_PHONE_LOOKUP_E164,     /* "+390612345678" */
    CMN_PHONE_LOOKUP_DIGITS,   /* "390612345678" */
    CMN_PHONE_LOOKUP_NATIONAL, /* "0612345678": '+' and country code stripped (Dynamics flow) */
} cmn_phone_lookup_t;

/* Parses "e164|digits|national"; -1 when unknown. */
int cmn_phone_lookup_parse(const char *s, cmn_phone_lookup_t *out);

/* Writes the CRM look-up form of an E.164 number. NATIONAL is the number as
 * dialled within `country` when it is that country's, in digits only (with
 * the trunk prefix its format needs: "02079460018", "89161234567",
 * "0612345678"); a foreign number, or no country, gives the digits form.
 * Returns 0, or -1 when `e164` is not a possible E.164 number or `out` is
 * too small. */
int cmn_phone_lookup_form(const char *e164, cmn_phone_lookup_t form, const cmn_country_t *country,
                          char *out, size_t outsz);

#ifdef __cplusplus
}
#endif

#endif
