"""Helpers of the pop-service tests (tests/pop/e2e) and of tests/bench/pop-latency:
callbus-pop as a child process (built on tests/ticket/e2e/e2e.py's
TicketService: same life cycle, HTTP and metrics helpers), agent sessions,
and a Server-Sent Events client that records every event it reads."""
from __future__ import annotations

import http.client
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "ticket", "e2e"))

import e2e  # noqa: E402
from e2e import BROKERS, REDIS_URL, RUN, Call, Topics, wait_for  # noqa: E402,F401

SECRET = "pop-provisioning-secret"

# Each CRM's ids and URLs as ticket-service announces them (crm_view.shape)
# and the new-case form pop-service pops with no customer (R-P3):
# CALLBUS_POP_NEW_CASE_URL per CRM.
CRM_BASE = {"zendesk": "https://acme.zendesk.com", "dynamics": "https://org.crm.dynamics.com"}
NEW_CASE_URL = {
    "zendesk": "https://crm.example.com/tickets/new?phone={phone}",
    "dynamics": CRM_BASE["dynamics"] + "/main.aspx?pagetype=entityrecord&etn=incident"
                "&extraqs=telephone1%3D{phone}",
}


def crm_shape(crm):
    return e2e.crm_view.shape(crm, CRM_BASE[crm])
DEFAULT_BIN = os.path.join(ROOT, "build", "test", "services", "pop", "callbus-pop")


class PopService(e2e.TicketService):
    """callbus-pop, configured for one test module (its topics, its group).
    The base class finds its ports from "pop listening on" / "pop admin
    listening on" (SERVICE)."""

    SERVICE = "pop"
    BIN_ENV = "CALLBUS_POP_BIN"
    DEFAULT_BIN = DEFAULT_BIN

    def __init__(self, topics, group, logdir, name, env=None):  # noqa: D107 - no emulator here
        self.topics, self.group, self.name = topics, group, name
        self.bin = os.environ.get(self.BIN_ENV, self.DEFAULT_BIN)
        self.logpath = os.path.join(logdir, f"{name}.log")
        self.env = {
            "CALLBUS_KAFKA_BROKERS": BROKERS,
            "CALLBUS_REDIS_URL": REDIS_URL,
            "CALLBUS_TOPIC_PREFIX": topics.prefix,
            "CALLBUS_TOPIC_PARTITIONS": "3",
            "CALLBUS_POP_GROUP": group,
            "CALLBUS_HTTP_BIND": "127.0.0.1",
            "CALLBUS_HTTP_PORT": "0",
            "CALLBUS_ADMIN_BIND": "127.0.0.1",
            "CALLBUS_ADMIN_PORT": "0",
            "CALLBUS_LOG_LEVEL": "debug",
            "CALLBUS_POP_PROVISIONING_SECRET": SECRET,
            "CALLBUS_POP_NEW_CASE_URL": NEW_CASE_URL["zendesk"],
            "CALLBUS_SHUTDOWN_GRACE_MS": "10000",
        }
        self.env.update(env or {})
        self.proc = None
        self.port = None
        self.admin_port = None
        self.starts = 0

    def idle(self):
        return self.metrics().get("pop_events_in_flight", 1) == 0

    def http(self, method, path, body=None, headers=None, timeout=10):
        """As a page does: every POST declares JSON, with or without a body
        (pop-service answers 415 otherwise: issue 19 item 6)."""
        if method == "POST":
            headers = {"Content-Type": "application/json", **(headers or {})}
        return super().http(method, path, body, headers, timeout)

    # -- sessions ------------------------------------------------------------
    def login(self, crm_id, provider_id=None, extension=None, secret=SECRET):
        body = {"agent_crm_id": crm_id}
        if provider_id:
            body["provider_agent_id"] = provider_id
        if extension:
            body["extension"] = extension
        return self.http("POST", "/v1/sessions", body, {"Authorization": f"Bearer {secret}"})

    def agent(self, crm_id, provider_id=None, extension=None):
        status, body, _ = self.login(crm_id, provider_id, extension)
        assert status == 201, (status, body)
        return body["token"]

    def oidc_login(self, id_token, **fields):
        """POST /v1/sessions/oidc: an agent signing in with an ID token."""
        return self.http("POST", "/v1/sessions/oidc", {"id_token": id_token, **fields})

    def admin(self, method, path, body=None, secret=SECRET):
        """A request to the admin listener (operators' routes), with the
        provisioning secret unless secret is None."""
        data = json.dumps(body).encode() if body is not None else None
        hdrs = {"Content-Type": "application/json"}
        if secret is not None:
            hdrs["Authorization"] = f"Bearer {secret}"
        conn = http.client.HTTPConnection("127.0.0.1", self.admin_port, timeout=10)
        try:
            conn.request(method, path, data, hdrs)
            r = conn.getresponse()
            raw = r.read()
            return r.status, (json.loads(raw) if raw else None)
        finally:
            conn.close()

    def as_agent(self, token, method, path, body=None):
        return self.http(method, path, body, {"Authorization": f"Bearer {token}"})

    def stream(self, token, last_event_id=None):
        return SseClient(self.port, token, last_event_id)


class SseClient:
    """GET /v1/pops/stream in a thread: .events holds (id, event, data dict)
    in arrival order, with the monotonic time each arrived."""

    def __init__(self, port, token, last_event_id=None, cookie=False):
        self.events, self.times = [], []
        self.status = None
        self.closed = threading.Event()
        self._lock = threading.Condition()
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        hdrs = {"Accept": "text/event-stream"}
        if cookie:
            hdrs["Cookie"] = f"callbus_pop={token}"
        elif token:
            hdrs["Authorization"] = f"Bearer {token}"
        if last_event_id:
            hdrs["Last-Event-ID"] = last_event_id
        # Kept: a stream's reply says "Connection: close", after which
        # http.client lets go of the socket that close() shuts down.
        self.conn.connect()
        self.sock = self.conn.sock
        self.conn.request("GET", "/v1/pops/stream", headers=hdrs)
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        if self.status != 200:
            self.body = self.resp.read()
            self.closed.set()
            return
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        ev = {"id": None, "event": None, "data": []}
        try:
            while True:
                line = self.resp.fp.readline()
                if not line:
                    break
                line = line.decode().rstrip("\r\n")
                if line == "":
                    if ev["data"]:
                        with self._lock:
                            self.events.append((ev["id"], ev["event"],
                                                json.loads("\n".join(ev["data"]))))
                            self.times.append(time.monotonic())
                            self._lock.notify_all()
                    ev = {"id": None, "event": None, "data": []}
                elif line.startswith(":"):
                    continue
                else:
                    name, _, value = line.partition(":")
                    value = value[1:] if value.startswith(" ") else value
                    if name == "data":
                        ev["data"].append(value)
                    elif name in ("id", "event"):
                        ev[name] = value
        except (OSError, ValueError, http.client.HTTPException):
            pass
        finally:
            self.closed.set()

    def pops(self):
        with self._lock:
            return [d for _, _, d in self.events]

    def wait(self, cond, timeout=20.0, what="pop"):
        """Waits until cond(list of pops) is truthy; returns it."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                got = cond([d for _, _, d in self.events])
                if got:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {what}; have "
                                         f"{[ (d['kind'], d['call_id']) for _, _, d in self.events]}")
                self._lock.wait(min(left, 0.2))

    def wait_kind(self, call, kind, timeout=20.0):
        return self.wait(lambda ps: next((p for p in ps if p["call_id"] == call.call_id
                                          and p["kind"] == kind), None), timeout,
                         f"{kind} pop of {call.call_id}")

    def last_id(self):
        with self._lock:
            return self.events[-1][0] if self.events else None

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.conn.close()


def ticket_event(call, ticket_id, *, status="open", subject=None, contact=None, assignee=None,
                 url_base="https://acme.zendesk.com/agent/tickets/", crm=None):
    """A ticket event as ticket-service publishes it (schemas/ticket-event.schema.json);
    with `crm` (crm_shape) the ticket's URL is that CRM's."""
    url = crm.ticket_url(ticket_id) if crm is not None else f"{url_base}{ticket_id}"
    ev = {"schema_version": 1, "event_id": f"tkt-{call.call_id}-{ticket_id}",
          "call_id": call.call_id, "ticket_id": str(ticket_id),
          "ticket_url": url, "status": status, "ticket_kind": "call",
          "occurred_at": e2e.iso_ms(time.time())}
    if call.number:
        ev["customer_number"] = call.number
    if subject:
        ev["subject"] = subject
    if contact:
        ev["contact"] = contact
    if assignee:
        ev["assignee_id"] = assignee
    return ev


def produce_ticket_events(topics, *events):
    lines = [f"{ev.get('customer_number') or ev['call_id']}|{json.dumps(ev)}" for ev in events]
    proc = subprocess.run(["kcat", "-b", BROKERS, "-P", "-t", topics.prefix + "ticket-events",
                           "-K", "|"], input="\n".join(lines) + "\n", text=True,
                          capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def oidc_emulator(tenant=None):
    """The OpenID Connect emulator (tests/emulators/oidc), started in-process;
    with a tenant, in Entra ID's shape (issuer <url>/<tenant>/v2.0)."""
    sys.path.insert(0, os.path.join(ROOT, "tests", "emulators", "oidc"))
    from oidc_emulator import OidcEmulator
    return OidcEmulator("127.0.0.1", 0, tenant=tenant).start()


def oidc_env(idp, **more):
    """pop-service settings signing agents in with the emulator `idp`: the
    agent's CRM id is its users' crm_agent_id claim."""
    env = {"CALLBUS_POP_OIDC_ISSUER": idp.issuer, "CALLBUS_POP_OIDC_CLIENT_ID": idp.client_id,
           "CALLBUS_POP_OIDC_AGENT_CLAIM": "crm_agent_id"}
    env.update({k: str(v) for k, v in more.items()})
    return env


def start_pop(prefix_topics, group, logdir, name, env=None):
    svc = PopService(prefix_topics, group, logdir, name, env)
    svc.start()
    return svc


def check_pop(msg):
    """A screen pop is valid for schemas/screen-pop.schema.json."""
    e2e.validate_with_schema("screen-pop.schema.json", msg)


def cdp_browser():
    """Headless Chromium driven over DevTools (tests/pop/e2e/cdp.py)."""
    import cdp
    return cdp.Browser()


def open_stream_raw(port, token, timeout=10.0):
    """GET /v1/pops/stream on a raw socket: (status, socket). A 200's socket
    is left open after its "open" comment (the stream is served); any other
    status's socket is closed."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.sendall(f"GET /v1/pops/stream HTTP/1.1\r\nHost: pop\r\nAccept: text/event-stream\r\n"
                 f"Authorization: Bearer {token}\r\n\r\n".encode())
    got = b""
    while b"\r\n" not in got:
        chunk = sock.recv(4096)
        if not chunk:
            break
        got += chunk
    status = int(got.split(b" ", 2)[1]) if got.startswith(b"HTTP/1.1 ") else 0
    if status != 200:
        sock.close()
        return status, None
    while b": open" not in got:
        chunk = sock.recv(4096)
        if not chunk:
            break
        got += chunk
    return status, sock


def reconnect_storm(svc, token, n):
    """One agent opens and closes `n` pop streams in a row, as reloads and
    flaky Wi-Fi do (issue 19 item 2): each stream is served (its "open"
    comment read), then the client closes it. Returns the figures: opened
    (200), refused (any other status, or no answer), connections open on
    the public listener before and after (once settled), refused
    connections counted by the server meanwhile."""
    key_open = 'http_connections_open{server="public"}'
    key_refused = 'http_connections_refused_total{server="public"}'
    before = svc.metrics()
    opened = refused = 0
    for _ in range(n):
        try:
            status, sock = open_stream_raw(svc.port, token)
        except OSError:
            status, sock = 0, None
        if status == 200:
            opened += 1
            sock.close()
        else:
            refused += 1
    baseline = before.get(key_open, 0)
    deadline = time.monotonic() + 20
    while True:
        after = svc.metrics()
        if after.get(key_open, 0) <= baseline or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    return {"streams": n, "opened": opened, "closed": opened, "refused": refused,
            "refused_by_server": after.get(key_refused, 0) - before.get(key_refused, 0),
            "connections_before": baseline, "connections_after": after.get(key_open, 0)}


def agent_actions(topics):
    """Every message on <prefix>agent-actions so far: [(key, value dict)]."""
    proc = subprocess.run(["kcat", "-b", BROKERS, "-C", "-t", topics.prefix + "agent-actions",
                           "-o", "beginning", "-e", "-J", "-q"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    msgs = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return [(m["key"], json.loads(m["payload"])) for m in msgs]


def metric_sum(services, name):
    """A metric's value summed over replicas (0 where a replica has none)."""
    return sum(s.metric(name) for s in services)


class StandIn:
    """A local HTTP server playing someone else's side (a CRM's workspace,
    the library it serves, another service's API): respond(path, query)
    answers a GET with (content type, text), or None for a 404. `host`
    names it in its URL ("localhost": another site than pop-service's
    127.0.0.1)."""

    def __init__(self, respond, host="127.0.0.1"):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                u = urllib.parse.urlsplit(self.path)
                got = respond(u.path, urllib.parse.parse_qs(u.query))
                if got is None:
                    self.send_error(404)
                    return
                data = got[1].encode()
                self.send_response(200)
                self.send_header("Content-Type", got[0] + "; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://{host}:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def sign_in_at_provider(window, username):
    """The OpenID Connect emulator's sign-in form (in a window or a popup),
    filled and sent as the agent does."""
    window.wait("!!document.querySelector('form#signin input[name=username]')",
                what="the identity provider's sign-in form")
    window.js(f"""(() => {{ const f = document.querySelector('form#signin');
               f.username.value = {json.dumps(username)}; f.submit(); }})()""")
