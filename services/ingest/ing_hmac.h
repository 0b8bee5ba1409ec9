/* HMAC over several pieces of data, for the webhook signature checks
 * (Twilio: SHA-1 over URL and parameters; generic: SHA-256 over timestamp
 * and body). OpenSSL 3's EVP_MAC, because the HMAC_CTX API is deprecated. */
#ifndef ING_HMAC_H
#define ING_HMAC_H

#include <stddef.h>

#define ING_HMAC_MAX 64 /* bytes; SHA-512 is the largest digest OpenSSL offers */

typedef struct ing_hmac ing_hmac_t;

/* Starts an HMAC with `digest` ("SHA1", "SHA256") keyed by key/keylen.
 * Returns a new context, NULL on failure (unknown digest, ENOMEM). */
ing_hmac_t *ing_hmac_new(const char *digest, const void *key, size_t keylen);
/* Feeds data; returns 0 or -1. */
int ing_hmac_update(ing_hmac_t *h, const void *data, size_t len)
    __attribute__((warn_unused_result));
/* Writes the MAC to out (>= ING_HMAC_MAX) and its length to *outlen;
 * returns 0 or -1. */
int ing_hmac_final(ing_hmac_t *h, unsigned char *out, size_t *outlen)
    __attribute__((warn_unused_result));
/* Frees the context; NULL-safe. */
void ing_hmac_free(ing_hmac_t *h);

#endif
