#!/usr/bin/env python3
"""An emulator of Webex Contact Center's Search API for tasks (issue 27),
written from Webex's public documentation ("Search": POST /search, a
GraphQL endpoint; mandatory from/to in epoch milliseconds; the task query,
its pageInfo hasNextPage/endCursor and pagination cursor), not from any
client's code. It does not parse GraphQL: it answers the `task` query with
the documented task fields, whatever selection was asked.

  POST /search   Authorization: Bearer <token>
                 {"query": "...task(from: $from, to: $to, ...pagination:
                  {cursor: $cursor})...", "variables": {"from", "to",
                  "cursor"}}
  200 {"data": {"task": {"tasks": [...], "pageInfo": {"hasNextPage",
       "endCursor"}}}}; tasks created in [from, to], oldest first,
       `page_size` a page.
  401 (no or wrong token), 429 with Retry-After (past `limit_per_second`,
  or throttled by the test), 400 {"errors": [...]} without from/to.

Fed by the scenario generator (call_scenarios.WebexCall): `log(task)`.
Test controls: `throttle(n)`; `rate.requests`, `answered_429` count.
"""
import base64
import copy
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "zendesk"))
from emulator_common import ServedEmulator, serve_until_signal  # noqa: E402
from log_common import RateLimit, send_json  # noqa: E402


class WebexLogEmulator(ServedEmulator):
    THREAD_NAME = "webex-log-emulator"

    def __init__(self, host="127.0.0.1", port=0, token="wx-search-token", page_size=3,
                 limit_per_second=50):
        self.host, self.port, self.token = host, port, token
        self.page_size, self.rate = page_size, RateLimit(limit_per_second)
        self.lock = threading.Lock()
        self.tasks = []

    def _handler(self):
        return _Handler

    def log(self, task):
        with self.lock:
            self.tasks.append(copy.deepcopy(task))

    def throttle(self, n):
        self.rate.throttle(n)

    @property
    def answered_429(self):
        return self.rate.refused

    def search(self, req):
        v = req.get("variables") or {}
        if "task(" not in (req.get("query") or "") or "from" not in v or "to" not in v:
            return 400, {"errors": [{"message": "from and to are mandatory (epoch ms)"}]}
        start = int(base64.b64decode(v["cursor"]).decode()) if v.get("cursor") else 0
        with self.lock:
            found = sorted((t for t in self.tasks if v["from"] <= t["createdTime"] <= v["to"]),
                           key=lambda t: (t["createdTime"], t["id"]))
        page = copy.deepcopy(found[start:start + self.page_size])
        end = start + len(page)
        return 200, {"data": {"task": {"tasks": page, "pageInfo": {
            "hasNextPage": end < len(found),
            "endCursor": base64.b64encode(str(end).encode()).decode()}}}}


class _Handler(BaseHTTPRequestHandler):
    server_version = "WebexSearchEmulator/1.0"

    def log_message(self, fmt, *args):  # quiet
        pass

    def _send(self, status, doc, headers=None):
        send_json(self, status, doc, headers)

    def do_POST(self):  # noqa: N802
        emu = self.server.emulator
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n)
        if self.path.split("?")[0] != "/search":
            return self._send(404, {"message": "not found"})
        if self.headers.get("Authorization") != f"Bearer {emu.token}":
            return self._send(401, {"message": "The request requires a valid access token."})
        if emu.rate.refuse():
            return self._send(429, {"message": "Too many requests"}, {"Retry-After": "1"})
        try:
            req = json.loads(raw or b"null")
            assert isinstance(req, dict)
        except (json.JSONDecodeError, AssertionError):
            return self._send(400, {"errors": [{"message": "the body must be a JSON object"}]})
        self._send(*emu.search(req))


if __name__ == "__main__":
    emu = WebexLogEmulator(port=int(os.environ.get("PORT", "0"))).start()
    sys.exit(serve_until_signal(emu, os.environ.get("PORT_FILE"), "webex-log-emulator"))
