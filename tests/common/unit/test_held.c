/* cmn_held: the list of messages handed to a service's work (ticket-service's
 * intake, pop-service). Records leave it in any order, each freed once with
 * what it owns (the clear callback), and a shutdown frees what is left. */
#include "cmn_held.h"
#include "test.h"

typedef struct {
    cmn_held_t base;
    char *owned; /* freed by clear, as ticket-service's key and payload */
    int id;
} rec_t;

static int cleared[8];

static void clear(cmn_held_t *h)
{
    rec_t *r = (rec_t *)h;
    cleared[r->id]++;
    free(r->owned);
}

static rec_t *take(cmn_held_list_t *l, int id)
{
    cmn_msg_pos_t pos = {.topic = "call-events", .partition = id % 3, .offset = 100 + id};
    rec_t *r = cmn_held_take(l, &pos, sizeof *r);
    if (r) {
        r->id = id;
        r->owned = malloc(16);
    }
    return r;
}

/* The ids of the listed records, newest first, as digits. */
static const char *ids(const cmn_held_list_t *l)
{
    static char out[16];
    size_t n = 0;
    for (const cmn_held_t *h = l->head; h && n < sizeof out - 1; h = h->next) {
        if (h->next && h->next->prev != h)
            return "broken back link";
        out[n++] = (char)('0' + ((const rec_t *)h)->id);
    }
    out[n] = '\0';
    return out;
}

static void test_take_keeps_the_position(void)
{
    cmn_held_list_t l = {.clear = clear};
    rec_t *r = take(&l, 4);
    ASSERT_TRUE(r != NULL);
    ASSERT_EQ_STR(r->base.pos.topic, "call-events");
    ASSERT_EQ_INT(r->base.pos.partition, 1);
    ASSERT_EQ_INT(r->base.pos.offset, 104);
    ASSERT_TRUE(r->base.list == &l);
    ASSERT_EQ_STR(ids(&l), "4");
    cmn_held_release_all(&l);
    ASSERT_TRUE(l.head == NULL);
}

static void test_release_in_any_order(void)
{
    cmn_held_list_t l = {.clear = clear};
    rec_t *r[5];
    memset(cleared, 0, sizeof cleared);
    for (int i = 0; i < 5; i++)
        ASSERT_TRUE((r[i] = take(&l, i)) != NULL);
    ASSERT_EQ_STR(ids(&l), "43210");
    cmn_held_release(&r[2]->base); /* the middle */
    ASSERT_EQ_STR(ids(&l), "4310");
    cmn_held_release(&r[4]->base); /* the head */
    ASSERT_EQ_STR(ids(&l), "310");
    cmn_held_release(&r[0]->base); /* the tail */
    ASSERT_EQ_STR(ids(&l), "31");
    cmn_held_release(NULL); /* NULL-safe, as ticket-service's give-back path relies on */
    ASSERT_EQ_INT(cleared[2] + cleared[4] + cleared[0], 3);
    ASSERT_EQ_INT(cleared[1] + cleared[3], 0);
    cmn_held_release_all(&l); /* shutdown: the unfinished ones */
    ASSERT_TRUE(l.head == NULL);
    for (int i = 0; i < 5; i++)
        ASSERT_EQ_INT(cleared[i], 1);
}

/* With the consumer closed already (at shutdown), done only releases. */
static void test_done_without_consumer(void)
{
    cmn_held_list_t l = {.clear = clear};
    memset(cleared, 0, sizeof cleared);
    rec_t *a = take(&l, 1), *b = take(&l, 2);
    ASSERT_TRUE(a && b);
    cmn_held_done(&a->base, NULL);
    ASSERT_EQ_STR(ids(&l), "2");
    ASSERT_EQ_INT(cleared[1], 1);
    cmn_held_done(&b->base, NULL);
    ASSERT_TRUE(l.head == NULL);
    ASSERT_EQ_INT(cleared[2], 1);
}

/* A list without a clear callback frees the records alone (pop-service). */
static void test_no_clear(void)
{
    cmn_held_list_t l = {0};
    cmn_msg_pos_t pos = {.topic = "ticket-events", .partition = 0, .offset = 7};
    cmn_held_t *h = cmn_held_take(&l, &pos, sizeof *h);
    ASSERT_TRUE(h != NULL && l.head == h);
    ASSERT_TRUE(cmn_held_take(&l, &pos, sizeof *h) != NULL);
    cmn_held_release(h);
    ASSERT_TRUE(l.head != NULL && l.head->next == NULL && l.head->prev == NULL);
    cmn_held_release_all(&l);
    ASSERT_TRUE(l.head == NULL);
}

TEST_MAIN("held", TEST_CASE(test_take_keeps_the_position), TEST_CASE(test_release_in_any_order),
          TEST_CASE(test_done_without_consumer), TEST_CASE(test_no_clear))
