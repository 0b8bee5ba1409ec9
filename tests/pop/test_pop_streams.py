"""Pop streams and the connection cap (issue 19 item 2): however a stream
ends (client gone, logout, a newer login, shutdown) its connection frees
its slot; /readyz fails while the listener refuses connections."""
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
    token = capped.agent("930104")
    socks = []
    for _ in range(CAP - baseline):
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
