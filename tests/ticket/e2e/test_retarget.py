"""R-P6 by picking (issue 24 item 2): ticket-service lists the customer's
writable tickets in the ticket event it publishes for the call (the pop's
"move this call to" choices), checks a move against its own state of the
customer (R-P6: this customer's; R-T10: writable) and tells the agent of a
refusal through the ticket event, the call's later writes follow a move.
And Deskie's unknown caller: the agent's contact search
(GET /v1/contacts/search) and contact.linked.

Parameterised over the CRM (crm_view.py); ticket-service alone, agent
actions produced on agent-actions as pop-service would."""
import json
import os
import subprocess

import jsonschema

from e2e import (BROKERS, IVR_TOKEN, ROOT, RUN, Call, assert_crm_requests_conform, crm_fixtures,
                 new_number, one_ticket, wait_comment, wait_for)

stack, _crm_defaults = crm_fixtures(env={"CALLBUS_IVR_TOKEN": IVR_TOKEN})
AUTH = {"Authorization": f"Bearer {IVR_TOKEN}"}

with open(os.path.join(ROOT, "schemas", "ticket-event.schema.json"), encoding="utf-8") as _f:
    TICKET_EVENT = json.load(_f)


def act(stack, call, action, n, **extra):
    """An agent action as pop-service publishes it; its ticket event's
    cause is "act-<action_id>" (tkt_actions.c)."""
    a = {"schema_version": 1, "action_id": f"act-{RUN}-{call.call_id}-{n}", "action": action,
         "call_id": call.call_id, "customer_number": call.number,
         "agent_crm_id": stack.agent1["crm_id"], "occurred_at": "2026-01-01T00:00:00Z", **extra}
    proc = subprocess.run(["kcat", "-b", BROKERS, "-P", "-t", stack.topics.prefix + "agent-actions",
                           "-K", "|"], input=f"{call.number}|{json.dumps(a)}\n",
                          text=True, capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return a["action_id"]


def answer_event(stack, action_id, what):
    ev = wait_for(lambda: next((v for _, v in stack.topics.ticket_events()
                                if v.get("cause_event_id") == f"act-{action_id}"), None),
                  30, interval=0.5, what=what)
    jsonschema.validate(ev, TICKET_EVENT)
    assert ev["action_id"] == action_id  # the pop shows the action's outcome anew
    return ev


def answered_call(stack, number=None):
    call = Call(number=number or new_number())
    stack.produce(call.answered(stack.agent1))
    return call, one_ticket(stack.crm, call)


def test_R_P6_pop_offers_only_the_customers_writable_tickets_and_a_move_moves_later_writes(stack):
    """The call's first ticket T1, then "new ticket instead" (T2): the event
    for it offers T1 (subject, status, age), not T2 (the call's own) nor
    another customer's ticket. Moving the call back to T1: the event names
    T1 and offers T2; the recording that comes later lands on T1; the
    comment already written on T2 stays there."""
    call, t1 = answered_call(stack)
    _, other = answered_call(stack)  # another customer's ticket, ours too
    ev = answer_event(stack, act(stack, call, "call.new_ticket", 1), "the new ticket's event")
    t2 = ev["ticket_id"]
    assert t2 != t1["id"] and "refusal" not in ev
    assert [t["id"] for t in ev["tickets"]] == [t1["id"]]
    choice = ev["tickets"][0]
    assert choice["subject"] == t1["subject"] and choice["status"] in ("new", "open")
    assert choice["kind"] == "call" and choice["created_at"] and choice["url"]
    assert other["id"] not in [t["id"] for t in ev["tickets"]]

    ev = answer_event(stack, act(stack, call, "call.retargeted", 2, ticket_id=t1["id"]),
                      "the move's event")
    assert ev["ticket_id"] == t1["id"] and "refusal" not in ev
    assert [t["id"] for t in ev["tickets"]] == [t2]
    wait_comment(stack.crm, t2, f"Call {call.call_id} moved to ticket {t1['id']}")
    rec = f"https://recordings.example.com/{call.call_id}-later.mp3"
    stack.produce(call.recording(url=rec))
    wait_comment(stack.crm, t1["id"], rec)
    assert not [c for c in stack.crm.ticket(t2)["comments"] if rec in c["body"]]


def test_R_P6_R_T10_move_to_another_customers_or_a_solved_ticket_is_refused_to_the_agent(stack):
    """ticket-service's check (check_retarget, on its own state of the
    customer) refuses another customer's ticket and a solved one; the agent
    hears why through the call's ticket event (the pop); nothing is written
    to the ticket named, the call stays on its own."""
    call, t1 = answered_call(stack)
    _, other = answered_call(stack)
    ev = answer_event(stack, act(stack, call, "call.retargeted", 1, ticket_id=other["id"]),
                      "the refused move's event")
    assert ev["refusal"]["reason"] == "not_the_customers_ticket"
    assert ev["refusal"]["action_id"].startswith("act-")
    assert ev["ticket_id"] == t1["id"]

    ev = answer_event(stack, act(stack, call, "call.new_ticket", 2), "the new ticket's event")
    t2 = ev["ticket_id"]
    stack.crm.set_status(t1["id"], "solved")
    ev = answer_event(stack, act(stack, call, "call.retargeted", 3, ticket_id=t1["id"]),
                      "the refused move's event")
    assert ev["refusal"]["reason"] == "ticket_not_writable"
    assert ev["ticket_id"] == t2
    for tid in (other["id"], t1["id"]):
        assert not [c for c in stack.crm.ticket(tid)["comments"]
                    if f"Call {call.call_id} attached" in c["body"]]


def test_unknown_caller_is_linked_to_the_contact_the_agent_finds(stack):
    """Deskie's unknown caller: nobody had the number, so the answer's
    event says new_contact; the agent searches the CRM's contacts by name
    (ticket-service's GET /v1/contacts/search, the IVR's bearer token) and
    links the call to one (contact.linked): the ticket's requester becomes
    that contact, the number is added to it, the event says so, and the
    caller's next call lands on that contact."""
    known = stack.crm.seed_contact(f"Ada Linked{RUN}", new_number(),
                                   email=f"ada{RUN}@example.com")
    call = Call(number=new_number())
    answered = call.answered(stack.agent1)
    stack.produce(answered)
    t = one_ticket(stack.crm, call)
    ev = wait_for(lambda: next((v for _, v in stack.topics.ticket_events()
                                if v.get("cause_event_id") == answered["event_id"]), None),
                  30, interval=0.5, what="the answer's ticket event")
    assert ev["new_contact"] is True and ev["contact"]["id"] == t["requester"]

    status, body, _ = stack.svc.http("GET", "/v1/contacts/search?q=" + f"Linked{RUN}", headers=AUTH)
    assert status == 200, body
    assert [c["id"] for c in body["contacts"]] == [known["id"]]
    assert body["contacts"][0]["url"] == stack.crm.contact_url(known["id"])
    status, body, _ = stack.svc.http("GET", f"/v1/contacts/search?q=ada{RUN}%40example", headers=AUTH)
    assert status == 200 and [c["id"] for c in body["contacts"]] == [known["id"]]
    assert stack.svc.http("GET", "/v1/contacts/search?q=Ada")[0] == 401
    assert stack.svc.http("GET", "/v1/contacts/search", headers=AUTH)[0] == 400

    ev = answer_event(stack, act(stack, call, "contact.linked", 1, contact_id=known["id"]),
                      "the link's event")
    assert ev["contact"]["id"] == known["id"] and ev["new_contact"] is False
    wait_for(lambda: stack.crm.ticket(t["id"])["requester"] == known["id"], 20,
             what="the ticket moved to the contact found")
    wait_for(lambda: known["id"] in [c["id"] for c in stack.crm.contacts_with_phone(call.number)],
             20, what="the caller's number added to the contact")
    again = Call(number=call.number)  # its ticket (made or reused, R-T2) is the contact's
    answered = again.answered(stack.agent1)
    stack.produce(answered)
    ev = wait_for(lambda: next((v for _, v in stack.topics.ticket_events()
                                if v.get("cause_event_id") == answered["event_id"]), None),
                  30, interval=0.5, what="the next call's ticket event")
    assert "new_contact" not in ev
    assert stack.crm.ticket(ev["ticket_id"])["requester"] == known["id"]


def test_zz_every_request_conforms(stack):
    """Every request of this module, the contact search and Create Identity
    (Zendesk) or the contact PATCH (Dynamics) included, conforms to the
    vendor's API (Zendesk's OpenAPI document; OData 4.0 with a Bearer token)."""
    stack.svc.wait_idle()
    assert_crm_requests_conform(stack)
