"""Issue 19 item 6c: SIGTERM while a dependency is gone or hung. Every
service (ingest, ticket-service, pop-service, the grouper) must exit by
itself within CALLBUS_SHUTDOWN_GRACE_MS (plus the short finish budget
cmn_service gives the flush and the consumer's close), never die of a
signal, and never need a SIGKILL: seen, a pop-service left by a failed
benchmark ignored SIGTERM once its stack had stopped (the consumer's
commit and group leave waited on a broker that was not there).

Kafka hung: the stack's broker is SIGSTOPped for a few seconds (the test
is RUN_SERIAL; SIGCONT in a finally). Kafka gone: a port nothing listens
on. Redis hung: a private redis-server on a free port, SIGSTOPped.
Deliveries in flight (issue 21): the broker SIGSTOPped once each
service's producer holds a message; teardown's purged delivery reports
must reach live objects (cmn_producer_close)."""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import svc

GRACE_MS = 3000
# cmn_service gives the finish hook (flush, commit, leave the group) at
# least a second past the grace; the rest is process start-up/teardown.
EXIT_WITHIN_S = GRACE_MS / 1000 + 1 + 2
CALLGEAR_TOKEN = "edges-token"
FIXTURE = Path(__file__).resolve().parents[2] / "ingest" / "unit" / "fixtures" / "callgear_end_answered.json"
BINS = svc.bins()
CONSUMERS = ("callbus-ticket", "callbus-pop", "callbus-missed")


def env_for(**extra):
    env = {"CALLBUS_SHUTDOWN_GRACE_MS": str(GRACE_MS),
           "CALLBUS_INGEST_CALLGEAR_TOKEN": CALLGEAR_TOKEN,
           "CALLBUS_TOPIC_PREFIX": f"edges{os.getpid()}x{time.monotonic_ns()}."}
    env.update(extra)
    return env


def start_all(env):
    procs = [svc.Service(b, env) for b in BINS]
    for s in procs:
        s.port()
    return procs


def wait_assigned(procs, timeout=30):
    for s in procs:
        if svc.name(s.binary) in CONSUMERS:
            assert s.wait_log(r"assigned \d+ partition", timeout), \
                f"{svc.name(s.binary)} got no partition:\n{s.text()[-3000:]}"


def wait_ready(s, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        try:
            if s.get("/readyz")[0] == 200:
                return
        except OSError:
            pass
        assert time.monotonic() < deadline, f"{svc.name(s.binary)} never ready:\n{s.text()[-3000:]}"
        time.sleep(0.1)


def post_calls(ingest, n, tag):
    """n CallGear calls through ingest: work for every consumer."""
    wait_ready(ingest)
    port = ingest.port("public")
    body = json.loads(FIXTURE.read_text())
    for i in range(n):
        body["call_info"]["call_session_id"] = f"{tag}-{os.getpid()}-{i}"
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/callgear/{CALLGEAR_TOKEN}/end",
            data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 202


def sigterm_and_check(procs, what, in_flight=()):
    """`in_flight`: the services whose log must say that messages were left
    undelivered (else the test did not reach the edge it is about)."""
    t0 = time.monotonic()
    for s in procs:
        s.proc.send_signal(signal.SIGTERM)
    problems = []
    for s in procs:
        rc = s.wait_exit(max(0.1, EXIT_WITHIN_S - (time.monotonic() - t0)))
        took = time.monotonic() - t0
        text = s.text()
        if rc is None:
            problems.append(f"{svc.name(s.binary)} still running {took:.1f}s after SIGTERM "
                            f"({what}):\n{text[-2500:]}")
        elif rc < 0:
            problems.append(f"{svc.name(s.binary)} died of signal {-rc} ({what}):\n{text[-2500:]}")
        elif "AddressSanitizer" in text or "runtime error:" in text:
            problems.append(f"{svc.name(s.binary)}: sanitizer report ({what}):\n{text[-2500:]}")
        elif "drained; exiting" not in text and "signal during start-up: exiting" not in text:
            problems.append(f"{svc.name(s.binary)} exited {rc} without draining ({what}):\n"
                            f"{text[-2500:]}")
        elif svc.name(s.binary) in in_flight and "not delivered" not in text:
            problems.append(f"{svc.name(s.binary)} had nothing in flight at shutdown ({what}):\n"
                            f"{text[-2500:]}")
    for s in procs:
        s.close()
    assert not problems, "\n\n".join(problems)


def test_every_service_is_covered():
    assert sorted(svc.name(b) for b in BINS) == sorted(("callbus-ingest",) + CONSUMERS)


def kafka_pid():
    stack = os.environ.get("CALLBUS_STACK_DIR")
    pid_file = Path(stack) / "kafka" / "kafka.pid" if stack else None
    if not pid_file or not pid_file.exists() or "CALLBUS_KAFKA_BROKERS" not in os.environ:
        pytest.fail("needs the test stack's broker (CALLBUS_STACK_DIR, CALLBUS_KAFKA_BROKERS: "
                    "tests/run.sh exports them)", pytrace=False)
    return int(pid_file.read_text().strip())


def test_sigterm_with_kafka_hung():
    """Consumers in their groups with work done, then the broker stops
    answering (SIGSTOP): SIGTERM still ends every service in time."""
    pid = kafka_pid()
    procs = start_all(env_for())
    try:
        wait_assigned(procs)
        post_calls(procs[0], 5, "kafka-hung")
        time.sleep(2)  # consumed, offsets stored
        os.kill(pid, signal.SIGSTOP)
        try:
            time.sleep(1)
            sigterm_and_check(procs, "Kafka hung")
        finally:
            os.kill(pid, signal.SIGCONT)
    finally:
        for s in procs:
            s.close()


def test_sigterm_with_kafka_gone():
    """No broker at all (a port nothing listens on) from the start."""
    procs = start_all(env_for(CALLBUS_KAFKA_BROKERS=f"127.0.0.1:{svc.dead_port()}"))
    try:
        time.sleep(1)
        sigterm_and_check(procs, "Kafka gone")
    finally:
        for s in procs:
            s.close()


@pytest.fixture
def private_redis():
    """A redis-server of our own on a free port (SIGSTOPping the stack's
    would stall every other test)."""
    binary = shutil.which("redis-server")
    if not binary:
        pytest.fail("redis-server not found (deploy/local/deps.sh installs it)", pytrace=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    d = tempfile.mkdtemp(prefix="edges-redis-")
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", d],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as c:
                c.sendall(b"PING\r\n")
                if c.recv(16).startswith(b"+PONG"):
                    break
        except OSError:
            pass
        assert time.monotonic() < deadline, "private redis-server did not start"
        time.sleep(0.05)
    yield proc, f"redis://127.0.0.1:{port}"
    proc.send_signal(signal.SIGCONT)
    proc.kill()
    proc.wait()
    shutil.rmtree(d, ignore_errors=True)


def test_sigterm_with_redis_hung(private_redis):
    """Redis stops answering (SIGSTOP) while calls arrive: the consumers
    hold work waiting on it; SIGTERM still ends every service in time."""
    redis, url = private_redis
    procs = start_all(env_for(CALLBUS_REDIS_URL=url, CALLBUS_REDIS_TIMEOUT_MS="5000"))
    try:
        wait_assigned(procs)
        redis.send_signal(signal.SIGSTOP)
        post_calls(procs[0], 5, "redis-hung")
        time.sleep(1.5)  # fetched, waiting on Redis
        sigterm_and_check(procs, "Redis hung")
    finally:
        for s in procs:
            s.close()


# ---- SIGTERM with deliveries in flight (issue 21: the producer's purged
# reports at teardown) -------------------------------------------------------

MISSED_FIXTURE = FIXTURE.with_name("callgear_end_missed.json")
ZENDESK_DIR = Path(__file__).resolve().parents[2] / "emulators" / "zendesk"
AGENT_MAP = "callgear:2207=900001,callgear:2211=900002"


@pytest.fixture
def zendesk():
    """The Zendesk emulator in-process: ticket-service's CRM writes succeed,
    so its ticket-events publish is what waits on Kafka."""
    import sys
    sys.path.insert(0, str(ZENDESK_DIR))
    from emulator_client import EMAIL, TOKEN
    from zendesk_emulator import ZendeskEmulator
    emu = ZendeskEmulator("127.0.0.1", 0, EMAIL, TOKEN, 700)
    emu.start()
    yield emu, EMAIL, TOKEN
    emu.stop()


def post_missed(ingest, n, tag, timeout=10):
    """n CallGear missed calls (distinct customers): a ticket and a
    missed-call group each. Returns the HTTP statuses."""
    port = ingest.port("public")
    body = json.loads(MISSED_FIXTURE.read_text())
    statuses = []
    for i in range(n):
        body["call_info"]["call_session_id"] = f"{tag}-{os.getpid()}-{i}"
        body["contact_info"]["contact_phone_number"] = f"0532 {os.getpid() % 1000:03d} {i:02d} 34"
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/callgear/{CALLGEAR_TOKEN}/end",
            data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                statuses.append(r.status)
        except urllib.error.HTTPError as e:
            statuses.append(e.code)
        except OSError as e:  # the process went away with the request open
            statuses.append(str(e))
    return statuses


POP_SECRET = "edges-provisioning-secret"


def pop_post(pop, path, body, token, timeout=10):
    """(status, parsed body) of a JSON POST to pop-service's public port;
    (error text, None) when the process went away with the request open."""
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", pop.port("public"), timeout=timeout)
    try:
        c.request("POST", path, json.dumps(body),
                  {"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
        r = c.getresponse()
        return r.status, json.loads(r.read() or b"null")
    except OSError as e:
        return str(e), None
    finally:
        c.close()


def pop_agent_on_call(pop, redis_url, prefix, call_id):
    """A logged-in agent and a call of theirs (its record seeded as
    pop-service writes it), so an agent action reaches the producer."""
    wait_ready(pop)
    status, body = pop_post(pop, "/v1/sessions", {"agent_crm_id": "900001"}, POP_SECRET)
    assert status == 201, (status, body)
    subprocess.run(["redis-cli", "-u", redis_url, "HSET", f"{prefix}pop:call:{call_id}",
                    "agent", "900001", "number", "+905325551234"],
                   check=True, stdout=subprocess.DEVNULL)
    return body["token"]


def wait_gauge(s, name, timeout=20):
    """Waits until the service's gauge `name` (admin /metrics) is above 0."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        status, body = s.get("/metrics")
        for line in body.decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                value = float(line.rsplit(" ", 1)[1])
        if status == 200 and value:
            return
        time.sleep(0.1)
    pytest.fail(f"{svc.name(s.binary)}: {name} stayed {value}:\n{s.text()[-3000:]}")


def test_sigterm_with_deliveries_in_flight(private_redis, zendesk):
    """The broker becomes unreachable (SIGSTOP) after the consumers took
    their events, so each service's producer holds a message whose
    delivery report has not come (the grouper's missed-call op,
    ticket-service's ticket event, a webhook ingest has not answered).
    pop-service holds an agent action. SIGTERM: the drain gives up after the grace, the flush leaves them
    unsent, and teardown purges them: their reports must not reach
    objects already freed (no AddressSanitizer report, no signal; the
    events are replayed, so exit status 1 for work left undone is right)."""
    import threading
    pid = kafka_pid()
    redis, url = private_redis
    emu, email, token = zendesk
    env = env_for(CALLBUS_REDIS_URL=url, CALLBUS_REDIS_TIMEOUT_MS="10000",
                  CALLBUS_ZENDESK_URL=emu.url, CALLBUS_ZENDESK_EMAIL=email,
                  CALLBUS_ZENDESK_TOKEN=token, CALLBUS_AGENT_MAP=AGENT_MAP,
                  CALLBUS_TICKET_BATCH_WINDOW_S="1", CALLBUS_POP_PROVISIONING_SECRET=POP_SECRET,
                  # the late webhook stays in flight through the drain (the
                  # default 10 s ran out during it under the sanitizer)
                  CALLBUS_INGEST_KAFKA_TIMEOUT_MS="60000")
    procs = start_all(env)
    by_name = {svc.name(s.binary): s for s in procs}
    ingest, pop = by_name["callbus-ingest"], by_name["callbus-pop"]
    stopped = False
    try:
        wait_assigned(procs)
        wait_ready(ingest)
        agent = pop_agent_on_call(pop, url, env["CALLBUS_TOPIC_PREFIX"], "edges-call-1")
        # Redis hung: the consumers take the events and wait on it.
        redis.send_signal(signal.SIGSTOP)
        assert post_missed(ingest, 3, "in-flight") == [202] * 3
        wait_gauge(by_name["callbus-missed"], "missed_events_in_flight")
        wait_gauge(by_name["callbus-ticket"], "ticket_events_in_flight")
        os.kill(pid, signal.SIGSTOP)
        stopped = True
        # Every message produced from here times out 10 s later (the
        # producers' message.timeout.ms): the SIGTERM must come before, or
        # nothing is in flight any more (fresh-clone CI, 14:25: the wait
        # below took 10 s and the webhook's delivery had failed already).
        frozen_at = time.monotonic()
        redis.send_signal(signal.SIGCONT)
        # A webhook ingest holds until its delivery report (none comes).
        answers = {}
        late = threading.Thread(
            target=lambda: answers.update(webhook=post_missed(ingest, 1, "in-flight-late", 30)[0]),
            daemon=True)
        late.start()
        # In ingest's hands before the SIGTERM (a loaded machine may take a
        # second to connect: the CI run of 2026-12-07 sent it after).
        wait_gauge(ingest, "ingest_in_flight_requests")
        # An agent action pop-service answers once Kafka has it (never).
        action = threading.Thread(
            target=lambda: answers.update(action=pop_post(
                pop, "/v1/actions", {"action": "call.new_ticket", "call_id": "edges-call-1"},
                agent, 30)[0]),
            daemon=True)
        action.start()
        # The CRM writes finish; the ticket events and the ops wait on Kafka.
        deadline = frozen_at + 7
        while len(emu.snapshot()["tickets"]) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(max(0.0, min(1.0, frozen_at + 8 - time.monotonic())))
        sigterm_and_check(procs, "deliveries in flight",
                          in_flight=("callbus-ingest", "callbus-ticket", "callbus-missed",
                                     "callbus-pop"))
        late.join(5)
        action.join(5)
        # Never stored, so never acknowledged: a 503 (or the connection
        # closed), and the provider or the page tries again.
        assert answers.get("webhook") != 202 and answers.get("action") != 202, answers
        assert set(answers) == {"webhook", "action"}, answers
    finally:
        if stopped:
            os.kill(pid, signal.SIGCONT)
        redis.send_signal(signal.SIGCONT)
        for s in procs:
            s.close()
