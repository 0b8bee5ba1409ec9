/* R-T9 / R-T8 / R-T12 on Dynamics 365 (issue 23 item 1): the incident's
 * columns read from its metadata, and the custom fields written as the
 * JSON types their columns take (services/ticket/crm/crm_dyn_fields.c).
 * Pure: no I/O. */
#include "test.h"
#include "crm_dyn_fields.h"
#include "tkt_fields.h"

#include <jansson.h>
#include <stdlib.h>

/* The shape of Dataverse's answer to .../Attributes?$select=LogicalName,AttributeType */
static const char ATTRS[] =
    "{\"@odata.context\":\"x\",\"value\":["
    "{\"@odata.type\":\"#Microsoft.Dynamics.CRM.StringAttributeMetadata\","
    "\"LogicalName\":\"title\",\"AttributeType\":\"String\",\"MetadataId\":\"m1\"},"
    "{\"LogicalName\":\"new_callduration\",\"AttributeType\":\"Integer\"},"
    "{\"LogicalName\":\"new_queuename\",\"AttributeType\":\"String\"},"
    "{\"LogicalName\":\"new_csat\",\"AttributeType\":\"Picklist\"},"
    "{\"LogicalName\":\"new_notes\",\"AttributeType\":\"Memo\"},"
    "{\"LogicalName\":\"new_rating\",\"AttributeType\":\"Decimal\"},"
    "{\"LogicalName\":\"new_callback\",\"AttributeType\":\"Boolean\"},"
    "{\"LogicalName\":\"customerid\",\"AttributeType\":\"Customer\"},"
    "{\"AttributeType\":\"String\"}]}";

static void parsed(crm_dyn_columns_t *c)
{
    char err[128] = "";
    memset(c, 0, sizeof *c);
    if (crm_dyn_columns_parse(ATTRS, sizeof ATTRS - 1, c, err, sizeof err) != 0)
        fprintf(stderr, "parse: %s\n", err);
}

static void test_url_is_the_incident_attributes(void)
{
    crm_dyn_conf_t conf = {.api_base = "https://org.api.crm.dynamics.com/api/data/v9.2"};
    char url[256], small[40];
    ASSERT_EQ_INT(crm_dyn_columns_url(&conf, url, sizeof url), 0);
    ASSERT_EQ_STR(url, "https://org.api.crm.dynamics.com/api/data/v9.2/EntityDefinitions("
                       "LogicalName='incident')/Attributes?$select=LogicalName,AttributeType");
    ASSERT_EQ_INT(crm_dyn_columns_url(&conf, small, sizeof small), -1);
}

static void test_columns_and_their_types(void)
{
    crm_dyn_columns_t c;
    parsed(&c);
    ASSERT_EQ_INT(c.n, 8); /* the one without a LogicalName is skipped */
    ASSERT_EQ_INT(crm_dyn_columns_type(&c, "title"), CRM_DYN_COL_TEXT);
    ASSERT_EQ_INT(crm_dyn_columns_type(&c, "new_notes"), CRM_DYN_COL_TEXT);
    ASSERT_EQ_INT(crm_dyn_columns_type(&c, "new_callduration"), CRM_DYN_COL_WHOLE);
    ASSERT_EQ_INT(crm_dyn_columns_type(&c, "new_csat"), CRM_DYN_COL_CHOICE);
    ASSERT_EQ_INT(crm_dyn_columns_type(&c, "new_rating"), CRM_DYN_COL_DECIMAL);
    ASSERT_EQ_INT(crm_dyn_columns_type(&c, "new_callback"), CRM_DYN_COL_BOOL);
    ASSERT_EQ_INT(crm_dyn_columns_type(&c, "customerid"), CRM_DYN_COL_OTHER);
    ASSERT_EQ_INT(crm_dyn_columns_type(&c, "new_nosuch"), CRM_DYN_COL_UNKNOWN);
    crm_dyn_columns_free(&c);
    ASSERT_EQ_INT(c.n, 0);
}

static void test_not_metadata_is_refused(void)
{
    crm_dyn_columns_t c = {0};
    char err[128] = "";
    ASSERT_EQ_INT(crm_dyn_columns_parse("{\"error\":{}}", 12, &c, err, sizeof err), -1);
    ASSERT_TRUE(strstr(err, "value") != NULL);
    ASSERT_EQ_INT(c.n, 0);
}

/* R-T9 / R-T12: each value as its column's JSON type; a column the
 * metadata did not give (not read yet, or its read failed) gets a whole
 * number only for what looks like a count, never for a phone number or an
 * id made of digits. */
static void test_values_take_their_columns_types(void)
{
    crm_dyn_columns_t c;
    char err[128] = "";
    parsed(&c);
    tkt_field_t f[] = {{"new_callduration", "95"},
                       {"new_queuename", "Support"},
                       {"new_csat", "4"},
                       {"new_rating", "4.5"},
                       {"new_callback", "true"},
                       {"new_unlisted", "12"},
                       {"new_other", "billing"},
                       {"new_phone", "+390612345678"},
                       {"new_national", "0612345678"},
                       {"new_callref", "12345678901"}};
    json_t *body = json_object();
    ASSERT_EQ_INT(crm_dyn_columns_put(&c, body, f, sizeof f / sizeof f[0], err, sizeof err), 0);
    char *text = json_dumps(body, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(body);
    crm_dyn_columns_free(&c);
    ASSERT_EQ_STR(text, "{\"new_callback\":true,\"new_callduration\":95,"
                        "\"new_callref\":\"12345678901\",\"new_csat\":4,"
                        "\"new_national\":\"0612345678\",\"new_other\":\"billing\","
                        "\"new_phone\":\"+390612345678\",\"new_queuename\":\"Support\","
                        "\"new_rating\":4.5,\"new_unlisted\":12}");
    free(text);
}

/* A number that is not one, a lookup column, a name that is no column
 * name: refused, never sent as something else. */
static void test_values_a_column_cannot_take_are_refused(void)
{
    crm_dyn_columns_t c;
    char err[128] = "";
    parsed(&c);
    tkt_field_t words[] = {{"new_callduration", "long"}};
    tkt_field_t lookup[] = {{"customerid", "x"}};
    tkt_field_t inject[] = {{"new_x,statecode", "1"}};
    json_t *body = json_object();
    int r1 = crm_dyn_columns_put(&c, body, words, 1, err, sizeof err);
    int named = strstr(err, "new_callduration") != NULL;
    int r2 = crm_dyn_columns_put(&c, body, lookup, 1, err, sizeof err);
    int r3 = crm_dyn_columns_put(&c, body, inject, 1, err, sizeof err);
    size_t set = json_object_size(body);
    json_decref(body);
    crm_dyn_columns_free(&c);
    ASSERT_EQ_INT(r1, -1);
    ASSERT_TRUE(named);
    ASSERT_EQ_INT(r2, -1);
    ASSERT_EQ_INT(r3, -1);
    ASSERT_EQ_INT(set, 0);
}

/* R-T9 end to end of the pure parts: the columns read are what the core
 * checks the mapping against; a mapped column the incident lacks is found. */
static void test_mapping_checked_against_the_columns(void)
{
    crm_dyn_columns_t c;
    parsed(&c);
    char(*ids)[TKT_ID_MAX] = calloc(c.n, sizeof *ids);
    for (size_t i = 0; ids && i < c.n; i++)
        snprintf(ids[i], sizeof ids[i], "%s", c.cols[i].name);
    tkt_field_map_t map = {0};
    snprintf(map.call_duration, sizeof map.call_duration, "new_callduration");
    snprintf(map.csat, sizeof map.csat, "new_csat");
    snprintf(map.ticket_type, sizeof map.ticket_type, "new_tickettype");
    tkt_missing_fields_t m;
    size_t n = ids ? tkt_fields_find_missing(&map, (const char(*)[TKT_ID_MAX])ids, c.n, &m) : 99;
    free(ids);
    crm_dyn_columns_free(&c);
    ASSERT_EQ_INT(n, 1);
    ASSERT_EQ_STR(m.names, "ticket_type (new_tickettype)");
}

TEST_MAIN("crm_dyn_fields", TEST_CASE(test_url_is_the_incident_attributes),
          TEST_CASE(test_columns_and_their_types), TEST_CASE(test_not_metadata_is_refused),
          TEST_CASE(test_values_take_their_columns_types),
          TEST_CASE(test_values_a_column_cannot_take_are_refused),
          TEST_CASE(test_mapping_checked_against_the_columns))
