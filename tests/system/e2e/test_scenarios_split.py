"""Transfers under CALLBUS_TICKET_TRANSFER_POLICY=split (R-T4, Deskie): each
agent's leg is its own ticket; the leg of an agent who did nothing is a
closed ticket "Incoming call from {phone}". Whole product, one stack for
the module (whole.py); the reassign policy is test_scenarios.py's."""
import pytest

import whole
from whole import AGENT1, AGENT2, callgear_doc, wait_for

A1, A2 = AGENT1["crm_id"], AGENT2["crm_id"]


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    stack = whole.Whole(str(tmp_path_factory.mktemp("split")), "split",
                        {"CALLBUS_TICKET_TRANSFER_POLICY": "split"})
    yield stack
    rcs = stack.close()
    assert all(rc == 0 for _, rc in rcs), rcs


def test_transfer_split_generic(w):
    """TVox (generic route): answered by agent 1 (a ticket), transferred to
    agent 2: agent 1's ticket is pending with the transfer note, agent 2's
    leg is a new ticket (callbus-<call>-leg-<n>) popped to agent 2, pending
    at the end."""
    call = whole.e2e.Call()
    w.ingest.generic(call.answered(AGENT1))
    first = wait_for(lambda: w.emu.tickets_of_call(call.call_id), 30, what="the first leg's ticket")
    assert len(first) == 1 and first[0]["assignee_id"] == int(A1)
    w.wait_pop(A1, call.call_id, ticket_id=first[0]["id"])
    w.ingest.generic(call.transferred(AGENT2, AGENT1))

    def two():
        ts = w.emu.tickets_of_call(call.call_id)
        return ts if len(ts) == 2 else None
    legs = wait_for(two, 30, what="the second leg's ticket")
    leg2 = next(t for t in legs if t["id"] != first[0]["id"])
    assert "-leg-" in leg2["external_id"] and leg2["assignee_id"] == int(A2)
    w.wait_pop(A2, call.call_id, ticket_id=leg2["id"])
    w.ingest.generic(call.ended(agent=AGENT2))
    wait_for(lambda: w.emu.ticket(leg2["id"])["status"] == "pending", 30,
             what="the second leg pending at the end")
    t1 = w.emu.ticket(first[0]["id"])
    assert t1["status"] == "pending" and t1["assignee_id"] == int(A1)
    assert any("transferred" in c["body"].lower() for c in t1["comments"])
    assert len(w.emu.tickets_of_call(call.call_id)) == 2


def test_transfer_split_idle_leg_is_closed(w):
    """R-T4 split, the leg of an agent who did nothing: the call reaches
    agent 1 and is transferred on to agent 2 before agent 1 made anything of
    it (no answer of theirs): agent 1's leg is a closed ticket "Incoming
    call from {phone}" tagged callbus_idle_leg, agent 2's leg an open ticket
    popped to agent 2."""
    call = whole.e2e.Call()
    w.ingest.generic(call.offered(AGENT1), call.transferred(AGENT2, AGENT1))

    def two():
        ts = w.emu.tickets_of_call(call.call_id)
        return ts if len(ts) == 2 else None
    legs = wait_for(two, 30, what="a ticket per leg")
    by_agent = {t["assignee_id"]: t for t in legs}
    assert set(by_agent) == {int(A1), int(A2)}, legs
    idle, live = by_agent[int(A1)], by_agent[int(A2)]
    assert idle["status"] == "closed" and idle["subject"] == f"Incoming call from {call.number}"
    assert "callbus_idle_leg" in idle["tags"]
    assert live["status"] == "open"
    w.wait_pop(A2, call.call_id, ticket_id=live["id"])
    assert not [p for p in w.pops_of(A1, call.call_id) if p["kind"] == "ticket"]
    w.ingest.generic(call.ended(agent=AGENT2))
    wait_for(lambda: w.emu.ticket(live["id"])["status"] == "pending", 30,
             what="agent 2's leg pending at the end")
