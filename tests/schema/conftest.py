"""Where callbus-event-tool is: `--event-tool PATH` (ctest passes it) or the
CALLBUS_EVENT_TOOL environment variable (ctest sets it too; handy when
running pytest by hand)."""
import os

import pytest


def pytest_addoption(parser):
    parser.addoption("--event-tool", default=None,
                     help="path of callbus-event-tool (default: $CALLBUS_EVENT_TOOL)")


@pytest.fixture(scope="session")
def event_tool(pytestconfig):
    path = pytestconfig.getoption("--event-tool") or os.environ.get("CALLBUS_EVENT_TOOL")
    if not path:
        pytest.fail("callbus-event-tool not given: pass --event-tool PATH or set CALLBUS_EVENT_TOOL "
                    "(ninja -C <build> callbus-event-tool builds it)", pytrace=False)
    if not os.access(path, os.X_OK):
        pytest.fail(f"callbus-event-tool {path!r} is not an executable file", pytrace=False)
    return path
