"""Missed-call grouper end to end (label `missed`): provider webhooks ->
callbus-ingest -> Kafka -> callbus-missed -> missed-call-ops ->
callbus-ticket (CALLBUS_TICKET_UNANSWERED=grouper) -> the Zendesk or the
Dynamics 365 emulator (each module once per CRM of CALLBUS_E2E_CRMS).

The helpers are tests/ticket/e2e/e2e.py's (imported, not copied); this
directory adds the grouper and ingest as processes (missed_e2e.py). One
stack per test module; numbers and call ids are unique to the run, topics
and consumer groups to the module."""
import importlib.util
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "ticket", "e2e"))


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("missed-logs"))


@pytest.fixture(autouse=True)
def _show_service_logs_on_failure(request):
    yield
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed and "stack" in request.fixturenames:
        try:
            for svc in request.getfixturevalue("stack").services():
                sys.stderr.write(f"\n---- {svc.name} log: {svc.logpath} (tail) ----\n"
                                 + svc.log_tail(40))
        except Exception:  # noqa: BLE001 - only a diagnostic
            pass


# The report hook that keeps each phase's result on the test item, as
# tests/ticket/e2e does (one home: imported from there).
_spec = importlib.util.spec_from_file_location(
    "ticket_e2e_conftest", os.path.join(HERE, "..", "..", "ticket", "e2e", "conftest.py"))
_ticket_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_ticket_conftest)
pytest_runtest_makereport = _ticket_conftest.pytest_runtest_makereport
