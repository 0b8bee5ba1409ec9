/* Signed tokens an agent signs in with (issue 22): the Zendesk app's
 * signed first request (ZAF JWT, RS256, the app's public key as PEM) and
 * OpenID Connect ID tokens (the provider's JSON Web Key Set). Verification
 * is cjose's (Cisco's JOSE library, Debian libcjose-dev: the one
 * mod_auth_openidc trusts, and built on jansson and OpenSSL, which
 * callbus already uses); this module only picks the key, refuses every
 * algorithm but the asymmetric ones (no "none", no HMAC with a public key
 * as secret) and checks the claims a verifier must: exp, nbf, iat, iss,
 * aud. Pure: no I/O, the clock is passed in; any thread, one key set per
 * thread or read-only sharing. */
#ifndef POP_JWT_H
#define POP_JWT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pop_jwt_keys pop_jwt_keys_t;

/* A key set from a JWKS document ({"keys":[...]}): the RSA and EC
 * signature keys in it (others, and "use":"enc" keys, are skipped). NULL
 * with err when the document is not a JWKS or holds no usable key. The
 * caller owns the result (pop_jwt_keys_free). */
pop_jwt_keys_t *pop_jwt_keys_from_jwks(const char *jwks, size_t len, char *err, size_t errsz);
/* A key set of one RSA or EC public key in PEM ("BEGIN PUBLIC KEY"), as
 * Zendesk gives an app's (GET /api/v2/apps/{id}/public_key.pem). */
pop_jwt_keys_t *pop_jwt_keys_from_pem(const char *pem, size_t len, char *err, size_t errsz);
size_t pop_jwt_keys_count(const pop_jwt_keys_t *k);
/* NULL-safe. */
void pop_jwt_keys_free(pop_jwt_keys_t *k);

typedef struct {
    const char *issuer;   /* "iss" must equal it; NULL: not checked */
    const char *audience; /* "aud" (string, or array containing it); NULL: not checked */
    int64_t now_s;        /* the clock, seconds since the epoch */
    long leeway_s;        /* clock skew allowed on exp, nbf and iat */
    long max_age_s;       /* > 0: "iat" required and no older than this */
} pop_jwt_expect_t;

typedef enum {
    POP_JWT_OK = 0,
    POP_JWT_MALFORMED,   /* not a compact JWS with a JSON object as payload */
    POP_JWT_ALGORITHM,   /* alg not RS/PS/ES 256..512 */
    POP_JWT_UNKNOWN_KEY, /* no key with its "kid": the provider may have rotated (refetch) */
    POP_JWT_SIGNATURE,   /* no key of the set verifies it */
    POP_JWT_EXPIRED,     /* exp missing or past, or iat older than max_age_s */
    POP_JWT_NOT_YET,     /* nbf or iat in the future */
    POP_JWT_ISSUER,
    POP_JWT_AUDIENCE,
    POP_JWT_NO_MEMORY,
} pop_jwt_status_t;

/* Verifies the compact JWS `token` with keys and checks its claims against
 * want. On POP_JWT_OK *claims is the payload (caller owns: json_decref);
 * otherwise *claims is NULL and err says why, for a log line (never the
 * token itself). */
pop_jwt_status_t pop_jwt_verify(const pop_jwt_keys_t *keys, const char *token,
                                const pop_jwt_expect_t *want, json_t **claims, char *err,
                                size_t errsz) __attribute__((warn_unused_result));

/* A short name for a status ("expired", "audience"...), for metrics labels
 * and JSON errors. */
const char *pop_jwt_status_name(pop_jwt_status_t s);

#endif
