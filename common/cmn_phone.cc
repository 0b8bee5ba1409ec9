/* Phone normalisation on Google's libphonenumber: the numbering plans of
 * every country (possible lengths, valid ranges, trunk and international
 * prefixes) come from the library, kept current by Debian, never from a
 * table of ours. The C API is cmn_phone.h; this is the project's only C++
 * translation unit, so no exception may leave it (each entry point catches
 * and reports failure), and no C++ type appears in the header. */
#include "cmn_phone.h"

#include <phonenumbers/phonenumber.pb.h>
#include <phonenumbers/phonenumberutil.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <strings.h>
#include <vector>

namespace
{

using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

const PhoneNumberUtil &util()
{
    return *PhoneNumberUtil::GetInstance();
}

/* Every region libphonenumber knows, built once (a function-local static:
 * initialised thread-safely) so that cmn_phone_country can hand out
 * borrowed pointers that live as long as the process. */
const std::vector<cmn_country_t> &countries()
{
    static const std::vector<cmn_country_t> all = [] {
        std::set<std::string> regions;
        std::vector<cmn_country_t> v;
        util().GetSupportedRegions(&regions);
        for (const std::string &r : regions) {
            cmn_country_t c = {};
            int code = util().GetCountryCodeForRegion(r);
            if (r.size() != 2 || code <= 0 || code > 999)
                continue;
            std::memcpy(c.iso, r.c_str(), 3);
            std::snprintf(c.code, sizeof c.code, "%d", code);
            v.push_back(c);
        }
        return v;
    }();
    return all;
}

bool is_withheld(const char *raw)
{
    static const char *const words[] = {"anonymous", "private",     "restricted", "unknown",
                                        "withheld",  "unavailable", "blocked"};
    while (std::isspace(static_cast<unsigned char>(*raw)))
        raw++;
    if (!*raw)
        return true;
    for (const char *w : words)
        if (strncasecmp(raw, w, std::strlen(w)) == 0)
            return true;
    return false;
}

/* Keeps the digits and says whether a leading '+' was there. Separators
 * are dropped; anything else (letters, '*', '#', a second '+') makes the
 * number invalid: we do not guess at vanity numbers or dial codes, and
 * libphonenumber would (it maps letters to digits). */
bool strip_separators(const char *raw, std::string *digits, bool *plus)
{
    *plus = false;
    digits->clear();
    for (const char *p = raw; *p; p++) {
        unsigned char c = static_cast<unsigned char>(*p);
        if (std::isdigit(c))
            digits->push_back(static_cast<char>(c));
        else if (c == '+' && digits->empty() && !*plus)
            *plus = true;
        else if (!(c == ' ' || c == '-' || c == '.' || c == '(' || c == ')' || c == '/' ||
                   c == '\t'))
            return false;
    }
    return !digits->empty() && digits->size() <= 20;
}

struct Reading {
    bool possible = false;
    bool valid = false;
    std::string e164;
};

/* One interpretation of the digits: `text` parsed as dialled from `region`
 * ("ZZ" with a leading '+': as an international number). libphonenumber
 * applies that region's international and trunk prefixes. */
Reading read(const std::string &text, const char *region)
{
    Reading r;
    PhoneNumber n;
    if (util().Parse(text, region, &n) != PhoneNumberUtil::NO_PARSING_ERROR || n.has_extension())
        return r;
    r.possible = util().IsPossibleNumber(n);
    r.valid = r.possible && util().IsValidNumber(n);
    if (r.possible)
        util().Format(n, PhoneNumberUtil::E164, &r.e164);
    return r;
}

/* The rules of cmn_phone.h, in order: explicit international prefix; two
 * readings of bare digits, valid beats possible, format breaks a tie. */
const Reading *choose(const Reading &intl, const Reading *national, cmn_phone_format_t format)
{
    bool nat_valid = national && national->valid;
    if (intl.valid && nat_valid)
        return format == CMN_PHONE_FORMAT_INTERNATIONAL ? &intl : national;
    if (intl.valid)
        return &intl;
    if (nat_valid)
        return national;
    /* Neither is in the plan (a range newer than the library's metadata,
     * say): only the provider's stated format may pick a merely possible
     * reading; auto refuses rather than guess a country. */
    if (format == CMN_PHONE_FORMAT_INTERNATIONAL && intl.possible)
        return &intl;
    if (format == CMN_PHONE_FORMAT_NATIONAL && national && national->possible)
        return national;
    return nullptr;
}

cmn_phone_rc_t normalise(const char *raw, const cmn_phone_opts_t *o, char *out, size_t outsz)
{
    std::string digits;
    bool plus;
    if (!raw || is_withheld(raw))
        return CMN_PHONE_WITHHELD;
    if (!strip_separators(raw, &digits, &plus))
        return CMN_PHONE_INVALID;
    bool idd00 = !plus && digits.compare(0, 2, "00") == 0;
    if (!plus && !idd00 && o->internal_max_digits > 0 &&
        digits.size() <= static_cast<size_t>(o->internal_max_digits))
        return CMN_PHONE_INTERNAL;

    const Reading *pick = nullptr;
    Reading intl, national;
    if (plus || idd00) {
        /* The sender said it is international: that is the only reading,
         * and being possible is enough (the caller gave the country). */
        intl = read("+" + digits.substr(idd00 ? 2 : 0), "ZZ");
        pick = intl.possible ? &intl : nullptr;
    } else {
        intl = read("+" + digits, "ZZ");
        if (o->country)
            national = read(digits, o->country->iso);
        pick = choose(intl, o->country ? &national : nullptr, o->format);
    }
    if (!pick || pick->e164.size() + 1 > outsz)
        return CMN_PHONE_INVALID;
    std::memcpy(out, pick->e164.c_str(), pick->e164.size() + 1);
    return CMN_PHONE_OK;
}

int copy_out(const std::string &s, char *out, size_t outsz)
{
    if (s.size() + 1 > outsz)
        return -1;
    std::memcpy(out, s.c_str(), s.size() + 1);
    return 0;
}

int lookup_form(const char *e164, cmn_phone_lookup_t form, const cmn_country_t *country, char *out,
                size_t outsz)
{
    size_t len = e164 ? std::strlen(e164) : 0;
    if (len < 2 || len > 16 || e164[0] != '+' || std::strspn(e164 + 1, "0123456789") != len - 1)
        return -1;
    PhoneNumber n;
    if (util().Parse(e164, "ZZ", &n) != PhoneNumberUtil::NO_PARSING_ERROR ||
        !util().IsPossibleNumber(n))
        return -1;
    std::string s;
    util().Format(n, PhoneNumberUtil::E164, &s);
    if (form == CMN_PHONE_LOOKUP_NATIONAL && country &&
        std::to_string(n.country_code()) == country->code) {
        std::string formatted;
        util().Format(n, PhoneNumberUtil::NATIONAL, &formatted);
        s.clear();
        for (char c : formatted)
            if (std::isdigit(static_cast<unsigned char>(c)))
                s.push_back(c);
    } else if (form != CMN_PHONE_LOOKUP_E164) {
        s.erase(0, 1);
    }
    return copy_out(s, out, outsz);
}

} // namespace

extern "C" const cmn_country_t *cmn_phone_country(const char *s)
{
    if (!s || !*s)
        return nullptr;
    try {
        const char *digits = s[0] == '+' ? s + 1 : s;
        std::string main_region;
        if (std::isdigit(static_cast<unsigned char>(digits[0])))
            util().GetRegionCodeForCountryCode(std::atoi(digits), &main_region);
        for (const cmn_country_t &c : countries())
            if (strcasecmp(s, c.iso) == 0 ||
                (!main_region.empty() && main_region == c.iso && std::strcmp(digits, c.code) == 0))
                return &c;
    } catch (...) {
        /* out of memory building the table: no country */
    }
    return nullptr;
}

extern "C" int cmn_phone_format_parse(const char *s, cmn_phone_format_t *out)
{
    static const char *const names[] = {"auto", "international", "national"};
    for (int i = 0; s && i < 3; i++)
        if (strcasecmp(s, names[i]) == 0)
            return *out = static_cast<cmn_phone_format_t>(i), 0;
    return -1;
}

extern "C" cmn_phone_rc_t cmn_phone_normalise(const char *raw, const cmn_phone_opts_t *opts,
                                              char *out, size_t outsz)
{
    try {
        return normalise(raw, opts, out, outsz);
    } catch (...) {
        return CMN_PHONE_INVALID; /* std::bad_alloc: refuse, the sender retries */
    }
}

extern "C" cmn_phone_rc_t cmn_phone_e164(const char *raw, const cmn_country_t *country, char *out,
                                         size_t outsz)
{
    cmn_phone_opts_t o = {country, CMN_PHONE_FORMAT_AUTO, 0};
    return cmn_phone_normalise(raw, &o, out, outsz);
}

extern "C" int cmn_phone_lookup_parse(const char *s, cmn_phone_lookup_t *out)
{
    static const char *const names[] = {"e164", "digits", "national"};
    for (int i = 0; i < 3; i++)
        if (strcasecmp(s, names[i]) == 0)
            return *out = static_cast<cmn_phone_lookup_t>(i), 0;
    return -1;
}

extern "C" int cmn_phone_lookup_form(const char *e164, cmn_phone_lookup_t form,
                                     const cmn_country_t *country, char *out, size_t outsz)
{
    try {
        return lookup_form(e164, form, country, out, outsz);
    } catch (...) {
        return -1;
    }
}
