/* crm_curl_url_check (issue 7 item 9): credentials go over https, or over
 * plain http to this machine only; the host is what libcurl's URL parser
 * says it is, not a prefix of the text. */
#include "test.h"
#include "crm_curl.h"

static int ok(const char *url)
{
    char why[256];
    return crm_curl_url_check(url, 0, why, sizeof why) == 0;
}

static void test_https_anywhere(void)
{
    ASSERT_TRUE(ok("https://acme.zendesk.com"));
    ASSERT_TRUE(ok("https://acme.zendesk.com/"));
    ASSERT_TRUE(ok("https://10.0.0.7:8443"));
}

static void test_plain_http_only_to_this_machine(void)
{
    ASSERT_TRUE(ok("http://127.0.0.1:18090"));
    ASSERT_TRUE(ok("http://127.8.9.10"));
    ASSERT_TRUE(ok("http://localhost:8080/"));
    ASSERT_TRUE(ok("http://[::1]:8080"));
    ASSERT_TRUE(!ok("http://acme.zendesk.com"));
    ASSERT_TRUE(!ok("http://10.0.0.7"));
    ASSERT_TRUE(!ok("http://[::2]:8080"));
}

/* The old check matched prefixes: these passed it. */
static void test_lookalike_hosts_refused(void)
{
    ASSERT_TRUE(!ok("http://127.0.0.1.evil.example"));
    ASSERT_TRUE(!ok("http://localhost.evil.example"));
    ASSERT_TRUE(!ok("http://localhost@evil.example"));
    ASSERT_TRUE(!ok("http://127.0.0.1@evil.example/"));
}

static void test_not_urls(void)
{
    char why[256] = "";
    ASSERT_TRUE(!ok("ftp://127.0.0.1"));
    ASSERT_TRUE(!ok("acme.zendesk.com"));
    ASSERT_TRUE(!ok(""));
    ASSERT_TRUE(!ok(NULL));
    ASSERT_EQ_INT(crm_curl_url_check("http://acme.zendesk.com", 0, why, sizeof why), -1);
    ASSERT_TRUE(strstr(why, "unencrypted") != NULL);
    /* the explicit demo setting (an emulator container) lifts it */
    ASSERT_EQ_INT(crm_curl_url_check("http://zendesk-emulator:8090", 1, why, sizeof why), 0);
}

TEST_MAIN("crm_url", TEST_CASE(test_https_anywhere),
          TEST_CASE(test_plain_http_only_to_this_machine), TEST_CASE(test_lookalike_hosts_refused),
          TEST_CASE(test_not_urls))
