"""Issue 8 item 3: Redis hung (SIGSTOP for 10 s, then SIGCONT) and Redis
restarted: ticket-service fails /readyz while Redis does not answer, does
not stall for ever, and every event produced meanwhile is applied exactly
once afterwards (offsets follow effects; markers make replays harmless).

The module runs its own redis-server (append-only file, so a restart keeps
the state) instead of the shared one, so stopping it disturbs no one."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from e2e import AGENT1, Call, finish_stack, start_stack, wait_for


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Redis:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="callbus-redis-outage-")
        self.port = free_port()
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--dir", self.dir,
             "--appendonly", "yes", "--save", "", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        def up():
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return True
            except OSError:
                return False
        wait_for(up, 10, what="redis-server")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture(scope="module")
def redis():
    r = Redis()
    r.start()
    yield r
    r.stop()
    shutil.rmtree(r.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def stack(request, logdir, redis):
    s = start_stack(request, logdir, env={
        "CALLBUS_REDIS_URL": f"redis://127.0.0.1:{redis.port}",
        "CALLBUS_REDIS_TIMEOUT_MS": "500",
        "CALLBUS_LOG_LEVEL": "info"})
    yield s
    finish_stack(s)


def post_calls(stack, n):
    calls = [Call() for _ in range(n)]
    stack.produce(*[c.answered(AGENT1) for c in calls])
    return calls


def assert_one_ticket_each(stack, calls, timeout=60):
    def all_there():
        by_ext = stack.emu.tickets_by_external_id()
        ids = [by_ext.get(f"callbus-{c.call_id}", []) for c in calls]
        return ids if all(len(i) >= 1 for i in ids) else None
    ids = wait_for(all_there, timeout, interval=0.5, what=f"{len(calls)} tickets")
    stack.svc.wait_idle()
    by_ext = stack.emu.tickets_by_external_id()
    wrong = [c.call_id for c in calls if len(by_ext.get(f"callbus-{c.call_id}", [])) != 1]
    assert not wrong, f"not exactly one ticket: {wrong[:5]}"
    return ids


def test_hung_redis_fails_readyz_then_everything_applied_once(stack, redis):
    assert_one_ticket_each(stack, post_calls(stack, 3))
    redis.proc.send_signal(signal.SIGSTOP)
    try:
        calls = post_calls(stack, 10)
        wait_for(lambda: stack.svc._http_status("/readyz", admin=True) == 503, 10,
                 what="/readyz 503 while Redis is stopped")
        time.sleep(10)  # the scenario: Redis stopped for 10 s
        assert stack.svc.running()
    finally:
        redis.proc.send_signal(signal.SIGCONT)
    wait_for(lambda: stack.svc._http_status("/readyz", admin=True) == 200, 20,
             what="/readyz 200 after SIGCONT")
    assert_one_ticket_each(stack, calls)


def test_redis_restart_loses_nothing(stack, redis):
    redis.stop()
    calls = post_calls(stack, 10)
    wait_for(lambda: stack.svc._http_status("/readyz", admin=True) == 503, 10,
             what="/readyz 503 while Redis is down")
    redis.start()
    wait_for(lambda: stack.svc._http_status("/readyz", admin=True) == 200, 20,
             what="/readyz 200 after the restart")
    assert_one_ticket_each(stack, calls)
