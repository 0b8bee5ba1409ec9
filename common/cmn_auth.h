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

#endif
