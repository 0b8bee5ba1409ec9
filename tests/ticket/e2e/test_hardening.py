"""Holes a review found in ticket-service (issue 7), each proven through the
real pipeline: the input that broke it, and what must happen instead.

ticket-service here: 1 s batch window, the emulator's defaults."""
import pytest

from e2e import (AGENT1, Call, TicketService, finish_stack, new_call_id, one_ticket, start_stack,
                 wait_for)


@pytest.fixture(scope="module")
def stack(request, logdir):
    s = start_stack(request, logdir)
    yield s
    finish_stack(s)


@pytest.fixture(autouse=True)
def _emulator_defaults(stack):
    yield
    stack.emu.restore_defaults()


def long_call_id(tag):
    """A call id at the schema's 128-character limit, unique to this run."""
    base = new_call_id(tag) + "-"
    return base + "x" * (128 - len(base))


def test_item1_withheld_number_with_a_128_character_call_id_is_handled(stack):
    """Issue 7 item 1: a withheld-number call is keyed by its call id; a call
    id at the 128-character limit used to be hashed whole but stored cut,
    so releasing its lane dereferenced NULL (a crash loop on every replay).
    It must get its abandoned-call ticket (R-M1) and the service stay up."""
    call = Call(withheld=True, call_id=long_call_id("long"))
    assert len(call.call_id) == 128
    done = stack.svc.metric("ticket_events_done_total")
    stack.produce(call.ended(outcome="abandoned"))
    wait_for(lambda: not stack.svc.running() or
             stack.svc.metric("ticket_events_done_total") >= done + 1,
             what="the event done")
    assert stack.svc.running(), "ticket-service died:\n" + stack.svc.log_tail()
    t = one_ticket(stack.emu, call)
    assert t["external_id"] == f"callbus-{call.call_id}"
    # the next call of another customer still flows
    other = Call()
    stack.produce(other.offered(AGENT1), other.answered(AGENT1))
    one_ticket(stack.emu, other)


def test_item1_two_long_event_ids_sharing_a_prefix_get_distinct_markers(stack):
    """Issue 7 item 1: comment markers and ticket-event ids used to be cut at
    96/56 bytes, so two 128-character event ids sharing their first 90
    characters collided: the replay check took one comment for the other."""
    call = Call()
    prefix = "generic-" + "a" * 100
    first = call.answered(AGENT1)
    first["event_id"] = prefix + "1" * 20
    end = call.ended()
    end["event_id"] = prefix + "2" * 20
    stack.produce(call.offered(AGENT1), first, end)
    t = one_ticket(stack.emu, call)
    for ev in (first, end):
        wait_for(lambda: any(f"[callbus {ev['event_id']}/" in c["body"]
                             for c in stack.emu.ticket(t["id"])["comments"]),
                 what=f"a comment with the whole marker of {ev['type']}")
    stack.svc.wait_idle()
    ids = [e["event_id"] for _, e in stack.topics.ticket_events() if e["call_id"] == call.call_id]
    assert sorted(ids) == sorted({f"tkt-{first['event_id']}", f"tkt-{end['event_id']}"}), ids


def test_item9_provider_ticket_id_that_cannot_be_zendesks_is_ignored(stack):
    """Issue 7 item 9: an answered event whose ticket_id (from an IVR or an
    agent desktop) is not a Zendesk id used to send an update to it that
    failed for ever, stalling the customer; now the id is refused before
    any request (counted) and the call gets its ticket as if none was given."""
    refused = stack.svc.metric("ticket_provider_ticket_ids_refused_total")
    call = Call()
    stack.produce(call.offered(AGENT1), call.answered(AGENT1, ticket_id="INC-0042"),
                  call.ended())
    t = one_ticket(stack.emu, call)
    assert t["assignee_id"] == int(AGENT1["crm_id"])
    stack.svc.wait_idle()
    assert stack.svc.metric("ticket_provider_ticket_ids_refused_total") >= refused + 1
    assert not any("INC-0042" in e["path"] for e in stack.emu.requests(0))


def test_item6_fenced_static_member_exits_non_zero(stack, logdir):
    """Issue 7 item 6 (consumer side): a fatal consumer error — here the
    broker fencing a static member because a second replica started with
    the same CALLBUS_KAFKA_INSTANCE_ID — used to leave the replica up with
    /healthz green and nothing consumed; it must exit non-zero so the
    orchestrator restarts it."""
    group = f"{stack.svc.group}-fence"
    env = {"CALLBUS_KAFKA_INSTANCE_ID": "ticket-0"}
    first = TicketService(stack.emu, stack.topics, group, logdir, "fence-first", env).start()
    second = TicketService(stack.emu, stack.topics, group, logdir, "fence-second", env)
    try:
        second.start()
        wait_for(lambda: not first.running(), 60, what="the fenced replica to exit")
        assert first.proc.returncode not in (0, None), first.log_tail()
        assert "fatal" in first.log_text()
    finally:
        for svc in (first, second):
            if svc.running():
                svc.proc.kill()
                svc.proc.wait()
