/* Signed tokens: pick the key, let cjose verify, check the claims
 * (pop_jwt.h). */
#include "pop_jwt.h"

#include <cjose/cjose.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KEYS 32 /* a provider publishes a handful; more is not a key set */

struct pop_jwt_keys {
    cjose_jwk_t *key[MAX_KEYS];
    size_t n;
};

static void say(char *err, size_t errsz, const char *what, const cjose_err *cerr)
{
    if (!err || errsz == 0)
        return;
    if (cerr && cerr->message)
        snprintf(err, errsz, "%s: %s", what, cerr->message);
    else
        snprintf(err, errsz, "%s", what);
}

static pop_jwt_keys_t *keys_new(void)
{
    return calloc(1, sizeof(pop_jwt_keys_t));
}

void pop_jwt_keys_free(pop_jwt_keys_t *k)
{
    if (!k)
        return;
    for (size_t i = 0; i < k->n; i++)
        cjose_jwk_release(k->key[i]);
    free(k);
}

size_t pop_jwt_keys_count(const pop_jwt_keys_t *k)
{
    return k ? k->n : 0;
}

/* A signature key of a type we verify with; encryption keys are skipped. */
static int jwk_usable(json_t *jwk)
{
    const char *kty = json_string_value(json_object_get(jwk, "kty"));
    const char *use = json_string_value(json_object_get(jwk, "use"));
    if (!kty || (strcmp(kty, "RSA") != 0 && strcmp(kty, "EC") != 0))
        return 0;
    return !use || strcmp(use, "sig") == 0;
}

pop_jwt_keys_t *pop_jwt_keys_from_jwks(const char *jwks, size_t len, char *err, size_t errsz)
{
    json_error_t jerr;
    json_t *doc = json_loadb(jwks, len, 0, &jerr);
    json_t *list = json_object_get(doc, "keys");
    pop_jwt_keys_t *k = NULL;
    if (!json_is_array(list)) {
        say(err, errsz, "not a JWKS document (no \"keys\" array)", NULL);
        goto cleanup;
    }
    k = keys_new();
    if (!k) {
        say(err, errsz, "out of memory", NULL);
        goto cleanup;
    }
    size_t i;
    json_t *jwk;
    json_array_foreach(list, i, jwk)
    {
        if (k->n == MAX_KEYS || !jwk_usable(jwk))
            continue;
        cjose_err cerr = {0};
        cjose_jwk_t *key = cjose_jwk_import_json((cjose_header_t *)jwk, &cerr);
        if (key)
            k->key[k->n++] = key;
    }
    if (k->n == 0) {
        say(err, errsz, "the JWKS holds no RSA or EC signature key", NULL);
        pop_jwt_keys_free(k);
        k = NULL;
    }
cleanup:
    json_decref(doc);
    return k;
}

/* n and e of an RSA public key, big-endian, into cjose's key spec. */
static cjose_jwk_t *rsa_jwk(const EVP_PKEY *pkey, cjose_err *cerr)
{
    BIGNUM *n = NULL, *e = NULL;
    uint8_t *nb = NULL, *eb = NULL;
    cjose_jwk_t *key = NULL;
    if (!EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &n) ||
        !EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e))
        goto cleanup;
    nb = malloc((size_t)BN_num_bytes(n));
    eb = malloc((size_t)BN_num_bytes(e));
    if (!nb || !eb)
        goto cleanup;
    cjose_jwk_rsa_keyspec spec = {
        .n = nb, .nlen = (size_t)BN_bn2bin(n, nb), .e = eb, .elen = (size_t)BN_bn2bin(e, eb)};
    key = cjose_jwk_create_RSA_spec(&spec, cerr);
cleanup:
    free(nb);
    free(eb);
    BN_free(n);
    BN_free(e);
    return key;
}

pop_jwt_keys_t *pop_jwt_keys_from_pem(const char *pem, size_t len, char *err, size_t errsz)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    EVP_PKEY *pkey = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
    pop_jwt_keys_t *k = NULL;
    cjose_err cerr = {0};
    if (!pkey) {
        say(err, errsz, "not a PEM public key (BEGIN PUBLIC KEY)", NULL);
        goto cleanup;
    }
    if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA) {
        say(err, errsz, "the PEM key is not an RSA key", NULL);
        goto cleanup;
    }
    cjose_jwk_t *key = rsa_jwk(pkey, &cerr);
    if (!key) {
        say(err, errsz, "the RSA key could not be read", &cerr);
        goto cleanup;
    }
    k = keys_new();
    if (!k) {
        cjose_jwk_release(key);
        say(err, errsz, "out of memory", NULL);
        goto cleanup;
    }
    k->key[k->n++] = key;
cleanup:
    EVP_PKEY_free(pkey);
    BIO_free(bio);
    return k;
}

/* ---- verification --------------------------------------------------------------- */

/* The key type an algorithm needs, or -1 for one we refuse. */
static int alg_kty(const char *alg)
{
    static const char *const rsa[] = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"};
    static const char *const ec[] = {"ES256", "ES384", "ES512"};
    for (size_t i = 0; alg && i < sizeof rsa / sizeof rsa[0]; i++)
        if (strcmp(alg, rsa[i]) == 0)
            return CJOSE_JWK_KTY_RSA;
    for (size_t i = 0; alg && i < sizeof ec / sizeof ec[0]; i++)
        if (strcmp(alg, ec[i]) == 0)
            return CJOSE_JWK_KTY_EC;
    return -1;
}

/* Tries the keys that may have signed it: the one with its kid, or, for
 * a token or key without kid, every key of the right type. */
static pop_jwt_status_t verify_signature(const pop_jwt_keys_t *keys, cjose_jws_t *jws, int kty,
                                         const char *kid)
{
    int candidates = 0;
    for (size_t i = 0; i < keys->n; i++) {
        cjose_err cerr = {0};
        const char *key_kid = cjose_jwk_get_kid(keys->key[i], &cerr);
        if ((int)cjose_jwk_get_kty(keys->key[i], &cerr) != kty)
            continue;
        if (kid && key_kid && strcmp(kid, key_kid) != 0)
            continue;
        candidates++;
        if (cjose_jws_verify(jws, keys->key[i], &cerr))
            return POP_JWT_OK;
    }
    return candidates ? POP_JWT_SIGNATURE : POP_JWT_UNKNOWN_KEY;
}

static int has_audience(json_t *aud, const char *want)
{
    if (json_is_string(aud))
        return strcmp(json_string_value(aud), want) == 0;
    size_t i;
    json_t *v;
    json_array_foreach(aud, i, v) if (json_is_string(v) &&
                                      strcmp(json_string_value(v), want) == 0) return 1;
    return 0;
}

static pop_jwt_status_t check_claims(json_t *c, const pop_jwt_expect_t *w, char *err, size_t errsz)
{
    json_t *exp = json_object_get(c, "exp"), *nbf = json_object_get(c, "nbf");
    json_t *iat = json_object_get(c, "iat");
    const char *iss = json_string_value(json_object_get(c, "iss"));
    if (!json_is_number(exp) || json_number_value(exp) + (double)w->leeway_s <= (double)w->now_s) {
        say(err, errsz, json_is_number(exp) ? "expired" : "no exp claim", NULL);
        return POP_JWT_EXPIRED;
    }
    if ((json_is_number(nbf) && json_number_value(nbf) > (double)(w->now_s + w->leeway_s)) ||
        (json_is_number(iat) && json_number_value(iat) > (double)(w->now_s + w->leeway_s))) {
        say(err, errsz, "not valid yet (nbf or iat in the future)", NULL);
        return POP_JWT_NOT_YET;
    }
    if (w->max_age_s > 0 &&
        (!json_is_number(iat) ||
         json_number_value(iat) + (double)(w->max_age_s + w->leeway_s) < (double)w->now_s)) {
        say(err, errsz, "issued too long ago (iat)", NULL);
        return POP_JWT_EXPIRED;
    }
    if (w->issuer && (!iss || strcmp(iss, w->issuer) != 0)) {
        say(err, errsz, "wrong issuer", NULL);
        return POP_JWT_ISSUER;
    }
    if (w->audience && !has_audience(json_object_get(c, "aud"), w->audience)) {
        say(err, errsz, "wrong audience", NULL);
        return POP_JWT_AUDIENCE;
    }
    return POP_JWT_OK;
}

static json_t *payload_object(cjose_jws_t *jws)
{
    uint8_t *text = NULL; /* owned by jws */
    size_t len = 0;
    cjose_err cerr = {0};
    if (!cjose_jws_get_plaintext(jws, &text, &len, &cerr))
        return NULL;
    json_t *c = json_loadb((const char *)text, len, 0, NULL);
    if (!json_is_object(c)) {
        json_decref(c);
        return NULL;
    }
    return c;
}

pop_jwt_status_t pop_jwt_verify(const pop_jwt_keys_t *keys, const char *token,
                                const pop_jwt_expect_t *want, json_t **claims, char *err,
                                size_t errsz)
{
    cjose_err cerr = {0};
    pop_jwt_status_t st = POP_JWT_MALFORMED;
    json_t *c = NULL;
    *claims = NULL;
    cjose_jws_t *jws = token ? cjose_jws_import(token, strlen(token), &cerr) : NULL;
    if (!jws) {
        say(err, errsz, "not a signed token", &cerr);
        goto cleanup;
    }
    cjose_header_t *hdr = cjose_jws_get_protected(jws);
    const char *alg = cjose_header_get(hdr, CJOSE_HDR_ALG, &cerr);
    const char *kid = cjose_header_get(hdr, CJOSE_HDR_KID, &cerr);
    int kty = alg_kty(alg);
    if (kty < 0) {
        st = POP_JWT_ALGORITHM;
        say(err, errsz, "algorithm not accepted (RS, PS or ES only)", NULL);
        goto cleanup;
    }
    st = verify_signature(keys, jws, kty, kid);
    if (st != POP_JWT_OK) {
        say(err, errsz, st == POP_JWT_UNKNOWN_KEY ? "no key for it" : "bad signature", NULL);
        goto cleanup;
    }
    c = payload_object(jws);
    if (!c) {
        st = POP_JWT_MALFORMED;
        say(err, errsz, "the payload is not a JSON object", NULL);
        goto cleanup;
    }
    st = check_claims(c, want, err, errsz);
    if (st == POP_JWT_OK) {
        *claims = c;
        c = NULL;
    }
cleanup:
    json_decref(c);
    cjose_jws_release(jws);
    return st;
}

const char *pop_jwt_status_name(pop_jwt_status_t s)
{
    static const char *const names[] = {
        [POP_JWT_OK] = "ok",
        [POP_JWT_MALFORMED] = "malformed",
        [POP_JWT_ALGORITHM] = "algorithm",
        [POP_JWT_UNKNOWN_KEY] = "unknown_key",
        [POP_JWT_SIGNATURE] = "signature",
        [POP_JWT_EXPIRED] = "expired",
        [POP_JWT_NOT_YET] = "not_yet_valid",
        [POP_JWT_ISSUER] = "issuer",
        [POP_JWT_AUDIENCE] = "audience",
        [POP_JWT_NO_MEMORY] = "no_memory",
    };
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "unknown";
}
