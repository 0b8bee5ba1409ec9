"""callbus-pop end to end on one replica: the session API and its token
rules (R-P1), pops for ringing, answer, transfer and a ticket bound after
the answer (R-P2..R-P4), reconnects with Last-Event-ID and one agent never
seeing another's pop (R-P5), agent actions onto agent-actions (R-P6).

The pops whose ids and URLs are the CRM's (tickets, contacts, agents, the
new-case form) run once per CRM (issue 13: the `crm_pop` fixture)."""
import http.client
import json
import subprocess
import time

import pytest

import pop
from pop import Call



def test_login_needs_the_provisioning_secret(svc):
    status, body, _ = svc.login("900001", secret="wrong")
    assert status == 401 and body["error"]
    status, body, _ = svc.http("POST", "/v1/sessions", {"agent_crm_id": "900001"})
    assert status == 401
    status, body, _ = svc.login("bad id with spaces")
    assert status == 400 and body["field"] == "agent_crm_id"


def test_issue14_provisioning_secret_rotates_without_401s(topics, logdir):
    """A rotation (docs/operations.md): the new secret is current and the
    retired one, CALLBUS_POP_PROVISIONING_SECRET_PREVIOUS, still logs agents
    in, its use counted; a wrong one is 401. Restarted without the setting,
    the retired secret is refused."""
    new, counter = "pop-provisioning-secret-new", "pop_provisioning_previous_secret_accepted_total"
    rot = pop.start_pop(topics, f"pop-rot-{pop.RUN}", logdir, "pop-rot",
                        {"CALLBUS_POP_PROVISIONING_SECRET": new,
                         "CALLBUS_POP_PROVISIONING_SECRET_PREVIOUS": pop.SECRET})
    try:
        assert rot.login("910020")[0] == 201  # pop.SECRET: the previous one
        assert rot.metric(counter) == 1
        assert rot.login("910021", secret=new)[0] == 201
        assert rot.metric(counter) == 1  # the current secret is not counted
        assert rot.login("910022", secret="pop-provisioning-secret-old")[0] == 401
        rot.stop()
        del rot.env["CALLBUS_POP_PROVISIONING_SECRET_PREVIOUS"]
        rot.start()
        assert rot.login("910020")[0] == 401
        assert rot.login("910021", secret=new)[0] == 201
    finally:
        if rot.running():
            rot.stop()


def test_session_me_heartbeat_logout(svc):
    token = svc.agent("910001", "2001", "201")
    status, me, _ = svc.as_agent(token, "GET", "/v1/sessions/me")
    assert status == 200
    assert (me["agent_crm_id"], me["provider_agent_id"], me["extension"]) == ("910001", "2001",
                                                                              "201")
    status, hb, _ = svc.as_agent(token, "POST", "/v1/sessions/heartbeat")
    assert status == 200 and 110 <= hb["expires_in"] <= 120
    status, _, _ = svc.as_agent(token, "POST", "/v1/sessions/logout")
    assert status == 200
    assert svc.as_agent(token, "GET", "/v1/sessions/me")[0] == 401  # ended: 401


def test_wrong_and_missing_tokens_are_401(svc):
    assert svc.http("GET", "/v1/sessions/me")[0] == 401
    assert svc.as_agent("0" * 64, "GET", "/v1/sessions/me")[0] == 401
    assert svc.as_agent("not-a-token", "GET", "/v1/sessions/me")[0] == 401
    assert pop.SseClient(svc.port, "f" * 64).status == 401
    assert pop.SseClient(svc.port, None).status == 401


def test_session_expires_without_heartbeat(topics, logdir):
    short = pop.start_pop(topics, f"pop-ttl-{pop.RUN}", logdir, "pop-ttl",
                          {"CALLBUS_POP_SESSION_TTL_S": "10"})
    try:
        token = short.agent("910009")
        assert short.as_agent(token, "GET", "/v1/sessions/me")[0] == 200
        pop.wait_for(lambda: short.as_agent(token, "GET", "/v1/sessions/me")[0] == 401, 20,
                     what="the session to expire")
    finally:
        short.stop()


def test_a_new_login_ends_the_old_token(svc):
    old = svc.agent("910002")
    new = svc.agent("910002")
    assert svc.as_agent(old, "GET", "/v1/sessions/me")[0] == 401
    assert svc.as_agent(new, "GET", "/v1/sessions/me")[0] == 200


def test_ringing_answer_then_ticket(crm_pop):
    svc, topics, crm, a1 = crm_pop.svc, crm_pop.topics, crm_pop.crm, crm_pop.agent1
    token = svc.agent(a1["crm_id"], a1["provider_id"])
    sse = svc.stream(token)
    call = Call()
    topics.produce(call.offered(a1))
    ring = sse.wait_kind(call, "incoming")  # R-P2
    assert ring["caller"] == {"number": call.number, "name": None, "email": None,
                              "company": None, "known": False}
    assert ring["queue"] == "billing" and ring["agent_crm_id"] == a1["crm_id"]
    topics.produce(call.answered(a1))
    first = sse.wait_kind(call, "new_case")  # R-P3: no customer, no ticket yet
    form = pop.NEW_CASE_URL[crm.name].split("{phone}")[0]
    assert first["crm_url"].startswith(form + "%2B39"), first["crm_url"]
    status, me, _ = svc.as_agent(token, "GET", "/v1/sessions/me")
    assert me["current_call"] == call.call_id  # R-P1: the call the agent is on
    tid, cid = crm.example_id(5001), crm.example_id(77)
    pop.produce_ticket_events(topics, pop.ticket_event(
        call, tid, subject="Call from " + call.number, crm=crm,
        contact={"id": cid, "url": crm.contact_url(cid), "name": "Ada"}))
    tp = sse.wait_kind(call, "ticket")  # followed by the ticket pop
    assert tp["crm_url"] == crm.ticket_url(tid)
    assert tp["ticket"] == {"id": tid, "url": crm.ticket_url(tid),
                            "subject": "Call from " + call.number, "status": "open"}
    assert tp["caller"]["name"] == "Ada" and tp["caller"]["known"]
    topics.produce(call.ended(agent=a1))
    pop.wait_for(lambda: svc.as_agent(token, "GET", "/v1/sessions/me")[1]["current_call"] is None,
                 what="the current call to clear")
    sse.close()


def test_ticket_known_at_answer_pops_the_ticket_once(crm_pop):
    svc, topics, crm, agent = crm_pop.svc, crm_pop.topics, crm_pop.crm, crm_pop.agent3
    token = svc.agent(agent["crm_id"])
    sse = svc.stream(token)
    call = Call()
    tid = crm.example_id(5002)
    pop.produce_ticket_events(topics, pop.ticket_event(call, tid, crm=crm))
    svc.wait_idle()
    topics.produce(call.answered(agent))
    assert sse.wait_kind(call, "ticket")["crm_url"] == crm.ticket_url(tid)
    # A replay of both events pops nothing new (one pop id).
    pop.produce_ticket_events(topics, pop.ticket_event(call, tid, crm=crm))
    topics.produce(call.answered(agent))
    marker = Call()
    topics.produce(marker.answered(agent))
    sse.wait_kind(marker, "new_case")
    assert [p["kind"] for p in sse.pops() if p["call_id"] == call.call_id] == ["ticket"]
    sse.close()


def test_transfer_pops_the_receiving_agent(crm_pop):
    svc, topics, crm = crm_pop.svc, crm_pop.topics, crm_pop.crm
    a1, a2 = crm_pop.agent1, crm_pop.agent2
    t1, t2 = svc.agent(a1["crm_id"], a1["provider_id"]), svc.agent(a2["crm_id"], a2["provider_id"])
    s1, s2 = svc.stream(t1), svc.stream(t2)
    call = Call()
    tid = crm.example_id(5003)
    pop.produce_ticket_events(topics, pop.ticket_event(call, tid, crm=crm))
    topics.produce(call.answered(a1))
    s1.wait_kind(call, "ticket")
    topics.produce(call.transferred(a2, a1))
    got = s2.wait_kind(call, "ticket")  # R-P4
    assert got["agent_crm_id"] == a2["crm_id"] and got["crm_url"] == crm.ticket_url(tid)
    assert svc.as_agent(t2, "GET", "/v1/sessions/me")[1]["current_call"] == call.call_id
    s1.close()
    s2.close()


def test_transfer_back_pops_the_first_agent_again(svc, topics):
    """R-P4: A -> B -> A: the call coming back is a transfer to A like any
    other, so A gets a second pop; a replay of the three events adds none."""
    a = {"provider_id": "p13", "crm_id": "910013", "name": "A"}
    b = {"provider_id": "p14", "crm_id": "910014", "name": "B"}
    sa, sb = svc.stream(svc.agent(a["crm_id"])), svc.stream(svc.agent(b["crm_id"]))
    call = Call()
    pop.produce_ticket_events(topics, pop.ticket_event(call, 5013))
    events = [call.answered(a), call.transferred(b, a), call.transferred(a, b)]
    topics.produce(events[0])
    sa.wait_kind(call, "ticket")
    topics.produce(events[1])
    sb.wait_kind(call, "ticket")
    topics.produce(events[2])
    sa.wait(lambda ps: len([p for p in ps if p["call_id"] == call.call_id]) >= 2,
            what="A's second pop when the call comes back")
    topics.produce(*events)  # a replay
    marker = Call()
    topics.produce(marker.answered(a))
    sa.wait_kind(marker, "new_case")
    assert [p["kind"] for p in sa.pops() if p["call_id"] == call.call_id] == ["ticket", "ticket"]
    assert [p["kind"] for p in sb.pops() if p["call_id"] == call.call_id] == ["ticket"]
    sa.close()
    sb.close()


def test_unmapped_agent_found_by_login(svc, topics):
    """An event without a CRM id (R-I3) pops to whoever logged in with its provider id."""
    token = svc.agent("910004", "temp-5555")
    sse = svc.stream(token)
    call = Call()
    topics.produce(call.answered({"provider_id": "temp-5555", "name": "Temp"}))
    assert sse.wait_kind(call, "new_case")["agent_crm_id"] == "910004"
    sse.close()


def test_one_agent_never_gets_another_agents_pop(svc, topics):
    ta, tb = svc.agent("910005"), svc.agent("910006")
    sa, sb = svc.stream(ta), svc.stream(tb)
    a = {"provider_id": "p5", "crm_id": "910005", "name": "A"}
    b = {"provider_id": "p6", "crm_id": "910006", "name": "B"}
    calls = [(Call(), a if i % 2 == 0 else b) for i in range(10)]
    topics.produce(*[c.answered(ag) for c, ag in calls])
    sa.wait(lambda ps: len(ps) >= 5, what="A's five pops")
    sb.wait(lambda ps: len(ps) >= 5, what="B's five pops")
    svc.wait_idle()
    assert {p["agent_crm_id"] for p in sa.pops()} == {"910005"}
    assert {p["agent_crm_id"] for p in sb.pops()} == {"910006"}
    assert sorted(p["call_id"] for p in sa.pops()) == sorted(c.call_id for c, ag in calls
                                                             if ag is a)
    sa.close()
    sb.close()


def test_reconnect_with_last_event_id_loses_nothing(svc, topics):
    token = svc.agent("910007")
    agent = {"provider_id": "p7", "crm_id": "910007", "name": "Seven"}
    sse = svc.stream(token)
    calls = [Call() for _ in range(6)]
    topics.produce(*[c.answered(agent) for c in calls[:2]])
    sse.wait(lambda ps: len(ps) >= 2, what="the first two pops")
    last = sse.last_id()
    sse.close()
    topics.produce(*[c.answered(agent) for c in calls[2:]])  # while the browser is away
    svc.wait_idle()
    again = svc.stream(token, last_event_id=last)
    got = again.wait(lambda ps: ps if len(ps) >= 4 else None, what="the four missed pops")
    # Different customers: different partitions, so any order; none twice.
    assert sorted(p["call_id"] for p in got) == sorted(c.call_id for c in calls[2:])
    ids = [i for i, _, _ in again.events]
    assert ids == sorted(ids, key=lambda s: tuple(map(int, s.split("-"))))
    # Without Last-Event-ID: everything since the session began.
    fresh = svc.stream(token)
    fresh.wait(lambda ps: len(ps) >= 6, what="every pop since login")
    for s in (again, fresh):
        s.close()


def test_bad_last_event_id_is_400(svc):
    token = svc.agent("910008")
    c = pop.SseClient(svc.port, token, last_event_id="x\u00e9")
    assert c.status == 400


def test_agent_action_goes_to_agent_actions(crm_pop):
    svc, topics, crm, a1 = crm_pop.svc, crm_pop.topics, crm_pop.crm, crm_pop.agent1
    token = svc.agent(a1["crm_id"], a1["provider_id"])
    other = svc.agent("910010")
    call = Call()
    tid = crm.example_id(4242)
    topics.produce(call.answered(a1))
    sse = svc.stream(token)
    sse.wait_kind(call, "new_case")
    status, body, _ = svc.as_agent(other, "POST", "/v1/actions",
                                   {"action": "call.new_ticket", "call_id": call.call_id})
    assert status == 403  # not their call
    status, body, _ = svc.as_agent(token, "POST", "/v1/actions",
                                   {"action": "call.retargeted", "call_id": call.call_id})
    assert status == 400 and body["field"] == "ticket_id"
    status, body, _ = svc.as_agent(token, "POST", "/v1/actions",
                                   {"action": "call.retargeted", "call_id": call.call_id,
                                    "ticket_id": tid})
    assert status == 202, body
    out = subprocess.run(["kcat", "-b", pop.BROKERS, "-C", "-t", topics.prefix + "agent-actions",
                          "-o", "beginning", "-e", "-J", "-q"], capture_output=True, text=True,
                         timeout=60).stdout
    msgs = [json.loads(l) for l in out.splitlines() if l.strip()]
    acts = [json.loads(m["payload"]) for m in msgs]
    mine = [a for a in acts if a["action_id"] == body["action_id"]]
    assert len(mine) == 1 and mine[0]["ticket_id"] == tid
    assert mine[0]["agent_crm_id"] == a1["crm_id"] and mine[0]["customer_number"] == call.number
    assert [m["key"] for m in msgs if json.loads(m["payload"])["action_id"] ==
            body["action_id"]] == [call.number]
    sse.close()


def test_screen_pops_topic_carries_the_pops(svc, topics):
    out = subprocess.run(["kcat", "-b", pop.BROKERS, "-C", "-t", topics.prefix + "screen-pops",
                          "-o", "beginning", "-e", "-J", "-q"], capture_output=True, text=True,
                         timeout=60).stdout
    msgs = [json.loads(l) for l in out.splitlines() if l.strip()]
    assert msgs
    for m in msgs:
        pop_msg = json.loads(m["payload"])
        assert m["key"] == pop_msg["agent_crm_id"]
        pop.check_pop(pop_msg)


def test_a_new_login_ends_the_old_tokens_open_streams(svc, topics):
    """R-P1, R-P5: one session per agent — the old token's open stream ends
    at once (not only its next request), and the new session's stream,
    opened right after the login, is not ended by it."""
    agent = {"provider_id": "p12", "crm_id": "910012", "name": "Twelve"}
    old = svc.agent(agent["crm_id"])
    s_old = svc.stream(old)
    new = svc.agent(agent["crm_id"])
    s_new = svc.stream(new)
    assert s_old.closed.wait(10), "the old token's stream is still open after a new login"
    call = Call()
    topics.produce(call.answered(agent))
    s_new.wait_kind(call, "new_case")
    assert not s_new.closed.is_set()
    assert all(p["call_id"] != call.call_id for p in s_old.pops())
    s_new.close()


def test_several_contacts_are_offered_and_one_picked(crm_pop):
    """R-C4: ticket-service's candidates (ticket event `contacts`) are on the
    ticket pop for the agent to pick from; the pick goes to agent-actions as
    contact.picked (ticket-service moves the ticket: tests/pop/e2e/test_browser.py)."""
    svc, topics, crm, agent = crm_pop.svc, crm_pop.topics, crm_pop.crm, crm_pop.agent2
    token = svc.agent(agent["crm_id"])
    sse = svc.stream(token)
    call = Call()
    topics.produce(call.answered(agent))
    newer, older = crm.example_id(81), crm.example_id(80)
    ev = pop.ticket_event(call, crm.example_id(5015), subject="Call from " + call.number,
                          contact={"id": newer, "name": "Newer"}, crm=crm)
    ev["contacts"] = [{"id": newer, "name": "Newer", "url": crm.contact_url(newer)},
                      {"id": older, "name": "Older", "email": "older@example.com"}]
    pop.e2e.validate_with_schema("ticket-event.schema.json", ev)
    pop.produce_ticket_events(topics, ev)
    tp = sse.wait_kind(call, "ticket")
    pop.check_pop(tp)
    assert [(c["id"], c["name"]) for c in tp["contacts"]] == [(newer, "Newer"), (older, "Older")]
    assert tp["caller"]["name"] == "Newer" and tp["ticket"]["subject"] == "Call from " + call.number
    status, body, _ = svc.as_agent(token, "POST", "/v1/actions",
                                   {"action": "contact.picked", "call_id": call.call_id,
                                    "contact_id": older})
    assert status == 202, body
    sse.close()


class FakeIvr:
    """ticket-service's IVR look-up (GET /v1/ivr/lookup?number=, Bearer; its
    answer as docs/ticket-service.md "IVR API" says), in a thread: answers from
    `contacts` by number, "none" otherwise; a number in `hold` is answered
    only once `release` is set. And its contact search (GET
    /v1/contacts/search?q=, issue 24 item 2): `found` by q, else none."""

    def __init__(self, token):
        import http.server
        import threading
        import urllib.parse
        fake = self
        self.contacts, self.hold, self.asked, self.found = {}, set(), [], {}
        self.release = threading.Event()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # kept alive, like ticket-service's

            def log_message(self, *a):
                pass

            def do_GET(self):
                q = urllib.parse.urlparse(self.path)
                args = urllib.parse.parse_qs(q.query)
                number = args.get("number", args.get("q", [""]))[0]
                fake.asked.append((q.path, number, self.headers.get("Authorization")))
                if self.headers.get("Authorization") != f"Bearer {token}":
                    return self._send(401, {"error": "token"})
                if q.path == "/v1/contacts/search":
                    return self._send(200, {"contacts": fake.found.get(number, [])})
                if number in fake.hold:
                    fake.release.wait(30)
                c = fake.contacts.get(number)
                self._send(200, {"status": "found", "found": True, "contact": c, "ticket": None}
                           if c else {"status": "none", "found": False})

            def _send(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.release.set()
        self.server.shutdown()


@pytest.mark.parametrize("crm", pop.e2e.crm_view.crms_to_run())
def test_ringing_notice_has_the_contact_from_ticket_services_lookup(logdir, crm):
    """R-P2: the ringing notice carries the caller's contact fields from
    ticket-service's cached IVR look-up; a look-up slower than
    CALLBUS_POP_LOOKUP_WAIT_MS does not hold the notice (it goes as
    "unknown caller"), and its late answer follows as a second notice while
    the call rings, and is on the answer's pop. Topics of its own: the module's replica (no look-up) must not pop
    these calls first."""
    topics = pop.Topics(pop.e2e.module_prefix())
    shape = pop.crm_shape(crm)
    ivr = FakeIvr("ivr-token")
    known, slow = Call(), Call()
    grace = shape.example_id(91)
    ivr.contacts[known.number] = {"id": grace, "name": "Grace", "email": "grace@example.com",
                                  "url": shape.contact_url(grace)}
    ivr.contacts[slow.number] = {"id": shape.example_id(92), "name": "Late Larry"}
    ivr.hold.add(slow.number)
    svc = pop.start_pop(topics, f"pop-lookup-{topics.prefix.rstrip('.')}", logdir,
                        f"pop-lookup-{crm}",
                        {"CALLBUS_POP_LOOKUP_URL": ivr.url, "CALLBUS_POP_LOOKUP_TOKEN": "ivr-token",
                         "CALLBUS_POP_LOOKUP_WAIT_MS": "1000",
                         "CALLBUS_POP_NEW_CASE_URL": pop.NEW_CASE_URL[crm]})
    try:
        agent = shape.agents[2]
        sse = svc.stream(svc.agent(agent["crm_id"]))
        topics.produce(known.offered(agent), slow.offered(agent))
        ring = sse.wait_kind(known, "incoming")
        pop.check_pop(ring)
        assert ring["caller"] == {"number": known.number, "name": "Grace",
                                  "email": "grace@example.com", "company": None, "known": True}
        assert ring["crm_url"] == shape.contact_url(grace)
        # The held look-up is still unanswered: the notice did not wait for it.
        late = sse.wait_kind(slow, "incoming")
        assert not ivr.release.is_set() and late["caller"]["known"] is False
        assert ("/v1/ivr/lookup", slow.number, "Bearer ivr-token") in ivr.asked
        ivr.release.set()
        # Still ringing: a second notice with the contact (the page replaces the first).
        again = sse.wait(lambda ps: [p for p in ps if p["call_id"] == slow.call_id
                                     and p["kind"] == "incoming" and p["caller"]["known"]],
                         what="the ringing notice with the late contact")
        assert [p["caller"]["name"] for p in again] == ["Late Larry"]
        topics.produce(slow.answered(agent))
        prof = sse.wait_kind(slow, "profile")  # R-P3: no ticket yet, a known customer
        assert prof["caller"]["name"] == "Late Larry"
        sse.close()
    finally:
        svc.stop()
        ivr.stop()


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain",
                                          "multipart/form-data; boundary=x", None])
def test_post_routes_need_json(svc, content_type):
    """Issue 19 item 6: every POST route answers 415 (a JSON error) unless
    the body is declared application/json, so an HTML form on another port
    of the same site (which the SameSite cookie does not stop) reaches none
    of them: the session is still alive after a form's logout."""
    token = svc.agent("930201", "prov-930201")
    cookie = {"Cookie": f"callbus_pop={token}"}
    routes = [("/v1/sessions", {"Authorization": f"Bearer {pop.SECRET}"},
               b'{"agent_crm_id": "930202"}'),
              ("/v1/sessions/heartbeat", cookie, b"{}"),
              ("/v1/actions", cookie, b'{"action": "pick_contact", "call_id": "c-1"}'),
              ("/v1/sessions/logout", cookie, b"{}")]
    for path, headers, body in routes:
        conn = http.client.HTTPConnection("127.0.0.1", svc.port, timeout=10)
        hdrs = dict(headers)
        if content_type:
            hdrs["Content-Type"] = content_type
        conn.request("POST", path, body=body, headers=hdrs)
        r = conn.getresponse()
        raw = r.read()
        conn.close()
        assert r.status == 415, (path, content_type, r.status, raw)
        assert r.getheader("Content-Type") == "application/json"
        assert "application/json" in json.loads(raw)["error"]
    status, me, _ = svc.as_agent(token, "GET", "/v1/sessions/me")
    assert status == 200 and me["agent_crm_id"] == "930201"


def test_json_posts_without_a_body_still_work(svc):
    """The page's heartbeat and logout send no fields: declared JSON, they
    pass (and the 415 is about the declaration, not the body)."""
    token = svc.agent("930203")
    for path in ("/v1/sessions/heartbeat", "/v1/sessions/logout"):
        conn = http.client.HTTPConnection("127.0.0.1", svc.port, timeout=10)
        conn.request("POST", path, headers={"Authorization": f"Bearer {token}",
                                            "Content-Type": "application/json; charset=utf-8"})
        r = conn.getresponse()
        r.read()
        conn.close()
        assert r.status == 200, path


def prov_mapping(topics, provider_id):
    """The CRM agent id Redis maps a provider agent id to ("" when none)."""
    r = subprocess.run(["redis-cli", "-u", pop.REDIS_URL, "GET",
                        f"{topics.prefix}pop:prov:{provider_id}"],
                       capture_output=True, text=True, timeout=10, check=True)
    return r.stdout.strip()


def test_one_agents_login_and_logout_keep_anothers_provider_mapping(svc, topics):
    """Issue 19 item 2 (R-P1, R-I3): a provider agent id maps to whoever
    logged in with it last. A's later logout, or A's next login, deletes
    A's own mapping only, never the one B took over; and B's login and
    logout leave A's mapping of another id alone."""
    a, b = "930301", "930302"
    shared, a_own = f"desk-{pop.RUN}-1", f"desk-{pop.RUN}-2"
    ta = svc.agent(a, shared)
    assert prov_mapping(topics, shared) == a
    tb = svc.agent(b, shared)  # B takes the desk over
    assert prov_mapping(topics, shared) == b
    assert svc.as_agent(ta, "POST", "/v1/sessions/logout")[0] == 200
    assert prov_mapping(topics, shared) == b, "A's logout deleted B's mapping"
    ta = svc.agent(a, shared)  # back to A
    assert prov_mapping(topics, shared) == a
    tb2 = svc.agent(b, f"desk-{pop.RUN}-3")  # B's next login: its old id was taken over
    assert prov_mapping(topics, shared) == a, "B's login deleted A's mapping"
    assert svc.as_agent(tb, "GET", "/v1/sessions/me")[0] == 401
    ta = svc.agent(a, a_own)  # A moves to its own desk: its old mapping goes
    assert prov_mapping(topics, shared) == ""
    assert prov_mapping(topics, a_own) == a
    assert svc.as_agent(tb2, "POST", "/v1/sessions/heartbeat")[0] == 200
    assert svc.as_agent(tb2, "POST", "/v1/sessions/logout")[0] == 200
    assert prov_mapping(topics, a_own) == a  # vice versa: B's logout keeps A's
    assert prov_mapping(topics, f"desk-{pop.RUN}-3") == ""
    assert svc.as_agent(ta, "POST", "/v1/sessions/logout")[0] == 200
    assert prov_mapping(topics, a_own) == ""
