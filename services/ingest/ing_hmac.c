/* HMAC contexts over OpenSSL 3's EVP_MAC. */
#include "ing_hmac.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdlib.h>

struct ing_hmac {
    EVP_MAC *mac;
    EVP_MAC_CTX *ctx;
};

ing_hmac_t *ing_hmac_new(const char *digest, const void *key, size_t keylen)
{
    /* An empty key is legal HMAC; OpenSSL wants a non-NULL pointer for it. */
    static const unsigned char no_key = 0;
    OSSL_PARAM params[2];
    ing_hmac_t *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)digest, 0);
    params[1] = OSSL_PARAM_construct_end();
    if (!(h->mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) || !(h->ctx = EVP_MAC_CTX_new(h->mac)) ||
        EVP_MAC_init(h->ctx, keylen ? key : &no_key, keylen, params) != 1)
        goto fail;
    return h;
fail:
    ing_hmac_free(h);
    return NULL;
}

int ing_hmac_update(ing_hmac_t *h, const void *data, size_t len)
{
    return EVP_MAC_update(h->ctx, data, len) == 1 ? 0 : -1;
}

int ing_hmac_final(ing_hmac_t *h, unsigned char *out, size_t *outlen)
{
    return EVP_MAC_final(h->ctx, out, outlen, ING_HMAC_MAX) == 1 ? 0 : -1;
}

void ing_hmac_free(ing_hmac_t *h)
{
    if (!h)
        return;
    EVP_MAC_CTX_free(h->ctx);
    EVP_MAC_free(h->mac);
    free(h);
}
