"""A revoked CRM token (issue 7 item 2; ARCHITECTURE: offsets follow
effects, nothing accepted is lost). While Zendesk answers 401 to every
request, ticket-service writes nothing, gives nothing up and holds the
events (their offsets stay where they are); /readyz says 503 and the
failures are counted. Once the token works again every ticket and every
comment arrives exactly once.

ticket-service here: 2 s batch window."""
import time

import pytest

from e2e import AGENT1, Call, assert_requests_conform, finish_stack, start_stack, wait_for

WINDOW_S = 2


@pytest.fixture(scope="module")
def stack(request, logdir):
    s = start_stack(request, logdir, env={"CALLBUS_TICKET_BATCH_WINDOW_S": str(WINDOW_S),
                                          "CALLBUS_LOG_LEVEL": "info"})
    yield s
    finish_stack(s)


@pytest.fixture(autouse=True)
def _emulator_defaults(stack):
    yield
    stack.emu.configure(revoke_token_s=0)
    stack.emu.restore_defaults()


def tickets_of(stack, calls):
    by_ext = stack.emu.tickets_by_external_id()
    return [by_ext.get(f"callbus-{c.call_id}", []) for c in calls]


def marker_counts(stack, pairs):
    """{(ticket, event id): times its comment marker is in the ticket}."""
    texts = stack.emu.comment_texts({tid for tid, _ in pairs})
    return {(tid, ev): texts[tid].count(f"[callbus {ev}/") for tid, ev in pairs}


def test_revoked_token_holds_events_and_resumes_with_nothing_lost(stack):
    svc, emu = stack.svc, stack.emu
    # Calls whose tickets exist before the token stops working ...
    before = [Call() for _ in range(3)]
    stack.produce(*[c.answered(AGENT1) for c in before])
    wait_for(lambda: all(len(t) == 1 for t in tickets_of(stack, before)), 30,
             what="the first tickets")
    svc.wait_idle()
    old_tickets = [t[0] for t in tickets_of(stack, before)]
    done_before = svc.metric("ticket_events_done_total")
    rejected_before = svc.metric("ticket_events_rejected_total")
    refused_before = svc.metric("ticket_ops_refused_total")

    emu.configure(revoke_token_s=600)
    # ... their ends (comments), and new calls (creations) while it is revoked.
    during = [Call() for _ in range(3)]
    evs = [c.ended(agent=AGENT1) for c in before]
    evs += [c.answered(AGENT1) for c in during]
    stack.produce(*evs)

    wait_for(lambda: svc.metric("ticket_crm_auth_failures_total") >= 6, 40,
             what="the CRM's refusals to be counted")
    assert svc.metric("ticket_crm_auth_failing") == 1
    assert svc._http_status("/readyz", admin=True) == 503
    time.sleep(WINDOW_S + 1)  # a batch window and a retry or two with the token still revoked
    assert all(t == [] for t in tickets_of(stack, during)), "a ticket written while revoked?"
    assert not any(marker_counts(stack, [(t, e["event_id"]) for t, e in
                                         zip(old_tickets, evs)]).values())
    # Nothing given up: every event is still held (so is its offset).
    assert svc.metric("ticket_events_in_flight") == len(evs)
    assert svc.metric("ticket_events_done_total") == done_before
    assert svc.metric("ticket_events_rejected_total") == rejected_before
    assert svc.metric("ticket_ops_refused_total") == refused_before

    emu.configure(revoke_token_s=0)
    wait_for(lambda: all(len(t) >= 1 for t in tickets_of(stack, during)), 60,
             what="the tickets of the calls made while revoked")
    svc.wait_idle(60)
    assert all(len(t) == 1 for t in tickets_of(stack, during)), tickets_of(stack, during)
    ends = [(t, e["event_id"]) for t, e in zip(old_tickets, evs)]
    assert all(v == 1 for v in marker_counts(stack, ends).values()), marker_counts(stack, ends)
    assert svc.metric("ticket_events_done_total") == done_before + len(evs)
    assert svc.metric("ticket_crm_auth_failing") == 0
    assert svc._http_status("/readyz", admin=True) == 200


def test_zz_every_request_conforms_to_zendesk_openapi(stack):
    stack.svc.wait_idle()
    assert_requests_conform(stack.emu)
