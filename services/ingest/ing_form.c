/* Form-urlencoded parsing: split on '&', then on the first '=', decode. */
#include "ing_form.h"

#include <stdlib.h>
#include <string.h>

/* Checks the bytes form well-formed UTF-8 (no overlongs, no surrogates,
 * nothing above U+10FFFF), as jansson will demand when the event is encoded. */
static int is_utf8(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t extra = c < 0x80           ? 0
                       : (c >> 5) == 0x6  ? 1
                       : (c >> 4) == 0xe  ? 2
                       : (c >> 3) == 0x1e ? 3
                                          : 9;
        if (extra == 9 || i + extra >= n)
            return 0;
        unsigned cp = extra == 0 ? c : c & (0x3f >> extra);
        for (size_t k = 1; k <= extra; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        static const unsigned min_cp[] = {0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[extra] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += extra + 1;
    }
    return 1;
}

/* Decodes src[0..len) into a new NUL-terminated string; NULL with *why set
 * when the text is malformed (or on ENOMEM). */
static char *decode(const char *src, size_t len, const char **why)
{
    char *out = malloc(len + 1);
    size_t n = 0;
    if (!out)
        return *why = "out of memory", NULL;
    for (size_t i = 0; i < len; i++) {
        if (src[i] == '+') {
            out[n++] = ' ';
        } else if (src[i] != '%') {
            out[n++] = src[i];
        } else if (i + 2 < len && ing_hex_digit(src[i + 1]) >= 0 &&
                   ing_hex_digit(src[i + 2]) >= 0) {
            out[n++] = (char)(ing_hex_digit(src[i + 1]) * 16 + ing_hex_digit(src[i + 2]));
            i += 2;
        } else {
            *why = "has a '%' not followed by two hex digits";
            goto fail;
        }
    }
    out[n] = '\0';
    if (memchr(out, '\0', n)) {
        *why = "contains a NUL byte";
        goto fail;
    }
    if (!is_utf8((const unsigned char *)out, n)) {
        *why = "is not valid UTF-8";
        goto fail;
    }
    return out;
fail:
    free(out);
    return NULL;
}

static int add_pair(ing_form_t *form, const char *seg, size_t len, ing_error_t *err)
{
    const char *eq = memchr(seg, '=', len);
    size_t name_len = eq ? (size_t)(eq - seg) : len;
    const char *why = NULL;
    ing_form_pair_t *p = &form->pairs[form->n];
    if (!(p->name = decode(seg, name_len, &why)))
        return ing_fail(err, "", "a form parameter name %s", why);
    p->value = eq ? decode(eq + 1, len - name_len - 1, &why) : strdup("");
    if (!p->value) {
        int rc = ing_fail(err, p->name, "form parameter %s %s", p->name,
                          why ? why : "could not be stored: out of memory");
        free(p->name);
        return rc;
    }
    form->n++;
    return 0;
}

int ing_form_parse(const char *body, size_t len, ing_form_t *form, ing_error_t *err)
{
    const char *end = body + len, *seg = body;
    form->pairs = NULL;
    form->n = 0;
    while (len && seg <= end) {
        const char *amp = memchr(seg, '&', (size_t)(end - seg));
        size_t seg_len = (size_t)((amp ? amp : end) - seg);
        if (seg_len) {
            if (!form->pairs && !(form->pairs = calloc(ING_FORM_MAX_PAIRS, sizeof *form->pairs)))
                return ing_fail(err, "", "out of memory");
            if (form->n == ING_FORM_MAX_PAIRS) {
                ing_fail(err, "", "more than %d form parameters", ING_FORM_MAX_PAIRS);
                goto fail;
            }
            if (add_pair(form, seg, seg_len, err) < 0)
                goto fail;
        }
        if (!amp)
            break;
        seg = amp + 1;
    }
    return 0;
fail:
    ing_form_free(form);
    return -1;
}

const char *ing_form_get(const ing_form_t *form, const char *name)
{
    for (size_t i = 0; i < form->n; i++)
        if (strcmp(form->pairs[i].name, name) == 0)
            return form->pairs[i].value;
    return NULL;
}

void ing_form_free(ing_form_t *form)
{
    if (!form)
        return;
    for (size_t i = 0; i < form->n; i++) {
        free(form->pairs[i].name);
        free(form->pairs[i].value);
    }
    free(form->pairs);
    form->pairs = NULL;
    form->n = 0;
}
