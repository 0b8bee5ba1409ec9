"""Twilio calls whose webhooks were lost are restored from Twilio's call log
(issue 27 items 1-4): callbus-reconcile reads call-events for the window,
lists the emulated Calls resource (paged, one 429 on the way) and
publishes what callbus never received, with the webhook's own event ids
and source: reconciliation. Then call-events holds every event of every
call exactly once, ticket-service made each call's ticket once, and a
second run over the same window backfills nothing."""
import collections
import os
import time

import e2e
from call_scenarios import TwilioCall
from reconcile_e2e import call_events, reconcile, stack  # noqa: F401 (a fixture)

def test_lost_webhooks_are_backfilled_once_and_tickets_made_once(stack):
    number = lambda i: "+3906%08d" % (int(time.time()) % 10**6 * 10 + i)  # noqa: E731
    start = time.time() - 900
    calls = [TwilioCall(number(i), [("marco.bianchi", False), ("giulia.rossi", True)],
                        start=start + 30 * i) for i in range(6)]
    delivered, lost, partial = calls[:3], calls[3:5], calls[5]
    for c in calls:
        for rec in c.records():
            stack["log"].log(rec)
    for c in delivered:
        for pairs in c.webhooks():
            stack["ingest"].twilio(pairs)
    for pairs in partial.webhooks()[:-1]:  # the caller's end never came
        stack["ingest"].twilio(pairs)
    stack["ticket"].wait_idle(60)
    before = call_events(stack["topics"])
    assert not any(e.get("source") for e in before)

    stack["log"].throttle(1)  # Twilio's 429 on the way: waited out, not a failure
    rc, result, err = reconcile(stack, start - 60, start + 300)
    assert rc == 0, err
    assert result == {"logged": 6, "seen": 4, "backfilled": 3, "complete": 3, "in_progress": 0,
                      "failed": 0}, err
    assert stack["log"].answered_429 == 1

    stack["ticket"].wait_idle(60)
    after = call_events(stack["topics"])
    ids = collections.Counter(e["event_id"] for e in after)
    assert [i for i, n in ids.items() if n > 1] == []  # nothing doubled
    backfilled = [e for e in after if e.get("source") == "reconciliation"]
    assert {e["call_id"] for e in backfilled} == {c.sid for c in lost + [partial]}
    for c in calls:  # each call's end is there exactly once
        assert [e["type"] for e in after if e["call_id"] == c.sid].count("call.ended") == 1
    # the lost calls have every event the webhooks would have made, no more
    assert len([e for e in backfilled if e["call_id"] == lost[0].sid]) == len(
        [e for e in before if e["call_id"] == delivered[0].sid])

    def one_ticket_each():
        return all(len(stack["emu"].tickets_of_call(c.sid)) == 1 for c in calls)
    e2e.wait_for(one_ticket_each, 30, what="one ticket per call")

    rc, again, err = reconcile(stack, start - 60, start + 300)
    assert rc == 0, err
    assert (again["backfilled"], again["complete"], again["failed"]) == (0, 6, 0)
    assert len(call_events(stack["topics"])) == len(after)
    prom = open(os.path.join(stack["logdir"], "reconcile.prom"), encoding="utf-8").read()
    assert 'reconcile_calls{provider="twilio",result="backfilled"} 0' in prom


def test_an_answer_refused_while_the_end_got_through_is_restored(stack):
    """Giulia's answer and her leg's end were refused, the caller's
    completion got through: ticket-service ended the call as missed (a
    missed-call ticket, ticket-service's own under this stack's policy). The
    call's end is on call-events, yet the reconciler backfills it: the
    answer, her leg's end, then the end again; the call's one ticket becomes
    hers and is pending at the end (R-T1, R-T5). Before, an end seen meant
    complete and the call stayed missed."""
    start = time.time() - 1300
    call = TwilioCall("+3906%08d" % (int(time.time()) % 10**7 * 10 + 7),
                      [("marco.bianchi", False), ("giulia.rossi", True)], start=start)
    giulia = stack["agents"][1]["crm_id"]
    for rec in call.records():
        stack["log"].log(rec)
    for pairs in call.webhooks():
        f = dict(pairs)
        if f["To"] == "client:giulia.rossi" and f["CallStatus"] in ("in-progress", "completed"):
            continue  # refused while ingest was down; Twilio does not re-send
        stack["ingest"].twilio(pairs)
    stack["ticket"].wait_idle(60)
    e2e.wait_for(lambda: len(stack["emu"].tickets_of_call(call.sid)) == 1, 30,
                 what="the missed call's ticket")  # a batched creation may still be on its way
    missed = stack["emu"].tickets_of_call(call.sid)
    assert "callbus_missed" in missed[0]["tags"], missed

    rc, result, err = reconcile(stack, start - 10, start + 120)
    assert rc == 0, err
    assert (result["logged"], result["backfilled"], result["complete"]) == (1, 1, 0), err

    def hers_and_pending():
        ts = stack["emu"].tickets_of_call(call.sid)
        return len(ts) == 1 and str(ts[0]["assignee_id"]) == str(giulia) and \
            ts[0]["status"] == "pending"
    stack["ticket"].wait_idle(60)
    e2e.wait_for(hers_and_pending, 30, what="the call's ticket Giulia's and pending")
    ends = [e for e in call_events(stack["topics"])
            if e["call_id"] == call.sid and e["type"] == "call.ended"]
    assert len(ends) == 2 and ends[1].get("source") == "reconciliation", ends
    rc, again, err = reconcile(stack, start - 10, start + 120)
    assert rc == 0 and (again["backfilled"], again["complete"]) == (0, 1), err


def test_wrong_credentials_fail_the_run(stack):
    rc, result, err = reconcile(stack, time.time() - 600, time.time() - 60,
                                env_over={"CALLBUS_RECONCILE_TWILIO_AUTH_TOKEN": "rotated"})
    assert rc == 1 and result["failed"] == 1, err
    assert "20003" in err or "401" in err


def test_dry_run_publishes_nothing(stack):
    start = time.time() - 1800
    call = TwilioCall("+390611111%03d" % (int(time.time()) % 1000), [("giulia.rossi", True)],
                      start=start)
    for rec in call.records():
        stack["log"].log(rec)
    n = len(call_events(stack["topics"]))
    rc, result, err = reconcile(stack, start - 10, start + 10, "--dry-run")
    assert rc == 0 and result["backfilled"] == 1, err
    assert len(call_events(stack["topics"])) == n
