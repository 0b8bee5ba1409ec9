/* cmn_auth: the one token / bearer check the HTTP APIs share (ingest's
 * CallGear and Webex routes, ticket-service's IVR API, pop-service's
 * logins), and its current-or-previous form for rotations (issue 14). */
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

/* A rotation: the current secret and the previous one both pass and the
 * caller learns which (to count the previous one's use); an empty or
 * absent previous secret never matches, not even an empty token. */
static void test_token_match_current_or_previous(void)
{
    ASSERT_EQ_INT(cmn_auth_token_match("new", "old", "new"), CMN_AUTH_CURRENT);
    ASSERT_EQ_INT(cmn_auth_token_match("new", "old", "old"), CMN_AUTH_PREVIOUS);
    ASSERT_EQ_INT(cmn_auth_token_match("new", "old", "older"), CMN_AUTH_NONE);
    ASSERT_EQ_INT(cmn_auth_token_match("new", "old", NULL), CMN_AUTH_NONE);
    ASSERT_EQ_INT(cmn_auth_token_match("new", "", ""), CMN_AUTH_NONE);
    ASSERT_EQ_INT(cmn_auth_token_match("new", NULL, "old"), CMN_AUTH_NONE);
    ASSERT_EQ_INT(cmn_auth_token_match("new", "", "old"), CMN_AUTH_NONE);
    /* The same value twice (a rotation not yet begun) is the current one. */
    ASSERT_EQ_INT(cmn_auth_token_match("same", "same", "same"), CMN_AUTH_CURRENT);
}

static void test_bearer_match_current_or_previous(void)
{
    ASSERT_EQ_INT(cmn_auth_bearer_match("new", "old", "Bearer new"), CMN_AUTH_CURRENT);
    ASSERT_EQ_INT(cmn_auth_bearer_match("new", "old", "Bearer old"), CMN_AUTH_PREVIOUS);
    ASSERT_EQ_INT(cmn_auth_bearer_match("new", "old", "Bearer wrong"), CMN_AUTH_NONE);
    ASSERT_EQ_INT(cmn_auth_bearer_match("new", "old", "old"), CMN_AUTH_NONE);
    ASSERT_EQ_INT(cmn_auth_bearer_match("new", "old", "Basic old"), CMN_AUTH_NONE);
    ASSERT_EQ_INT(cmn_auth_bearer_match("new", "old", "Bearer old "), CMN_AUTH_NONE);
    ASSERT_EQ_INT(cmn_auth_bearer_match("new", "", "Bearer "), CMN_AUTH_NONE);
    ASSERT_EQ_INT(cmn_auth_bearer_match("new", NULL, "Bearer old"), CMN_AUTH_NONE);
    ASSERT_EQ_INT(cmn_auth_bearer_match("new", "old", NULL), CMN_AUTH_NONE);
}

TEST_MAIN("auth", TEST_CASE(test_token_equal), TEST_CASE(test_bearer),
          TEST_CASE(test_token_match_current_or_previous),
          TEST_CASE(test_bearer_match_current_or_previous))
