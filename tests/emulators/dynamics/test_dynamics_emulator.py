"""Behaviour tests for the Dynamics 365 / Dataverse emulator (one instance per test)."""
import json
import threading
import urllib.parse
import xml.etree.ElementTree as ET

from dyn_client import API, Client, raw
from dynamics_emulator import ENTITIES, multipart_boundary, parse_multipart

CONTACT_SEL = "contactid,fullname,telephone1,mobilephone"


def q(text):
    return urllib.parse.quote(text, safe="/?$=&(),'")


def seed_contact(emulator, **fields):
    fields.setdefault("firstname", "Maria")
    fields.setdefault("lastname", "Rossi")
    return emulator.seed("contact", **fields)


def seed_case(emulator, contact_id, **fields):
    fields.setdefault("title", "Call from 0612345678")
    fields.setdefault("caseorigincode", 1)
    fields["customerid_contact@odata.bind"] = f"/contacts({contact_id})"
    return emulator.seed("incident", **fields)


# ------------------------------------------------------------------ tokens

def test_token_endpoint_issues_bearer_tokens_and_refuses_bad_clients(emulator):
    c = Client(emulator.url)
    body = c.login()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3599
    assert body["ext_expires_in"] == 3599 and body["access_token"]
    status, err = c.token_request(client_secret="wrong")
    assert status == 401 and err["error"] == "invalid_client"
    assert err["error_description"].startswith("AADSTS7000215") and err["error_codes"] == [7000215]
    assert c.token_request(scope="https://x.crm.dynamics.com")[1]["error"] == "invalid_scope"
    assert c.token_request(grant_type="password")[1]["error"] == "unsupported_grant_type"
    assert c.token_request(tenant="other")[1]["error"] == "invalid_request"
    log = [e for e in emulator.requests() if e["kind"] == "token"]
    assert len(log) == 5 and all(e["body"]["client_secret"] == "***" for e in log)


def test_missing_unknown_and_expired_tokens_answer_401_with_a_challenge(emulator, client):
    anon = Client(emulator.url)
    status, headers, body = anon.call("GET", "/contacts", auth=False)
    assert status == 401 and body is None
    assert headers["WWW-Authenticate"].startswith(
        "Bearer authorization_uri=https://login.microsoftonline.com/callbus-tenant/oauth2/authorize")
    anon.token = "forged"
    assert 'error="invalid_token"' in anon.call("GET", "/contacts")[1]["WWW-Authenticate"]
    assert client.call("GET", "/contacts")[0] == 200
    emulator.configure(expire_tokens=True)
    status, headers, _ = client.call("GET", "/contacts")
    assert status == 401 and "The access token expired" in headers["WWW-Authenticate"]
    client.login()
    assert client.call("GET", "/contacts")[0] == 200


def test_short_lived_tokens_expire_by_their_ttl(emulator):
    emulator.configure(token_ttl_s=0)
    c = Client(emulator.url)
    assert c.login()["expires_in"] == 0
    assert c.call("GET", "/contacts")[0] == 401


# ------------------------------------------------------------------ queries

def test_contact_lookup_by_phone_attributes_with_or_and_select(emulator, client):
    a = seed_contact(emulator, telephone1="0612345678")
    b = seed_contact(emulator, firstname="Luca", mobilephone="0612345678")
    seed_contact(emulator, firstname="Other", telephone1="0699999999")
    path = q(f"/contacts?$select={CONTACT_SEL}&$filter=telephone1 eq '0612345678' or "
             "mobilephone eq '0612345678'&$orderby=createdon asc&$top=16")
    status, headers, body = client.call("GET", path)
    assert status == 200 and headers["OData-Version"] == "4.0"
    assert body["@odata.context"].endswith("$metadata#contacts")
    assert sorted(r["contactid"] for r in body["value"]) == sorted([a["contactid"], b["contactid"]])
    row = body["value"][0]
    assert set(row) == {"@odata.etag", "contactid", "fullname", "telephone1", "mobilephone"}
    assert row["@odata.etag"].startswith('W/"')
    assert {r["fullname"] for r in body["value"]} == {"Maria Rossi", "Luca Rossi"}


def test_string_literals_double_single_quotes(emulator, client):
    o = seed_contact(emulator, lastname="O'Brien", telephone1="1")
    status, _, body = client.call("GET", q("/contacts?$filter=lastname eq 'O''Brien'"))
    assert status == 200 and [r["contactid"] for r in body["value"]] == [o["contactid"]]
    status, _, body = client.call("GET", q("/contacts?$filter=lastname eq 'O'Brien'"))
    assert status == 400 and body["error"]["code"] == "0x80060888"


def test_latest_unresolved_case_of_a_contact(emulator, client):
    c = seed_contact(emulator, telephone1="0612345678")
    other = seed_contact(emulator, telephone1="0611111111")
    first = seed_case(emulator, c["contactid"], title="first")
    second = seed_case(emulator, c["contactid"], title="second")
    resolved = seed_case(emulator, c["contactid"], title="resolved")
    seed_case(emulator, other["contactid"], title="not theirs")
    emulator.store.tables["incident"][first["incidentid"]]["createdon"] = "2026-01-01T00:00:00Z"
    emulator.store.tables["incident"][second["incidentid"]]["createdon"] = "2026-02-01T00:00:00Z"
    client.call("POST", "/CloseIncident", {"IncidentResolution": {
        "subject": "done", "incidentid@odata.bind": f"/incidents({resolved['incidentid']})"},
        "Status": 5})
    path = q(f"/incidents?$select=incidentid,title,ticketnumber,statecode,statuscode,createdon"
             f"&$filter=_customerid_value eq {c['contactid']} and statecode eq 0"
             "&$orderby=createdon desc&$top=1")
    status, _, body = client.call("GET", path, headers={
        "Prefer": 'odata.include-annotations="OData.Community.Display.V1.FormattedValue"'})
    assert status == 200 and [r["title"] for r in body["value"]] == ["second"]
    row = body["value"][0]
    assert row["ticketnumber"].startswith("CAS-") and row["statecode"] == 0
    assert row["statuscode@OData.Community.Display.V1.FormattedValue"] == "In Progress"


def test_unknown_properties_and_bad_guids_are_dataverse_errors(client):
    status, _, body = client.call("GET", "/contacts?$select=phone")
    assert status == 400 and set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert "Could not find a property named 'phone'" in body["error"]["message"]
    assert client.call("GET", q("/incidents?$filter=_customerid_value eq 'abc'"))[0] == 400
    status, _, body = client.call("GET", "/contacts(00000000-0000-0000-0000-000000000001)")
    assert status == 404 and body["error"]["code"] == "0x80040217"


def test_expand_single_valued_navigation(emulator, client):
    c = seed_contact(emulator)
    case = seed_case(emulator, c["contactid"])
    status, _, body = client.call("GET", f"/incidents({case['incidentid']})?$select=title"
                                  "&$expand=customerid_contact($select=fullname),ownerid($select=fullname)")
    assert status == 200 and body["customerid_contact"]["fullname"] == "Maria Rossi"
    assert body["ownerid"]["fullname"] == "# callbus"


# ------------------------------------------------------------------ writes

def test_create_returns_entity_id_or_representation(emulator, client):
    c = seed_contact(emulator)
    case_id = client.create("incidents", {"title": "Call", "caseorigincode": 1,
                                          "customerid_contact@odata.bind": f"/contacts({c['contactid']})"})
    row = emulator.store.tables["incident"][case_id]
    assert row["_customerid_value"] == c["contactid"] and row["statecode"] == 0
    status, headers, body = client.call("POST", "/incidents?$select=incidentid,ticketnumber", {
        "title": "Call 2", "customerid_contact@odata.bind": f"/contacts({c['contactid']})"},
        headers={"Prefer": "return=representation"})
    assert status == 201 and headers["Preference-Applied"] == "return=representation"
    assert body["ticketnumber"].startswith("CAS-") and "OData-EntityId" not in headers
    status, _, body = client.call("POST", "/incidents", {"title": "no customer"})
    assert status == 400 and "Customer" in body["error"]["message"]
    status, _, body = client.call("POST", "/incidents", {
        "title": "x", "customerid_contact@odata.bind": "/contacts(00000000-0000-0000-0000-000000000009)"})
    assert status == 404


def test_incident_attributes_are_its_columns_with_their_types(client):
    """EntityDefinitions(LogicalName='incident')/Attributes, as the ticket
    adapter reads it at start-up (R-T9, issue 23 item 1)."""
    path = q("/EntityDefinitions(LogicalName='incident')/Attributes"
             "?$select=LogicalName,AttributeType")
    status, _, body = client.call("GET", path)
    assert status == 200 and body["@odata.context"].endswith("/Attributes")
    types = {a["LogicalName"]: a["AttributeType"] for a in body["value"]}
    assert all(set(a) == {"@odata.type", "LogicalName", "AttributeType", "MetadataId"}
               for a in body["value"])
    assert types["title"] == "String" and types["description"] == "Memo"
    assert types["statecode"] == "State" and types["customerid"] == "Customer"
    assert types["new_callduration"] == "Integer" and types["new_csat"] == "Picklist"
    assert "_customerid_value" not in types
    assert client.call("GET", q("/EntityDefinitions(LogicalName='nosuch')/Attributes"))[0] == 404
    status, _, body = client.call("GET", q("/EntityDefinitions(LogicalName='incident')"
                                           "/Attributes?$select=Nope"))
    assert status == 400 and body["error"]["code"] == "0x80060888"


def test_custom_columns_are_written_and_unknown_ones_refused(emulator, client):
    c = seed_contact(emulator)
    case = seed_case(emulator, c["contactid"])
    url = f"/incidents({case['incidentid']})"
    status, _, _ = client.call("PATCH", url, {"new_callduration": 95, "new_queuename": "Support",
                                              "new_csat": 4})
    row = emulator.store.tables["incident"][case["incidentid"]]
    assert status == 204 and (row["new_callduration"], row["new_csat"]) == (95, 4)
    status, _, body = client.call("PATCH", url, {"new_nosuch": "x"})
    assert status == 400 and body["error"]["code"] == "0x80060888"
    assert body["error"]["message"] == ("Invalid property 'new_nosuch' was found in entity "
                                        "'Microsoft.Dynamics.CRM.incident'.")
    status, _, body = client.call("PATCH", url, {"new_callduration": "95"})
    assert status == 400 and "new_callduration" in body["error"]["message"]
    assert "new_nosuch" not in emulator.store.tables["incident"][case["incidentid"]]


def test_notes_bind_to_the_case(emulator, client):
    c = seed_contact(emulator)
    case = seed_case(emulator, c["contactid"])
    note = client.create("annotations", {"subject": "Call ended", "notetext": "Duration 42 s",
                                         "objectid_incident@odata.bind": f"/incidents({case['incidentid']})"})
    row = emulator.store.tables["annotation"][note]
    assert row["_objectid_value"] == case["incidentid"] and row["objecttypecode"] == "incident"
    path = q(f"/annotations?$filter=_objectid_value eq {case['incidentid']}&$select=notetext")
    assert [r["notetext"] for r in client.call("GET", path)[2]["value"]] == ["Duration 42 s"]


def test_merge_cancels_the_subordinate_and_names_its_master(emulator, client):
    """R-T7 (issue 23 item 2): the Merge action leaves the subordinate
    Cancelled / Merged (statecode 2, statuscode 2000) with masterid the
    target; a closed case or a case merged into itself is refused."""
    c = seed_contact(emulator)
    master, sub = seed_case(emulator, c["contactid"]), seed_case(emulator, c["contactid"])
    body = {"Target": {"@odata.type": "Microsoft.Dynamics.CRM.incident",
                       "incidentid": master["incidentid"]},
            "Subordinate": {"@odata.type": "Microsoft.Dynamics.CRM.incident",
                            "incidentid": sub["incidentid"]},
            "UpdateContent": {"@odata.type": "Microsoft.Dynamics.CRM.incident"},
            "PerformParentingChecks": False}
    assert client.call("POST", "/Merge", body)[0] == 204
    status, _, row = client.call("GET", f"/incidents({sub['incidentid']})"
                                 "?$select=statecode,statuscode,_masterid_value")
    assert status == 200 and (row["statecode"], row["statuscode"]) == (2, 2000)
    assert row["_masterid_value"] == master["incidentid"]
    _, _, row = client.call("GET", f"/incidents({master['incidentid']})"
                            "?$select=statecode,_masterid_value")
    assert row["statecode"] == 0 and row["_masterid_value"] is None
    assert client.call("POST", "/Merge", body)[0] == 400  # the subordinate is no longer active
    body["Subordinate"]["incidentid"] = master["incidentid"]
    assert client.call("POST", "/Merge", body)[0] == 400


def test_owner_status_updates_etags_and_closed_cases(emulator, client):
    c = seed_contact(emulator)
    case = seed_case(emulator, c["contactid"])
    agent = emulator.store.agents[1]
    status, _, body = client.call("GET", f"/incidents({case['incidentid']})?$select=statuscode")
    tag = body["@odata.etag"]
    status, _, _ = client.call("PATCH", f"/incidents({case['incidentid']})", {
        "ownerid@odata.bind": f"/systemusers({agent['systemuserid']})", "statuscode": 2},
        headers={"If-Match": tag})
    assert status == 204
    row = emulator.store.tables["incident"][case["incidentid"]]
    assert row["_ownerid_value"] == agent["systemuserid"] and row["statuscode"] == 2
    status, _, body = client.call("PATCH", f"/incidents({case['incidentid']})", {"statuscode": 1},
                                  headers={"If-Match": tag})
    assert status == 412 and body["error"]["code"] == "0x80060882"
    assert client.call("PATCH", f"/incidents({case['incidentid']})", {"statuscode": 6})[0] == 400
    assert client.call("PATCH", f"/incidents({case['incidentid']})", {"statecode": 1})[0] == 400
    assert client.call("POST", "/CloseIncident", {"IncidentResolution": {
        "subject": "ok", "incidentid@odata.bind": f"/incidents({case['incidentid']})"},
        "Status": 5})[0] == 204
    status, _, body = client.call("PATCH", f"/incidents({case['incidentid']})", {"title": "late"})
    assert status == 400 and body["error"]["code"] == "0x80040203"


# ------------------------------------------------------------------ $batch

def batch_body(boundary, parts):
    return ("".join(f"--{boundary}\r\n{p}" for p in parts) + f"--{boundary}--\r\n").encode()


def http_req(method, url, body=None, content_id=None):
    head = "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
    if content_id:
        head += f"Content-ID: {content_id}\r\n"
    text = f"{head}\r\n{method} {url} HTTP/1.1\r\n"
    if body is not None:
        text += f"Content-Type: application/json\r\n\r\n{json.dumps(body)}\r\n"
    else:
        text += "\r\n"
    return text


def changeset(boundary, parts):
    inner = "".join(f"--{boundary}\r\n{p}" for p in parts) + f"--{boundary}--\r\n"
    return f"Content-Type: multipart/mixed; boundary={boundary}\r\n\r\n{inner}"


def run_batch(client, body, prefer=None):
    headers = {"Content-Type": "multipart/mixed; boundary=batch_B1"}
    if prefer:
        headers["Prefer"] = prefer
    status, rh, text = client.call("POST", "/$batch", body, headers)
    assert status == 200, text
    items = parse_multipart_response(text.encode(), multipart_boundary(rh["Content-Type"]))
    return items


def parse_multipart_response(body, boundary):
    """Reuses the emulator's multipart reader on a response (status lines instead of requests)."""
    out = []
    for chunk in body.split(b"--" + boundary.encode())[1:-1]:
        text = chunk.decode()
        if "multipart/mixed" in text.split("\r\n\r\n", 1)[0]:
            inner = multipart_boundary(text)
            out.append([int(s.split(" ")[1]) for s in text.split("\r\n")
                        if s.startswith("HTTP/1.1 ")])
            assert inner.startswith("changesetresponse_")
        else:
            out.append(int([s for s in text.split("\r\n") if s.startswith("HTTP/1.1 ")][0].split()[1]))
    return out


def test_batch_changeset_with_content_id_reference_is_applied(emulator, client):
    c = seed_contact(emulator)
    cs = changeset("changeset_C1", [
        http_req("POST", f"{API}/incidents", {"title": "Call", "caseorigincode": 1,
                                              "customerid_contact@odata.bind": f"/contacts({c['contactid']})"}, "1"),
        http_req("POST", f"{API}/annotations", {"notetext": "hello",
                                                "objectid_incident@odata.bind": "$1"}, "2"),
        http_req("PATCH", "$1", {"statuscode": 2}, "3")])
    get = http_req("GET", f"{API}/incidents?$select=title")
    items = run_batch(client, batch_body("batch_B1", [cs, get]))
    assert items == [[204, 204, 204], 200]
    incidents = list(emulator.store.tables["incident"].values())
    notes = list(emulator.store.tables["annotation"].values())
    assert len(incidents) == 1 and incidents[0]["statuscode"] == 2
    assert notes[0]["_objectid_value"] == incidents[0]["incidentid"]
    batch_log = [e for e in emulator.requests() if e["path"].endswith("$batch")]
    assert len(batch_log) == 1 and "changeset_C1" in batch_log[0]["body"]


def test_batch_changeset_is_atomic_and_a_failure_stops_the_batch(emulator, client):
    c = seed_contact(emulator)
    good = {"title": "ok", "customerid_contact@odata.bind": f"/contacts({c['contactid']})"}
    cs = changeset("changeset_C2", [
        http_req("POST", f"{API}/incidents", good, "1"),
        http_req("POST", f"{API}/incidents", {"title": "no customer"}, "2")])
    after = http_req("POST", f"{API}/incidents", good)
    items = run_batch(client, batch_body("batch_B1", [cs, after]))
    assert items == [400]  # the change set answers with its failing part; nothing after it ran
    assert emulator.store.tables["incident"] == {}
    items = run_batch(client, batch_body("batch_B1", [cs, after]), "odata.continue-on-error")
    assert items == [400, 204] and len(emulator.store.tables["incident"]) == 1


def test_batch_refuses_gets_in_changesets_and_missing_content_ids(emulator, client):
    cs = changeset("changeset_C3", [http_req("GET", f"{API}/contacts", None, "1")])
    assert run_batch(client, batch_body("batch_B1", [cs])) == [400]
    cs = changeset("changeset_C4", [http_req("POST", f"{API}/contacts", {"lastname": "x"})])
    status, _, body = client.call("POST", "/$batch", batch_body("batch_B1", [cs]),
                                  {"Content-Type": "multipart/mixed; boundary=batch_B1"})
    assert status == 400 and "Content-ID" in body["error"]["message"]


def test_multipart_reader_splits_parts():
    cs = changeset("cs", [http_req("POST", "contacts", {"lastname": "a"}, "1")])
    items = parse_multipart(batch_body("b", [cs, http_req("GET", "contacts")]), "b")
    assert [i["changeset"] for i in items] == [True, False]
    assert items[0]["parts"][0]["body"] == b'{"lastname": "a"}'


# ------------------------------------------------------ service protection

def test_request_limit_answers_429_with_retry_after_and_code(emulator, client):
    emulator.configure(requests_per_window=3, window_s=60)
    assert [client.call("GET", "/contacts")[0] for _ in range(3)] == [200, 200, 200]
    status, headers, body = client.call("GET", "/contacts")
    assert status == 429 and 1 <= int(headers["Retry-After"]) <= 60
    assert body["error"]["code"] == "0x80072322"
    assert "6000" not in body["error"]["message"] and "limit of 3" in body["error"]["message"]


def test_batch_operations_count_towards_the_request_limit(emulator, client):
    emulator.configure(requests_per_window=3, window_s=60)
    parts = [http_req("GET", f"{API}/contacts") for _ in range(3)]
    status, _, body = client.call("POST", "/$batch", batch_body("batch_B1", parts),
                                  {"Content-Type": "multipart/mixed; boundary=batch_B1"})
    assert status == 200
    assert client.call("GET", "/contacts")[0] == 429


def test_execution_time_and_concurrency_limits(emulator, client):
    emulator.configure(execution_ms_per_window=1, latency_ms=5)
    assert client.call("GET", "/contacts")[0] == 200
    status, _, body = client.call("GET", "/contacts")
    assert status == 429 and body["error"]["code"] == "0x80072321"
    emulator.configure(execution_ms_per_window=0, latency_ms=300, max_concurrent=1)
    results = []
    slow = threading.Thread(target=lambda: results.append(client.call("GET", "/contacts")[0]))
    slow.start()
    while not emulator.store.in_flight:
        pass
    status, _, body = client.call("GET", "/contacts")
    slow.join()
    assert results == [200] and status == 429 and body["error"]["code"] == "0x80072326"


# ------------------------------------------------------- control + metadata

def test_fail_next_injection_and_request_log(emulator, client):
    emulator.configure(inject=[{"method": "GET", "path_regex": "/contacts$", "status": 503,
                                "count": 2}])
    assert [client.call("GET", "/contacts")[0] for _ in range(3)] == [503, 503, 200]
    status, _, _ = raw(emulator.url, "POST", "/__emulator/config",
                       json.dumps({"inject": [{"path_regex": "incidents", "status": 429,
                                               "retry_after": 7}]}).encode(),
                       {"Content-Type": "application/json"})
    assert status == 200
    status, headers, body = client.call("GET", "/incidents")
    assert status == 429 and headers["Retry-After"] == "7" and body["error"]["code"] == "0x80072322"
    status, _, data = raw(emulator.url, "GET", "/__emulator/requests")
    log = json.loads(data)["requests"]
    api = [e for e in log if e["kind"] == "api"]
    assert [e["status"] for e in api] == [503, 503, 200, 429]
    assert all(e["headers"]["odata-version"] == "4.0" and e["authenticated"] for e in api)
    assert raw(emulator.url, "POST", "/__emulator/reset")[0] == 200
    assert emulator.requests() == []


def test_metadata_describes_what_the_emulator_enforces(client):
    status, headers, text = client.call("GET", "/$metadata")
    assert status == 200 and headers["Content-Type"].startswith("application/xml")
    ns = {"e": "http://docs.oasis-open.org/odata/ns/edm"}
    root = ET.fromstring(text)
    types = {t.get("Name"): {p.get("Name") for p in t.findall("e:Property", ns)}
             for t in root.iter("{http://docs.oasis-open.org/odata/ns/edm}EntityType")}
    assert set(types) == set(ENTITIES)
    for name, spec in ENTITIES.items():
        assert types[name] == set(spec["attrs"])
    assert {"telephone1", "mobilephone", "fullname"} <= types["contact"]
    assert {"title", "caseorigincode", "_customerid_value", "ticketnumber"} <= types["incident"]


# ------------------------------------------------------- webhooks (issue 25)

def test_case_steps_are_posted_to_the_service_endpoint(emulator):
    """Create, Update (state / owner), Close and Merge of a case as a
    service endpoint's RemoteExecutionContext, the key as ?code=."""
    from emulator_common import WebhookReceiver
    hook = WebhookReceiver()
    try:
        emulator.configure(webhook={"url": hook.url + "/hook", "key": "k&ey"})
        contact = seed_contact(emulator)
        case = seed_case(emulator, contact["contactid"])
        other = seed_case(emulator, contact["contactid"])
        emulator.store.update("incident", case["incidentid"], {"statuscode": 2, "statecode": 0})
        emulator.store.close_incident({"IncidentResolution": {
            "subject": "done", "incidentid@odata.bind": f"/incidents({case['incidentid']})"},
            "Status": 5})
        third = seed_case(emulator, contact["contactid"])
        emulator.store.merge({"Target": {"incidentid": other["incidentid"]},
                              "Subordinate": {"incidentid": third["incidentid"]}})
        posts = hook.wait(6)
        assert [p[0] for p in posts] == ["/hook?code=k%26ey"] * 6
        ctx = [json.loads(body) for _, _, body in posts]
        assert [c["MessageName"] for c in ctx] == ["Create", "Create", "Update", "Close",
                                                   "Create", "Merge"]
        update = ctx[2]
        assert update["PrimaryEntityName"] == "incident"
        assert update["PrimaryEntityId"] == case["incidentid"]
        target = update["InputParameters"][0]["value"]["Attributes"]
        assert {a["key"] for a in target} == {"statecode", "statuscode"}
        post = {a["key"]: a["value"] for a in update["PostEntityImages"][0]["value"]["Attributes"]}
        pre = {a["key"]: a["value"] for a in update["PreEntityImages"][0]["value"]["Attributes"]}
        assert post["statuscode"]["Value"] == 2 and pre["statuscode"]["Value"] == 1
        assert post["customerid"]["Id"] == contact["contactid"]
        assert post["createdon"].startswith("/Date(")
        params = {p["key"]: p["value"] for p in ctx[5]["InputParameters"]}
        assert params["Target"]["Id"] == other["incidentid"]
        assert params["SubordinateId"] == third["incidentid"]
    finally:
        hook.close()


# ------------------------------------------------- change tracking (issue 26 item 3)

TRACK = {"Prefer": "odata.track-changes,odata.maxpagesize=2"}


def test_change_tracking_pages_then_delta_with_deletions(emulator):
    c = Client(emulator.url)
    c.login()
    made = [seed_contact(emulator, lastname=f"R{k}", telephone1=f"+3906123456{k}")
            for k in range(3)]
    status, _, first = c.call("GET", "/contacts?$select=" + CONTACT_SEL, headers=TRACK)
    assert status == 200 and len(first["value"]) == 2 and "@odata.nextLink" in first
    nxt = first["@odata.nextLink"].split(API, 1)[1]
    status, _, second = c.call("GET", nxt, headers=TRACK)
    assert status == 200 and len(second["value"]) == 1 and "@odata.deltaLink" in second
    seen = {v["contactid"] for v in first["value"] + second["value"]}
    assert seen == {m["contactid"] for m in made}
    delta = second["@odata.deltaLink"].split(API, 1)[1]
    status, _, idle = c.call("GET", delta, headers=TRACK)
    assert idle["value"] == [] and "@odata.deltaLink" in idle
    # a new contact and a deleted one since the delta link
    new = seed_contact(emulator, lastname="New", mobilephone="+390699")
    assert c.call("DELETE", f"/contacts({made[0]['contactid']})")[0] == 204
    status, _, changes = c.call("GET", delta, headers=TRACK)
    assert status == 200
    assert [v.get("contactid") or v["id"] for v in changes["value"]] == \
        [new["contactid"], made[0]["contactid"]]
    assert changes["value"][1]["reason"] == "deleted"
    assert changes["value"][1]["@odata.context"].endswith("/$deletedEntity")
    assert c.call("GET", "/contacts?$filter=lastname eq 'x'".replace(" ", "%20"),
                  headers=TRACK)[0] == 400
    assert c.call("GET", "/contacts?$deltatoken=abc", headers=TRACK)[0] == 400
