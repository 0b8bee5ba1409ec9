/* R-M1 / R-M3 on Dynamics 365 (issue 23 item 3): the call markers Zendesk
 * carries as tags written to a text column of the incident, merged with
 * what the column holds as Zendesk's additional_tags merge, and the column
 * checked against the incident's metadata
 * (services/ticket/crm/crm_dyn_markers.c). Pure: no I/O. */
#include "test.h"
#include "crm_dyn_markers.h"

#include <jansson.h>
#include <string.h>

static const char ATTRS[] = "{\"value\":["
                            "{\"LogicalName\":\"new_callbusmarkers\",\"AttributeType\":\"String\"},"
                            "{\"LogicalName\":\"new_memo\",\"AttributeType\":\"Memo\"},"
                            "{\"LogicalName\":\"new_calltype\",\"AttributeType\":\"Picklist\"}]}";

static void parsed(crm_dyn_columns_t *c)
{
    char err[128] = "";
    memset(c, 0, sizeof *c);
    ASSERT_EQ_INT(crm_dyn_columns_parse(ATTRS, sizeof ATTRS - 1, c, err, sizeof err), 0);
}

/* The markers are the rules' tags themselves (callbus_missed, ...), so a
 * view filters "contains callbus_missed" as a Zendesk view filters a tag;
 * "callbus" (every case) and "callbus-<call>" (one per call) are not. */
static void test_create_writes_the_tags_space_separated(void)
{
    const char tags[][48] = {"callbus", "callbus_call", "callbus-CA0123", "callbus_missed",
                             "",        "callbus_"};
    char out[CRM_DYN_MARKERS_MAX];
    ASSERT_EQ_INT(crm_dyn_markers_merge("", tags, 6, out, sizeof out), 0);
    ASSERT_EQ_STR(out, "callbus_call callbus_missed");
}

/* issue 24 item 3: the provider's tags (one word each, tkt_rules.c
 * provider_tag) are words of the column too; text with a space is not. */
static void test_provider_tags_are_words_of_the_column(void)
{
    const char tags[][48] = {"callbus", "callbus_call", "vip", "geri_ara", "two words"};
    char out[CRM_DYN_MARKERS_MAX];
    ASSERT_EQ_INT(crm_dyn_markers_merge("callbus_missed", tags, 5, out, sizeof out), 0);
    ASSERT_EQ_STR(out, "callbus_missed callbus_call vip geri_ara");
    ASSERT_TRUE(crm_dyn_markers_any(&tags[2], 1));
}

/* R-M3: a later update adds (called back, idle leg) and loses none. */
static void test_update_adds_to_what_the_case_holds(void)
{
    const char tags[][48] = {"callbus_called_back", "callbus_missed"};
    char out[CRM_DYN_MARKERS_MAX];
    ASSERT_EQ_INT(crm_dyn_markers_merge("callbus_call  callbus_missed", tags, 2, out, sizeof out),
                  0);
    ASSERT_EQ_STR(out, "callbus_call callbus_missed callbus_called_back");
    ASSERT_EQ_INT(crm_dyn_markers_merge(NULL, tags, 0, out, sizeof out), 0);
    ASSERT_EQ_STR(out, "");
}

static void test_a_merge_that_does_not_fit_is_refused(void)
{
    const char tags[][48] = {"callbus_called_back"};
    char out[24];
    ASSERT_EQ_INT(crm_dyn_markers_merge("callbus_missed", tags, 1, out, sizeof out), -1);
}

static void test_has_marker_is_a_whole_word(void)
{
    ASSERT_TRUE(crm_dyn_markers_has("callbus_call callbus_missed", "callbus_missed"));
    ASSERT_TRUE(!crm_dyn_markers_has("callbus_call callbus_missed", "callbus_miss"));
    ASSERT_TRUE(!crm_dyn_markers_has("callbus_idle_leg", "callbus_idle"));
    ASSERT_TRUE(!crm_dyn_markers_has(NULL, "callbus_call"));
}

/* Start-up: the configured column must be a text column of the incident. */
static void test_column_checked_against_the_metadata(void)
{
    crm_dyn_columns_t c;
    char err[160] = "";
    parsed(&c);
    ASSERT_EQ_INT(crm_dyn_markers_check(&c, "new_callbusmarkers", err, sizeof err), 0);
    ASSERT_EQ_INT(crm_dyn_markers_check(&c, "new_memo", err, sizeof err), 0);
    ASSERT_EQ_INT(crm_dyn_markers_check(&c, "", err, sizeof err), 0); /* off */
    ASSERT_EQ_INT(crm_dyn_markers_check(&c, "new_nosuch", err, sizeof err), -1);
    ASSERT_TRUE(strstr(err, "new_nosuch") != NULL);
    ASSERT_EQ_INT(crm_dyn_markers_check(&c, "new_calltype", err, sizeof err), -1);
    ASSERT_TRUE(strstr(err, "text") != NULL);
    crm_dyn_columns_free(&c);
}

static void test_put_sets_the_column_on_the_body(void)
{
    const char tags[][48] = {"callbus_voicemail"};
    json_t *body = json_object();
    char err[160] = "";
    ASSERT_EQ_INT(
        crm_dyn_markers_put(body, "new_callbusmarkers", "callbus_call", tags, 1, err, sizeof err),
        0);
    ASSERT_EQ_STR(json_string_value(json_object_get(body, "new_callbusmarkers")),
                  "callbus_call callbus_voicemail");
    /* no column configured, or no tags: the body is left alone */
    ASSERT_EQ_INT(crm_dyn_markers_put(body, "", NULL, tags, 1, err, sizeof err), 0);
    ASSERT_EQ_INT(crm_dyn_markers_put(body, "new_other", NULL, tags, 0, err, sizeof err), 0);
    const char ids[][48] = {"callbus", "callbus-CA0123"};
    ASSERT_EQ_INT(crm_dyn_markers_put(body, "new_other", NULL, ids, 2, err, sizeof err), 0);
    ASSERT_EQ_INT(json_object_size(body), 1);
    /* a column a person filled past its length: left as it is */
    char full[CRM_DYN_MARKERS_MAX];
    memset(full, 'x', sizeof full - 1);
    full[sizeof full - 1] = '\0';
    ASSERT_EQ_INT(crm_dyn_markers_put(body, "new_full", full, tags, 1, err, sizeof err), 0);
    ASSERT_TRUE(json_object_get(body, "new_full") == NULL);
    json_decref(body);
}

static void test_url_reads_the_cases_markers(void)
{
    crm_dyn_conf_t conf = {.api_base = "https://org.api.crm.dynamics.com/api/data/v9.2"};
    const char *ids[] = {"EBA18BA9-2C9F-5B1E-8C5D-F34B18964A9E",
                         "ce4a013b-c38e-5a80-a5d3-cb413d6ecc0c"};
    const char *bad[] = {"nope"};
    char url[512], small[80];
    ASSERT_EQ_INT(crm_dyn_markers_url(&conf, "new_callbusmarkers", ids, 2, url, sizeof url), 0);
    ASSERT_EQ_STR(url, "https://org.api.crm.dynamics.com/api/data/v9.2/incidents?$select="
                       "incidentid,new_callbusmarkers&$filter="
                       "incidentid%20eq%20eba18ba9-2c9f-5b1e-8c5d-f34b18964a9e%20or%20"
                       "incidentid%20eq%20ce4a013b-c38e-5a80-a5d3-cb413d6ecc0c");
    ASSERT_EQ_INT(crm_dyn_markers_url(&conf, "new_callbusmarkers", ids, 2, small, sizeof small),
                  -1);
    ASSERT_EQ_INT(crm_dyn_markers_url(&conf, "new_callbusmarkers", bad, 1, url, sizeof url), -1);
    ASSERT_EQ_INT(crm_dyn_markers_url(&conf, "x y", ids, 1, url, sizeof url), -1);
    ASSERT_EQ_INT(crm_dyn_markers_url(&conf, "new_callbusmarkers", ids, 0, url, sizeof url), -1);
}

TEST_MAIN("crm_dyn_markers", TEST_CASE(test_create_writes_the_tags_space_separated),
          TEST_CASE(test_update_adds_to_what_the_case_holds),
          TEST_CASE(test_provider_tags_are_words_of_the_column),
          TEST_CASE(test_a_merge_that_does_not_fit_is_refused),
          TEST_CASE(test_has_marker_is_a_whole_word),
          TEST_CASE(test_column_checked_against_the_metadata),
          TEST_CASE(test_put_sets_the_column_on_the_body),
          TEST_CASE(test_url_reads_the_cases_markers))
