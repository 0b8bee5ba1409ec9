"""CallGear calls whose notifications were lost are restored from the Data
API's calls report (issue 27 items 1-4): callbus-reconcile reads
call-events for the window, pages get.calls_report and get.call_legs_report
(one limit_exceeded on the way) and publishes the "call finished" event
callbus never received, with the webhook's own event id. Then every event
is on call-events once, each call has its end once and its ticket once (a
lost voicemail comes back a voicemail, with its own ticket: R-T3, R-T11),
and a second run over the same window backfills nothing."""
import collections
import time

import e2e
from call_scenarios import CallGearCall
from reconcile_e2e import call_events, reconcile, stack  # noqa: F401 (a fixture)


def test_lost_notifications_are_backfilled_once_and_tickets_made_once(stack):
    base = int(time.time()) % 10**5
    start = time.time() - 3000
    calls = [CallGearCall("+9053241%05d" % ((base + i) % 10**5), [(2211, False), (2207, True)],
                          start=start + 30 * i) for i in range(4)]
    calls.append(CallGearCall("+9053242%05d" % base, [(2211, False)], start=start + 150))
    calls.append(CallGearCall("+9053243%05d" % base, [(2211, False)], start=start + 180,
                              voicemail=True))
    delivered, lost, partial = calls[:2], calls[2:], calls[1]
    for c in calls:
        stack["cg_log"].log(c.record(), c.leg_records())
    for c in delivered:
        for notification, body in c.webhooks()[:-1] if c is partial else c.webhooks():
            stack["ingest"].callgear(notification, body)
    stack["ticket"].wait_idle(60)
    before = call_events(stack["topics"])

    stack["cg_log"].throttle(1)  # limit_exceeded: waited out, not a failure
    rc, result, log = reconcile(stack, start - 60, start + 300, provider="callgear")
    assert rc == 0, log
    assert result == {"logged": 6, "seen": 2, "backfilled": 5, "complete": 1, "in_progress": 0,
                      "failed": 0}, log
    assert stack["cg_log"].answered_limit == 1

    stack["ticket"].wait_idle(60)
    after = call_events(stack["topics"])
    ids = collections.Counter(e["event_id"] for e in after)
    assert [i for i, n in ids.items() if n > 1] == []
    backfilled = [e for e in after if e.get("source") == "reconciliation"]
    assert sorted(e["call_id"] for e in backfilled) == sorted(str(c.id) for c in lost + [partial])
    for c in calls:
        ends = [e for e in after if e["call_id"] == str(c.id) and e["type"] == "call.ended"]
        assert len(ends) == 1, c.id
        assert ends[0]["outcome"] == ("answered" if c.answered_by else
                                      "voicemail" if c.voicemail else "missed"), c.id
    # what the webhook of a delivered call made is what the backfill makes
    hook_end = next(e for e in before if e["call_id"] == str(delivered[0].id)
                    and e["type"] == "call.ended")
    assert len(hook_end["event_id"]) == len(backfilled[0]["event_id"])

    def one_ticket_each():
        return all(len(stack["emu"].tickets_of_call(str(c.id))) == 1 for c in calls
                   if c.answered_by or c.voicemail)
    e2e.wait_for(one_ticket_each, 30, what="one ticket per answered call and voicemail")

    rc, again, log = reconcile(stack, start - 60, start + 300, provider="callgear")
    assert rc == 0, log
    assert (again["backfilled"], again["complete"], again["failed"]) == (0, 6, 0)
    assert len(call_events(stack["topics"])) == len(after)


def test_wrong_access_token_fails_the_run(stack):
    rc, result, log = reconcile(stack, time.time() - 600, time.time() - 60, provider="callgear",
                                env_over={"CALLBUS_RECONCILE_CALLGEAR_ACCESS_TOKEN": "wrong"})
    assert rc == 1 and result["failed"] == 1, log
    assert "-32001" in log
