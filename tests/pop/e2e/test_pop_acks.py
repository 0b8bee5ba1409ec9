"""Acknowledged pops, with a fallback (R-P5, issue 22 item 4): the page
acknowledges each pop it displayed (POST /v1/pops/ack, any replica); a pop
left unacknowledged past CALLBUS_POP_ACK_TIMEOUT_MS goes to agent-actions
as pop.unacknowledged exactly once, whichever of two sweeping replicas
claims it, and is counted either way; an agent cannot acknowledge
another's pop. Two replicas of one group, their own topics."""
import time

import pytest

import pop
from pop import Call

TIMEOUT_MS = 1000
ENV = {"CALLBUS_POP_ACK_TIMEOUT_MS": str(TIMEOUT_MS), "CALLBUS_POP_ACK_SWEEP_MS": "100"}
SENT = 'pop_fallback_total{result="sent"}'
NO_CHANNEL = 'pop_fallback_total{result="no_channel"}'


@pytest.fixture(scope="module")
def pair(topics, logdir):
    group = f"pop-acks-{pop.RUN}"
    a = pop.start_pop(topics, group, logdir, "pop-acks-a", ENV)
    b = pop.start_pop(topics, group, logdir, "pop-acks-b", ENV)
    yield a, b
    for s in (a, b):
        if s.running():
            s.stop()


def unacked(topics, call):
    return [v for _, v in pop.agent_actions(topics)
            if v["action"] == "pop.unacknowledged" and v["call_id"] == call.call_id]


def acknowledged(topics, call):
    """pop.acknowledged actions of the call (issue 25 item 3: the statistics'
    pops acknowledged), each valid for its schema."""
    out = [v for _, v in pop.agent_actions(topics)
           if v["action"] == "pop.acknowledged" and v["call_id"] == call.call_id]
    for m in out:
        pop.e2e.validate_with_schema("agent-action.schema.json", m)
    return out


def acked_total(services):
    return sum(v for s in services for k, v in s.metrics().items()
               if k.startswith("pop_acknowledged_total"))


def answered_then_ticket(pair, topics, agent, ticket_id):
    """The answer pops the new-case form (no ticket yet), then the bound
    ticket pops the ticket: two pops of the call."""
    call = Call()
    pops0 = pop.metric_sum(pair, "pop_pops_total")
    topics.produce(call.answered(agent))
    pop.wait_for(lambda: pop.metric_sum(pair, "pop_pops_total") > pops0, what="the answer pop")
    pop.produce_ticket_events(topics, pop.ticket_event(call, ticket_id))
    return call


def test_acknowledged_in_time_is_counted_and_needs_no_fallback(pair, topics):
    a, b = pair
    agent = {"provider_id": "ack1", "crm_id": "940001", "name": "Ack One"}
    token = a.agent(agent["crm_id"])
    sse = b.stream(token)  # the stream on one replica, the acks on the other
    before = acked_total(pair)
    call = answered_then_ticket(pair, topics, agent, 7101)
    for kind in ("new_case", "ticket"):
        p = sse.wait_kind(call, kind)
        status, body, _ = a.as_agent(token, "POST", "/v1/pops/ack", {"pop_id": p["pop_id"]})
        assert (status, body["status"]) == (200, "acknowledged"), body
    # idempotent: a second ack (a replay after reconnect) counts nothing more
    status, body, _ = b.as_agent(token, "POST", "/v1/pops/ack", {"pop_id": p["pop_id"]})
    assert (status, body["status"]) == (200, "already acknowledged")
    assert acked_total(pair) - before == 2
    assert pop.metric_sum(pair, "pop_ack_latency_ms_count") >= 2
    time.sleep(TIMEOUT_MS / 1000 + 1.0)  # well past the deadline and a few sweeps
    assert unacked(topics, call) == []
    # each first ack once on agent-actions, for the statistics (R-S1); the
    # repeated ack adds none; the action id is the pop's, so a republish repeats it
    acks = acknowledged(topics, call)
    assert sorted(a["pop_kind"] for a in acks) == ["new_case", "ticket"], acks
    assert {a["agent_crm_id"] for a in acks} == {agent["crm_id"]}
    assert len({a["action_id"] for a in acks}) == 2
    sse.close()


def test_unacknowledged_pop_falls_back_exactly_once_with_two_replicas(pair, topics):
    a, b = pair
    agent = {"provider_id": "ack2", "crm_id": "940002", "name": "Ack Two"}
    a.agent(agent["crm_id"])  # logged in, but no page open: nothing acknowledges
    sent0, none0 = pop.metric_sum(pair, SENT), pop.metric_sum(pair, NO_CHANNEL)
    call = answered_then_ticket(pair, topics, agent, 7102)
    pop.wait_for(lambda: len(unacked(topics, call)) >= 1, timeout=20,
                 what="the fallback on agent-actions")
    time.sleep(TIMEOUT_MS / 1000 + 1.0)  # both replicas keep sweeping: still one
    msgs = unacked(topics, call)
    assert len(msgs) == 1, msgs
    m = msgs[0]
    assert (m["agent_crm_id"], m["ticket_id"], m["pop_kind"]) == (agent["crm_id"], "7102", "ticket")
    assert m["pop_id"].startswith(f"{call.call_id}:ticket:7102:{agent['crm_id']}")
    pop.e2e.validate_with_schema("agent-action.schema.json", m)
    # the ticket pop was sent; the new-case pop before it had nothing to display
    pop.wait_for(lambda: pop.metric_sum(pair, SENT) - sent0 == 1, what="fallback counted")
    assert pop.metric_sum(pair, NO_CHANNEL) - none0 == 1
    # both replicas swept (each has the series), one sent
    assert all(SENT in s.metrics() for s in pair)
    # acknowledged after the fallback: late, counted once, no second fallback
    token = b.agent(agent["crm_id"])
    late0 = pop.metric_sum(pair, "pop_ack_late_total")
    status, body, _ = b.as_agent(token, "POST", "/v1/pops/ack", {"pop_id": m["pop_id"]})
    assert (status, body["status"]) == (200, "late")
    status, body, _ = a.as_agent(token, "POST", "/v1/pops/ack", {"pop_id": m["pop_id"]})
    assert (status, body["status"]) == (200, "already acknowledged")
    assert pop.metric_sum(pair, "pop_ack_late_total") - late0 == 1
    assert len(unacked(topics, call)) == 1


def test_another_agents_pop_cannot_be_acknowledged(pair, topics):
    a, b = pair
    owner = {"provider_id": "ack3", "crm_id": "940003", "name": "Ack Three"}
    token = a.agent(owner["crm_id"])
    intruder = b.agent("940004")
    sse = a.stream(token)
    call = answered_then_ticket(pair, topics, owner, 7103)
    p = sse.wait_kind(call, "ticket")
    status, body, _ = b.as_agent(intruder, "POST", "/v1/pops/ack", {"pop_id": p["pop_id"]})
    assert status == 404 and body["field"] == "pop_id"
    status, body, _ = b.as_agent(intruder, "POST", "/v1/pops/ack",
                                 {"pop_ids": [p["pop_id"], "no-such-pop"]})
    assert status == 200
    assert body["results"] == {p["pop_id"]: "unknown", "no-such-pop": "unknown"}
    # not acknowledged by the intruder's attempt: the owner's ack is the first
    status, body, _ = a.as_agent(token, "POST", "/v1/pops/ack", {"pop_ids": [p["pop_id"]]})
    assert body["results"] == {p["pop_id"]: "acknowledged"}
    # no session, a bad body
    assert a.http("POST", "/v1/pops/ack", {"pop_id": p["pop_id"]})[0] == 401
    assert a.as_agent(token, "POST", "/v1/pops/ack", {"pop_id": 7})[0] == 400
    assert a.as_agent(token, "POST", "/v1/pops/ack", {"pop_ids": []})[0] == 400
    sse.close()


def test_a_replica_killed_before_the_deadline_does_not_lose_the_fallback(logdir):
    """Crash safety: the deadline lives in Redis, not in the replica that
    delivered the pop. Replica A delivers the pops and is killed (-9)
    before their 3 s deadline; B, started only afterwards, sweeps and sends
    the fallback. Own topics (and so own Redis keys): no other replica."""
    topics = pop.Topics(pop.e2e.module_prefix())
    group = f"pop-acks-kill-{pop.RUN}"
    env = {"CALLBUS_POP_ACK_TIMEOUT_MS": "3000", "CALLBUS_POP_ACK_SWEEP_MS": "100"}
    a = pop.start_pop(topics, group, logdir, "pop-acks-kill-a", env)
    b = None
    try:
        agent = {"provider_id": "ack5", "crm_id": "940005", "name": "Ack Five"}
        call = answered_then_ticket([a], topics, agent, 7105)
        pop.wait_for(lambda: a.metric("pop_pops_total") == 2, what="both pops delivered")
        a.kill9()
        assert unacked(topics, call) == []  # A died before any deadline
        b = pop.start_pop(topics, group, logdir, "pop-acks-kill-b", env)
        pop.wait_for(lambda: unacked(topics, call), timeout=20, what="B's fallback")
        [m] = unacked(topics, call)
        assert (m["ticket_id"], m["agent_crm_id"]) == ("7105", agent["crm_id"])
        assert b.metric(SENT) == 1 and b.metric(NO_CHANNEL) == 1
    finally:
        for s in (a, b):
            if s is not None and s.running():
                s.stop()
