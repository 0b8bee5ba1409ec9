"""ticket-service end to end: canonical events on Kafka -> the real binary ->
the Zendesk emulator (in-process) -> assertions on the emulator's state, its
request log and the ticket-events topic.

Isolation
  * each test module gets its own topic prefix ("t<run><n>.") and consumer
    group, and its own emulator and ticket-service (module fixtures);
  * Redis is shared (CALLBUS_REDIS_URL): every number and call id is unique
    to the run (numbers carry a run id), so no key of another run or module
    is ever read.

Environment: CALLBUS_TICKET_BIN (the binary; ctest passes it), and the
stack's CALLBUS_KAFKA_BROKERS / CALLBUS_REDIS_URL (tests/run.sh exports
them; the test stack's defaults otherwise).
"""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))




@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("ticket-logs"))


@pytest.fixture(autouse=True)
def _show_service_log_on_failure(request):
    yield
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed and "stack" in request.fixturenames:
        try:
            svc = request.getfixturevalue("stack").svc
            sys.stderr.write(f"\n---- {svc.name} log: {svc.logpath} (tail) ----\n"
                             + svc.log_tail(60))
        except Exception:  # noqa: BLE001 - only a diagnostic
            pass


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
