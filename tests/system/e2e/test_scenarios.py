"""Call scenarios across the whole product (issue 15 item 1): provider
webhooks (CallGear, Twilio, Webex, generic/TVox) -> callbus-ingest -> Kafka
-> callbus-ticket, callbus-missed, callbus-pop -> the CRM's emulator and
the agents' pop streams. Each scenario asserts the CRM's final state (read
through the CRM-neutral view, w.crm: tests/ticket/e2e/crm_view.py) and the
pops the agents received. Run once per CRM (zendesk, dynamics;
CALLBUS_E2E_CRMS picks), one stack per CRM for the module (whole.py);
ticket transfer policy `reassign` (the default; `split` is
test_scenarios_split.py).

A call whose end never comes is posted when the stack starts and checked
last: the stale-call sweep (every 30 s, CALLBUS_TICKET_MAX_CALL_AGE_S=60,
its minimum) runs while the other scenarios do, SWEEP_TIME_SCALE times
faster (every 10 s for calls idle 20 s: far longer than any scenario's
pause within a call, so no scenario's call is closed while it is checked;
the other scenarios take about 30 s, so the last one hardly waits)."""
import itertools
import random
import re
import time
import urllib.parse

import pytest

import whole
from whole import callgear_doc, webex_doc, wait_for

MAX_CALL_AGE_S = 60
SWEEP_TIME_SCALE = 3  # CALLBUS_TICKET_SWEEP_TIME_SCALE (tests only)
_sessions = itertools.count(random.SystemRandom().randrange(10 ** 8, 9 * 10 ** 8) * 10)


def session():
    return next(_sessions)


def number():
    return whole.e2e.new_number()


@pytest.fixture(scope="module", params=whole.crm_params())
def w(request, tmp_path_factory):
    stack = whole.Whole(str(tmp_path_factory.mktemp("scenarios")), f"scen-{request.param}",
                        {"CALLBUS_TICKET_MAX_CALL_AGE_S": str(MAX_CALL_AGE_S),
                         "CALLBUS_TICKET_SWEEP_TIME_SCALE": str(SWEEP_TIME_SCALE)},
                        crm=request.param)
    # The call that never ends: answered, then silence.
    stack.stale = (session(), number(), time.monotonic())
    stack.ingest.callgear("handset", callgear_doc("handset", stack.stale[0], stack.stale[1],
                                                  agent_ids(stack)[0]))
    yield stack
    rcs = stack.close()
    assert all(rc == 0 for _, rc in rcs), rcs


def agent_ids(w):
    """The crm ids of the CRM's first and second agent."""
    return [a["crm_id"] for a in w.agents]


def ticket_of(w, call_id, status=None, timeout=30):
    """The one ticket of the call (external id callbus-<call>), once it has `status`."""
    def found():
        ts = w.crm.tickets_of_call(call_id)
        assert len(ts) <= 1, [t["id"] for t in ts]
        return ts[0] if ts and (status is None or ts[0]["status"] == status) else None
    return wait_for(found, timeout, what=f"the ticket of {call_id} ({status or 'any'})")


def texts(ticket):
    return "\n".join(c["body"] for c in ticket["comments"])


def test_inbound_answered_callgear(w):
    """R-T1, R-T5, R-T6, R-P3: answered -> assigned ticket and its pop; end ->
    summary, pending; recording -> its link."""
    A1, A2 = agent_ids(w)
    s, phone = session(), number()
    for name in ("handset", "end_answered", "recording"):
        w.ingest.callgear(name.split("_")[0], callgear_doc(name, s, phone, A1, talk_s=80))
    t = wait_for(lambda: (lambda t: t if t["status"] == "pending" and "Recording" in texts(t)
                          else None)(ticket_of(w, s)), 30, what="summary and recording")
    assert t["assignee"] == A1 and t["subject"] == f"Call from {phone}"
    assert f"Call ID: {s}" in texts(t)
    p = w.wait_pop(A1, s, ticket_id=t["id"])
    assert p["agent_crm_id"] == A1 and p["caller"]["number"] == phone
    assert not w.pops_of(A2, s), "another agent got this call's pop"


def test_transfer_reassign_webex(w):
    """R-T4 (reassign), R-P4: Webex answered by agent 1, transferred to
    agent 2: one ticket, reassigned, a transfer note; both agents popped."""
    A1, A2 = agent_ids(w)
    call, phone = f"whole-{session()}", number()
    w.ingest.webex(webex_doc("answered", call, phone, A1))
    t = ticket_of(w, call)
    w.wait_pop(A1, call, ticket_id=t["id"])
    w.ingest.webex(webex_doc("transferred", call, phone, A2, A1))
    w.wait_pop(A2, call, ticket_id=t["id"])
    w.ingest.webex(webex_doc("ended", call, phone, A2))
    t = ticket_of(w, call, "pending")
    assert t["assignee"] == A2
    assert re.search(r"[Tt]ransferred", texts(t)), texts(t)


def test_three_missed_then_callback_answered(w):
    """R-M1, R-M2, R-M3 (a/b): three missed calls from one customer (CallGear
    offered to agent 2 twice, Twilio abandoned once) make ONE missed-call
    ticket with three lines; the customer calls back, agent 1 answers: the
    missed-call ticket ends pending when the callback was attached to it,
    closed when the callback got a ticket of its own."""
    A1, A2 = agent_ids(w)
    phone = number()
    missed = [session(), session()]
    for s in missed:
        w.ingest.callgear("end", callgear_doc("end_missed", s, phone, A2))
    pairs = urllib.parse.parse_qsl(whole.fixture("twilio_inbound_canceled.form").strip())
    pairs = [(k, {"CallSid": f"CA{session():032d}"[:34], "From": phone,
                  "Caller": phone}.get(k, v)) for k, v in pairs]
    w.ingest.twilio(pairs)
    grouped = missed_e2e_wait(w, phone, 3)
    assert len(grouped) == 1
    mt = grouped[0]
    assert mt["status"] == "open" and "callbus_missed" in mt["tags"]
    assert mt["assignee"] == A2  # the last agent the calls were offered to (R-M1)
    assert not [p for s in missed for p in w.pops_of(A2, s) if p["kind"] == "ticket"]
    back = session()
    for name in ("handset", "end_answered"):
        w.ingest.callgear(name.split("_")[0], callgear_doc(name, back, phone, A1, talk_s=40))
    w.wait_pop(A1, back)
    w.settle()

    def reached():
        m = w.crm.ticket(mt["id"])
        return m if m["status"] in ("pending", w.crm.closed) else None
    m = wait_for(reached, 30, what="the missed-call ticket to be reached (R-M3)")
    own = w.crm.tickets_of_call(back)
    # (a) the callback has its own ticket: the missed one is closed (w.crm.closed:
    # Dynamics closes a case only by resolving it, CloseIncident)
    if own:
        assert m["status"] == w.crm.closed and own[0]["status"] == "pending"
    else:    # (b) attached to the missed-call ticket: pending at the end
        assert m["status"] == "pending" and "Talk" in texts(m)
    assert len(whole.missed_e2e.missed_lines(m)) == 3


def missed_e2e_wait(w, phone, n_calls):
    return whole.missed_e2e.wait_missed(w, phone, 1, n_calls, 40)


def test_voicemail_while_an_open_ticket_exists(w):
    """R-T3, R-T11: the customer has an open (pending) ticket of an answered
    call; their voicemail is always a new ticket, assigned to no agent."""
    A1, A2 = agent_ids(w)
    phone = number()
    first = session()
    for name in ("handset", "end_answered"):
        w.ingest.callgear(name.split("_")[0], callgear_doc(name, first, phone, A1, talk_s=30))
    t1 = ticket_of(w, first, "pending")
    vm = session()
    w.ingest.callgear("end", callgear_doc("end_voicemail", vm, phone))
    t2 = ticket_of(w, vm)
    assert t2["id"] != t1["id"] and t2["assignee"] is None
    assert w.crm.ticket(t1["id"])["status"] == "pending"
    assert not w.pops_of(A1, vm) and not w.pops_of(A2, vm), "nobody answered: no pop"


def test_outbound_from_a_missed_call_ticket(w):
    """R-O1, R-M3 (c): agent 1 calls the customer from their missed-call
    ticket (CallGear callout with the ticket id), the customer answers: the
    agent is popped that ticket, the call is on it, and it ends pending; no
    other ticket."""
    A1, A2 = agent_ids(w)
    phone = number()
    w.ingest.callgear("end", callgear_doc("end_missed", session(), phone, A2))
    [mt] = missed_e2e_wait(w, phone, 1)
    out = session()
    w.ingest.callgear("callout", callgear_doc("callout", out, phone, A1, ticket_id=mt["id"]))
    answered = callgear_doc("handset", out, phone, A1, ticket_id=mt["id"])
    answered["call_info"]["direction"] = "out"
    w.ingest.callgear("handset", answered)
    w.wait_pop(A1, out, ticket_id=mt["id"])  # R-P3: outbound.answered pops the call's ticket
    end = callgear_doc("end_outbound", out, phone, A1, ticket_id=mt["id"], talk_s=55)
    end["call_info"]["is_lost"] = False
    w.ingest.callgear("end", end)
    m = wait_for(lambda: (lambda m: m if m["status"] == "pending" else None)(
        w.crm.ticket(mt["id"])), 30, what="the missed-call ticket pending (R-M3 c)")
    assert not [t for t in w.crm.tickets_of_call(out) if t["id"] != mt["id"]]
    assert str(out) in texts(m)


def test_callgear_name_tags_and_every_recording_link(w):
    """issue 24 item 3, through ingest: a new caller's contact is named with
    CallGear's contact_full_name (not the number), its tag_names are the
    ticket's tags, and every record_file_links link is in the recording's
    comment (R-T6)."""
    A1, _ = agent_ids(w)
    s, phone = session(), number()
    for name in ("handset", "end_answered", "recording"):
        w.ingest.callgear(name.split("_")[0], callgear_doc(name, s, phone, A1, talk_s=80))
    links = callgear_doc("recording", s, phone)["call_record_file_info"]["record_file_links"]
    t = wait_for(lambda: (lambda t: t if all(u in texts(t) for u in links) else None)(
        ticket_of(w, s)), 30, what="every recording link")
    assert "vip" in t["tags"]  # Dynamics: a word of the marker column
    assert [c["name"] for c in w.crm.contacts_with_phone(phone)] == ["Mehmet Demir"]


def call_from_ticket(w, route, tid, other):
    """Agent 1 calls `other` from ticket `tid`, answered and ended, through
    ingest's `route`: CallGear (callout/handset/end, external_id = the
    ticket) or the generic form (outbound.* events with ticket_id). The call id."""
    agent = w.agents[0]
    A1 = agent["crm_id"]
    if route == "generic":
        call = whole.e2e.Call(number=other, direction="outbound")
        w.ingest.generic(call.out_started(agent, ticket_id=str(tid)),
                         call.out_answered(agent, ticket_id=str(tid)),
                         call.out_ended(agent, ticket_id=str(tid)))
        return call.call_id
    out = session()
    w.ingest.callgear("callout", callgear_doc("callout", out, other, A1, ticket_id=tid))
    answered = callgear_doc("handset", out, other, A1, ticket_id=tid)
    answered["call_info"]["direction"] = "out"
    w.ingest.callgear("handset", answered)
    end = callgear_doc("end_outbound", out, other, A1, ticket_id=tid, talk_s=55)
    end["call_info"]["is_lost"] = False
    w.ingest.callgear("end", end)
    return out


@pytest.mark.parametrize("route", ["callgear", "generic"])
def test_call_from_a_ticket_to_another_number_R_C5(w, route):
    """R-C5 + R-O1 through ingest: from ticket T of one customer, agent 1
    calls another number, the ticket named by the provider's route: the
    call is on T, whose comment names the number dialled; that number gets
    no contact and no ticket, T's customer no new number."""
    A1, _ = agent_ids(w)
    s, phone, other = session(), number(), number()
    for name in ("handset", "end_answered"):
        w.ingest.callgear(name.split("_")[0], callgear_doc(name, s, phone, A1, talk_s=80))
    t = ticket_of(w, s, status="pending")
    contacts = [(c["id"], c["phones"]) for c in w.crm.contacts_with_phone(phone)]
    out = call_from_ticket(w, route, t["id"], other)
    w.wait_pop(A1, out, ticket_id=t["id"])  # R-P3: the agent is popped T, not a new ticket
    t = wait_for(lambda: (lambda x: x if "Direction: outbound" in texts(x) else None)(
        w.crm.ticket(t["id"])), 30, what="the outbound call's summary on T")
    assert f"Dialled number: {other} (not stored on the contact)" in texts(t)
    assert t["status"] == "open"
    assert [x["id"] for x in w.crm.tickets_of_call(out)] in ([], [t["id"]])  # no ticket of its own
    assert w.crm.contacts_with_phone(other) == []
    assert [(c["id"], c["phones"]) for c in w.crm.contacts_with_phone(phone)] == contacts


def test_ivr_pre_created_then_answer_and_transfer(w):
    """R-T8, R-T4, R-P4: TVox's IVR pre-creates the ticket over the IVR API,
    then the generic route carries answer (agent 1), transfer (agent 2) and
    end: that very ticket is popped to both agents and reassigned."""
    A1, A2 = agent_ids(w)
    call = whole.e2e.Call()
    status, body, _ = w.ticket.http("POST", "/v1/ivr/tickets",
                                    {"call_id": call.call_id, "number": call.number,
                                     "ticket_type": "billing_dispute"},
                                    {"Authorization": f"Bearer {whole.IVR_TOKEN}"})
    assert status == 201, body
    tid = body["ticket_id"]
    w.ingest.generic(call.answered(w.agents[0]))
    w.wait_pop(A1, call.call_id, ticket_id=tid)
    w.ingest.generic(call.transferred(w.agents[1], w.agents[0]), call.ended(agent=w.agents[1]))
    w.wait_pop(A2, call.call_id, ticket_id=tid)
    t = wait_for(lambda: (lambda t: t if t["status"] == "pending" else None)(
        w.crm.ticket(tid)), 30, what="the IVR ticket pending")
    assert t["assignee"] == A2
    assert [x["id"] for x in w.crm.tickets_of_call(call.call_id)] == [str(tid)]


def test_several_contacts_picked_on_the_agent_page(w):
    """R-C4: two contacts share the number; the ticket goes to the newest,
    the pop offers both, the agent picks the older one (POST /v1/actions,
    as the agent page does) and the ticket moves to them."""
    A1, A2 = agent_ids(w)
    phone = number()
    older = w.crm.seed_contact("Old Contact", phone, created_at="2021-03-01T10:00:00Z")
    newest = w.crm.seed_contact("New Contact", phone, created_at="2024-02-01T10:00:00Z")
    s = session()
    w.ingest.callgear("handset", callgear_doc("handset", s, phone, A1))
    t = ticket_of(w, s)
    assert t["requester"] == newest["id"]
    p = w.wait_pop(A1, s, ticket_id=t["id"])
    assert [c["id"] for c in p["contacts"]] == [newest["id"], older["id"]]
    status, body, _ = w.pop.as_agent(w.token(A1), "POST", "/v1/actions",
                                     {"action": "contact.picked", "call_id": str(s),
                                      "contact_id": older["id"]})
    assert status == 202, body
    wait_for(lambda: w.crm.ticket(t["id"])["requester"] == older["id"], 30,
             what="the ticket moved to the picked contact")
    w.ingest.callgear("end", callgear_doc("end_answered", s, phone, A1, talk_s=20))
    t = ticket_of(w, s, "pending")
    assert t["requester"] == older["id"]


def test_zz_call_whose_end_never_comes(w):
    """docs/operations.md: a call with no end for MAX_CALL_AGE_S is closed
    with what is known by the sweep: its ticket gets the summary and is
    no longer open; the agent's current call clears."""
    A1, A2 = agent_ids(w)
    s, phone, t0 = w.stale
    t = ticket_of(w, s)
    w.wait_pop(A1, s, ticket_id=t["id"])
    left = (MAX_CALL_AGE_S + 30) / SWEEP_TIME_SCALE + 15 - (time.monotonic() - t0)
    t = wait_for(lambda: (lambda t: t if t["status"] != "open" else None)(
        w.crm.ticket(t["id"])), max(left, 5), interval=1,
        what="the stale call to be closed by the sweep")
    assert w.ticket.metric("ticket_calls_timed_out_total") >= 1
    assert t["assignee"] == A1
    wait_for(lambda: w.pop.as_agent(w.token(A1), "GET", "/v1/sessions/me")[1]["current_call"]
             != str(s), 15, what="the agent's current call to clear")
