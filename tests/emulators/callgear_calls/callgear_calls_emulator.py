#!/usr/bin/env python3
"""An emulator of CallGear's Call API for click-to-call (issue 24 item 1),
written from CallGear's public documentation (callgear.github.io/call_api:
"Getting started", "Start employee call"), not from any client's code.

The API is JSON-RPC 2.0 over HTTPS, POST only, with
Content-Type: application/json; charset=UTF-8, at <url>/v4.0. One method is
served: start.employee_call (params: access_token, first_call
"employee"|"contact", switch_at_once, virtual_phone_number (an account's
number, E.164 digits), contact (digits), employee {id, phone_number?},
external_id). Its answer is {"jsonrpc", "id", "result": {"data":
{"call_session_id": N}}}; errors are {"jsonrpc", "id", "error": {"code",
"message", "data": {"mnemonic", "field", "value"}}} with the JSON-RPC codes
(-32700 parse error, -32600 invalid request, -32601 unknown method, -32602
invalid params) and CallGear's own: -32001 a wrong, expired or blocked
access token, -32029 the account's limit reached (limit_exceeded).

A placed call then happens: the emulator posts the notifications a real
outbound employee call produces, with the body template every CallGear
notification shares (BEHAVIOUR.md §10; the path suffix names the
notification), to notify_url (ingest's route with its token), in order:
/legout (the employee's leg placed), /callout (the contact's), /handset
(the contact answered; skipped when not answered), /end (direction "out",
talk and total durations, is_lost). external_id is echoed in each, as
CallGear fills {{external_id}}.

Test controls (not part of CallGear):
  POST /__emulator/plan   {"contact": digits, "answer": bool, "talk_s": N}:
                          how the next call to that contact goes
                          (default: answered, 30 s of talk)
  GET  /__emulator/calls  every call placed: its params and notifications
"""
import copy
import itertools
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "zendesk"))
from emulator_common import ServedEmulator, serve_until_signal  # noqa: E402

NOTIFICATION_NAMES = {"legout": "Outbound call leg", "callout": "Outbound call",
                      "handset": "Call accepted", "end": "Call finished"}


def rpc_error(rid, code, message, mnemonic=None, field=None, value=None):
    data = {"mnemonic": mnemonic, "field": field, "value": value} if mnemonic else None
    return {"jsonrpc": "2.0", "id": rid, "error": {"code": code, "message": message,
                                                   "data": data}}


class CallGearCallsEmulator(ServedEmulator):
    THREAD_NAME = "callgear-calls-emulator"

    def __init__(self, host="127.0.0.1", port=0, access_token="cg-call-api-token",
                 virtual_numbers=("902129998877",), employees=None, notify_url=None,
                 limit_per_minute=60, step_s=0.05):
        self.host, self.port = host, port
        self.access_token = access_token
        self.virtual_numbers = set(virtual_numbers)
        self.employees = dict(employees or {2207: "Ayşe Yılmaz", 2211: "Marco Bianchi"})
        self.notify_url = notify_url  # ingest's http://host:port/v1/callgear/<token>
        self.limit_per_minute, self.step_s = limit_per_minute, step_s
        self.lock = threading.Lock()
        self.plans = {}
        self.calls = []
        self.sent = []  # (times of accepted requests, for the limit)
        self.sessions = itertools.count(int(time.time()) % 10 ** 6 * 1000 + 3_000_000_000)
        self.legs = itertools.count(918_000_000)
        self.threads = []

    def _handler(self):
        return _Handler

    @property
    def api_url(self):
        return self.url + "/v4.0"

    # -- the method ------------------------------------------------------------
    def start_employee_call(self, rid, p):
        if not isinstance(p, dict):
            return rpc_error(rid, -32602, "Invalid params", "invalid_parameter_value", "params")
        if "access_token" not in p:
            return rpc_error(rid, -32602, "Required parameter access_token is missed",
                             "required_parameter_missed", "access_token")
        if p["access_token"] != self.access_token:
            return rpc_error(rid, -32001, "Access token is invalid", "access_token_invalid")
        for name in ("first_call", "virtual_phone_number", "contact", "employee"):
            if p.get(name) in (None, ""):
                return rpc_error(rid, -32602, f"Required parameter {name} is missed",
                                 "required_parameter_missed", name)
        if p["first_call"] not in ("employee", "contact"):
            return rpc_error(rid, -32602, "Invalid value of parameter first_call",
                             "invalid_parameter_value", "first_call", p["first_call"])
        vn = str(p["virtual_phone_number"])
        if vn not in self.virtual_numbers:
            return rpc_error(rid, -32602, "Virtual phone number is not found in the account",
                             "invalid_parameter_value", "virtual_phone_number", vn)
        contact = str(p["contact"])
        if not contact.isdigit() or not 7 <= len(contact) <= 15:
            return rpc_error(rid, -32602, "Invalid value of parameter contact",
                             "invalid_parameter_value", "contact", contact)
        emp = p["employee"]
        eid = emp.get("id") if isinstance(emp, dict) else None
        if not isinstance(eid, int) or eid not in self.employees:
            return rpc_error(rid, -32602, "Employee is not found", "invalid_parameter_value",
                             "employee.id", eid)
        ext = p.get("external_id")
        if ext is not None and (not isinstance(ext, str) or len(ext) > 64):
            return rpc_error(rid, -32602, "Invalid value of parameter external_id",
                             "invalid_parameter_value", "external_id", ext)
        now = time.monotonic()
        with self.lock:
            self.sent = [t for t in self.sent if now - t < 60]
            if len(self.sent) >= self.limit_per_minute:
                return rpc_error(rid, -32029, "Limit exceeded", "limit_exceeded")
            self.sent.append(now)
            session = next(self.sessions)
            plan = self.plans.pop(contact, {"answer": True, "talk_s": 30})
            call = {"call_session_id": session, "params": copy.deepcopy(p), "plan": plan,
                    "notifications": []}
            self.calls.append(call)
        t = threading.Thread(target=self._happen, args=(call,), daemon=True)
        self.threads.append(t)
        t.start()
        return {"jsonrpc": "2.0", "id": rid, "result": {"data": {"call_session_id": session}}}

    # -- what follows: the notifications ----------------------------------------
    def _body(self, call, name, leg_id, legs, answered=False, ended=False):
        p, plan = call["params"], call["plan"]
        eid = p["employee"]["id"]
        talk = plan.get("talk_s", 30) if answered and ended else 0
        doc = {
            "notification_name": NOTIFICATION_NAMES[name],
            "virtual_phone_number": p["virtual_phone_number"],
            "notification_time": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
            "external_id": p.get("external_id"),
            "contact_info": {"contact_phone_number": p["contact"],
                             "communication_number": p["virtual_phone_number"],
                             "contact_id": None, "contact_full_name": None},
            "employee_info": {"employee_full_name": self.employees[eid], "employee_id": eid},
            "call_info": {"call_source": "callapi", "direction": "out",
                          "call_session_id": call["call_session_id"],
                          "scenario_name": None, "talk_time_duration": talk,
                          "total_time_duration": talk + 12 if ended else 0,
                          "wait_time_duration": 0, "tag_names": [],
                          "is_lost": ended and not answered},
            "call_record_file_info": {"file_link": None, "call_record_duration": None},
            "leg_id": leg_id, "leg_ids": legs}
        if name == "end":
            doc.update({"last_scenario_operation_name": None, "group_ids": None})
        return doc

    def _post(self, call, name, doc):
        status = None
        if self.notify_url:
            req = urllib.request.Request(f"{self.notify_url}/{name}", method="POST",
                                         data=json.dumps(doc).encode(),
                                         headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=20) as r:
                    status = r.status
            except urllib.error.HTTPError as e:
                status = e.code
        with self.lock:
            call["notifications"].append({"name": name, "status": status, "body": doc})

    def _happen(self, call):
        answered = bool(call["plan"].get("answer", True))
        emp_leg, contact_leg = next(self.legs), next(self.legs)
        steps = [("legout", emp_leg, [emp_leg], False, False),
                 ("callout", contact_leg, [emp_leg, contact_leg], False, False)]
        if answered:
            steps.append(("handset", contact_leg, [emp_leg, contact_leg], True, False))
        steps.append(("end", contact_leg, [emp_leg, contact_leg], answered, True))
        for name, leg, legs, ans, ended in steps:
            time.sleep(self.step_s)
            self._post(call, name, self._body(call, name, leg, legs, ans, ended))

    def wait_done(self, timeout=30):
        for t in list(self.threads):
            t.join(timeout)


class _Handler(BaseHTTPRequestHandler):
    server_version = "CallGearCallsEmulator/1.0"

    def log_message(self, fmt, *args):  # quiet
        pass

    @property
    def emu(self) -> CallGearCallsEmulator:
        return self.server.emulator

    def _send(self, status, doc):
        raw = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self):  # noqa: N802
        if self.path == "/__emulator/calls":
            with self.emu.lock:
                return self._send(200, {"calls": copy.deepcopy(self.emu.calls)})
        self._send(404, {"error": "not found"})

    def do_POST(self):  # noqa: N802
        raw = self._body()
        if self.path == "/__emulator/plan":
            plan = json.loads(raw)
            with self.emu.lock:
                self.emu.plans[str(plan.pop("contact"))] = plan
            return self._send(200, {"ok": True})
        if self.path != "/v4.0":
            return self._send(404, {"error": "not found"})
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        try:
            if ctype != "application/json":
                raise ValueError("Content-Type")
            req = json.loads(raw)
        except ValueError:
            return self._send(200, rpc_error(None, -32700, "Parse error"))
        if (not isinstance(req, dict) or req.get("jsonrpc") != "2.0" or "id" not in req
                or not isinstance(req.get("method"), str)):
            return self._send(200, rpc_error(req.get("id") if isinstance(req, dict) else None,
                                             -32600, "Invalid Request"))
        if req["method"] != "start.employee_call":
            return self._send(200, rpc_error(req["id"], -32601, "Method not found"))
        self._send(200, self.emu.start_employee_call(req["id"], req.get("params")))


def main(argv):
    """callgear_calls_emulator.py PORT_FILE NOTIFY_URL: serve until SIGTERM."""
    emu = CallGearCallsEmulator(notify_url=argv[2] if len(argv) > 2 else None).start()
    return serve_until_signal(emu, argv[1] if len(argv) > 1 else None, "callgear-calls")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
