/* Click-to-call's pure parts (issue 24 item 1): the requests the CallGear
 * and Twilio plug-ins write, how their answers are read, the token bucket,
 * and the agent map read from CRM agent to operator (R-I3). */
#include "cmn_agentmap.h"
#include "pop_bucket.h"
#include "pop_dial_provider.h"
#include "test.h"

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

static const pop_dial_account_t CG = {.api_url = "https://callapi.callgear.com/v4.0",
                                      .caller_id = "+902129998877",
                                      .token = "cg-secret",
                                      .account = "",
                                      .key_sid = "",
                                      .status_callback = ""};

static const pop_dial_account_t TW = {.api_url = "https://api.twilio.com",
                                      .caller_id = "+390287654321",
                                      .token = "tw-secret",
                                      .account = "AC3f1e9b2d4c5a6b7c8d9e0f1a2b3c4d5e",
                                      .key_sid = "",
                                      .status_callback =
                                          "https://hooks.callbus.test/v1/twilio/voice-status"};

static void test_table_finds_each_provider(void)
{
    ASSERT_TRUE(pop_dial_provider_find("callgear") == &pop_dial_callgear);
    ASSERT_TRUE(pop_dial_provider_find("twilio") == &pop_dial_twilio);
    ASSERT_TRUE(pop_dial_provider_find("webex") == NULL);
    ASSERT_EQ_STR(pop_dial_twilio.missing(&CG), "CALLBUS_POP_DIAL_ACCOUNT");
    ASSERT_TRUE(pop_dial_callgear.missing(&CG) == NULL);
    ASSERT_TRUE(pop_dial_twilio.missing(&TW) == NULL);
}

/* R-O1: start.employee_call as the employee, the contact in CallGear's
 * digits, the ticket as external_id (echoed by every notification). */
static void test_callgear_request_body_R_O1(void)
{
    pop_dial_call_t call = {"2207", "+905332104455", "48213", "req-1"};
    pop_dial_req_t req;
    char err[128];
    ASSERT_EQ_INT(pop_dial_callgear.build(&CG, &call, &req, err, sizeof err), 0);
    ASSERT_EQ_STR(req.url, "https://callapi.callgear.com/v4.0");
    ASSERT_TRUE(req.user == NULL);
    json_t *b = json_loads(req.body, 0, NULL), *p = json_object_get(b, "params");
    ASSERT_EQ_STR(json_string_value(json_object_get(b, "jsonrpc")), "2.0");
    ASSERT_EQ_STR(json_string_value(json_object_get(b, "method")), "start.employee_call");
    ASSERT_EQ_STR(json_string_value(json_object_get(b, "id")), "req-1");
    ASSERT_EQ_STR(json_string_value(json_object_get(p, "access_token")), "cg-secret");
    ASSERT_EQ_STR(json_string_value(json_object_get(p, "first_call")), "employee");
    ASSERT_EQ_STR(json_string_value(json_object_get(p, "virtual_phone_number")), "902129998877");
    ASSERT_EQ_STR(json_string_value(json_object_get(p, "contact")), "905332104455");
    ASSERT_EQ_STR(json_string_value(json_object_get(p, "external_id")), "48213");
    ASSERT_EQ_INT(json_integer_value(json_object_get(json_object_get(p, "employee"), "id")), 2207);
    json_decref(b);
    pop_dial_req_clear(&req);
    /* No ticket: no external_id. An operator id that is not a number: refused. */
    call.ticket_id = NULL;
    ASSERT_EQ_INT(pop_dial_callgear.build(&CG, &call, &req, err, sizeof err), 0);
    b = json_loads(req.body, 0, NULL);
    ASSERT_TRUE(json_object_get(json_object_get(b, "params"), "external_id") == NULL);
    json_decref(b);
    pop_dial_req_clear(&req);
    call.operator_id = "marco";
    ASSERT_EQ_INT(pop_dial_callgear.build(&CG, &call, &req, err, sizeof err), -1);
    ASSERT_TRUE(strstr(err, "marco") != NULL);
}

static void test_callgear_answers(void)
{
    pop_dial_result_t r;
    pop_dial_callgear.parse(200,
                            "{\"jsonrpc\":\"2.0\",\"id\":\"req-1\",\"result\":{\"data\":{\"call_"
                            "session_id\":3719300777}}}",
                            &r);
    ASSERT_EQ_INT(r.placed, 1);
    ASSERT_EQ_STR(r.call_id, "3719300777");
    pop_dial_callgear.parse(200,
                            "{\"jsonrpc\":\"2.0\",\"id\":\"req-1\",\"error\":{\"code\":-32602,"
                            "\"message\":\"Invalid value of parameter contact\",\"data\":{"
                            "\"mnemonic\":\"invalid_parameter_value\",\"field\":\"contact\"}}}",
                            &r);
    ASSERT_EQ_INT(r.placed, 0);
    ASSERT_EQ_INT(r.status, 422);
    ASSERT_EQ_STR(r.code, "-32602 invalid_parameter_value");
    ASSERT_EQ_STR(r.reason, "Invalid value of parameter contact");
    pop_dial_callgear.parse(200,
                            "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32029,\"message\":"
                            "\"Limit exceeded\",\"data\":{\"mnemonic\":\"limit_exceeded\"}}}",
                            &r);
    ASSERT_EQ_INT(r.status, 429);
    pop_dial_callgear.parse(200,
                            "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32001,\"message\":"
                            "\"Access token has been expired\",\"data\":{\"mnemonic\":"
                            "\"access_token_expired\"}}}",
                            &r);
    ASSERT_EQ_INT(r.status, 502); /* ours to fix, not the agent's */
    ASSERT_EQ_STR(r.reason, "Access token has been expired");
    pop_dial_callgear.parse(0, "Timeout was reached", &r);
    ASSERT_EQ_INT(r.status, 504);
    ASSERT_EQ_STR(r.reason, "Timeout was reached");
    pop_dial_callgear.parse(502, "<html>bad gateway</html>", &r);
    ASSERT_EQ_INT(r.status, 502);
}

/* The value of the first `name` in a form body, decoded (a new string). */
static char *form_value(const char *body, const char *name)
{
    struct evkeyvalq q;
    char *out = NULL;
    size_t n = strlen(body) + 2;
    char *uri = malloc(n + 1);
    snprintf(uri, n + 1, "?%s", body);
    if (evhttp_parse_query_str(uri + 1, &q) == 0) {
        const char *v = evhttp_find_header(&q, name);
        out = v ? strdup(v) : NULL;
        evhttp_clear_headers(&q);
    }
    free(uri);
    return out;
}

/* R-O1: the agent's Client rings first, the TwiML dials the customer, both
 * legs report to ingest with the ticket on the URL. */
static void test_twilio_request_body_R_O1(void)
{
    pop_dial_call_t call = {"marco.bianchi", "+34912345678", "48213", "req-2"};
    pop_dial_req_t req;
    char err[128];
    ASSERT_EQ_INT(pop_dial_twilio.build(&TW, &call, &req, err, sizeof err), 0);
    ASSERT_EQ_STR(req.url, "https://api.twilio.com/2010-04-01/Accounts/"
                           "AC3f1e9b2d4c5a6b7c8d9e0f1a2b3c4d5e/Calls.json");
    ASSERT_EQ_STR(req.content_type, "application/x-www-form-urlencoded");
    ASSERT_EQ_STR(req.user, "AC3f1e9b2d4c5a6b7c8d9e0f1a2b3c4d5e");
    ASSERT_EQ_STR(req.password, "tw-secret");
    char *to = form_value(req.body, "To"), *from = form_value(req.body, "From");
    char *cb = form_value(req.body, "StatusCallback"), *tw = form_value(req.body, "Twiml");
    ASSERT_EQ_STR(to, "client:marco.bianchi");
    ASSERT_EQ_STR(from, "+390287654321");
    ASSERT_EQ_STR(cb, "https://hooks.callbus.test/v1/twilio/voice-status?ticket_id=48213"
                      "&customer=%2B34912345678&client=marco.bianchi");
    ASSERT_TRUE(tw && strstr(tw, "<Dial callerId=\"+390287654321\">"));
    ASSERT_TRUE(strstr(tw, "statusCallback=\"https://hooks.callbus.test/v1/twilio/"
                           "voice-status?ticket_id=48213&amp;customer=%2B34912345678&amp;"
                           "client=marco.bianchi\""));
    ASSERT_TRUE(strstr(tw, ">+34912345678</Number>"));
    ASSERT_TRUE(strstr(req.body, "StatusCallbackEvent=answered"));
    free(to), free(from), free(cb), free(tw);
    pop_dial_req_clear(&req);
    /* An API key instead of the account's token; a callback URL with a
     * query of its own gets '&' (and XML-escaped in the TwiML). */
    pop_dial_account_t key = TW;
    key.key_sid = "SK0123";
    key.status_callback = "https://hooks.callbus.test/v1/twilio/voice-status?tenant=it";
    ASSERT_EQ_INT(pop_dial_twilio.build(&key, &call, &req, err, sizeof err), 0);
    ASSERT_EQ_STR(req.user, "SK0123");
    tw = form_value(req.body, "Twiml");
    ASSERT_TRUE(tw && strstr(tw, "voice-status?tenant=it&amp;ticket_id=48213&amp;"));
    free(tw);
    pop_dial_req_clear(&req);
}

static void test_twilio_answers(void)
{
    pop_dial_result_t r;
    pop_dial_twilio.parse(201,
                          "{\"sid\":\"CA9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b\",\"status\":\"queued\","
                          "\"direction\":\"outbound-api\"}",
                          &r);
    ASSERT_EQ_INT(r.placed, 1);
    ASSERT_EQ_STR(r.call_id, "CA9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b");
    pop_dial_twilio.parse(400,
                          "{\"code\":21211,\"message\":\"Invalid 'To' Phone Number: +3491\","
                          "\"more_info\":\"https://www.twilio.com/docs/errors/21211\","
                          "\"status\":400}",
                          &r);
    ASSERT_EQ_INT(r.placed, 0);
    ASSERT_EQ_INT(r.status, 422);
    ASSERT_EQ_STR(r.code, "21211");
    ASSERT_EQ_STR(r.reason, "Invalid 'To' Phone Number: +3491");
    pop_dial_twilio.parse(429, "{\"code\":20429,\"message\":\"Too Many Requests\",\"status\":429}",
                          &r);
    ASSERT_EQ_INT(r.status, 429);
    pop_dial_twilio.parse(401, "{\"code\":20003,\"message\":\"Authenticate\",\"status\":401}", &r);
    ASSERT_EQ_INT(r.status, 502);
    ASSERT_EQ_STR(r.reason, "Authenticate");
}

static void test_bucket_paces_after_the_burst(void)
{
    pop_bucket_t b;
    pop_bucket_init(&b, 60, 2, 1000); /* one a second, two at once */
    ASSERT_EQ_INT(pop_bucket_take(&b, 1000), 0);
    ASSERT_EQ_INT(pop_bucket_take(&b, 1000), 0);
    ASSERT_EQ_INT(pop_bucket_take(&b, 1000), 1000);
    ASSERT_EQ_INT(pop_bucket_take(&b, 1500), 500);
    ASSERT_EQ_INT(pop_bucket_take(&b, 2000), 0);
    ASSERT_EQ_INT(pop_bucket_take(&b, 1), 1000); /* a clock going back refills nothing */
    ASSERT_EQ_INT(pop_bucket_take(&b, 60000), 0);
    ASSERT_EQ_INT(pop_bucket_take(&b, 60000), 0);
    ASSERT_TRUE(pop_bucket_take(&b, 60000) > 0); /* never more than the burst */
}

/* R-I3 read the other way: the operator of a CRM agent, per provider. */
static void test_agentmap_operator_of_an_agent_R_I3(void)
{
    char err[128];
    cmn_agentmap_t *m = cmn_agentmap_parse(
        "callgear:2207=900001,twilio:marco.bianchi=900001,callgear:2211=900002", err, sizeof err);
    ASSERT_TRUE(m != NULL);
    ASSERT_EQ_STR(cmn_agentmap_operator(m, "callgear", "900001"), "2207");
    ASSERT_EQ_STR(cmn_agentmap_operator(m, "twilio", "900001"), "marco.bianchi");
    ASSERT_TRUE(cmn_agentmap_operator(m, "twilio", "900002") == NULL);
    ASSERT_TRUE(cmn_agentmap_operator(m, "webex", "900001") == NULL);
    cmn_agentmap_free(m);
}

TEST_MAIN("pop_dial", TEST_CASE(test_table_finds_each_provider),
          TEST_CASE(test_callgear_request_body_R_O1), TEST_CASE(test_callgear_answers),
          TEST_CASE(test_twilio_request_body_R_O1), TEST_CASE(test_twilio_answers),
          TEST_CASE(test_bucket_paces_after_the_burst),
          TEST_CASE(test_agentmap_operator_of_an_agent_R_I3))
