"""R-S1's CRM requests made and saved by batching in the durable statistics
(issue 25 item 3), end to end on the real broker and Redis: ticket-service
on the Zendesk emulator makes tickets and publishes its crm.usage records
on crm-usage (every second, and at shutdown); one record is republished
(same event id); callbus-stats counts crm_requests and crm_saved of each
record's day once: the requests the emulator received, the savings
ticket-service's metrics counted."""
import collections
import sys

import pytest

from e2e import start_stack, wait_for
from test_crm_usage import make_tickets, metric_sums, records, sums  # tests/ticket/e2e
from test_stats import StatsService, day_hash, produce


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("stats-usage-logs"))


def usage_read(svc):
    """stats_events_total of crm-usage, by result."""
    out = collections.Counter()
    for name, v in svc.metrics().items():
        if name.startswith('stats_events_total{topic="crm-usage"'):
            out[name.split('result="')[1].split('"')[0]] += v
    return out


def test_crm_usage_counted_once_per_record(logdir):
    stack = start_stack(None, logdir, name="stats-usage-ticket",
                        env={"CALLBUS_TICKET_USAGE_INTERVAL_S": "1"})
    try:
        make_tickets(stack)
        _, saved = metric_sums(stack.svc)
        stack.svc.stop()
        received = len(stack.emu.arrivals)
    finally:
        if stack.svc.running():
            stack.svc.stop()
        stack.emu.stop()
    recs = records(stack)
    assert sums(recs) == (received, saved) and saved > 0, (sums(recs), received, saved)
    key, first = recs[0]
    produce(stack.topics.prefix + "crm-usage", [(key, first)])  # republished: same event id

    expected = collections.defaultdict(dict)  # day -> cells
    for _, r in recs:
        cells = expected[r["occurred_at"][:10]]
        for figure, n in (("crm_requests", r["requests"]), ("crm_saved", r["saved"])):
            if n:
                cells[(figure, "-", "-", "-")] = cells.get((figure, "-", "-", "-"), 0) + n

    svc = StatsService(stack.topics, "stats-e2e-" + stack.topics.prefix.rstrip("."), logdir,
                       "stats-usage")
    try:
        svc.start()
        wait_for(lambda: sum(usage_read(svc).values()) == len(recs) + 1 and svc.idle(), 60,
                 what=f"{len(recs) + 1} crm-usage records read")
        assert usage_read(svc) == {"applied": len(recs), "duplicate": 1}
        for day, cells in expected.items():
            crm = {k: v for k, v in day_hash(stack.topics.prefix, day).items()
                   if k[0].startswith("crm_")}
            assert crm == cells, day
        m = svc.metrics()
        assert m['stats_crm_requests_total{result="made"}'] == received
        assert m['stats_crm_requests_total{result="saved"}'] == saved
    finally:
        if svc.running():
            svc.stop()
    sys.stderr.write(f"crm-usage: {len(recs)} records, {received} requests, {saved} saved\n")
