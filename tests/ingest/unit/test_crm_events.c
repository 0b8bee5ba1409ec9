/* CRM events in (issue 25 item 1): the Zendesk webhook signature (good,
 * tampered, old timestamp, wrong secret) and the two normalisers, Zendesk's
 * ticket events and Dataverse's RemoteExecutionContext, into crm-events
 * messages (schemas/crm-event.schema.json). The previous-secret rotation is
 * the caller's (ing_server.c tries the *_PREVIOUS secret the same way): it
 * is shown here as the same check passing with the old secret, and over
 * HTTP by tests/ingest/e2e/test_crm_events.py. */
#include "test.h"

#include "cmn_time.h"
#include "ing_dynamics.h"
#include "ing_zendesk.h"

#include <string.h>

static int64_t at(const char *text)
{
    int64_t ms = 0;
    if (cmn_time_parse(text, &ms) < 0)
        fprintf(stderr, "bad time in test: %s\n", text);
    return ms;
}

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    if (!j)
        fprintf(stderr, "bad JSON in test: %s\n", e.text);
    return j;
}

/* The message a normalised event becomes, parsed back. */
static json_t *encoded(const ing_crm_event_t *ev)
{
    char *text = ing_crm_event_encode(ev);
    json_t *j = text ? parse(text) : NULL;
    free(text);
    return j;
}

static const char *member(const json_t *o, const char *name)
{
    return json_string_value(json_object_get(o, name));
}

/* ---- Zendesk's signature ---------------------------------------------------- */

/* Computed with Python's hmac and base64 modules, independently of our code. */
static const char zd_secret[] = "zd_whsec_Q3p9";
static const char zd_ts[] = "2026-03-12T12:00:00Z";
static const char zd_body[] = "{\"type\":\"zen:event-type:ticket.status_changed\"}";
static const char zd_sig[] = "ZnQxxoLmdlh4H/mvIP2ClIc7zO6TLQb4tCHRQhJCuXk=";

static void test_zendesk_signature_valid_and_previous_secret(void)
{
    ing_error_t err;
    int64_t now = at("2026-03-12T12:04:00Z");
    size_t len = strlen(zd_body);
    ASSERT_EQ_INT(
        ing_zendesk_signature_ok(zd_secret, zd_ts, zd_body, len, zd_sig, now, 300000, &err), 1);
    /* during a rotation the new secret fails and the old one (tried next
     * by the route) passes: the signature is the old secret's */
    ASSERT_EQ_INT(
        ing_zendesk_signature_ok("zd_whsec_new", zd_ts, zd_body, len, zd_sig, now, 300000, &err),
        0);
    ASSERT_EQ_STR(err.field, ING_ZENDESK_SIGNATURE_HEADER);
}

static void test_zendesk_signature_rejections(void)
{
    ing_error_t err;
    int64_t now = at("2026-03-12T12:04:00Z");
    size_t len = strlen(zd_body);
    /* a body changed after signing */
    ASSERT_EQ_INT(ing_zendesk_signature_ok(zd_secret, zd_ts, "{\"type\":\"x\"}", 12, zd_sig, now,
                                           300000, &err),
                  0);
    ASSERT_EQ_STR(err.field, ING_ZENDESK_SIGNATURE_HEADER);
    /* a captured request replayed 6 minutes later: outside the window */
    ASSERT_EQ_INT(ing_zendesk_signature_ok(zd_secret, zd_ts, zd_body, len, zd_sig,
                                           at("2026-03-12T12:06:01Z"), 300000, &err),
                  0);
    ASSERT_EQ_STR(err.field, ING_ZENDESK_TIMESTAMP_HEADER);
    ASSERT_TRUE(strstr(err.msg, "too far from now") != NULL);
    /* a timestamp changed to a fresh one: the signature covers it */
    ASSERT_EQ_INT(ing_zendesk_signature_ok(zd_secret, "2026-03-12T12:03:59Z", zd_body, len, zd_sig,
                                           now, 300000, &err),
                  0);
    ASSERT_EQ_STR(err.field, ING_ZENDESK_SIGNATURE_HEADER);
    ASSERT_EQ_INT(
        ing_zendesk_signature_ok(zd_secret, "1773316800", zd_body, len, zd_sig, now, 300000, &err),
        0);
    ASSERT_EQ_STR(err.field, ING_ZENDESK_TIMESTAMP_HEADER);
    ASSERT_EQ_INT(
        ing_zendesk_signature_ok(zd_secret, NULL, zd_body, len, zd_sig, now, 300000, &err), 0);
    ASSERT_EQ_INT(ing_zendesk_signature_ok(zd_secret, zd_ts, zd_body, len, NULL, now, 300000, &err),
                  0);
    ASSERT_EQ_INT(
        ing_zendesk_signature_ok(zd_secret, zd_ts, zd_body, len, "abc", now, 300000, &err), 0);
    ASSERT_EQ_INT(ing_zendesk_signature_ok("", zd_ts, zd_body, len, zd_sig, now, 300000, &err), 0);
}

/* ---- Zendesk's ticket events ---------------------------------------------- */

#define ZD_EVENT(type, event)                                                                      \
    "{\"type\":\"zen:event-type:ticket." type "\",\"account_id\":9242270,"                         \
    "\"id\":\"2b24ef10-19d4-4740-93cf-8f98ec4776c0\",\"time\":\"2026-03-12T11:59:58Z\","           \
    "\"zendesk_event_version\":\"2022-11-06\",\"subject\":\"zen:ticket:35436\","                   \
    "\"detail\":{\"id\":\"35436\",\"requester_id\":\"1903771\",\"assignee_id\":\"235324\","        \
    "\"status\":\"SOLVED\",\"created_at\":\"2026-03-12T10:00:00Z\","                               \
    "\"updated_at\":\"2026-03-12T11:59:58Z\"},\"event\":" event "}"

static void test_zendesk_status_changed_solved_R_T10(void)
{
    ing_crm_events_t out;
    ing_error_t err;
    json_t *in =
        parse(ZD_EVENT("status_changed", "{\"current\":\"SOLVED\",\"previous\":\"OPEN\"}"));
    ASSERT_EQ_INT(ing_zendesk_normalise(at("2026-03-12T12:00:00Z"), in, &out, &err), 0);
    ASSERT_EQ_INT(out.n, 1);
    json_t *m = encoded(&out.ev[0]);
    ASSERT_EQ_STR(member(m, "event_id"), "zendesk:2b24ef10-19d4-4740-93cf-8f98ec4776c0");
    ASSERT_EQ_STR(member(m, "crm"), "zendesk");
    ASSERT_EQ_STR(member(m, "type"), "ticket.status_changed");
    ASSERT_EQ_STR(member(m, "ticket_id"), "35436");
    ASSERT_EQ_STR(member(m, "status"), "solved");
    ASSERT_EQ_STR(member(m, "previous_status"), "open");
    ASSERT_EQ_STR(member(m, "requester_id"), "1903771");
    ASSERT_EQ_STR(ing_crm_event_key(&out.ev[0]), "1903771");
    ASSERT_EQ_STR(member(m, "ticket_created_at"), "2026-03-12T10:00:00.000Z");
    ASSERT_EQ_STR(member(m, "occurred_at"), "2026-03-12T11:59:58.000Z");
    ASSERT_EQ_STR(member(m, "received_at"), "2026-03-12T12:00:00.000Z");
    ASSERT_TRUE(json_object_get(m, "assignee_id") == NULL);
    json_decref(m);
    json_decref(in);
}

static void test_zendesk_assignee_and_merge_R_T7(void)
{
    ing_crm_events_t out;
    ing_error_t err;
    json_t *in = parse(
        ZD_EVENT("agent_assignment_changed", "{\"current\":\"235324\",\"previous\":\"235323\"}"));
    ASSERT_EQ_INT(ing_zendesk_normalise(0, in, &out, &err), 0);
    json_t *m = encoded(&out.ev[0]);
    ASSERT_EQ_STR(member(m, "type"), "ticket.assignee_changed");
    ASSERT_EQ_STR(member(m, "assignee_id"), "235324");
    json_decref(m);
    json_decref(in);
    /* unassigned: null */
    in = parse(ZD_EVENT("agent_assignment_changed", "{\"current\":null,\"previous\":\"235323\"}"));
    ASSERT_EQ_INT(ing_zendesk_normalise(0, in, &out, &err), 0);
    m = encoded(&out.ev[0]);
    ASSERT_TRUE(json_is_null(json_object_get(m, "assignee_id")));
    json_decref(m);
    json_decref(in);
    in = parse(ZD_EVENT("merged", "{\"target_ticket_id\":\"35440\"}"));
    ASSERT_EQ_INT(ing_zendesk_normalise(0, in, &out, &err), 0);
    m = encoded(&out.ev[0]);
    ASSERT_EQ_STR(member(m, "type"), "ticket.merged");
    ASSERT_EQ_STR(member(m, "merged_into"), "35440");
    json_decref(m);
    json_decref(in);
}

static void test_zendesk_other_types_and_refusals(void)
{
    ing_crm_events_t out;
    ing_error_t err;
    json_t *in = parse(ZD_EVENT("priority_changed", "{\"current\":\"HIGH\"}"));
    ASSERT_EQ_INT(ing_zendesk_normalise(0, in, &out, &err), 0);
    ASSERT_EQ_INT(out.n, 0); /* nothing callbus uses: 202, nothing published */
    json_decref(in);
    in = parse(ZD_EVENT("status_changed", "{\"current\":\"WAITING_ON_VENDOR\"}"));
    ASSERT_EQ_INT(ing_zendesk_normalise(0, in, &out, &err), -1);
    ASSERT_EQ_STR(err.field, "event.current");
    ASSERT_EQ_INT(out.n, 0);
    json_decref(in);
    in = parse("{\"type\":\"zen:event-type:ticket.status_changed\",\"id\":\"e1\","
               "\"detail\":{\"status\":\"OPEN\"},\"event\":{\"current\":\"OPEN\"}}");
    ASSERT_EQ_INT(ing_zendesk_normalise(0, in, &out, &err), -1);
    ASSERT_EQ_STR(err.field, "detail.id");
    json_decref(in);
    in = parse("[1]");
    ASSERT_EQ_INT(ing_zendesk_normalise(0, in, &out, &err), -1);
    json_decref(in);
}

/* ---- Dataverse's RemoteExecutionContext ------------------------------------- */

#define CASE_ID "5b3e1c8a-4d2f-4e61-9a7b-1c2d3e4f5a6b"
#define CONTACT "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
#define OWNER "7d6c5b4a-3f2e-4d1c-8b0a-9f8e7d6c5b4a"
#define MASTER "11111111-2222-4333-8444-555555555555"
#define OPTION(n)                                                                                  \
    "{\"__type\":\"OptionSetValue:http://schemas.microsoft.com/xrm/2011/Contracts\",\"Value\":" #n \
    "}"
#define REF(table, id)                                                                             \
    "{\"__type\":\"EntityReference:http://schemas.microsoft.com/xrm/2011/Contracts\",\"Id\":\"" id \
    "\",\"KeyAttributes\":[],\"LogicalName\":\"" table "\",\"Name\":null,\"RowVersion\":null}"
#define ENTITY(attrs)                                                                              \
    "{\"Attributes\":[" attrs "],\"EntityState\":null,\"FormattedValues\":[],\"Id\":\"" CASE_ID    \
    "\",\"KeyAttributes\":[],\"LogicalName\":\"incident\",\"RelatedEntities\":[],"                 \
    "\"RowVersion\":null}"
#define KV(k, v) "{\"key\":\"" k "\",\"value\":" v "}"
#define CONTEXT(message, inputs, pre, post)                                                        \
    "{\"BusinessUnitId\":\"" OWNER "\",\"CorrelationId\":\"" OWNER "\",\"Depth\":1,"               \
    "\"InitiatingUserId\":\"" OWNER "\",\"InputParameters\":[" inputs "],"                         \
    "\"IsExecutingOffline\":false,\"MessageName\":\"" message "\",\"Mode\":1,"                     \
    "\"OperationCreatedOn\":\"\\/Date(1773316798000)\\/\",\"OperationId\":\"" OWNER "\","          \
    "\"OrganizationId\":\"" OWNER "\",\"OrganizationName\":\"contoso\",\"OutputParameters\":[],"   \
    "\"PostEntityImages\":[" post "],\"PreEntityImages\":[" pre "],"                               \
    "\"PrimaryEntityId\":\"" CASE_ID "\",\"PrimaryEntityName\":\"incident\",\"Stage\":40,"         \
    "\"UserId\":\"" OWNER "\"}"
#define CASE_ATTRS(state, reason)                                                                  \
    KV("statecode", OPTION(state))                                                                 \
    "," KV("statuscode", OPTION(reason)) "," KV("customerid", REF("contact", CONTACT)) "," KV(     \
        "ownerid", REF("systemuser", OWNER)) "," KV("createdon", "\"\\/Date(1773309600000)\\/\"")

static void test_dynamics_resolved_by_update_R_T10(void)
{
    ing_crm_events_t out;
    ing_error_t err;
    /* statecode 1 Resolved = solved; the pre image's 0/2 On Hold = hold
     * (crm_dyn_status_from, the adapter's mapping) */
    json_t *in = parse(CONTEXT(
        "Update", KV("Target", ENTITY(KV("statecode", OPTION(1)) "," KV("statuscode", OPTION(5)))),
        KV("PreImage", ENTITY(CASE_ATTRS(0, 2))), KV("PostImage", ENTITY(CASE_ATTRS(1, 5)))));
    ASSERT_EQ_INT(ing_dynamics_normalise(at("2026-03-12T12:00:00Z"), in, &out, &err), 0);
    ASSERT_EQ_INT(out.n, 1);
    json_t *m = encoded(&out.ev[0]);
    ASSERT_EQ_STR(member(m, "crm"), "dynamics");
    ASSERT_EQ_STR(member(m, "type"), "ticket.status_changed");
    ASSERT_EQ_STR(member(m, "ticket_id"), CASE_ID);
    ASSERT_EQ_STR(member(m, "status"), "solved");
    ASSERT_EQ_STR(member(m, "previous_status"), "hold");
    ASSERT_EQ_STR(member(m, "requester_id"), CONTACT);
    ASSERT_EQ_STR(ing_crm_event_key(&out.ev[0]), CONTACT);
    ASSERT_EQ_STR(member(m, "ticket_created_at"), "2026-03-12T10:00:00.000Z");
    ASSERT_EQ_STR(member(m, "occurred_at"), "2026-03-12T11:59:58.000Z");
    ASSERT_EQ_STR(member(m, "event_id"),
                  "dynamics:" CASE_ID ":ticket.status_changed:1773316798000");
    json_decref(m);
    json_decref(in);
}

static void test_dynamics_owner_and_status_in_one_update(void)
{
    ing_crm_events_t out;
    ing_error_t err;
    json_t *in = parse(CONTEXT(
        "Update",
        KV("Target", ENTITY(KV("statecode", OPTION(0)) "," KV("statuscode", OPTION(3)) "," KV(
                         "ownerid", REF("systemuser", OWNER)))),
        "", KV("PostImage", ENTITY(CASE_ATTRS(0, 3)))));
    ASSERT_EQ_INT(ing_dynamics_normalise(0, in, &out, &err), 0);
    ASSERT_EQ_INT(out.n, 2);
    ASSERT_EQ_STR(out.ev[0].status, "pending");
    ASSERT_EQ_INT(out.ev[1].type, ING_CRM_ASSIGNEE_CHANGED);
    ASSERT_EQ_STR(out.ev[1].assignee_id, OWNER);
    ASSERT_TRUE(strcmp(out.ev[0].event_id, out.ev[1].event_id) != 0);
    json_decref(in);
    /* an update of other columns only: nothing to say */
    in = parse(CONTEXT("Update", KV("Target", ENTITY(KV("title", "\"x\""))), "", ""));
    ASSERT_EQ_INT(ing_dynamics_normalise(0, in, &out, &err), 0);
    ASSERT_EQ_INT(out.n, 0);
    json_decref(in);
}

static void test_dynamics_close_and_merge_R_T7(void)
{
    ing_crm_events_t out;
    ing_error_t err;
    json_t *in = parse(CONTEXT(
        "Close",
        KV("IncidentResolution",
           "{\"Attributes\":[" KV(
               "incidentid", REF("incident", CASE_ID)) "],\"LogicalName\":"
                                                       "\"incidentresolution\"}") "," KV("Status",
                                                                                         OPTION(5)),
        "", ""));
    ASSERT_EQ_INT(ing_dynamics_normalise(0, in, &out, &err), 0);
    ASSERT_EQ_INT(out.n, 1);
    ASSERT_EQ_STR(out.ev[0].status, "solved");
    ASSERT_EQ_STR(out.ev[0].ticket_id, CASE_ID);
    json_decref(in);
    in = parse(CONTEXT(
        "Merge", KV("Target", REF("incident", MASTER)) "," KV("SubordinateId", "\"" CASE_ID "\""),
        "", ""));
    ASSERT_EQ_INT(ing_dynamics_normalise(0, in, &out, &err), 0);
    ASSERT_EQ_INT(out.n, 1);
    json_t *m = encoded(&out.ev[0]);
    ASSERT_EQ_STR(member(m, "type"), "ticket.merged");
    ASSERT_EQ_STR(member(m, "ticket_id"), CASE_ID);
    ASSERT_EQ_STR(member(m, "merged_into"), MASTER);
    ASSERT_EQ_STR(member(m, "status"), "closed");
    json_decref(m);
    json_decref(in);
    /* the merge seen as the subordinate's Update: statuscode 2000 + masterid */
    in = parse(CONTEXT(
        "Update",
        KV("Target", ENTITY(KV("statecode", OPTION(2)) "," KV("statuscode", OPTION(2000)) "," KV(
                         "masterid", REF("incident", MASTER)))),
        "", ""));
    ASSERT_EQ_INT(ing_dynamics_normalise(0, in, &out, &err), 0);
    ASSERT_EQ_INT(out.ev[0].type, ING_CRM_MERGED);
    ASSERT_EQ_STR(out.ev[0].merged_into, MASTER);
    json_decref(in);
}

static void test_dynamics_refusals(void)
{
    ing_crm_events_t out;
    ing_error_t err;
    json_t *in = parse("{\"MessageName\":\"Update\",\"PrimaryEntityName\":\"contact\","
                       "\"OperationCreatedOn\":\"\\/Date(1)\\/\",\"PrimaryEntityId\":\"x\"}");
    ASSERT_EQ_INT(ing_dynamics_normalise(0, in, &out, &err), -1);
    ASSERT_EQ_STR(err.field, "PrimaryEntityName");
    json_decref(in);
    in = parse("{\"MessageName\":\"Update\",\"PrimaryEntityName\":\"incident\","
               "\"PrimaryEntityId\":\"x\"}");
    ASSERT_EQ_INT(ing_dynamics_normalise(0, in, &out, &err), -1);
    ASSERT_EQ_STR(err.field, "OperationCreatedOn");
    json_decref(in);
    /* a status change with no statecode anywhere: register a post image */
    in = parse(CONTEXT("Update", KV("Target", ENTITY(KV("statuscode", OPTION(5)))), "", ""));
    ASSERT_EQ_INT(ing_dynamics_normalise(0, in, &out, &err), -1);
    ASSERT_EQ_STR(err.field, "PostEntityImages");
    ASSERT_EQ_INT(out.n, 0);
    json_decref(in);
}

TEST_MAIN("ingest_crm_events", TEST_CASE(test_zendesk_signature_valid_and_previous_secret),
          TEST_CASE(test_zendesk_signature_rejections),
          TEST_CASE(test_zendesk_status_changed_solved_R_T10),
          TEST_CASE(test_zendesk_assignee_and_merge_R_T7),
          TEST_CASE(test_zendesk_other_types_and_refusals),
          TEST_CASE(test_dynamics_resolved_by_update_R_T10),
          TEST_CASE(test_dynamics_owner_and_status_in_one_update),
          TEST_CASE(test_dynamics_close_and_merge_R_T7), TEST_CASE(test_dynamics_refusals))
