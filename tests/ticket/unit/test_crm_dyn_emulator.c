/* The Dynamics 365 building blocks against the Dynamics emulator
 * (tests/emulators/dynamics, started around this test by with_emulator.py,
 * found in DYN_EMULATOR_URL): the Entra ID token cache on a libevent loop
 * (one fetch shared, refreshed before expiry, a 401 refreshes once, a bad
 * secret fails), the look-up by phone in national form (R-I2), the latest
 * unresolved case (R-V1), case / note / owner+status / resolution writes,
 * a $batch with an applied and a rolled-back change set, and a
 * service-protection 429. The emulator refuses any column it does not
 * declare in its $metadata, so the requests' shapes are checked too. */
#include "test.h"
#include "dyn_emu_ctl.h"
#include "crm_dyn_parse.h"
#include "crm_dyn_request.h"
#include "crm_dyn_token.h"
#include "crm_odata_batch.h"

#include <curl/curl.h>
#include <event2/event.h>
#include <jansson.h>
#include <stdlib.h>

static struct {
    const char *url;
    struct event_base *base;
    crm_curl_t *curl;
    crm_dyn_token_t *tok;
    crm_dyn_conf_t conf;
    char api[256], token_url[256], scope[256];
} G;

/* ----------------------------------------------------------- the loop */

typedef struct {
    int done;
    int status;
    long retry_after_s;
    char *body;
    size_t len;
    char header[64];
    char error[256];
} got_t;

static void on_resp(void *ctx, const crm_curl_resp_t *r)
{
    got_t *g = ctx;
    g->done = 1;
    g->status = r->status;
    g->retry_after_s = r->retry_after_s;
    g->body = malloc(r->body_len + 1);
    memcpy(g->body, r->body, r->body_len + 1);
    g->len = r->body_len;
    snprintf(g->error, sizeof g->error, "%s", r->error);
}

static void on_tok(void *ctx, const char *authorization, const char *error)
{
    got_t *g = ctx;
    g->done = 1;
    snprintf(g->header, sizeof g->header, "%s", authorization ? authorization : "");
    snprintf(g->error, sizeof g->error, "%s", error ? error : "");
}

static void run_until(int *done)
{
    for (int i = 0; i < 2000 && !*done; i++)
        event_base_loop(G.base, EVLOOP_ONCE);
}

static void wait_ms(long ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_base_loopexit(G.base, &tv);
    event_base_dispatch(G.base);
}

/* An authenticated Web API call, run to its end. */
static got_t call(const char *method, const char *url, const char *body)
{
    got_t g = {0};
    crm_curl_req_t req = {.method = method,
                          .url = url,
                          .headers = crm_dyn_json_headers,
                          .body = body,
                          .body_len = body ? strlen(body) : 0};
    if (crm_dyn_token_request(G.tok, &req, on_resp, &g) != 0) {
        snprintf(g.error, sizeof g.error, "refused");
        return g;
    }
    run_until(&g.done);
    return g;
}

static size_t count_log(const char *path_part, int status)
{
    json_t *log = ctl("requests", NULL);
    json_t *reqs = json_object_get(log, "requests");
    size_t i, n = 0;
    json_t *e;
    json_array_foreach(reqs, i, e)
    {
        const char *p = json_string_value(json_object_get(e, "path"));
        if (p && strstr(p, path_part) && json_integer_value(json_object_get(e, "status")) == status)
            n++;
    }
    json_decref(log);
    return n;
}

/* -------------------------------------------------------------- tests */

static void test_one_fetch_shared_by_concurrent_callers(void)
{
    got_t a = {0}, b = {0};
    size_t before = crm_dyn_token_fetches(G.tok);
    ASSERT_EQ_INT(crm_dyn_token_get(G.tok, on_tok, &a), 0);
    ASSERT_EQ_INT(crm_dyn_token_get(G.tok, on_tok, &b), 0);
    ASSERT_EQ_INT(a.done + b.done, 0); /* never inside the call */
    run_until(&b.done);
    ASSERT_TRUE(a.done && b.done);
    ASSERT_TRUE(strncmp(a.header, "Authorization: Bearer emu.", 26) == 0);
    ASSERT_EQ_STR(a.header, b.header);
    ASSERT_EQ_INT(crm_dyn_token_fetches(G.tok) - before, 1);
    got_t c = {0};
    ASSERT_EQ_INT(crm_dyn_token_get(G.tok, on_tok, &c), 0);
    run_until(&c.done);
    ASSERT_EQ_STR(c.header, a.header); /* cached */
    ASSERT_EQ_INT(crm_dyn_token_fetches(G.tok) - before, 1);
}

static void test_wrong_secret_fails_without_token(void)
{
    crm_dyn_token_conf_t tc = {.token_url = G.token_url,
                               .client_id = getenv("DYN_CLIENT_ID"),
                               .client_secret = "not-the-secret",
                               .scope = G.scope};
    crm_dyn_token_t *bad = crm_dyn_token_new(G.base, G.curl, &tc);
    ASSERT_TRUE(bad != NULL);
    got_t g = {0};
    ASSERT_EQ_INT(crm_dyn_token_get(bad, on_tok, &g), 0);
    run_until(&g.done);
    /* Asked again at once: the same error, from the cache, no new fetch. */
    got_t again = {0};
    ASSERT_EQ_INT(crm_dyn_token_get(bad, on_tok, &again), 0);
    run_until(&again.done);
    size_t fetches = crm_dyn_token_fetches(bad);
    crm_dyn_token_free(bad);
    ASSERT_EQ_INT(fetches, 1);
    ASSERT_EQ_STR(again.error, g.error);
    ASSERT_EQ_STR(g.header, "");
    ASSERT_TRUE(strstr(g.error, "invalid_client") != NULL);
    ASSERT_TRUE(strstr(g.error, "not-the-secret") == NULL);
}

static void test_401_refreshes_once(void)
{
    char url[1024];
    ASSERT_EQ_INT(crm_dyn_collection_url(&G.conf, "contacts", "contactid", url, sizeof url), 0);
    got_t g = call("GET", url, NULL);
    ASSERT_EQ_INT(g.status, 200);
    free(g.body);
    size_t before = crm_dyn_token_fetches(G.tok);
    /* Every token the emulator issued expires now (as after a revocation). */
    ctl_ok("config", "{\"expire_tokens\":true}");
    g = call("GET", url, NULL);
    ASSERT_EQ_INT(g.status, 200);
    free(g.body);
    ASSERT_EQ_INT(crm_dyn_token_fetches(G.tok) - before, 1);
    ASSERT_EQ_INT(count_log("/contacts", 401), 1);
    /* Refused again with the fresh token too: the 401 is the caller's, after one refresh. */
    ctl_ok("config", "{\"inject\":[{\"path_regex\":\"/contacts$\",\"status\":401,\"count\":2}]}");
    g = call("GET", url, NULL);
    ASSERT_EQ_INT(g.status, 401);
    free(g.body);
    ASSERT_EQ_INT(crm_dyn_token_fetches(G.tok) - before, 2);
}

static void test_refreshed_before_expiry(void)
{
    /* Tokens of 2 s: the refresh is due after at most half the lifetime. */
    ctl_ok("config", "{\"token_ttl_s\":2}");
    got_t g = {0};
    char first[64];
    ctl_ok("config", "{\"expire_tokens\":true}");
    g = call("GET", G.api, NULL); /* 401 -> refresh: a 2-second token now */
    ASSERT_EQ_INT(g.status, 200);
    free(g.body);
    got_t t1 = {0};
    ASSERT_EQ_INT(crm_dyn_token_get(G.tok, on_tok, &t1), 0);
    run_until(&t1.done);
    snprintf(first, sizeof first, "%s", t1.header);
    size_t before = crm_dyn_token_fetches(G.tok);
    wait_ms(1500); /* no request in between: the timer alone refreshes */
    ASSERT_EQ_INT(crm_dyn_token_fetches(G.tok) - before, 1);
    got_t t2 = {0};
    ASSERT_EQ_INT(crm_dyn_token_get(G.tok, on_tok, &t2), 0);
    run_until(&t2.done);
    ASSERT_TRUE(strcmp(first, t2.header) != 0);
    ctl_ok("config", "{\"token_ttl_s\":3599}");
}

static void test_lookup_case_note_owner_status(void)
{
    json_t *c =
        ctl("seed/contact",
            "{\"firstname\":\"Maria\",\"lastname\":\"Rossi\",\"mobilephone\":\"0612345678\"}");
    const char *cid = json_string_value(json_object_get(c, "contactid"));
    ASSERT_TRUE(cid != NULL);
    ctl_ok("seed/contact", "{\"lastname\":\"Other\",\"telephone1\":\"390612345678\"}");
    char url[2048], err[160];
    ASSERT_EQ_INT(crm_dyn_contacts_by_phone_url(&G.conf, "+390612345678", 16, url, sizeof url), 0);
    got_t g = call("GET", url, NULL);
    ASSERT_EQ_INT(g.status, 200);
    tkt_crm_contact_t found[16];
    size_t n = 0;
    ASSERT_EQ_INT(crm_dyn_parse_contacts(g.body, g.len, found, 16, &n, NULL, err, sizeof err), 0);
    free(g.body);
    ASSERT_EQ_INT(n, 1); /* national form: the digits-form record is not this caller */
    ASSERT_EQ_STR(found[0].id, cid);
    ASSERT_EQ_STR(found[0].name, "Maria Rossi");

    /* R-C2: a caller not yet known is created with the number in look-up
     * form, and the next look-up finds them. */
    char *cbody = crm_dyn_contact_create_body(&G.conf, "+390698765432", NULL, NULL);
    ASSERT_EQ_INT(crm_dyn_collection_url(&G.conf, "contacts", "contactid", url, sizeof url), 0);
    g = call("POST", url, cbody);
    free(cbody);
    free(g.body);
    ASSERT_EQ_INT(g.status, 201);
    ASSERT_EQ_INT(crm_dyn_contacts_by_phone_url(&G.conf, "+390698765432", 16, url, sizeof url), 0);
    g = call("GET", url, NULL);
    ASSERT_EQ_INT(crm_dyn_parse_contacts(g.body, g.len, found, 16, &n, NULL, err, sizeof err), 0);
    free(g.body);
    ASSERT_EQ_INT(n, 1);
    ASSERT_EQ_STR(found[0].name, "0698765432");

    /* No case yet: none. */
    ASSERT_EQ_INT(crm_dyn_latest_case_url(&G.conf, cid, 2, url, sizeof url), 0);
    g = call("GET", url, NULL);
    tkt_crm_ticket_t cases[2];
    ASSERT_EQ_INT(crm_dyn_parse_cases(g.body, g.len, cases, 2, &n, err, sizeof err), 0);
    free(g.body);
    ASSERT_EQ_INT(n, 0);

    char *body = crm_dyn_case_create_body(cid, "Call from 0612345678", NULL, NULL);
    ASSERT_EQ_INT(
        crm_dyn_collection_url(&G.conf, "incidents", crm_dyn_case_select, url, sizeof url), 0);
    g = call("POST", url, body);
    free(body);
    ASSERT_EQ_INT(g.status, 201);
    tkt_crm_ticket_t created;
    ASSERT_EQ_INT(crm_dyn_parse_case(g.body, g.len, &created, err, sizeof err), 0);
    free(g.body);
    ASSERT_EQ_INT(created.status, TKT_ST_OPEN);
    ASSERT_EQ_STR(created.requester_id, cid);
    ASSERT_TRUE(strncmp(created.external_id, "CAS-", 4) == 0);

    ASSERT_EQ_INT(crm_dyn_latest_case_url(&G.conf, cid, 2, url, sizeof url), 0);
    g = call("GET", url, NULL);
    ASSERT_EQ_INT(crm_dyn_parse_cases(g.body, g.len, cases, 2, &n, err, sizeof err), 0);
    free(g.body);
    ASSERT_EQ_INT(n, 1);
    ASSERT_EQ_STR(cases[0].id, created.id);

    body = crm_dyn_note_body(created.id, "Call ended", "Duration 42 s, queue Sales");
    ASSERT_EQ_INT(crm_dyn_collection_url(&G.conf, "annotations", "annotationid", url, sizeof url),
                  0);
    g = call("POST", url, body);
    free(body);
    free(g.body);
    ASSERT_EQ_INT(g.status, 201);

    json_t *state = ctl("state", NULL);
    const char *agent = json_string_value(
        json_object_get(json_array_get(json_object_get(state, "systemuser"), 2), "systemuserid"));
    body = crm_dyn_case_update_body(agent, TKT_ST_HOLD);
    ASSERT_EQ_INT(crm_dyn_case_record_url(&G.conf, created.id, url, sizeof url), 0);
    g = call("PATCH", url, body);
    free(body);
    ASSERT_EQ_INT(g.status, 200);
    tkt_crm_ticket_t updated;
    ASSERT_EQ_INT(crm_dyn_parse_case(g.body, g.len, &updated, err, sizeof err), 0);
    free(g.body);
    ASSERT_EQ_INT(updated.status, TKT_ST_HOLD);
    ASSERT_EQ_STR(updated.assignee_id, agent);
    json_decref(state);

    body = crm_dyn_close_case_body(created.id, "Resolved by callbus");
    snprintf(url, sizeof url, "%s/CloseIncident", G.api);
    g = call("POST", url, body);
    free(body);
    free(g.body);
    ASSERT_EQ_INT(g.status, 204);
    ASSERT_EQ_INT(crm_dyn_latest_case_url(&G.conf, cid, 2, url, sizeof url), 0);
    g = call("GET", url, NULL);
    ASSERT_EQ_INT(crm_dyn_parse_cases(g.body, g.len, cases, 2, &n, err, sizeof err), 0);
    free(g.body);
    /* R-V1: still the latest case, now resolved; its case number (the
     * emulator's autonumber, as Dataverse's CAS-<seq>-<random>) is read */
    ASSERT_EQ_INT(n, 1);
    ASSERT_EQ_INT(cases[0].status, TKT_ST_SOLVED);
    ASSERT_EQ_STR(cases[0].number, created.external_id);
    ASSERT_TRUE(strncmp(cases[0].number, "CAS-", 4) == 0);

    /* R-T10: statuses of several cases in one read; the note's marker is found. */
    body = crm_dyn_case_create_body(cid, "Second call", NULL, NULL);
    ASSERT_EQ_INT(
        crm_dyn_collection_url(&G.conf, "incidents", crm_dyn_case_select, url, sizeof url), 0);
    g = call("POST", url, body);
    free(body);
    tkt_crm_ticket_t second;
    ASSERT_EQ_INT(crm_dyn_parse_case(g.body, g.len, &second, err, sizeof err), 0);
    free(g.body);
    const char *ids[] = {created.id, second.id};
    ASSERT_EQ_INT(crm_dyn_case_statuses_url(&G.conf, ids, 2, url, sizeof url), 0);
    g = call("GET", url, NULL);
    ASSERT_EQ_INT(crm_dyn_parse_cases(g.body, g.len, cases, 2, &n, err, sizeof err), 0);
    free(g.body);
    ASSERT_EQ_INT(n, 2);
    for (size_t i = 0; i < n; i++)
        ASSERT_EQ_INT(cases[i].status,
                      strcmp(cases[i].id, created.id) == 0 ? TKT_ST_SOLVED : TKT_ST_OPEN);
    ASSERT_EQ_INT(crm_dyn_note_marker_url(&G.conf, created.id, "queue Sales", url, sizeof url), 0);
    g = call("GET", url, NULL);
    json_t *hit = json_loads(g.body, 0, NULL);
    free(g.body);
    ASSERT_EQ_INT(json_array_size(json_object_get(hit, "value")), 1);
    json_decref(hit);
    ASSERT_EQ_INT(crm_dyn_note_marker_url(&G.conf, second.id, "queue Sales", url, sizeof url), 0);
    g = call("GET", url, NULL);
    hit = json_loads(g.body, 0, NULL);
    free(g.body);
    ASSERT_EQ_INT(json_array_size(json_object_get(hit, "value")), 0);
    json_decref(hit);

    /* A write to the resolved case: Dataverse's error body, not a throttle. */
    body = crm_dyn_case_update_body(NULL, TKT_ST_OPEN);
    ASSERT_EQ_INT(crm_dyn_case_record_url(&G.conf, created.id, url, sizeof url), 0);
    g = call("PATCH", url, body);
    free(body);
    ASSERT_EQ_INT(g.status, 400);
    crm_dyn_error_t e;
    ASSERT_EQ_INT(crm_dyn_parse_error(g.body, g.len, &e), 0);
    free(g.body);
    ASSERT_EQ_STR(e.code, "0x80040203");
    ASSERT_TRUE(!crm_dyn_error_is_throttle(&e));
    json_decref(c);
}

static void test_batch_applied_then_rolled_back(void)
{
    json_t *c = ctl("seed/contact", "{\"lastname\":\"Batch\",\"telephone1\":\"0611111111\"}");
    const char *cid = json_string_value(json_object_get(c, "contactid"));
    char *create = crm_dyn_case_create_body(cid, "Batched call", NULL, NULL);
    char note[256];
    snprintf(note, sizeof note,
             "{\"notetext\":\"first comment\",\"objectid_incident@odata.bind\":\"$1\"}");
    crm_batch_op_t ops[] = {
        {"POST", "incidents", create, 1},
        {"POST", "annotations", note, 1},
        {"POST", "incidents", "{\"title\":\"no customer\"}", 2}, /* fails: rolls back set 2 */
        {"GET", "incidents?$select=title", NULL, 0},             /* not run: the batch stops */
    };
    char ctype[128], err[160];
    size_t len = 0;
    char *body =
        crm_batch_encode(G.api, ops, 4, "callbus1", ctype, sizeof ctype, &len, err, sizeof err);
    free(create);
    ASSERT_TRUE(body != NULL);
    char ct_header[160], url[512];
    snprintf(ct_header, sizeof ct_header, "Content-Type: %s", ctype);
    const char *headers[] = {"OData-MaxVersion: 4.0", "OData-Version: 4.0",
                             "Accept: application/json", ct_header, NULL};
    snprintf(url, sizeof url, "%s/$batch", G.api);
    got_t g = {0};
    crm_curl_req_t req = {
        .method = "POST", .url = url, .headers = headers, .body = body, .body_len = len};
    ASSERT_EQ_INT(crm_dyn_token_request(G.tok, &req, on_resp, &g), 0);
    free(body);
    run_until(&g.done);
    ASSERT_EQ_INT(g.status, 200);
    crm_batch_part_t parts[8];
    size_t n = 0;
    int rc = crm_batch_decode(NULL, g.body, g.len, parts, 8, &n, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "%s\n%s\n", err, g.body);
    ASSERT_EQ_INT(rc, 0);
    int status[4], part_of[4];
    ASSERT_EQ_INT(crm_batch_outcome(ops, 4, parts, n, status, part_of), 0);
    ASSERT_EQ_INT(status[0], 204);
    ASSERT_EQ_INT(status[1], 204);
    ASSERT_EQ_INT(status[2], 400);
    ASSERT_EQ_INT(status[3], 0);
    char key[CRM_GUID_MAX];
    ASSERT_EQ_INT(crm_odata_entity_id_key(parts[part_of[0]].entity_id, "incidents", key), 0);
    crm_dyn_error_t e;
    ASSERT_EQ_INT(crm_dyn_parse_error(parts[part_of[2]].body, parts[part_of[2]].body_len, &e), 0);
    free(g.body);
    /* The emulator holds the applied case with its note; nothing of set 2. */
    json_t *state = ctl("state", NULL);
    size_t i, titled = 0, noted = 0;
    json_t *row;
    json_array_foreach(json_object_get(state, "incident"), i, row)
    {
        if (strcmp(json_string_value(json_object_get(row, "incidentid")), key) == 0)
            titled++;
        ASSERT_TRUE(strcmp(json_string_value(json_object_get(row, "title")), "no customer") != 0);
    }
    json_array_foreach(json_object_get(state, "annotation"), i, row)
    {
        const char *obj = json_string_value(json_object_get(row, "_objectid_value"));
        noted += obj && strcmp(obj, key) == 0;
    }
    json_decref(state);
    json_decref(c);
    ASSERT_EQ_INT(titled, 1);
    ASSERT_EQ_INT(noted, 1);
}

static void test_service_protection_429(void)
{
    ctl_ok("config", "{\"requests_per_window\":1,\"window_s\":30}");
    char url[512];
    snprintf(url, sizeof url, "%s/contacts?$select=contactid", G.api);
    got_t g = call("GET", url, NULL);
    free(g.body);
    g = call("GET", url, NULL);
    ASSERT_EQ_INT(g.status, 429);
    ASSERT_TRUE(g.retry_after_s >= 1 && g.retry_after_s <= 30);
    crm_dyn_error_t e;
    ASSERT_EQ_INT(crm_dyn_parse_error(g.body, g.len, &e), 0);
    free(g.body);
    ASSERT_TRUE(crm_dyn_error_is_throttle(&e));
    ctl_ok("config", "{\"requests_per_window\":6000,\"window_s\":300}");
}

static int setup(void)
{
    G.url = dyn_ctl_url = getenv("DYN_EMULATOR_URL");
    const char *tenant = getenv("DYN_TENANT");
    if (!G.url || !tenant || !getenv("DYN_CLIENT_ID") || !getenv("DYN_CLIENT_SECRET")) {
        fprintf(stderr, "run through tests/emulators/dynamics/with_emulator.py\n");
        return -1;
    }
    snprintf(G.api, sizeof G.api, "%s/api/data/v9.2", G.url);
    snprintf(G.scope, sizeof G.scope, "%s/.default", G.url);
    if (crm_dyn_token_url(G.url, tenant, G.token_url, sizeof G.token_url) != 0)
        return -1;
    char err[128];
    G.conf = (crm_dyn_conf_t){.api_base = G.api,
                              .app_base = G.url,
                              .lookup_form = CMN_PHONE_LOOKUP_NATIONAL,
                              .country = cmn_phone_country("IT")};
    if (crm_dyn_phone_attrs_parse(&G.conf, "telephone1,mobilephone", err, sizeof err) != 0)
        return -1;
    G.base = event_base_new();
    G.curl = crm_curl_new(G.base);
    crm_dyn_token_conf_t tc = {.token_url = G.token_url,
                               .client_id = getenv("DYN_CLIENT_ID"),
                               .client_secret = getenv("DYN_CLIENT_SECRET"),
                               .scope = G.scope};
    G.tok = crm_dyn_token_new(G.base, G.curl, &tc);
    return G.base && G.curl && G.tok ? 0 : -1;
}

int main(void)
{
    if (setup() != 0)
        return 1;
    static const test_case_t cases[] = {
        TEST_CASE(test_one_fetch_shared_by_concurrent_callers),
        TEST_CASE(test_wrong_secret_fails_without_token),
        TEST_CASE(test_401_refreshes_once),
        TEST_CASE(test_lookup_case_note_owner_status),
        TEST_CASE(test_batch_applied_then_rolled_back),
        TEST_CASE(test_service_protection_429),
        TEST_CASE(test_refreshed_before_expiry),
    };
    int rc = test_run_all("crm_dyn_emulator", cases, sizeof cases / sizeof cases[0]);
    crm_curl_free(G.curl); /* first: cancels a token fetch in flight */
    crm_dyn_token_free(G.tok);
    event_base_free(G.base);
    return rc;
}
