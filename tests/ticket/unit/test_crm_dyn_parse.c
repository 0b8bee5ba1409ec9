/* Dataverse response parsing (services/ticket/crm/crm_dyn_parse.c): the
 * contacts and cases our look-ups read (R-C1, R-V1), error bodies and the
 * service-protection codes, and what is refused: ids that are not GUIDs,
 * text that is not text, unbounded strings. Pure: no I/O. */
#include "test.h"
#include "crm_dyn_parse.h"

#define CONTACT "0a1b2c3d-0000-4000-8000-00000000000a"
#define CASE_ID "11111111-2222-4333-8444-555555555555"
#define OWNER "99999999-8888-4777-8666-555555555555"
#define MASTER "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"

static int contacts(const char *body, tkt_crm_contact_t *out, size_t max, size_t *n, int *more)
{
    char err[160];
    return crm_dyn_parse_contacts(body, strlen(body), out, max, n, more, err, sizeof err);
}

static void test_contacts_collection(void)
{
    const char *body =
        "{\"@odata.context\":\"x\",\"value\":["
        "{\"@odata.etag\":\"W/\\\"1\\\"\",\"contactid\":\"0A1B2C3D-0000-4000-8000-00000000000A\","
        "\"fullname\":\"Maria Rossi\",\"emailaddress1\":\"maria@example.com\","
        "\"createdon\":\"2026-11-30T10:00:00Z\"},"
        "{\"contactid\":\"" CASE_ID "\",\"fullname\":null,\"firstname\":\"Luca\","
        "\"lastname\":\"Bianchi\",\"emailaddress1\":null}]}";
    tkt_crm_contact_t out[2];
    size_t n = 9;
    int more = 9;
    ASSERT_EQ_INT(contacts(body, out, 2, &n, &more), 0);
    ASSERT_EQ_INT(n, 2);
    ASSERT_EQ_INT(more, 0);
    ASSERT_EQ_STR(out[0].id, CONTACT); /* normalised to lower case */
    ASSERT_EQ_STR(out[0].name, "Maria Rossi");
    ASSERT_EQ_STR(out[0].email, "maria@example.com");
    ASSERT_TRUE(out[0].created_at_ms > 0);
    ASSERT_EQ_STR(out[1].name, "Luca Bianchi"); /* from the parts when fullname is absent */
    ASSERT_EQ_STR(out[1].email, "");
    /* More than asked for: the first ones, and say so. */
    ASSERT_EQ_INT(contacts(body, out, 1, &n, &more), 0);
    ASSERT_EQ_INT(n, 1);
    ASSERT_EQ_INT(more, 1);
    ASSERT_EQ_INT(contacts("{\"value\":[]}", out, 2, &n, NULL), 0);
    ASSERT_EQ_INT(n, 0);
}

static void test_contacts_refused(void)
{
    tkt_crm_contact_t out[2];
    size_t n = 0;
    char err[160];
    ASSERT_EQ_INT(contacts("{\"value\":[{\"contactid\":\"42\"}]}", out, 2, &n, NULL), -1);
    ASSERT_EQ_INT(n, 0);
    ASSERT_EQ_INT(contacts("{\"value\":[{\"fullname\":\"x\"}]}", out, 2, &n, NULL), -1);
    ASSERT_EQ_INT(
        contacts("{\"value\":[{\"contactid\":\"" CONTACT "\",\"fullname\":7}]}", out, 2, &n, NULL),
        -1);
    ASSERT_EQ_INT(contacts("{\"value\":{}}", out, 2, &n, NULL), -1);
    ASSERT_EQ_INT(contacts("[1]", out, 2, &n, NULL), -1);
    ASSERT_EQ_INT(contacts("not json", out, 2, &n, NULL), -1);
    /* An embedded NUL is not a name (jansson refuses \u0000 without
     * JSON_ALLOW_NUL; crm_text_copy would too). */
    const char nul[] = "{\"value\":[{\"contactid\":\"" CONTACT "\",\"fullname\":\"a\\u0000b\"}]}";
    ASSERT_EQ_INT(crm_dyn_parse_contacts(nul, sizeof nul - 1, out, 2, &n, NULL, err, sizeof err),
                  -1);
    ASSERT_TRUE(err[0] != '\0');
}

static void test_long_and_control_text_is_bounded(void)
{
    char body[4096];
    char name[1200] = "";
    for (int i = 0; i < 300; i++)
        strcat(name, "\xe2\x82\xac"); /* 300 x euro sign, 900 bytes */
    snprintf(body, sizeof body,
             "{\"value\":[{\"contactid\":\"" CONTACT "\",\"fullname\":\"%s\\r\\nX-Forged: 1\"}]}",
             name);
    tkt_crm_contact_t out[1];
    size_t n = 0;
    ASSERT_EQ_INT(contacts(body, out, 1, &n, NULL), 0);
    size_t len = strlen(out[0].name);
    ASSERT_TRUE(len < TKT_TEXT_MAX);
    ASSERT_EQ_INT(len % 3, 0); /* no euro sign cut in half */
    snprintf(body, sizeof body,
             "{\"value\":[{\"contactid\":\"" CONTACT "\",\"fullname\":\"Eve\\r\\nX-Forged: 1\"}]}");
    ASSERT_EQ_INT(contacts(body, out, 1, &n, NULL), 0);
    ASSERT_EQ_STR(out[0].name, "Eve  X-Forged: 1"); /* CR LF blanked: no forged lines */
}

static void test_cases(void)
{
    const char *body =
        "{\"value\":[{\"incidentid\":\"" CASE_ID "\",\"title\":\"Call from 06\","
        "\"ticketnumber\":\"CAS-01001-ABC123\",\"statecode\":0,\"statuscode\":2,"
        "\"createdon\":\"2026-11-30T10:00:00Z\",\"modifiedon\":\"2026-11-30T11:00:00Z\","
        "\"_customerid_value\":\"" CONTACT "\",\"_ownerid_value\":\"" OWNER "\"}]}";
    tkt_crm_ticket_t out[2];
    size_t n = 0;
    char err[160];
    ASSERT_EQ_INT(crm_dyn_parse_cases(body, strlen(body), out, 2, &n, err, sizeof err), 0);
    ASSERT_EQ_INT(n, 1);
    ASSERT_EQ_STR(out[0].id, CASE_ID);
    ASSERT_EQ_INT(out[0].status, TKT_ST_HOLD);
    ASSERT_EQ_STR(out[0].subject, "Call from 06");
    ASSERT_EQ_STR(out[0].external_id, "CAS-01001-ABC123");
    ASSERT_EQ_STR(out[0].number, "CAS-01001-ABC123"); /* R-V1: what a caller is told */
    ASSERT_EQ_STR(out[0].assignee_id, OWNER);
    ASSERT_EQ_STR(out[0].requester_id, CONTACT);
    ASSERT_TRUE(out[0].updated_at_ms - out[0].created_at_ms == 3600000);

    const char *one = "{\"@odata.etag\":\"W/\\\"7\\\"\",\"incidentid\":\"" CASE_ID "\","
                      "\"title\":\"t\",\"statecode\":1,\"statuscode\":5}";
    tkt_crm_ticket_t t;
    ASSERT_EQ_INT(crm_dyn_parse_case(one, strlen(one), &t, err, sizeof err), 0);
    ASSERT_EQ_INT(t.status, TKT_ST_SOLVED);
    ASSERT_EQ_STR(t.assignee_id, "");
    ASSERT_EQ_STR(t.number, ""); /* absent from the answer: none */
    const char *bad_state = "{\"incidentid\":\"" CASE_ID "\",\"statecode\":7}";
    ASSERT_EQ_INT(crm_dyn_parse_case(bad_state, strlen(bad_state), &t, err, sizeof err), -1);
    const char *no_state = "{\"incidentid\":\"" CASE_ID "\",\"statecode\":\"0\"}";
    ASSERT_EQ_INT(crm_dyn_parse_case(no_state, strlen(no_state), &t, err, sizeof err), -1);
    const char *bad_owner =
        "{\"incidentid\":\"" CASE_ID "\",\"statecode\":0,\"_ownerid_value\":\"me\"}";
    ASSERT_EQ_INT(crm_dyn_parse_case(bad_owner, strlen(bad_owner), &t, err, sizeof err), -1);
    ASSERT_TRUE(strstr(err, "_ownerid_value") != NULL);
}

static void test_errors_and_throttling(void)
{
    crm_dyn_error_t e;
    const char *body = "{\"error\":{\"code\":\"0x80072322\",\"message\":\"Number of requests "
                       "exceeded the limit of 6000 over time window of 300 seconds.\"}}";
    ASSERT_EQ_INT(crm_dyn_parse_error(body, strlen(body), &e), 0);
    ASSERT_EQ_STR(e.code, "0x80072322");
    ASSERT_TRUE(strstr(e.message, "6000") != NULL);
    ASSERT_TRUE(crm_dyn_error_is_throttle(&e));
    const char *nf = "{\"error\":{\"code\":\"0x80040217\",\"message\":\"incident With Id = x "
                     "Does Not Exist\"}}";
    ASSERT_EQ_INT(crm_dyn_parse_error(nf, strlen(nf), &e), 0);
    ASSERT_TRUE(!crm_dyn_error_is_throttle(&e));
    ASSERT_EQ_INT(crm_dyn_parse_error("{\"error\":\"invalid_client\"}", 26, &e), -1);
    ASSERT_EQ_STR(e.code, "");
    ASSERT_EQ_INT(crm_dyn_parse_error("<html>", 6, &e), -1);
    const char *long_code = "{\"error\":{\"code\":\"0x800723220000000000000\",\"message\":\"m\"}}";
    ASSERT_EQ_INT(crm_dyn_parse_error(long_code, strlen(long_code), &e), -1);
}

/* R-T7, issue 23 item 2: Dataverse's Merge deactivates the subordinate
 * case (statecode 2 Cancelled, statuscode 2000 Merged) and points its
 * masterid at the master; the read reports that master as merged_into, as
 * the Zendesk adapter does, so the core follows it instead of making a new
 * case (R-T10). A case cancelled without a merge has no target. */
static void test_merged_case_names_its_master(void)
{
    char err[160];
    tkt_crm_ticket_t t;
    const char *merged = "{\"incidentid\":\"" CASE_ID "\",\"statecode\":2,"
                         "\"statuscode\":2000,\"_masterid_value\":\"" MASTER "\"}";
    ASSERT_EQ_INT(crm_dyn_parse_case(merged, strlen(merged), &t, err, sizeof err), 0);
    ASSERT_EQ_INT(t.status, TKT_ST_CLOSED);
    ASSERT_EQ_STR(t.merged_into, MASTER);

    const char *cancelled = "{\"incidentid\":\"" CASE_ID "\",\"statecode\":2,"
                            "\"statuscode\":6,\"_masterid_value\":null}";
    ASSERT_EQ_INT(crm_dyn_parse_case(cancelled, strlen(cancelled), &t, err, sizeof err), 0);
    ASSERT_EQ_INT(t.status, TKT_ST_CLOSED);
    ASSERT_EQ_STR(t.merged_into, "");

    const char *bad_master = "{\"incidentid\":\"" CASE_ID "\",\"statecode\":2,"
                             "\"statuscode\":2000,\"_masterid_value\":\"x\"}";
    ASSERT_EQ_INT(crm_dyn_parse_case(bad_master, strlen(bad_master), &t, err, sizeof err), -1);
}

/* Issue 26 item 3: a change-tracking page (the contact mirror's feed): a
 * contact with its phone columns, a deactivated one and a deleted one are
 * gone, the next or delta link is the cursor, and a page that is neither
 * is refused. */
static void test_contact_changes(void)
{
    static const char attrs[2][CRM_DYN_PHONE_ATTR_MAX] = {"telephone1", "mobilephone"};
    const char *page =
        "{\"value\":[{\"contactid\":\"" CONTACT "\",\"fullname\":\"Maria Rossi\","
        "\"emailaddress1\":null,\"telephone1\":\"06 1234 5678\",\"mobilephone\":null,"
        "\"statecode\":0},"
        "{\"contactid\":\"" CASE_ID "\",\"fullname\":\"Old\",\"statecode\":1},"
        "{\"@odata.context\":\"x/$deletedEntity\",\"id\":\"" OWNER "\",\"reason\":"
        "\"deleted\"}],"
        "\"@odata.deltaLink\":\"https://org/api/data/v9.2/contacts?$deltatoken=9\"}";
    tkt_crm_change_t out[4];
    size_t n = 0;
    char *link = NULL, err[160];
    int end = 0;
    ASSERT_EQ_INT(crm_dyn_parse_changes(page, strlen(page), attrs, 2, out, 4, &n, &link, &end, err,
                                        sizeof err),
                  0);
    ASSERT_EQ_INT(n, 3);
    ASSERT_EQ_INT(end, 1);
    ASSERT_EQ_STR(link, "https://org/api/data/v9.2/contacts?$deltatoken=9");
    free(link);
    ASSERT_EQ_STR(out[0].contact.id, CONTACT);
    ASSERT_EQ_INT(out[0].gone, 0);
    ASSERT_EQ_INT(out[0].n_phones, 1);
    ASSERT_EQ_STR(out[0].phones[0], "06 1234 5678");
    ASSERT_EQ_INT(out[1].gone, 1); /* deactivated */
    ASSERT_EQ_INT(out[2].gone, 1); /* deleted */
    ASSERT_EQ_STR(out[2].contact.id, OWNER);
    const char *next = "{\"value\":[],\"@odata.nextLink\":\"https://org/n\"}";
    ASSERT_EQ_INT(crm_dyn_parse_changes(next, strlen(next), attrs, 2, out, 4, &n, &link, &end, err,
                                        sizeof err),
                  0);
    ASSERT_EQ_INT(end, 0);
    ASSERT_EQ_STR(link, "https://org/n");
    free(link);
    const char *neither = "{\"value\":[]}";
    ASSERT_EQ_INT(crm_dyn_parse_changes(neither, strlen(neither), attrs, 2, out, 4, &n, &link, &end,
                                        err, sizeof err),
                  -1);
    ASSERT_TRUE(link == NULL);
}

TEST_MAIN("crm_dyn_parse", TEST_CASE(test_contacts_collection), TEST_CASE(test_contacts_refused),
          TEST_CASE(test_long_and_control_text_is_bounded), TEST_CASE(test_cases),
          TEST_CASE(test_errors_and_throttling), TEST_CASE(test_merged_case_names_its_master),
          TEST_CASE(test_contact_changes))
