"""The stats service end to end (label `stats`): messages of its six
topics -> callbus-stats -> the contract's day hashes in Redis. The process
helpers are tests/ticket/e2e/e2e.py's (imported, not copied)."""
import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "ticket", "e2e"))

# The report hook that keeps each phase's result on the test item, as
# tests/ticket/e2e does (one home: imported from there).
_spec = importlib.util.spec_from_file_location(
    "ticket_e2e_conftest", os.path.join(HERE, "..", "..", "ticket", "e2e", "conftest.py"))
_ticket_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_ticket_conftest)
pytest_runtest_makereport = _ticket_conftest.pytest_runtest_makereport


import pytest  # noqa: E402


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("stats-logs"))
