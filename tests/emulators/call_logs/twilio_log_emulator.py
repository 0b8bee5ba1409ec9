#!/usr/bin/env python3
"""An emulator of Twilio's call log, the Calls resource read (issue 27),
written from Twilio's public documentation ("Call resource: Read multiple
Call resources"; the paging of list resources; the error dictionary), not
from any client's code.

  GET /2010-04-01/Accounts/{AccountSid}/Calls.json
      Basic auth: the Account SID and its auth token (or an API key).
      StartTime=YYYY-MM-DD, StartTime>=, StartTime<= (UTC dates; Twilio's
      filter takes days), ParentCallSid, Status, PageSize (default 50, at
      most 1000), Page and PageToken (from next_page_uri).
  200 {"calls": [...], "page", "page_size", "uri", "first_page_uri",
       "next_page_uri" (null on the last page), "previous_page_uri", "start",
       "end"}; records newest first, as Twilio lists them, each with sid,
       parent_call_sid, account_sid, to, from, status, direction
       (inbound / outbound-api / outbound-dial), start_time and end_time
       (RFC 2822), duration (seconds, a string), ...
  errors {"code", "message", "more_info", "status"}: 20003 Authenticate
  (401), 20404 another account (404), 20429 Too Many Requests (429, with
  Retry-After, past `limit_per_second`).

Fed by the scenario generator (call_scenarios.py): `log(leg)` adds a
record. Test controls (not part of Twilio): `throttle(n)` answers the next
n requests 429; `rate.requests` counts what was asked.
"""
import base64
import copy
import hmac
import json
import os
import re
import sys
import threading
import time
import urllib.parse
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "zendesk"))
from emulator_common import ServedEmulator, serve_until_signal  # noqa: E402
from log_common import RateLimit, send_json  # noqa: E402

PATH = re.compile(r"^/2010-04-01/Accounts/([^/]+)/Calls\.json$")


def error(status, code, message):
    return status, {"code": code, "message": message,
                    "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status}


class TwilioLogEmulator(ServedEmulator):
    THREAD_NAME = "twilio-log-emulator"

    def __init__(self, host="127.0.0.1", port=0, account_sid="AC" + "0" * 31 + "2",
                 auth_token="tw-log-token", limit_per_second=50):
        self.host, self.port = host, port
        self.account_sid, self.auth_token = account_sid, auth_token
        self.rate = RateLimit(limit_per_second)
        self.lock = threading.Lock()
        self.records = []

    def _handler(self):
        return _Handler

    # -- feeding and controls ------------------------------------------------------
    def log(self, leg):
        """Adds a Calls record (a dict as call_scenarios.Leg.record gives)."""
        rec = dict(leg, account_sid=self.account_sid, api_version="2010-04-01",
                   uri=f"/2010-04-01/Accounts/{self.account_sid}/Calls/{leg['sid']}.json")
        with self.lock:
            self.records.append(rec)

    def throttle(self, n):
        self.rate.throttle(n)

    @property
    def answered_429(self):
        return self.rate.refused

    # -- the resource --------------------------------------------------------------
    def authenticated(self, header):
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, pw = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return user == self.account_sid and hmac.compare_digest(pw, self.auth_token)

    @staticmethod
    def _day(rec):
        return parsedate_to_datetime(rec["start_time"]).astimezone(timezone.utc).strftime(
            "%Y-%m-%d")

    def _matches(self, rec, q):
        day = self._day(rec)
        checks = {"StartTime": lambda v: day == v, "StartTime>": lambda v: day >= v,
                  "StartTime<": lambda v: day <= v,
                  "ParentCallSid": lambda v: rec.get("parent_call_sid") == v,
                  "Status": lambda v: rec.get("status") == v}
        # "StartTime>=x" arrives as the parameter "StartTime>" with value "x"
        return all(checks[k](v[0]) for k, v in q.items() if k in checks)

    def list(self, account, query):
        if account != self.account_sid:
            return error(404, 20404, f"The requested resource /2010-04-01/Accounts/{account}"
                                     "/Calls.json was not found")
        q = urllib.parse.parse_qs(query, keep_blank_values=True)
        try:
            size = min(1000, max(1, int((q.get("PageSize") or ["50"])[0])))
            page = int((q.get("Page") or ["0"])[0])
        except ValueError:
            return error(400, 20001, "Invalid PageSize or Page")
        with self.lock:
            rows = [copy.deepcopy(r) for r in self.records if self._matches(r, q)]
        rows.sort(key=lambda r: parsedate_to_datetime(r["start_time"]), reverse=True)
        chunk = rows[page * size:(page + 1) * size]
        base = f"/2010-04-01/Accounts/{account}/Calls.json"
        keep = [(k, v[0]) for k, v in q.items() if k not in ("Page", "PageToken", "PageSize")]

        def uri(p):
            return base + "?" + urllib.parse.urlencode(
                keep + [("PageSize", size), ("Page", p), ("PageToken", f"PA{p}")])
        more = (page + 1) * size < len(rows)
        return 200, {"calls": chunk, "page": page, "page_size": size, "start": page * size,
                     "end": page * size + max(0, len(chunk) - 1), "uri": uri(page),
                     "first_page_uri": uri(0), "next_page_uri": uri(page + 1) if more else None,
                     "previous_page_uri": uri(page - 1) if page else None}


class _Handler(BaseHTTPRequestHandler):
    server_version = "TwilioLogEmulator/1.0"

    def log_message(self, fmt, *args):  # quiet
        pass

    def _send(self, status, doc, headers=None):
        send_json(self, status, doc, headers, "application/json; charset=utf-8")

    def do_GET(self):  # noqa: N802
        emu = self.server.emulator
        path, _, query = self.path.partition("?")
        m = PATH.match(path)
        if not m:
            return self._send(*error(404, 20404, "The requested resource was not found"))
        if not emu.authenticated(self.headers.get("Authorization")):
            return self._send(*error(401, 20003, "Authenticate"),
                              {"WWW-Authenticate": 'Basic realm="Twilio API"'})
        if emu.rate.refuse():
            return self._send(*error(429, 20429, "Too Many Requests"), {"Retry-After": "1"})
        self._send(*emu.list(m.group(1), query))


def rfc2822(ts):
    """A POSIX time as Twilio writes times: "Tue, 10 Mar 2026 09:14:08 +0000"."""
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%a, %d %b %Y %H:%M:%S +0000")


if __name__ == "__main__":
    emu = TwilioLogEmulator(port=int(os.environ.get("PORT", "0"))).start()
    sys.exit(serve_until_signal(emu, os.environ.get("PORT_FILE"), "twilio-log-emulator"))
