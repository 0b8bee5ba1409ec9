/* OData $batch (services/ticket/crm/crm_odata_batch.c): the encoder's
 * multipart/mixed with change sets and Content-IDs, the decoder on answers
 * as Dataverse writes them (all applied, a change set rolled back, a batch
 * stopped at a failure, a 429 inside), and which ops a flush may resend
 * (R-B3). Pure: no I/O; the decoder is also fuzzed (fuzz_odata_batch). */
#include "test.h"
#include "crm_odata_batch.h"

#include <stdlib.h>

#define ROOT "https://org.api.crm.dynamics.com/api/data/v9.2"

static void test_encode_changesets_and_standalone_ops(void)
{
    crm_batch_op_t ops[] = {
        {"POST", "incidents", "{\"title\":\"a\"}", 1},
        {"POST", "annotations", "{\"objectid_incident@odata.bind\":\"$1\"}", 1},
        {"GET", "incidents?$top=1", NULL, 0},
        {"PATCH", "incidents(11111111-2222-4333-8444-555555555555)", "{\"statuscode\":2}", 2},
    };
    char ctype[128], err[128];
    size_t len = 0;
    char *body = crm_batch_encode(ROOT, ops, 4, "B1", ctype, sizeof ctype, &len, err, sizeof err);
    ASSERT_TRUE(body != NULL);
    ASSERT_EQ_STR(ctype, "multipart/mixed; boundary=batch_B1");
    ASSERT_EQ_INT(len, strlen(body));
    const char *expect =
        "--batch_B1\r\n"
        "Content-Type: multipart/mixed; boundary=changeset_B1_1\r\n\r\n"
        "--changeset_B1_1\r\n"
        "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: "
        "1\r\n\r\n"
        "POST " ROOT "/incidents HTTP/1.1\r\n"
        "Content-Type: application/json; type=entry\r\n\r\n{\"title\":\"a\"}\r\n"
        "--changeset_B1_1\r\n"
        "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: "
        "2\r\n\r\n"
        "POST " ROOT "/annotations HTTP/1.1\r\n"
        "Content-Type: application/json; type=entry\r\n\r\n"
        "{\"objectid_incident@odata.bind\":\"$1\"}\r\n"
        "--changeset_B1_1--\r\n"
        "--batch_B1\r\n"
        "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
        "GET " ROOT "/incidents?$top=1 HTTP/1.1\r\n\r\n"
        "--batch_B1\r\n"
        "Content-Type: multipart/mixed; boundary=changeset_B1_2\r\n\r\n"
        "--changeset_B1_2\r\n"
        "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: "
        "4\r\n\r\n"
        "PATCH " ROOT "/incidents(11111111-2222-4333-8444-555555555555) HTTP/1.1\r\n"
        "Content-Type: application/json; type=entry\r\n\r\n{\"statuscode\":2}\r\n"
        "--changeset_B1_2--\r\n"
        "--batch_B1--\r\n";
    ASSERT_EQ_STR(body, expect);
    free(body);
}

static void test_encode_refuses_what_dataverse_would(void)
{
    char ctype[128], err[128];
    crm_batch_op_t get_in_cs[] = {{"GET", "contacts", NULL, 1}};
    ASSERT_TRUE(crm_batch_encode(ROOT, get_in_cs, 1, "B", ctype, sizeof ctype, NULL, err,
                                 sizeof err) == NULL);
    ASSERT_TRUE(strstr(err, "GET") != NULL);
    crm_batch_op_t split[] = {
        {"POST", "a", "{}", 1}, {"POST", "b", "{}", 0}, {"POST", "c", "{}", 1}};
    ASSERT_TRUE(crm_batch_encode(ROOT, split, 3, "B", ctype, sizeof ctype, NULL, err, sizeof err) ==
                NULL);
    ASSERT_TRUE(strstr(err, "consecutive") != NULL);
    crm_batch_op_t crlf[] = {{"GET", "contacts HTTP/1.1\r\nX: y", NULL, 0}};
    ASSERT_TRUE(crm_batch_encode(ROOT, crlf, 1, "B", ctype, sizeof ctype, NULL, err, sizeof err) ==
                NULL);
    crm_batch_op_t ref[] = {{"PATCH", "$1", "{}", 0}};
    ASSERT_TRUE(crm_batch_encode(ROOT, ref, 1, "B", ctype, sizeof ctype, NULL, err, sizeof err) ==
                NULL);
    crm_batch_op_t ok[] = {{"GET", "contacts", NULL, 0}};
    ASSERT_TRUE(crm_batch_encode(ROOT, ok, 1, "bad id!", ctype, sizeof ctype, NULL, err,
                                 sizeof err) == NULL);
    ASSERT_TRUE(crm_batch_encode(ROOT, ok, 0, "B", ctype, sizeof ctype, NULL, err, sizeof err) ==
                NULL);
}

/* A Dataverse answer: change set 1 applied (two 204s with entity ids), a GET. */
static const char applied[] =
    "--batchresponse_1d2e\r\n"
    "Content-Type: multipart/mixed; boundary=changesetresponse_9f8e\r\n\r\n"
    "--changesetresponse_9f8e\r\n"
    "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 1\r\n\r\n"
    "HTTP/1.1 204 No Content\r\nOData-Version: 4.0\r\n"
    "Location: " ROOT "/incidents(11111111-2222-4333-8444-555555555555)\r\n"
    "OData-EntityId: " ROOT "/incidents(11111111-2222-4333-8444-555555555555)\r\n\r\n\r\n"
    "--changesetresponse_9f8e\r\n"
    "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 2\r\n\r\n"
    "HTTP/1.1 204 No Content\r\nOData-Version: 4.0\r\n"
    "OData-EntityId: " ROOT "/annotations(22222222-2222-4333-8444-555555555555)\r\n\r\n\r\n"
    "--changesetresponse_9f8e--\r\n"
    "--batchresponse_1d2e\r\n"
    "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
    "HTTP/1.1 200 OK\r\nContent-Type: application/json; odata.metadata=minimal\r\n"
    "OData-Version: 4.0\r\n\r\n{\"value\":[]}\r\n"
    "--batchresponse_1d2e--\r\n";

static void test_decode_applied_changeset(void)
{
    crm_batch_part_t parts[8];
    size_t n = 0;
    char err[128];
    ASSERT_EQ_INT(crm_batch_decode("multipart/mixed; boundary=batchresponse_1d2e", applied,
                                   sizeof applied - 1, parts, 8, &n, err, sizeof err),
                  0);
    ASSERT_EQ_INT(n, 3);
    ASSERT_EQ_INT(parts[0].status, 204);
    ASSERT_EQ_INT(parts[0].changeset, 1);
    ASSERT_EQ_INT(parts[0].content_id, 1);
    ASSERT_EQ_STR(parts[0].entity_id, ROOT "/incidents(11111111-2222-4333-8444-555555555555)");
    ASSERT_EQ_INT(parts[1].content_id, 2);
    ASSERT_EQ_INT(parts[2].status, 200);
    ASSERT_EQ_INT(parts[2].changeset, 0);
    ASSERT_EQ_INT(parts[2].body_len, 12);
    ASSERT_TRUE(memcmp(parts[2].body, "{\"value\":[]}", 12) == 0);
    /* Without the Content-Type: the boundary is read from the first line. */
    ASSERT_EQ_INT(
        crm_batch_decode(NULL, applied, sizeof applied - 1, parts, 8, &n, err, sizeof err), 0);
    ASSERT_EQ_INT(n, 3);
    /* Too many parts for the caller's storage: refused, not overrun. */
    ASSERT_EQ_INT(
        crm_batch_decode(NULL, applied, sizeof applied - 1, parts, 2, &n, err, sizeof err), -1);

    crm_batch_op_t ops[] = {{"POST", "incidents", "{}", 1},
                            {"POST", "annotations", "{}", 1},
                            {"GET", "incidents", NULL, 0}};
    int status[3], part_of[3];
    ASSERT_EQ_INT(
        crm_batch_decode(NULL, applied, sizeof applied - 1, parts, 8, &n, err, sizeof err), 0);
    ASSERT_EQ_INT(crm_batch_outcome(ops, 3, parts, n, status, part_of), 0);
    ASSERT_EQ_INT(status[0], 204);
    ASSERT_EQ_INT(status[1], 204);
    ASSERT_EQ_INT(status[2], 200);
    ASSERT_EQ_INT(part_of[1], 1);
    /* Two answers for one op: refused, not "the other op did not run". */
    crm_batch_part_t twice[2] = {parts[0], parts[1]};
    twice[1].content_id = 1;
    ASSERT_EQ_INT(crm_batch_outcome(ops, 2, twice, 2, status, NULL), -1);
    /* An answer with a different shape cannot be this request's. */
    crm_batch_op_t other[] = {{"GET", "a", NULL, 0}, {"GET", "b", NULL, 0}, {"GET", "c", NULL, 0}};
    ASSERT_EQ_INT(crm_batch_outcome(other, 3, parts, n, status, NULL), -1);
}

/* Change set 1 rolled back (one 400 answers for it); the batch stopped there. */
static const char rolled_back[] =
    "--batchresponse_aa\r\n"
    "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 2\r\n\r\n"
    "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json; odata.metadata=minimal\r\n"
    "OData-Version: 4.0\r\n\r\n"
    "{\"error\":{\"code\":\"0x80040200\",\"message\":\"Customer: Required fields must be "
    "filled in.\"}}\r\n"
    "--batchresponse_aa--\r\n";

/* Throttled inside: the standalone op answered 429 with Retry-After. */
static const char throttled[] =
    "--batchresponse_bb\r\n"
    "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
    "HTTP/1.1 204 No Content\r\nOData-Version: 4.0\r\n\r\n\r\n"
    "--batchresponse_bb\r\n"
    "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
    "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 17\r\nOData-Version: 4.0\r\n\r\n"
    "{\"error\":{\"code\":\"0x80072322\",\"message\":\"m\"}}\r\n"
    "--batchresponse_bb--\r\n";

static void test_partial_failures(void)
{
    crm_batch_part_t parts[8];
    size_t n = 0;
    char err[128];
    crm_batch_op_t ops[] = {{"POST", "incidents", "{}", 1},
                            {"POST", "incidents", "{}", 1},
                            {"PATCH", "incidents(11111111-2222-4333-8444-555555555555)", "{}", 0}};
    int status[3], part_of[3];
    ASSERT_EQ_INT(
        crm_batch_decode(NULL, rolled_back, sizeof rolled_back - 1, parts, 8, &n, err, sizeof err),
        0);
    ASSERT_EQ_INT(n, 1);
    ASSERT_EQ_INT(crm_batch_outcome(ops, 3, parts, n, status, part_of), 0);
    ASSERT_EQ_INT(status[0], 400); /* rolled back with the part that failed */
    ASSERT_EQ_INT(status[1], 400);
    ASSERT_EQ_INT(status[2], 0); /* never ran: safe to send again */
    ASSERT_EQ_INT(part_of[2], -1);

    crm_batch_op_t two[] = {{"PATCH", "incidents(1)", "{}", 0}, {"PATCH", "incidents(2)", "{}", 0}};
    ASSERT_EQ_INT(
        crm_batch_decode(NULL, throttled, sizeof throttled - 1, parts, 8, &n, err, sizeof err), 0);
    ASSERT_EQ_INT(n, 2);
    ASSERT_EQ_INT(parts[1].status, 429);
    ASSERT_EQ_INT(parts[1].retry_after_s, 17);
    ASSERT_EQ_INT(parts[0].retry_after_s, -1);
    ASSERT_EQ_INT(crm_batch_outcome(two, 2, parts, n, status, NULL), 0);
    ASSERT_EQ_INT(status[0], 204);
    ASSERT_EQ_INT(status[1], 429);
}

static void test_decode_refuses_malformed(void)
{
    crm_batch_part_t parts[4];
    size_t n = 0;
    char err[128];
    const char *cases[] = {
        "",
        "not multipart",
        /* no close delimiter */
        "--b\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
        "--b\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 2x4 No\r\n\r\n\r\n--b--",
        "--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b--",
        "--b\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n\r\n--b--", /* no Content-Type */
        /* a change set nested in a change set */
        ("--b\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n--c\r\nContent-Type: "
         "multipart/mixed; boundary=d\r\n\r\n--d--\r\n--c--\r\n--b--"),
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = crm_batch_decode(NULL, cases[i], strlen(cases[i]), parts, 4, &n, err, sizeof err);
        if (rc != -1)
            fprintf(stderr, "case %zu decoded\n", i);
        ASSERT_EQ_INT(rc, -1);
    }
    ASSERT_EQ_INT(crm_batch_decode("multipart/mixed", applied, sizeof applied - 1, parts, 4, &n,
                                   err, sizeof err),
                  -1);
    /* A boundary in quotes is the same boundary. */
    const char *q = "--b c\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"
                    "\r\n--b c--\r\n";
    ASSERT_EQ_INT(crm_batch_decode("multipart/mixed; boundary=\"b c\"", q, strlen(q), parts, 4, &n,
                                   err, sizeof err),
                  0);
    ASSERT_EQ_INT(n, 1);
}

TEST_MAIN("crm_odata_batch", TEST_CASE(test_encode_changesets_and_standalone_ops),
          TEST_CASE(test_encode_refuses_what_dataverse_would),
          TEST_CASE(test_decode_applied_changeset), TEST_CASE(test_partial_failures),
          TEST_CASE(test_decode_refuses_malformed))
