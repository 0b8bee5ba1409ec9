/* Tolerant JSON reads (see ing_json.h for the 1/0/-1 convention). */
#include "ing_json.h"

#include <stdio.h>
#include <string.h>

/* Reals beyond 2^53 are not exact integers any more; refuse them rather
 * than publish an id that differs from the provider's by rounding. */
#define EXACT_REAL_MAX 9007199254740992.0

const json_t *ing_json_get(const json_t *root, const char *path)
{
    const json_t *v = root;
    while (v && *path) {
        const char *dot = strchr(path, '.');
        size_t len = dot ? (size_t)(dot - path) : strlen(path);
        v = json_is_object(v) ? json_object_getn(v, path, len) : NULL;
        path += len + (dot ? 1 : 0);
    }
    return json_is_null(v) ? NULL : v;
}

static int real_as_int(double d, int64_t *out)
{
    if (!(d >= -EXACT_REAL_MAX && d <= EXACT_REAL_MAX) || (double)(int64_t)d != d)
        return -1;
    *out = (int64_t)d;
    return 1;
}

/* Strict decimal: optional '-', 1 to 18 digits, nothing else. */
static int parse_decimal(const char *s, int64_t *out)
{
    int neg = *s == '-';
    const char *p = s + neg;
    int64_t v = 0;
    size_t n = strspn(p, "0123456789");
    if (n == 0 || n > 18 || p[n] != '\0')
        return -1;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (p[i] - '0');
    *out = neg ? -v : v;
    return 1;
}

int ing_json_text_of(const json_t *v, char buf[ING_JSON_NUM_MAX], const char **text)
{
    int64_t n;
    *text = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (json_is_string(v)) {
        *text = json_string_value(v);
        return **text ? 1 : 0;
    }
    if (json_is_integer(v))
        n = json_integer_value(v);
    else if (!json_is_real(v) || real_as_int(json_real_value(v), &n) < 0)
        return -1;
    snprintf(buf, ING_JSON_NUM_MAX, "%lld", (long long)n);
    *text = buf;
    return 1;
}

int ing_json_int_of(const json_t *v, int64_t *out)
{
    if (!v || json_is_null(v))
        return 0;
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 1;
    }
    if (json_is_real(v))
        return real_as_int(json_real_value(v), out);
    if (json_is_string(v))
        return *json_string_value(v) ? parse_decimal(json_string_value(v), out) : 0;
    return -1;
}

int ing_json_text(const json_t *root, const char *path, char buf[ING_JSON_NUM_MAX],
                  const char **text)
{
    return ing_json_text_of(ing_json_get(root, path), buf, text);
}

int ing_json_int(const json_t *root, const char *path, int64_t *out)
{
    return ing_json_int_of(ing_json_get(root, path), out);
}

int ing_json_bool(const json_t *root, const char *path, int *out)
{
    const json_t *v = ing_json_get(root, path);
    int64_t n;
    if (!v)
        return 0;
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return 1;
    }
    if (json_is_string(v) &&
        (strcmp(json_string_value(v), "true") == 0 || strcmp(json_string_value(v), "false") == 0)) {
        *out = json_string_value(v)[0] == 't';
        return 1;
    }
    int rc = ing_json_int_of(v, &n);
    if (rc <= 0)
        return rc;
    if (n != 0 && n != 1)
        return -1;
    *out = (int)n;
    return 1;
}

int ing_json_take_text(const json_t *root, const char *path, int required, char **dst,
                       ing_error_t *err)
{
    char buf[ING_JSON_NUM_MAX];
    const char *text;
    int rc = ing_json_text(root, path, buf, &text);
    if (rc < 0)
        return ing_fail(err, path, "%s must be a string or a number", path);
    if (rc == 0)
        return required ? ing_fail(err, path, "%s is required but is missing or null", path) : 0;
    return ing_set_text(dst, text, err);
}

int ing_json_take_seconds(const json_t *root, const char *path, int64_t *dst, ing_error_t *err)
{
    int64_t v;
    int rc = ing_json_int(root, path, &v);
    if (rc < 0 || (rc > 0 && v < 0))
        return ing_fail(err, path, "%s must be a whole number of seconds >= 0", path);
    if (rc > 0)
        *dst = v;
    return 0;
}

int ing_json_take_bool(const json_t *root, const char *path, int required, int *dst,
                       ing_error_t *err)
{
    int rc = ing_json_bool(root, path, dst);
    if (rc < 0)
        return ing_fail(err, path, "%s must be true or false", path);
    if (rc == 0 && required)
        return ing_fail(err, path, "%s is required but is missing or null", path);
    return 0;
}
