"""ticket-service's CRM usage on crm-usage (R-S1, issue 25 item 3): the CRM
requests it made and those batching saved it, published as deltas every
CALLBUS_TICKET_USAGE_INTERVAL_S and once at shutdown (schemas/
crm-usage.schema.json), for the statistics' crm_requests and crm_saved.
Against the Zendesk emulator: the records' requests add up to the
requests the emulator received, their saved to the service's savings
metrics; no record while nothing is made or saved; with a long interval
the one record is the shutdown's."""
import json
import subprocess
import time

import pytest

from e2e import AGENT1, BROKERS, Call, start_stack, validate_with_schema, wait_for


SAVED = ("ticket_batch_requests_saved_total", "ticket_bulk_create_requests_saved_total",
         "ticket_status_reads_saved_total")


def records(stack):
    """[(key, record)] on the module's crm-usage, in order (one partition per key)."""
    proc = subprocess.run(
        ["kcat", "-b", BROKERS, "-C", "-t", stack.topics.prefix + "crm-usage", "-o", "beginning",
         "-e", "-J", "-q"], text=True, capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return [(m["key"], json.loads(m["payload"])) for m in out]


def sums(recs):
    return (sum(r["requests"] for _, r in recs), sum(r["saved"] for _, r in recs))


def metric_sums(svc):
    m = svc.metrics()
    made = sum(v for k, v in m.items() if k.startswith("crm_requests_total{"))
    return made, sum(m.get(f, 0) for f in SAVED)


def check_records(recs):
    """Schema-valid, one key, ids usage-<process>-<seq> with seq 1, 2, ...
    of one process, each from the previous one's to, none of nothing."""
    assert recs
    assert len({k for k, _ in recs}) == 1, recs
    process = recs[0][1]["event_id"].rsplit("-", 1)[0]
    for i, (_, r) in enumerate(recs, 1):
        validate_with_schema("crm-usage.schema.json", r)
        assert r["event_id"] == f"{process}-{i}", r
        assert r["requests"] > 0 or r["saved"] > 0, r
        assert r["occurred_at"] == r["to"] and r["from"] <= r["to"], r
        if i > 1:
            assert r["from"] == recs[i - 2][1]["to"], (recs[i - 2], r)


def make_tickets(stack):
    """Answered calls (their tickets at once, their end's comments in one
    bulk update) and abandoned calls of new callers (contacts and tickets
    created in bulk); returns once every ticket exists and all is done."""
    answered = [Call() for _ in range(3)]
    abandoned = [Call() for _ in range(3)]
    stack.produce(*[c.answered(AGENT1) for c in answered])
    stack.produce(*[c.ended(agent=AGENT1) for c in answered],
                  *[c.ended("abandoned", durations={"wait_s": 20, "total_s": 20})
                    for c in abandoned])
    wait_for(lambda: all(stack.emu.tickets_of_call(c.call_id) for c in answered + abandoned), 60,
             interval=0.5, what="every call's ticket")
    wait_for(lambda: stack.svc.metric("ticket_events_done_total") >= 9 and stack.svc.idle(), 60,
             interval=0.5, what="the nine events done")


@pytest.fixture
def usage_stack(request, logdir):
    made = []

    def start(interval_s):
        s = start_stack(None, logdir, name=f"crm_usage-{interval_s}",
                        env={"CALLBUS_TICKET_USAGE_INTERVAL_S": str(interval_s)})
        made.append(s)
        return s
    yield start
    for s in made:
        try:
            if s.svc.running():
                s.svc.stop()
        finally:
            s.emu.stop()


def test_records_add_up_to_the_crm_requests_and_the_savings(usage_stack):
    """Every second: the records' sums reach exactly the requests the
    emulator received and the savings the metrics count, while the service
    runs; idle, no record (both deltas 0); a SIGTERM adds none then."""
    stack = usage_stack(1)
    make_tickets(stack)
    made, saved = metric_sums(stack.svc)
    received = len(stack.emu.arrivals)
    assert made == received and saved > 0, (made, received, saved)
    recs = wait_for(lambda: (lambda r: r if sums(r) == (received, saved) else None)(
        records(stack)), 15, what=f"records adding up to {received} requests, {saved} saved")
    check_records(recs)
    time.sleep(2.5)  # two intervals with nothing made or saved
    assert records(stack) == recs
    stack.svc.stop()
    assert len(stack.emu.arrivals) == received
    assert records(stack) == recs


def test_the_shutdown_publishes_what_the_interval_did_not(usage_stack):
    """An hour's interval: nothing on crm-usage while running; the SIGTERM,
    once the work drained, publishes one record with all of it."""
    stack = usage_stack(3600)
    make_tickets(stack)
    made, saved = metric_sums(stack.svc)
    time.sleep(1)
    assert records(stack) == []
    stack.svc.stop()
    recs = records(stack)
    check_records(recs)
    assert len(recs) == 1
    assert sums(recs) == (len(stack.emu.arrivals), saved) and made == len(stack.emu.arrivals)
