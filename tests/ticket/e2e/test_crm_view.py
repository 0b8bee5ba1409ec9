"""The CRM-neutral view (crm_view.py) against the emulators themselves, with
no ticket-service: what it seeds is what the CRM's public API answers (the
requests here are the ones docs/dynamics.md says the Dynamics adapter
makes), and what the API writes is what the view reads. So the scenario
suites' dynamics parameter reads the emulator right before the adapter
exists."""
import base64
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

import pytest

import crm_view
from e2e import make_emulator, new_mobile_number, new_number

sys.path.insert(0, os.path.join(crm_view.ROOT, "tests", "emulators", "dynamics"))
from dyn_client import Client  # noqa: E402

API = crm_view.DYN_API


@pytest.fixture(scope="module")
def dyn():
    emu = crm_view.make_dynamics_emulator()
    events = []
    view = crm_view.DynamicsView(emu, ticket_events=lambda: list(events))
    view.events = events
    yield view
    emu.stop()


@pytest.fixture(scope="module")
def zd():
    emu = make_emulator()
    yield crm_view.ZendeskView(emu)
    emu.stop()


@pytest.fixture
def client(dyn):
    dyn.restore_defaults()
    c = Client(dyn.emu.url)
    c.login()
    return c


def phone_filter(number):
    lit = urllib.parse.quote("'%s'" % crm_view.national(number), safe="")
    return (f"/contacts?$select=contactid,fullname,telephone1,createdon&$filter=telephone1%20eq%20"
            f"{lit}%20or%20mobilephone%20eq%20{lit}&$orderby=createdon%20desc&$top=16")


# ----------------------------------------------------------------- Dynamics

def test_dynamics_settings_name_the_emulator_and_its_client(dyn):
    env = dyn.service_env()
    assert env["CALLBUS_CRM"] == "dynamics"
    assert env["CALLBUS_DYNAMICS_URL"] == env["CALLBUS_DYNAMICS_AUTHORITY"] == dyn.emu.url
    assert (env["CALLBUS_DYNAMICS_TENANT_ID"], env["CALLBUS_DYNAMICS_CLIENT_ID"],
            env["CALLBUS_DYNAMICS_CLIENT_SECRET"]) == (
        "callbus-tenant", "11111111-2222-3333-4444-555555555555", "secret")
    assert env["CALLBUS_CRM_LOOKUP_FORM"] == "national"
    # the token endpoint the settings make (AUTHORITY/TENANT/oauth2/v2.0/token) answers
    c = Client(env["CALLBUS_DYNAMICS_URL"])
    status, body = c.token_request()
    assert status == 200 and body["token_type"] == "Bearer", body


def test_dynamics_agents_are_the_emulators_systemusers(dyn, client):
    names = [a["name"] for a in dyn.agents]
    assert names == ["Agent One", "Agent Two", "Agent Three"]
    for agent in dyn.agents:
        status, _, body = client.call("GET", f"/systemusers({agent['crm_id']})?$select=fullname")
        assert status == 200 and body["fullname"] == agent["name"], body
    extra = dyn.seed_agent("Agent Four", "2001")
    status, _, body = client.call("GET", f"/systemusers({extra['crm_id']})?$select=fullname")
    assert status == 200 and body["fullname"] == "Agent Four"


def test_dynamics_seeded_contacts_are_found_in_the_national_form_newest_first(dyn, client):
    """R-I2 / R-C4: the contact is stored as the national number and the
    adapter's look-up (telephone1 or mobilephone eq it, newest first) finds it."""
    number = new_mobile_number()
    old = dyn.seed_contact("Old Uno", number, created_at="2021-03-01T10:00:00Z")
    new = dyn.seed_contact("Nuova Due", number, email="due@example.com",
                           created_at="2024-02-01T10:00:00Z")
    assert new["phones"] == [number[3:]] and not new["phones"][0].startswith("+")
    status, _, body = client.call("GET", phone_filter(number))
    assert status == 200, body
    assert [r["contactid"] for r in body["value"]] == [new["id"], old["id"]]
    assert body["value"][0]["fullname"] == "Nuova Due"
    seen = dyn.contacts_with_phone(number)
    assert [c["id"] for c in seen] == [old["id"], new["id"]]  # oldest first, like Zendesk's
    assert seen[1]["email"] == "due@example.com"
    assert dyn.contacts_with_phone(new_mobile_number()) == []
    mark = 0
    assert dyn.lookups(mark, number), "the look-up above is in the request log"
    assert dyn.requests_mentioning(mark, number)


def test_dynamics_seeded_cases_read_through_the_web_api(dyn, client):
    """Neutral statuses map onto statecode/statuscode as docs/dynamics.md says,
    and the R-V1 query (the customer's newest unresolved case) sees them."""
    contact = dyn.seed_contact("Maria Rossi", new_mobile_number())
    made = {}
    for subject, status, when in (("Old open", "open", "2024-01-01T09:00:00Z"),
                                  ("Billing question", "pending", "2024-03-01T09:00:00Z"),
                                  ("Solved one", "solved", "2024-05-01T09:00:00Z"),
                                  ("Closed one", "closed", "2024-06-01T09:00:00Z")):
        t = dyn.seed_ticket(subject, contact["id"], status, created_at=when)
        assert t["status"] == status and t["requester"] == contact["id"] and t["assignee"] is None
        made[subject] = t
    codes = {}
    for subject, t in made.items():
        status, _, body = client.call("GET", f"/incidents({t['id']})?$select=statecode,statuscode")
        codes[subject] = (body["statecode"], body["statuscode"])
    assert codes == {"Old open": (0, 1), "Billing question": (0, 3), "Solved one": (1, 5),
                     "Closed one": (2, 6)}
    q = (f"/incidents?$select=incidentid,title&$filter=_customerid_value%20eq%20{contact['id']}"
         "%20and%20statecode%20eq%200&$orderby=createdon%20desc&$top=1")
    status, _, body = client.call("GET", q)
    assert status == 200 and [r["incidentid"] for r in body["value"]] == \
        [made["Billing question"]["id"]]
    assert dyn.ticket_url(made["Old open"]["id"]) == (
        f"{dyn.emu.url}/main.aspx?pagetype=entityrecord&etn=incident&id={made['Old open']['id']}")


def test_dynamics_web_api_writes_are_what_the_view_reads(dyn, client):
    """A case created, owned, noted and moved the way the adapter does it
    (docs/dynamics.md's table), in the view: assignee, status, comments in
    order and internal; a person's status change; a closed case refuses."""
    contact = dyn.seed_contact("Lucia Verdi", new_number())
    a1, a2 = dyn.agents[0], dyn.agents[1]
    mark = dyn.mark()
    tid = client.create("incidents", {
        "title": "Call from +39", "caseorigincode": 1,
        "customerid_contact@odata.bind": f"/contacts({contact['id']})",
        "ownerid@odata.bind": f"/systemusers({a1['crm_id']})"})
    for text in ("first [callbus ev-1/1]", "second [callbus ev-2/1]", "third"):
        client.create("annotations", {"notetext": text, "subject": "callbus",
                                      "objectid_incident@odata.bind": f"/incidents({tid})"})
    status, _, body = client.call("PATCH", f"/incidents({tid})", {
        "ownerid@odata.bind": f"/systemusers({a2['crm_id']})", "statecode": 0, "statuscode": 3})
    assert status == 204, body
    t = dyn.ticket(tid)
    assert t["assignee"] == a2["crm_id"] and t["status"] == "pending"
    assert t["requester"] == contact["id"] and t["subject"] == "Call from +39"
    assert [c["body"] for c in t["comments"]] == ["first [callbus ev-1/1]",
                                                  "second [callbus ev-2/1]", "third"]
    assert not any(c["public"] for c in t["comments"])
    assert dyn.marker_count("ev-1") == 1 and dyn.marker_count("ev-3") == 0
    assert len(dyn.writes(mark)) == 5
    dyn.set_status(tid, "solved")
    status, _, body = client.call("POST", "/annotations", {
        "notetext": "late", "objectid_incident@odata.bind": f"/incidents({tid})"})
    assert status == 204  # notes on a resolved case are accepted by the emulator...
    status, _, body = client.call("PATCH", f"/incidents({tid})", {"statuscode": 1})
    assert status == 400 and body["error"]["code"] == "0x80040203"  # ...its updates are not
    assert dyn.ticket(tid)["status"] == "solved"


def test_dynamics_failures_injected_through_the_view(dyn, client):
    """429 with Retry-After, 5xx, 401 on the operation named, once each."""
    number = new_number()
    dyn.fail_next("lookup", 429, retry_after=7)
    status, headers, body = client.call("GET", phone_filter(number))
    assert status == 429 and headers["Retry-After"] == "7", body
    assert body["error"]["code"] == "0x80072322"
    assert client.call("GET", phone_filter(number))[0] == 200
    dyn.fail_next("create_ticket", 503, count=2)
    contact = dyn.seed_contact("X", number)
    bind = {"title": "t", "customerid_contact@odata.bind": f"/contacts({contact['id']})"}
    assert [client.call("POST", "/incidents", bind)[0] for _ in range(3)] == [503, 503, 204]
    dyn.fail_next("any", 401)
    assert client.call("GET", "/WhoAmI")[0] == 401
    assert client.call("GET", "/WhoAmI")[0] == 200
    dyn.fail_next("token", 500)
    assert client.token_request()[0] == 500
    assert client.token_request()[0] == 200
    dyn.set_latency(50)
    dyn.restore_defaults()
    assert dyn.emu.store.config["latency_ms"] == 0 and dyn.emu.store.inject_rules == []


def test_dynamics_expire_tokens_and_token_fetches(dyn, client):
    before = len(dyn.token_fetches())
    assert client.call("GET", "/WhoAmI")[0] == 200
    dyn.expire_tokens()
    status, headers, _ = client.call("GET", "/WhoAmI")
    assert status == 401 and "The access token expired" in headers["WWW-Authenticate"]
    client.login()
    assert client.call("GET", "/WhoAmI")[0] == 200
    assert len(dyn.token_fetches()) == before + 1


def test_dynamics_batch_partial_failure_injection_hits_one_change_set(dyn, client):
    """What test_dynamics.py's $batch case relies on: a rule on one case's
    path fails that change set only (atomic: its note is not kept), the
    other change sets apply; the failed one applies when sent again."""
    contact = dyn.seed_contact("B", new_number())
    ids = [client.create("incidents", {"title": f"c{i}", "customerid_contact@odata.bind":
                                       f"/contacts({contact['id']})"}) for i in range(3)]
    dyn.emu.configure(inject=[{"method": "PATCH", "path_regex": ids[1], "status": 503}])

    def batch(cases):
        parts = []
        for n, tid in enumerate(cases):
            cs = f"changeset_{n}"
            note = json.dumps({"notetext": f"note {n}",
                               "objectid_incident@odata.bind": f"/incidents({tid})"})
            upd = json.dumps({"statuscode": 3})
            parts.append(
                f"--batch_x\r\nContent-Type: multipart/mixed; boundary={cs}\r\n\r\n"
                f"--{cs}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
                f"Content-ID: {2 * n + 1}\r\n\r\nPOST {dyn.emu.url}{API}/annotations HTTP/1.1\r\n"
                f"Content-Type: application/json\r\n\r\n{note}\r\n"
                f"--{cs}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
                f"Content-ID: {2 * n + 2}\r\n\r\nPATCH {dyn.emu.url}{API}/incidents({tid}) "
                f"HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{upd}\r\n--{cs}--\r\n")
        body = ("".join(parts) + "--batch_x--\r\n").encode()
        return client.call("POST", "/$batch", body, {
            "Content-Type": "multipart/mixed; boundary=batch_x",
            "Prefer": "odata.continue-on-error"})
    status, _, text = batch(ids)
    assert status == 200 and "503" in text, text
    assert [dyn.ticket(t)["status"] for t in ids] == ["pending", "open", "pending"]
    assert [len(dyn.ticket(t)["comments"]) for t in ids] == [1, 0, 1]
    assert batch([ids[1]])[0] == 200  # the failed change set sent again applies once
    assert [dyn.ticket(t)["status"] for t in ids] == ["pending"] * 3
    assert [len(dyn.ticket(t)["comments"]) for t in ids] == [1, 1, 1]


def test_dynamics_tickets_of_call_are_the_cases_ticket_service_created(dyn):
    contact = dyn.seed_contact("C", new_number())
    t1 = dyn.seed_ticket("Call from x", contact["id"])
    t2 = dyn.seed_ticket("Call from x again", contact["id"])
    t3 = dyn.seed_ticket("IVR case", contact["id"])
    dyn.events[:] = [("k", {"call_id": "call-a", "ticket_id": t1["id"], "created": True}),
                     ("k", {"call_id": "call-a", "ticket_id": t1["id"], "created": False}),
                     ("k", {"call_id": "call-b", "ticket_id": t1["id"], "created": False}),
                     ("k", {"call_id": "call-a", "ticket_id": t2["id"], "created": True}),
                     ("k", {"call_id": "call-c", "ticket_id": t3["id"], "created": False})]
    assert [t["id"] for t in dyn.tickets_of_call("call-a")] == [t1["id"], t2["id"]]
    assert dyn.tickets_of_call("call-b") == []  # it reused call-a's case (R-T2)
    assert [t["id"] for t in dyn.tickets_of_call("call-c")] == [t3["id"]]  # IVR's (R-T8)


# ------------------------------------------------------------------ Zendesk

def zd_get(view, path):
    auth = base64.b64encode(b"callbus@example.com/token:e2e-secret").decode()
    req = urllib.request.Request(view.emu.url + path, headers={"Authorization": "Basic " + auth})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def test_zendesk_view_reads_what_the_api_answers(zd):
    number = new_number()
    c = zd.seed_contact("Lucia Verdi", number, formatted=True)
    assert c["phones"][0].startswith("+39 ") and " " in c["phones"][0]
    assert [x["id"] for x in zd.contacts_with_phone(number)] == [c["id"]]
    t = zd.seed_ticket("Existing case", c["id"], "pending")
    api = zd_get(zd, f"/api/v2/tickets/{t['id']}.json")["ticket"]
    assert (str(api["id"]), api["status"], str(api["requester_id"])) == (t["id"], "pending",
                                                                        c["id"])
    zd.set_status(t["id"], "solved")
    assert zd.ticket(t["id"])["status"] == "solved"
    assert zd.ticket_url(t["id"]) == f"{zd.emu.url}/agent/tickets/{t['id']}"
    assert [a["crm_id"] for a in zd.agents] == ["900001", "900002", "900003"]
    zd.fail_next("lookup", 503)
    with pytest.raises(urllib.error.HTTPError) as err:
        zd_get(zd, "/api/v2/search.json?query=" + urllib.parse.quote(f"type:user phone:{number}"))
    assert err.value.code == 503
    zd.restore_defaults()
