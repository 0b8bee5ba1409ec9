/* UTF-8 well-formedness by the table of RFC 3629 section 4: the second
 * byte's range depends on the first, which is what rules out overlong
 * forms (E0 80..9F, F0 80..8F), surrogates (ED A0..BF) and code points
 * above U+10FFFF (F4 90..BF, F5..FF). jansson's utf8.c applies the same
 * limits after decoding; checking the ranges needs no decoding. */
#include "cmn_utf8.h"

#include <string.h>

int cmn_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        unsigned c = *p++;
        unsigned lo = 0x80, hi = 0xBF;
        int extra;
        if (c < 0x80)
            continue;
        if (c >= 0xC2 && c <= 0xDF)
            extra = 1;
        else if (c >= 0xE0 && c <= 0xEF) {
            extra = 2;
            if (c == 0xE0)
                lo = 0xA0; /* below: overlong */
            else if (c == 0xED)
                hi = 0x9F; /* above: surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            extra = 3;
            if (c == 0xF0)
                lo = 0x90; /* below: overlong */
            else if (c == 0xF4)
                hi = 0x8F; /* above: beyond U+10FFFF */
        } else
            return 0; /* a continuation byte, C0/C1 (overlong) or F5..FF */
        if (end - p < extra || *p < lo || *p > hi)
            return 0;
        for (p++, extra--; extra > 0; extra--, p++)
            if ((*p & 0xC0) != 0x80)
                return 0;
    }
    return 1;
}

int cmn_utf8_valid_str(const char *s)
{
    return cmn_utf8_valid(s, strlen(s));
}

size_t cmn_utf8_cut_copy(char *dst, size_t dstsz, const char *src, size_t max_chars)
{
    size_t n = 0, chars = 0;
    if (!dstsz)
        return 0;
    for (; src && src[n] && n < dstsz - 1; n++) {
        /* a lead byte starts a character: stop before the one past max */
        if (((unsigned char)src[n] & 0xC0) != 0x80 && ++chars > max_chars)
            break;
    }
    /* a cut inside a character drops its leading bytes too */
    if (src && src[n] && ((unsigned char)src[n] & 0xC0) == 0x80)
        while (n > 0 && ((unsigned char)src[--n] & 0xC0) == 0x80)
            ;
    if (n)
        memmove(dst, src, n);
    dst[n] = '\0';
    return n;
}
