"""Issue 19 item 6b: every service that talks to Redis (ticket-service,
pop-service, the missed-call grouper) honours CALLBUS_REDIS_TLS_CA and
CALLBUS_REDIS_TIMEOUT_MS, i.e. builds its clients with
cmn_service_redis_new (pop-service and the grouper used to bypass it, so
a private CA and a shorter or longer deadline were silently ignored)."""
import socket

import pytest

import svc

REDIS_USERS = [b for b in svc.bins() if svc.name(b) in ("callbus-ticket", "callbus-pop", "callbus-missed")]


@pytest.mark.parametrize("binary", REDIS_USERS, ids=[svc.name(b) for b in REDIS_USERS])
def test_tls_ca_is_used(binary):
    """A CA file that does not exist stops the start (the client loads it
    up front); a service that ignores the setting starts with the system's
    CAs instead."""
    env = {"CALLBUS_REDIS_URL": f"rediss://127.0.0.1:{svc.dead_port()}",
           "CALLBUS_REDIS_TLS_CA": "/nonexistent/callbus-test-ca.pem"}
    with svc.Service(binary, env) as s:
        rc = s.wait_exit(30)
        text = s.text()
    assert rc is not None, f"{svc.name(binary)} ignored CALLBUS_REDIS_TLS_CA:\n{text[-3000:]}"
    assert rc == 1, text[-3000:]
    assert "cannot load CA certificates from /nonexistent/callbus-test-ca.pem" in text, text[-3000:]


@pytest.mark.parametrize("binary", REDIS_USERS, ids=[svc.name(b) for b in REDIS_USERS])
def test_timeout_is_used(binary):
    """A Redis that accepts the connection and never answers (hung): the
    handshake's PING overruns CALLBUS_REDIS_TIMEOUT_MS, and the log names
    the deadline that applied."""
    with socket.socket() as hung:
        hung.bind(("127.0.0.1", 0))
        hung.listen(16)  # never accepted: the kernel completes the handshake
        env = {"CALLBUS_REDIS_URL": f"redis://127.0.0.1:{hung.getsockname()[1]}",
               "CALLBUS_REDIS_TIMEOUT_MS": "300"}
        with svc.Service(binary, env) as s:
            m = s.wait_log(r"no reply within (\d+) ms", 30)
            text = s.text()
    assert m, f"{svc.name(binary)}: no Redis deadline overrun logged:\n{text[-3000:]}"
    assert m.group(1) == "300", f"deadline {m.group(1)} ms applied, not 300:\n{text[-3000:]}"


def test_every_redis_user_is_covered():
    assert sorted(svc.name(b) for b in REDIS_USERS) == ["callbus-missed", "callbus-pop", "callbus-ticket"]
