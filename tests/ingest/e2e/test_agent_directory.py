"""The agent directory reloaded in a running callbus-ingest (issue 26 item 1).

CALLBUS_AGENT_MAP_FILE is mounted the way Kubernetes mounts a ConfigMap
(`map` -> `..data/map`, `..data` -> a timestamped directory, an update
swapping the `..data` symlink). An operator the directory does not know is
published unmapped (R-I3: ticketing ignores the call); once the ConfigMap
update swaps a version that maps it in, the same process — same pid, no
restart — publishes its calls with agent.crm_id. A broken version after
that keeps the last good directory (logged, counted), and the variable's
entries stay beside the file's. Runs against the stack's broker."""
import json
import os
import re
import time
import uuid

import pytest
import requests

from conftest import FIXTURES

TOKEN = "cg-agentdir-31"
NEW_OPERATOR, NEW_AGENT = 4401, "900050"


class ConfigMapMount:
    """A directory laid out as the kubelet lays out a mounted ConfigMap."""

    def __init__(self, root):
        self.root = root
        self.version = 0

    @property
    def path(self):
        return os.path.join(self.root, "map")

    def publish(self, text):
        """Writes a new version and swaps it in atomically, as the kubelet does."""
        self.version += 1
        old = os.path.realpath(os.path.join(self.root, "..data"))
        new = f"..2026_12_07_18_00_{self.version:02d}.{uuid.uuid4().hex[:6]}"
        os.mkdir(os.path.join(self.root, new))
        with open(os.path.join(self.root, new, "map"), "w", encoding="utf-8") as f:
            f.write(text)
        os.symlink(new, os.path.join(self.root, "..data_tmp"))
        os.rename(os.path.join(self.root, "..data_tmp"), os.path.join(self.root, "..data"))
        if not os.path.lexists(self.path):
            os.symlink("..data/map", self.path)
        if self.version > 1:
            os.remove(os.path.join(old, "map"))
            os.rmdir(old)


@pytest.fixture(scope="module")
def mount(tmp_path_factory):
    m = ConfigMapMount(str(tmp_path_factory.mktemp("agents-configmap")))
    m.publish("# agents of the contact center\ncallgear:2207=900001\n")
    return m


@pytest.fixture(scope="module")
def ingest(ingest_factory, mount):
    return ingest_factory("agentdir", CALLBUS_DEFAULT_COUNTRY="TR",
                          CALLBUS_INGEST_CALLGEAR_TOKEN=TOKEN,
                          CALLBUS_AGENT_MAP="callgear:2211=900002",
                          CALLBUS_AGENT_MAP_FILE=mount.path, CALLBUS_AGENT_MAP_RELOAD_S=1)


def metric(ingest, series):
    text = requests.get(ingest.admin_url("/metrics"), timeout=5).text
    m = re.search(r"^" + re.escape(series) + r" (\S+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


def wait_metric(ingest, series, want, timeout=15.0):
    deadline = time.monotonic() + timeout
    while metric(ingest, series) < want:
        assert time.monotonic() < deadline, f"{series} stayed below {want}:\n{ingest.log_tail()}"
        time.sleep(0.2)


def answered_by(ingest, cursor, operator):
    """Posts a CallGear 'Call accepted' by `operator`; the event's agent."""
    doc = json.loads((FIXTURES / "callgear_handset.json").read_text(encoding="utf-8"))
    doc["call_info"]["call_session_id"] = int(time.time() * 1000) * 100 + uuid.uuid4().int % 100
    doc["employee_info"]["employee_id"] = operator
    r = ingest.post(f"/v1/callgear/{TOKEN}/handset", doc)
    assert r.status_code == 202, r.text
    ids = r.json()["event_ids"]
    found = cursor.wait_events(ids)
    assert set(ids) <= set(found), f"{ids} not on call-events"
    return found[ids[0]][-1][2]["agent"]


OK = 'agent_directory_reloads_total{result="ok"}'
FAILED = 'agent_directory_reloads_total{result="failed"}'


def test_directory_reloads_from_a_changed_file_without_restart_R_I3(ingest, mount, cursor):
    pid = ingest.proc.pid
    assert metric(ingest, "agent_directory_agents") == 2
    assert answered_by(ingest, cursor, 2207)["crm_id"] == "900001"   # the file's
    assert answered_by(ingest, cursor, 2211)["crm_id"] == "900002"   # the variable's
    assert "crm_id" not in answered_by(ingest, cursor, NEW_OPERATOR)  # R-I3: unmapped
    mount.publish(f"callgear:2207=900001\ncallgear:{NEW_OPERATOR}={NEW_AGENT}\n")
    wait_metric(ingest, OK, 1)
    assert answered_by(ingest, cursor, NEW_OPERATOR)["crm_id"] == NEW_AGENT
    assert answered_by(ingest, cursor, 2211)["crm_id"] == "900002"
    assert metric(ingest, "agent_directory_agents") == 3
    assert ingest.proc.pid == pid and ingest.proc.poll() is None  # no restart
    assert "agent directory reloaded from" in ingest.log()


def test_broken_version_keeps_the_last_directory(ingest, mount, cursor):
    failed = metric(ingest, FAILED)
    mount.publish(f"callgear:2207=900001\ncallgear {NEW_OPERATOR} {NEW_AGENT}\n")
    wait_metric(ingest, FAILED, failed + 1)
    assert answered_by(ingest, cursor, NEW_OPERATOR)["crm_id"] == NEW_AGENT
    assert "line 2" in ingest.log_tail(10)
    assert ingest.proc.poll() is None
