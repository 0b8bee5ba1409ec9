/* pop_jwt (issue 22 items 1-3): the signed tokens agents sign in with. The
 * tokens are signed here with OpenSSL directly (not with cjose, which
 * verifies them), with keys made for the run: a PEM key as Zendesk gives
 * an app's, a JWKS as an OpenID provider publishes. */
#include "pop_jwt.h"
#include "test.h"

#include <cjose/base64.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1800000000

/* The helpers below return values: a failure in them stops the run. */
#define MUST(cond)                                                                                 \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #cond);                             \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static EVP_PKEY *key_a, *key_b;

static char *b64url(const void *data, size_t len)
{
    char *out = NULL;
    size_t outlen = 0;
    cjose_err err;
    MUST(cjose_base64url_encode(data, len, &out, &outlen, &err));
    return out;
}

/* header.payload.signature, RS256 with key (alg overridable). */
static char *sign(EVP_PKEY *key, const char *alg, const char *kid, const char *payload)
{
    char header[128];
    snprintf(header, sizeof header, "{\"alg\":\"%s\",\"typ\":\"JWT\"%s%s%s}", alg,
             kid ? ",\"kid\":\"" : "", kid ? kid : "", kid ? "\"" : "");
    char *h = b64url(header, strlen(header)), *p = b64url(payload, strlen(payload));
    char input[4096];
    snprintf(input, sizeof input, "%s.%s", h, p);
    unsigned char sig[512];
    size_t siglen = sizeof sig;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    MUST(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1);
    MUST(EVP_DigestSign(md, sig, &siglen, (unsigned char *)input, strlen(input)) == 1);
    EVP_MD_CTX_free(md);
    char *s = b64url(sig, siglen);
    char *token = malloc(strlen(input) + strlen(s) + 2);
    sprintf(token, "%s.%s", input, s);
    free(h);
    free(p);
    free(s);
    return token;
}

static char *pem_of(EVP_PKEY *key)
{
    BIO *bio = BIO_new(BIO_s_mem());
    MUST(PEM_write_bio_PUBKEY(bio, key) == 1);
    char *data;
    long len = BIO_get_mem_data(bio, &data);
    char *pem = strndup(data, (size_t)len);
    BIO_free(bio);
    return pem;
}

static char *bn_b64url(EVP_PKEY *key, const char *param)
{
    BIGNUM *bn = NULL;
    MUST(EVP_PKEY_get_bn_param(key, param, &bn) == 1);
    unsigned char buf[512];
    int len = BN_bn2bin(bn, buf);
    BN_free(bn);
    return b64url(buf, (size_t)len);
}

/* {"keys":[an encryption key (skipped), key_a as "a", key_b as "b"]} */
static char *jwks(void)
{
    char *na = bn_b64url(key_a, OSSL_PKEY_PARAM_RSA_N),
         *ea = bn_b64url(key_a, OSSL_PKEY_PARAM_RSA_E);
    char *nb = bn_b64url(key_b, OSSL_PKEY_PARAM_RSA_N),
         *eb = bn_b64url(key_b, OSSL_PKEY_PARAM_RSA_E);
    char *doc = malloc(8192);
    snprintf(doc, 8192,
             "{\"keys\":[{\"kty\":\"RSA\",\"use\":\"enc\",\"kid\":\"e\",\"n\":\"%s\",\"e\":\"%s\"},"
             "{\"kty\":\"RSA\",\"use\":\"sig\",\"kid\":\"a\",\"n\":\"%s\",\"e\":\"%s\"},"
             "{\"kty\":\"RSA\",\"kid\":\"b\",\"n\":\"%s\",\"e\":\"%s\"}]}",
             nb, eb, na, ea, nb, eb);
    free(na);
    free(ea);
    free(nb);
    free(eb);
    return doc;
}

static const pop_jwt_expect_t want = {
    .issuer = "https://idp.example", .audience = "callbus-agents", .now_s = NOW, .leeway_s = 60};

#define CLAIMS(extra)                                                                              \
    "{\"iss\":\"https://"                                                                          \
    "idp.example\",\"aud\":\"callbus-agents\",\"sub\":\"u1\",\"iat\":1799999990,"                  \
    "\"exp\":1800000300" extra "}"

static pop_jwt_status_t check(const pop_jwt_keys_t *keys, char *token, const pop_jwt_expect_t *w,
                              json_t **claims)
{
    char err[128] = "";
    pop_jwt_status_t st = pop_jwt_verify(keys, token, w, claims, err, sizeof err);
    if (st == POP_JWT_OK ? err[0] != '\0' : err[0] == '\0')
        test_failures++; /* a failure says why, success says nothing */
    free(token);
    return st;
}

/* Zendesk's signed app request: one RSA key in PEM; the claims come back. */
static void test_pem_key_verifies_its_token(void)
{
    char err[128];
    char *pem = pem_of(key_a);
    pop_jwt_keys_t *k = pop_jwt_keys_from_pem(pem, strlen(pem), err, sizeof err);
    ASSERT_TRUE(k != NULL);
    json_t *claims = NULL;
    ASSERT_EQ_INT(check(k, sign(key_a, "RS256", NULL, CLAIMS("")), &want, &claims), POP_JWT_OK);
    ASSERT_EQ_STR(json_string_value(json_object_get(claims, "sub")), "u1");
    json_decref(claims);
    /* a kid in the token does not matter to a key that has none */
    ASSERT_EQ_INT(check(k, sign(key_a, "RS256", "zaf", CLAIMS("")), &want, &claims), POP_JWT_OK);
    json_decref(claims);
    ASSERT_EQ_INT(check(k, sign(key_b, "RS256", NULL, CLAIMS("")), &want, &claims),
                  POP_JWT_SIGNATURE);
    ASSERT_TRUE(claims == NULL);
    pop_jwt_keys_free(k);
    free(pem);
    ASSERT_TRUE(pop_jwt_keys_from_pem("junk", 4, err, sizeof err) == NULL);
}

/* An OpenID provider's key set: the key named by kid; an unknown kid says
 * so (the caller refetches the keys: the provider rotated). */
static void test_jwks_key_by_kid(void)
{
    char err[128];
    char *doc = jwks();
    pop_jwt_keys_t *k = pop_jwt_keys_from_jwks(doc, strlen(doc), err, sizeof err);
    free(doc);
    ASSERT_TRUE(k != NULL);
    ASSERT_EQ_INT((int)pop_jwt_keys_count(k), 2); /* the "enc" key is not a signature key */
    json_t *claims = NULL;
    ASSERT_EQ_INT(check(k, sign(key_a, "RS256", "a", CLAIMS("")), &want, &claims), POP_JWT_OK);
    json_decref(claims);
    ASSERT_EQ_INT(check(k, sign(key_b, "RS256", "b", CLAIMS("")), &want, &claims), POP_JWT_OK);
    json_decref(claims);
    ASSERT_EQ_INT(check(k, sign(key_a, "RS256", "b", CLAIMS("")), &want, &claims),
                  POP_JWT_SIGNATURE);
    ASSERT_EQ_INT(check(k, sign(key_a, "RS256", "rotated", CLAIMS("")), &want, &claims),
                  POP_JWT_UNKNOWN_KEY);
    /* without a kid every signature key is tried */
    ASSERT_EQ_INT(check(k, sign(key_b, "RS256", NULL, CLAIMS("")), &want, &claims), POP_JWT_OK);
    json_decref(claims);
    pop_jwt_keys_free(k);
    const char *enc_only =
        "{\"keys\":[{\"kty\":\"RSA\",\"use\":\"enc\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}";
    ASSERT_TRUE(pop_jwt_keys_from_jwks(enc_only, strlen(enc_only), err, sizeof err) == NULL);
    ASSERT_TRUE(pop_jwt_keys_from_jwks("{}", 2, err, sizeof err) == NULL);
}

/* Only asymmetric algorithms: "none" and HMAC keyed with the public key are
 * the classic forgeries. A changed payload fails the signature. */
static void test_forgeries_refused(void)
{
    char err[128];
    char *pem = pem_of(key_a);
    pop_jwt_keys_t *k = pop_jwt_keys_from_pem(pem, strlen(pem), err, sizeof err);
    free(pem);
    json_t *claims = NULL;
    char *h = b64url("{\"alg\":\"none\"}", 14), *p = b64url(CLAIMS(""), strlen(CLAIMS("")));
    char *none = malloc(strlen(h) + strlen(p) + 3);
    sprintf(none, "%s.%s.", h, p);
    ASSERT_EQ_INT(check(k, none, &want, &claims), POP_JWT_ALGORITHM);
    ASSERT_EQ_INT(check(k, sign(key_a, "HS256", NULL, CLAIMS("")), &want, &claims),
                  POP_JWT_ALGORITHM);
    /* the payload swapped for another agent's, the signature kept */
    char *good = sign(key_a, "RS256", NULL, CLAIMS(""));
    char *p2 = b64url(CLAIMS(",\"x\":1"), strlen(CLAIMS(",\"x\":1")));
    char *dot1 = strchr(good, '.'), *dot2 = strchr(dot1 + 1, '.');
    char *forged = malloc(strlen(good) + strlen(p2) + 1);
    sprintf(forged, "%.*s.%s%s", (int)(dot1 - good), good, p2, dot2);
    ASSERT_EQ_INT(check(k, forged, &want, &claims), POP_JWT_SIGNATURE);
    ASSERT_EQ_INT(check(k, strdup("not.a.token"), &want, &claims), POP_JWT_MALFORMED);
    ASSERT_EQ_INT(check(k, strdup(""), &want, &claims), POP_JWT_MALFORMED);
    ASSERT_TRUE(claims == NULL);
    free(good);
    free(h);
    free(p);
    free(p2);
    pop_jwt_keys_free(k);
}

/* exp (required), nbf and iat with the leeway, iss, aud string or list,
 * and the maximum age of a one-use token. */
static void test_claims_checked(void)
{
    char err[128];
    char *pem = pem_of(key_a);
    pop_jwt_keys_t *k = pop_jwt_keys_from_pem(pem, strlen(pem), err, sizeof err);
    free(pem);
    json_t *c = NULL;
    const char *expired =
        "{\"iss\":\"https://idp.example\",\"aud\":\"callbus-agents\",\"exp\":1799999939}";
    const char *in_leeway =
        "{\"iss\":\"https://idp.example\",\"aud\":\"callbus-agents\",\"exp\":1799999941}";
    const char *no_exp = "{\"iss\":\"https://idp.example\",\"aud\":\"callbus-agents\"}";
    const char *future =
        "{\"iss\":\"https://"
        "idp.example\",\"aud\":\"callbus-agents\",\"exp\":1800009999,\"nbf\":1800000100}";
    const char *other_iss =
        "{\"iss\":\"https://evil.example\",\"aud\":\"callbus-agents\",\"exp\":1800000300}";
    const char *other_aud =
        "{\"iss\":\"https://idp.example\",\"aud\":\"another-app\",\"exp\":1800000300}";
    const char *aud_list =
        "{\"iss\":\"https://idp.example\",\"aud\":[\"x\",\"callbus-agents\"],\"exp\":1800000300}";
    ASSERT_EQ_INT(check(k, sign(key_a, "RS256", NULL, expired), &want, &c), POP_JWT_EXPIRED);
    ASSERT_EQ_INT(check(k, sign(key_a, "RS256", NULL, in_leeway), &want, &c), POP_JWT_OK);
    json_decref(c);
    ASSERT_EQ_INT(check(k, sign(key_a, "RS256", NULL, no_exp), &want, &c), POP_JWT_EXPIRED);
    ASSERT_EQ_INT(check(k, sign(key_a, "RS256", NULL, future), &want, &c), POP_JWT_NOT_YET);
    ASSERT_EQ_INT(check(k, sign(key_a, "RS256", NULL, other_iss), &want, &c), POP_JWT_ISSUER);
    ASSERT_EQ_INT(check(k, sign(key_a, "RS256", NULL, other_aud), &want, &c), POP_JWT_AUDIENCE);
    ASSERT_EQ_INT(check(k, sign(key_a, "RS256", NULL, aud_list), &want, &c), POP_JWT_OK);
    json_decref(c);
    pop_jwt_expect_t fresh = want;
    fresh.max_age_s = 5; /* iat 1799999990: 10 s old, + 60 s leeway: fine; 300 s max would be too */
    ASSERT_EQ_INT(check(k, sign(key_a, "RS256", NULL, CLAIMS("")), &fresh, &c), POP_JWT_OK);
    json_decref(c);
    fresh.now_s = NOW + 100;
    ASSERT_EQ_INT(check(k, sign(key_a, "RS256", NULL, CLAIMS("")), &fresh, &c), POP_JWT_EXPIRED);
    ASSERT_EQ_STR(pop_jwt_status_name(POP_JWT_AUDIENCE), "audience");
    pop_jwt_keys_free(k);
}

static void test_keys_made(void)
{
    key_a = EVP_RSA_gen(2048);
    key_b = EVP_RSA_gen(2048);
    ASSERT_TRUE(key_a && key_b);
}

static void test_keys_freed(void)
{
    EVP_PKEY_free(key_a);
    EVP_PKEY_free(key_b);
    ASSERT_TRUE(1); /* the sanitizer build's leak check is the assertion */
}

TEST_MAIN("pop_jwt", TEST_CASE(test_keys_made), TEST_CASE(test_pem_key_verifies_its_token),
          TEST_CASE(test_jwks_key_by_kid), TEST_CASE(test_forgeries_refused),
          TEST_CASE(test_claims_checked), TEST_CASE(test_keys_freed))
