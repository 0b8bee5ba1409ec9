"""Issue 19 item 6d: a service whose RLIMIT_NOFILE cannot hold
CALLBUS_HTTP_MAX_CONNECTIONS says so at start-up and runs with a cap the
limit holds (or refuses to start when not even a small one fits); under
more connections than that it refuses the surplus with 503, its loop does
not spin (CPU stays low: no EMFILE busy loop on the listening socket), and
once the connections go it serves again. Runs ingest (the public port is
cmn_http's, the same in every service)."""
import os
import re
import resource
import socket
import time

import pytest

import svc

INGEST = [b for b in svc.bins() if svc.name(b) == "callbus-ingest"]
NOFILE = 400
RESERVE = 256  # CMN_FDLIMIT_RESERVE


def low_nofile(n):
    def apply():
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))
    return apply


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.fixture
def ingest_bin():
    if not INGEST:
        pytest.fail("CALLBUS_SERVICE_BINS has no callbus-ingest", pytrace=False)
    return INGEST[0]


def test_cap_fitted_to_nofile_and_no_spin(ingest_bin):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 600
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    with svc.Service(ingest_bin, {"CALLBUS_HTTP_MAX_CONNECTIONS": "1024"},
                     preexec_fn=low_nofile(NOFILE)) as s:
        port = s.port("public")
        m = s.wait_log(r"CALLBUS_HTTP_MAX_CONNECTIONS=1024 needs about \d+ file descriptors, "
                       r"RLIMIT_NOFILE allows (\d+) .*the cap is lowered to (\d+)", 5)
        assert m, f"no start-up line about the cap and RLIMIT_NOFILE:\n{s.text()[-3000:]}"
        cap = int(m.group(2))
        assert (int(m.group(1)), cap) == (NOFILE, NOFILE - RESERVE)
        socks = []
        try:
            for _ in range(want):
                c = socket.create_connection(("127.0.0.1", port), timeout=5)
                socks.append(c)
            time.sleep(1)
            before = cpu_seconds(s.proc.pid)
            time.sleep(2)
            used = cpu_seconds(s.proc.pid) - before
            print(f"cpu with {want} connections, cap {cap}: {used:.2f} s in 2 s")
            assert used < 0.5, f"{used:.2f} s of CPU in 2 s with {want} connections:\n" \
                               f"{s.text()[-2000:]}"
            # the surplus is refused (a 503, or closed unanswered past the
            # refusals in progress), not left hanging in the backlog
            hanging = 0
            for c in socks[-20:]:
                try:
                    c.sendall(b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
                    answer = c.recv(64)
                    assert answer == b"" or answer.startswith(b"HTTP/1.1 503"), answer
                except socket.timeout:
                    hanging += 1
                except OSError:
                    pass  # reset: closed unanswered
            assert hanging == 0, f"{hanging} of the last 20 connections left hanging"
            metrics = s.get("/metrics")[1].decode()
            m = re.search(r'^http_connections_refused_total\{server="public"\} (\d+)', metrics,
                          re.M)
            assert m and int(m.group(1)) >= want - cap, metrics
            assert s.proc.poll() is None, s.text()[-3000:]
        finally:
            for c in socks:
                c.close()
        time.sleep(1)
        assert s.get("/healthz")[0] == 200
        status, _ = s.get("/nope", port=port)
        assert status == 404, status


def test_too_low_a_limit_is_refused(ingest_bin):
    with svc.Service(ingest_bin, {}, preexec_fn=low_nofile(RESERVE + 4)) as s:
        rc = s.wait_exit(20)
        text = s.text()
    assert rc == 1, f"exit {rc}:\n{text[-3000:]}"
    assert re.search(r"not even \d+ connections fit", text), text[-3000:]
