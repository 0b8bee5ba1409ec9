"""Issue 25's "Done when", across the whole product: calls through every
outcome (answered, missed, abandoned, voicemail, outbound) as provider
webhooks -> ingest -> ticket-service, the grouper, pop-service and the
stats service; a person solving, reopening and solving again a ticket in
the CRM's emulator, which posts its signed webhooks to ingest
(/v1/zendesk/events -> crm-events); then the statistics API (pop-service's
GET /v1/stats, as a supervisor) shows the right counts and R-S2 average
per agent and per queue -- and the same after the stats service restarts
and after the topics are read again from offset 0 by another consumer
group. R-S1, R-S2; the figures' sources: docs/architecture.md
("Statistics")."""
import time
from datetime import datetime, timedelta, timezone

import pytest

import whole
from whole import wait_for

SECRET = "stats-scenario-webhook-secret"
SUPERVISOR = "900777"


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    stack = whole.Whole(str(tmp_path_factory.mktemp("stats")), "stats-zendesk",
                        ingest_env={"CALLBUS_ZENDESK_WEBHOOK_SECRET": SECRET},
                        pop_env={"CALLBUS_POP_SUPERVISORS": SUPERVISOR}, crm="zendesk",
                        ticket_env={"CALLBUS_TICKET_USAGE_INTERVAL_S": "1"})
    try:
        stack.emu.configure(webhook={"url": stack.ingest.url + "/v1/zendesk/events",
                                     "secret": SECRET})
        stack.add_stats()
    except BaseException:
        stack.close()
        raise
    yield stack
    rcs = stack.close()
    assert all(rc == 0 for _, rc in rcs), rcs


def stats(w, by, totals=False):
    """GET /v1/stats over yesterday..tomorrow (UTC: the calls' day, whatever
    the hour), as the supervisor: {key: row} (or the totals)."""
    today = datetime.now(timezone.utc).date()
    span = f"from={today - timedelta(days=1)}&to={today + timedelta(days=1)}"
    status, body, _ = w.pop.http("GET", f"/v1/stats?{span}&by={by}",
                                 headers={"Authorization": f"Bearer {w.supervisor}"})
    assert status == 200, body
    return body["totals"] if totals else {r["key"]: r for r in body["rows"]}


def settle_stats(w, svc, timeout=60):
    """Every service idle, and the stats replica has read all it will."""
    w.settle()

    def quiet():
        before = sum(svc.events().values())
        time.sleep(1.0)
        return svc.idle() and sum(svc.events().values()) == before
    wait_for(quiet, timeout, what=f"{svc.name} idle")


def created_at(w, tid):
    with w.emu.store.lock:
        text = w.emu.store.ticket(int(tid))["created_at"]
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()


def ticket_of(w, call_id, status=None):
    def found():
        ts = w.crm.tickets_of_call(call_id)
        return ts[0] if ts and (status is None or ts[0]["status"] == status) else None
    return wait_for(found, 30, what=f"the ticket of {call_id}")


def test_every_outcome_a_person_solving_and_reopening_restart_and_replay(w):
    A1, A2 = (a["crm_id"] for a in w.agents)
    ag1, ag2 = w.agents
    Call = whole.e2e.Call
    # answered by agent 1 (billing), the ticket's pop acknowledged
    answered = Call(queue="billing")
    w.ingest.generic(answered.offered(ag1), answered.answered(ag1))
    pop = w.wait_pop(A1, answered.call_id)
    w.ingest.generic(answered.ended(agent=ag1))
    status, body, _ = w.pop.http("POST", "/v1/pops/ack", {"pop_id": pop["pop_id"]},
                                 headers={"Authorization": f"Bearer {w.token(A1)}"})
    assert status == 200 and body["status"] in ("acknowledged", "late"), body
    # offered to agent 2, nobody answered (billing): a missed-call ticket (grouper)
    missed = Call(queue="billing")
    w.ingest.generic(missed.offered(ag2), missed.missed_leg(ag2), missed.ended("missed"))
    # hung up in the queue (sales), and a voicemail (sales)
    abandoned = Call(queue="sales")
    w.ingest.generic(abandoned.ended("abandoned", durations={"wait_s": 40, "total_s": 40}))
    voicemail = Call(queue="sales")
    w.ingest.generic(voicemail.ended("voicemail", durations={"wait_s": 30, "total_s": 60}),
                     voicemail.recording())
    # agent 2 calls a customer back (sales), answered
    outbound = Call(queue="sales", direction="outbound")
    w.ingest.generic(outbound.out_started(ag2), outbound.out_answered(ag2),
                     outbound.out_ended(ag2))

    t1 = ticket_of(w, answered.call_id)
    ticket_of(w, outbound.call_id)
    wait_for(lambda: w.missed_tickets(missed.number), 30, what="the missed-call ticket")
    # A person solves the answered call's ticket in Zendesk, reopens it, solves
    # it again: each change a signed webhook to ingest. Seconds apart: R-S2
    # counts only tickets whose created and closed times differ.
    born = created_at(w, t1["id"])
    closes = []
    for status_ in ("solved", "open", "solved"):
        time.sleep(1.2)
        before = time.time()
        w.crm.set_status(t1["id"], status_)
        if status_ == "solved":
            closes.append((int(before) - int(born), int(time.time()) + 1 - int(born)))
    w.settle()
    svc = w.stats[0]
    w.supervisor = w.pop.agent(SUPERVISOR)
    wait_for(lambda: stats(w, "agent").get(A1, {}).get("solved") == 2, 60,
             what="both solves counted")
    # R-S1: every request the CRM got from ticket-service, from its crm.usage
    # records (one a second here)
    wait_for(lambda: stats(w, "day", totals=True)["crm_requests"] == len(w.emu.requests()), 30,
             what="the CRM requests counted")
    settle_stats(w, svc)
    by_agent, by_queue = stats(w, "agent"), stats(w, "queue")
    a1, a2 = by_agent[A1], by_agent[A2]
    assert (a1["calls"], a1["answered"], a1["by_kind"]["inbound"]["calls"]) == (1, 1, 1), a1
    assert (a1["tickets_created"], a1["solved"], a1["reopened"], a1["close_n"]) == (1, 2, 1, 2), a1
    low, high = sum(c[0] for c in closes) / 2, sum(c[1] for c in closes) / 2
    assert low <= a1["avg_close_s"] <= high, (a1["avg_close_s"], closes)  # R-S2
    assert (a1["pops_delivered"] >= 1, a1["pops_acknowledged"]) == (True, 1), a1
    # agent 2: the missed offer and the answered call back
    assert a2["by_kind"]["missed"]["calls"] == 1 and a2["missed"] == 1, a2
    assert a2["by_kind"]["outbound"]["calls"] == 1 and a2["answered"] == 1, a2
    assert a2["close_n"] == 0 and a2["avg_close_s"] is None, a2
    billing, sales = by_queue["billing"], by_queue["sales"]
    assert (billing["calls"], billing["answered"], billing["missed"]) == (2, 1, 1), billing
    assert billing["missed_grouped"] == 1 and billing["solved"] == 2, billing
    assert sales["calls"] == 3, sales
    assert {k: sales["by_kind"][k]["calls"] for k in ("abandoned", "voicemail", "outbound")} == \
        {"abandoned": 1, "voicemail": 1, "outbound": 1}, sales
    assert sales["by_kind"]["voicemail"]["tickets_created"] == 1, sales
    assert sales["by_kind"]["outbound"]["tickets_created"] == 1, sales
    assert billing["by_kind"]["missed"]["tickets_created"] == 1, billing

    # A restart of the stats service counts nothing again.
    seen = by_agent, by_queue
    svc.stop()
    svc.start()
    settle_stats(w, svc)
    assert (stats(w, "agent"), stats(w, "queue")) == seen
    # The topics read again from offset 0 (another consumer group): every
    # message found applied, nothing counted twice.
    svc.stop()
    again = w.add_stats(group=f"stats-replay-{w.topics.prefix.rstrip('.')}")
    wait_for(lambda: sum(again.events().values()) >= 1, 60, what="the re-read to start")
    settle_stats(w, again)
    assert again.events().get("applied", 0) == 0, again.events()
    assert (stats(w, "agent"), stats(w, "queue")) == seen
