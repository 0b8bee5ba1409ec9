"""Pop streams and the connection cap (issue 19 item 2): however a stream
ends (client gone, logout, a newer login, shutdown) its connection frees
its slot; /readyz fails while the listener refuses connections."""
import hashlib
import select
import subprocess
import time

import pytest

import pop

OPEN = 'http_connections_open{server="public"}'
REFUSED = 'http_connections_refused_total{server="public"}'
CAP = 8


@pytest.fixture(scope="module")
def capped(topics, logdir):
    """A replica with a small connection cap, so that "more streams than the
    cap" takes seconds."""
    s = pop.start_pop(topics, f"pop-{topics.prefix.rstrip('.')}-capped", logdir, "pop-capped",
                      {"CALLBUS_HTTP_MAX_CONNECTIONS": str(CAP)})
    yield s
    if s.running():
        s.stop()


def settled(svc, baseline, timeout=10.0):
    """The public listener's open connections, once back at baseline."""
    pop.wait_for(lambda: svc.metrics().get(OPEN, 0) <= baseline, timeout,
                 what=f"{svc.name}'s open connections to return to {baseline}")
    return svc.metrics().get(OPEN, 0)


def test_streams_past_the_cap_the_client_closes_are_all_served(capped):
    """Five times the cap of streams opened and closed in a row by one
    agent: none refused, the connections back at their baseline."""
    token = capped.agent("930101", "prov-930101")
    r = pop.reconnect_storm(capped, token, 5 * CAP)
    assert r["refused"] == 0 and r["refused_by_server"] == 0, r
    assert r["opened"] == 5 * CAP
    assert r["connections_after"] == r["connections_before"], r


def test_1200_reconnects_at_the_default_cap(svc):
    """The issue's figure, at the default cap (1,024): 1,200 streams in a
    row are all served and leave no connection behind."""
    token = svc.agent("930102", "prov-930102")
    r = pop.reconnect_storm(svc, token, 1200)
    assert (r["opened"], r["refused"]) == (1200, 0), r
    assert r["connections_after"] == r["connections_before"], r


def test_streams_the_server_ends_free_their_connections(capped):
    """Logout and a newer login end the stream on the server's side (R-P1):
    three times the cap of each, every stream served and every connection
    freed."""
    baseline = capped.metrics().get(OPEN, 0)
    refused = capped.metrics().get(REFUSED, 0)
    token = capped.agent("930103")
    for i in range(3 * CAP):
        status, sock = pop.open_stream_raw(capped.port, token)
        assert status == 200, f"stream {i} refused ({status})"
        if i % 2:
            status, _, _ = capped.as_agent(token, "POST", "/v1/sessions/logout", {})
            assert status == 200
            token = capped.agent("930103")
        else:
            token = capped.agent("930103")  # a newer login ends the old session's stream
        sock.settimeout(10)
        while sock.recv(4096):  # the server ends it: the last chunk, then the close
            pass
        sock.close()
    assert settled(capped, baseline) == baseline
    assert capped.metrics().get(REFUSED, 0) == refused


def test_readyz_fails_while_the_cap_is_reached(capped):
    """A replica that refuses every new connection is not ready (an
    orchestrator sends traffic elsewhere); ready again once slots free."""
    baseline = int(capped.metrics().get(OPEN, 0))
    socks = []
    for i in range(CAP - baseline):  # agents of their own: no per-agent cap applies
        token = capped.agent(f"93011{i}")
        status, sock = pop.open_stream_raw(capped.port, token)
        assert status == 200
        socks.append(sock)
    pop.wait_for(lambda: capped._http_status("/readyz", admin=True) == 503, 5,
                 what="/readyz to fail at the cap")
    status, _ = pop.open_stream_raw(capped.port, token)
    assert status == 503  # what /readyz announced
    for sock in socks:
        sock.close()
    settled(capped, baseline)
    assert capped._http_status("/readyz", admin=True) == 200


@pytest.fixture(scope="module")
def short_sessions(topics, logdir):
    """Sessions of the shortest TTL (10 s) and a stream's session checked
    every second."""
    s = pop.start_pop(topics, f"pop-{topics.prefix.rstrip('.')}-short", logdir, "pop-short",
                      {"CALLBUS_POP_SESSION_TTL_S": "10", "CALLBUS_POP_SESSION_CHECK_S": "1",
                       "CALLBUS_POP_KEEPALIVE_S": "1"})
    yield s
    if s.running():
        s.stop()


def test_a_stream_ends_when_its_session_expires(short_sessions):
    """R-P1: a session without heartbeats expires, and its open stream ends
    with it (it used to outlive it); a heartbeating agent's stream stays."""
    svc = short_sessions
    lazy, busy = svc.agent("930401"), svc.agent("930402")
    s_lazy, s_busy = svc.stream(lazy), svc.stream(busy)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 14:
        assert svc.as_agent(busy, "POST", "/v1/sessions/heartbeat")[0] == 200
        if s_lazy.closed.wait(1):
            break
    assert s_lazy.closed.is_set(), "the stream outlived its expired session"
    assert time.monotonic() - t0 >= 8, "ended before its session expired"
    assert svc.as_agent(lazy, "GET", "/v1/sessions/me")[0] == 401
    assert not s_busy.closed.is_set(), "a heartbeating agent's stream ended"
    s_busy.close()


def test_a_stream_ends_when_its_session_expires_even_checked_rarely(topics, logdir):
    """R-P1, issue 22 item 3 (an ID token's session ends by expiry): the
    stream ends when its session's TTL runs out, not at the next periodic
    check (CALLBUS_POP_SESSION_CHECK_S, 30 s). A stream opened 0.7 s into
    a 10 s session learns "9 s left" (Redis rounds TTL); 9 s on, the key has
    0.3 s left and TTL says 0."""
    svc = pop.start_pop(topics, f"pop-{topics.prefix.rstrip('.')}-rare", logdir, "pop-rare",
                        {"CALLBUS_POP_SESSION_TTL_S": "10", "CALLBUS_POP_SESSION_CHECK_S": "30"})
    try:
        token = svc.agent("930405")
        t0 = time.monotonic()
        time.sleep(0.7)
        stream = svc.stream(token)
        assert stream.status == 200
        assert stream.closed.wait(14), "the stream outlived its expired session"
        took = time.monotonic() - t0
        assert 9.5 <= took <= 12, f"the stream ended {took:.1f} s after login (session: 10 s)"
    finally:
        svc.stop()


def test_a_stream_ends_when_its_session_is_revoked(short_sessions):
    """A session revoked in Redis (its key deleted by an operator, or a
    logout whose announcement was lost) ends its open streams within the
    check interval; another agent's stream stays."""
    svc = short_sessions
    gone, kept = svc.agent("930403"), svc.agent("930404")
    s_gone, s_kept = svc.stream(gone), svc.stream(kept)
    key = f"{svc.topics.prefix}pop:sess:{hashlib.sha256(gone.encode()).hexdigest()}"
    r = subprocess.run(["redis-cli", "-u", pop.REDIS_URL, "DEL", key], capture_output=True,
                       text=True, timeout=10, check=True)
    assert r.stdout.strip() == "1"
    assert s_gone.closed.wait(5), "the stream outlived its revoked session"
    assert svc.as_agent(kept, "POST", "/v1/sessions/heartbeat")[0] == 200
    assert not s_kept.closed.is_set()
    s_kept.close()


def replaced_streams(svc):
    return svc.metrics().get("pop_streams_replaced_total", 0)


@pytest.mark.parametrize("per_session,per_agent", [(2, 8), (8, 2)])
def test_streams_per_session_and_agent_are_capped_the_oldest_ends(topics, logdir, per_session,
                                                                   per_agent):
    """Issue 19 item 2: past CALLBUS_POP_MAX_STREAMS_PER_SESSION (or _AGENT)
    a new stream ends the oldest of that session (agent), which is what a
    reload over a half-dead connection wants; the ended stream is told
    ("replaced": the page stops reconnecting, so two tabs never take turns
    ending each other). Another agent's streams are not counted."""
    cap = min(per_session, per_agent)
    svc = pop.start_pop(topics, f"pop-{topics.prefix.rstrip('.')}-cap{per_session}", logdir,
                        f"pop-cap-{per_session}-{per_agent}",
                        {"CALLBUS_POP_MAX_STREAMS_PER_SESSION": str(per_session),
                         "CALLBUS_POP_MAX_STREAMS_PER_AGENT": str(per_agent)})
    try:
        token, other = svc.agent("930501"), svc.agent("930502")
        others = [svc.stream(other) for _ in range(cap)]
        first = [svc.stream(token) for _ in range(cap)]
        assert all(s.status == 200 for s in first + others)
        before = replaced_streams(svc)
        newest = svc.stream(token)
        assert newest.status == 200
        assert first[0].closed.wait(5), "the oldest stream stayed open past the cap"
        assert [e for _, e, _ in first[0].events] == ["replaced"]
        assert not any(s.closed.is_set() for s in first[1:] + others + [newest])
        assert replaced_streams(svc) == before + 1
        for s in first[1:] + others + [newest]:
            s.close()
    finally:
        svc.stop()


def test_keepalives_are_spread_over_the_interval(topics, logdir):
    """Issue 26 item 2 (10,000 streams on a replica): each idle stream gets
    its keep-alive comment once every CALLBUS_POP_KEEPALIVE_S, but not all
    streams in the same instant — one timer writing 10,000 pings at once
    stalled the loop (every pop behind it waited) and grew the RSS by a
    ping buffer per stream (+13 MB at 10,000). 8 streams, a 4 s interval:
    their pings come in several different seconds, every stream's within
    the interval (plus a second's slack) of the last."""
    svc = pop.start_pop(topics, f"pop-{topics.prefix.rstrip('.')}-ka", logdir, "pop-ka",
                        {"CALLBUS_POP_KEEPALIVE_S": "4"})
    socks = []
    try:
        for i in range(8):
            status, sock = pop.open_stream_raw(svc.port, svc.agent(f"93050{i}"))
            assert status == 200
            sock.setblocking(False)
            socks.append(sock)
        opened = time.monotonic()
        pings = {s: [] for s in socks}
        while time.monotonic() - opened < 9.5:
            ready, _, _ = select.select(socks, [], [], 0.2)
            for s in ready:
                data = s.recv(4096)
                assert data, "a stream ended"
                pings[s] += [time.monotonic()] * data.count(b": ping")
        for times in pings.values():
            marks = [opened] + times
            assert len(times) >= 2, times
            assert max(b - a for a, b in zip(marks, marks[1:])) <= 4 + 1.0, marks
        firsts = sorted(times[0] for times in pings.values())
        assert firsts[-1] - firsts[0] >= 1.5, f"every stream pinged at once: {firsts}"
    finally:
        for s in socks:
            s.close()
        svc.stop()
