"""Behaviour tests for the Zendesk emulator (each test gets its own instance)."""
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from emulator_client import AUTH, Client

HERE = os.path.dirname(os.path.abspath(__file__))
CLOSED_422 = {"error": "RecordInvalid", "description": "Record validation errors",
              "details": {"status": [{"description": "Status: closed prevents ticket update"}]}}


def search(client, query):
    status, _, body = client.get("/api/v2/search.json?query=" + query.replace(" ", "%20"))
    assert status == 200, body
    return body


# ------------------------------------------------------------------- auth

def test_missing_or_wrong_credentials_are_401(client, emulator):
    assert client.get("/api/v2/users/me.json", auth=False)[::2] == (
        401, {"error": "Couldn't authenticate you"})
    wrong = {"Authorization": "Basic " + "YWdlbnRAZXhhbXBsZS5jb206c2VjcmV0"}  # email:secret
    status, _, body = client.get("/api/v2/tickets/1.json", auth=False, headers=wrong)
    assert (status, body) == (401, {"error": "Couldn't authenticate you"})
    log = emulator.requests()
    assert [e["headers"]["authorization_present"] for e in log] == [False, True]
    assert not any(e["headers"]["authenticated"] for e in log)
    status, _, body = client.get("/api/v2/users/me.json")
    assert status == 200 and body["user"]["email"] == "agent@example.com"


def test_revoked_token_answers_401_until_restored(client, emulator):
    emulator.configure(revoke_token_s=60)
    assert client.get("/api/v2/users/me.json")[::2] == (401, {"error": "Couldn't authenticate you"})
    emulator.configure(revoke_token_s=0)
    assert client.get("/api/v2/users/me.json")[0] == 200


def test_users_search_by_external_id_has_no_index_lag(client, emulator):
    emulator.configure(search_lag_s=60)
    status, _, body = client.post("/api/v2/users.json", {"user": {
        "name": "Caller", "phone": "+15550001111", "external_id": "callbus-x-contact"}})
    assert status == 201
    status, _, found = client.get("/api/v2/users/search.json?external_id=callbus-x-contact")
    assert status == 200 and [u["id"] for u in found["users"]] == [body["user"]["id"]]
    status, _, none = client.get("/api/v2/users/search.json?external_id=callbus-y-contact")
    assert status == 200 and none["users"] == []
    assert client.get("/api/v2/users/search.json")[0] == 400
    status, _, again = client.post("/api/v2/users.json", {"user": {
        "name": "Caller", "phone": "+15550001111", "external_id": "callbus-x-contact"}})
    assert status == 422


# ------------------------------------------------------------ users/search

def test_user_found_by_phone_only_after_search_lag(client, emulator):
    emulator.configure(search_lag_s=0.3)
    user = client.create_user(name="Ann Caller", phone="+1 (555) 123-4567")
    assert user["role"] == "end-user" and user["url"].endswith(f"/users/{user['id']}.json")
    assert search(client, "role:end-user phone:*5551234567")["count"] == 0
    assert client.get(f"/api/v2/users/{user['id']}.json")[0] == 200  # show is immediate
    time.sleep(0.35)
    body = search(client, "role:end-user phone:*5551234567")
    assert body["count"] == 1 and body["next_page"] is None and body["previous_page"] is None
    assert body["results"][0]["id"] == user["id"]
    assert body["results"][0]["result_type"] == "user"
    assert search(client, "type:user role:end-user phone:15551234567")["count"] == 1
    assert search(client, "type:user phone:5551234567")["count"] == 0  # no * = whole number
    assert search(client, "role:agent phone:*5551234567")["count"] == 0


def test_several_users_share_a_number(client):
    first = client.create_user(name="A", phone="+15550001111")
    second = client.create_user(name="B", phone="555-000-1111")
    body = search(client, "type:user role:end-user phone:*5550001111")
    assert [r["id"] for r in body["results"]] == [first["id"], second["id"]]
    newest = client.get("/api/v2/search.json?query=phone:*5550001111"
                        "&sort_by=created_at&sort_order=desc")[2]
    assert newest["results"][0]["id"] == second["id"]


def test_phone_identity_added_is_searched_and_once_only(client):
    """Create Identity (issue 24 item 2: an unknown caller linked to a
    contact): a user without a phone gets it as `phone`, one with a phone
    keeps it and is found by either; the same number twice is 422 taken."""
    bare = client.create_user(name="Ada Bare")
    status, _, body = client.post(f"/api/v2/users/{bare['id']}/identities.json", {
        "identity": {"type": "phone_number", "value": "+15550002222"}})
    assert status == 201 and body["identity"]["primary"] is True
    assert client.get(f"/api/v2/users/{bare['id']}.json")[2]["user"]["phone"] == "+15550002222"
    has = client.create_user(name="Ada Has", phone="+15550003333")
    status, _, body = client.post(f"/api/v2/users/{has['id']}/identities.json", {
        "identity": {"type": "phone_number", "value": "+15550004444"}})
    assert status == 201 and body["identity"]["primary"] is False
    assert [r["id"] for r in search(client, "role:end-user phone:*5550004444")["results"]] == [
        has["id"]]
    assert [r["id"] for r in search(client, "role:end-user phone:*5550003333")["results"]] == [
        has["id"]]
    status, _, body = client.post(f"/api/v2/users/{has['id']}/identities.json", {
        "identity": {"type": "phone_number", "value": "+1 555 000 4444"}})
    assert status == 422 and "taken" in json.dumps(body)
    assert client.post(f"/api/v2/users/{has['id']}/identities.json", {
        "identity": {"type": "email", "value": "a@example.com"}})[0] == 422
    assert client.post("/api/v2/users/999999/identities.json", {
        "identity": {"type": "phone_number", "value": "+15550005555"}})[0] == 404


def test_user_validation(client):
    status, _, body = client.post("/api/v2/users.json", {"user": {"phone": "1"}})
    assert status == 422 and body["error"] == "RecordInvalid" and "name" in body["details"]
    client.create_user(name="X", email="x@example.com")
    status, _, body = client.post("/api/v2/users.json",
                                  {"user": {"name": "Y", "email": "x@example.com"}})
    assert status == 422 and body["details"]["email"][0]["error"] == "DuplicateValue"
    assert client.get("/api/v2/users/424242.json")[::2] == (
        404, {"error": "RecordNotFound", "description": "Not found"})


# ----------------------------------------------------------------- tickets

def test_ticket_create_show_update_and_comment_order(client, emulator):
    user = client.create_user(name="Caller", phone="+15551230000")
    status, headers, body = client.post("/api/v2/tickets.json", {"ticket": {
        "subject": "Call from +15551230000", "requester_id": user["id"],
        "assignee_id": 900001, "comment": {"body": "call id c-1", "public": False},
        "tags": ["callbus"], "custom_fields": [{"id": 1001, "value": "call"},
                                               {"id": 77777, "value": "nope"}]}})
    assert status == 201 and headers["Location"] == body["ticket"]["url"]
    ticket, audit = body["ticket"], body["audit"]
    assert ticket["status"] == "open" and ticket["description"] == "call id c-1"
    assert ticket["submitter_id"] == 900000 and ticket["via"]["channel"] == "api"
    values = {f["id"]: f["value"] for f in ticket["custom_fields"]}
    assert values[1001] == "call" and values[1003] is None and 77777 not in values
    assert emulator.snapshot()["ignored_custom_field_ids"] == [77777]
    assert audit["events"][0]["type"] == "Comment" and audit["events"][0]["public"] is False

    tid = ticket["id"]
    status, _, body = client.put(f"/api/v2/tickets/{tid}.json", {"ticket": {
        "comment": {"body": "call ended"}, "status": "pending",
        "custom_fields": [{"id": 1003, "value": 42}], "additional_tags": ["ended"]}})
    assert status == 200 and body["ticket"]["status"] == "pending"
    assert body["ticket"]["tags"] == ["callbus", "ended"]
    changes = {e["field_name"]: e for e in body["audit"]["events"] if e["type"] == "Change"}
    assert changes["status"]["previous_value"] == "open" and changes["1003"]["value"] == "42"

    client.put(f"/api/v2/tickets/{tid}.json",
               {"ticket": {"comment": {"body": "recording", "public": True}}})
    comments = client.get(f"/api/v2/tickets/{tid}/comments.json")[2]["comments"]
    assert [c["body"] for c in comments] == ["call id c-1", "call ended", "recording"]
    # comment.public defaults to what the first comment had (private here)
    assert [c["public"] for c in comments] == [False, False, True]
    assert all(c["type"] == "Comment" and c["author_id"] == 900000 for c in comments)
    shown = client.get(f"/api/v2/tickets/{tid}.json")[2]["ticket"]
    assert shown["status"] == "pending" and shown["updated_at"] >= shown["created_at"]
    assert client.get("/api/v2/tickets/999.json")[::2] == (
        404, {"error": "RecordNotFound", "description": "Not found"})


def test_ticket_validation_errors(client):
    status, _, body = client.post("/api/v2/tickets.json", {"ticket": {"subject": "x"}})
    assert status == 422 and "description" in body["details"]
    status, _, body = client.post("/api/v2/tickets.json", {"ticket": {
        "subject": "x", "comment": {"body": "b"}, "status": "bogus"}})
    assert status == 422 and "status" in body["details"]
    user = client.create_user(name="Not an agent")
    status, _, body = client.post("/api/v2/tickets.json", {"ticket": {
        "comment": {"body": "b"}, "assignee_id": user["id"]}})
    assert status == 422 and "assignee" in body["details"]


def test_external_id_lookup_and_requested_tickets(client):
    user = client.create_user(name="C")
    first = client.create_ticket(subject="a", requester_id=user["id"], external_id="call-1")
    second = client.create_ticket(subject="b", requester_id=user["id"], external_id="call-2")
    body = client.get("/api/v2/tickets.json?external_id=call-2")[2]
    assert [t["id"] for t in body["tickets"]] == [second["id"]]
    assert client.get("/api/v2/tickets.json?external_id=none")[2]["tickets"] == []
    requested = client.get(f"/api/v2/users/{user['id']}/tickets/requested.json")[2]
    assert [t["id"] for t in requested["tickets"]] == [second["id"], first["id"]]
    assert requested["count"] == 2


def test_ticket_search_by_requester_and_status(client):
    user = client.create_user(name="D")
    open_ticket = client.create_ticket(subject="open", requester_id=user["id"])
    solved = client.create_ticket(subject="done", requester_id=user["id"])
    client.put(f"/api/v2/tickets/{solved['id']}.json", {"ticket": {"status": "solved"}})
    body = search(client, f"type:ticket requester_id:{user['id']} status<solved")
    assert [r["id"] for r in body["results"]] == [open_ticket["id"]]
    assert body["results"][0]["result_type"] == "ticket"


def test_closed_ticket_refuses_writes(client, emulator):
    ticket = client.create_ticket(subject="t")
    assert client.put(f"/api/v2/tickets/{ticket['id']}.json",
                      {"ticket": {"status": "closed"}})[0] == 200
    status, _, body = client.put(f"/api/v2/tickets/{ticket['id']}.json",
                                 {"ticket": {"comment": {"body": "late", "public": False}}})
    assert (status, body) == (422, CLOSED_422)
    assert len(emulator.snapshot()["tickets"][0]["comments"]) == 1


def test_safe_update_conflict(client):
    ticket = client.create_ticket(subject="t")
    status, _, body = client.put(f"/api/v2/tickets/{ticket['id']}.json", {"ticket": {
        "status": "open", "safe_update": True, "updated_stamp": "2000-01-01T00:00:00Z"}})
    assert status == 409 and body["error"] == "UpdateConflict"
    status, _, _ = client.put(f"/api/v2/tickets/{ticket['id']}.json", {"ticket": {
        "status": "open", "safe_update": True, "updated_stamp": ticket["updated_at"]}})
    assert status == 200


# -------------------------------------------------------------------- bulk

def test_update_many_batch_form_reports_each_item(client, emulator):
    good = client.create_ticket(subject="good")
    closed = client.create_ticket(subject="closed")
    client.put(f"/api/v2/tickets/{closed['id']}.json", {"ticket": {"status": "closed"}})
    status, _, body = client.put("/api/v2/tickets/update_many.json", {"tickets": [
        {"id": good["id"], "comment": {"body": "batched", "public": False}, "status": "pending"},
        {"id": closed["id"], "comment": {"body": "x", "public": False}},
        {"id": 424242, "status": "open"}]})
    assert status == 200
    job = body["job_status"]
    assert job["status"] == "queued" and job["total"] == 3 and job["results"] is None
    assert isinstance(job["id"], str) and job["url"].endswith(f"/job_statuses/{job['id']}.json")
    done = client.wait_job(job["id"])
    assert done["status"] == "completed" and done["progress"] == 3
    assert done["results"][0] == {"id": good["id"], "index": 0, "action": "update",
                                  "success": True, "status": "Updated"}
    assert done["results"][1]["success"] is False
    assert done["results"][1]["details"] == "Status: closed prevents ticket update"
    assert done["results"][2]["error"] == "RecordNotFound"
    shown = client.get(f"/api/v2/tickets/{good['id']}.json")[2]["ticket"]
    assert shown["status"] == "pending"
    many = client.get(f"/api/v2/job_statuses/show_many.json?ids={job['id']},nope")[2]
    assert [j["id"] for j in many["job_statuses"]] == [job["id"]]


def test_update_many_bulk_form_and_limits(client, emulator):
    a, b = client.create_ticket(subject="a"), client.create_ticket(subject="b")
    status, _, body = client.put(f"/api/v2/tickets/update_many.json?ids={a['id']},{b['id']}",
                                 {"ticket": {"additional_tags": ["bulk"]}})
    assert status == 200
    assert all(r["success"] for r in client.wait_job(body["job_status"]["id"])["results"])
    assert client.get(f"/api/v2/tickets/{b['id']}.json")[2]["ticket"]["tags"] == ["bulk"]
    too_many = {"tickets": [{"id": i, "status": "open"} for i in range(1, 102)]}
    status, _, body = client.put("/api/v2/tickets/update_many.json", too_many)
    assert status == 400 and "error" in body
    status, _, _ = client.put("/api/v2/tickets/update_many.json", {"tickets": [{"status": "x"}]})
    assert status == 400


def test_create_many_tickets_is_a_job_with_a_result_per_index(client, emulator):
    user = client.create_user(name="Caller", phone="+15550002222")
    status, _, body = client.post("/api/v2/tickets/create_many.json", {"tickets": [
        {"subject": "Missed call", "comment": {"body": "first", "public": False},
         "requester_id": user["id"], "external_id": "callbus-m1", "status": "open",
         "tags": ["callbus"]},
        {"subject": "bad requester", "comment": {"body": "x"}, "requester_id": 987654321}]})
    assert status == 200
    job = body["job_status"]
    assert job["status"] == "queued" and job["total"] == 2 and job["results"] is None
    done = client.wait_job(job["id"])
    assert done["status"] == "completed" and done["progress"] == 2
    first, second = done["results"]
    assert first["index"] == 0 and first["success"] is True and first["status"] == "Created"
    assert second["index"] == 1 and second["success"] is False and second["error"]
    shown = client.get(f"/api/v2/tickets/{first['id']}.json")[2]["ticket"]
    assert (shown["external_id"], shown["status"], shown["requester_id"]) == \
        ("callbus-m1", "open", user["id"])
    listed = client.get("/api/v2/tickets.json?external_id=callbus-m1")[2]["tickets"]
    assert [t["id"] for t in listed] == [first["id"]]
    comments = client.get(f"/api/v2/tickets/{first['id']}/comments.json")[2]["comments"]
    assert [(c["body"], c["public"]) for c in comments] == [("first", False)]


def test_create_many_limits(client, emulator):
    for path, key in (("/api/v2/tickets/create_many.json", "tickets"),
                      ("/api/v2/users/create_many.json", "users")):
        assert client.post(path, {key: []})[0] == 400
        assert client.post(path, {"other": [{}]})[0] == 400
        status, _, body = client.post(path, {key: [{"name": f"n{i}", "subject": "s",
                                                    "comment": {"body": "b"}}
                                                   for i in range(101)]})
        assert status == 400 and body["error"] == "TooManyValues"


def test_create_many_users_refuses_a_taken_external_id_alone(client, emulator):
    status, _, body = client.post("/api/v2/users/create_many.json", {"users": [
        {"name": "+15550003333", "phone": "+15550003333", "role": "end-user",
         "external_id": "callbus-c1-contact"}]})
    assert status == 200
    first = client.wait_job(body["job_status"]["id"])["results"]
    assert first[0]["success"] is True and first[0]["index"] == 0
    # the same creation again (a retried bulk request): harmless
    status, _, body = client.post("/api/v2/users/create_many.json", {"users": [
        {"name": "+15550003333", "phone": "+15550003333", "external_id": "callbus-c1-contact"},
        {"name": "+15550004444", "phone": "+15550004444", "external_id": "callbus-c2-contact"}]})
    again = client.wait_job(body["job_status"]["id"])["results"]
    assert again[0]["success"] is False and "already being used" in again[0]["details"]
    assert again[1]["success"] is True and again[1]["index"] == 1
    found = client.get("/api/v2/users/search.json?external_id=callbus-c1-contact")[2]["users"]
    assert [u["id"] for u in found] == [first[0]["id"]]


def test_too_many_jobs(client, emulator):
    emulator.configure(max_jobs=2, job_delay_ms=300)
    ticket = client.create_ticket(subject="t")
    body = {"tickets": [{"id": ticket["id"], "status": "open"}]}
    assert client.put("/api/v2/tickets/update_many.json", body)[0] == 200
    assert client.put("/api/v2/tickets/update_many.json", body)[0] == 200
    status, headers, reply = client.put("/api/v2/tickets/update_many.json", body)
    assert status == 429 and reply["error"] == "TooManyJobs" and "Retry-After" in headers


# ------------------------------------------------------------ rate limits

def test_time_scale_shortens_the_rate_windows(client, emulator):
    # 10 minutes at x600: a second
    emulator.configure(time_scale=600, rate_limit_per_min=0, update_ticket_limit_per_min=0)
    busy = client.create_ticket(subject="busy")
    path = f"/api/v2/tickets/{busy['id']}.json"
    for n in range(30):
        assert client.put(path, {"ticket": {"comment": {"body": f"c{n}", "public": False}}})[0] \
            == 200
    status, _, _ = client.put(path, {"ticket": {"status": "pending"}})
    assert status == 429 and emulator.store.ticket_limit_refusals == 1
    time.sleep(1.05)
    assert client.put(path, {"ticket": {"status": "pending"}})[0] == 200
    # the account's minute at x60: a second
    emulator.configure(time_scale=60, rate_limit_per_min=5)
    assert [client.get("/api/v2/users/me.json")[0] for _ in range(6)] == [200] * 5 + [429]
    time.sleep(1.05)
    assert client.get("/api/v2/users/me.json")[0] == 200


def test_thirty_updates_per_ticket_window(client, emulator):
    emulator.configure(ticket_window_s=1.0)
    busy, other = client.create_ticket(subject="busy"), client.create_ticket(subject="other")
    path = f"/api/v2/tickets/{busy['id']}.json"
    for n in range(30):
        update = {"ticket": {"comment": {"body": f"c{n}", "public": False}}}
        assert client.put(path, update)[0] == 200
    status, headers, body = client.put(path, {"ticket": {"status": "pending"}})
    assert status == 429 and int(headers["Retry-After"]) >= 1
    assert "ticket updates" in body["description"]
    assert client.put(f"/api/v2/tickets/{other['id']}.json",
                      {"ticket": {"status": "pending"}})[0] == 200
    job = client.put("/api/v2/tickets/update_many.json",
                     {"tickets": [{"id": busy["id"], "status": "pending"}]})[2]["job_status"]
    result = client.wait_job(job["id"])["results"][0]
    assert result["success"] is False and result["error"] == "APIRateLimitExceeded"
    time.sleep(1.05)
    assert client.put(path, {"ticket": {"status": "pending"}})[0] == 200


def test_account_rate_limit_with_retry_after(client, emulator):
    emulator.configure(rate_limit_per_min=5, rate_window_s=1.0)
    for n in range(5):
        status, headers, _ = client.get("/api/v2/ticket_fields.json")
        assert status == 200 and headers["X-Rate-Limit"] == "5"
        assert headers["X-Rate-Limit-Remaining"] == str(4 - n)
        assert headers["ratelimit-remaining"] == str(4 - n) and "ratelimit-reset" in headers
    status, headers, body = client.get("/api/v2/ticket_fields.json")
    assert status == 429 and body["error"] == "APIRateLimitExceeded"
    assert headers["Retry-After"] == "1"
    time.sleep(1.05)
    assert client.get("/api/v2/ticket_fields.json")[0] == 200


def test_update_ticket_endpoint_limit(client, emulator):
    emulator.configure(update_ticket_limit_per_min=2, rate_window_s=1.0)
    ticket = client.create_ticket(subject="t")
    path = f"/api/v2/tickets/{ticket['id']}.json"
    update = {"ticket": {"status": "open"}}
    assert [client.put(path, update)[0] for _ in range(3)] == [200, 200, 429]
    assert client.get(path)[0] == 200


def test_rate_limit_zero_means_off(client, emulator):
    emulator.configure(rate_limit_per_min=0)
    _, headers, _ = client.get("/api/v2/ticket_fields.json")
    assert "X-Rate-Limit" not in headers


# ------------------------------------------------------- error injection

def test_injected_failures_then_recovery(client, emulator):
    ticket = client.create_ticket(subject="t")
    emulator.configure(fail_next=[{"method": "PUT", "path_regex": r"/tickets/\d+",
                                   "status": 503, "count": 2}])
    path = f"/api/v2/tickets/{ticket['id']}.json"
    update = {"ticket": {"comment": {"body": "retry me", "public": False}}}
    assert [client.put(path, update)[0] for _ in range(3)] == [503, 503, 200]
    comments = client.get(f"/api/v2/tickets/{ticket['id']}/comments.json")[2]["comments"]
    assert [c["body"] for c in comments].count("retry me") == 1
    puts = [e for e in emulator.requests() if e["method"] == "PUT"]
    assert [e["injected"] for e in puts] == [True, True, False]


def test_injected_failure_after_apply_and_raw_body(client, emulator):
    ticket = client.create_ticket(subject="t")
    emulator.configure(fail_next=[
        {"path_regex": "comments", "status": 502, "body": "<html>Bad gateway</html>"},
        {"method": "PUT", "path_regex": "/tickets/", "status": 500, "apply": True}])
    status, headers, body = client.get(f"/api/v2/tickets/{ticket['id']}/comments.json")
    assert status == 502 and body == "<html>Bad gateway</html>"
    assert headers["Content-Type"].startswith("text/html")
    status, _, _ = client.put(f"/api/v2/tickets/{ticket['id']}.json",
                              {"ticket": {"status": "pending"}})
    assert status == 500  # ... but the update happened (lost response)
    assert client.get(f"/api/v2/tickets/{ticket['id']}.json")[2]["ticket"]["status"] == "pending"


def test_injected_429_carries_retry_after(client, emulator):
    emulator.configure(fail_next=[{"path_regex": "search", "status": 429, "retry_after": 7}])
    status, headers, body = client.get("/api/v2/search.json?query=type:user")
    assert (status, headers["Retry-After"], body["error"]) == (429, "7", "APIRateLimitExceeded")


# ------------------------------------------------------------------ merge

def test_merge_closes_source_and_audits_say_where(client, emulator):
    target = client.create_ticket(subject="Call from 555")
    source = client.create_ticket(subject="Missed call from 555")
    status, _, body = client.post(f"/api/v2/tickets/{target['id']}/merge.json", {
        "ids": [source["id"]], "source_comment": "Merged into the call ticket"})
    assert status == 200 and body["job_status"]["status"] == "queued"
    assert client.wait_job(body["job_status"]["id"])["status"] == "completed"

    merged = client.get(f"/api/v2/tickets/{source['id']}.json")[2]["ticket"]
    assert merged["status"] == "closed" and "closed_by_merge" in merged["tags"]
    audits = client.get(f"/api/v2/tickets/{source['id']}/audits.json")[2]["audits"]
    via = audits[-1]["via"]
    assert via["channel"] == "merge" and via["source"]["rel"] == "merge"
    assert via["source"]["to"]["ticket_id"] == target["id"]
    source_comments = client.get(f"/api/v2/tickets/{source['id']}/comments.json")[2]["comments"]
    assert source_comments[-1]["body"] == "Merged into the call ticket"
    assert source_comments[-1]["public"] is False
    target_comments = client.get(f"/api/v2/tickets/{target['id']}/comments.json")[2]["comments"]
    assert f"#{source['id']}" in target_comments[-1]["body"]
    status, _, body = client.put(f"/api/v2/tickets/{source['id']}.json",
                                 {"ticket": {"comment": {"body": "end of call", "public": False}}})
    assert (status, body) == (422, CLOSED_422)


def test_merge_failures(client):
    target = client.create_ticket(subject="t")
    assert client.post("/api/v2/tickets/999/merge.json", {"ids": [target["id"]]})[0] == 404
    assert client.post(f"/api/v2/tickets/{target['id']}/merge.json", {})[0] == 400
    job = client.post(f"/api/v2/tickets/{target['id']}/merge.json",
                      {"ids": [target["id"]]})[2]["job_status"]
    done = client.wait_job(job["id"])
    assert done["status"] == "failed" and done["results"][0]["success"] is False


# -------------------------------------------------------------------- talk

def test_display_ticket_to_agent(client, emulator):
    ticket = client.create_ticket(subject="t")
    user = client.create_user(name="End User")
    path = "/api/v2/channels/voice/agents/{}/tickets/{}/display.json"
    assert client.post(path.format(900001, ticket["id"]))[::2] == (200, {})
    assert client.post(path.format(user["id"], ticket["id"]))[0] == 404
    assert client.post(path.format(900001, 999))[0] == 404
    assert client.post(path.format(123, ticket["id"]))[0] == 404
    emulator.configure(agents=[{"id": 950000, "name": "New Agent"}])
    assert client.post(path.format(950000, ticket["id"]))[0] == 200
    displays = emulator.snapshot()["displays"]
    assert [(d["agent_id"], d["ticket_id"]) for d in displays] == [
        (900001, ticket["id"]), (950000, ticket["id"])]
    user_path = f"/api/v2/channels/voice/agents/900001/users/{user['id']}/display.json"
    assert client.post(user_path)[0] == 200


def test_voice_ticket(client, emulator):
    user = client.create_user(name="Voicemail caller", phone="+15557654321")
    status, _, body = client.post("/api/v2/channels/voice/tickets.json", {
        "display_to_agent": 900002, "ticket": {
            "via_id": 44, "subject": "Voicemail", "requester_id": user["id"],
            "voice_comment": {"from": "+15557654321", "to": "+15550000000",
                              "recording_url": "https://rec.example/1.mp3",
                              "started_at": "2024-01-01T10:00:00Z", "call_duration": 30}}})
    assert status == 201
    ticket = body["ticket"]
    assert ticket["via"] == {"channel": "voice", "source": {
        "from": {"phone": "+15557654321", "formatted_phone": "+15557654321"},
        "to": {"phone": "+15550000000", "formatted_phone": "+15550000000"},
        "rel": "voicemail"}}
    comment = client.get(f"/api/v2/tickets/{ticket['id']}/comments.json")[2]["comments"][0]
    assert comment["type"] == "VoiceComment" and comment["data"]["call_duration"] == 30
    assert emulator.snapshot()["displays"][0]["ticket_id"] == ticket["id"]
    status, _, _ = client.post("/api/v2/channels/voice/tickets.json",
                               {"ticket": {"via_id": 1, "comment": {"body": "x"}}})
    assert status == 422


def test_ticket_fields_are_configurable(client, emulator):
    fields = client.get("/api/v2/ticket_fields.json")[2]["ticket_fields"]
    custom = {f["id"]: f["title"] for f in fields if f["removable"]}
    assert custom[1001] == "Session type" and custom[1009] == "CSAT" and len(custom) == 9
    emulator.configure(ticket_fields=[{"id": 5, "title": "Only one", "type": "text"}])
    fields = client.get("/api/v2/ticket_fields.json")[2]["ticket_fields"]
    assert [f["id"] for f in fields if f["removable"]] == [5]
    ticket = client.create_ticket(subject="t", custom_fields=[{"id": 5, "value": "v"}])
    assert ticket["custom_fields"] == [{"id": 5, "value": "v"}]


# --------------------------------------------------------- protocol edges

def test_unknown_route_bad_json_and_wrong_content_type(client):
    status, _, body = client.get("/api/v2/nope.json")
    assert status == 404 and body["error"] == "InvalidEndpoint"
    assert client.call("DELETE", "/api/v2/tickets/1.json")[0] == 404
    status, _, body = client.post("/api/v2/tickets.json", raw=b"{not json")
    assert status == 400 and body["error"] == "InvalidJSON"
    status, _, body = client.post("/api/v2/tickets.json", raw=b"ticket=1",
                                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 400


def test_keep_alive_expect_continue_and_chunked(emulator):
    conn = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=5)
    big = json.dumps({"ticket": {"subject": "s", "comment": {"body": "x" * 5000}}})
    headers = {"Authorization": AUTH, "Content-Type": "application/json",
               "Expect": "100-continue"}
    conn.request("POST", "/api/v2/tickets.json", body=big, headers=headers)
    assert conn.getresponse().read() and True
    conn.request("GET", "/api/v2/tickets/1.json", headers={"Authorization": AUTH})
    response = conn.getresponse()
    assert response.status == 200 and json.loads(response.read())["ticket"]["id"] == 1
    chunks = iter([b'{"ticket": {"status":', b' "pending"}}'])
    conn.request("PUT", "/api/v2/tickets/1.json", body=chunks, encode_chunked=True,
                 headers={"Authorization": AUTH, "Content-Type": "application/json"})
    response = conn.getresponse()
    assert response.status == 200 and json.loads(response.read())["ticket"]["status"] == "pending"
    conn.close()


# ------------------------------------------------------------ control API

def test_control_api_over_http(client, emulator):
    status, _, body = client.post("/__emulator/users", {"users": [
        {"id": 5001, "name": "Seeded", "phone": "+15550005001"},
        {"name": "Lagging", "phone": "+15550005002", "indexed": False}]}, auth=False)
    assert status == 201 and body["users"][0]["id"] == 5001
    client.post("/__emulator/config", {"search_lag_s": 30}, auth=False)
    client.create_user(name="Late", phone="+15550005003")
    assert search(client, "phone:*555000500")["count"] == 0  # exact digits needed
    hits = [u for n in ("5001", "5003")
            for u in search(client, f"phone:*555000{n}")["results"]]
    assert [u["id"] for u in hits] == [5001]  # seeded users are indexed at once
    status, _, body = client.post("/__emulator/tickets", {"ticket": {
        "id": 77, "subject": "old", "requester_id": 5001, "status": "closed",
        "comments": [{"body": "second", "public": False}]}}, auth=False)
    assert status == 201 and body["tickets"][0]["status"] == "closed"
    assert client.put("/api/v2/tickets/77.json", {"ticket": {"status": "open"}})[0] == 422
    state = client.get("/__emulator/state", auth=False)[2]
    assert [c["body"] for c in state["tickets"][0]["comments"]] == ["Seeded ticket", "second"]
    log = client.get("/__emulator/requests", auth=False)[2]
    assert all(e["path"].startswith("/api/") for e in log["requests"])
    last = log["last_seq"]
    client.get("/api/v2/tickets/77.json")
    newer = client.get(f"/__emulator/requests?since={last}", auth=False)[2]["requests"]
    assert [(e["method"], e["path"], e["status"]) for e in newer] == [
        ("GET", "/api/v2/tickets/77.json", 200)]
    assert client.post("/__emulator/config", {"no_such_key": 1}, auth=False)[0] == 400
    assert client.post("/__emulator/reset", auth=False)[0] == 200
    assert client.get("/api/v2/tickets/77.json")[0] == 404
    assert client.get("/__emulator/config", auth=False)[2]["search_lag_s"] == 0.0


def test_request_log_records_bodies_and_responses(client, emulator):
    ticket = client.create_ticket(subject="logged", external_id="x-1")
    entry = emulator.requests()[-1]
    assert entry["method"] == "POST" and entry["status"] == 201
    assert entry["body"]["ticket"]["external_id"] == "x-1"
    assert entry["response"]["ticket"]["id"] == ticket["id"]
    assert entry["headers"]["content_type"] == "application/json"
    client.get("/api/v2/search.json?query=type:ticket%20external_id:x-1")
    entry = emulator.requests()[-1]
    assert entry["query_params"] == {"query": "type:ticket external_id:x-1"}


# -------------------------------------------------------------------- CLI

def test_cli_prints_url_writes_port_file_and_exits_on_sigterm(tmp_path):
    port_file = tmp_path / "port"
    proc = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "zendesk_emulator.py"), "--host", "127.0.0.1",
         "--port", "0", "--email", "agent@example.com", "--token", "secret",
         "--rate-limit", "700", "--port-file", str(port_file)],
        stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()
        port = int(port_file.read_text().strip())
        assert line == f"zendesk-emulator listening on http://127.0.0.1:{port}"
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/__emulator/health")
        assert json.loads(conn.getresponse().read())["ok"] is True
        conn.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()


@pytest.mark.parametrize("path", ["/api/v2/tickets/1", "/api/v2/tickets/1.json"])
def test_json_suffix_is_optional(client, path):
    client.create_ticket(subject="t")
    assert client.get(path)[0] == 200


def test_concurrent_clients(emulator):
    errors, ids, lock = [], [], threading.Lock()

    def worker():
        client = Client(emulator.url)
        for _ in range(10):
            ticket = client.create_ticket(subject="c")
            status, _, _ = client.put(f"/api/v2/tickets/{ticket['id']}.json",
                                      {"ticket": {"status": "pending"}})
            with lock:
                ids.append(ticket["id"])
                if status != 200:
                    errors.append(status)
    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and sorted(ids) == list(range(1, 81))
    assert len(emulator.requests()) == 160


# ------------------------------------------------------------- agent view

def test_agent_view_shows_tickets_with_their_comments(client, emulator):
    """The page ticket_url points at: what a local user opens to see tickets."""
    status, _, body = client.post("/api/v2/tickets.json", {"ticket": {
        "subject": "Call from +390612345678", "comment": {"body": "first <note>", "public": False}}})
    assert status == 201
    ticket_id = body["ticket"]["id"]
    conn = http.client.HTTPConnection("127.0.0.1", int(emulator.url.rsplit(":", 1)[1]))
    conn.request("GET", f"/agent/tickets/{ticket_id}")
    page = conn.getresponse()
    text = page.read().decode()
    assert page.status == 200 and page.getheader("Content-Type").startswith("text/html")
    assert "Call from +390612345678" in text and "first &lt;note&gt;" in text  # escaped
    conn.request("GET", "/agent/tickets/999999")
    missing = conn.getresponse()
    missing.read()
    assert missing.status == 404
    assert emulator.requests()[-1]["path"] == "/api/v2/tickets.json"  # pages are not API calls


# ------------------------------------------------------- webhooks (issue 25)

def test_ticket_events_are_posted_signed_to_the_webhook(emulator):
    """Status changes, assignee changes and merges as Zendesk's ticket
    events, signed base64(HMAC-SHA256(secret, timestamp + body))."""
    import base64
    import hashlib
    import hmac
    from emulator_common import WebhookReceiver
    hook = WebhookReceiver()
    try:
        emulator.configure(webhook={"url": hook.url + "/hook", "secret": "sign-me"})
        ticket = emulator.seed_ticket(subject="t")
        other = emulator.seed_ticket(subject="o")
        emulator.store.update_ticket(ticket["id"], {"status": "solved", "assignee_id": 900002})
        emulator.store.merge(other["id"], [emulator.seed_ticket(subject="d")["id"]], {})
        posts = hook.wait(7)
        events = [json.loads(body) for _, _, body in posts]
        kinds = [e["type"].rsplit(".", 1)[1] for e in events]
        assert kinds.count("created") == 3 and "merged" in kinds
        solved = next(e for e in events if e["type"].endswith("status_changed")
                      and e["detail"]["id"] == str(ticket["id"]))
        assert solved["event"] == {"current": "SOLVED", "previous": "NEW"}
        assigned = next(e for e in events if e["type"].endswith("agent_assignment_changed"))
        assert assigned["event"]["current"] == "900002"
        merged = next(e for e in events if e["type"].endswith("merged"))
        assert merged["event"]["target_ticket_id"] == str(other["id"])
        for path, headers, body in posts:
            stamp = headers["X-Zendesk-Webhook-Signature-Timestamp"]
            mac = hmac.new(b"sign-me", stamp.encode() + body, hashlib.sha256).digest()
            assert path == "/hook"
            assert headers["X-Zendesk-Webhook-Signature"] == base64.b64encode(mac).decode()
    finally:
        hook.close()


# ----------------------------------------------- incremental user export (issue 26 item 3)

def export(client, query):
    status, headers, body = client.get("/api/v2/incremental/users/cursor.json?" + query)
    return status, headers, body


def test_incremental_user_export_pages_then_follows_changes(client, emulator):
    for k in range(5):
        emulator.seed_user(name=f"Known {k}", phone=f"+1555000{k:04d}")
    status, _, first = export(client, "start_time=0&per_page=4&include=identities")
    assert status == 200 and len(first["users"]) == 4 and first["end_of_stream"] is False
    seen, second, pages = {u["id"] for u in first["users"]}, first, 1
    while not second["end_of_stream"]:
        status, _, second = export(client, "cursor=" + second["after_cursor"] + "&per_page=4")
        assert status == 200 and len(second["users"]) <= 4
        seen |= {u["id"] for u in second["users"]}
        pages += 1
    assert pages == 3 and len(seen) == len(emulator.store.users) == 9  # 4 preset + 5
    assert {"user_id": first["users"][-1]["id"], "type": "phone_number",
            "value": first["users"][-1]["phone"]} in first["identities"] or \
        first["users"][-1]["phone"] is None
    # nothing changed: an empty page that keeps its place
    status, _, idle = export(client, "cursor=" + second["after_cursor"])
    assert idle["users"] == [] and idle["end_of_stream"] is True
    # a user created and an identity added later come after the cursor, once
    status, _, made = client.post("/api/v2/users.json", {"user": {"name": "New",
                                                                  "phone": "+15559990000"}})
    assert status == 201
    uid = made["user"]["id"]
    assert client.post(f"/api/v2/users/{uid}/identities.json", {"identity": {
        "type": "phone_number", "value": "+15559990001"}})[0] == 201
    status, _, later = export(client, "cursor=" + idle["after_cursor"] + "&include=identities")
    assert [u["id"] for u in later["users"]] == [uid] and later["end_of_stream"] is True
    assert sorted(i["value"] for i in later["identities"]) == ["+15559990000", "+15559990001"]
    assert export(client, "")[0] == 400
    assert export(client, "cursor=%%%")[0] == 400


def test_incremental_export_has_its_own_limit_of_10_per_minute(client, emulator):
    codes = [export(client, "start_time=0")[0] for _ in range(11)]
    assert codes == [200] * 10 + [429]
    status, headers, body = export(client, "start_time=0")
    assert status == 429 and int(headers["Retry-After"]) >= 1
    assert body["error"] == "APIRateLimitExceeded"
    assert client.get("/api/v2/users/me.json")[0] == 200  # the account's budget is not spent
