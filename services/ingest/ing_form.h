/* application/x-www-form-urlencoded bodies (Twilio's webhooks): name/value
 * pairs in the order sent, percent-decoded, '+' read as a space. Duplicate
 * names are kept (the signature covers every pair). */
#ifndef ING_FORM_H
#define ING_FORM_H

#include "ing_normalise.h"

#include <stddef.h>

/* More pairs than any Twilio callback sends (about 30); a bound so that a
 * hostile body cannot make us allocate without limit. */
#define ING_FORM_MAX_PAIRS 256

typedef struct {
    char *name;  /* NUL-terminated, valid UTF-8 */
    char *value; /* "" when the pair had no '=' or nothing after it */
} ing_form_pair_t;

typedef struct {
    ing_form_pair_t *pairs;
    size_t n;
} ing_form_t;

/* Parses body[0..len) into *form (initialised here; owned by the caller,
 * released with ing_form_free). Empty segments ("a=1&&b=2") are skipped.
 * Rejected, with err naming the pair: a bad %-escape, %00 (our strings are
 * C strings), text that is not UTF-8 (the canonical event is JSON), more
 * than ING_FORM_MAX_PAIRS pairs. Returns 0 or -1 (form then empty). */
int ing_form_parse(const char *body, size_t len, ing_form_t *form, ing_error_t *err)
    __attribute__((warn_unused_result));

/* The first value sent under `name`, or NULL. Borrowed from `form`. */
const char *ing_form_get(const ing_form_t *form, const char *name);

/* Frees every pair and empties the form; NULL-safe. */
void ing_form_free(ing_form_t *form);

#endif
