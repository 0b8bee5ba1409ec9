/* Phone normalisation. Deliberately small: the countries our contact centers
 * run in, plus the common ones; a full numbering plan (libphonenumber) is out
 * of reach in C and not needed to key a customer consistently. */
#include "cmn_phone.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const cmn_country_t countries[] = {
    {"IT", "39", 0}, {"TR", "90", 1}, {"ES", "34", 0},  {"US", "1", 0},   {"CA", "1", 0},
    {"GB", "44", 1}, {"DE", "49", 1}, {"FR", "33", 1},  {"NL", "31", 1},  {"BE", "32", 1},
    {"CH", "41", 1}, {"AT", "43", 1}, {"PT", "351", 0}, {"IE", "353", 1}, {"PL", "48", 0},
    {"SE", "46", 1}, {"RU", "7", 0},  {"MX", "52", 0},  {"AR", "54", 1},  {"BR", "55", 1},
    {"AU", "61", 1}, {"IN", "91", 1}, {"AE", "971", 1}, {"SM", "378", 0},
};

const cmn_country_t *cmn_phone_country(const char *s)
{
    if (!s || !*s)
        return NULL;
    const char *digits = s[0] == '+' ? s + 1 : s;
    for (size_t i = 0; i < sizeof countries / sizeof countries[0]; i++) {
        if (strcasecmp(s, countries[i].iso) == 0 || strcmp(digits, countries[i].code) == 0)
            return &countries[i];
    }
    return NULL;
}

static int is_withheld(const char *raw)
{
    static const char *const words[] = {"anonymous", "private",     "restricted", "unknown",
                                        "withheld",  "unavailable", "blocked"};
    while (isspace((unsigned char)*raw))
        raw++;
    if (!*raw)
        return 1;
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strncasecmp(raw, words[i], strlen(words[i])) == 0)
            return 1;
    return 0;
}

/* Keeps digits and a leading '+'; separators are dropped; anything else
 * (letters, '*', '#') makes the number invalid. */
static int strip_separators(const char *raw, char *digits, size_t cap, int *plus)
{
    size_t n = 0;
    *plus = 0;
    for (const char *p = raw; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (isdigit(c)) {
            if (n + 1 >= cap)
                return -1;
            digits[n++] = (char)c;
        } else if (c == '+' && n == 0 && !*plus) {
            *plus = 1;
        } else if (!(c == ' ' || c == '-' || c == '.' || c == '(' || c == ')' || c == '/' ||
                     c == '\t')) {
            return -1;
        }
    }
    digits[n] = '\0';
    return (int)n;
}

cmn_phone_rc_t cmn_phone_e164(const char *raw, const cmn_country_t *country, char *out,
                              size_t outsz)
{
    char digits[64];
    int plus;
    if (!raw || is_withheld(raw))
        return CMN_PHONE_WITHHELD;
    int n = strip_separators(raw, digits, sizeof digits, &plus);
    if (n <= 0)
        return CMN_PHONE_INVALID;

    const char *national = NULL;
    const char *intl = digits;
    if (!plus && strncmp(digits, "00", 2) == 0) {
        intl = digits + 2; /* 00 international prefix */
    } else if (!plus && country && strcmp(country->code, "1") == 0 && n == 11 && digits[0] == '1') {
        intl = digits; /* NANP with its own leading 1 */
    } else if (!plus) {
        if (!country)
            return CMN_PHONE_INVALID;
        national = digits;
        if (country->strips_trunk0 && national[0] == '0')
            national++;
    }
    int written = national ? snprintf(out, outsz, "+%s%s", country->code, national)
                           : snprintf(out, outsz, "+%s", intl);
    size_t total_digits = (size_t)written - 1;
    if (written < 0 || (size_t)written >= outsz || total_digits < 7 || total_digits > 15 ||
        out[1] == '0')
        return CMN_PHONE_INVALID;
    return CMN_PHONE_OK;
}

int cmn_phone_lookup_parse(const char *s, cmn_phone_lookup_t *out)
{
    static const char *const names[] = {"e164", "digits", "national"};
    for (int i = 0; i < 3; i++)
        if (strcasecmp(s, names[i]) == 0)
            return *out = (cmn_phone_lookup_t)i, 0;
    return -1;
}

int cmn_phone_lookup_form(const char *e164, cmn_phone_lookup_t form, const cmn_country_t *country,
                          char *out, size_t outsz)
{
    size_t len = e164 ? strlen(e164) : 0;
    if (len < 8 || len > 16 || e164[0] != '+' || e164[1] == '0')
        return -1;
    for (size_t i = 1; i < len; i++)
        if (!isdigit((unsigned char)e164[i]))
            return -1;
    const char *digits = e164 + 1;
    int n;
    if (form == CMN_PHONE_LOOKUP_E164)
        n = snprintf(out, outsz, "%s", e164);
    else if (form == CMN_PHONE_LOOKUP_NATIONAL && country &&
             strncmp(digits, country->code, strlen(country->code)) == 0)
        n = snprintf(out, outsz, "%s%s", country->strips_trunk0 ? "0" : "",
                     digits + strlen(country->code));
    else
        n = snprintf(out, outsz, "%s", digits);
    return (n < 0 || (size_t)n >= outsz) ? -1 : 0;
}
