"""kill -9 of ticket-service (docs/ticket-service.md, "Crash points"):
inside a batch window, and right after a bulk request left. After a
restart every expected comment is in the CRM exactly once: no loss (offsets
follow effects: the events are replayed), no duplicate (their committed
plans are re-applied with the comment markers checked first).

ticket-service here: 5 s window, static group membership (a restarted
replica gets its partitions back at once instead of after the session
timeout), and Zendesk's Enterprise Plus budget (2,500 requests a minute) in
the emulator and the service: several hundred calls' requests within a
minute, and a restarted service that has not counted its predecessor's
requests, would otherwise meet the 700 limit's 429 and wait out its
Retry-After (~30 s; the R-B5 429 path is test_batching's)."""
import re
import signal
import time

import pytest

from e2e import (AGENT1, RUN, Call, assert_requests_conform, finish_stack, start_stack,
                      wait_for)

WINDOW_S = 5  # long enough that 100 events are all waiting in it before the kill
N_CALLS = 50
RATE_LIMIT = 2500


@pytest.fixture(scope="module")
def stack(request, logdir):
    s = start_stack(request, logdir, rate_limit=RATE_LIMIT,
                    env={"CALLBUS_TICKET_BATCH_WINDOW_S": str(WINDOW_S),
                         "CALLBUS_CRM_RATE_LIMIT": str(RATE_LIMIT),
                         "CALLBUS_KAFKA_INSTANCE_ID": f"ticket-e2e-{RUN}",
                         "CALLBUS_LOG_LEVEL": "info"})
    yield s
    finish_stack(s)


@pytest.fixture(autouse=True)
def _emulator_defaults(stack):
    yield
    stack.emu.restore_defaults(RATE_LIMIT)


def calls_with_tickets(stack, n):
    calls = [Call() for _ in range(n)]
    stack.produce(*[c.answered(AGENT1) for c in calls])

    def all_there():
        by_ext = stack.emu.tickets_by_external_id()
        ids = [by_ext.get(f"callbus-{c.call_id}", []) for c in calls]
        if any(len(i) != 1 for i in ids):
            return None
        return [(c, i[0]) for c, i in zip(calls, ids)]
    out = wait_for(all_there, 60, interval=0.5, what=f"{n} tickets")
    stack.svc.wait_idle()
    return out


def end_of_calls(made_calls):
    evs, expected = [], []
    for call, tid in made_calls:
        end, rec = call.ended(agent=AGENT1), call.recording(None, 33)
        evs += [end, rec]
        expected.append((tid, end["event_id"]))
        expected.append((tid, rec["event_id"]))
    return evs, expected


def counts(stack, expected):
    """{(ticket, event id): how many times its comment marker is in the ticket}."""
    texts = stack.emu.comment_texts({tid for tid, _ in expected})
    return {(tid, event_id): texts[tid].count(f"[callbus {event_id}/")
            for tid, event_id in expected}


def all_present(stack, expected):
    return all(v >= 1 for v in counts(stack, expected).values())


def assert_exactly_once(stack, expected):
    c = counts(stack, expected)
    wrong = {k: v for k, v in c.items() if v != 1}
    assert not wrong, f"{len(wrong)} of {len(c)} comments not exactly once: " \
        f"{list(wrong.items())[:6]}"


def bulk_requests(stack, since):
    return [e for e in stack.emu.requests(since)
            if e["method"] == "PUT" and "update_many" in e["path"]]


def restart(stack):
    stack.svc.start()
    return stack.svc


def test_kill9_inside_batch_window_loses_and_duplicates_nothing(stack):
    """Events consumed, their plans committed, their writes waiting in the
    batch window: kill -9. After the restart the events are replayed and
    every comment arrives exactly once."""
    made = calls_with_tickets(stack, N_CALLS)
    evs, expected = end_of_calls(made)
    mark = stack.emu.mark()
    stack.produce(*evs)
    wait_for(lambda: stack.svc.metric("ticket_batch_pending") >= len(evs), 15,
             what="every write to be waiting in the batch")
    stack.svc.kill9()
    assert bulk_requests(stack, mark) == [], "the window flushed before the kill"
    assert not any(counts(stack, expected).values())
    restart(stack)
    wait_for(lambda: all_present(stack, expected), WINDOW_S + 30, interval=0.5,
             what="every comment after the restart")
    stack.svc.wait_idle(30)
    time.sleep(1.5)  # nothing more may come
    assert_exactly_once(stack, expected)
    sizes = [len(e["body"]["tickets"]) for e in bulk_requests(stack, mark)]
    assert sizes == [N_CALLS], f"one bulk request of {N_CALLS} expected, got {sizes}"


def test_kill9_after_bulk_request_sent_applies_it_once(stack):
    """The bulk request has left (the emulator holds it: latency injected on
    update_many) when ticket-service is killed; the CRM applies it but the
    answer is lost. After the restart the replayed plans find their comments
    (marker check) and do not send them again."""
    made = calls_with_tickets(stack, N_CALLS)
    evs, expected = end_of_calls(made)
    stack.emu.path_latency = [("PUT", re.compile(r"/tickets/update_many"), 2500)]
    mark = stack.emu.mark()
    t_produced = time.monotonic()
    stack.produce(*evs)
    wait_for(lambda: stack.svc.metric("ticket_batch_pending") >= len(evs), 15,
             what="every write to be waiting in the batch")

    def bulk_arrived():
        return [a for a in stack.emu.arrivals if a[0] >= t_produced and a[1] == "PUT"
                and "update_many" in a[2]]
    wait_for(bulk_arrived, WINDOW_S + 10, interval=0.02, what="the bulk request to leave")
    stack.svc.kill9()
    stack.emu.path_latency = []
    # the CRM carries the request out although nobody reads the answer
    wait_for(lambda: all_present(stack, expected), 20, interval=0.2,
             what="the CRM to apply the orphaned bulk request")
    after_kill = stack.emu.mark()
    restart(stack)
    wait_for(lambda: stack.svc.metric("ticket_events_replayed_total") >= len(evs), 30,
             what="the end-of-call events to be replayed")
    stack.svc.wait_idle(WINDOW_S + 30)  # a wrongly re-sent write would wait in the batch
    assert_exactly_once(stack, expected)
    assert bulk_requests(stack, after_kill) == [], "comments sent again after the restart"
    assert len(bulk_requests(stack, mark)) == 1


def job_polls(stack, since):
    """Arrivals of Show Job Status requests (one job by id) since `since`."""
    return [a for a in stack.emu.arrivals if a[0] >= since and a[1] == "GET"
            and re.search(r"/job_statuses/[0-9a-f]{32}", a[2])]


def test_job_status_unreadable_while_the_job_is_queued_resends_nothing_unchecked(stack):
    """Issue 7 item 3a: the bulk job stays queued (6 s) and every read of its
    status answers 503. The adapter gives the poll up without knowing
    whether the items were applied; they must not be sent again until the
    job has finished and the markers were checked: each comment once."""
    made = calls_with_tickets(stack, 10)
    evs, expected = end_of_calls(made)
    stack.emu.configure(job_delay_ms=6000, fail_next=[
        {"method": "GET", "path_regex": r"/job_statuses/[0-9a-f]{32}", "status": 503,
         "count": 100000}])
    mark = stack.emu.mark()
    stack.produce(*evs)
    wait_for(lambda: bulk_requests(stack, mark), WINDOW_S + 15, what="the bulk request")
    wait_for(lambda: all_present(stack, expected), WINDOW_S + 60, interval=0.5,
             what="every comment")
    stack.svc.wait_idle(WINDOW_S + 60)
    time.sleep(1.5)  # nothing more may come
    stack.emu.configure(fail_next=[])
    assert_exactly_once(stack, expected)


def test_kill9_while_the_bulk_job_is_queued_applies_it_once(stack):
    """Issue 7 item 3b (the gap docs/ticket-service.md recorded: 20 summaries
    for 10 calls): update_many has answered with its job id, the job is
    still queued at Zendesk (8 s) when ticket-service is killed and
    restarted. The replay waits for the job before it checks markers:
    each comment once."""
    made = calls_with_tickets(stack, 10)
    evs, expected = end_of_calls(made)
    stack.emu.configure(job_delay_ms=8000)
    t0 = time.monotonic()
    stack.produce(*evs)
    polls = wait_for(lambda: job_polls(stack, t0), WINDOW_S + 15, interval=0.02,
                     what="update_many's answer (its job is polled)")
    stack.svc.kill9()
    assert not any(counts(stack, expected).values()), "the job ran already"
    job_id = re.search(r"/job_statuses/([0-9a-f]{32})", polls[0][2]).group(1)
    after_kill = stack.emu.mark()
    restart(stack)
    wait_for(lambda: all_present(stack, expected), WINDOW_S + 60, interval=0.5,
             what="every comment after the restart")
    stack.svc.wait_idle(WINDOW_S + 60)
    time.sleep(1.5)  # nothing more may come
    assert_exactly_once(stack, expected)
    # the replays first read the job stored with their plans, by its id
    # (before any look at the account's job list)
    first = [e for e in stack.emu.requests(after_kill) if "job_statuses" in e["path"]][0]
    assert "show_many" in first["path"] and job_id in first["query_params"].get("ids", ""), first


def test_kill9_between_contact_creation_and_commit_makes_one_contact(stack):
    """Issue 7 item 5: an unknown caller's contact is created (R-C2), then
    ticket-service is killed before the commit stored it (the ticket POST
    that follows is held by the emulator). The search index lags, so the
    replay's look-up by phone does not see the new contact; the contact's
    deterministic external id, looked up before creating again, does: one
    contact, and the call's ticket is requested by it."""
    stack.emu.configure(search_lag_s=120)
    call = Call()
    stack.emu.path_latency = [("POST", re.compile(r"/api/v2/tickets(\.json)?$"), 3000)]
    t0 = time.monotonic()
    stack.produce(call.answered(AGENT1))
    wait_for(lambda: [a for a in stack.emu.arrivals if a[0] >= t0 and a[1] == "POST"
                      and re.search(r"/api/v2/tickets(\.json)?$", a[2])], 20, interval=0.02,
             what="the ticket creation to leave (the contact exists by then)")
    assert len(stack.emu.users_with_phone(call.number)) == 1
    stack.svc.kill9()
    stack.emu.path_latency = []
    restart(stack)
    ticket = wait_for(lambda: stack.emu.tickets_by_external_id().get(f"callbus-{call.call_id}"),
                      30, what="the call's ticket after the restart")
    stack.svc.wait_idle(30)
    users = stack.emu.users_with_phone(call.number)
    assert len(users) == 1, f"{len(users)} contacts for {call.number}: {users}"
    assert len(ticket) == 1
    assert stack.emu.ticket(ticket[0])["requester_id"] == users[0]["id"]


def create_many_arrivals(stack, since, kind):
    return [a for a in stack.emu.arrivals if a[0] >= since and a[1] == "POST"
            and a[2].startswith(f"/api/v2/{kind}/create_many")]


def test_kill9_while_a_bulk_creation_job_is_queued_creates_once(stack):
    """Issue 12: abandoned calls of new callers (no agent waits for them)
    get their contacts with users/create_many, then their tickets with
    tickets/create_many. ticket-service is killed once tickets/create_many
    has answered and its job is still queued at Zendesk (8 s). The replays
    find their creation marks, wait for the account's queued jobs, then look
    the external ids up: one ticket and one contact per call."""
    calls = [Call() for _ in range(5)]
    t0 = time.monotonic()
    stack.produce(*[c.ended("abandoned", durations={"wait_s": 20, "total_s": 20})
                    for c in calls])
    wait_for(lambda: create_many_arrivals(stack, t0, "users"), WINDOW_S + 15, interval=0.05,
             what="the contacts' bulk creation")
    wait_for(lambda: all(len(stack.emu.users_with_phone(c.number)) == 1 for c in calls), 10,
             what="the contacts")
    stack.emu.configure(job_delay_ms=8000)  # the tickets' job will wait, queued
    t1 = time.monotonic()
    wait_for(lambda: create_many_arrivals(stack, t1, "tickets"), WINDOW_S + 15, interval=0.02,
             what="the tickets' bulk creation")
    wait_for(lambda: job_polls(stack, t1), 10, interval=0.02,
             what="tickets/create_many's answer (its job is polled)")
    stack.svc.kill9()
    assert not any(stack.emu.tickets_of_call(c.call_id) for c in calls), "the job ran already"
    restart(stack)
    wait_for(lambda: all(stack.emu.tickets_of_call(c.call_id) for c in calls), WINDOW_S + 60,
             interval=0.5, what="every call's ticket after the restart")
    stack.svc.wait_idle(WINDOW_S + 60)
    time.sleep(1.5)  # nothing more may come
    for c in calls:
        tickets = stack.emu.tickets_of_call(c.call_id)
        assert len(tickets) == 1, f"{len(tickets)} tickets for {c.call_id}"
        users = stack.emu.users_with_phone(c.number)
        assert len(users) == 1, f"{len(users)} contacts for {c.number}"
        assert tickets[0]["requester_id"] == users[0]["id"]
    # made by the bulk creation before the kill, not again after it
    assert len(create_many_arrivals(stack, t1, "tickets")) == 1
    assert not [a for a in stack.emu.arrivals if a[0] >= t1 and a[1] == "POST"
                and re.search(r"/api/v2/tickets(\.json)?$", a[2])]


def test_sigterm_with_events_arriving_during_the_drain_exits_0(stack):
    """SIGTERM: ticket-service stops taking work and finishes what it holds
    (docs/architecture.md, Shutdown). Events that reach the consumer while
    it drains are left for the next start, which handles them; the drain
    ends with exit status 0 (not an abort)."""
    stack.emu.configure(latency_ms=1500)  # the in-flight creation takes ~4.5 s
    first = Call()
    stack.produce(first.answered(AGENT1))
    wait_for(lambda: stack.svc.metric("ticket_events_in_flight") >= 1, 10,
             what="the first call to be in flight")
    stack.svc.proc.send_signal(signal.SIGTERM)
    late = [Call() for _ in range(5)]
    stack.produce(*[c.answered(AGENT1) for c in late])
    try:
        rc = stack.svc.proc.wait(40)
        assert rc == 0, f"exit status {rc} after SIGTERM:\n" + stack.svc.log_tail(15)
        assert len(stack.emu.tickets_of_call(first.call_id)) == 1, "in-flight work not finished"
    finally:  # whatever happened, the next start handles what is left
        if stack.svc.running():
            stack.svc.proc.kill()
            stack.svc.proc.wait()
        stack.emu.configure(latency_ms=0)
        restart(stack)
        for c in [first] + late:
            wait_for(lambda c=c: len(stack.emu.tickets_of_call(c.call_id)) == 1, 20,
                     what=f"the call {c.call_id} after the restart")
        stack.svc.wait_idle()


def test_zz_every_request_conforms_to_zendesk_openapi(stack):
    stack.svc.wait_idle()
    assert_requests_conform(stack.emu)
