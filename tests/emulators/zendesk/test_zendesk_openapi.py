"""Check the emulator's replies, and the requests these tests send, against
Zendesk's published OpenAPI document (openapi-core), via oas_check."""
import time

import pytest

import oas_check


@pytest.fixture(scope="module")
def openapi():
    """The patched spec, parsed once for the whole module (it is 47k lines)."""
    return oas_check.load_openapi()


@pytest.fixture(scope="module")
def raw_openapi():
    """The spec exactly as Zendesk publishes it (to prove each patch is needed)."""
    return oas_check.build_openapi(oas_check.load_spec_dict(patched=False))


def assert_log_conforms(emulator, openapi, expect_paths=()):
    entries = emulator.requests()
    problems = {}
    for entry in entries:
        errors = oas_check.validate_log_entry(entry, openapi=openapi)
        if errors:
            problems[f'{entry["seq"]} {entry["method"]} {entry["path"]}?{entry["query"]} '
                     f'-> {entry["status"]}'] = errors
    assert not problems, "\n".join(f"{k}:\n  " + "\n  ".join(v) for k, v in problems.items())
    seen = {e["path"] for e in entries}
    for path in expect_paths:
        assert path in seen, f"scenario did not exercise {path}"
    return entries


# ---------------------------------------------------- emulator traffic

def test_user_and_search_traffic_conforms(openapi, client, emulator):
    user = client.create_user(name="Caller", phone="+15551112222", role="end-user",
                              external_id="crm-1")
    client.create_user(name="No phone")
    client.get(f"/api/v2/users/{user['id']}.json")
    client.get("/api/v2/users/me.json")
    client.get("/api/v2/search.json?query=role:end-user%20phone:*5551112222")
    client.get("/api/v2/search.json?query=type:user%20phone:15551112222"
               "&sort_by=created_at&sort_order=desc&per_page=1")
    client.get(f"/api/v2/users/{user['id']}/tickets/requested.json")
    assert_log_conforms(emulator, openapi, ["/api/v2/search.json", "/api/v2/users.json"])


def test_ticket_lifecycle_traffic_conforms(openapi, client, emulator):
    user = client.create_user(name="Caller", phone="+15551113333")
    ticket = client.create_ticket(
        subject="Call from +15551113333", requester_id=user["id"], assignee_id=900001,
        type="incident", priority="normal", external_id="call-9", tags=["callbus"],
        comment={"body": "call id 9", "html_body": "<p>call id 9</p>", "public": False},
        custom_fields=[{"id": 1001, "value": "call"}, {"id": 1003, "value": 12}])
    path = f"/api/v2/tickets/{ticket['id']}.json"
    client.put(path, {"ticket": {"comment": {"body": "ended", "public": False},
                                 "status": "pending", "assignee_id": 900002,
                                 "custom_fields": [{"id": 1005, "value": "sales"}],
                                 "additional_tags": ["ended"], "remove_tags": ["callbus"]}})
    client.put(path, {"ticket": {"assignee_id": None, "status": "open"}})
    client.get(path)
    client.get("/api/v2/tickets.json?external_id=call-9")
    client.get(f"/api/v2/tickets/show_many.json?ids={ticket['id']},999")
    client.get(f"/api/v2/tickets/{ticket['id']}/comments.json")
    client.get(f"/api/v2/tickets/{ticket['id']}/comments.json?page=1&per_page=2")
    client.get(f"/api/v2/tickets/{ticket['id']}/audits.json")
    client.get("/api/v2/ticket_fields.json")
    client.get(f"/api/v2/search.json?query=type:ticket%20requester_id:{user['id']}"
               "%20status%3Csolved")
    assert_log_conforms(emulator, openapi, [path, "/api/v2/ticket_fields.json"])


def test_bulk_and_job_traffic_conforms(openapi, client, emulator):
    a, b = client.create_ticket(subject="a"), client.create_ticket(subject="b")
    client.put(f"/api/v2/tickets/{b['id']}.json", {"ticket": {"status": "closed"}})
    batch = client.put("/api/v2/tickets/update_many.json", {"tickets": [
        {"id": a["id"], "comment": {"body": "batched", "public": False}, "status": "pending"},
        {"id": b["id"], "comment": {"body": "too late", "public": False}},
        {"id": 31337, "status": "open"}]})[2]["job_status"]
    bulk = client.put(f"/api/v2/tickets/update_many.json?ids={a['id']}",
                      {"ticket": {"additional_tags": ["bulk"]}})[2]["job_status"]
    client.get(f"/api/v2/job_statuses/{batch['id']}.json")  # while queued
    client.wait_job(batch["id"])
    client.wait_job(bulk["id"])
    client.get(f"/api/v2/job_statuses/show_many.json?ids={batch['id']},{bulk['id']}")
    client.get("/api/v2/job_statuses.json")
    results = client.get(f"/api/v2/job_statuses/{batch['id']}.json")[2]["job_status"]["results"]
    assert [r["success"] for r in results] == [True, False, False]
    assert_log_conforms(emulator, openapi, ["/api/v2/tickets/update_many.json"])


def test_merge_and_talk_traffic_conforms(openapi, client, emulator):
    user = client.create_user(name="Caller", phone="+15551114444")
    target = client.create_ticket(subject="call", requester_id=user["id"])
    source = client.create_ticket(subject="missed", requester_id=user["id"])
    job = client.post(f"/api/v2/tickets/{target['id']}/merge.json", {
        "ids": [source["id"]], "target_comment": "merged missed call",
        "source_comment": "see the call ticket", "source_comment_is_public": False})[2]
    client.wait_job(job["job_status"]["id"])
    client.get(f"/api/v2/tickets/{source['id']}/audits.json")
    client.post(f"/api/v2/channels/voice/agents/900001/tickets/{target['id']}/display.json")
    client.post(f"/api/v2/channels/voice/agents/900001/users/{user['id']}/display.json")
    client.post("/api/v2/channels/voice/tickets.json", {"display_to_agent": 900001, "ticket": {
        "via_id": 45, "subject": "Inbound call", "requester_id": user["id"],
        "voice_comment": {"from": "+15551114444", "to": "+15550000000",
                          "recording_url": "https://rec.example/2.mp3",
                          "started_at": "2024-05-01T09:00:00Z", "call_duration": 61,
                          "answered_by_id": 900001, "recording_type": "call"}}})
    assert_log_conforms(emulator, openapi, ["/api/v2/channels/voice/tickets.json"])


def test_error_replies_conform(openapi, client, emulator):
    ticket = client.create_ticket(subject="t")
    client.put(f"/api/v2/tickets/{ticket['id']}.json", {"ticket": {"status": "closed"}})
    client.put(f"/api/v2/tickets/{ticket['id']}.json", {"ticket": {"status": "open"}})  # 422
    client.get("/api/v2/tickets/999.json")  # 404
    client.post(f"/api/v2/channels/voice/agents/1/tickets/{ticket['id']}/display.json")  # 404
    emulator.configure(rate_limit_per_min=1, rate_window_s=30)
    client.get("/api/v2/ticket_fields.json")  # 429
    statuses = [e["status"] for e in assert_log_conforms(emulator, openapi)]
    assert statuses[-4:] == [422, 404, 404, 429]


# ------------------------------------------------------- the checker itself

def test_checker_rejects_nonconforming_exchanges(openapi):
    ticket = {"id": 1, "status": "open", "subject": "s"}
    assert oas_check.validate_exchange("GET", "/api/v2/tickets/1.json", "", None, 200,
                                       {"ticket": ticket}) == []
    bad_request = oas_check.validate_exchange(
        "PUT", "/api/v2/tickets/1.json", "", {"ticket": {"status": "reopened"}}, 200,
        {"ticket": ticket})
    assert any("reopened" in e for e in bad_request)
    bad_response = oas_check.validate_exchange(
        "GET", "/api/v2/tickets/1.json", "", None, 200, {"ticket": dict(ticket, id="1")})
    assert any("ticket/id" in e for e in bad_response)
    assert oas_check.validate_exchange("GET", "/api/v2/nowhere.json", "", None, 200, {})
    assert oas_check.validate_exchange("GET", "/api/v2/tickets/1.json", "", None, 204, None)
    assert oas_check.validate_exchange("GET", "/api/v2/tickets/1.json", "", None, 404,
                                       {"message": "no error member"})
    unauthenticated = oas_check.validate_exchange(
        "GET", "/api/v2/tickets/1.json", "", None, 200, {"ticket": ticket}, headers={})
    assert any("Security" in e for e in unauthenticated)
    job = {"job_status": {"id": "x", "status": "completed", "results": [{"foo": 1}]}}
    assert oas_check.validate_exchange("GET", "/api/v2/job_statuses/x.json", "", None, 200, job)
    missing_query = oas_check.validate_exchange("GET", "/api/v2/search.json", "", None, 200,
                                                {"results": []})
    assert any("query" in e for e in missing_query)
    too_big = {"tickets": [{"id": i} for i in range(101)]}
    assert oas_check.validate_exchange("PUT", "/api/v2/tickets/update_many.json", "",
                                       too_big, 200, {"job_status": {"id": "x"}})


# Each spec patch must stay necessary: the unpatched spec rejects a real
# Zendesk exchange that the patched one accepts. When Zendesk fixes its
# document, the matching case here fails and the patch can go.
QUIRK_CASES = {
    "JobStatusResultObject oneOf is ambiguous": (
        "GET", "/api/v2/job_statuses/abc.json", "", None, 200,
        {"job_status": {"id": "abc", "status": "completed", "results": [
            {"id": 1, "index": 0, "action": "update", "success": True, "status": "Updated"}]}}),
    "custom field values may be null": (
        "GET", "/api/v2/tickets/1.json", "", None, 200,
        {"ticket": {"id": 1, "custom_fields": [{"id": 1001, "value": None}]}}),
    "audit event values: tags arrays and nulls": (
        "PUT", "/api/v2/tickets/1.json", "", {"ticket": {"tags": ["a"], "assignee_id": None}},
        200, {"ticket": {"id": 1}, "audit": {"id": 2, "events": [
            {"id": 3, "type": "Change", "field_name": "tags", "value": ["a"]},
            {"id": 4, "type": "Change", "field_name": "assignee_id", "value": None}]}}),
    "users may have no e-mail": (
        "GET", "/api/v2/users/5.json", "", None, 200,
        {"user": {"id": 5, "name": "Caller", "email": None, "phone": None,
                  "organization_id": None}}),
    "batch update ids are required yet read-only": (
        "PUT", "/api/v2/tickets/update_many.json", "", {"tickets": [{"id": 1, "status": "open"}]},
        200, {"job_status": {"id": "abc", "status": "queued", "results": None}}),
    "offset page parameter": (
        "GET", "/api/v2/tickets.json", "external_id=x&page=2", None, 200, {"tickets": []}),
    "ticket type and priority may be null": (
        "GET", "/api/v2/tickets/1.json", "", None, 200,
        {"ticket": {"id": 1, "type": None, "priority": None}}),
}


@pytest.mark.parametrize("name", sorted(QUIRK_CASES))
def test_each_spec_patch_is_needed(name, openapi, raw_openapi):
    exchange = QUIRK_CASES[name]
    assert oas_check.validate_exchange(*exchange, openapi=openapi) == []
    assert oas_check.validate_exchange(*exchange, openapi=raw_openapi) != []


def test_spec_is_parsed_once():
    started = time.monotonic()
    assert oas_check.load_openapi() is oas_check.load_openapi()
    assert time.monotonic() - started < 0.1
