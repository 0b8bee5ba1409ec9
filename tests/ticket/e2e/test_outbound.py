"""Outbound calls (BEHAVIOUR.md R-O1..R-O4) and R-T11 without a default
assignee, through the real pipeline, against each CRM (issue 13; crm_view.py).
ticket-service here: 1 s batch window, (Zendesk) fields mapped, no default
assignee, outbound_unattached_closed off (CCAI)."""
import pytest

from e2e import (F_FROM, OUR_NUMBER, Call, assert_crm_requests_conform, comments_with,
                 crm_fixtures, field, new_number, one_ticket, wait_comment)


stack, _crm_defaults = crm_fixtures()


def inbound_ticket(stack, number, status=None, total_s=107):
    """An inbound call answered and ended (its ticket pending), optionally
    then set to `status` by a person. Returns (call, ticket)."""
    call = Call(number=number)
    stack.produce(call.answered(stack.agent1),
                  call.ended(agent=stack.agent1,
                             durations={"wait_s": 3, "talk_s": max(total_s - 3, 0),
                                        "total_s": total_s}))
    t = one_ticket(stack.crm, call)
    t = wait_comment(stack.crm, t["id"], "Call summary")
    assert t["status"] == "pending"
    if status:
        stack.crm.set_status(t["id"], status)
    stack.svc.wait_idle()
    return call, stack.crm.ticket(t["id"])


def test_R_O1_call_from_our_active_ticket_is_attached_and_set_open(stack):
    """R-O1: an agent calls from a ticket this integration created, still
    new/open/pending/hold: the call is attached to it, and set open once the
    customer answers (not before: R-O3); the end of the call is summarised
    there; no new ticket."""
    number = new_number()
    _, t1 = inbound_ticket(stack, number)
    before = stack.crm.ticket(t1["id"])["status"]
    out = Call(number=number, direction="outbound")
    stack.produce(out.out_started(stack.agent2, ticket_id=t1["id"]))
    t = wait_comment(stack.crm, t1["id"], f"Outbound call to {number}")
    assert t["status"] == before, "an attempt alone changes no status (R-O3)"
    stack.produce(out.out_answered(stack.agent2, ticket_id=t1["id"]),
                  out.out_ended(stack.agent2, ticket_id=t1["id"]))
    t = wait_comment(stack.crm, t1["id"], "Direction: outbound")
    assert stack.crm.tickets_of_call(out.call_id) == []
    assert t["status"] == "open"


@pytest.mark.parametrize("status", ["solved", "closed"])
def test_R_O1_solved_or_closed_ticket_is_not_attached(stack, status):
    """R-O1: a solved/closed ticket cannot be attached: a new ticket."""
    number = new_number()
    _, t1 = inbound_ticket(stack, number, status=status)
    out = Call(number=number, direction="outbound")
    stack.produce(out.out_started(stack.agent2, ticket_id=t1["id"]))
    t2 = one_ticket(stack.crm, out)
    assert t2["id"] != t1["id"]
    assert t2["subject"] == f"Call to {number}"
    assert t2["assignee"] == stack.agent2["crm_id"]
    assert "callbus_outbound" in t2["tags"]  # Dynamics: the marker column (issue 23 item 3)
    if stack.crm.has_fields:
        assert field(t2, F_FROM) == OUR_NUMBER, "R-T9 from-number of an outbound call"
    after = stack.crm.ticket(t1["id"])
    assert after["status"] == status and len(after["comments"]) == len(t1["comments"])


def test_R_O1_ticket_not_created_by_callbus_is_not_attached(stack):
    """R-O1: "attached ... if this integration created it": an agent's call
    from a ticket someone else made gets a new ticket; that one is untouched."""
    number = new_number()
    user = stack.crm.seed_contact(name="Foreign", number=number)
    foreign = stack.crm.seed_ticket(subject="E-mail ticket", requester=user["id"],
                                    status="open")
    out = Call(number=number, direction="outbound")
    stack.produce(out.out_started(stack.agent1, ticket_id=foreign["id"]))
    t2 = one_ticket(stack.crm, out)
    assert t2["id"] != foreign["id"]
    assert t2["requester"] == user["id"]
    assert len(stack.crm.ticket(foreign["id"])["comments"]) == len(foreign["comments"])


def test_R_O2_latest_ticket_not_open_new_ticket(stack):
    """R-O2 (CCAI): an agent calls without a ticket and the customer's latest
    ticket is not open: a new ticket, the agent's."""
    number = new_number()
    _, t1 = inbound_ticket(stack, number, status="closed")
    out = Call(number=number, direction="outbound")
    stack.produce(out.out_started(stack.agent2), out.out_answered(stack.agent2),
                  out.out_ended(stack.agent2))
    t2 = one_ticket(stack.crm, out)
    assert t2["id"] != t1["id"]
    assert t2["subject"] == f"Call to {number}"
    assert t2["assignee"] == stack.agent2["crm_id"]
    wait_comment(stack.crm, t2["id"], "Direction: outbound")


def test_R_O2_latest_ticket_open_is_used(stack):
    """R-O2's other side: the customer's latest ticket of ours is still open:
    the agent's call goes there."""
    number = new_number()
    _, t1 = inbound_ticket(stack, number)
    out = Call(number=number, direction="outbound")
    stack.produce(out.out_started(stack.agent2), out.out_answered(stack.agent2),
                  out.out_ended(stack.agent2))
    wait_comment(stack.crm, t1["id"], "Direction: outbound")
    assert stack.crm.tickets_of_call(out.call_id) == []


def test_R_O3_unanswered_attempt_logged_without_status_change(stack):
    """R-O3: an outbound call nobody answered is logged on the ticket as an
    attempt and changes no status (the pending ticket stays pending)."""
    number = new_number()
    _, t1 = inbound_ticket(stack, number)
    out = Call(number=number, direction="outbound")
    stack.produce(out.out_started(stack.agent1, ticket_id=t1["id"]),
                  out.out_ended(stack.agent1, outcome="missed", durations={"total_s": 25},
                                ticket_id=t1["id"]))
    t = wait_comment(stack.crm, t1["id"], "Call attempt (not answered)")
    stack.svc.wait_idle()
    t = stack.crm.ticket(t1["id"])
    assert stack.crm.tickets_of_call(out.call_id) == []
    assert t["status"] == "pending", "R-O3: an unanswered attempt changes no status"


def test_R_O4_hang_up_and_call_back_goes_to_same_ticket(stack):
    """R-O4: a call that lasted under 10 s, and the agent calls straight back:
    the callback is added to that call's ticket, even though the customer
    has a newer ticket (a voicemail) meanwhile."""
    number = new_number()
    short, t1 = inbound_ticket(stack, number, total_s=6)
    vm = Call(number=number)
    stack.produce(vm.ended("voicemail", durations={"total_s": 20}))
    t_vm = one_ticket(stack.crm, vm)
    stack.svc.wait_idle()
    back = Call(number=number, direction="outbound", start=short.clock + 20)
    stack.produce(back.out_started(stack.agent1), back.out_answered(stack.agent1),
                  back.out_ended(stack.agent1))
    wait_comment(stack.crm, t1["id"], f"Outbound call to {number}")
    assert stack.crm.tickets_of_call(back.call_id) == []
    assert not comments_with(stack.crm.ticket(t_vm["id"]), "Outbound call")


def test_R_T11_no_default_assignee_unanswered_ticket_is_unassigned(stack):
    """R-T11: with no default user configured, a ticket no agent answered is
    assigned to no one (never to an arbitrary agent)."""
    call = Call()
    stack.produce(call.ended("abandoned", durations={"wait_s": 10, "total_s": 12}))
    t = one_ticket(stack.crm, call)
    assert t["assignee"] is None
    assert t["subject"] == f"Missed call from {call.number}"
    vm = Call()
    stack.produce(vm.ended("voicemail", durations={"total_s": 30}))
    assert one_ticket(stack.crm, vm)["assignee"] is None


def test_zz_every_request_conforms(stack):
    stack.svc.wait_idle()
    assert_crm_requests_conform(stack)
