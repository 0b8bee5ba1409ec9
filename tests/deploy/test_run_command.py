"""The README's run command, as a new user meets it (issue 19 item 1).

`deploy/local/run.sh` is started as a user would (its own process group, as
a terminal gives it; nothing of the test stack's environment), on free ports
below the kernel's ephemeral range and a state directory of its own. Then
what the README and the banner promise: the example webhook is accepted, the
ticket shows in the Zendesk emulator, the pop reaches a logged-in agent's
stream; Ctrl-C (SIGINT to the group) stops everything: no process of the
stack is left and none of its ports is held.

The Release build it makes is the one tests/run.sh built just before, so
this test does not pay for it again.
"""
from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests"))
import free_ports  # noqa: E402

RUN = os.path.join(ROOT, "deploy", "local", "run.sh")
FIXTURE = os.path.join(ROOT, "tests", "ingest", "unit", "fixtures", "callgear_handset.json")
PORT_VARS = [
    "CALLBUS_INGEST_PORT", "CALLBUS_TICKET_PORT", "CALLBUS_POP_PORT", "CALLBUS_MISSED_PORT",
    "CALLBUS_INGEST_ADMIN_PORT", "CALLBUS_TICKET_ADMIN_PORT", "CALLBUS_POP_ADMIN_PORT",
    "CALLBUS_MISSED_ADMIN_PORT", "CALLBUS_EMULATOR_PORT", "CALLBUS_KAFKA_PORT",
    "CALLBUS_KAFKA_CONTROLLER_PORT", "CALLBUS_REDIS_PORT", "CALLBUS_OIDC_EMULATOR_PORT",
]
START_TIMEOUT_S = 300  # a first Release build on 2 cores, then Kafka's start
STOP_TIMEOUT_S = 60


def defaults_in_run_sh():
    """Every port default of the run command and its stack scripts."""
    text = ""
    for name in ("run.sh", "lib.sh"):
        with open(os.path.join(ROOT, "deploy", "local", name)) as f:
            text += f.read()
    return {m.group(1): int(m.group(2))
            for m in re.finditer(r'\$\{(CALLBUS_\w+_PORT):-(\d+)\}', text)}


def test_default_ports_sit_below_the_ephemeral_range():
    """A default inside 32768-60999 can be held by any outgoing connection
    (seen: Kafka could not bind 39092); every default of the run command
    sits below the range."""
    lo = free_ports.ephemeral_low()
    defaults = defaults_in_run_sh()
    assert set(PORT_VARS) <= set(defaults), sorted(set(PORT_VARS) - set(defaults))
    inside = {k: v for k, v in defaults.items() if v >= lo}
    assert not inside, f"defaults inside the ephemeral range (>= {lo}): {inside}"


def request(method, url, body=None, headers=None, timeout=10):
    data = body if isinstance(body, bytes) else (json.dumps(body).encode() if body else None)
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw, status = r.read(), r.status
    except urllib.error.HTTPError as err:
        raw, status = err.read(), err.code
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode("utf-8", "replace")


def sign_in(pop, username):
    """An agent's sign-in as the agent page does it (oidc.js): the
    authorization code flow with PKCE at the issuer pop-service names
    (GET /v1/auth/config), the ID token to POST /v1/sessions/oidc. The
    issuer is the run command's OpenID Connect emulator; login_hint stands
    for the agent typing their name into its form."""
    c = wait_for("pop-service to know the issuer", lambda: (
        lambda r: r[0] == 200 and r[1]["oidc"])(request("GET", f"{pop}/v1/auth/config")), 30)
    verifier = base64.urlsafe_b64encode(os.urandom(48)).rstrip(b"=").decode()
    challenge = base64.urlsafe_b64encode(
        hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    redirect = f"{pop}/agent/"
    query = urllib.parse.urlencode({
        "response_type": "code", "client_id": c["client_id"], "redirect_uri": redirect,
        "scope": c["scopes"], "state": "run-test", "nonce": "run-test", "login_hint": username,
        "code_challenge": challenge, "code_challenge_method": "S256"})
    auth = urllib.parse.urlsplit(c["authorization_endpoint"])
    conn = http.client.HTTPConnection(auth.hostname, auth.port, timeout=10)
    conn.request("GET", f"{auth.path}?{query}")
    r = conn.getresponse()
    location = r.getheader("Location") or ""
    conn.close()
    assert r.status in (302, 303) and location.startswith(redirect), (r.status, location)
    code = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)["code"][0]
    form = urllib.parse.urlencode({"grant_type": "authorization_code", "code": code,
                                   "redirect_uri": redirect, "client_id": c["client_id"],
                                   "code_verifier": verifier}).encode()
    status, tokens = request("POST", c["token_endpoint"], form,
                             {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 200 and tokens.get("id_token"), (status, tokens)
    status, body = request("POST", f"{pop}/v1/sessions/oidc",
                           {"id_token": tokens["id_token"], "provider_agent_id": "2207"},
                           {"Content-Type": "application/json"})
    assert status == 201, (status, body)
    return body


class Stream:
    """An agent's pop stream (GET /v1/pops/stream, SSE), read in a thread."""

    def __init__(self, port, token):
        self.events = []
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        # Kept: the reply says "Connection: close", after which http.client
        # lets go of the socket that close() shuts down.
        self.conn.connect()
        self.sock = self.conn.sock
        self.conn.request("GET", "/v1/pops/stream",
                          headers={"Accept": "text/event-stream",
                                   "Authorization": f"Bearer {token}"})
        self.resp = self.conn.getresponse()
        assert self.resp.status == 200, self.resp.status
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        data = []
        try:
            for raw in self.resp.fp:
                line = raw.decode().rstrip("\r\n")
                if line.startswith("data:"):
                    data.append(line[5:].strip())
                elif line == "" and data:
                    try:
                        self.events.append(json.loads("\n".join(data)))
                    except ValueError:
                        pass
                    data = []
        except (OSError, ValueError):
            pass

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.conn.close()


def wait_for(what, fn, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def stack_processes(marker_paths):
    """Pids whose command line or working directory names one of the paths."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
            cwd = os.readlink(f"/proc/{pid}/cwd")
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    continue
        except OSError:
            continue
        if int(pid) != os.getpid() and any(m in cmd or cwd.startswith(m) for m in marker_paths):
            found.append((int(pid), cmd.strip()))
    return found


def test_run_command_end_to_end():
    base = free_ports.free_block(len(PORT_VARS))
    ports = dict(zip(PORT_VARS, range(base, base + len(PORT_VARS))))
    state = tempfile.mkdtemp(prefix="callbus-run-")
    # A user's shell: none of the test stack's settings.
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLBUS_")}
    env.update({k: str(v) for k, v in ports.items()})
    env["CALLBUS_STACK_DIR"] = state
    if "CALLBUS_CACHE_DIR" in os.environ:
        env["CALLBUS_CACHE_DIR"] = os.environ["CALLBUS_CACHE_DIR"]
    out_path = os.path.join(state, "run.out")
    out = open(out_path, "w")
    proc = subprocess.Popen([RUN], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True)
    stream = None
    passed = False
    markers = [state, os.path.join(ROOT, "build", "release", "services"),
               f"--port {ports['CALLBUS_EMULATOR_PORT']}",
               f"--port {ports['CALLBUS_OIDC_EMULATOR_PORT']}"]
    try:
        def banner():
            assert proc.poll() is None, "run.sh exited:\n" + open(out_path).read()[-3000:]
            return "callbus is running" in open(out_path).read()
        wait_for("the run command's banner", banner, START_TIMEOUT_S)
        text = open(out_path).read()
        ingest = f"http://127.0.0.1:{ports['CALLBUS_INGEST_PORT']}"
        pop = f"http://127.0.0.1:{ports['CALLBUS_POP_PORT']}"
        zendesk = f"http://127.0.0.1:{ports['CALLBUS_EMULATOR_PORT']}"
        # The banner names what the user is to use.
        assert f"{ingest}/v1/callgear/demo-callgear-token/handset" in text, text
        assert f"{pop}/agent" in text, text
        # Issue 25 item 3: the supervisor page's and the statistics API's URLs.
        assert f"{pop}/supervisor\n" in text and f"{pop}/v1/stats?from=" in text, text
        for name in ("ticket", "pop", "missed"):
            admin = ports[f"CALLBUS_{name.upper()}_ADMIN_PORT"]
            wait_for(f"{name} ready", lambda a=admin: request(
                "GET", f"http://127.0.0.1:{a}/readyz")[0] == 200, 60)

        # The agent of the fixture's operator (2207 -> 900001) signs in as the
        # banner says (the identity provider, no secret) and opens the pop
        # stream, as the agent page does.
        assert "user agent-900001" in text and "secret" not in text.split("Screen pops")[1] \
            .split("Machine clients")[0], text
        body = sign_in(pop, "agent-900001")
        assert body["agent_crm_id"] == "900001", body
        stream = Stream(ports["CALLBUS_POP_PORT"], body["token"])
        # The banner's supervisor (the demo agent, CALLBUS_POP_SUPERVISORS)
        # reads the statistics with that session; another agent may not.
        assert "CALLBUS_POP_SUPERVISORS=900001" in text, text
        today = time.strftime("%Y-%m-%d", time.gmtime())
        stats = f"{pop}/v1/stats?from={today}&to={today}&by=agent"
        status, got = request("GET", stats, headers={"Authorization": f"Bearer {body['token']}"})
        assert status == 200 and got["by"] == "agent" and "totals" in got, (status, got)
        other = sign_in(pop, "agent-900002")
        status, got = request("GET", stats, headers={"Authorization": f"Bearer {other['token']}"})
        assert status == 403, (status, got)
        status, page = request("GET", f"{pop}/supervisor")
        assert status == 200, (status, page)

        # The README's example webhook, as the README writes it.
        with open(FIXTURE, "rb") as f:
            status, body = request("POST", f"{ingest}/v1/callgear/demo-callgear-token/handset",
                                f.read(), {"Content-Type": "application/json"})
        assert status == 202, (status, body)
        assert body["status"] == "accepted" and body["event_ids"], body

        auth = base64.b64encode(b"agent@example.com/token:emulator-token").decode()

        def ticket():
            status, body = request("GET", f"{zendesk}/api/v2/tickets.json",
                                headers={"Authorization": f"Basic {auth}"})
            assert status == 200, (status, body)
            return [t for t in body["tickets"] if t.get("assignee_id") == 900001]
        tickets = wait_for("the ticket in the emulator", ticket, 60)
        assert len(tickets) == 1, tickets
        ticket_id = str(tickets[0]["id"])

        def popped():
            return [e for e in stream.events if e.get("kind") == "ticket"
                    and str((e.get("ticket") or {}).get("id")) == ticket_id]
        assert wait_for("the pop on the agent's stream", popped, 60), stream.events
        passed = True
    finally:
        if stream:
            try:
                stream.close()
            except Exception:  # the stack's cleanup below must run anyway
                pass
        # Ctrl-C: the terminal signals the whole foreground group.
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
        try:
            rc = proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            rc = None
        out.close()
        left = wait_for_nothing_left(markers)
        for pid, _ in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        log = open(out_path).read()
        if passed:
            shutil.rmtree(state, ignore_errors=True)
        else:  # the services' logs, for the reader of a failure
            print(f"run command's output and logs kept in {state}")
    assert rc is not None, f"run.sh still running {STOP_TIMEOUT_S} s after Ctrl-C:\n{log[-3000:]}"
    assert not left, f"left behind after Ctrl-C: {left}"
    held = [p for p in ports.values() if not free_ports.port_free(p)]
    assert not held, f"ports still held after Ctrl-C: {held}"


def wait_for_nothing_left(markers, timeout=5):
    """The stack's processes, once they had `timeout` s to go after run.sh."""
    deadline = time.monotonic() + timeout
    left = stack_processes(markers)
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = stack_processes(markers)
    return left
