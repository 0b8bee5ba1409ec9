"""callbus-stats end to end (issue 25 item 3; R-S1, R-S2), on the real
broker and Redis: a scenario's messages on call-events, ticket-events,
crm-events, missed-call-ops, screen-pops and agent-actions (calls of every outcome,
tickets created, a person solving, reopening and closing via crm-events, a
ticket closed at its creation's second left out of R-S2, missed calls
grouped, pops and their acknowledgements on agent-actions, a pop and an
acknowledgement republished with their ids) -> the day hash's cells,
exactly. Then: a restart changes nothing; a re-read of the topics from
offset 0 by another consumer group changes nothing; two replicas from the
start make the same figures. An answer backfilled after its call's end
corrects the missed call (issue 27)."""
import json
import os
import signal
import subprocess
import time

import pytest

from e2e import AGENT1, AGENT2, BROKERS, REDIS_URL, Topics, module_prefix, new_call_id, \
    new_number, wait_for
from stats_e2e import StatsService
from test_redis_outage import Redis

DAY = "2026-12-01"
A1, A2 = AGENT1["crm_id"], AGENT2["crm_id"]
US = "\x1f"


def produce(topic, pairs):
    """(key, dict) pairs onto `topic` with kcat."""
    lines = [f"{k}|{json.dumps(v, separators=(',', ':'))}" for k, v in pairs]
    proc = subprocess.run(["kcat", "-b", BROKERS, "-P", "-t", topic, "-K", "|"],
                          input="\n".join(lines) + "\n", text=True, capture_output=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr


def redis_cli(*args, url=REDIS_URL):
    proc = subprocess.run(["redis-cli", "-u", url, "--no-raw", *args], capture_output=True,
                          timeout=30)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def day_hash(prefix, day=DAY, url=REDIS_URL):
    """{(figure, kind, queue, agent): value} of the contract's day hash."""
    proc = subprocess.run(["redis-cli", "-u", url, "--raw", "HGETALL",
                           f"{prefix}stats:d:{day}"], capture_output=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout.decode()
    items = text.split("\n")[:-1] if text.strip("\n") else []  # an empty hash prints "\n"
    return {tuple(items[i].split(US)): int(items[i + 1]) for i in range(0, len(items), 2)}


def at(hms):
    return f"{DAY}T{hms}.000Z"


def call_ev(typ, call, number, n, queue, extra=None, direction="inbound"):
    ev = {"schema_version": 1, "type": typ, "event_id": f"callgear-{call}-{n}",
          "provider": "callgear", "call_id": call, "customer_number": number, "queue": queue,
          "direction": direction, "occurred_at": at(f"09:0{n}:00"),
          "received_at": at(f"09:0{n}:01")}
    ev.update(extra or {})
    return number, ev


def agent(a):
    return {"agent": {"provider_id": a["provider_id"], "crm_id": a["crm_id"], "name": a["name"]}}


def ticket_ev(eid, call, number, ticket, kind, created, assignee, when):
    return number, {"schema_version": 1, "event_id": f"tkt-{eid}-{call}", "call_id": call,
                    "customer_number": number, "ticket_id": ticket,
                    "ticket_url": f"https://z.example/agent/tickets/{ticket}", "status": "open",
                    "ticket_kind": kind, "assignee_id": assignee, "created": created,
                    "occurred_at": when}


def crm_ev(eid, ticket, status, prev, created, when, assignee=A2):
    ev = {"schema_version": 1, "event_id": f"zendesk-{ticket}-{eid}", "crm": "zendesk",
          "type": "ticket.status_changed", "ticket_id": ticket, "status": status,
          "assignee_id": assignee, "requester_id": "req-" + ticket, "occurred_at": when,
          "received_at": when}
    if prev:
        ev["previous_status"] = prev
    if created:
        ev["ticket_created_at"] = created
    return "req-" + ticket, ev


def missed_op(op, call, number, group, assignee=None):
    doc = {"schema_version": 1, "op_id": f"mis-{call}-{op}", "op": op, "group_id": group,
           "customer_number": number, "call_id": call, "count": 1, "occurred_at": at("09:30:00")}
    if assignee:
        doc["assignee_crm_id"] = assignee
    return number, doc


def pop(call, kind, who, queue):
    return who, {"schema_version": 1, "pop_id": f"{call}:{kind}:{who}", "kind": kind,
                 "agent_crm_id": who, "call_id": call,
                 "caller": {"number": None, "name": None, "email": None, "company": None,
                            "known": False},
                 "queue": queue, "contact": None, "ticket": None, "crm_url": None,
                 "created_at": at("09:00:30")}


def action(kind, call, who, pop_id, when, extra=None):
    doc = {"schema_version": 1, "action_id": f"{kind[:4]}-{pop_id}", "action": kind,
           "call_id": call, "agent_crm_id": who, "occurred_at": when}
    doc.update(extra or {})
    return call, doc


def acked(call, kind, who):
    pop_id = f"{call}:{kind}:{who}"
    return action("pop.acknowledged", call, who, pop_id, at("09:00:32"),
                  {"pop_id": pop_id, "pop_kind": kind})


def scenario(topics_prefix, settle):
    """Publishes the scenario, topic by topic in causal order (a call
    before its ticket, a ticket before the CRM's word on it), calling
    settle(messages so far) after each; returns the expected cells."""
    c = {k: new_call_id("st") for k in ("ans", "mis", "aba", "vm", "oa", "om")}
    n = {k: new_number() for k in c}
    t1, t2, t3 = (c["ans"] + "-t1", c["mis"] + "-t2", c["vm"] + "-t3")
    calls = [
        call_ev("call.offered", c["ans"], n["ans"], 1, "billing", agent(AGENT1)),
        call_ev("call.answered", c["ans"], n["ans"], 2, "billing", agent(AGENT1)),
        call_ev("call.ended", c["ans"], n["ans"], 3, "billing", {"outcome": "answered"}),
        call_ev("call.offered", c["mis"], n["mis"], 1, "billing", agent(AGENT2)),
        call_ev("call.ended", c["mis"], n["mis"], 2, "billing", {"outcome": "missed"}),
        call_ev("call.ended", c["aba"], n["aba"], 1, "sales", {"outcome": "abandoned"}),
        call_ev("call.ended", c["vm"], n["vm"], 1, "sales", {"outcome": "voicemail"}),
        call_ev("outbound.started", c["oa"], n["oa"], 1, "sales", agent(AGENT1), "outbound"),
        call_ev("outbound.answered", c["oa"], n["oa"], 2, "sales", agent(AGENT1), "outbound"),
        call_ev("outbound.ended", c["oa"], n["oa"], 3, "sales",
                dict(agent(AGENT1), outcome="answered"), "outbound"),
        call_ev("outbound.started", c["om"], n["om"], 1, "sales", agent(AGENT1), "outbound"),
        call_ev("outbound.ended", c["om"], n["om"], 2, "sales",
                dict(agent(AGENT1), outcome="missed"), "outbound"),
    ]
    created = at("09:05:00")
    tickets = [
        ticket_ev("a", c["ans"], n["ans"], t1, "call", True, A1, created),
        ticket_ev("b", c["ans"], n["ans"], t1, "call", False, A1, at("09:06:00")),
        ticket_ev("c", c["ans"], n["ans"], t1, "call", True, A1, at("09:07:00")),  # again: once
        ticket_ev("a", c["mis"], n["mis"], t2, "missed", True, A2, created),
        ticket_ev("a", c["vm"], n["vm"], t3, "voicemail", True, A1, created),
    ]
    crm = [
        crm_ev("1", t1, "solved", "open", created, at("10:35:00")),  # R-S2: 5400 s
        crm_ev("2", t1, "open", "solved", created, at("11:00:00")),  # reopened
        crm_ev("3", t1, "solved", None, created, at("12:05:00")),    # R-S2: 10800 s
        crm_ev("1", t2, "closed", "new", at("10:00:00"), at("10:00:00")),  # created == closed
    ]
    # The missed call's ticket was announced on ticket-events above (as
    # ticket-service does when it handles unanswered calls itself); the
    # grouper opens a group -- and so a missed-call ticket -- for the
    # abandoned call and adds the missed one to another group.
    ops = [missed_op("group.open", c["aba"], n["aba"], "grp-" + c["aba"]),
           missed_op("group.add", c["mis"], n["mis"], "grp-" + c["mis"], A2),
           missed_op("group.reached", c["ans"], n["ans"], "grp-" + c["aba"])]
    pops = [pop(c["ans"], "incoming", A1, "billing"), pop(c["ans"], "ticket", A1, "billing"),
            pop(c["mis"], "incoming", A2, None),
            pop(c["ans"], "incoming", A1, "billing")]  # republished: same pop_id
    actions = [acked(c["ans"], "incoming", A1), acked(c["ans"], "ticket", A1),
               acked(c["ans"], "incoming", A1),  # republished: same action id
               action("contact.picked", c["ans"], A1, "x" + c["ans"], at("09:00:40"),
                      {"contact_id": "77"})]  # ticket-service's
    sent = 0
    for topic, pairs in (("call-events", calls), ("ticket-events", tickets),
                         ("crm-events", crm), ("missed-call-ops", ops), ("screen-pops", pops),
                         ("agent-actions", actions)):
        produce(topics_prefix + topic, pairs)
        sent += len(pairs)
        settle(sent)
    expected = {
        ("calls", "inbound", "billing", A1): 1, ("answered", "inbound", "billing", A1): 1,
        ("calls", "missed", "billing", A2): 1, ("missed", "missed", "billing", A2): 1,
        ("calls", "abandoned", "sales", "-"): 1, ("missed", "abandoned", "sales", "-"): 1,
        ("calls", "voicemail", "sales", "-"): 1,
        ("calls", "outbound", "sales", A1): 2, ("answered", "outbound", "sales", A1): 1,
        ("tickets_created", "inbound", "billing", A1): 1,
        ("tickets_created", "missed", "billing", A2): 1,
        ("tickets_created", "voicemail", "sales", A1): 1,
        # crm-events count for the ticket's assignee (A2), with its creation's kind and queue
        ("solved", "inbound", "billing", A2): 2, ("reopened", "inbound", "billing", A2): 1,
        ("close_s_sum", "inbound", "billing", A2): 5400 + 10800,
        ("close_n", "inbound", "billing", A2): 2,
        ("closed", "missed", "billing", A2): 1,  # created == closed: not in R-S2
        ("missed_grouped", "missed", "billing", A2): 1,
        ("missed_grouped", "abandoned", "sales", "-"): 1,
        ("tickets_created", "abandoned", "sales", "-"): 1,  # the group's opening (R-M1)
        ("pops_delivered", "-", "billing", A1): 2, ("pops_delivered", "-", "-", A2): 1,
        ("pops_acknowledged", "-", "billing", A1): 2,
    }
    return expected


def settle_on(svcs, before=0, timeout=60):
    """A settle(): until the replicas together took `before` + n messages
    and are idle."""
    def settle(n):
        def done():
            return (sum(sum(s.events().values()) for s in svcs) >= before + n
                    and all(s.idle() for s in svcs))
        wait_for(done, timeout, what=f"{before + n} messages read by {[s.name for s in svcs]}")
    return settle


def test_scenario_restart_and_replay(logdir):
    topics = Topics(module_prefix())
    svc = StatsService(topics, "stats-e2e-" + topics.prefix.rstrip("."), logdir, "stats-1")
    try:
        svc.start()
        expected = scenario(topics.prefix, settle_on([svc]))
        first = svc.events()
        count = sum(first.values())
        assert day_hash(topics.prefix) == expected
        m = svc.metrics()
        assert m['stats_calls_total{queue="sales",kind="outbound"}'] == 2
        assert m[f'stats_agent_calls_total{{agent="{A2}",kind="missed"}}'] == 1
        assert m['stats_tickets_total{queue="billing",kind="inbound",action="reopened"}'] == 1
        assert m["stats_close_seconds_count"] == 2 and m["stats_close_seconds_sum"] == 16200
        assert m['stats_pops_total{state="delivered"}'] == 3
        assert m['stats_pops_total{state="acknowledged"}'] == 2
        assert m['stats_missed_grouped_total{queue="sales"}'] == 1
        assert svc.events().get("duplicate") == 2  # the republished pop and ack
        # retention (contract): the day hash expires at the day's end + 400 days
        ttl = int(redis_cli("EXPIRETIME", f"{topics.prefix}stats:d:{DAY}").split()[-1])
        assert ttl == 1796083200 + 86400 + 400 * 86400

        # a restart: the group's committed offsets, nothing read twice or counted again
        svc.stop()
        svc.start()
        time.sleep(2)
        assert svc.idle()
        assert day_hash(topics.prefix) == expected

        # a re-read from offset 0 (another group): every message found applied
        svc.stop()
        again = StatsService(topics, "stats-e2e-replay-" + topics.prefix.rstrip("."), logdir,
                             "stats-replay")
        again.start()
        try:
            settle_on([again])(count)
            assert day_hash(topics.prefix) == expected
            # found applied from each partition's stored offset, not decided again:
            # only what adds nothing anyway (a reused ticket's event, a contact
            # pick) is skipped, as the first time
            ev = again.events()
            assert set(ev) <= {"duplicate", "skipped"}, ev
            assert ev.get("skipped", 0) <= first["skipped"], (ev, first)
            assert ev["duplicate"] >= count - first["skipped"], (ev, first)
        finally:
            again.stop()
    finally:
        if svc.running():
            svc.stop()


def test_two_replicas_same_figures(logdir):
    topics = Topics(module_prefix())
    group = "stats-e2e-" + topics.prefix.rstrip(".")
    first = StatsService(topics, group, logdir, "stats-r1").start()
    second = StatsService(topics, group, logdir, "stats-r2")
    try:
        second.start()
        expected = scenario(topics.prefix, settle_on([first, second]))
        assert day_hash(topics.prefix) == expected
        assert all(sum(s.events().values()) > 0 for s in (first, second))  # both took a share
        # one replica is killed: the other takes its partitions, re-reads
        # from their last commit what it had applied, and counts it not again
        assigned = second._log_since_start().count("assigned ")
        first.kill9()
        wait_for(lambda: second._log_since_start().count("assigned ") > assigned, 60,
                 what="the first replica's partitions to move to the second")
        second.wait_idle()
        before = sum(second.events().values())
        scenario(topics.prefix, settle_on([second], before))
        doubled = {k: 2 * v for k, v in expected.items()}
        assert day_hash(topics.prefix) == doubled
    finally:
        for s in (first, second):
            if s.running():
                s.stop()


def test_late_answer_corrects_missed(logdir):
    """Issue 27 (R-S1): an answer reconciliation backfilled after the call's
    end (the webhook refused while ingest was down, Twilio's completion
    through), then the end republished under a new event id: the call
    counted missed for A2 becomes answered inbound for A1 on the end's day
    in Redis, the answer's day untouched, the cells at 0 gone; Prometheus
    keeps the call as its end counted it (counters only grow)."""
    topics = Topics(module_prefix())
    svc = StatsService(topics, "stats-e2e-" + topics.prefix.rstrip("."), logdir, "stats-late")
    c, n = new_call_id("late"), new_number()
    late = {"occurred_at": "2026-12-02T08:00:00.000Z",
            "received_at": "2026-12-02T08:00:01.000Z", "source": "reconciliation"}
    try:
        svc.start()
        produce(topics.prefix + "call-events", [
            call_ev("call.offered", c, n, 1, "billing", agent(AGENT2)),
            call_ev("call.ended", c, n, 2, "billing", {"outcome": "completed"})])
        settle_on([svc])(2)
        assert day_hash(topics.prefix) == {("calls", "missed", "billing", A2): 1,
                                           ("missed", "missed", "billing", A2): 1}
        produce(topics.prefix + "call-events", [
            call_ev("call.answered", c, n, 3, "billing", dict(agent(AGENT1), **late)),
            call_ev("call.ended", c, n, 4, "billing", dict(late, outcome="completed"))])
        settle_on([svc])(4)
        assert day_hash(topics.prefix) == {("calls", "inbound", "billing", A1): 1,
                                           ("answered", "inbound", "billing", A1): 1}
        assert day_hash(topics.prefix, "2026-12-02") == {}
        m = svc.metrics()
        assert m[f'stats_agent_calls_total{{agent="{A2}",kind="missed"}}'] == 1
        assert f'stats_agent_calls_total{{agent="{A1}",kind="inbound"}}' not in m
    finally:
        if svc.running():
            svc.stop()


def test_redis_stalled_retries_then_counts_once(logdir):
    """Redis stops answering (CLIENT PAUSE, as a hung server): the figures'
    applies time out, nothing is committed, each message is tried again
    with back-off, and once Redis answers the scenario's figures are exact;
    a SIGTERM while Redis is stalled with a message in flight still ends
    the process within its grace (CALLBUS_SHUTDOWN_GRACE_MS), and the next
    start applies that message. A Redis of its own (test_redis_outage's):
    pausing the shared one would stall every suite running beside it."""
    topics = Topics(module_prefix())
    own = Redis()
    own.start()
    url = f"redis://127.0.0.1:{own.port}"
    env = {"CALLBUS_REDIS_TIMEOUT_MS": "500", "CALLBUS_SHUTDOWN_GRACE_MS": "3000",
           "CALLBUS_REDIS_URL": url}
    svc = StatsService(topics, "stats-e2e-" + topics.prefix.rstrip("."), logdir, "stats-stall",
                       env)
    try:
        svc.start()
        redis_cli("CLIENT", "PAUSE", "3000", "ALL", url=url)
        # calls only: their figures depend on no other topic's order
        c, n = new_call_id("stall"), new_number()
        m, nm = new_call_id("stall"), new_number()
        produce(topics.prefix + "call-events", [
            call_ev("call.offered", c, n, 1, "billing", agent(AGENT1)),
            call_ev("call.answered", c, n, 2, "billing", agent(AGENT1)),
            call_ev("call.ended", c, n, 3, "billing", {"outcome": "answered"}),
            call_ev("call.offered", m, nm, 1, "sales", agent(AGENT2)),
            call_ev("call.ended", m, nm, 2, "sales", {"outcome": "missed"})])
        expected = {("calls", "inbound", "billing", A1): 1,
                    ("answered", "inbound", "billing", A1): 1,
                    ("calls", "missed", "sales", A2): 1, ("missed", "missed", "sales", A2): 1}
        wait_for(lambda: svc.metric("stats_step_failures_total") > 0, 20,
                 what="a failed Redis step")
        wait_for(lambda: day_hash(topics.prefix, url=url) == expected, 60,
                 what="the figures once Redis answers")
        settle_on([svc])(0)
        assert day_hash(topics.prefix, url=url) == expected
        # shutdown bounded while Redis hangs with a message in flight: the
        # process ends within the grace, that message left uncommitted
        failures = svc.metric("stats_step_failures_total")
        redis_cli("CLIENT", "PAUSE", "10000", "ALL", url=url)
        v, nv = new_call_id("stall"), new_number()
        produce(topics.prefix + "call-events",
                [call_ev("call.ended", v, nv, 1, "sales", {"outcome": "voicemail"})])
        wait_for(lambda: svc.metric("stats_step_failures_total") > failures, 20,
                 what="the stalled apply")
        assert svc.metric("stats_events_in_flight") == 1
        t0 = time.monotonic()
        svc.proc.send_signal(signal.SIGTERM)
        rc = svc.proc.wait(20)
        # the grace (3 s) expired with work left: status 1, as every service (cmn_service)
        assert rc == 1 and time.monotonic() - t0 < 6, rc
        redis_cli("CLIENT", "UNPAUSE", url=url)
        # the next owner applies it
        svc.start()
        expected[("calls", "voicemail", "sales", "-")] = 1
        wait_for(lambda: day_hash(topics.prefix, url=url) == expected, 30, what="the voicemail call")
    finally:
        redis_cli("CLIENT", "UNPAUSE", url=url)
        if svc.running():
            svc.stop()
        own.stop()
