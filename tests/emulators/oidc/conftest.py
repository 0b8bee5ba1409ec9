"""Fixtures: one in-process OpenID Connect emulator (port 0) per test."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from oidc_emulator import OidcEmulator  # noqa: E402


@pytest.fixture
def emulator():
    emu = OidcEmulator("127.0.0.1", 0).start()
    emu.add_user("alice", {"crm_agent_id": "900001"})
    yield emu
    emu.stop()
