"""Black-box harness for callbus-ingest: the real binary on a free port, the
real Kafka broker of the test stack (tests/run.sh), read back with kcat.

- `IngestProcess`: starts callbus-ingest with CALLBUS_HTTP_PORT=0, reads the
  port from its JSON log ("ingest listening on 0.0.0.0:<port>"), waits for
  /readyz 200, and on stop sends SIGTERM and returns the exit status (so an
  ASan/LSan report in the sanitizer build fails the test that owns it).
- `Kafka`: high watermarks (`kcat -Q`) and reads of a topic from noted
  offsets (`kcat -C -p <n> -o <offset> -e -J`). Topics are shared with
  whatever else runs against the stack, so tests note the offsets before
  they post and then look for their own event ids / unique markers only.
- Signers for Twilio (X-Twilio-Signature) and the generic route
  (X-Callbus-Signature), written from the providers' documents, not from
  the service's code.

Where things are: CALLBUS_INGEST_BIN (ctest sets it to the build's target),
CALLBUS_KAFKA_BROKERS (tests/run.sh exports it; default the test stack's
127.0.0.1:19192), and for stopping/starting the broker the deploy/local
variables CALLBUS_STACK_DIR / CALLBUS_KAFKA_PORT / CALLBUS_KAFKA_CONTROLLER_PORT /
CALLBUS_REDIS_PORT (defaults: the test stack's)."""
import base64
import hashlib
import hmac
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "tests" / "ingest" / "unit" / "fixtures"
SCHEMAS = REPO / "schemas"
KAFKA_SH = REPO / "deploy" / "local" / "kafka.sh"
BROKERS = os.environ.get("CALLBUS_KAFKA_BROKERS", "127.0.0.1:19192")

EVENTS_TOPIC = "call-events"
DLQ_TOPIC = "call-events.dlq"


# ---- the binary -------------------------------------------------------------

def ingest_binary():
    path = os.environ.get("CALLBUS_INGEST_BIN")
    if path:
        return path
    for build in ("build/test", "build-it", "build", "build/test-san"):
        candidate = REPO / build / "services" / "ingest" / "callbus-ingest"
        if os.access(candidate, os.X_OK):
            return str(candidate)
    return None


@pytest.fixture(scope="session")
def ingest_bin():
    path = ingest_binary()
    if not path or not os.access(path, os.X_OK):
        pytest.fail("callbus-ingest not found: set CALLBUS_INGEST_BIN (ctest does) or build it "
                    "(ninja -C <build> callbus-ingest)", pytrace=False)
    return path


class IngestProcess:
    """One callbus-ingest process. `env` is added to a clean base: the
    stack's broker, port 0, and nothing else of CALLBUS_* from the caller's
    environment (so a developer's exported settings cannot change a test)."""

    def __init__(self, binary, log_path, env):
        self.binary = binary
        self.log_path = Path(log_path)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CALLBUS_")}
        self.env.update({
            "CALLBUS_KAFKA_BROKERS": BROKERS,
            "CALLBUS_HTTP_PORT": "0",
            "CALLBUS_HTTP_BIND": "127.0.0.1",
            "CALLBUS_ADMIN_PORT": "0",
            "CALLBUS_ADMIN_BIND": "127.0.0.1",
            "CALLBUS_TOPIC_PARTITIONS": os.environ.get("CALLBUS_TEST_PARTITIONS", "3"),
            "CALLBUS_LOG_LEVEL": "info",
        })
        self.env.update({k: str(v) for k, v in env.items()})
        self.proc = None
        self.port = None
        self.admin_port = None

    # -- life cycle --
    def start(self, ready_timeout=30.0):
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([self.binary], env=self.env, stdout=self._log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + ready_timeout
        while self.port is None:
            m = re.search(r'"msg":"ingest listening on [^"]*:(\d+)"', self.log())
            a = re.search(r'"msg":"ingest admin listening on [^"]*:(\d+)"', self.log())
            if m and a:
                self.port, self.admin_port = int(m.group(1)), int(a.group(1))
                break
            if self.proc.poll() is not None:
                pytest.fail(f"callbus-ingest exited with {self.proc.returncode} at start:\n"
                            f"{self.log_tail()}", pytrace=False)
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"callbus-ingest logged no port:\n{self.log_tail()}", pytrace=False)
            time.sleep(0.05)
        self.wait_ready(deadline - time.monotonic())
        return self

    def wait_ready(self, timeout=30.0, want=200):
        """Polls /readyz until it answers `want`; returns the last reply."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            try:
                last = requests.get(self.admin_url("/readyz"), timeout=2)
                if last.status_code == want:
                    return last
            except requests.RequestException:
                pass
            if self.proc.poll() is not None:
                pytest.fail(f"callbus-ingest exited with {self.proc.returncode}:\n"
                            f"{self.log_tail()}", pytrace=False)
            if time.monotonic() > deadline:
                pytest.fail(f"/readyz did not answer {want} within {timeout:.0f}s (last: "
                            f"{last.status_code if last is not None else 'no answer'} "
                            f"{last.text if last is not None else ''})\n{self.log_tail()}",
                            pytrace=False)
            time.sleep(0.1)

    def terminate(self, timeout=30.0):
        """SIGTERM, wait, return the exit status (None if it had to be killed)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                return None
        self._log.close()
        return self.proc.returncode

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    # -- talking to it --
    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def admin_url(self, path):
        """The admin listener: /healthz, /readyz, /metrics (issue 8 item 2)."""
        return f"http://127.0.0.1:{self.admin_port}{path}"

    def post(self, path, body, content_type="application/json", headers=None, timeout=20):
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        h = {"Content-Type": content_type} if content_type else {}
        h.update(headers or {})
        return requests.post(self.url(path), data=body, headers=h, timeout=timeout)

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, n=40):
        return "\n".join(self.log().splitlines()[-n:])


@pytest.fixture(scope="module")
def ingest_factory(ingest_bin, tmp_path_factory):
    """Starts callbus-ingest processes for a module; every one still running
    at the end is SIGTERMed and must exit 0 (a leak report under ASan, a
    crash, or a drain that gives up all fail here)."""
    procs = []
    logdir = tmp_path_factory.mktemp("ingest-logs")

    def start(name, **env):
        p = IngestProcess(ingest_bin, logdir / f"{name}-{len(procs)}.log", env)
        procs.append(p)
        return p.start()

    yield start
    problems = []
    for p in procs:
        if p.proc is None:
            continue
        was_running = p.proc.poll() is None
        rc = p.terminate()
        if was_running and rc != 0:
            problems.append(f"{p.log_path.name}: exit status {rc} after SIGTERM\n{p.log_tail()}")
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


# ---- Kafka through kcat -------------------------------------------------------

class Kafka:
    def __init__(self, brokers):
        self.brokers = brokers

    def _kcat(self, *args, timeout=30):
        r = subprocess.run(["kcat", "-b", self.brokers, *args], capture_output=True, text=True,
                           timeout=timeout)
        return r

    def partitions(self, topic, timeout=30.0):
        """The topic's partitions. Asked again while the broker does not
        know the topic yet: ingest creates it at start and, on a loaded
        machine, the broker's metadata shows it a while later (the CI of
        15:36 with five busy worktrees: 'Unknown topic or partition')."""
        deadline = time.monotonic() + timeout
        while True:
            r = self._kcat("-L", "-t", topic, "-J", "-m", "5")
            meta = json.loads(r.stdout) if r.stdout.strip() else {}
            for t in meta.get("topics", []):
                if t["topic"] == topic and not t.get("error"):
                    return sorted(p["partition"] for p in t["partitions"])
            if time.monotonic() > deadline:
                raise AssertionError(f"topic {topic} not found: {r.stdout} {r.stderr}")
            time.sleep(0.5)

    def end_offsets(self, topic):
        """{partition: high watermark}: where the next message will go."""
        parts = self.partitions(topic)
        args = []
        for p in parts:
            args += ["-t", f"{topic}:{p}:-1"]
        r = self._kcat("-Q", *args)
        offsets = {}
        for line in r.stdout.splitlines():
            m = re.match(r"\s*(\S+) \[(\d+)\] offset (-?\d+)", line)
            if m and m.group(1) == topic:
                offsets[int(m.group(2))] = int(m.group(3))
        if set(offsets) != set(parts):
            raise AssertionError(f"kcat -Q gave {r.stdout!r} {r.stderr!r}")
        return offsets

    def read(self, topic, since):
        """Every message of `topic` from the offsets `since` to the end now.
        Each: {"partition", "offset", "key", "payload" (text), "value" (JSON or None)}."""
        procs = []
        for p, off in sorted(since.items()):
            procs.append(subprocess.Popen(
                ["kcat", "-b", self.brokers, "-X", "fetch.wait.max.ms=20", "-C", "-t", topic,
                 "-p", str(p), "-o", str(off), "-e", "-q", "-J"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        # Partitions created since `since` was noted (none expected) start at 0.
        out = []
        for proc in procs:
            stdout, stderr = proc.communicate(timeout=60)
            if proc.returncode != 0:
                raise AssertionError(f"kcat failed ({proc.returncode}): {stderr}")
            for line in stdout.splitlines():
                if not line.startswith("{"):
                    continue
                m = json.loads(line)
                try:
                    value = json.loads(m.get("payload") or "null")
                except ValueError:
                    value = None
                out.append({"partition": m["partition"], "offset": m["offset"],
                            "key": m.get("key"), "payload": m.get("payload"), "value": value})
        return out


class Cursor:
    """The end offsets of both ingest topics at one moment, and look-ups of
    what was published after it."""

    def __init__(self, kafka):
        self.kafka = kafka
        self.since = {t: kafka.end_offsets(t) for t in (EVENTS_TOPIC, DLQ_TOPIC)}

    def messages(self, topic=EVENTS_TOPIC):
        return self.kafka.read(topic, self.since[topic])

    def events(self):
        """event_id -> list of (key, partition, event) published since the cursor."""
        found = {}
        for m in self.messages(EVENTS_TOPIC):
            if isinstance(m["value"], dict) and "event_id" in m["value"]:
                found.setdefault(m["value"]["event_id"], []).append(
                    (m["key"], m["partition"], m["value"]))
        return found

    def wait_events(self, ids, timeout=10.0):
        """Waits until every id is on call-events; returns the id -> list map.
        A 202 means the broker acknowledged, so this normally holds at once;
        the wait only absorbs a slow reader."""
        ids = set(ids)
        deadline = time.monotonic() + timeout
        while True:
            found = self.events()
            if ids <= set(found) or time.monotonic() > deadline:
                return found
            time.sleep(0.2)

    def dlq(self, marker=None, want=1, timeout=10.0):
        """DLQ entries (parsed) published since the cursor whose raw body
        contains `marker`; waits until `want` of them are there."""
        deadline = time.monotonic() + timeout
        while True:
            entries = [(m["key"], m["value"]) for m in self.messages(DLQ_TOPIC)
                       if isinstance(m["value"], dict)
                       and (marker is None or marker in m["value"].get("body", ""))]
            if len(entries) >= want or time.monotonic() > deadline:
                return entries
            time.sleep(0.2)

    def mentions(self, marker):
        """Raw messages on either topic, since the cursor, whose payload
        contains `marker` anywhere."""
        return [(t, m) for t in (EVENTS_TOPIC, DLQ_TOPIC) for m in self.messages(t)
                if marker in (m["payload"] or "")]


@pytest.fixture(scope="session")
def kafka():
    k = Kafka(BROKERS)
    r = subprocess.run(["kcat", "-b", BROKERS, "-L", "-m", "5"], capture_output=True, text=True)
    if r.returncode != 0 or "1 brokers" not in r.stdout:
        pytest.fail(f"no Kafka broker at {BROKERS} (start the test stack: tests/run.sh does, "
                    f"or deploy/local/stack.sh start with the test ports): {r.stderr}",
                    pytrace=False)
    return k


@pytest.fixture
def cursor(kafka):
    """Offsets noted before the test posts anything. Needs the topics, which
    every ingest process ensures at start: request the ingest fixture first."""
    return Cursor(kafka)


# ---- the broker, stopped and started (deploy/local/kafka.sh) -----------------

def stack_env():
    env = dict(os.environ)
    env.setdefault("CALLBUS_STACK_DIR", str(REPO / ".stack" / "test"))
    env.setdefault("CALLBUS_KAFKA_PORT", BROKERS.rsplit(":", 1)[1])
    env.setdefault("CALLBUS_KAFKA_CONTROLLER_PORT",
                   str(int(env["CALLBUS_KAFKA_PORT"]) + 1))
    env.setdefault("CALLBUS_REDIS_PORT", "16479")
    env["CALLBUS_KAFKA_FRESH"] = "0"  # tests/run.sh exports 1: never wipe the logs here
    return env


def kafka_sh(action, timeout=120):
    r = subprocess.run([str(KAFKA_SH), action], env=stack_env(), capture_output=True, text=True,
                       timeout=timeout)
    if r.returncode != 0:
        raise AssertionError(f"kafka.sh {action} failed ({r.returncode}): {r.stderr}")
    return r


# ---- signatures, from the providers' documents ----------------------------------

def twilio_signature(auth_token, url, pairs):
    """Twilio's documented algorithm: the full URL, then every POST
    parameter's name and value, sorted by name (case-sensitive), no
    delimiters; HMAC-SHA1 with the auth token; base64. Identical repeated
    pairs count once, like Twilio's helper libraries."""
    if isinstance(pairs, dict):
        pairs = list(pairs.items())
    data = url + "".join(k + v for k, v in sorted(set(pairs)))
    mac = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(mac).decode()


def generic_signature(secret, timestamp, body):
    """ing_generic.h: "v1=" + hex(HMAC-SHA256(secret, timestamp + "." + body))."""
    if isinstance(body, str):
        body = body.encode()
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


# ---- the published JSON Schemas ------------------------------------------------------

def schema_validator(name):
    """A validator for schemas/<name> (format checks on), or None when
    jsonschema is not installed (deploy/local/deps.sh installs it)."""
    try:
        from jsonschema import Draft202012Validator, FormatChecker
    except ImportError:
        return None
    schema = json.loads((SCHEMAS / name).read_text())
    return Draft202012Validator(schema, format_checker=FormatChecker())


def assert_schema_valid(validator, doc, what):
    if validator is None:
        return
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, f"{what} breaks its schema: " + "; ".join(
        f"{'/'.join(map(str, e.path)) or '(root)'}: {e.message}" for e in errors)
