/* pop_supervisor_is (issue 25 item 3): CALLBUS_POP_SUPERVISORS is a
 * comma-separated list of CRM agent ids; only an exact id is a
 * supervisor, spaces around ids do not count, and nobody is one when the
 * list or the id is empty. */
#include "pop_supervisor.h"

#include "test.h"

static void test_listed_ids_only(void)
{
    ASSERT_EQ_INT(pop_supervisor_is("900777", "900777"), 1);
    ASSERT_EQ_INT(pop_supervisor_is("sup-1, 900777 ,x", "900777"), 1);
    ASSERT_EQ_INT(pop_supervisor_is("sup-1, 900777 ,x", "sup-1"), 1);
    ASSERT_EQ_INT(pop_supervisor_is("sup-1, 900777 ,x", "x"), 1);
    ASSERT_EQ_INT(pop_supervisor_is("sup-1,900777", "90077"), 0);   /* a prefix */
    ASSERT_EQ_INT(pop_supervisor_is("sup-1,900777", "9007777"), 0); /* longer */
    ASSERT_EQ_INT(pop_supervisor_is("sup-1,900777", "sup"), 0);
    ASSERT_EQ_INT(pop_supervisor_is("a b,c", "a b"), 1); /* inner spaces are the id's */
    ASSERT_EQ_INT(pop_supervisor_is("a b,c", "a"), 0);
}

static void test_nobody_when_empty(void)
{
    ASSERT_EQ_INT(pop_supervisor_is("", "900777"), 0);
    ASSERT_EQ_INT(pop_supervisor_is(" , ,", "900777"), 0);
    ASSERT_EQ_INT(pop_supervisor_is(NULL, "900777"), 0);
    ASSERT_EQ_INT(pop_supervisor_is("900777", ""), 0);
    ASSERT_EQ_INT(pop_supervisor_is(",,", ""), 0);
    ASSERT_EQ_INT(pop_supervisor_is("900777", NULL), 0);
}

TEST_MAIN("pop_supervisor", TEST_CASE(test_listed_ids_only), TEST_CASE(test_nobody_when_empty))
