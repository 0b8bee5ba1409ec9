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

static const char bearer_prefix[] = "Bearer ";

/* The token of a Bearer header, NULL when the header is absent or not one. */
static const char *bearer_token(const char *authorization)
{
    if (!authorization || strncmp(authorization, bearer_prefix, sizeof bearer_prefix - 1) != 0)
        return NULL;
    return authorization + sizeof bearer_prefix - 1;
}

int cmn_auth_bearer_ok(const char *expected, const char *authorization)
{
    return cmn_auth_token_equal(expected, bearer_token(authorization));
}

cmn_auth_match_t cmn_auth_token_match(const char *current, const char *previous, const char *given)
{
    /* Both evaluated (no short circuit): see the header. */
    int is_current = cmn_auth_token_equal(current, given);
    int is_previous = previous && *previous && cmn_auth_token_equal(previous, given);
    if (is_current)
        return CMN_AUTH_CURRENT;
    return is_previous ? CMN_AUTH_PREVIOUS : CMN_AUTH_NONE;
}

cmn_auth_match_t cmn_auth_bearer_match(const char *current, const char *previous,
                                       const char *authorization)
{
    return cmn_auth_token_match(current, previous, bearer_token(authorization));
}
