/* cmn_sse: the text/event-stream framing pop-service's streams use (R-P5). */
#include "cmn_sse.h"
#include "test.h"

static void test_event_with_id_and_type(void)
{
    char *s = cmn_sse_event("1700000000000-0", "pop", "{\"a\":1}");
    ASSERT_EQ_STR(s, "id: 1700000000000-0\nevent: pop\ndata: {\"a\":1}\n\n");
    free(s);
}

static void test_data_lines_split(void)
{
    char *s = cmn_sse_event(NULL, NULL, "one\ntwo\r\nthree\rfour");
    ASSERT_EQ_STR(s, "data: one\ndata: two\ndata: three\ndata: four\n\n");
    free(s);
}

static void test_empty_data(void)
{
    char *s = cmn_sse_event("7", NULL, "");
    ASSERT_EQ_STR(s, "id: 7\ndata: \n\n");
    free(s);
}

/* A line break in the id would let data forge fields of its own. */
static void test_id_with_break_refused(void)
{
    ASSERT_TRUE(cmn_sse_event("1\ndata: x", "pop", "{}") == NULL);
    ASSERT_TRUE(cmn_sse_event("1", "pop\r", "{}") == NULL);
    ASSERT_TRUE(cmn_sse_event("1", "pop", NULL) == NULL);
}

static void test_comment(void)
{
    char *s = cmn_sse_comment("keep-alive");
    ASSERT_EQ_STR(s, ": keep-alive\n\n");
    free(s);
    ASSERT_TRUE(cmn_sse_comment("a\nb") == NULL);
}

TEST_MAIN("sse", TEST_CASE(test_event_with_id_and_type), TEST_CASE(test_data_lines_split),
          TEST_CASE(test_empty_data), TEST_CASE(test_id_with_break_refused),
          TEST_CASE(test_comment))
