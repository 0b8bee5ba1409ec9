"""Fixtures: one in-process Dynamics emulator (port 0) per test, and a client
that has fetched a token from its Microsoft Entra ID endpoint."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from dyn_client import Client  # noqa: E402
from dynamics_emulator import DynamicsEmulator  # noqa: E402


@pytest.fixture
def emulator():
    emu = DynamicsEmulator("127.0.0.1", 0).start()
    yield emu
    emu.stop()


@pytest.fixture
def client(emulator):
    c = Client(emulator.url)
    c.login()
    return c
