"""Fixtures: an in-process emulator (port 0) per test and a client for it."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from emulator_client import EMAIL, TOKEN, Client  # noqa: E402
from zendesk_emulator import ZendeskEmulator  # noqa: E402


@pytest.fixture
def emulator():
    emu = ZendeskEmulator("127.0.0.1", 0, EMAIL, TOKEN, 700)
    emu.start()
    emu.configure(job_delay_ms=10)
    yield emu
    emu.stop()


@pytest.fixture
def client(emulator):
    return Client(emulator.url)
