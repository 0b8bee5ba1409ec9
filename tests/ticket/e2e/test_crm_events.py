"""Issue 25 item 2 (R-T2, R-T10, R-T7): ticket-service with
CALLBUS_TICKET_CRM_EVENTS=on learns from crm-events (schemas/
crm-event.schema.json) that a person solved the customer's ticket, so the
customer's next call makes a new ticket without reading that ticket's
status; without such an event the status is read as before. The crm-events
are produced here with kcat, as ingest's CRM webhook routes will (built
beside this). Against each CRM (crm_view.py)."""
import json
import subprocess
import time

from e2e import (BROKERS, Call, crm_fixtures, iso_ms, new_number, one_ticket, validate_with_schema,
                 wait_for)

stack, _crm_defaults = crm_fixtures(env={"CALLBUS_TICKET_CRM_EVENTS": "on",
                                         "CALLBUS_TICKET_CRM_EVENTS_FRESH_S": "300"})

APPLIED = 'ticket_crm_events_total{result="applied"}'


def produce_crm_event(stack, ticket, status, at):
    """What ingest produces when the CRM says `ticket` went to `status`."""
    ev = {"schema_version": 1, "event_id": f"{stack.crm.name}-{ticket['id']}-{int(at * 1000)}",
          "crm": stack.crm.name, "type": "ticket.status_changed", "ticket_id": str(ticket["id"]),
          "status": status, "previous_status": ticket["status"],
          "requester_id": str(ticket["requester"]), "occurred_at": iso_ms(at),
          "received_at": iso_ms(at + 0.1)}
    validate_with_schema("crm-event.schema.json", ev)
    proc = subprocess.run(
        ["kcat", "-b", BROKERS, "-P", "-t", stack.topics.prefix + "crm-events", "-K", "|",
         "-X", "acks=all"], input=f"{ev['requester_id']}|{json.dumps(ev)}\n", text=True,
        capture_output=True, timeout=60)
    assert proc.returncode == 0, f"kcat -P failed: {proc.stderr}"


def ticket_a_person_solves(stack):
    """A customer's answered and ended call: ticket T of ours, pending; then
    a person solves T in the CRM."""
    number = new_number()
    first = Call(number=number, queue="billing")
    stack.produce(first.answered(stack.agent1), first.ended())
    t = one_ticket(stack.crm, first)
    wait_for(lambda: stack.crm.ticket(t["id"])["status"] == "pending", what="the first call's end")
    stack.svc.wait_idle()
    t = stack.crm.ticket(t["id"])
    stack.crm.set_status(t["id"], "solved")
    return number, t


def next_call_gets_a_new_ticket(stack, number, solved):
    mark = stack.crm.mark()
    second = Call(number=number, queue="billing", start=time.time())
    stack.produce(second.answered(stack.agent2))
    t2 = one_ticket(stack.crm, second)
    assert t2["id"] != solved["id"], "R-T10: a solved ticket is never written to"
    stack.svc.wait_idle()
    return stack.crm.status_reads(mark, solved["id"])


def test_R_T10_solved_known_from_the_crm_event_no_status_read(stack):
    number, solved = ticket_a_person_solves(stack)
    applied = stack.svc.metric(APPLIED)
    produce_crm_event(stack, solved, "solved", time.time())
    wait_for(lambda: stack.svc.metric(APPLIED) == applied + 1, what="the crm event applied")
    reads = next_call_gets_a_new_ticket(stack, number, solved)
    assert reads == [], f"R-T2: the solved ticket's status was read: {reads}"


def test_R_T2_without_an_event_the_status_is_read_as_before(stack):
    number, solved = ticket_a_person_solves(stack)
    reads = next_call_gets_a_new_ticket(stack, number, solved)
    assert len(reads) >= 1, "R-T2: the ticket's status was not read"


def test_unknown_ticket_and_replay_change_nothing(stack):
    """A ticket callbus did not make is ignored (counted); the same event
    again is a replay: nothing applied twice."""
    unknown = 'ticket_crm_events_total{result="unknown_ticket"}'
    before = stack.svc.metric(unknown)
    user = stack.crm.seed_contact(name="Anna Blu", number=new_number())
    theirs = stack.crm.seed_ticket(subject="A person's", requester=user["id"], status="open")
    produce_crm_event(stack, theirs, "solved", time.time())
    wait_for(lambda: stack.svc.metric(unknown) == before + 1, what="the unknown ticket counted")
    number, solved = ticket_a_person_solves(stack)
    applied = stack.svc.metric(APPLIED)
    at = time.time()
    produce_crm_event(stack, solved, "solved", at)
    wait_for(lambda: stack.svc.metric(APPLIED) == applied + 1, what="the crm event applied")
    not_newer = 'ticket_crm_events_total{result="not_newer"}'
    older = stack.svc.metric(not_newer)
    produce_crm_event(stack, solved, "solved", at)  # the same change again: a replay
    produce_crm_event(stack, dict(solved, status="solved"), "open", at - 60)  # a late older one
    # same key, same partition: the replay was taken before the older one
    wait_for(lambda: stack.svc.metric(not_newer) == older + 1, what="the older event counted")
    assert stack.svc.metric(APPLIED) == applied + 1, "a replay or an older event applied"
    mark = stack.crm.mark()
    second = Call(number=number, queue="billing", start=time.time())
    stack.produce(second.answered(stack.agent2))
    assert one_ticket(stack.crm, second)["id"] != solved["id"], "the older 'open' was believed"
    stack.svc.wait_idle()
    assert stack.crm.status_reads(mark, solved["id"]) == []
