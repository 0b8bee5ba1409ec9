"""End to end (label `e2e`): a provider's webhooks, through every process,
become the CRM ticket the behaviour spec says.

  CallGear POST -> callbus-ingest -> Kafka (call-events) -> callbus-ticket
  -> the Zendesk emulator, and callbus-ticket -> Kafka (ticket-events);
  the answered call once more against the Dynamics 365 emulator (issue 23
  item 5: the sanitizer build's run of the Dynamics adapter in the chain).

Real binaries (CALLBUS_INGEST_BIN / CALLBUS_TICKET_BIN, set by ctest), the
real broker and Redis of tests/run.sh, topics of their own (a unique
CALLBUS_TOPIC_PREFIX) so nothing else on the stack is read.
"""
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "tests" / "emulators" / "zendesk"))
sys.path.insert(0, str(REPO / "tests" / "ticket" / "e2e"))
from zendesk_emulator import ZendeskEmulator  # noqa: E402
import e2e  # noqa: E402  (Topics, wait_for and crm_view, the CRM-neutral view)

FIXTURES = REPO / "tests" / "ingest" / "unit" / "fixtures"
BROKERS = os.environ.get("CALLBUS_KAFKA_BROKERS", "127.0.0.1:19192")
REDIS = os.environ.get("CALLBUS_REDIS_URL", "redis://127.0.0.1:16479")
TOKEN = "e2e-callgear-token"


class Service:
    """A callbus binary on port 0; its port is read from its JSON log."""

    def __init__(self, binary, name, env, log_dir):
        self.log = open(log_dir / f"{name}.log", "w+")
        self.proc = subprocess.Popen([binary], env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.port = self._port(name)
        self.url = f"http://127.0.0.1:{self.port}"
        # /healthz, /readyz, /metrics: the admin listener (issue 8 item 2)
        self.admin_url = f"http://127.0.0.1:{self._port(name + ' admin')}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(self.admin_url + "/readyz", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{name} not ready: {self.tail()}")

    def _port(self, name):
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            m = re.search(rf"{name} listening on [0-9.]+:(\d+)", self.tail())
            if m:
                return int(m.group(1))
            assert self.proc.poll() is None, self.tail()
            time.sleep(0.05)
        raise AssertionError(f"{name} did not say its port: {self.tail()}")

    def tail(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()[-4000:]

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=60)
        self.log.close()
        return rc


def binary(var, *parts):
    path = os.environ.get(var) or str(REPO.joinpath("build", *parts))
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} not built (ctest sets {var})", pytrace=False)
    return path


def start_pipeline(tmp_path_factory, country):
    log_dir = tmp_path_factory.mktemp("e2e")
    emulator = ZendeskEmulator("127.0.0.1", 0, "agent@example.com", "e2e-token", 0)
    emulator.start()
    prefix = f"e2e{uuid.uuid4().hex[:8]}."
    base = {k: v for k, v in os.environ.items() if not k.startswith("CALLBUS_")}
    base.update({"CALLBUS_KAFKA_BROKERS": BROKERS, "CALLBUS_REDIS_URL": REDIS,
                 "CALLBUS_TOPIC_PREFIX": prefix, "CALLBUS_TOPIC_PARTITIONS": "2",
                 "CALLBUS_HTTP_PORT": "0", "CALLBUS_HTTP_BIND": "127.0.0.1",
                 "CALLBUS_ADMIN_PORT": "0", "CALLBUS_ADMIN_BIND": "127.0.0.1",
                 "CALLBUS_DEFAULT_COUNTRY": country, "CALLBUS_LOG_LEVEL": "info"})
    ingest = Service(binary("CALLBUS_INGEST_BIN", "services", "ingest", "callbus-ingest"),
                     "ingest", dict(base, CALLBUS_INGEST_CALLGEAR_TOKEN=TOKEN,
                                    CALLBUS_AGENT_MAP="callgear:2207=900001,callgear:2211=900002"),
                     log_dir)
    ticket = Service(binary("CALLBUS_TICKET_BIN", "services", "ticket", "callbus-ticket"),
                     "ticket", dict(base, CALLBUS_ZENDESK_URL=emulator.url,
                                    CALLBUS_ZENDESK_EMAIL="agent@example.com",
                                    CALLBUS_ZENDESK_TOKEN="e2e-token",
                                    CALLBUS_TICKET_GROUP=f"ticket-{prefix}",
                                    CALLBUS_TICKET_BATCH_WINDOW_S="1"), log_dir)
    yield {"ingest": ingest, "ticket": ticket, "emulator": emulator, "prefix": prefix}
    rc_ticket, rc_ingest = ticket.stop(), ingest.stop()
    emulator.stop()
    assert (rc_ingest, rc_ticket) == (0, 0), "a service did not shut down cleanly"


@pytest.fixture(scope="module")
def pipeline_dyn(tmp_path_factory):
    """CallGear -> ingest -> ticket-service on Dynamics 365 (the emulator's
    agents mapped), default country TR as `pipeline`."""
    log_dir = tmp_path_factory.mktemp("e2e-dyn")
    prefix = f"e2e{uuid.uuid4().hex[:8]}."
    emulator = e2e.crm_view.make_dynamics_emulator()
    crm = e2e.crm_view.DynamicsView(emulator, ticket_events=e2e.Topics(prefix).ticket_events)
    base = {k: v for k, v in os.environ.items() if not k.startswith("CALLBUS_")}
    base.update({"CALLBUS_KAFKA_BROKERS": BROKERS, "CALLBUS_REDIS_URL": REDIS,
                 "CALLBUS_TOPIC_PREFIX": prefix, "CALLBUS_TOPIC_PARTITIONS": "2",
                 "CALLBUS_HTTP_PORT": "0", "CALLBUS_HTTP_BIND": "127.0.0.1",
                 "CALLBUS_ADMIN_PORT": "0", "CALLBUS_ADMIN_BIND": "127.0.0.1",
                 "CALLBUS_DEFAULT_COUNTRY": "TR", "CALLBUS_LOG_LEVEL": "info"})
    agents = ",".join(f"callgear:{op}={a['crm_id']}" for op, a in zip((2207, 2211), crm.agents))
    ingest = ticket = None
    try:
        ingest = Service(binary("CALLBUS_INGEST_BIN", "services", "ingest", "callbus-ingest"),
                         "ingest", dict(base, CALLBUS_INGEST_CALLGEAR_TOKEN=TOKEN,
                                        CALLBUS_AGENT_MAP=agents), log_dir)
        ticket = Service(binary("CALLBUS_TICKET_BIN", "services", "ticket", "callbus-ticket"),
                         "ticket", dict(base, CALLBUS_TICKET_GROUP=f"ticket-{prefix}",
                                        CALLBUS_TICKET_BATCH_WINDOW_S="1",
                                        **crm.service_env()), log_dir)
        yield {"ingest": ingest, "ticket": ticket, "crm": crm}
    finally:
        rcs = [s.stop() for s in (ticket, ingest) if s is not None]
        emulator.stop()
    assert rcs == [0, 0], "a service did not shut down cleanly"


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    yield from start_pipeline(tmp_path_factory, "TR")


@pytest.fixture(scope="module")
def pipeline_it(tmp_path_factory):
    """The stack as a new Italian user runs it: default country IT."""
    yield from start_pipeline(tmp_path_factory, "IT")


def post(pipeline, notification, payload):
    r = requests.post(f"{pipeline['ingest'].url}/v1/callgear/{TOKEN}/{notification}",
                      data=json.dumps(payload), headers={"Content-Type": "application/json"},
                      timeout=15)
    assert r.status_code == 202, r.text
    return r.json()["event_ids"]


def fixture(name, session_id, phone):
    doc = json.loads((FIXTURES / f"callgear_{name}.json").read_text())
    doc["call_info"]["call_session_id"] = session_id
    doc["contact_info"]["contact_phone_number"] = phone
    return doc


def wait_for(emulator, predicate, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tickets = emulator.snapshot()["tickets"]
        found = predicate(tickets)
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"not reached in {timeout}s: {json.dumps(emulator.snapshot()['tickets'])[:2000]}")


def test_answered_call_becomes_assigned_ticket_with_summary_and_recording(pipeline):
    """R-T1, R-T5, R-T6, R-I3 across every process: handset -> ticket assigned
    to the mapped agent; end -> summary, pending; recording -> its link."""
    session, phone = 8100000001, "+905321110001"
    for name in ("handset", "end_answered", "recording"):
        post(pipeline, name.split("_")[0], fixture(name, session, phone))

    def done(tickets):
        mine = [t for t in tickets if t.get("external_id") == f"callbus-{session}"]
        if not mine or mine[0]["status"] != "pending":
            return None
        bodies = " ".join(c["body"] for c in mine[0].get("comments", []))
        return mine[0] if "Recording" in bodies else None

    ticket = wait_for(pipeline["emulator"], done)
    assert ticket["subject"] == f"Call from {phone}"
    assert ticket["assignee_id"] == 900001
    bodies = [c["body"] for c in ticket["comments"]]
    assert any("Call ID: 8100000001" in b for b in bodies)
    assert any("Talk" in b and "Total" in b for b in bodies)
    assert any("https://app.callgear.com/" in b for b in bodies)


def test_replayed_webhooks_change_nothing(pipeline):
    """A provider re-posting the same notifications (its retry) gets the same
    event ids, and the CRM gets no second ticket and no second comment."""
    session, phone = 8100000002, "+905321110002"
    first = [post(pipeline, "handset", fixture("handset", session, phone)),
             post(pipeline, "end", fixture("end_answered", session, phone))]
    ticket = wait_for(pipeline["emulator"], lambda ts: next(
        (t for t in ts if t.get("external_id") == f"callbus-{session}" and t["status"] == "pending"),
        None))
    again = [post(pipeline, "handset", fixture("handset", session, phone)),
             post(pipeline, "end", fixture("end_answered", session, phone))]
    assert again == first
    time.sleep(3)  # more than the batch window: a duplicate would have landed
    mine = [t for t in pipeline["emulator"].snapshot()["tickets"]
            if t.get("external_id") == f"callbus-{session}"]
    assert len(mine) == 1
    assert len(mine[0]["comments"]) == len(ticket["comments"])


def test_unmapped_operator_makes_no_ticket(pipeline):
    """R-I3: a call answered by an operator with no CRM agent is ignored."""
    session, phone = 8100000003, "+905321110003"
    doc = fixture("handset", session, phone)
    doc["employee_info"]["employee_id"] = 4242
    post(pipeline, "handset", doc)
    time.sleep(3)
    assert not [t for t in pipeline["emulator"].snapshot()["tickets"]
                if t.get("external_id") == f"callbus-{session}"]
    metrics = requests.get(pipeline["ticket"].admin_url + "/metrics", timeout=5).text
    assert re.search(r"^ticket_calls_ignored_unmapped_total [1-9]", metrics, re.M)


def test_callgear_international_digits_under_italy(pipeline_it):
    """Issue 9 item 5: CallGear sends full international digits without '+';
    under default country IT, 905321112233 is the Turkish +905321112233 (the
    contact and the subject), not +39905321112233."""
    session, raw, e164 = 8100000010, "905321112233", "+905321112233"
    for name in ("handset", "end_answered"):
        post(pipeline_it, name.split("_")[0], fixture(name, session, raw))
    ticket = wait_for(pipeline_it["emulator"], lambda ts: next(
        (t for t in ts if t.get("external_id") == f"callbus-{session}" and t["status"] == "pending"),
        None))
    assert ticket["subject"] == f"Call from {e164}"
    users = pipeline_it["emulator"].snapshot()["users"]
    assert [u["phone"] for u in users if u["id"] == ticket["requester_id"]] == [e164]
    assert not [u for u in users if (u.get("phone") or "").startswith("+19905")]


def test_answered_call_on_dynamics(pipeline_dyn):
    """The first test's call against Dynamics 365 (R-T1, R-T5, R-T6, R-I3):
    handset -> a case owned by the mapped agent's systemuser; end -> the
    summary note, pending (Waiting for Details); recording -> its link; the
    call marker in the marker column (R-M1)."""
    session, phone = 8100000021, "+905321110021"
    for name in ("handset", "end_answered", "recording"):
        post(pipeline_dyn, name.split("_")[0], fixture(name, session, phone))
    crm = pipeline_dyn["crm"]

    def done():
        cases = crm.tickets_of_call(session)
        if not cases:
            return None
        bodies = " ".join(c["body"] for c in cases[0]["comments"])
        return cases if cases[0]["status"] == "pending" and "Recording" in bodies else None
    [case] = e2e.wait_for(done, 30, what="the case pending with the recording")
    assert case["subject"] == f"Call from {phone}"
    assert case["assignee"] == crm.agents[0]["crm_id"]
    assert "callbus_call" in case["tags"]
    bodies = [c["body"] for c in case["comments"]]
    assert any("Call ID: 8100000021" in b for b in bodies)
    assert any("Talk" in b and "Total" in b for b in bodies)
    assert any("https://app.callgear.com/" in b for b in bodies)
