"""The grouper's rules end to end (BEHAVIOUR.md R-M1..R-M4, R-S1, issue 11):
call events (canonical, and CallGear / Twilio webhooks through ingest) ->
callbus-missed -> missed-call-ops -> callbus-ticket in grouper mode -> the
Zendesk or the Dynamics 365 emulator (issue 23 item 5: the module runs once
per CRM of CALLBUS_E2E_CRMS). Assertions on the CRM's tickets / cases read
through crm_view.py (subjects, comments / notes, running counts, assignees
/ owners, statuses, tags / the marker column) and the grouper's /metrics;
where a CRM differs the test says why (docs/dynamics.md).

Times are Europe/Rome wall times chosen against the grouper's working
hours (missed_e2e.HOURS): weekday calls fall inside them."""
import hashlib
import json
import subprocess
import urllib.parse

import pytest

from e2e import (BROKERS, CRM_PARAMS, IVR_TOKEN, Call, bodies, new_number, one_ticket,
                 wait_comment, wait_for)
from missed_e2e import Stack, customer_tickets, missed_lines, rome, wait_missed

MONDAY = rome("2026-11-30 10:00")  # inside working hours


@pytest.fixture(scope="module", params=CRM_PARAMS)
def stack(request, logdir):
    s = Stack(logdir, "missed", ticket_env={"CALLBUS_IVR_TOKEN": IVR_TOKEN},  # R-T8 below
              crm=request.param)
    yield s
    s.close()


def missed(stack, number, agents=None, at=MONDAY, **kw):
    """An inbound call offered to `agents` in turn (default: the first agent;
    none: abandoned in the IVR), nobody answered. Returns the call."""
    agents = (stack.agent1,) if agents is None else agents
    call = Call(number=number, start=at, **kw)
    events = [call.offered(a) for a in agents]
    events.append(call.ended(outcome="missed" if agents else "abandoned", durations={}))
    stack.produce(*events)
    return call


def missed_comments(ticket):
    """"Missed call N at ..." lines of the ticket (one per missed call, R-M2;
    the batched flush may join a window's comments into one)."""
    return missed_lines(ticket)


def grouper_metric(stack, name):
    return sum(g.metric(name) for g in stack.groupers if g.running())


# ---- R-M1 --------------------------------------------------------------------


def test_R_M1_missed_call_is_an_open_ticket_assigned_to_the_last_agent_offered(stack):
    """R-M1: subject, status open, tagged, assignee the last agent offered."""
    number = new_number()
    missed(stack, number, agents=(stack.agent1, stack.agent2))
    (t,) = wait_missed(stack, number, n_calls=1)
    assert t["status"] == "open"
    assert t["assignee"] == stack.agent2["crm_id"]
    assert "callbus_missed" in t["tags"]
    if stack.crm.name == "zendesk":  # Dynamics has no "callbus" marker nor an external id column
        assert "callbus" in t["tags"] and t["external_id"].startswith("callbus-missed-grp-")
    assert missed_comments(t)[0].startswith("Missed call 1 at ")


def test_R_M1_abandoned_before_any_offer_is_unassigned(stack):
    """R-M1: hung up before the call was offered: no assignee (and no
    default user configured, R-T11)."""
    number = new_number()
    missed(stack, number, agents=())
    (t,) = wait_missed(stack, number, n_calls=1)
    assert t["assignee"] is None and t["status"] == "open"


# ---- R-M2 --------------------------------------------------------------------


def test_R_M2_a_persistent_caller_is_one_ticket_with_a_running_count(stack):
    """R-M2: six missed calls, one ticket, six comments numbered 1..6; the
    grouper counted six grouped calls and one group opened (R-S1)."""
    number = new_number()
    grouped0 = grouper_metric(stack, "missed_calls_grouped_total")
    opened0 = grouper_metric(stack, "missed_groups_opened_total")
    for i in range(6):
        missed(stack, number, agents=(stack.agent1, stack.agent2)[: 1 + i % 2],
               at=MONDAY + 600 * i)
    (t,) = wait_missed(stack, number, n_calls=6)
    stack.settle()
    assert [c.split(" at ")[0] for c in missed_comments(stack.crm.ticket(t["id"]))] == \
        [f"Missed call {i}" for i in range(1, 7)]
    assert len(stack.missed_tickets(number)) == 1
    assert grouper_metric(stack, "missed_calls_grouped_total") - grouped0 == 6
    assert grouper_metric(stack, "missed_groups_opened_total") - opened0 == 1


def test_R_M2_callgear_webhooks_group_missed_calls(stack):
    """R-M2 through CallGear's webhooks (ingest): two lost calls of one
    customer, one ticket assigned to the mapped operator (2211 -> 900002)."""
    number = new_number()
    with open(_fixture("callgear_end_missed"), encoding="utf-8") as f:
        doc = json.load(f)
    for session in (1, 2):
        doc["call_info"]["call_session_id"] = int("7" + number[-8:]) * 10 + session
        doc["contact_info"]["contact_phone_number"] = number
        doc["notification_time"] = "2026-11-30 10:0%d:00" % session
        stack.ingest.callgear("end", doc)
    (t,) = wait_missed(stack, number, n_calls=2)
    assert t["assignee"] == stack.agent2["crm_id"]
    assert len(missed_comments(t)) == 2


def test_R_M2_twilio_unanswered_calls_told_apart_and_grouped(stack):
    """Issue 9 + R-M2 through Twilio's signed status callbacks: a call that
    rang Marco unanswered (missed, his) and one that hung up in the IVR
    (abandoned: `completed`, never offered) are one ticket, assigned to
    Marco, the last agent offered."""
    number = new_number()
    base = {"AccountSid": "AC3f1e9b2d4c5a6b7c8d9e0f1a2b3c4d5e", "ApiVersion": "2010-04-01",
            "Called": "+390287654321", "Caller": number, "From": number, "To": "+390287654321",
            "CallbackSource": "call-progress-events", "CallerCountry": "IT",
            "Timestamp": "Mon, 30 Nov 2026 09:17:41 +0000"}
    parent1, parent2, child = ("CA" + hashlib.md5(f"{number}-{n}".encode()).hexdigest()
                               for n in ("p1", "p2", "c1"))
    leg = dict(base, CallSid=child, ParentCallSid=parent1, Direction="outbound-dial",
               Called="client:marco.bianchi", To="client:marco.bianchi")
    stack.ingest.twilio(dict(leg, CallStatus="ringing", SequenceNumber="1"))
    stack.ingest.twilio(dict(leg, CallStatus="no-answer", SequenceNumber="2", CallDuration="0"))
    stack.ingest.twilio(dict(base, CallSid=parent1, Direction="inbound", CallStatus="completed",
                             SequenceNumber="3", CallDuration="47"))
    stack.ingest.twilio(dict(base, CallSid=parent2, Direction="inbound", CallStatus="completed",
                             SequenceNumber="1", CallDuration="25",
                             Timestamp="Mon, 30 Nov 2026 09:30:00 +0000"))
    (t,) = wait_missed(stack, number, n_calls=2)
    assert t["assignee"] == stack.agent1["crm_id"]
    assert [c.split(" at ")[0] for c in missed_comments(t)] == ["Missed call 1", "Missed call 2"]


def _fixture(name):
    from e2e import ROOT
    return f"{ROOT}/tests/ingest/unit/fixtures/{name}.json"


# ---- R-M3 (a)..(e) -----------------------------------------------------------


def group_of(stack, number, calls=2):
    """A customer with `calls` missed calls grouped; their ticket."""
    for i in range(calls):
        missed(stack, number, at=MONDAY + 60 * i)
    (t,) = wait_missed(stack, number, n_calls=calls)
    stack.settle()
    return t




def wait_status(stack, tid, status, timeout=30):
    return wait_for(lambda: (lambda t: t if t["status"] == status else None)(stack.crm.ticket(tid)),
                    timeout, what=f"ticket {tid} {status}")


def only_ticket_is(stack, number, ticket):
    """Whether the customer's only ticket (whoever made it) is `ticket`: no
    call of theirs got one of its own. (Not crm.tickets_of_call: on Dynamics
    it names the case a call was first announced with on ticket-events, and
    a missed-call case is first announced with the call that reached them.)"""
    return [x["id"] for x in customer_tickets(stack.crm, number)] == [ticket["id"]]


def test_R_M3_a_callback_answered_on_a_new_ticket_closes_the_missed_call_ticket(stack):
    """(a): the customer calls back, an agent answers, the call gets its own
    ticket: the missed-call ticket is closed; the next missed call opens a
    new group (R-M2)."""
    number = new_number()
    t = group_of(stack, number)
    back = Call(number=number, start=MONDAY + 900)
    stack.produce(back.answered(stack.agent1), back.ended(agent=stack.agent1))
    call_ticket = one_ticket(stack.crm, back)
    assert call_ticket["id"] != t["id"]
    # Dynamics reads "solved": CloseIncident (docs/dynamics.md, "Statuses")
    closed = wait_status(stack, t["id"], stack.crm.closed)
    assert any("reached" in b for b in bodies(closed))
    missed(stack, number, at=MONDAY + 1800)
    first, second = wait_missed(stack, number, n_tickets=2, n_calls=3)
    assert (first["id"], second["id"]) == (t["id"], second["id"]) and second["status"] == "open"
    assert missed_comments(second)[0].startswith("Missed call 1 at ")


def test_R_M3_b_callback_attached_to_the_missed_call_ticket_is_pending(stack):
    """(b): the callback is answered on the missed-call ticket (the agent's
    desktop names it): pending at call end, not closed."""
    number = new_number()
    t = group_of(stack, number)
    back = Call(number=number, start=MONDAY + 900)
    stack.produce(back.answered(stack.agent2, ticket_id=t["id"]), back.ended(agent=stack.agent2))
    done = wait_status(stack, t["id"], "pending")
    stack.settle()
    assert stack.crm.ticket(t["id"])["status"] == "pending"
    assert "callbus_called_back" not in done["tags"]
    assert only_ticket_is(stack, number, t), "the callback got a ticket of its own"


def test_R_M3_c_outbound_from_the_missed_call_ticket_is_pending_and_called_back(stack):
    """(c): an agent calls the customer from the missed-call ticket and they
    answer: pending at call end, marked as called back."""
    number = new_number()
    t = group_of(stack, number)
    out = Call(number=number, direction="outbound", start=MONDAY + 900)
    tid = str(t["id"])
    a1 = stack.agent1
    stack.produce(out.out_started(a1, ticket_id=tid), out.out_answered(a1, ticket_id=tid),
                  out.out_ended(a1, ticket_id=tid))
    wait_for(lambda: "callbus_called_back" in stack.crm.ticket(t["id"])["tags"], 30,
             what="the called-back mark")
    assert stack.crm.ticket(t["id"])["status"] == "pending"


def agent_action(stack, number, call, action, **extra):
    """An agent's action from the pop (agent-actions, R-P6)."""
    produce_raw(stack, "agent-actions", number,
                dict({"schema_version": 1, "action_id": f"act-{action}-{call.call_id}",
                      "action": action, "call_id": call.call_id, "customer_number": number,
                      "agent_crm_id": stack.agent1["crm_id"], "occurred_at": "2026-11-30T09:20:00.000Z"},
                     **extra))


def test_R_M3_d_softphone_outbound_on_a_new_ticket_closes_it(stack):
    """(d): an agent calls the customer from the softphone and starts a new
    ticket for the call (call.new_ticket, R-P6); they answer: the missed-call
    ticket is closed."""
    number = new_number()
    t = group_of(stack, number)
    out = Call(number=number, direction="outbound", start=MONDAY + 900)
    stack.produce(out.out_started(stack.agent1), out.out_answered(stack.agent1))
    wait_for(lambda: any(out.call_id in b for b in bodies(stack.crm.ticket(t["id"]))), 30,
             what="the softphone call on the open missed-call ticket (R-O2)")
    agent_action(stack, number, out, "call.new_ticket")
    new = wait_for(lambda: [x for x in customer_tickets(stack.crm, number) if x["id"] != t["id"]
                            and any(f"New ticket for call {out.call_id}" in b for b in bodies(x))],
                   30, what="the new ticket")
    stack.produce(out.out_ended(stack.agent1))
    wait_status(stack, t["id"], stack.crm.closed)
    assert new[0]["id"] != t["id"]


def test_issue19_agent_actions_checked_against_the_call(stack):
    """Issue 19 item 6: ticket-service refuses an agent action that does not
    fit the call (logged, counted by reason, the offset moves on): a
    re-target to another customer's ticket (R-P6) or to the customer's
    solved one (R-T10), a picked contact that is not a candidate (R-C4).
    The customer's next, fitting action is applied."""
    number, other = new_number(), new_number()
    t = group_of(stack, number, calls=1)
    foreign = group_of(stack, other, calls=1)
    back = Call(number=number, start=MONDAY + 900)
    stack.produce(back.answered(stack.agent1))
    own = one_ticket(stack.crm, back)
    stack.settle()
    stack.crm.set_status(t["id"], "solved")

    def refused(reason):
        return stack.ticket.metric(f'ticket_agent_actions_refused_total{{reason="{reason}"}}')
    reasons = ("not_the_customers_ticket", "ticket_not_writable", "not_a_candidate")
    before = {r: refused(r) for r in reasons}
    rejected0 = stack.ticket.metric("ticket_events_rejected_total")
    agent_action(stack, number, back, "call.retargeted", ticket_id=foreign["id"],
                 action_id=f"act-foreign-{back.call_id}")
    agent_action(stack, number, back, "call.retargeted", ticket_id=t["id"],
                 action_id=f"act-solved-{back.call_id}")
    agent_action(stack, number, back, "contact.picked", contact_id=stack.crm.example_id(987654321),
                 action_id=f"act-pick-{back.call_id}")
    agent_action(stack, number, back, "call.new_ticket")  # fits: applied after the refusals
    wait_for(lambda: [x for x in customer_tickets(stack.crm, number) if any(
        f"New ticket for call {back.call_id}" in b for b in bodies(x))], 30, what="the new ticket")
    stack.settle()
    assert {r: refused(r) - before[r] for r in reasons} == {r: 1 for r in reasons}
    assert stack.ticket.metric("ticket_events_rejected_total") - rejected0 == 3
    for tid in (foreign["id"], t["id"]):
        assert not any(back.call_id in b for b in bodies(stack.crm.ticket(tid))), tid
    assert stack.crm.ticket(own["id"])["requester"] == own["requester"]


def test_R_M3_e_softphone_outbound_attached_to_the_missed_call_ticket_is_pending(stack):
    """(e): a softphone call (no ticket given) is attached to the customer's
    open missed-call ticket (R-O2); answered: pending at call end."""
    number = new_number()
    t = group_of(stack, number)
    out = Call(number=number, direction="outbound", start=MONDAY + 900)
    a1 = stack.agent1
    stack.produce(out.out_started(a1), out.out_answered(a1), out.out_ended(a1))
    wait_status(stack, t["id"], "pending")
    stack.settle()
    assert stack.crm.ticket(t["id"])["status"] == "pending"
    assert only_ticket_is(stack, number, t), "the softphone call got a ticket of its own"


def test_R_M3_unanswered_outbound_leaves_it_open(stack):
    """R-M3 last sentence / R-O3: an outbound call nobody answered changes
    nothing; the group stays open and the next missed call joins it."""
    number = new_number()
    t = group_of(stack, number)
    out = Call(number=number, direction="outbound", start=MONDAY + 900)
    tid = str(t["id"])
    stack.produce(out.out_started(stack.agent1, ticket_id=tid),
                  out.out_ended(stack.agent1, outcome="missed", durations={}, ticket_id=tid))
    wait_for(lambda: any("Call attempt" in b for b in bodies(stack.crm.ticket(t["id"]))), 30,
             what="the attempt")
    missed(stack, number, at=MONDAY + 1800)
    (t2,) = wait_missed(stack, number, n_calls=3)
    assert t2["id"] == t["id"] and t2["status"] == "open"


def test_R_T10_R_M2_a_group_solved_by_a_person_is_not_reopened(stack):
    """R-T10 with R-M2: a person solved the missed-call ticket while its
    group is still open (no conversation yet); the customer's next missed
    call is not written to it (it stays solved, its comments untouched) but
    goes to a new open missed-call ticket of the customer (R-M1: subject,
    marker, the last agent offered), with its count, and so does the one
    after it (the group follows its ticket: no new ticket per call)."""
    number = new_number()
    t = group_of(stack, number)
    stack.crm.set_status(t["id"], "solved")
    before = stack.crm.ticket(t["id"])
    missed(stack, number, agents=(stack.agent2,), at=MONDAY + 1800)
    missed(stack, number, agents=(stack.agent2,), at=MONDAY + 2400)
    first, second = wait_missed(stack, number, n_tickets=2, n_calls=4)
    stack.settle()
    assert first["id"] == t["id"] and second["id"] != t["id"]
    assert stack.crm.ticket(t["id"]) == before, "the solved ticket was written to"
    second = stack.crm.ticket(second["id"])
    assert second["status"] == "open" and second["assignee"] == stack.agent2["crm_id"]
    # both calls may be decided before either redirect is stored: whichever
    # runs first makes the replacement, the other finds it (one per group)
    assert sorted(c.split(" at ")[0] for c in missed_comments(second)) == \
        ["Missed call 3", "Missed call 4"]
    assert len(stack.missed_tickets(number)) == 2
    missed(stack, number, agents=(stack.agent2,), at=MONDAY + 3000)  # the group follows it
    wait_for(lambda: len(missed_comments(stack.crm.ticket(second["id"]))) == 3, 30,
             what="the fifth missed call on the replacement")
    stack.settle()
    assert len(stack.missed_tickets(number)) == 2


def produce_raw(stack, topic, key, value):
    proc = subprocess.run(["kcat", "-b", BROKERS, "-P", "-t", stack.topics.prefix + topic,
                           "-K", "|"], input=f"{key}|{json.dumps(value)}\n", text=True,
                          capture_output=True, timeout=30)
    assert proc.returncode == 0, proc.stderr


# ---- R-M4 --------------------------------------------------------------------


@pytest.mark.parametrize("when, counted", [
    ("2026-11-30 06:59", False),  # Monday before 07:00
    ("2026-11-30 07:00", True),
    ("2026-11-27 21:30", False),  # Friday evening: weekday hours are over
    ("2026-11-28 23:30", True),   # Saturday night shift
    ("2026-11-29 01:30", True),   # past midnight: still Saturday's shift
    ("2026-11-29 04:30", False),  # the shift ended at 04:00
    ("2027-03-28 03:30", True),   # the night of the DST change: 02:00 -> 03:00 CEST
    ("2027-03-28 04:05", False),
    ("2026-12-25 10:00", False),  # a holiday (a Friday)
])
def test_R_M4_working_hours_midnight_dst_and_holidays(stack, when, counted):
    """R-M4: outside working hours a missed call makes no ticket. Each case
    is followed by a call inside hours: only that one (or both) is counted."""
    number = new_number()
    ignored0 = grouper_metric(stack, 'missed_calls_ignored_total{reason="outside_hours"}')
    missed(stack, number, at=rome(when))
    missed(stack, number, at=MONDAY + 3600)
    (t,) = wait_missed(stack, number, n_calls=1)
    stack.settle()
    n = len(missed_comments(stack.crm.ticket(t["id"])))
    assert n == (2 if counted else 1), bodies(stack.crm.ticket(t["id"]))
    ignored = grouper_metric(stack, 'missed_calls_ignored_total{reason="outside_hours"}') - ignored0
    assert ignored == (0 if counted else 1)


# ---- R-T8 and R-M1 together (issue 19 item 5) ---------------------------------


def test_R_T8_R_M1_unanswered_ivr_call_is_one_ticket(stack):
    """Issue 19 item 5: the IVR pre-created the call's ticket (R-T8) and no
    agent answered: that ticket becomes the customer's missed-call ticket
    (R-M1: open, tagged, the last agent offered, "Missed call 1"), with the
    call's summary; the grouper opens no second ticket, and the customer's
    next missed call joins it (R-M2)."""
    number = new_number()
    call = Call(number=number, start=MONDAY)
    status, body, _ = stack.ticket.http(
        "POST", "/v1/ivr/tickets",
        {"call_id": call.call_id, "number": number, "ticket_type": "billing_dispute"},
        headers={"Authorization": f"Bearer {IVR_TOKEN}"})
    assert status == 201, body
    tid = str(body["ticket_id"])
    stack.produce(call.offered(stack.agent1), call.ended(outcome="missed", durations={}))
    wait_comment(stack.crm, tid, "Call summary", timeout=30)
    wait_for(lambda: sum(len(missed_lines(t)) for t in customer_tickets(stack.crm, number)), 30,
             what="the missed call on a ticket")
    stack.settle()
    tickets = customer_tickets(stack.crm, number)
    assert [t["id"] for t in tickets] == [tid], [(t["id"], t["subject"]) for t in tickets]
    t = tickets[0]
    assert t["status"] == "open" and {"callbus_ivr", "callbus_missed"} <= set(t["tags"])
    assert t["assignee"] == stack.agent1["crm_id"]
    assert [line.split(" at ")[0] for line in missed_lines(t)] == ["Missed call 1"]

    missed(stack, number, agents=(stack.agent2,), at=MONDAY + 600)
    wait_for(lambda: len(missed_lines(stack.crm.ticket(tid))) == 2, 30,
             what="the second missed call on the IVR's ticket")
    stack.settle()
    assert [t["id"] for t in customer_tickets(stack.crm, number)] == [tid]


# ---- replays and lost state (issue 11 items 4, 5) -----------------------------


def test_replayed_events_change_nothing(stack):
    """A provider re-posting every event (same event ids) changes no ticket,
    comment or count."""
    number = new_number()
    calls = [missed(stack, number, at=MONDAY + 60 * i) for i in range(3)]
    (t,) = wait_missed(stack, number, n_calls=3)
    stack.settle()
    before = stack.crm.ticket(t["id"])
    ops_before = len(stack.missed_ops())
    for c in calls:
        c.clock = MONDAY + 60 * calls.index(c)
        stack.produce(c.offered(stack.agent1), c.ended(outcome="missed", durations={}))
    stack.settle()
    after = stack.crm.ticket(t["id"])
    assert len(after["comments"]) == len(before["comments"])
    assert len(stack.missed_tickets(number)) == 1
    assert len(stack.missed_ops()) == ops_before, "a replay produced a new op"


def test_redis_state_lost_opens_at_worst_a_second_ticket_never_drops_a_call(stack):
    """Issue 11 item 5: both services' state of the customer is gone (what a
    Redis restart without persistence loses): the next missed call opens a
    second ticket; every missed call is on a ticket. Only ticket-service's
    state gone: the grouper's group.add still makes a ticket."""
    number = new_number()
    missed(stack, number)
    (t1,) = wait_missed(stack, number, n_calls=1)
    stack.settle()
    stack.forget(number)
    missed(stack, number, at=MONDAY + 60)
    a, b = wait_missed(stack, number, n_tickets=2, n_calls=2)
    assert missed_comments(b)[0].startswith("Missed call 1 at ")

    other = new_number()
    missed(stack, other)
    wait_missed(stack, other, n_calls=1)
    stack.settle()
    host, port = urllib.parse.urlparse(stack.ticket.env["CALLBUS_REDIS_URL"]).netloc.split(":")
    subprocess.run(["redis-cli", "-h", host, "-p", port, "DEL",
                    f"{stack.topics.prefix}tkt:cust:{other}"], check=True, capture_output=True)
    missed(stack, other, at=MONDAY + 60)
    tickets = wait_missed(stack, other, n_tickets=2, n_calls=2)
    assert missed_comments(tickets[1])[0].startswith("Missed call 2 at ")
    if stack.crm.name == "zendesk":  # Dynamics keeps no external id: the case GUID is derived from it
        assert tickets[1]["external_id"] == tickets[0]["external_id"] + "-2"
