"""The batched flush (BEHAVIOUR.md R-B1..R-B5) through the real pipeline:
250 calls' end-of-call writes in one window go out as ceil(250/100) = 3
bulk updates with each ticket's comments in order; a 429 storm delays but
loses nothing. ticket-service here: 8 s window, a CRM budget far above the
emulator's so that only the emulator limits (when a test turns it on)."""
import math
import re

import pytest

from e2e import (AGENT1, AGENT2, Call, assert_requests_conform, finish_stack, start_stack,
                      wait_for)

WINDOW_S = 8


@pytest.fixture(scope="module")
def stack(request, logdir):
    s = start_stack(request, logdir, rate_limit=0,
                    env={"CALLBUS_TICKET_BATCH_WINDOW_S": str(WINDOW_S),
                         "CALLBUS_CRM_RATE_LIMIT": "100000",
                         "CALLBUS_LOG_LEVEL": "info"})
    yield s
    finish_stack(s)


@pytest.fixture(autouse=True)
def _emulator_defaults(stack):
    yield
    stack.emu.restore_defaults(rate_limit=0)


def answered_calls(stack, n, agent=AGENT1, timeout=60):
    """n new calls answered (tickets created at once, R-B4); returns
    [(call, ticket id)] once every ticket exists and the service is idle."""
    calls = [Call(queue="billing") for _ in range(n)]
    stack.produce(*[c.answered(agent) for c in calls])

    def all_there():
        by_ext = stack.emu.tickets_by_external_id()
        ids = [by_ext.get(f"callbus-{c.call_id}", []) for c in calls]
        if any(len(i) != 1 for i in ids):
            return None
        return [(c, i[0]) for c, i in zip(calls, ids)]
    out = wait_for(all_there, timeout, interval=0.5, what=f"{n} tickets")
    stack.svc.wait_idle(timeout)
    return out


def position(text, marker):
    i = text.find(marker)
    assert i >= 0, f"{marker} not in {text[:200]!r}"
    return i


def check_comments_once_in_order(stack, made):
    """Each ticket has the end-of-call summary and then the recording, each
    exactly once (markers are `[callbus <event id>/<n>]`)."""
    problems = []
    texts = stack.emu.comment_texts([tid for _, tid, _, _ in made])
    for call, tid, end_id, rec_id in made:
        t = stack.emu.ticket(tid)
        text = texts[tid]
        n_end, n_rec = text.count(f"[callbus {end_id}/"), text.count(f"[callbus {rec_id}/")
        if (n_end, n_rec) != (1, 1):
            problems.append(f"ticket {tid}: summary x{n_end}, recording x{n_rec}")
        elif position(text, f"[callbus {end_id}/") > position(text, f"[callbus {rec_id}/"):
            problems.append(f"ticket {tid}: recording before the summary")
        elif t["status"] != "pending":
            problems.append(f"ticket {tid}: status {t['status']}")
    assert not problems, f"{len(problems)} tickets wrong, e.g. {problems[:5]}"


def end_events(made_calls):
    evs, made = [], []
    for call, tid in made_calls:
        end, rec = call.ended(agent=AGENT1), call.recording(None, 61)
        evs += [end, rec]
        made.append((call, tid, end["event_id"], rec["event_id"]))
    return evs, made


def test_R_B3_250_calls_in_one_window_are_3_bulk_updates(stack):
    """R-B2/R-B3: 250 calls end within one window: their summaries and
    recordings (500 writes) leave as ceil(250/100) = 3 update_many requests,
    comments of a ticket in order, each exactly once; no single updates."""
    n = 250
    made_calls = answered_calls(stack, n)
    evs, made = end_events(made_calls)
    mark = stack.emu.mark()
    stack.produce(*evs)

    def all_done():
        texts = stack.emu.comment_texts([tid for _, tid, _, _ in made])
        return all(f"[callbus {rec}/" in texts[tid] for _, tid, _, rec in made)
    wait_for(all_done, WINDOW_S + 40, interval=0.5, what="every summary and recording")
    stack.svc.wait_idle()
    log = stack.emu.requests(mark)
    bulk = [e for e in log if e["method"] == "PUT" and "update_many" in e["path"]]
    singles = [e for e in log if e["method"] == "PUT" and re.search(r"/tickets/\d+", e["path"])]
    sizes = sorted(len(e["body"]["tickets"]) for e in bulk)
    assert len(bulk) == math.ceil(n / 100), f"{len(bulk)} bulk requests of sizes {sizes}"
    assert sizes == [50, 100, 100]
    assert singles == []
    check_comments_once_in_order(stack, made)
    m = stack.svc.metrics()
    assert m.get("ticket_batch_requests_total", 0) >= 3


def test_R_B5_429_storm_delays_but_loses_nothing(stack):
    """R-B5: the CRM answers 429 (the account allows far fewer requests than
    ticket-service was told): requests wait for Retry-After and are retried;
    every ticket and every comment arrives, exactly once."""
    stack.emu.configure(rate_limit_per_min=12, rate_window_s=3)
    mark = stack.emu.mark()
    made_calls = answered_calls(stack, 12, agent=AGENT2, timeout=90)
    evs, made = end_events(made_calls)
    stack.produce(*evs)

    def all_done():
        texts = stack.emu.comment_texts([tid for _, tid, _, _ in made])
        return all(f"[callbus {rec}/" in texts[tid] for _, tid, _, rec in made)
    wait_for(all_done, 90, interval=0.5, what="every summary and recording")
    stack.svc.wait_idle(60)
    log = stack.emu.requests(mark)
    limited = [e for e in log if e["status"] == 429]
    assert limited, "the storm did not happen (no 429)"
    check_comments_once_in_order(stack, made)
    for call, _ in made_calls:
        assert len(stack.emu.tickets_of_call(call.call_id)) == 1
        assert len(stack.emu.users_with_phone(call.number)) == 1


def test_zz_every_request_conforms_to_zendesk_openapi(stack):
    stack.svc.wait_idle()
    assert_requests_conform(stack.emu)
