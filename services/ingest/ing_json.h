/* Tolerant reads from provider JSON. Providers fill body templates with
 * whatever type they hold (CallGear's `{{call_session_id}}` may arrive as
 * 12345 or "12345", a missing value as null or ""), so every reader here
 * accepts the forms a template engine produces and says which it found:
 *   1  = present (value written),
 *   0  = absent: no such member, JSON null, or "",
 *  -1  = present but of a type that cannot mean this (an object for an id).
 * Paths are dotted member names from `root` ("call_info.call_session_id").
 * Nothing here allocates; returned strings are borrowed from `root`. */
#ifndef ING_JSON_H
#define ING_JSON_H

#include "ing_normalise.h"

#include <jansson.h>
#include <stdint.h>

/* Large enough for any int64 in decimal and its sign. */
#define ING_JSON_NUM_MAX 24

/* The value at `path`, or NULL when absent or JSON null. Borrowed. */
const json_t *ing_json_get(const json_t *root, const char *path);

/* A scalar as text: a string as it is, an integer (or a real with an
 * integral value) in decimal written to `buf`. *text points into `root` or
 * `buf`. Booleans, objects, arrays and fractional numbers give -1. */
int ing_json_text(const json_t *root, const char *path, char buf[ING_JSON_NUM_MAX],
                  const char **text);

/* A whole number: an integer, an integral real, or a string of decimal
 * digits with an optional '-' ("42"). */
int ing_json_int(const json_t *root, const char *path, int64_t *out);

/* A boolean: true/false, 1/0, or the strings "true"/"false"/"1"/"0". */
int ing_json_bool(const json_t *root, const char *path, int *out);

/* The same readers applied to a value already in hand (an array element). */
int ing_json_text_of(const json_t *v, char buf[ING_JSON_NUM_MAX], const char **text);
int ing_json_int_of(const json_t *v, int64_t *out);

/* ---- reads straight into an event, failing with the path named ---------- */

/* Copies the scalar text at `path` into *dst (see ing_set_text). Absent is
 * an error only when `required`. */
int ing_json_take_text(const json_t *root, const char *path, int required, char **dst,
                       ing_error_t *err) __attribute__((warn_unused_result));
/* Reads a duration in whole seconds >= 0 into *dst; absent leaves *dst. */
int ing_json_take_seconds(const json_t *root, const char *path, int64_t *dst, ing_error_t *err)
    __attribute__((warn_unused_result));
/* Reads a boolean into *dst; absent is an error only when `required`
 * (otherwise *dst is left as it was). */
int ing_json_take_bool(const json_t *root, const char *path, int required, int *dst,
                       ing_error_t *err) __attribute__((warn_unused_result));

#endif
