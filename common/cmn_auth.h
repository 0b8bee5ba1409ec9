/* The one shared-secret check of every HTTP API: a token compared in
 * constant time (the time taken does not tell how much of a guess was
 * right), and the `Authorization: Bearer <token>` form of it. Borrowed
 * strings; no allocation. */
#ifndef CMN_AUTH_H
#define CMN_AUTH_H

/* 1 when `given` equals `expected` (NULL given: 0). An empty `expected`
 * matches only an empty `given`: callers disable a route whose secret is
 * empty before they get here. */
int cmn_auth_token_equal(const char *expected, const char *given);
/* 1 when `authorization` (the header's value, NULL when absent) is
 * "Bearer " followed by exactly `expected`. */
int cmn_auth_bearer_ok(const char *expected, const char *authorization);

/* During a rotation a secret has two accepted values: the current one and
 * the one being retired (a service's *_PREVIOUS setting). Which one
 * matched is returned so the caller can count the old one's use and
 * learn when every client has moved on. */
typedef enum {
    CMN_AUTH_NONE = 0,     /* neither matched: 401 */
    CMN_AUTH_CURRENT = 1,  /* the current secret */
    CMN_AUTH_PREVIOUS = 2, /* the previous one: a rotation in progress */
} cmn_auth_match_t;

/* `given` against `current`, then against `previous` (NULL or empty: no
 * previous secret, it never matches). Both comparisons always run, so the
 * time taken does not tell which secret a guess was near. */
cmn_auth_match_t cmn_auth_token_match(const char *current, const char *previous, const char *given);
/* The same for an `Authorization: Bearer <token>` header's value. */
cmn_auth_match_t cmn_auth_bearer_match(const char *current, const char *previous,
                                       const char *authorization);

#endif
