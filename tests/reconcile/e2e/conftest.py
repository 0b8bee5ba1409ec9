"""callbus-reconcile end to end (label `reconcile`): the scenario generator's
calls, some of whose webhooks never reach callbus-ingest, the providers'
call-log emulators (tests/emulators/call_logs), callbus-reconcile, Kafka
and ticket-service on the Zendesk emulator. Helpers are the ticket and
missed suites' (imported, not copied)."""
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, HERE)
for sub in (("ticket", "e2e"), ("missed", "e2e"), ("pop", "e2e"), ("system", "e2e"),
            ("emulators", "call_logs")):
    sys.path.insert(0, os.path.join(ROOT, "tests", *sub))


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("reconcile-logs"))
