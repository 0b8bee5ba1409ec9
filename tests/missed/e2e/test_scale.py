"""Issue 11 item 4, correctness under scale: two grouper replicas and a
rebalance in the middle of a burst make no missed call two tickets and
drop none; a grouper restarted with a backlog changes nothing either
(its stored offsets and states skip what was applied). Once per CRM of
CALLBUS_E2E_CRMS (issue 23 item 5)."""
import pytest

from e2e import CRM_PARAMS, Call, new_number
from missed_e2e import Stack, missed_lines, rome, wait_missed

MONDAY = rome("2026-11-30 11:00")
CUSTOMERS, CALLS = 24, 4


@pytest.fixture(scope="module", params=CRM_PARAMS)
def stack(request, logdir):
    s = Stack(logdir, "scale", replicas=1, ingest=False, crm=request.param)
    yield s
    s.close()


def burst(stack, numbers, round_):
    """One missed call of every customer (round `round_`), in one produce."""
    events = []
    for i, number in enumerate(numbers):
        c = Call(number=number, start=MONDAY + 3600 * round_ + i)
        events += [c.offered(stack.agent1), c.ended(outcome="missed", durations={})]
    stack.produce(*events)


def assert_one_ticket_each(stack, numbers, calls):
    for number in numbers:
        tickets = wait_missed(stack, number, n_calls=calls, timeout=90)
        assert len(tickets) == 1, f"{number}: {len(tickets)} tickets"
        lines = [l.split(" at ")[0] for l in missed_lines(tickets[0])]
        assert lines == [f"Missed call {i}" for i in range(1, calls + 1)], (number, lines)


def test_two_replicas_and_a_rebalance_mid_burst(stack):
    numbers = [new_number() for _ in range(CUSTOMERS)]
    burst(stack, numbers, 0)
    burst(stack, numbers, 1)
    second = stack.add_grouper(start=False)
    second.start()  # joins the group: partitions move while the burst is processed
    burst(stack, numbers, 2)
    burst(stack, numbers, 3)
    assert_one_ticket_each(stack, numbers, CALLS)
    stack.settle()
    first = stack.groupers[0]
    assert "revoking " in first.log_text(), "no rebalance happened"
    assert second.metric("missed_calls_grouped_total") > 0, "the second replica took no work"
    total = sum(g.metric("missed_calls_grouped_total") for g in stack.groupers)
    assert total >= CUSTOMERS * CALLS  # more only when a replay re-sent an op


def test_restart_with_a_backlog_changes_nothing(stack):
    numbers = [new_number() for _ in range(8)]
    burst(stack, numbers, 0)
    assert_one_ticket_each(stack, numbers, 1)
    stack.settle()
    for g in stack.groupers:
        g.stop()
    burst(stack, numbers, 1)  # the backlog
    burst(stack, numbers, 2)
    for g in stack.groupers:
        g.start()
    assert_one_ticket_each(stack, numbers, 3)
    stack.settle()
    # kill -9 in the middle of work, then start again: the same outcome
    burst(stack, numbers, 3)
    stack.groupers[0].kill9()
    stack.groupers[0].start()
    assert_one_ticket_each(stack, numbers, 4)
