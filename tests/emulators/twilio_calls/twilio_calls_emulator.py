#!/usr/bin/env python3
"""An emulator of Twilio's REST Calls resource for click-to-call (issue 24
item 1), written from Twilio's public documentation ("Call resource":
Create a Call; "TwiML Voice: <Dial>, <Number>" and its statusCallback;
"Webhooks security" for X-Twilio-Signature; the error dictionary), not from
any client's code.

  POST /2010-04-01/Accounts/{AccountSid}/Calls.json   form-encoded
       Basic auth: the Account SID and its auth token, or an API key's SID
       and secret (of that account). To (E.164 or client:<identity>), From
       (a number of the account), one of Twiml / Url, StatusCallback,
       StatusCallbackEvent (repeated: initiated ringing answered completed),
       StatusCallbackMethod.
  201 {"sid": "CA...", "status": "queued", "direction": "outbound-api", ...}
  errors {"code", "message", "more_info", "status"}: 20003 Authenticate
  (401), 20404 another account (404), 21201 no To, 21213 no From, 21205 no
  Url/Twiml, 21211 an invalid To, 21212 an invalid From, 21210 a From not
  in the account, 12100 TwiML that does not parse, 20429 Too Many Requests
  (429, past the account's requests per minute).

A created call then happens: the To leg (the agent's Client) rings and
answers, Twilio runs the inline TwiML, and its <Dial><Number> leg calls the
customer (answered or not, as the test asks). Every status callback the
request (and the <Number>'s statusCallback) asked for is posted
form-encoded to its URL, signed with the account's auth token over the URL
as given, query included. `deliver` maps a public base URL (what ingest is
configured as, CALLBUS_INGEST_PUBLIC_URL) to where it really listens.
A Url instead of Twiml is accepted but not fetched: the To leg alone.

Test controls (not part of Twilio):
  POST /__emulator/plan   {"to": "+E164", "answer": bool, "talk_s": N}
  GET  /__emulator/calls  every call: its parameters and callbacks
"""
import base64
import copy
import hmac
import importlib.util
import json
import os
import re
import secrets
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "zendesk"))
from emulator_common import ServedEmulator, serve_until_signal  # noqa: E402

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
CLIENT = re.compile(r"^client:[A-Za-z0-9_.@-]{1,121}$")
EVENTS = {"initiated", "ringing", "answered", "completed"}


# X-Twilio-Signature as Twilio documents it: one home, the one ingest's
# tests check against Twilio's published example (tests/ingest/e2e).
_spec = importlib.util.spec_from_file_location(
    "ingest_http_helpers", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                        "ingest", "e2e", "conftest.py"))
_ingest_http = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_ingest_http)
signature = _ingest_http.twilio_signature


def error(status, code, message):
    return status, {"code": code, "message": message,
                    "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status}


class TwilioCallsEmulator(ServedEmulator):
    THREAD_NAME = "twilio-calls-emulator"

    def __init__(self, host="127.0.0.1", port=0,
                 account_sid="AC" + "0" * 31 + "1", auth_token="tw-auth-token",
                 api_keys=None, numbers=("+390287654321",), deliver=None,
                 limit_per_minute=60, step_s=0.05):
        self.host, self.port = host, port
        self.account_sid, self.auth_token = account_sid, auth_token
        self.api_keys = dict(api_keys or {})  # SK... -> secret
        self.numbers = set(numbers)
        self.deliver = dict(deliver or {})    # public base -> real base
        self.limit_per_minute, self.step_s = limit_per_minute, step_s
        self.lock = threading.Lock()
        self.plans, self.calls, self.sent, self.threads = {}, [], [], []

    def _handler(self):
        return _Handler

    # -- the resource ----------------------------------------------------------
    def authenticated(self, header):
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, pw = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        if user == self.account_sid:
            return hmac.compare_digest(pw, self.auth_token)
        return user in self.api_keys and hmac.compare_digest(pw, self.api_keys[user])

    def create(self, account, form):
        if account != self.account_sid:
            return error(404, 20404, f"The requested resource /2010-04-01/Accounts/{account}"
                                     "/Calls.json was not found")
        get = lambda k: (form.get(k) or [""])[0]  # noqa: E731
        to, frm = get("To"), get("From")
        if not to:
            return error(400, 21201, "No 'To' number is specified")
        if not frm:
            return error(400, 21213, "No 'From' number is specified")
        if not (get("Url") or get("Twiml") or get("ApplicationSid")):
            return error(400, 21205, "Url parameter is required.")
        if not (E164.match(to) or CLIENT.match(to)):
            return error(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if not E164.match(frm):
            return error(400, 21212, f"Invalid 'From' Phone Number: {frm}")
        if frm not in self.numbers:
            return error(400, 21210, f"The source phone number provided, {frm}, is not yet "
                                     "verified for your account.")
        dial = None
        if get("Twiml"):
            try:
                dial = self._dial_of(ET.fromstring(get("Twiml")))
            except ET.ParseError:
                return error(400, 12100, "Document parse failure")
        now = time.monotonic()
        with self.lock:
            self.sent = [t for t in self.sent if now - t < 60]
            if len(self.sent) >= self.limit_per_minute:
                return error(429, 20429, "Too Many Requests")
            self.sent.append(now)
            sid = "CA" + secrets.token_hex(16)
            call = {"sid": sid, "params": {k: v if len(v) > 1 else v[0] for k, v in form.items()},
                    "dial": dial, "callbacks": []}
            self.calls.append(call)
        t = threading.Thread(target=self._happen, args=(call, form), daemon=True)
        self.threads.append(t)
        t.start()
        return 201, {"sid": sid, "account_sid": self.account_sid, "to": to, "from": frm,
                     "status": "queued", "direction": "outbound-api",
                     "api_version": "2010-04-01", "date_created": formatdate(usegmt=True),
                     "uri": f"/2010-04-01/Accounts/{self.account_sid}/Calls/{sid}.json"}

    @staticmethod
    def _dial_of(root):
        d = root.find("Dial")
        n = d.find("Number") if d is not None else None
        if n is None:
            return None
        return {"caller_id": d.get("callerId"), "number": (n.text or "").strip(),
                "status_callback": n.get("statusCallback"),
                "events": set((n.get("statusCallbackEvent") or "completed").split()) | {
                    "completed"}}

    # -- what follows: the legs and their status callbacks ----------------------
    def _post(self, call, url, pairs):
        status = None
        real = url
        for public, base in self.deliver.items():
            if url.startswith(public):
                real = base + url[len(public):]
        sig = signature(self.auth_token, url, pairs)
        req = urllib.request.Request(real, data=urllib.parse.urlencode(pairs).encode(),
                                     method="POST", headers={
                                         "Content-Type": "application/x-www-form-urlencoded",
                                         "X-Twilio-Signature": sig})
        try:
            with urllib.request.urlopen(req, timeout=20) as r:
                status = r.status
        except urllib.error.HTTPError as e:
            status = e.code
        with self.lock:
            call["callbacks"].append({"url": url, "status": status, "params": dict(pairs)})

    def _leg_events(self, call, url, events, leg, statuses):
        for seq, (st, extra) in enumerate(statuses):
            wanted = {"queued": "initiated", "initiated": "initiated", "ringing": "ringing",
                      "in-progress": "answered"}.get(st, "completed")
            if not url or wanted not in events:
                continue
            time.sleep(self.step_s)
            pairs = [("AccountSid", self.account_sid), ("ApiVersion", "2010-04-01"),
                     ("CallSid", leg["sid"]), ("CallStatus", st), ("Called", leg["to"]),
                     ("Caller", leg["from"]), ("Direction", leg["direction"]),
                     ("From", leg["from"]), ("To", leg["to"]),
                     ("CallbackSource", "call-progress-events"), ("SequenceNumber", str(seq)),
                     ("Timestamp", formatdate(usegmt=True).replace("GMT", "+0000"))]
            if leg.get("parent"):
                pairs.append(("ParentCallSid", leg["parent"]))
            pairs += extra
            self._post(call, url, pairs)

    def _happen(self, call, form):
        get = lambda k: (form.get(k) or [""])[0]  # noqa: E731
        events = set(form.get("StatusCallbackEvent") or []) | {"completed"}
        agent = {"sid": call["sid"], "to": get("To"), "from": get("From"),
                 "direction": "outbound-api"}
        dial = call["dial"]
        plan = self.plans.pop(dial["number"], {}) if dial else {}
        answered, talk = plan.get("answer", True), int(plan.get("talk_s", 30))
        self._leg_events(call, get("StatusCallback"), events, agent,
                         [("initiated", []), ("ringing", []), ("in-progress", [])])
        if dial:
            child = {"sid": "CA" + secrets.token_hex(16), "to": dial["number"],
                     "from": dial["caller_id"] or get("From"), "direction": "outbound-dial",
                     "parent": call["sid"]}
            steps = [("initiated", []), ("ringing", [])]
            steps += ([("in-progress", []), ("completed", [("CallDuration", str(talk)),
                                                           ("Duration", str(talk // 60 + 1))])]
                      if answered else [("no-answer", [("CallDuration", "0"), ("Duration", "0")])])
            self._leg_events(call, dial["status_callback"], dial["events"], child, steps)
        self._leg_events(call, get("StatusCallback"), events, agent,
                         [("completed", [("CallDuration", str(talk + 8)),
                                         ("Duration", str(talk // 60 + 1))])])

    def wait_done(self, timeout=30):
        for t in list(self.threads):
            t.join(timeout)


class _Handler(BaseHTTPRequestHandler):
    server_version = "TwilioCallsEmulator/1.0"
    PATH = re.compile(r"^/2010-04-01/Accounts/([^/]+)/Calls\.json$")

    def log_message(self, fmt, *args):  # quiet
        pass

    @property
    def emu(self) -> TwilioCallsEmulator:
        return self.server.emulator

    def _send(self, status, doc, headers=None):
        raw = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(raw)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self):  # noqa: N802
        if self.path == "/__emulator/calls":
            with self.emu.lock:
                calls = copy.deepcopy([{k: v for k, v in c.items() if k != "dial"}
                                       for c in self.emu.calls])
            return self._send(200, {"calls": calls})
        self._send(*error(404, 20404, "The requested resource was not found"))

    def do_POST(self):  # noqa: N802
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n).decode() if n else ""
        if self.path == "/__emulator/plan":
            plan = json.loads(raw)
            with self.emu.lock:
                self.emu.plans[plan.pop("to")] = plan
            return self._send(200, {"ok": True})
        m = self.PATH.match(self.path)
        if not m:
            return self._send(*error(404, 20404, "The requested resource was not found"))
        if not self.emu.authenticated(self.headers.get("Authorization")):
            return self._send(*error(401, 20003, "Authenticate"),
                              {"WWW-Authenticate": 'Basic realm="Twilio API"'})
        status, doc = self.emu.create(m.group(1), urllib.parse.parse_qs(raw))
        self._send(status, doc)


def main(argv):
    """twilio_calls_emulator.py PORT_FILE: serve until SIGTERM."""
    emu = TwilioCallsEmulator().start()
    return serve_until_signal(emu, argv[1] if len(argv) > 1 else None, "twilio-calls")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
