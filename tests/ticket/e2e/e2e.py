"""Helpers of the ticket-service end-to-end tests (and of tests/bench/crm-requests):
the Zendesk emulator with a few test conveniences, canonical call events,
Kafka I/O through kcat, and callbus-ticket as a child process.
See conftest.py for how the test modules use them."""
from __future__ import annotations

import collections
import copy
import hashlib
import itertools
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone


HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "emulators", "zendesk"))

from zendesk_emulator import ZendeskEmulator  # noqa: E402

import crm_view  # noqa: E402  (the CRM-neutral view of the emulators, issue 13)

EMAIL, TOKEN = "callbus@example.com", "e2e-secret"
IVR_TOKEN = "ivr-e2e-token"
BROKERS = os.environ.get("CALLBUS_KAFKA_BROKERS", "127.0.0.1:19192")
REDIS_URL = os.environ.get("CALLBUS_REDIS_URL", "redis://127.0.0.1:16479")
DEFAULT_BIN = os.path.join(ROOT, "build", "test", "services", "ticket", "callbus-ticket")

# The emulator's preset agents and custom fields (tests/emulators/zendesk/README.md).
AGENT1 = {"provider_id": "1042", "crm_id": "900001", "name": "Agent One"}
AGENT2 = {"provider_id": "1077", "crm_id": "900002", "name": "Agent Two"}
AGENT3 = {"provider_id": "1099", "crm_id": "900003", "name": "Agent Three"}
UNMAPPED = {"provider_id": "5555", "name": "Temp Operator"}  # no crm_id: R-I3
F_SESSION_TYPE, F_FROM, F_DURATION, F_WAIT, F_QUEUE, F_CALL_ID, F_HOLD, F_TYPE, F_CSAT = (
    zid for _, zid, _ in crm_view.FIELD_MAP)
FIELDS_ENV = ",".join(f"{name}={zid}" for name, zid, _ in crm_view.FIELD_MAP)
OUR_NUMBER = "+390294750000"  # the contact center's number (dialled inbound)

# One id per pytest run: numbers and call ids carry it, so Redis state of an
# earlier run (kept for days) is never mistaken for this run's.
# CALLBUS_E2E_RUN sets it, to try numbers of one shape (they are not all
# alike: R-I2's look-up form of +3930... also reads as a Greek number); an id
# already used meets its old Redis keys and topics (prefixes carry it).
RUN = os.environ.get("CALLBUS_E2E_RUN") or "%06d" % random.SystemRandom().randrange(10 ** 6)
_numbers = itertools.count(1)
_calls = itertools.count(1)
_prefixes = itertools.count(1)


def new_number():
    """A fresh Italian mobile number, unique to this run: +39 3 RRRRRR NNNN."""
    return "+393%s%04d" % (RUN, next(_numbers))


def new_mobile_number():
    """A fresh Italian mobile number that is valid in the national plan (10
    digits: +39 34R RRR NNNN), for tests that pass the national form, which
    libphonenumber must recognise (new_number()'s 11 digits are only
    "possible" in E.164)."""
    return "+3934%s%04d" % (RUN[:4], next(_numbers))


def new_call_id(tag="c"):
    return "e2e-%s-%s-%05d" % (RUN, tag, next(_calls))


# Consumer-group timing of every consumer the tests start (librdkafka
# properties through CALLBUS_KAFKA_X_*, docs/configuration.md; a module's
# own env still wins). Production keeps the defaults; tests start, kill and
# add replicas all the time, and these only shorten the waits that follow:
#   heartbeat 500 ms (librdkafka: 3 s): a member learns of a rebalance (a
#     replica joining or leaving) at its next heartbeat;
#   session 4 s (callbus: 10 s; the test broker allows 1 s and more): a
#     replica killed with -9 holds its partitions until its session ends,
#     and the group's next rebalance waits for it;
#   topic metadata every 2 s (callbus: 10 s): a topic another service
#     creates after this one subscribed is assigned that much sooner.
CONSUMER_TIMING_ENV = {
    "CALLBUS_KAFKA_X_HEARTBEAT_INTERVAL_MS": "500",
    "CALLBUS_KAFKA_X_SESSION_TIMEOUT_MS": "4000",
    "CALLBUS_KAFKA_X_TOPIC_METADATA_REFRESH_INTERVAL_MS": "2000",
}
# And of every service: /readyz counts the brokers up from librdkafka's
# statistics, emitted every second (cmn_producer.c), so each start waited
# a second for its first readiness; every 250 ms here.
SERVICE_TIMING_ENV = {"CALLBUS_KAFKA_X_STATISTICS_INTERVAL_MS": "250"}


# ---------------------------------------------------------------- waiting

def wait_for(cond, timeout=20.0, interval=0.1, what="condition"):
    """Polls cond() until it returns something truthy; returns that value."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = cond()
        except AssertionError as err:  # a cond may assert to explain itself
            last = None
            why = str(err)
        else:
            why = ""
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}"
                                 + (f": {why}" if why else ""))
        time.sleep(interval)


def iso_ms(ts):
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + \
        "%03dZ" % int((ts % 1) * 1000)


# ------------------------------------------------------------- the emulator

class Emulator(ZendeskEmulator):
    """The Zendesk emulator plus per-path latency (the README's latency_ms is
    for every request; the crash test needs it on update_many only) and a
    record of when requests arrived (before any latency)."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.path_latency = []  # [(method, compiled regex, ms)]
        self.arrivals = []      # [(monotonic, method, path)]
        self._arrivals_lock = threading.Lock()

    def _api(self, req):
        with self._arrivals_lock:
            self.arrivals.append((time.monotonic(), req.method, req.path))
        for method, regex, ms in list(self.path_latency):
            if method == req.method and regex.search(req.path):
                time.sleep(ms / 1000.0)
        return super()._api(req)

    # -- reading state (under the store's lock, deep copies) ---------------

    def ticket(self, tid):
        with self.store.lock:
            t = self.store.tickets.get(int(tid))
            if t is None:
                return None
            view = self._ticket_view(t)
            view["comments"] = copy.deepcopy(self.store.comments[int(tid)])
            return view

    def tickets(self, **match):
        """Ticket views (with comments) whose attributes equal `match`."""
        with self.store.lock:
            ids = [tid for tid, t in sorted(self.store.tickets.items())
                   if all(t.get(k) == v for k, v in match.items())]
        return [self.ticket(tid) for tid in ids]

    def tickets_of_call(self, call_id):
        """Tickets whose external id was derived from the call id."""
        with self.store.lock:
            ids = [tid for tid, t in sorted(self.store.tickets.items())
                   if (t.get("external_id") or "") == f"callbus-{call_id}"
                   or (t.get("external_id") or "").startswith(f"callbus-{call_id}-")]
        return [self.ticket(tid) for tid in ids]

    def tickets_by_external_id(self, prefix="callbus-"):
        """{external_id: [ticket ids]} for every ticket, in one pass (cheap
        enough to poll for hundreds of calls)."""
        out = collections.defaultdict(list)
        with self.store.lock:
            for tid, t in self.store.tickets.items():
                ext = t.get("external_id") or ""
                if ext.startswith(prefix):
                    out[ext].append(tid)
        return out

    def comment_texts(self, tids):
        """{ticket id: all its comment bodies joined}, in one pass."""
        with self.store.lock:
            return {tid: "\n".join(c["body"] for c in self.store.comments.get(int(tid), []))
                    for tid in tids}

    def users_with_phone(self, number):
        """Users one of whose phone numbers (the primary ``phone`` or a
        phone_number identity) has the number's digits, however formatted."""
        want = re.sub(r"\D", "", number)
        with self.store.lock:
            return [dict((k, v) for k, v in u.items() if not k.startswith("_"))
                    for u in sorted(self.store.users.values(), key=lambda u: u["id"])
                    if any(re.sub(r"\D", "", p or "") == want
                           for p in [u.get("phone")] + u.get("_phones", []))]

    def mark(self):
        """The request log's position now; pass it to requests(since=...)."""
        with self.store.lock:
            return self.store.log_seq

    def set_status(self, tid, status):
        """A person changes a ticket's status in Zendesk (not through the API log)."""
        with self.store.lock:
            ticket = self.store.ticket(int(tid))
            self.store._apply(ticket, {"status": status}, None, 900001, None, None)

    def merge(self, source, target):
        """A person merges ticket `source` into `target` (Zendesk's merge job, run now)."""
        self.store.merge(int(target), [int(source)], {})

    def restore_defaults(self, rate_limit=700):
        self.path_latency = []
        self.configure(latency_ms=0, fail_next=[], rate_limit_per_min=rate_limit, rate_window_s=60,
                       update_ticket_limit_per_min=100, ticket_update_limit=30,
                       search_lag_s=0, job_delay_ms=20, max_jobs=30)


def field(ticket, fid):
    """A custom field's value, of a Zendesk ticket view or of a neutral
    ticket of crm_view (its "fields")."""
    if "custom_fields" not in ticket:
        return ticket["fields"][fid]
    for f in ticket["custom_fields"]:
        if f["id"] == fid:
            return f["value"]
    raise KeyError(fid)


def bodies(ticket):
    return [c["body"] for c in ticket["comments"]]


def marker_count(emu, event_id):
    """How many times, in all tickets' comments, the comment marker of an
    event ("[callbus <event id>/<n>]") was written (batched writes of one
    ticket are joined into one comment, so markers are counted, not comments)."""
    marker = f"[callbus {event_id}/"
    with emu.store.lock:
        return sum(c["body"].count(marker) for cs in emu.store.comments.values() for c in cs)


# --------------------------------------------------------------- events

class Call:
    """Builds canonical call events (schemas/call-event.schema.json) for one
    call. Event ids are stable: derived from the call id, the type and the
    leg, so producing an event again is a provider re-post (same id)."""

    def __init__(self, number=None, call_id=None, queue="billing", language="it-IT",
                 direction="inbound", dialled=OUR_NUMBER, withheld=False, start=None):
        self.number = None if withheld else (number or new_number())
        self.call_id = call_id or new_call_id("o" if direction == "outbound" else "i")
        self.queue, self.language, self.direction, self.dialled = queue, language, direction, dialled
        self.clock = start if start is not None else time.time() - 300
        self.legs = 0

    @property
    def key(self):
        return self.number or self.call_id

    def event(self, type_, *, agent=None, previous_agent=None, outcome=None, durations=None,
              recording=None, csat=None, ticket_id=None, ticket_type=None, leg=None, at=None,
              queue=True, direction=None, **extra):
        direction = direction or ("outbound" if type_.startswith("outbound.") else self.direction)
        if at is None:
            self.clock += 1
            at = self.clock
        parts = [self.call_id, type_, leg or "", str((recording or {}).get("url", "")),
                 str(agent.get("provider_id") if agent else "")]
        digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]
        ev = {"schema_version": 1, "type": type_, "event_id": f"generic-{digest}",
              "provider": "generic", "call_id": self.call_id, "direction": direction}
        if leg:
            ev["leg_id"] = leg
        if self.number:
            ev["customer_number"] = self.number
        if self.dialled:
            ev["dialled_number"] = self.dialled
        if queue and self.queue:
            ev["queue"] = self.queue
        if self.language:
            ev["language"] = self.language
        for key, value in (("agent", agent), ("previous_agent", previous_agent),
                           ("outcome", outcome), ("durations", durations),
                           ("recording", recording), ("csat", csat), ("ticket_id", ticket_id),
                           ("ticket_type", ticket_type)):
            if value is not None:
                ev[key] = dict(value) if isinstance(value, dict) else value
        ev.update(extra)
        ev["occurred_at"] = iso_ms(at)
        ev["received_at"] = iso_ms(at + 0.2)
        return ev

    def _leg(self):
        self.legs += 1
        return f"{self.call_id}-{self.legs}"

    # inbound
    def offered(self, agent, wait_s=5):
        return self.event("call.offered", agent=agent, durations={"wait_s": wait_s},
                          leg=f"{self.call_id}-offer-{agent['provider_id']}")

    def missed_leg(self, agent):
        return self.event("call.leg_ended", agent=agent, outcome="missed",
                          leg=f"{self.call_id}-offer-{agent['provider_id']}")

    def answered(self, agent, wait_s=12, ticket_id=None):
        return self.event("call.answered", agent=agent, durations={"wait_s": wait_s},
                          leg=self._leg(), ticket_id=ticket_id)

    def transferred(self, to, frm):
        return self.event("call.transferred", agent=to, previous_agent=frm, leg=self._leg())

    def ended(self, outcome="answered", agent=None, durations=None, **kw):
        if durations is None and outcome == "answered":
            durations = {"wait_s": 12, "talk_s": 95, "hold_s": 0, "total_s": 107}
        return self.event("call.ended", outcome=outcome, agent=agent, durations=durations, **kw)

    def recording(self, url=None, duration_s=95):
        url = url or f"https://recordings.example.com/{self.call_id}.mp3"
        return self.event("call.recording_ready",
                          recording={"url": url, "duration_s": duration_s})

    def csat(self, score, scale=5):
        return self.event("call.csat", csat={"score": score, "scale": scale})

    # outbound
    def out_started(self, agent, ticket_id=None):
        return self.event("outbound.started", agent=agent, ticket_id=ticket_id,
                          leg=f"{self.call_id}-placed")

    def out_answered(self, agent, ticket_id=None):
        return self.event("outbound.answered", agent=agent, ticket_id=ticket_id)

    def out_ended(self, agent, outcome="answered", durations=None, ticket_id=None):
        if durations is None and outcome == "answered":
            durations = {"talk_s": 60, "total_s": 70}
        return self.event("outbound.ended", agent=agent, outcome=outcome, durations=durations,
                          ticket_id=ticket_id)


_validators = {}


def validate_with_schema(name, doc):
    """doc is valid for schemas/<name> (validators made once, formats checked)."""
    if name not in _validators:
        import jsonschema
        with open(os.path.join(ROOT, "schemas", name), encoding="utf-8") as f:
            schema = json.load(f)
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        _validators[name] = cls(schema, format_checker=cls.FORMAT_CHECKER)
    _validators[name].validate(doc)


def check_canonical(ev):
    """The events the tests produce are canonical (schemas/call-event.schema.json)."""
    validate_with_schema("call-event.schema.json", ev)


# ------------------------------------------------------------------ Kafka

class Topics:
    """One module's topic names (CALLBUS_TOPIC_PREFIX) and kcat I/O."""

    def __init__(self, prefix):
        self.prefix = prefix
        self.call_events = prefix + "call-events"
        self.ticket_events_topic = prefix + "ticket-events"

    def produce(self, *events, validate=True):
        """Publishes canonical events (dicts) keyed like ingest does: the
        customer's E.164, or the call id when the number is withheld."""
        lines = []
        for ev in events:
            if validate:
                check_canonical(ev)
            key = ev.get("customer_number") or ev.get("call_id")
            text = json.dumps(ev, separators=(",", ":"))
            assert "|" not in key and "\n" not in text
            lines.append(f"{key}|{text}")
        if not lines:
            return
        proc = subprocess.run(
            ["kcat", "-b", BROKERS, "-P", "-t", self.call_events, "-K", "|",
             "-X", "acks=all", "-X", "enable.idempotence=true"],
            input="\n".join(lines) + "\n", text=True, capture_output=True, timeout=60)
        assert proc.returncode == 0, f"kcat -P failed: {proc.stderr}"

    def ticket_events(self):
        """Every message on <prefix>ticket-events so far: [(key, value dict)]."""
        proc = subprocess.run(
            ["kcat", "-b", BROKERS, "-C", "-t", self.ticket_events_topic, "-o", "beginning", "-e",
             "-J", "-q"], text=True, capture_output=True, timeout=60)
        assert proc.returncode == 0, f"kcat -C failed: {proc.stderr}"
        out = []
        for line in proc.stdout.splitlines():
            if line.strip():
                msg = json.loads(line)
                out.append((msg.get("key"), json.loads(msg["payload"])))
        return out


# --------------------------------------------------------- ticket-service

class TicketService:
    """callbus-ticket as a child process, configured for one test module.
    Another callbus consumer (tests/missed/e2e: callbus-missed) subclasses it
    with its own SERVICE name (its log's "<name> listening on"), binary
    variable and settings."""

    SERVICE = "ticket"
    BIN_ENV = "CALLBUS_TICKET_BIN"
    DEFAULT_BIN = DEFAULT_BIN
    CONSUMER = True  # start() waits for its partitions

    def __init__(self, emu, topics, group, logdir, name, env=None, crm_env=None):
        """crm_env: the CRM's settings (crm_view's service_env()); Zendesk's
        for `emu` when None."""
        self.emu, self.topics, self.group = emu, topics, group
        self.bin = os.environ.get(self.BIN_ENV, self.DEFAULT_BIN)
        self.name = name
        self.logpath = os.path.join(logdir, f"{name}.log")
        self.env = {
            "CALLBUS_KAFKA_BROKERS": BROKERS,
            "CALLBUS_REDIS_URL": REDIS_URL,
            "CALLBUS_TOPIC_PREFIX": topics.prefix,
            "CALLBUS_TOPIC_PARTITIONS": "3",
            "CALLBUS_TICKET_GROUP": group,
            "CALLBUS_HTTP_BIND": "127.0.0.1",
            "CALLBUS_HTTP_PORT": "0",
            "CALLBUS_ADMIN_BIND": "127.0.0.1",
            "CALLBUS_ADMIN_PORT": "0",
            "CALLBUS_LOG_LEVEL": "debug",
            "CALLBUS_DEFAULT_COUNTRY": "IT",
            "CALLBUS_TICKET_BATCH_WINDOW_S": "1",
            # Calls of other runs left open in the shared Redis must never be
            # "timed out" into this run's emulator: only calls older than
            # their state's TTL would qualify, and those have no state left.
            "CALLBUS_TICKET_MAX_CALL_AGE_S": "604800",
            "CALLBUS_SHUTDOWN_GRACE_MS": "15000",
        }
        self.env.update(zendesk_env(emu) if crm_env is None else crm_env)
        self.env.update(env or {})
        self.proc = None
        self.port = None
        self.admin_port = None
        self.starts = 0

    # -- life cycle ------------------------------------------------------------

    def start(self, timeout=60.0):  # a readiness wait: long only on a loaded machine
        assert os.access(self.bin, os.X_OK), \
            f"{self.BIN_ENV} {self.bin!r} is not an executable (build it)"
        env = dict(os.environ)
        env = {k: v for k, v in env.items() if not k.startswith("CALLBUS_")}
        env.update(SERVICE_TIMING_ENV)
        if self.CONSUMER:
            env.update(CONSUMER_TIMING_ENV)
        env.update(self.env)
        self.starts += 1
        log = open(self.logpath, "a", encoding="utf-8")
        log.write(f"==== start #{self.starts} ====\n")
        log.flush()
        self._logpos = log.tell()
        self.proc = subprocess.Popen([self.bin], env=env, stdout=log, stderr=subprocess.STDOUT,
                                     cwd=ROOT)
        log.close()
        self.port = wait_for(self._port, timeout, what=f"{self.name} to listen")
        self.admin_port = wait_for(self._admin_port, timeout, what=f"{self.name} admin listener")
        wait_for(lambda: self._http_status("/readyz", admin=True) == 200, timeout,
                 what=f"{self.name} /readyz")
        wait_for(lambda: not self.CONSUMER or "assigned " in self._log_since_start(), timeout,
                 what=f"{self.name} to be assigned partitions")
        return self

    def _log_since_start(self):
        with open(self.logpath, encoding="utf-8", errors="replace") as f:
            f.seek(self._logpos)
            return f.read()

    def _port(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.name} exited with {self.proc.returncode}:\n"
                                 + self.log_tail())
        m = re.search(self.SERVICE + r" listening on [^\"]*:(\d+)", self._log_since_start())
        return int(m.group(1)) if m else None

    def _admin_port(self):
        m = re.search(self.SERVICE + r" admin listening on [^\"]*:(\d+)", self._log_since_start())
        return int(m.group(1)) if m else None

    def stop(self, timeout=40.0):
        """SIGTERM: the batch is flushed, in-flight work finished; exit 0."""
        if not self.running():
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"{self.name} did not exit within {timeout} s of SIGTERM:\n"
                                 + self.log_tail())
        assert rc == 0, f"{self.name} exited with {rc} after SIGTERM:\n" + self.log_tail()
        return rc

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, n=40):
        """The log's last lines, without the configuration dump."""
        try:
            with open(self.logpath, encoding="utf-8", errors="replace") as f:
                lines = [l for l in f if '"msg":"config ' not in l]
            return "".join(lines[-n:])
        except OSError:
            return "(no log)"

    def log_text(self):
        with open(self.logpath, encoding="utf-8", errors="replace") as f:
            return f.read()

    # -- HTTP --------------------------------------------------------------------

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def admin_url(self):
        """The admin listener: /healthz, /readyz, /metrics (issue 8 item 2)."""
        return f"http://127.0.0.1:{self.admin_port}"

    def _http_status(self, path, admin=False):
        try:
            with urllib.request.urlopen((self.admin_url if admin else self.url) + path,
                                        timeout=5) as r:
                return r.status
        except urllib.error.HTTPError as err:
            return err.code
        except OSError:
            return None

    def http(self, method, path, body=None, headers=None, timeout=10):
        """(status, parsed body, elapsed seconds)."""
        data = json.dumps(body).encode() if body is not None else None
        hdrs = {"Content-Type": "application/json"} if data is not None else {}
        hdrs.update(headers or {})
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=hdrs)
        t0 = time.monotonic()
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as err:
            status, raw = err.code, err.read()
        elapsed = time.monotonic() - t0
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode("utf-8", "replace")
        return status, parsed, elapsed

    def metrics(self):
        """{"name{labels}": value} from /metrics."""
        with urllib.request.urlopen(self.admin_url + "/metrics", timeout=5) as r:
            text = r.read().decode()
        out = {}
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            name, _, value = line.rpartition(" ")
            try:
                out[name] = float(value)
            except ValueError:
                pass
        return out

    def metric(self, name, default=0.0):
        return self.metrics().get(name, default)

    def idle(self):
        m = self.metrics()
        return m.get("ticket_events_in_flight", 1) == 0 and m.get("ticket_batch_pending", 1) == 0

    def wait_idle(self, timeout=30):
        wait_for(self.idle, timeout, what=f"{self.name} to be idle")


# ---------------------------------------------------------------- fixtures

def zendesk_env(emu):
    """ticket-service's settings for the Zendesk emulator `emu`."""
    return {"CALLBUS_ZENDESK_URL": emu.url, "CALLBUS_ZENDESK_EMAIL": EMAIL,
            "CALLBUS_ZENDESK_TOKEN": TOKEN, "CALLBUS_CRM_RATE_LIMIT": "700",
            "CALLBUS_TICKET_FIELDS": FIELDS_ENV}


# The CRMs a parameterised scenario module runs against (`crm` param of its
# module-scoped stack fixture): Dynamics is skipped while the binary lacks it.
CRM_PARAMS = crm_view.crm_params(os.environ.get("CALLBUS_TICKET_BIN", DEFAULT_BIN))


def make_emulator(rate_limit=700):
    emu = Emulator("127.0.0.1", 0, EMAIL, TOKEN, rate_limit)
    emu.start()
    emu.restore_defaults(rate_limit)
    return emu


class Stack:
    """What a test module works with: emulator, topics, the service, and
    `crm`, the CRM-neutral view (crm_view.py) with the CRM's agents."""

    def __init__(self, emu, topics, svc, crm=None):
        self.emu, self.topics, self.svc = emu, topics, svc
        self.crm = crm if crm is not None else crm_view.ZendeskView(emu)
        self.agent1, self.agent2, self.agent3 = self.crm.agents

    def produce(self, *events, **kw):
        self.topics.produce(*events, **kw)


def module_prefix():
    return "t%s%02d." % (RUN, next(_prefixes))


def make_crm(crm, topics, rate_limit=700):
    """A started emulator of `crm` (zendesk or dynamics) and its neutral
    view (crm_view.py); Dynamics' view reads `topics`' ticket-events."""
    if crm == "zendesk":
        emu = make_emulator(rate_limit)
        return emu, crm_view.ZendeskView(emu)
    emu = crm_view.make_dynamics_emulator()
    return emu, crm_view.DynamicsView(emu, ticket_events=topics.ticket_events)


def start_stack(request, logdir, env=None, name=None, rate_limit=700, crm="zendesk"):
    """Emulator + topics + a started ticket-service for one module
    (`request`: the pytest request, or None with a `name`), against `crm`
    (zendesk or dynamics). `env` is a dict, or a function of the CRM view
    giving one (settings naming the CRM's agents)."""
    prefix = module_prefix()
    topics = Topics(prefix)
    emu, view = make_crm(crm, topics, rate_limit)
    if callable(env):
        env = env(view)
    name = name or request.module.__name__.rsplit(".", 1)[-1]
    if crm != "zendesk":
        name += f"-{crm}"
    svc = TicketService(emu, topics, f"ticket-e2e-{prefix.rstrip('.')}", logdir, name, env,
                        crm_env=view.service_env())
    try:
        svc.start()
    except BaseException:
        if svc.proc and svc.running():
            svc.proc.kill()
        emu.stop()
        raise
    return Stack(emu, topics, svc, view)


def crm_fixtures(env=None, params=None):
    """The fixtures of a scenario module run once per CRM (issue 13):
    `stack`, module-scoped, parameterised over `params` (CRM_PARAMS), and
    an autouse one returning the emulator to its defaults after each test.
    `env`: start_stack's. In the module: stack, _crm_defaults = crm_fixtures(...)."""
    import pytest

    @pytest.fixture(scope="module", params=CRM_PARAMS if params is None else params,
                    name="stack")
    def stack(request, logdir):
        s = start_stack(request, logdir, env=env, crm=request.param)
        yield s
        finish_stack(s)

    @pytest.fixture(autouse=True, name="_crm_defaults")
    def crm_defaults(stack):
        yield
        stack.crm.restore_defaults()
    return stack, crm_defaults


def finish_stack(stack):
    try:
        if stack.svc.running():
            stack.svc.stop()
    finally:
        stack.emu.stop()


# ------------------------------------------------------------ assertions

def assert_requests_conform(emu, since=0):
    """Every request ticket-service sent is valid for Zendesk's OpenAPI
    document (tests/emulators/zendesk/oas_check.py), and none was refused for its
    shape (400/422 other than the closed-ticket refusal we provoke)."""
    from oas_check import validate_log_entry
    problems = []
    entries = emu.requests(since)
    assert entries, "no request logged"
    for entry in entries:
        errors = validate_log_entry(entry)
        if errors:
            problems.append(f"{entry['method']} {entry['path']}?{entry['query']} "
                            f"-> {entry['status']}: {errors[:3]}")
        if entry["status"] == 400 or (entry["status"] == 422 and "closed prevents" not in
                                      json.dumps(entry["response"])):
            problems.append(f"{entry['method']} {entry['path']} refused: {entry['status']} "
                            f"{json.dumps(entry['response'])[:300]} for "
                            f"{json.dumps(entry['body'])[:300]}")
    assert not problems, f"{len(problems)} of {len(entries)} requests do not conform:\n" + \
        "\n".join(problems[:20])
    return len(entries)


def endpoint_of(entry):
    """A request log entry as "METHOD /api/v2/path/{id}" (ids and job ids folded)."""
    path = re.sub(r"\.json$", "", entry["path"])
    path = re.sub(r"/job_statuses/(?!show_many)[A-Za-z0-9]+", "/job_statuses/{id}", path)
    path = re.sub(r"/\d+(?=/|$)", "/{id}", path)
    return f"{entry['method']} {path}"


def count_endpoints(entries):
    return collections.Counter(endpoint_of(e) for e in entries)


def one_ticket(emu, call, timeout=15):
    """The single ticket created for the call (external id callbus-<call id>)."""
    tickets = wait_for(lambda: emu.tickets_of_call(call.call_id), timeout,
                       what=f"a ticket for call {call.call_id}")
    assert len(tickets) == 1, [t["external_id"] for t in tickets]
    return tickets[0]


def wait_comment(emu, tid, needle, timeout=15):
    """The ticket once one of its comments contains `needle`."""
    def has():
        t = emu.ticket(tid)
        return t if any(needle in b for b in bodies(t)) else None
    return wait_for(has, timeout, what=f"a comment with {needle!r} on ticket {tid}")


def comments_with(ticket, needle):
    return [c for c in ticket["comments"] if needle in c["body"]]


def zendesk_only(stack, why):
    """Skips a check of a Zendesk-only feature when the module runs against another CRM."""
    if stack.crm.name != "zendesk":
        import pytest
        pytest.skip(f"Zendesk only: {why}")


def assert_crm_requests_conform(stack, since=0):
    """Every request ticket-service sent the CRM is well-formed for it:
    Zendesk: valid for its OpenAPI document (assert_requests_conform);
    Dynamics: every Web API request carries OData-Version 4.0 (or
    MaxVersion) and a Bearer token, every 401 was followed by a token
    fetch, and none named a column or entity set the emulator's $metadata
    lacks (0x80060888) or was refused for its shape (400)."""
    if stack.crm.name == "zendesk":
        return assert_requests_conform(stack.emu, since)
    entries = [e for e in stack.crm.requests(since) if e["kind"] == "api"]
    assert entries, "no request logged"
    problems = []
    for e in entries:
        h = e["headers"]
        what = f"{e['method']} {e['path']}?{e['query']} -> {e['status']}"
        if (h.get("odata-version") or h.get("odata-maxversion")) != "4.0":
            problems.append(f"{what}: OData-Version {h.get('odata-version')!r}")
        if not e["authorization_present"]:
            problems.append(f"{what}: no Authorization")
        err = (e.get("response") or {}).get("error") if isinstance(e.get("response"), dict) \
            else None
        if e["status"] == 400 or (isinstance(err, dict) and err.get("code") == "0x80060888"):
            problems.append(f"{what}: refused {json.dumps(e.get('response'))[:300]} for "
                            f"{json.dumps(e['body'])[:300]}")
    tokens = [e for e in stack.crm.requests(since) if e["kind"] == "token"]
    assert tokens, "no token was fetched"
    bad_tokens = [e for e in tokens if e["body"].get("grant_type") != "client_credentials"
                  or not e["body"].get("scope", "").endswith("/.default")]
    problems += [f"token request {e['body']}" for e in bad_tokens]
    assert not problems, f"{len(problems)} of {len(entries)} requests do not conform:\n" + \
        "\n".join(problems[:20])
    return len(entries)
