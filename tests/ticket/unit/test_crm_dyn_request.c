/* Dynamics 365 request building (services/ticket/crm/crm_dyn_request.c,
 * crm_odata.c): the look-up form of the caller's number (R-I2), OData
 * literal escaping, the latest unresolved case (R-V1), bodies of the
 * writes, and the pop URLs (R-P3). Pure: no I/O. */
#include "test.h"
#include "crm_dyn_request.h"

#include <jansson.h>
#include <stdlib.h>

#define CONTACT "0A1B2C3D-0000-4000-8000-00000000000A"
#define CONTACT_LC "0a1b2c3d-0000-4000-8000-00000000000a"
#define CASE_ID "11111111-2222-4333-8444-555555555555"
#define AGENT "99999999-8888-4777-8666-555555555555"

static crm_dyn_conf_t conf_it(const char *attrs)
{
    crm_dyn_conf_t c = {.api_base = "https://org.api.crm.dynamics.com/api/data/v9.2",
                        .app_base = "https://org.crm.dynamics.com",
                        .lookup_form = CMN_PHONE_LOOKUP_NATIONAL,
                        .country = cmn_phone_country("IT")};
    char err[128];
    if (crm_dyn_phone_attrs_parse(&c, attrs, err, sizeof err) != 0)
        c.n_phone_attrs = 0;
    return c;
}

static void test_guids(void)
{
    char out[CRM_GUID_MAX];
    ASSERT_TRUE(crm_odata_guid_valid(CONTACT));
    ASSERT_TRUE(!crm_odata_guid_valid("0a1b2c3d-0000-4000-8000-00000000000"));
    ASSERT_TRUE(!crm_odata_guid_valid("0a1b2c3d-0000-4000-8000-00000000000g"));
    ASSERT_TRUE(!crm_odata_guid_valid("0a1b2c3d00000-4000-8000-00000000000a"));
    ASSERT_TRUE(!crm_odata_guid_valid("{0a1b2c3d-0000-4000-8000-00000000000a}"));
    ASSERT_EQ_INT(crm_odata_guid_norm(CONTACT, out), 0);
    ASSERT_EQ_STR(out, CONTACT_LC);
    ASSERT_EQ_INT(crm_odata_guid_norm("x') or (1 eq 1", out), -1);
}

/* Expected values from Python's uuid.uuid5, an independent implementation. */
static void test_name_based_guids(void)
{
    char out[CRM_GUID_MAX];
    ASSERT_EQ_INT(
        crm_odata_guid_from_name("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "python.org", out),
        0); /* RFC 9562's DNS namespace */
    ASSERT_EQ_STR(out, "886313e1-3b8a-5372-9b90-0c9aee199e5d");
    ASSERT_EQ_INT(crm_odata_guid_from_name("6F1C8F1E-6B7E-4C55-9D2A-2A0C1B9E7D01",
                                           "callbus-CA123-after-42", out),
                  0);
    ASSERT_EQ_STR(out, "0b8c0b0f-d2af-58f1-87df-dda46df44fab");
    ASSERT_EQ_INT(
        crm_odata_guid_from_name("6f1c8f1e-6b7e-4c55-9d2a-2a0c1b9e7d01", "caf\xc3\xa9", out), 0);
    ASSERT_EQ_STR(out, "0bf435f3-2a4a-544d-9511-5a73b667cd8b");
    ASSERT_TRUE(crm_odata_guid_valid(out));
    ASSERT_EQ_INT(crm_odata_guid_from_name("not-a-namespace", "x", out), -1);
    ASSERT_EQ_INT(crm_odata_guid_from_name("6f1c8f1e-6b7e-4c55-9d2a-2a0c1b9e7d01", "", out), -1);
}

static void test_string_literal_doubles_quotes_and_encodes(void)
{
    char out[64];
    ASSERT_EQ_INT(crm_odata_string_literal("O'Brien", out, sizeof out), 18);
    ASSERT_EQ_STR(out, "%27O%27%27Brien%27");
    ASSERT_TRUE(crm_odata_string_literal("a&b=c d+e", out, sizeof out) > 0);
    ASSERT_EQ_STR(out, "%27a%26b%3Dc%20d%2Be%27");
    ASSERT_TRUE(crm_odata_string_literal("caf\xc3\xa9", out, sizeof out) > 0);
    ASSERT_EQ_STR(out, "%27caf%C3%A9%27");
    /* Refused: not UTF-8, a control character, a buffer too small. */
    ASSERT_EQ_INT(crm_odata_string_literal("\xff", out, sizeof out), -1);
    ASSERT_EQ_INT(crm_odata_string_literal("a\nb", out, sizeof out), -1);
    char small[8];
    ASSERT_EQ_INT(crm_odata_string_literal("0612345678", small, sizeof small), -1);
}

static void test_entity_id_key(void)
{
    char key[CRM_GUID_MAX];
    const char *eid = "https://org.api.crm.dynamics.com/api/data/v9.2/incidents(" CASE_ID ")";
    ASSERT_EQ_INT(crm_odata_entity_id_key(eid, "incidents", key), 0);
    ASSERT_EQ_STR(key, CASE_ID);
    ASSERT_EQ_INT(crm_odata_entity_id_key(eid, NULL, key), 0);
    ASSERT_EQ_INT(crm_odata_entity_id_key(eid, "contacts", key), -1);
    ASSERT_EQ_INT(crm_odata_entity_id_key(eid, "dents", key), -1); /* a suffix is not the set */
    ASSERT_EQ_INT(crm_odata_entity_id_key("incidents(" CASE_ID ")", "incidents", key), 0);
    ASSERT_EQ_INT(crm_odata_entity_id_key("incidents(not-a-guid)", "incidents", key), -1);
    ASSERT_EQ_INT(crm_odata_entity_id_key("", NULL, key), -1);
}

static void test_phone_attrs_are_configuration(void)
{
    crm_dyn_conf_t c = {0};
    char err[128];
    ASSERT_EQ_INT(crm_dyn_phone_attrs_parse(&c, " telephone1, mobilephone ", err, sizeof err), 0);
    ASSERT_EQ_INT(c.n_phone_attrs, 2);
    ASSERT_EQ_STR(c.phone_attrs[1], "mobilephone");
    ASSERT_EQ_INT(crm_dyn_phone_attrs_parse(&c, "telephone1 or 1 eq 1", err, sizeof err), -1);
    ASSERT_EQ_INT(crm_dyn_phone_attrs_parse(&c, "telephone1,tel'x", err, sizeof err), -1);
    ASSERT_EQ_INT(crm_dyn_phone_attrs_parse(&c, "", err, sizeof err), -1);
    ASSERT_EQ_INT(crm_dyn_phone_attrs_parse(&c, "a,b,c,d,e", err, sizeof err), -1);
    ASSERT_TRUE(strstr(err, "at most 4") != NULL);
}

/* R-I2: the Dynamics flow strips '+' and the country code before searching. */
static void test_contact_lookup_in_national_form(void)
{
    crm_dyn_conf_t c = conf_it("telephone1,mobilephone");
    char url[1024];
    ASSERT_EQ_INT(crm_dyn_contacts_by_phone_url(&c, "+390612345678", 16, url, sizeof url), 0);
    ASSERT_EQ_STR(url, "https://org.api.crm.dynamics.com/api/data/v9.2/contacts?$select=contactid,"
                       "fullname,firstname,lastname,emailaddress1,telephone1,mobilephone,createdon"
                       "&$filter=telephone1%20eq%20%270612345678%27%20or%20mobilephone%20eq%20"
                       "%270612345678%27&$orderby=createdon%20desc&$top=16");
    /* Another organisation keeps full digits, and searches one column. */
    c = conf_it("mobilephone");
    c.lookup_form = CMN_PHONE_LOOKUP_DIGITS;
    ASSERT_EQ_INT(crm_dyn_contacts_by_phone_url(&c, "+390612345678", 1, url, sizeof url), 0);
    ASSERT_TRUE(strstr(url, "$filter=mobilephone%20eq%20%27390612345678%27&") != NULL);
    /* E.164 as stored: the '+' is percent-encoded, not sent as a space. */
    c.lookup_form = CMN_PHONE_LOOKUP_E164;
    ASSERT_EQ_INT(crm_dyn_contacts_by_phone_url(&c, "+390612345678", 1, url, sizeof url), 0);
    ASSERT_TRUE(strstr(url, "%27%2B390612345678%27") != NULL);
    /* Not a number, or a buffer too small: refused, nothing half-built. */
    ASSERT_EQ_INT(crm_dyn_contacts_by_phone_url(&c, "0612' or 1 eq 1", 1, url, sizeof url), -1);
    ASSERT_EQ_STR(url, "");
    char small[64];
    ASSERT_EQ_INT(crm_dyn_contacts_by_phone_url(&c, "+390612345678", 1, small, sizeof small), -1);
    ASSERT_EQ_STR(small, "");
}

static void test_latest_unresolved_case(void)
{
    crm_dyn_conf_t c = conf_it("telephone1");
    char url[1024];
    /* R-V1 (issue 23 item 4): any state, newest first; the rules pick */
    ASSERT_EQ_INT(crm_dyn_latest_case_url(&c, CONTACT, 16, url, sizeof url), 0);
    ASSERT_EQ_STR(url,
                  "https://org.api.crm.dynamics.com/api/data/v9.2/incidents?$select=incidentid,"
                  "title,ticketnumber,statecode,statuscode,createdon,modifiedon,"
                  "_customerid_value,_ownerid_value,_masterid_value&$filter=_customerid_value%20eq%"
                  "20" CONTACT_LC "&$orderby=createdon%20desc&$top=16");
    ASSERT_EQ_INT(crm_dyn_latest_case_url(&c, CONTACT, 0, url, sizeof url), -1);
    ASSERT_EQ_INT(crm_dyn_latest_case_url(&c, "1 or 1 eq 1", 16, url, sizeof url), -1);
    ASSERT_EQ_INT(crm_dyn_case_get_url(&c, CASE_ID, url, sizeof url), 0);
    ASSERT_TRUE(strncmp(url,
                        "https://org.api.crm.dynamics.com/api/data/v9.2/incidents(" CASE_ID
                        ")?$select=incidentid,",
                        strlen("https://org.api.crm.dynamics.com/api/data/v9.2/incidents(" CASE_ID
                               ")?$select=incidentid,")) == 0);
    ASSERT_EQ_INT(crm_dyn_case_record_url(&c, CASE_ID, url, sizeof url), 0);
    ASSERT_EQ_STR(url, "https://org.api.crm.dynamics.com/api/data/v9.2/incidents(" CASE_ID ")");
    ASSERT_EQ_INT(crm_dyn_collection_url(&c, "annotations", NULL, url, sizeof url), 0);
    ASSERT_EQ_STR(url, "https://org.api.crm.dynamics.com/api/data/v9.2/annotations");
    ASSERT_EQ_INT(crm_dyn_collection_url(&c, "incidents?$x", NULL, url, sizeof url), -1);
}

static void test_statuses_and_marker_urls(void)
{
    crm_dyn_conf_t c = conf_it("telephone1");
    char url[8192];
    const char *two[] = {CASE_ID, CONTACT};
    ASSERT_EQ_INT(crm_dyn_case_statuses_url(&c, two, 2, url, sizeof url), 0);
    ASSERT_TRUE(strstr(url, "&$filter=incidentid%20eq%20" CASE_ID
                            "%20or%20incidentid%20eq%20" CONTACT_LC "&$top=2") != NULL);
    const char *ids[CRM_DYN_STATUSES_MAX + 1];
    for (size_t i = 0; i <= CRM_DYN_STATUSES_MAX; i++)
        ids[i] = CASE_ID;
    ASSERT_EQ_INT(crm_dyn_case_statuses_url(&c, ids, CRM_DYN_STATUSES_MAX, url, sizeof url), 0);
    ASSERT_TRUE(strlen(url) < 32768); /* Dataverse's GET URL limit */
    ASSERT_EQ_INT(crm_dyn_case_statuses_url(&c, ids, CRM_DYN_STATUSES_MAX + 1, url, sizeof url),
                  -1);
    const char *bad[] = {CASE_ID, "x"};
    ASSERT_EQ_INT(crm_dyn_case_statuses_url(&c, bad, 2, url, sizeof url), -1);

    ASSERT_EQ_INT(crm_dyn_note_marker_url(&c, CASE_ID, "[callbus:ev'1]", url, sizeof url), 0);
    ASSERT_EQ_STR(url,
                  "https://org.api.crm.dynamics.com/api/data/v9.2/annotations?$select=annotationid"
                  "&$filter=_objectid_value%20eq%20" CASE_ID "%20and%20contains(notetext,"
                  "%27%5Bcallbus%3Aev%27%271%5D%27)&$top=1");
    ASSERT_EQ_INT(crm_dyn_note_marker_url(&c, CASE_ID, "", url, sizeof url), -1);
}

static json_t *parsed(char *body)
{
    json_t *j = body ? json_loads(body, 0, NULL) : NULL;
    free(body);
    return j;
}

static void test_case_create_body(void)
{
    json_t *j = parsed(crm_dyn_case_create_body(CONTACT, "Call from 0612345678", NULL, NULL));
    ASSERT_TRUE(j != NULL);
    ASSERT_EQ_STR(json_string_value(json_object_get(j, "title")), "Call from 0612345678");
    ASSERT_EQ_INT(json_integer_value(json_object_get(j, "caseorigincode")), 1);
    ASSERT_EQ_STR(json_string_value(json_object_get(j, "customerid_contact@odata.bind")),
                  "/contacts(" CONTACT_LC ")");
    ASSERT_TRUE(json_object_get(j, "incidentid") == NULL);
    ASSERT_EQ_INT(json_object_size(j), 3);
    json_decref(j);
    /* Our own primary key: a create sent again is a duplicate, not a second case. */
    j = parsed(crm_dyn_case_create_body(CONTACT, "t", "desc", CASE_ID));
    ASSERT_EQ_STR(json_string_value(json_object_get(j, "incidentid")), CASE_ID);
    ASSERT_EQ_STR(json_string_value(json_object_get(j, "description")), "desc");
    json_decref(j);
    /* A title longer than Dataverse's 200 characters is cut at a character. */
    char title[512] = "";
    for (int i = 0; i < 150; i++)
        strcat(title, "\xc3\xa9"); /* 150 x 'é' = 300 bytes */
    strcat(title, "0123456789012345678901234567890123456789012345678901234567890");
    j = parsed(crm_dyn_case_create_body(CONTACT, title, NULL, NULL));
    const char *t = json_string_value(json_object_get(j, "title"));
    ASSERT_TRUE(t != NULL);
    ASSERT_EQ_INT(strlen(t), 300 + 50);
    json_decref(j);
    ASSERT_TRUE(crm_dyn_case_create_body("nope", "t", NULL, NULL) == NULL);
    ASSERT_TRUE(crm_dyn_case_create_body(CONTACT, "", NULL, NULL) == NULL);
    ASSERT_TRUE(crm_dyn_case_create_body(CONTACT, "\xc3", NULL, NULL) == NULL);
}

static void test_contact_create_body(void)
{
    crm_dyn_conf_t c = conf_it("mobilephone,telephone1");
    json_t *j = parsed(crm_dyn_contact_create_body(&c, "+390612345678", "Maria Rossi", CONTACT));
    ASSERT_TRUE(j != NULL);
    ASSERT_EQ_STR(json_string_value(json_object_get(j, "mobilephone")), "0612345678");
    ASSERT_EQ_STR(json_string_value(json_object_get(j, "lastname")), "Maria Rossi");
    ASSERT_EQ_STR(json_string_value(json_object_get(j, "contactid")), CONTACT_LC);
    ASSERT_EQ_INT(json_object_size(j), 3);
    json_decref(j);
    j = parsed(crm_dyn_contact_create_body(&c, "+390612345678", NULL, NULL));
    ASSERT_EQ_STR(json_string_value(json_object_get(j, "lastname")), "0612345678");
    ASSERT_EQ_INT(json_object_size(j), 2);
    json_decref(j);
    ASSERT_TRUE(crm_dyn_contact_create_body(&c, "not a number", NULL, NULL) == NULL);
    ASSERT_TRUE(crm_dyn_contact_create_body(&c, "+390612345678", NULL, "x") == NULL);
}

static void test_note_update_and_close_bodies(void)
{
    json_t *j = parsed(crm_dyn_note_body(CASE_ID, "Call ended", "Duration 42 s"));
    ASSERT_EQ_STR(json_string_value(json_object_get(j, "objectid_incident@odata.bind")),
                  "/incidents(" CASE_ID ")");
    ASSERT_EQ_STR(json_string_value(json_object_get(j, "notetext")), "Duration 42 s");
    ASSERT_EQ_STR(json_string_value(json_object_get(j, "subject")), "Call ended");
    json_decref(j);
    ASSERT_TRUE(crm_dyn_note_body(CASE_ID, NULL, NULL) == NULL);

    j = parsed(crm_dyn_case_update_body(AGENT, TKT_ST_HOLD));
    ASSERT_EQ_STR(json_string_value(json_object_get(j, "ownerid@odata.bind")),
                  "/systemusers(" AGENT ")");
    ASSERT_EQ_INT(json_integer_value(json_object_get(j, "statecode")), 0);
    ASSERT_EQ_INT(json_integer_value(json_object_get(j, "statuscode")), 2);
    json_decref(j);
    j = parsed(crm_dyn_case_update_body(NULL, TKT_ST_PENDING));
    ASSERT_EQ_INT(json_integer_value(json_object_get(j, "statuscode")), 3);
    ASSERT_TRUE(json_object_get(j, "ownerid@odata.bind") == NULL);
    json_decref(j);
    /* Solved is the CloseIncident action, never a PATCH; nothing is no body. */
    ASSERT_TRUE(crm_dyn_case_update_body(NULL, TKT_ST_SOLVED) == NULL);
    ASSERT_TRUE(crm_dyn_case_update_body(NULL, TKT_ST_UNKNOWN) == NULL);
    ASSERT_TRUE(crm_dyn_case_update_body("agent-1", TKT_ST_OPEN) == NULL);

    j = parsed(crm_dyn_close_case_body(CASE_ID, "Resolved by callbus"));
    json_t *res = json_object_get(j, "IncidentResolution");
    ASSERT_EQ_STR(json_string_value(json_object_get(res, "incidentid@odata.bind")),
                  "/incidents(" CASE_ID ")");
    ASSERT_EQ_INT(json_integer_value(json_object_get(j, "Status")), 5);
    json_decref(j);
}

static void test_status_mapping(void)
{
    ASSERT_EQ_INT(crm_dyn_status_from(0, 1), TKT_ST_OPEN);
    ASSERT_EQ_INT(crm_dyn_status_from(0, 2), TKT_ST_HOLD);
    ASSERT_EQ_INT(crm_dyn_status_from(0, 3), TKT_ST_PENDING);
    ASSERT_EQ_INT(crm_dyn_status_from(0, 100000), TKT_ST_OPEN);
    ASSERT_EQ_INT(crm_dyn_status_from(1, 5), TKT_ST_SOLVED);
    ASSERT_EQ_INT(crm_dyn_status_from(2, 6), TKT_ST_CLOSED);
    ASSERT_EQ_INT(crm_dyn_status_from(3, 1), TKT_ST_UNKNOWN);
}

/* R-P3: the case; with no case, the customer profile; with no customer, the new-case form. */
static void test_pop_urls(void)
{
    crm_dyn_conf_t c = conf_it("telephone1");
    char url[1024];
    ASSERT_EQ_INT(crm_dyn_pop_url(&c, CASE_ID, CONTACT, "x", url, sizeof url), 0);
    ASSERT_EQ_STR(url, "https://org.crm.dynamics.com/main.aspx?pagetype=entityrecord&etn=incident"
                       "&id=" CASE_ID);
    ASSERT_EQ_INT(crm_dyn_pop_url(&c, "", CONTACT, "x", url, sizeof url), 0);
    ASSERT_EQ_STR(url, "https://org.crm.dynamics.com/main.aspx?pagetype=entityrecord&etn=contact"
                       "&id=" CONTACT_LC);
    ASSERT_EQ_INT(crm_dyn_pop_url(&c, NULL, NULL, "Call from 0612345678", url, sizeof url), 0);
    ASSERT_EQ_STR(url, "https://org.crm.dynamics.com/main.aspx?pagetype=entityrecord&etn=incident"
                       "&extraqs=title%3DCall%2520from%25200612345678");
    /* The new-case form with the customer filled in: a name holding '&' stays a value. */
    c.app_id = "ABCDEF00-0000-4000-8000-000000000001";
    ASSERT_EQ_INT(crm_dyn_new_case_form_url(&c, CONTACT, "Smith & Sons", NULL, url, sizeof url), 0);
    ASSERT_EQ_STR(url,
                  "https://org.crm.dynamics.com/main.aspx?appid=abcdef00-0000-4000-8000-"
                  "000000000001&pagetype=entityrecord&etn=incident&extraqs=customerid%3D" CONTACT_LC
                  "%26customeridtype%3Dcontact%26customeridname%3DSmith%2520%2526%2520Sons");
    ASSERT_EQ_INT(crm_dyn_new_case_form_url(&c, NULL, NULL, NULL, url, sizeof url), 0);
    ASSERT_EQ_STR(url, "https://org.crm.dynamics.com/main.aspx?appid=abcdef00-0000-4000-8000-"
                       "000000000001&pagetype=entityrecord&etn=incident");
    ASSERT_EQ_INT(crm_dyn_case_form_url(&c, "../x", url, sizeof url), -1);
    c.app_id = "not-a-guid";
    ASSERT_EQ_INT(crm_dyn_case_form_url(&c, CASE_ID, url, sizeof url), -1);
}

/* Issue 24 item 2: an agent's search by name or e-mail, its text one
 * escaped literal (a quote cannot end it); the caller's number added in
 * the look-up form to the first empty phone column, nothing when one holds
 * it, none when all are taken. */
static void test_contact_search_and_phone_added(void)
{
    crm_dyn_conf_t c = conf_it("telephone1,mobilephone");
    char url[1024], *body = NULL;
    ASSERT_EQ_INT(crm_dyn_contacts_search_url(&c, "O'Brien ann", 16, url, sizeof url), 0);
    ASSERT_TRUE(strstr(url, "/contacts?$select=") != NULL);
    ASSERT_TRUE(strstr(url, "$filter=contains(fullname,%27O%27%27Brien%20ann%27)%20or%20"
                            "contains(emailaddress1,%27O%27%27Brien%20ann%27)") != NULL);
    ASSERT_TRUE(strstr(url, "$top=16") != NULL);
    ASSERT_EQ_INT(crm_dyn_contacts_search_url(&c, "", 16, url, sizeof url), -1);
    ASSERT_EQ_INT(crm_dyn_contact_phones_url(&c, CONTACT, url, sizeof url), 0);
    ASSERT_EQ_STR(url, "https://org.api.crm.dynamics.com/api/data/v9.2/contacts(" CONTACT_LC
                       ")?$select=contactid,telephone1,mobilephone");
    json_t *ct = json_pack("{s:s, s:n}", "telephone1", "0298765432", "mobilephone");
    ASSERT_EQ_INT(crm_dyn_contact_phone_body(&c, ct, "+390612345678", &body), 0);
    ASSERT_EQ_STR(body, "{\"mobilephone\":\"0612345678\"}");
    free(body);
    json_object_set_new(ct, "mobilephone", json_string("0612345678"));
    ASSERT_EQ_INT(crm_dyn_contact_phone_body(&c, ct, "+390612345678", &body), 1);
    ASSERT_TRUE(body == NULL);
    ASSERT_EQ_INT(crm_dyn_contact_phone_body(&c, ct, "+390611111111", &body), -1);
    ASSERT_TRUE(body == NULL);
    json_decref(ct);
}

TEST_MAIN("crm_dyn_request", TEST_CASE(test_guids), TEST_CASE(test_name_based_guids),
          TEST_CASE(test_string_literal_doubles_quotes_and_encodes), TEST_CASE(test_entity_id_key),
          TEST_CASE(test_phone_attrs_are_configuration),
          TEST_CASE(test_contact_lookup_in_national_form), TEST_CASE(test_latest_unresolved_case),
          TEST_CASE(test_case_create_body), TEST_CASE(test_contact_create_body),
          TEST_CASE(test_note_update_and_close_bodies), TEST_CASE(test_status_mapping),
          TEST_CASE(test_statuses_and_marker_urls), TEST_CASE(test_pop_urls),
          TEST_CASE(test_contact_search_and_phone_added))
