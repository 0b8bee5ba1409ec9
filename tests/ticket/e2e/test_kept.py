"""What the provider sent, kept, and R-C5 end to end (issue 24 items 3 and
4), through the real pipeline, against each CRM (crm_view.py).

R-C5: an agent calls, from ticket T, a number that is not on T's contact:
the call lands on T (R-O1) with the dialled number in T's comment, and the
number is neither added to T's contact nor given a contact or a ticket of
its own. ticket-service finds T's customer by the index it keeps of the
tickets it made (docs/ticket-service.md)."""
from e2e import Call, assert_crm_requests_conform, crm_fixtures, new_number, one_ticket, wait_comment, wait_for


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
    # (Dynamics tells a call's cases by ticket-events, where T is announced
    # again for this call under the dialled number's key: T itself is no
    # ticket of its own.)
    assert [x for x in stack.crm.tickets_of_call(out.call_id) if x["id"] != t1["id"]] == [], \
        "no ticket of its own"
    assert [x["id"] for x in stack.crm.tickets_of_contact(contact)] == [t1["id"]]
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
    assert [x["id"] for x in stack.crm.tickets_of_contact(t1["requester"])] == [t1["id"]]
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


# ---- issue 24 item 3: the name, tags and recording links CallGear sent ----------

def answered(call, agent, **extra):
    """call.answered carrying more of what the provider sent (customer_name, tags)."""
    return call.event("call.answered", agent=agent, durations={"wait_s": 12}, leg=call._leg(),
                      **extra)


def test_new_contact_named_by_provider_and_tags_on_the_ticket(stack):
    """A caller no contact has: the contact callbus creates is named as the
    provider knows them (customer_name, CallGear contact_full_name), not by
    the number; the provider's tags (CallGear tag_names) become ticket tags
    (Zendesk tags; Dynamics: the marker column), one word each, and tags
    sent at the end of the call are added to the ticket's."""
    number = new_number()
    call = Call(number=number)
    stack.produce(answered(call, stack.agent1, customer_name="Mehmet Demir", tags=["VIP"]))
    t = one_ticket(stack.crm, call)
    contacts = wait_for(lambda: stack.crm.contacts_with_phone(number), what="the new contact")
    assert [c["name"] for c in contacts] == ["Mehmet Demir"]
    assert t["requester"] == contacts[0]["id"]
    assert "vip" in t["tags"] and "callbus_call" in t["tags"]
    stack.produce(call.ended(agent=stack.agent1, customer_name="Mehmet Demir",
                             tags=["VIP", "Geri Ara"]))
    t = wait_comment(stack.crm, t["id"], "Call summary")
    t = wait_for(lambda: (lambda x: x if "geri_ara" in x["tags"] else None)(
        stack.crm.ticket(t["id"])), what="the end's tag added")
    assert {"vip", "geri_ara", "callbus_call"} <= set(t["tags"])
    assert len(stack.crm.contacts_with_phone(number)) == 1
    assert_crm_requests_conform(stack)  # the name and tags as each CRM takes them


def test_existing_contact_is_never_renamed(stack):
    """R-C3: a contact with the number exists: the call's ticket goes on it
    and its name stays whatever the provider calls the customer."""
    number = new_number()
    user = stack.crm.seed_contact(name="Ayse Yilmaz", number=number)
    call = Call(number=number)
    stack.produce(answered(call, stack.agent1, customer_name="Someone Else"))
    t = one_ticket(stack.crm, call)
    assert t["requester"] == user["id"]
    stack.svc.wait_idle()
    assert [c["name"] for c in stack.crm.contacts_with_phone(number)] == ["Ayse Yilmaz"]


def test_R_T6_every_recording_link_in_the_comment(stack):
    """R-T6: a recording with several links (CallGear record_file_links:
    one per leg or format): the comment lists every one, not the first only."""
    call = Call()
    stack.produce(call.answered(stack.agent1), call.ended(agent=stack.agent1))
    t = one_ticket(stack.crm, call)
    links = [f"https://recordings.example.com/{call.call_id}/{n}" for n in ("1.mp3", "2.mp3",
                                                                           "1.wav")]
    stack.produce(call.event("call.recording_ready",
                             recording={"url": links[0], "duration_s": 95,
                                        "more_urls": links[1:]}))
    t = wait_comment(stack.crm, t["id"], links[2])
    body = next(c["body"] for c in t["comments"] if links[0] in c["body"])
    assert all(link in body for link in links), body
