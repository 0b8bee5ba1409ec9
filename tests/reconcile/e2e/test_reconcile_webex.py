"""Webex Contact Center contacts whose flow posts were lost are restored
from the Search API (issue 27 items 1-4): callbus-reconcile reads
call-events for the window, pages the task query by cursor (one 429 on the
way) and publishes the "ended" event callbus never received, with the
flow's own event id. Then every event is on call-events once, each contact
has its end once and its ticket once, and a second run backfills nothing."""
import collections
import time

import e2e
import whole
from call_scenarios import WebexCall
from reconcile_e2e import call_events, reconcile, stack  # noqa: F401 (a fixture)


def test_lost_flow_posts_are_backfilled_once_and_tickets_made_once(stack):
    a1, a2 = (whole.WEBEX_ID[a["crm_id"]] for a in stack["agents"][:2])
    base = int(time.time()) % 10**5
    start = time.time() - 5000
    calls = [WebexCall("+346120%05d" % ((base + i) % 10**5), [(a2, False), (a1, True)],
                       start=start + 30 * i) for i in range(4)]
    delivered, lost, partial = calls[:2], calls[2:], calls[1]
    for c in calls:
        stack["wx_log"].log(c.task())
    for c in delivered:
        for body in c.webhooks()[:-1] if c is partial else c.webhooks():
            stack["ingest"].webex(body)
    stack["ticket"].wait_idle(60)

    stack["wx_log"].throttle(1)
    rc, result, log = reconcile(stack, start - 60, start + 300, provider="webex")
    assert rc == 0, log
    assert result == {"logged": 4, "seen": 2, "backfilled": 3, "complete": 1, "in_progress": 0,
                      "failed": 0}, log
    assert stack["wx_log"].answered_429 == 1

    stack["ticket"].wait_idle(60)
    after = call_events(stack["topics"])
    ids = collections.Counter(e["event_id"] for e in after)
    assert [i for i, n in ids.items() if n > 1] == []
    backfilled = [e for e in after if e.get("source") == "reconciliation"]
    assert sorted(e["call_id"] for e in backfilled) == sorted(c.id for c in lost + [partial])
    for c in calls:
        ends = [e for e in after if e["call_id"] == c.id and e["type"] == "call.ended"]
        assert len(ends) == 1 and ends[0]["outcome"] == "answered", c.id

    def one_ticket_each():
        return all(len(stack["emu"].tickets_of_call(c.id)) == 1 for c in calls)
    e2e.wait_for(one_ticket_each, 30, what="one ticket per contact")

    rc, again, log = reconcile(stack, start - 60, start + 300, provider="webex")
    assert rc == 0, log
    assert (again["backfilled"], again["complete"], again["failed"]) == (0, 4, 0)
    assert len(call_events(stack["topics"])) == len(after)


def test_wrong_token_fails_the_run(stack):
    rc, result, log = reconcile(stack, time.time() - 600, time.time() - 60, provider="webex",
                                env_over={"CALLBUS_RECONCILE_WEBEX_TOKEN": "wrong"})
    assert rc == 1 and result["failed"] == 1, log
    assert "401" in log
