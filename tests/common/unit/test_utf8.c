/* cmn_utf8 against jansson itself (issue 8 item 5: one validator that
 * agrees with jansson): every 1-, 2- and 3-byte sequence, and every 4-byte
 * sequence whose first two bytes decide (the last two over a sample),
 * must get the same verdict from both. */
#include "cmn_utf8.h"
#include "test.h"

#include <jansson.h>

static int jansson_ok(const unsigned char *b, size_t n)
{
    json_t *s = json_stringn((const char *)b, n);
    int ok = s != NULL;
    json_decref(s);
    return ok;
}

static long disagreements;

static void compare(const unsigned char *b, size_t n)
{
    int ours = cmn_utf8_valid((const char *)b, n), theirs = jansson_ok(b, n);
    if (ours != theirs && disagreements++ < 10)
        fprintf(stderr, "%zu bytes %02x %02x %02x %02x: ours %d jansson %d\n", n, b[0],
                n > 1 ? b[1] : 0, n > 2 ? b[2] : 0, n > 3 ? b[3] : 0, ours, theirs);
}

static void test_agrees_with_jansson(void)
{
    static const unsigned char sample[] = {0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90,
                                           0x9f, 0xa0, 0xbf, 0xc0, 0xf4, 0xff};
    unsigned char b[4];
    for (unsigned i = 0; i < 256; i++) {
        b[0] = (unsigned char)i;
        compare(b, 1);
        for (unsigned j = 0; j < 256; j++) {
            b[1] = (unsigned char)j;
            compare(b, 2);
            for (unsigned k = 0; k < 256; k++) {
                b[2] = (unsigned char)k;
                compare(b, 3);
            }
            for (size_t k = 0; k < sizeof sample; k++)
                for (size_t l = 0; l < sizeof sample; l++) {
                    b[2] = sample[k];
                    b[3] = sample[l];
                    compare(b, 4);
                }
        }
    }
    ASSERT_EQ_INT(disagreements, 0);
}

static void test_known_cases(void)
{
    ASSERT_TRUE(cmn_utf8_valid_str("caff\xc3\xa8 \xe2\x82\xac \xf0\x9f\x93\x9e"));
    ASSERT_TRUE(cmn_utf8_valid_str("\xf4\x8f\xbf\xbf"));  /* U+10FFFF */
    ASSERT_TRUE(!cmn_utf8_valid_str("\xed\xa0\x80"));     /* surrogate */
    ASSERT_TRUE(!cmn_utf8_valid_str("\xe0\x80\xaf"));     /* overlong '/' */
    ASSERT_TRUE(!cmn_utf8_valid_str("\xc0\xaf"));         /* overlong '/' */
    ASSERT_TRUE(!cmn_utf8_valid_str("\xf4\x90\x80\x80")); /* beyond U+10FFFF */
    ASSERT_TRUE(!cmn_utf8_valid_str("\xe2\x82"));         /* truncated */
    ASSERT_TRUE(!cmn_utf8_valid("\xe2\x82\xac", 2));      /* cut by the length */
}

/* cmn_utf8_cut_copy (issue 24 item 3: names and tags cut to fit): at most
 * max characters and dstsz - 1 bytes, never half a character, NULL as "". */
static void test_cut_copy(void)
{
    char out[8];
    ASSERT_EQ_INT(cmn_utf8_cut_copy(out, sizeof out, "abc", 10), 3);
    ASSERT_EQ_STR(out, "abc");
    ASSERT_EQ_INT(cmn_utf8_cut_copy(out, sizeof out, "abcdef", 2), 2);
    ASSERT_EQ_STR(out, "ab");
    /* "aşşş": 7 bytes fit; the byte limit of 4 falls inside the second ş */
    ASSERT_EQ_INT(cmn_utf8_cut_copy(out, 5, "a\xc5\x9f\xc5\x9f\xc5\x9f", 10), 3);
    ASSERT_EQ_STR(out, "a\xc5\x9f");
    ASSERT_EQ_INT(cmn_utf8_cut_copy(out, sizeof out, "\xc5\x9f\xc5\x9f\xc5\x9f", 2), 4);
    ASSERT_EQ_STR(out, "\xc5\x9f\xc5\x9f");
    ASSERT_EQ_INT(cmn_utf8_cut_copy(out, sizeof out, NULL, 4), 0);
    ASSERT_EQ_STR(out, "");
}

TEST_MAIN("utf8", TEST_CASE(test_agrees_with_jansson), TEST_CASE(test_known_cases),
          TEST_CASE(test_cut_copy))
