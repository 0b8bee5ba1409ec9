"""Two pop-service replicas in one group: a pop decided on one reaches the
agent connected to the other (R-P5); SIGTERM with 100 streams open ends
them cleanly and exits 0 within the grace period (issue 10 item 4)."""
import time

import pop
from pop import Call


def test_agent_connected_to_the_other_replica(svc, topics, logdir):
    other = pop.start_pop(topics, svc.group, logdir, "pop-replica-b")
    try:
        # Agents on B only. The group gives B half of the six partitions
        # (call-events and ticket-events together, sticky: often one whole
        # topic each), so of each call's two pops, answer and ticket, at
        # least the pops of A's partitions are decided on A.
        agents = [{"provider_id": f"r{i}", "crm_id": f"92000{i}", "name": f"R{i}"}
                  for i in range(4)]
        streams = {a["crm_id"]: other.stream(svc.agent(a["crm_id"])) for a in agents}
        calls = [(Call(), agents[i % 4]) for i in range(12)]
        topics.produce(*[c.answered(a) for c, a in calls])
        for c, a in calls:
            streams[a["crm_id"]].wait_kind(c, "new_case")
        pop.produce_ticket_events(topics, *[pop.ticket_event(c, 6000 + i)
                                            for i, (c, a) in enumerate(calls)])
        for c, a in calls:
            streams[a["crm_id"]].wait_kind(c, "ticket")
        assert svc.metric("pop_pops_total") + other.metric("pop_pops_total") == 24
        decided_a = svc.metric("pop_pops_total")
        assert decided_a > 0, "replica A decided none of the pops: nothing crossed replicas"
        for s in streams.values():
            s.close()
    finally:
        other.stop()


def open_stream(svc, token):
    """A stream as the agent page opens it: a 503 (Redis slower than its
    2 s timeout on a loaded machine) is tried again after its Retry-After,
    as the page does."""
    s = svc.stream(token)
    if s.status == 503:
        time.sleep(min(int(s.resp.getheader("Retry-After") or 1), 5))
        s = svc.stream(token)
    return s


def test_sigterm_with_100_streams_exits_within_grace(topics, logdir):
    grace_s = 10
    svc = pop.start_pop(topics, f"pop-term-{pop.RUN}", logdir, "pop-term",
                        {"CALLBUS_SHUTDOWN_GRACE_MS": str(grace_s * 1000),
                         # one agent's 100 streams: past the default per-session cap
                         "CALLBUS_POP_MAX_STREAMS_PER_SESSION": "100",
                         "CALLBUS_POP_MAX_STREAMS_PER_AGENT": "100"})
    token = svc.agent("930000")
    streams = [open_stream(svc, token) for _ in range(100)]
    refused = [(s.status, s.body) for s in streams if s.status != 200]
    assert not refused, f"{len(refused)} of 100 streams refused: {refused[:3]}"
    pop.wait_for(lambda: svc.metric("pop_streams_open") == 100, what="100 open streams")
    t0 = time.monotonic()
    rc = svc.stop(timeout=grace_s + 5)
    took = time.monotonic() - t0
    assert rc == 0 and took < grace_s, f"exit {rc} after {took:.1f} s"
    for s in streams:  # each stream was ended, not left hanging
        assert s.closed.wait(5)
