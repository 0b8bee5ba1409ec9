/* Constant-time token comparison (OpenSSL's CRYPTO_memcmp). The length is
 * not secret, so a length mismatch may return early. */
#include "cmn_auth.h"

#include <openssl/crypto.h>
#include <string.h>

int cmn_auth_token_equal(const char *expected, const char *given)
{
    size_t n = strlen(expected);
    return given && strlen(given) == n && CRYPTO_memcmp(expected, given, n) == 0;
}

int cmn_auth_bearer_ok(const char *expected, const char *authorization)
{
    static const char prefix[] = "Bearer ";
    return authorization && strncmp(authorization, prefix, sizeof prefix - 1) == 0 &&
           cmn_auth_token_equal(expected, authorization + sizeof prefix - 1);
}
