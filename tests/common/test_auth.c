/* cmn_auth: the one token / bearer check the HTTP APIs share (ingest's
 * CallGear and Webex routes, ticket-service's IVR API). */
#include "cmn_auth.h"
#include "test.h"

static void test_token_equal(void)
{
    ASSERT_TRUE(cmn_auth_token_equal("s3cret", "s3cret"));
    ASSERT_TRUE(!cmn_auth_token_equal("s3cret", "s3cre"));
    ASSERT_TRUE(!cmn_auth_token_equal("s3cret", "s3cret!"));
    ASSERT_TRUE(!cmn_auth_token_equal("s3cret", "S3cret"));
    ASSERT_TRUE(!cmn_auth_token_equal("s3cret", NULL));
    ASSERT_TRUE(!cmn_auth_token_equal("s3cret", ""));
}

static void test_bearer(void)
{
    ASSERT_TRUE(cmn_auth_bearer_ok("tok", "Bearer tok"));
    ASSERT_TRUE(!cmn_auth_bearer_ok("tok", "Bearer tok "));
    ASSERT_TRUE(!cmn_auth_bearer_ok("tok", "Bearer  tok"));
    ASSERT_TRUE(!cmn_auth_bearer_ok("tok", "Basic tok"));
    ASSERT_TRUE(!cmn_auth_bearer_ok("tok", "tok"));
    ASSERT_TRUE(!cmn_auth_bearer_ok("tok", "Bearer "));
    ASSERT_TRUE(!cmn_auth_bearer_ok("tok", NULL));
}

TEST_MAIN("auth", TEST_CASE(test_token_equal), TEST_CASE(test_bearer))
