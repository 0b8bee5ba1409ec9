/* R-T9's missing fields (tkt_fields.c, issue 7 item 11: one home for what
 * main.c learnt and the pipeline applied): learnt from the CRM's field
 * list, taken out of ops and named on the ticket. */
#include "test.h"
#include "tkt_fields.h"

static tkt_field_map_t map(void)
{
    tkt_field_map_t m = {0};
    snprintf(m.call_duration, sizeof m.call_duration, "1003");
    snprintf(m.queue_name, sizeof m.queue_name, "1005");
    snprintf(m.csat, sizeof m.csat, "1009");
    return m;
}

static void test_missing_are_the_mapped_ones_the_crm_lacks(void)
{
    static char ids[3][TKT_ID_MAX] = {"1003", "1100", "1101"};
    tkt_field_map_t m = map();
    tkt_missing_fields_t out;
    ASSERT_EQ_INT(tkt_fields_find_missing(&m, (const char(*)[TKT_ID_MAX])ids, 3, &out), 2);
    ASSERT_EQ_STR(out.ids[0], "1005");
    ASSERT_EQ_STR(out.ids[1], "1009");
    ASSERT_EQ_STR(out.names, "queue_name (1005), csat (1009)");
}

static void test_apply_leaves_them_out_and_names_them(void)
{
    static char ids[1][TKT_ID_MAX] = {"1003"};
    tkt_field_map_t m = map();
    tkt_missing_fields_t missing;
    tkt_fields_find_missing(&m, (const char(*)[TKT_ID_MAX])ids, 1, &missing);
    tkt_op_t op = {.kind = TKT_OP_UPDATE, .n_fields = 2};
    snprintf(op.fields[0].field_id, sizeof op.fields[0].field_id, "1003");
    snprintf(op.fields[1].field_id, sizeof op.fields[1].field_id, "1005");
    snprintf(op.body, sizeof op.body, "Call ended.");
    ASSERT_EQ_INT(tkt_fields_apply(&missing, &op), 1);
    ASSERT_EQ_INT(op.n_fields, 1);
    ASSERT_EQ_STR(op.fields[0].field_id, "1003");
    ASSERT_EQ_STR(op.body, "Call ended.\n\nNo field found for queue_name (1005), csat (1009).");
    tkt_op_t none = {.kind = TKT_OP_UPDATE, .n_fields = 1};
    snprintf(none.fields[0].field_id, sizeof none.fields[0].field_id, "1003");
    ASSERT_EQ_INT(tkt_fields_apply(&missing, &none), 0); /* nothing missing: untouched */
    ASSERT_EQ_STR(none.body, "");
}

TEST_MAIN("ticket_fields", TEST_CASE(test_missing_are_the_mapped_ones_the_crm_lacks),
          TEST_CASE(test_apply_leaves_them_out_and_names_them))
