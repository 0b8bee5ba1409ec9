"""What the provider sent, kept, and R-C5 end to end (issue 24 items 3 and
4), through the real pipeline, against each CRM (crm_view.py).

R-C5: an agent calls, from ticket T, a number that is not on T's contact:
the call lands on T (R-O1) with the dialled number in T's comment, and the
number is neither added to T's contact nor given a contact or a ticket of
its own. ticket-service finds T's customer by the index it keeps of the
tickets it made (docs/ticket-service.md)."""
from e2e import Call, crm_fixtures, new_number, one_ticket, wait_comment, wait_for


stack, _crm_defaults = crm_fixtures()


def inbound_ticket(stack, number):
    """An inbound call answered and ended: its ticket (pending), made by callbus."""
    call = Call(number=number)
    stack.produce(call.answered(stack.agent1),
                  call.ended(agent=stack.agent1,
                             durations={"wait_s": 3, "talk_s": 100, "total_s": 103}))
    t = one_ticket(stack.crm, call)
    t = wait_comment(stack.crm, t["id"], "Call summary")
    stack.svc.wait_idle()
    return stack.crm.ticket(t["id"])


def phones_of(stack, number, contact_id):
    """The phones of the contact `contact_id`, found by `number`."""
    return [c["phones"] for c in stack.crm.contacts_with_phone(number) if c["id"] == contact_id]


def test_R_C5_call_from_ticket_to_a_number_not_on_its_contact(stack):
    """R-C5 + R-O1: from ticket T (made by callbus for `number`) the agent
    calls `other`, a number no contact has. The call is attached to T, set
    open once answered, T's comment names the dialled number; no new
    ticket, no new contact, T's contact keeps exactly its phones."""
    number, other = new_number(), new_number()
    t1 = inbound_ticket(stack, number)
    contact = t1["requester"]
    phones_before = phones_of(stack, number, contact)
    assert phones_before, "T's contact has the caller's number"
    out = Call(number=other, direction="outbound")
    stack.produce(out.out_started(stack.agent2, ticket_id=t1["id"]),
                  out.out_answered(stack.agent2, ticket_id=t1["id"]),
                  out.out_ended(stack.agent2, ticket_id=t1["id"]))
    t = wait_comment(stack.crm, t1["id"], f"Dialled number: {other} (not stored on the contact)")
    assert any(f"Outbound call to {other}" in c["body"] for c in t["comments"])
    t = wait_comment(stack.crm, t1["id"], "Direction: outbound")
    stack.svc.wait_idle()
    assert stack.crm.tickets_of_call(out.call_id) == [], "no ticket of its own"
    assert stack.crm.contacts_with_phone(other) == [], "no contact for the dialled number"
    assert phones_of(stack, number, contact) == phones_before, "T's contact unchanged"
    assert stack.crm.ticket(t1["id"])["requester"] == contact
    assert stack.crm.ticket(t1["id"])["status"] == "open", "R-O1: open once answered"


def test_R_C5_replay_of_the_outbound_events_writes_once(stack):
    """The same outbound events posted twice (a provider's re-post): T gets
    the dialled-number comment once, and still no contact or ticket."""
    number, other = new_number(), new_number()
    t1 = inbound_ticket(stack, number)
    out = Call(number=other, direction="outbound")
    started = out.out_started(stack.agent1, ticket_id=t1["id"])
    stack.produce(started)
    wait_comment(stack.crm, t1["id"], f"Dialled number: {other}")
    stack.produce(started)
    stack.svc.wait_idle()
    t = stack.crm.ticket(t1["id"])
    assert sum(f"Dialled number: {other}" in c["body"] for c in t["comments"]) == 1
    assert stack.crm.tickets_of_call(out.call_id) == []
    assert stack.crm.contacts_with_phone(other) == []


def test_R_O1_ticket_callbus_did_not_make_still_gets_a_new_ticket(stack):
    """R-O1 as before: a ticket T someone else made is not attached, even
    when the number called is not its contact's: a new ticket for the call."""
    number, other = new_number(), new_number()
    user = stack.crm.seed_contact(name="Foreign", number=number)
    foreign = stack.crm.seed_ticket(subject="E-mail ticket", requester=user["id"], status="open")
    out = Call(number=other, direction="outbound")
    stack.produce(out.out_started(stack.agent1, ticket_id=foreign["id"]))
    t2 = one_ticket(stack.crm, out)
    assert t2["id"] != foreign["id"]
    wait_for(lambda: stack.crm.ticket(foreign["id"]) is not None)
    assert len(stack.crm.ticket(foreign["id"])["comments"]) == len(foreign["comments"])
