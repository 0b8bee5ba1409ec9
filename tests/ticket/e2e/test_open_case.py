"""R-T2 with CALLBUS_TICKET_REUSE_OPEN_CASE=true (issue 23 item 4, the
Webex + Dynamics flow: "l'agente riceve ... i dettagli dell'ultimo caso
creato per il cliente"): an answered call from a customer with an open
case in the CRM, made by anyone, is added to that case (no new one), and
the ticket event binding the call to it is what pop-service pops; a
customer with no unresolved case, or an unknown caller, gets a new one
(R-T1); the agent gets that case popped through pop-service (R-P3). The
policy off is test_inbound.py's R-T2 (ours only) and
test_rules.c's. Against each CRM (crm_view.py)."""
import os
import sys

import pytest

import crm_view
from e2e import IVR_TOKEN, Call, crm_fixtures, new_mobile_number, wait_comment, wait_for

sys.path.insert(0, os.path.join(crm_view.ROOT, "tests", "pop", "e2e"))
import pop  # noqa: E402

stack, _crm_defaults = crm_fixtures(env={"CALLBUS_TICKET_REUSE_OPEN_CASE": "true",
                                         "CALLBUS_IVR_TOKEN": IVR_TOKEN,
                                         "CALLBUS_IVR_CACHE_S": "0"})


@pytest.fixture(scope="module")
def popsvc(stack, logdir):
    """pop-service on the module's topics, asking this ticket-service's IVR
    look-up for its ringing notice (R-P2)."""
    s = pop.start_pop(stack.topics, f"pop-{stack.topics.prefix.rstrip('.')}", logdir,
                      f"test_open_case-pop-{stack.crm.name}",
                      {"CALLBUS_POP_LOOKUP_URL": stack.svc.url,
                       "CALLBUS_POP_LOOKUP_TOKEN": IVR_TOKEN,
                       "CALLBUS_POP_LOOKUP_WAIT_MS": "1000"})
    yield s
    if s.running():
        s.stop()


def answered_event(stack, answered):
    def announced():
        return [v for _, v in stack.topics.ticket_events()
                if v.get("cause_event_id") == answered["event_id"]]
    [ev] = wait_for(announced, 20, interval=0.5, what="the answered call's ticket event")
    return ev


def test_R_T2_open_case_gets_the_answered_call_and_its_pop(stack):
    """A case a person made (another menu selection, not ours) is open: the
    call is added to it, assigned to the agent, announced bound to the call
    (pop-service pops the call's ticket from that event, R-P3)."""
    number = new_mobile_number()
    user = stack.crm.seed_contact(name="Giulia Neri", number=number)
    stack.crm.seed_ticket(subject="Old, solved", requester=user["id"], status="solved",
                          created_at="2024-06-01T09:00:00Z")
    case = stack.crm.seed_ticket(subject="Invoice disputed", requester=user["id"],
                                 status="pending", created_at="2024-03-01T09:00:00Z")
    call = Call(number=number, queue="sales")
    answered = call.answered(stack.agent2)
    stack.produce(answered)
    t = wait_comment(stack.crm, case["id"], "answered by Agent Two")
    assert t["assignee"] == stack.agent2["crm_id"] and t["status"] == "open"
    ev = answered_event(stack, answered)
    assert ev["ticket_id"] == case["id"] and ev["created"] is False
    assert ev["call_id"] == call.call_id and ev["ticket_url"] == stack.crm.ticket_url(case["id"])
    stack.produce(call.ended(agent=stack.agent2))
    wait_comment(stack.crm, case["id"], "Call summary")
    assert len(stack.crm.tickets_of_contact(user["id"])) == 2, "no new case"


def test_R_T2_no_open_case_or_unknown_caller_gets_a_new_case(stack):
    """Only resolved cases: a new one (R-T1); an unknown caller: a contact
    and a new case (R-C2, R-T1)."""
    number = new_mobile_number()
    user = stack.crm.seed_contact(name="Paolo Gialli", number=number)
    old = stack.crm.seed_ticket(subject="Closed long ago", requester=user["id"],
                                status="closed", created_at="2024-01-01T09:00:00Z")
    call = Call(number=number)
    answered = call.answered(stack.agent1)
    stack.produce(answered)
    ev = answered_event(stack, answered)
    assert ev["created"] is True and ev["ticket_id"] != old["id"]
    cases = stack.crm.tickets_of_contact(user["id"])
    assert [c["id"] for c in cases] == [old["id"], ev["ticket_id"]]

    stranger = Call(number=new_mobile_number())
    answered = stranger.answered(stack.agent1)
    stack.produce(answered)
    ev = answered_event(stack, answered)
    assert ev["created"] is True
    [contact] = stack.crm.contacts_with_phone(stranger.number)
    assert [c["id"] for c in stack.crm.tickets_of_contact(contact["id"])] == [ev["ticket_id"]]


def test_R_P3_the_agent_gets_the_open_case_popped(stack, popsvc):
    """The seed's screen pop: the agent who answers a customer with an open
    case (made by a person) gets that case's form, through pop-service
    (R-P3: the call's ticket, once ticket-service binds it)."""
    agent = stack.agent3
    number = new_mobile_number()
    user = stack.crm.seed_contact(name="Marta Blu", number=number)
    case = stack.crm.seed_ticket(subject="Delivery late", requester=user["id"], status="open",
                                 created_at="2024-02-01T09:00:00Z")
    sse = popsvc.stream(popsvc.agent(agent["crm_id"], agent["provider_id"]))
    call = Call(number=number)
    stack.produce(call.answered(agent))
    tp = sse.wait_kind(call, "ticket", timeout=30)
    pop.check_pop(tp)
    assert tp["crm_url"] == stack.crm.ticket_url(case["id"])
    assert tp["ticket"]["id"] == case["id"]
    sse.close()
