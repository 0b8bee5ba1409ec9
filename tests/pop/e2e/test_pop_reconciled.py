"""Events callbus-reconcile backfilled (source: reconciliation, issue 27
item 2) tell of a call long over: pop-service pops nobody for them, neither
the ringing notice (R-P2) nor the answer's pop (R-P3); the same events from
a webhook still pop (the marker call)."""
import pop
from pop import Call


def reconciled(ev):
    return dict(ev, source="reconciliation")


def test_backfilled_events_pop_nobody(svc, topics):
    agent = {"crm_id": "7301", "provider_id": "op-7301"}
    token = svc.agent(agent["crm_id"], agent["provider_id"])
    sse = svc.stream(token)
    call, marker = Call(), Call()
    topics.produce(reconciled(call.offered(agent)), reconciled(call.answered(agent)),
                   reconciled(call.ended(agent=agent)))
    pop.produce_ticket_events(topics, pop.ticket_event(call, 5301))
    topics.produce(marker.offered(agent), marker.answered(agent))
    sse.wait_kind(marker, "new_case")  # everything before it was consumed
    svc.wait_idle()
    assert [p["kind"] for p in sse.pops() if p["call_id"] == call.call_id] == []
    sse.close()
