#!/usr/bin/env python3
"""An emulator of CallGear's Data API reports (issue 27), written from
CallGear's public Data API documentation (JSON-RPC 2.0; the calls report
and the call legs report; paging by limit/offset; the errors), not from
any client's code.

  POST /v2.0   {"jsonrpc": "2.0", "id": n, "method": "get.calls_report" |
                "get.call_legs_report", "params": {"access_token",
                "date_from", "date_till" ("YYYY-MM-DD HH:MM:SS", the
                account's time: UTC here), "limit" (at most 10000),
                "offset", "fields"}}
  result: {"data": [records, only the fields asked for], "metadata":
           {"total_items": n}}
  errors (HTTP 200, JSON-RPC "error" {code, message, data.mnemonic}):
  -32001 invalid access token; -32029 limit_exceeded (past
  `limit_per_second`, or throttled by the test); -32601 unknown method;
  -32602 invalid params.

Fed by the scenario generator (call_scenarios.CallGearCall): `log(call,
legs)` adds a calls-report record and its legs. Test controls (not part of
CallGear): `throttle(n)`; `rate.requests`, `answered_limit` count.
"""
import copy
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "zendesk"))
from emulator_common import ServedEmulator, serve_until_signal  # noqa: E402
from log_common import RateLimit, send_json  # noqa: E402


def rpc_error(rid, code, message, mnemonic):
    return {"jsonrpc": "2.0", "id": rid,
            "error": {"code": code, "message": message, "data": {"mnemonic": mnemonic}}}


class CallGearLogEmulator(ServedEmulator):
    THREAD_NAME = "callgear-log-emulator"

    def __init__(self, host="127.0.0.1", port=0, access_token="cg-data-token",
                 limit_per_second=50):
        self.host, self.port = host, port
        self.access_token, self.rate = access_token, RateLimit(limit_per_second)
        self.lock = threading.Lock()
        self.calls, self.legs = [], []

    def _handler(self):
        return _Handler

    def log(self, call, legs):
        with self.lock:
            self.calls.append(copy.deepcopy(call))
            self.legs += copy.deepcopy(legs)

    def throttle(self, n):
        self.rate.throttle(n)

    @property
    def answered_limit(self):
        return self.rate.refused

    def answer(self, req):
        rid = req.get("id") if isinstance(req, dict) else None
        if not isinstance(req, dict) or req.get("jsonrpc") != "2.0":
            return rpc_error(rid, -32600, "Invalid Request", "invalid_request")
        rows = {"get.calls_report": self.calls, "get.call_legs_report": self.legs}.get(
            req.get("method"))
        if rows is None:
            return rpc_error(rid, -32601, "Method not found", "method_not_found")
        p = req.get("params") or {}
        if p.get("access_token") != self.access_token:
            return rpc_error(rid, -32001, "Invalid access token", "access_token_invalid")
        if self.rate.refuse():
            return rpc_error(rid, -32029, "Limit exceeded", "limit_exceeded")
        try:
            lo, hi = p["date_from"], p["date_till"]
            limit, offset = int(p.get("limit", 1000)), int(p.get("offset", 0))
            assert 1 <= limit <= 10000 and offset >= 0
        except (KeyError, ValueError, AssertionError):
            return rpc_error(rid, -32602, "Invalid params", "invalid_params")
        fields = p.get("fields")
        with self.lock:
            found = [r for r in rows if lo <= r["start_time"] <= hi]
        found.sort(key=lambda r: (r["start_time"], r["id"]))
        page = [{k: v for k, v in r.items() if not fields or k in fields}
                for r in found[offset:offset + limit]]
        return {"jsonrpc": "2.0", "id": rid,
                "result": {"data": page, "metadata": {"total_items": len(found)}}}


class _Handler(BaseHTTPRequestHandler):
    server_version = "CallGearDataApiEmulator/1.0"

    def log_message(self, fmt, *args):  # quiet
        pass

    def do_POST(self):  # noqa: N802
        n = int(self.headers.get("Content-Length") or 0)
        try:
            req = json.loads(self.rfile.read(n) or b"null")
            doc = (self.server.emulator.answer(req) if self.path == "/v2.0"
                   else rpc_error(None, -32601, "Method not found", "method_not_found"))
        except json.JSONDecodeError:
            doc = rpc_error(None, -32700, "Parse error", "parse_error")
        send_json(self, 200, doc, content_type="application/json; charset=utf-8")


if __name__ == "__main__":
    emu = CallGearLogEmulator(port=int(os.environ.get("PORT", "0"))).start()
    sys.exit(serve_until_signal(emu, os.environ.get("PORT_FILE"), "callgear-log-emulator"))
