/* The one UTF-8 check: well-formed UTF-8 as RFC 3629 and jansson define it
 * (no overlong forms, no surrogates U+D800..U+DFFF, nothing above
 * U+10FFFF), so that a string we validate is a string jansson encodes and
 * decodes. Borrowed input, no allocation. */
#ifndef CMN_UTF8_H
#define CMN_UTF8_H

#include <stddef.h>

/* 1 when the `len` bytes at `s` are well-formed UTF-8 (NUL is allowed: it
 * is U+0000), else 0. */
int cmn_utf8_valid(const char *s, size_t len);
/* The same for a NUL-terminated string. */
int cmn_utf8_valid_str(const char *s);

/* Copies src (UTF-8; NULL as "") into dst, keeping at most max_chars
 * characters and dstsz - 1 bytes, cut at a character boundary, always
 * terminated (dstsz > 0): the one cut for text we shorten to fit (a name,
 * a tag). Returns the bytes copied. */
size_t cmn_utf8_cut_copy(char *dst, size_t dstsz, const char *src, size_t max_chars);

#endif
