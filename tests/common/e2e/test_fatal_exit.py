"""Issue 7 item 6 / issue 8 item 5: a librdkafka fatal error goes through
the one shutdown path of cmn_service in every service: stop taking work,
drain, flush, exit non-zero (so the orchestrator restarts the process),
instead of failing every publish for ever with /healthz green.

The fatal error is injected inside librdkafka (rd_kafka_test_fatal_error)
by the test-only setting CALLBUS_TEST_KAFKA_FATAL_AFTER_MS, so the real
error callback -> fatal handler -> drain path runs.
"""
import os
import subprocess
import tempfile

import pytest

BINS = [b for b in os.environ.get("CALLBUS_SERVICE_BINS", "").split(":") if b]

ENV = {
    "CALLBUS_HTTP_BIND": "127.0.0.1",
    "CALLBUS_HTTP_PORT": "0",
    "CALLBUS_ADMIN_PORT": "0",
    "CALLBUS_KAFKA_BROKERS": os.environ.get("CALLBUS_KAFKA_BROKERS", "127.0.0.1:1"),
    # Unreachable on purpose: the fatal path must not wait for them.
    "CALLBUS_REDIS_URL": "redis://127.0.0.1:1",
    "CALLBUS_ZENDESK_URL": "http://127.0.0.1:9",
    "CALLBUS_ZENDESK_EMAIL": "fatal@example.com",
    "CALLBUS_ZENDESK_TOKEN": "x",
    "CALLBUS_TOPIC_PREFIX": f"fatal{os.getpid()}.",
    "CALLBUS_SHUTDOWN_GRACE_MS": "2000",
    "CALLBUS_TEST_KAFKA_FATAL_AFTER_MS": "1500",
}


@pytest.mark.parametrize("binary", BINS, ids=[os.path.basename(b) for b in BINS])
def test_fatal_kafka_error_exits_non_zero(binary):
    env = dict(os.environ)
    env.update(ENV)
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen([binary], env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            rc = proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            rc = None
        log.seek(0)
        text = log.read().decode(errors="replace")
    assert rc is not None, f"{binary} still running after a fatal Kafka error:\n{text[-3000:]}"
    # > 0: it exited by itself with a failure status (a signal gives < 0).
    assert rc > 0, f"exit status {rc}:\n{text[-3000:]}"
    assert "fatal" in text, text[-3000:]
    assert "drained; exiting" in text, text[-3000:]


def test_both_services_are_covered():
    assert len(BINS) == 2, BINS
