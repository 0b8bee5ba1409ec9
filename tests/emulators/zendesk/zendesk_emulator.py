#!/usr/bin/env python3
"""Zendesk Support API emulator for callbus tests and keyless local runs.

What it emulates (from Zendesk's published OpenAPI document and developer
docs; see tests/emulators/zendesk/README.md for sources):
  * API-token Basic auth (``{email}/token:{token}``) on every /api/v2 request.
  * Users: create, show, ``me``, the tickets a user requested.
  * Search (``/api/v2/search``) for users and tickets with the keywords the
    product uses (type, role, phone with ``*`` wildcards, email, external_id,
    requester_id, assignee_id, status with ``: < > <= >=``, tags ...), with a
    configurable search-index lag.
  * Tickets: create, show, show_many, list by external_id, update (comments,
    status, assignee, tags, custom fields, safe_update), comments, audits with
    Create/Change/Comment events and ``via``; closed tickets refuse writes.
  * Ticket fields (a few system fields plus configurable custom fields).
  * Background jobs: ``update_many`` (bulk and batch forms), ``merge``,
    ``tickets/create_many`` and ``users/create_many``,
    polled through ``job_statuses``; at most 30 queued/running jobs.
  * Talk Partner Edition: display ticket / user in an agent's browser, create
    a voice ticket with a voice comment (via_id 44/45/46).
  * Webhooks subscribed to ticket events (issue 25 item 1): with
    ``{"webhook": {"url", "secret"}}`` set through ``/__emulator/config``,
    every ticket created, status change, assignee change and merge is
    posted to ``url`` as Zendesk's ``zen:event-type:ticket.*`` event,
    signed (``X-Zendesk-Webhook-Signature``), from a thread of its own.
  * Rate limits: account requests/minute (sliding window), the Update Ticket
    endpoint's own limit, and 30 updates per ticket per 10 minutes, with
    ``Retry-After`` and the ``X-Rate-Limit``/``ratelimit-*`` headers.

What it does not emulate: organizations, groups, brands, ticket forms,
triggers/automations/SLAs, attachments/uploads, cursor pagination (offset
pagination only) but for the incremental user export
(``/api/v2/incremental/users/cursor``, 10 requests per minute, issue 26
item 3), other incremental exports, webhooks other than the ticket
events below, OAuth, the full search
grammar (date ranges, free-text relevance), the search endpoint's own rate
limit, identities other than phone numbers (Create Identity adds a
``phone_number`` one: the user's ``phone`` when it had none, and found by
``phone:`` searches either way), custom statuses, and field
value validation by field type. Error bodies whose exact text Zendesk does
not document are approximations (listed in the README).

A control API without auth lives under ``/__emulator/`` (reset, requests log,
state, config incl. error injection, seeding). Standard library only.
"""
from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import hmac
import html
import json
import math
import queue
import re
import secrets
import sys
import threading
import time
import traceback
import uuid
from collections import deque
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlencode, urlsplit

from emulator_common import (ServedEmulator, WebhookSender, run_with_injection,  # noqa: E402
                             serve_until_signal, take_injection)

STATUSES = ("new", "open", "pending", "hold", "solved", "closed")
TICKET_TYPES = (None, "problem", "incident", "question", "task")
PRIORITIES = (None, "urgent", "high", "normal", "low")
ROLES = ("end-user", "agent", "admin")
AGENT_ROLES = ("agent", "admin")
VOICE_VIA = {44: "voicemail", 45: "inbound", 46: "outbound"}
API_VIA = {"channel": "api", "source": {"from": {}, "to": {}, "rel": None}}
ADMIN_ID = 900000
MAX_BODY = 10 * 1024 * 1024
LOG_CAPACITY = 20000

DEFAULT_CONFIG = {
    "rate_limit_per_min": 700,          # account requests per window; 0 = off
    "rate_window_s": 60.0,              # account / endpoint window length
    "update_ticket_limit_per_min": 100,  # Update Ticket endpoint; 0 = off
    "ticket_update_limit": 30,          # updates per ticket per window; 0 = off
    "ticket_window_s": 600.0,
    "time_scale": 1.0,                  # the rate windows run this many times faster
    "search_lag_s": 0.0,                # delay before new records are searchable
    "job_delay_ms": 50,                 # time a job stays queued
    "latency_ms": 0,                    # added to every /api/v2 request
    "max_jobs": 30,                     # queued + working jobs per account
    "bulk_max": 100,                    # update_many items
    "incremental_limit_per_min": 10,    # incremental export requests per window; 0 = off
}

DEFAULT_CUSTOM_FIELDS = [
    (1001, "Session type", "text"), (1002, "From number", "text"),
    (1003, "Call duration", "integer"), (1004, "Wait time", "integer"),
    (1005, "Queue name", "text"), (1006, "Call id", "text"),
    (1007, "Hold time", "integer"), (1008, "Ticket type", "text"),
    (1009, "CSAT", "integer"),
]
SYSTEM_FIELDS = [
    (101, "Subject", "subject"), (102, "Description", "description"),
    (103, "Status", "status"), (104, "Type", "tickettype"),
    (105, "Priority", "priority"), (106, "Group", "group"),
    (107, "Assignee", "assignee"),
]
DEFAULT_AGENTS = [
    (900001, "Agent One", "agent1@example.com"),
    (900002, "Agent Two", "agent2@example.com"),
    (900003, "Agent Three", "agent3@example.com"),
]


# ---------------------------------------------------------------- helpers

class ApiError(Exception):
    """An error reply: HTTP status, JSON body, extra headers."""

    def __init__(self, status, body, headers=None):
        super().__init__(f"{status} {body}")
        self.status, self.body, self.headers = status, body, headers or {}


def api_error(status, error, description=None, details=None, headers=None):
    body = {"error": error}
    if description is not None:
        body["description"] = description
    if details is not None:
        body["details"] = details
    return ApiError(status, body, headers)


def not_found():
    return api_error(404, "RecordNotFound", "Not found")


def record_invalid(field, description, error=None):
    item = {"description": description}
    if error:
        item["error"] = error
    return api_error(422, "RecordInvalid", "Record validation errors",
                     {field: [item]})


def closed_ticket_error():
    # Wording as real Zendesk answers (seen in many client test fixtures).
    return record_invalid("status", "Status: closed prevents ticket update")


def iso(ts):
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def digits(value):
    return re.sub(r"\D", "", str(value or ""))


def public_view(record):
    """A deep copy of a record without its private (underscore) keys."""
    return {k: copy.deepcopy(v) for k, v in record.items() if not k.startswith("_")}


def window_take(stamps, now, limit, window_s, take=True):
    """Sliding-window limiter over a deque of monotonic stamps.

    Returns (allowed, remaining, retry_after_s, reset_s)."""
    while stamps and stamps[0] <= now - window_s:
        stamps.popleft()
    reset = math.ceil(stamps[0] + window_s - now) if stamps else math.ceil(window_s)
    if len(stamps) >= limit:
        return False, 0, max(1, reset), max(1, reset)
    if take:
        stamps.append(now)
    return True, limit - len(stamps), 0, max(1, reset)


def as_int(value, what):
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise api_error(400, "InvalidValue", f"{what} must be an integer")
    try:
        return int(value)
    except ValueError:
        raise api_error(400, "InvalidValue", f"{what} must be an integer") from None


def id_list(text, what="ids"):
    parts = [p for p in str(text or "").split(",") if p.strip()]
    return [as_int(p.strip(), what) for p in parts]


def html_of(body):
    lines = html.escape(body).split("\n")
    return '<div class="zd-comment" dir="auto"><p>' + "<br>".join(lines) + "</p></div>"


def text_of(html_body):
    return html.unescape(re.sub(r"<[^>]+>", "", html_body.replace("<br>", "\n")))


class Request:
    """One HTTP request as the emulator sees it."""

    def __init__(self, method, target, headers, body=b"", client="127.0.0.1"):
        parts = urlsplit(target)
        self.method, self.path, self.raw_query = method, parts.path, parts.query
        self.query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        self.headers = {k.lower(): v for k, v in dict(headers or {}).items()}
        self.body, self.client = body or b"", client
        self.json = None

    def parse_json(self):
        if not self.body.strip():
            return None
        ctype = self.headers.get("content-type", "application/json")
        if "json" not in ctype:
            raise api_error(400, "InvalidContentType",
                            f"Expected application/json, got {ctype}")
        try:
            self.json = json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise api_error(400, "InvalidJSON", "Server could not parse JSON") from None
        return self.json


class Reply:
    def __init__(self, status, body=None, headers=None):
        self.status, self.body, self.headers = status, body, dict(headers or {})


# ------------------------------------------------------------------ store

class Store:
    """All emulated Zendesk state and the domain rules; guarded by ``lock``."""

    def __init__(self, email, token, rate_limit_per_min):
        self.lock = threading.RLock()
        self.email, self.token = email, token
        self.cli_rate_limit = rate_limit_per_min
        self.base_url = "http://127.0.0.1"
        self.on_ticket_event = None  # set by the emulator: a webhook payload to post
        self.reset()

    # -- lifecycle -------------------------------------------------------

    def reset(self):
        with self.lock:
            self.config = dict(DEFAULT_CONFIG, rate_limit_per_min=self.cli_rate_limit)
            self.inject_rules = []
            self.revoked_until = 0.0
            self.users, self.tickets, self.jobs = {}, {}, {}
            self.comments, self.audits = {}, {}
            self.displays = []
            self.log, self.log_seq = deque(maxlen=LOG_CAPACITY), 0
            self.account_hits, self.update_hits = deque(), deque()
            self.ticket_limit_refusals = 0  # updates refused by the per-ticket limit
            self.ticket_updates_peak = 0  # most updates of one ticket within its window
            self.ignored_custom_fields = []
            self.next_user, self.next_ticket = 1001, 1
            self.next_comment, self.next_audit, self.next_event = 5000001, 7000001, 9000001
            self.next_identity = 11000001
            self.user_changes = 0  # the incremental export's order (issue 26 item 3)
            self.export_hits = deque()
            self.generation = getattr(self, "generation", 0) + 1
            self.custom_fields = [self._field(i, t, k) for i, t, k in DEFAULT_CUSTOM_FIELDS]
            self._preset_users()

    def _preset_users(self):
        self.create_user({"id": ADMIN_ID, "name": "Emulator Admin", "email": self.email,
                          "role": "admin"}, seed=True)
        for uid, name, email in DEFAULT_AGENTS:
            self.create_user({"id": uid, "name": name, "email": email, "role": "agent"},
                             seed=True)

    def url(self, path):
        return f"{self.base_url}/api/v2/{path}.json"

    # -- ids and time ----------------------------------------------------

    def _take(self, counter):
        value = getattr(self, counter)
        setattr(self, counter, value + 1)
        return value

    def _index_time(self, seed):
        return 0.0 if seed else time.monotonic() + float(self.config["search_lag_s"])

    # -- users -------------------------------------------------------------

    def create_user(self, data, seed=False):
        """Validate and store a user (Create User); returns the record."""
        if not isinstance(data, dict):
            raise api_error(400, "InvalidValue", "user must be an object")
        with self.lock:
            self._validate_user(data)
            uid = self._new_user_id(data.get("id") if seed else None)
            now = time.time()
            created = data.get("created_at", iso(now)) if seed else iso(now)
            user = self._user_record(uid, data, created)
            user["_indexed_at"] = self._index_time(seed and data.get("indexed", True))
            self.users[uid] = user
            self.user_changed(user)
            return user

    def _validate_user(self, data):
        name = data.get("name")
        if not isinstance(name, str) or not name.strip():
            raise record_invalid("name", "Name:  is too short (minimum is 1 character)",
                                 "BlankValue")
        role = data.get("role", "end-user")
        if role not in ROLES:
            raise record_invalid("role", f"Role: {role} is not a valid role", "InvalidValue")
        for key, label in (("email", "Email"), ("external_id", "External ID")):
            value = data.get(key)
            if value and any(u.get(key) == value for u in self.users.values()):
                raise record_invalid(key, f"{label}: {value} is already being used "
                                          "by another user", "DuplicateValue")

    def _new_user_id(self, wanted):
        if wanted is None:
            while self.next_user in self.users:
                self.next_user += 1
            return self._take("next_user")
        uid = as_int(wanted, "id")
        if uid in self.users:
            raise api_error(409, "DuplicateId", f"user {uid} already exists")
        return uid

    def _user_record(self, uid, data, created):
        role = data.get("role", "end-user")
        return {
            "id": uid, "url": self.url(f"users/{uid}"), "name": data["name"].strip(),
            "email": data.get("email"), "created_at": created, "updated_at": created,
            "time_zone": "UTC", "iana_time_zone": "Etc/UTC",
            "phone": data.get("phone"),
            "shared_phone_number": data.get("shared_phone_number",
                                            None if data.get("phone") is None else False),
            "photo": None, "locale_id": 1, "locale": "en-US",
            "organization_id": data.get("organization_id"), "role": role,
            "role_type": None, "custom_role_id": None,
            "verified": bool(data.get("verified", False)),
            "external_id": data.get("external_id"), "tags": list(data.get("tags") or []),
            "alias": data.get("alias", ""), "active": True, "shared": False,
            "shared_agent": False, "two_factor_auth_enabled": None,
            "details": data.get("details", ""), "notes": data.get("notes", ""),
            "moderator": role in AGENT_ROLES,
            "ticket_restriction": None if role in AGENT_ROLES else "requested",
            "only_private_comments": False, "restricted_agent": role == "agent",
            "suspended": False, "report_csv": role == "admin",
            "user_fields": dict(data.get("user_fields") or {}),
        }

    def user_changed(self, user):
        """Marks a user changed now: the incremental export (cursor based)
        returns users in the order of their last change, so a change made
        after a cursor is in the next page read from it."""
        self.user_changes += 1
        user["_change"] = self.user_changes
        user["_changed_at"] = time.time()

    def user(self, uid):
        user = self.users.get(uid)
        if user is None:
            raise not_found()
        return user

    def is_agent(self, uid):
        user = self.users.get(uid)
        return user is not None and user["role"] in AGENT_ROLES

    def set_agents(self, agents):
        for entry in agents:
            data = dict(entry, role=entry.get("role", "agent"))
            if data.get("id") is not None and as_int(data["id"], "id") in self.users:
                self.users.pop(as_int(data["id"], "id"))
            self.create_user(data, seed=True)

    def find_or_create_requester(self, spec):
        """``ticket.requester``: an id, an email, or {name, email, ...}."""
        if isinstance(spec, int) and not isinstance(spec, bool):
            return self.user_or_invalid(spec, "requester")
        if isinstance(spec, str):
            spec = {"email": spec, "name": spec.split("@")[0]}
        if not isinstance(spec, dict):
            raise record_invalid("requester", "Requester: is invalid", "InvalidValue")
        email = spec.get("email")
        for user in self.users.values():
            if email and user.get("email") == email:
                return user["id"]
        return self.create_user({"name": spec.get("name") or email or "Unknown",
                                 "email": email, "phone": spec.get("phone")})["id"]

    def user_or_invalid(self, uid, field):
        if isinstance(uid, bool) or not isinstance(uid, int) or uid not in self.users:
            raise record_invalid(field, f"{field.capitalize()}: is invalid", "InvalidValue")
        return uid

    # -- ticket fields ---------------------------------------------------

    def _field(self, fid, title, ftype, active=True, removable=True):
        stamp = "2024-01-01T00:00:00Z"
        return {"url": self.url(f"ticket_fields/{fid}"), "id": fid, "type": ftype,
                "title": title, "raw_title": title, "description": "",
                "raw_description": "", "position": 0, "active": active,
                "required": False, "collapsed_for_agents": False,
                "regexp_for_validation": None, "title_in_portal": title,
                "raw_title_in_portal": title, "visible_in_portal": False,
                "editable_in_portal": False, "required_in_portal": False,
                "tag": None, "created_at": stamp, "updated_at": stamp,
                "removable": removable, "agent_description": ""}

    def set_custom_fields(self, fields):
        made = []
        for entry in fields:
            if not isinstance(entry, dict) or "id" not in entry or "title" not in entry:
                raise api_error(400, "InvalidValue", "ticket_fields entries need id and title")
            made.append(self._field(as_int(entry["id"], "id"), str(entry["title"]),
                                    entry.get("type", "text"), entry.get("active", True)))
        self.custom_fields = made

    def all_ticket_fields(self):
        system = [self._field(i, t, k, removable=False) for i, t, k in SYSTEM_FIELDS]
        fields = system + self.custom_fields
        for pos, field in enumerate(fields, 1):
            field["position"] = pos
        return fields

    def active_field_ids(self):
        return [f["id"] for f in self.custom_fields if f["active"]]

    # -- tickets: creation ---------------------------------------------

    def create_ticket(self, data, author_id=ADMIN_ID, via=None, meta=None, seed=False):
        """Create Ticket: validate, store, write the creating audit."""
        if not isinstance(data, dict):
            raise api_error(400, "InvalidValue", "ticket must be an object")
        data = dict(data)  # never mutate the caller's (logged) payload
        with self.lock:
            voice = self._voice_input(data)
            comment = self._first_comment(data)
            changes = self._ticket_changes(data, None)
            requester = changes.pop("requester_id", None)
            if requester is None:
                requester = (self.find_or_create_requester(data["requester"])
                             if "requester" in data else author_id)
            ticket = self._new_ticket(data, requester, author_id, via, seed)
            changes.setdefault("status", "open" if changes.get("assignee_id") else "new")
            comment.setdefault("author_id", ticket["submitter_id"])
            audit = self._apply(ticket, changes, comment, author_id, ticket["via"],
                                meta, create=True)
            if voice is not None:
                self._make_voice_comment(ticket, voice, audit)
            ticket["description"] = self.comments[ticket["id"]][0]["body"]
            ticket["is_public"] = self.comments[ticket["id"]][0]["public"]
            return ticket, audit

    def _voice_input(self, data):
        """``voice_comment`` (Tickets API and Talk): summarised into the first comment."""
        voice = data.get("voice_comment")
        if voice is None:
            return None
        if not isinstance(voice, dict):
            raise record_invalid("voice_comment", "Voice comment: must be an object",
                                 "InvalidValue")
        if data.get("comment") is None:
            data["comment"] = {"body": self._voice_body(data.get("via_id"), voice),
                               "public": bool(voice.get("public", False))}
        return voice

    def _first_comment(self, data):
        comment = data.get("comment")
        if comment is None and isinstance(data.get("description"), str):
            comment = {"body": data["description"]}
        comment = self._comment_input(comment, default_public=True)
        if comment is None:
            raise record_invalid("description", "Description: cannot be blank", "BlankValue")
        return comment

    def _new_ticket(self, data, requester, author_id, via, seed):
        submitter = data.get("submitter_id")
        if submitter is None:
            submitter = author_id
        else:
            submitter = self.user_or_invalid(submitter, "submitter")
        tid = self._new_ticket_id(data.get("id") if seed else None)
        created = data.get("created_at", iso(time.time())) if seed else iso(time.time())
        ticket = {
            "url": self.url(f"tickets/{tid}"), "id": tid, "external_id": None,
            "via": copy.deepcopy(via or API_VIA), "created_at": created,
            "updated_at": created, "generated_timestamp": int(time.time()),
            "type": None, "subject": None, "raw_subject": None, "description": "",
            "priority": None, "status": "new", "requester_id": requester,
            "submitter_id": submitter, "assignee_id": None, "organization_id": None,
            "group_id": None, "collaborator_ids": [], "follower_ids": [],
            "email_cc_ids": [], "problem_id": None, "has_incidents": False,
            "is_public": True, "due_at": None, "tags": [], "sharing_agreement_ids": [],
            "followup_ids": [], "ticket_form_id": None, "brand_id": None,
            "allow_channelback": False, "allow_attachments": True,
            "from_messaging_channel": False,
            "_fields": {}, "_update_hits": deque(),
            "_indexed_at": self._index_time(seed and data.get("indexed", True)),
        }
        self.tickets[tid], self.comments[tid], self.audits[tid] = ticket, [], []
        return ticket

    def _new_ticket_id(self, wanted):
        if wanted is None:
            while self.next_ticket in self.tickets:
                self.next_ticket += 1
            return self._take("next_ticket")
        tid = as_int(wanted, "id")
        if tid in self.tickets:
            raise api_error(409, "DuplicateId", f"ticket {tid} already exists")
        return tid

    # -- tickets: validation of writable attributes -----------------------

    def _ticket_changes(self, data, ticket):
        """Validated {field: new value} from a ticket payload (create/update)."""
        changes = {}
        self._simple_changes(data, changes)
        self._people_changes(data, changes)
        tags = self._tag_change(data, ticket)
        if tags is not None:
            changes["tags"] = tags
        fields = self._custom_field_changes(data)
        if fields:
            changes["custom_fields"] = fields
        return changes

    def _simple_changes(self, data, changes):
        checks = (("status", STATUSES), ("type", TICKET_TYPES), ("priority", PRIORITIES))
        for key, allowed in checks:
            if key in data:
                if data[key] not in allowed:
                    raise record_invalid(key, f"{key.capitalize()}: {data[key]} is not valid",
                                         "InvalidValue")
                changes[key] = data[key]
        for key in ("subject", "external_id", "due_at"):
            if key in data:
                if data[key] is not None and not isinstance(data[key], str):
                    raise record_invalid(key, f"{key}: must be a string", "InvalidValue")
                changes[key] = data[key]
        for key in ("group_id", "organization_id", "problem_id", "ticket_form_id", "brand_id"):
            if key in data:
                changes[key] = data[key]

    def _people_changes(self, data, changes):
        if data.get("requester_id") is not None:
            changes["requester_id"] = self.user_or_invalid(data["requester_id"], "requester")
        if "assignee_id" in data:
            aid = data["assignee_id"]
            if aid is not None and not self.is_agent(aid):
                raise record_invalid("assignee", "Assignee: is not an agent", "InvalidValue")
            changes["assignee_id"] = aid

    def _tag_change(self, data, ticket):
        current = list(ticket["tags"]) if ticket else []
        if "tags" in data:
            current = self._tag_list(data["tags"])
        for tag in self._tag_list(data.get("additional_tags", [])):
            if tag not in current:
                current.append(tag)
        removed = set(self._tag_list(data.get("remove_tags", [])))
        current = [t for t in current if t not in removed]
        touched = any(k in data for k in ("tags", "additional_tags", "remove_tags"))
        return current if touched else None

    @staticmethod
    def _tag_list(value):
        if isinstance(value, str):
            value = value.split()
        if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
            raise record_invalid("tags", "Tags: must be a list of strings", "InvalidValue")
        out = []
        for tag in value:
            tag = tag.strip().replace(" ", "_")
            if tag and tag not in out:
                out.append(tag)
        return out

    def _custom_field_changes(self, data):
        """Known field ids only; unknown ids are ignored, as Zendesk does."""
        entries = data.get("custom_fields", data.get("fields"))
        if entries is None:
            return {}
        if not isinstance(entries, list):
            raise record_invalid("custom_fields", "Custom fields: must be a list",
                                 "InvalidValue")
        known, out = set(self.active_field_ids()), {}
        for entry in entries:
            if not isinstance(entry, dict) or "id" not in entry:
                raise record_invalid("custom_fields", "Custom fields: each needs an id",
                                     "InvalidValue")
            fid = as_int(entry["id"], "custom field id")
            if fid in known:
                out[fid] = entry.get("value")
            else:
                self.ignored_custom_fields.append(fid)
        return out

    def _comment_input(self, comment, default_public):
        if comment is None:
            return None
        if not isinstance(comment, dict):
            raise record_invalid("comment", "Comment: must be an object", "InvalidValue")
        body, html_body = comment.get("body"), comment.get("html_body")
        if not (isinstance(body, str) and body.strip()) and not (
                isinstance(html_body, str) and html_body.strip()):
            raise record_invalid("comment", "Comment: cannot be blank", "BlankValue")
        out = {"body": body if isinstance(body, str) and body.strip() else text_of(html_body)}
        out["html_body"] = html_body if isinstance(html_body, str) else html_of(out["body"])
        public = comment.get("public", default_public)
        out["public"] = public if isinstance(public, bool) else str(public).lower() == "true"
        if comment.get("author_id") is not None:
            out["author_id"] = self.user_or_invalid(comment["author_id"], "author")
        return out

    # -- tickets: applying changes ----------------------------------------

    def _apply(self, ticket, changes, comment, author_id, via, meta, create=False):
        """Apply validated changes and an optional comment; record the audit
        (and post the ticket events a subscribed webhook receives)."""
        before = {f: ticket.get(f) for f in ("status", "assignee_id")}
        audit = {"id": self._take("next_audit"), "ticket_id": ticket["id"],
                 "created_at": iso(time.time()), "author_id": author_id,
                 "metadata": meta or {"system": {}, "custom": {}},
                 "via": copy.deepcopy(via or API_VIA), "events": []}
        if comment is not None:
            audit["events"].append(self._add_comment(ticket, comment, audit))
        for field, value in changes.items():
            audit["events"].extend(self._set_field(ticket, field, value, create))
        ticket["updated_at"] = audit["created_at"]
        ticket["generated_timestamp"] = int(time.time())
        self.audits[ticket["id"]].append(audit)
        self._ticket_events(ticket, before, create)
        return audit

    # -- webhooks: ticket events (issue 25 item 1) ---------------------------

    def _ticket_events(self, ticket, before, create):
        """The zen:event-type:ticket.* events Zendesk sends a webhook
        subscribed to them for this change."""
        if self.on_ticket_event is None:
            return
        if create:
            self.on_ticket_event(self.ticket_event(ticket, "created", {
                "current": {"status": ticket["status"].upper()}}))
            return
        if ticket["status"] != before["status"]:
            self.on_ticket_event(self.ticket_event(ticket, "status_changed", {
                "current": ticket["status"].upper(),
                "previous": (before["status"] or "").upper() or None}))
        if ticket.get("assignee_id") != before["assignee_id"]:
            self.on_ticket_event(self.ticket_event(ticket, "agent_assignment_changed", {
                "current": str(ticket["assignee_id"]) if ticket.get("assignee_id") else None,
                "previous": str(before["assignee_id"]) if before["assignee_id"] else None}))

    def ticket_event(self, ticket, kind, event):
        """One event's payload, in the shape of Zendesk's ticket events
        (developer.zendesk.com: webhooks/event-types/ticket-events): ids as
        strings, statuses upper case, ``detail`` the ticket after it."""
        return {"type": f"zen:event-type:ticket.{kind}", "account_id": 9242270,
                "id": str(uuid.uuid4()), "time": iso(time.time()),
                "zendesk_event_version": "2022-11-06", "subject": f"zen:ticket:{ticket['id']}",
                "detail": {"id": str(ticket["id"]),
                           "requester_id": str(ticket.get("requester_id") or 0),
                           "assignee_id": str(ticket.get("assignee_id") or 0),
                           "status": ticket["status"].upper(),
                           "subject": ticket.get("subject"),
                           "created_at": ticket["created_at"],
                           "updated_at": ticket["updated_at"]},
                "event": event}

    def _set_field(self, ticket, field, value, create):
        if field == "custom_fields":
            return [ev for fid, val in value.items()
                    for ev in self._set_custom(ticket, fid, val, create)]
        previous = ticket.get(field)
        if previous == value and not create:
            return []
        ticket[field] = value
        if field == "subject":
            ticket["raw_subject"] = value
        if value is None and create:
            return []
        return [self._event(field, value, previous, create)]

    def _set_custom(self, ticket, fid, value, create):
        previous = ticket["_fields"].get(fid)
        if previous == value and not create:
            return []
        ticket["_fields"][fid] = value
        return [] if value is None and create else [self._event(str(fid), value, previous, create)]

    def _event(self, field, value, previous, create):
        event = {"id": self._take("next_event"), "type": "Create" if create else "Change",
                 "field_name": field, "value": self._event_value(value)}
        if not create:
            event["previous_value"] = self._event_value(previous)
        return event

    @staticmethod
    def _event_value(value):
        # Audit events carry strings (ids too), arrays for tags, null when cleared.
        if value is None or isinstance(value, list):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    def _add_comment(self, ticket, comment, audit):
        tid = ticket["id"]
        record = {"id": self._take("next_comment"), "type": "Comment",
                  "author_id": comment.get("author_id", audit["author_id"]),
                  "body": comment["body"], "html_body": comment["html_body"],
                  "plain_body": comment["body"], "public": comment["public"],
                  "attachments": [], "audit_id": audit["id"],
                  "via": copy.deepcopy(audit["via"]), "created_at": audit["created_at"],
                  "metadata": copy.deepcopy(audit["metadata"])}
        self.comments[tid].append(record)
        if record["public"]:
            ticket["is_public"] = True
        event = {k: copy.deepcopy(record[k]) for k in
                 ("id", "type", "author_id", "body", "html_body", "plain_body",
                  "public", "attachments", "audit_id")}
        return event

    # -- tickets: update --------------------------------------------------

    def ticket(self, tid):
        ticket = self.tickets.get(tid)
        if ticket is None:
            raise not_found()
        return ticket

    def update_ticket(self, tid, data, author_id=ADMIN_ID, via=None, meta=None):
        """Update Ticket: closed check, limits, safe_update, then apply."""
        if not isinstance(data, dict):
            raise api_error(400, "InvalidValue", "ticket must be an object")
        with self.lock:
            ticket = self.ticket(tid)
            if ticket["status"] == "closed":
                raise closed_ticket_error()
            self._check_safe_update(ticket, data)
            changes = self._ticket_changes(data, ticket)
            comment = self._comment_input(data.get("comment"), self._default_public(tid))
            self.take_ticket_slot(ticket)
            assigned = changes.get("assignee_id") and "status" not in changes
            if ticket["status"] == "new" and assigned:
                changes["status"] = "open"
            return ticket, self._apply(ticket, changes, comment, author_id, via, meta)

    def _default_public(self, tid):
        # comment.public defaults to the value the ticket's first comment had.
        first = self.comments[tid][0] if self.comments[tid] else None
        return first["public"] if first else True

    @staticmethod
    def _check_safe_update(ticket, data):
        if data.get("safe_update") and data.get("updated_stamp"):
            if data["updated_stamp"] != ticket["updated_at"]:
                raise api_error(409, "UpdateConflict",
                                "Safe Update prevented the update due to outdated ticket "
                                "data. Please fetch the latest ticket data and try again.")

    def time_scale(self):
        """A benchmark's simulated clock (``time_scale`` > 1): every rate
        window is that many times shorter, so 700 requests per "minute" are
        700 per 60/scale seconds of real time."""
        return max(1e-6, float(self.config["time_scale"] or 1.0))

    def take_ticket_slot(self, ticket):
        """30 updates per ticket per 10 minutes (configurable)."""
        limit = int(self.config["ticket_update_limit"])
        if limit <= 0:
            return
        ok, _, retry, _ = window_take(ticket["_update_hits"], time.monotonic(), limit,
                                      float(self.config["ticket_window_s"]) / self.time_scale())
        self.ticket_updates_peak = max(self.ticket_updates_peak, len(ticket["_update_hits"]))
        if not ok:
            self.ticket_limit_refusals += 1
            raise api_error(429, "APIRateLimitExceeded",
                            "Rate limit for ticket updates exceeded, please wait before "
                            "updating this ticket again", headers={"Retry-After": str(retry)})

    # -- merge ------------------------------------------------------------

    def merge(self, target_id, source_ids, opts):
        """Merge sources into target (run by the merge job)."""
        with self.lock:
            target = self.ticket(target_id)
            sources = [self.ticket(sid) for sid in source_ids]
            self._check_merge(target, sources)
            for source in sources:
                self._merge_source(source, target, opts)
                if self.on_ticket_event is not None:
                    self.on_ticket_event(self.ticket_event(source, "merged", {
                        "target_ticket_id": str(target["id"])}))
            self._merge_target(target, sources, opts)

    @staticmethod
    def _check_merge(target, sources):
        if target["status"] == "closed":
            raise closed_ticket_error()
        for source in sources:
            if source["id"] == target["id"]:
                raise api_error(422, "InvalidValue", "A ticket cannot be merged into itself")
            if source["status"] == "closed":
                raise closed_ticket_error()

    def _merge_source(self, source, target, opts):
        text = opts.get("source_comment") or (
            f'This request was closed and merged into request #{target["id"]} '
            f'"{target["subject"] or ""}".')
        via = {"channel": "merge", "source": {
            "from": {}, "to": {"ticket_id": target["id"], "subject": target["subject"]},
            "rel": "merge"}}
        comment = {"body": text, "html_body": html_of(text),
                   "public": bool(opts.get("source_comment_is_public", False))}
        tags = [t for t in source["tags"] if t != "closed_by_merge"] + ["closed_by_merge"]
        self._apply(source, {"status": "closed", "tags": tags}, comment, ADMIN_ID, via, None)

    def _merge_target(self, target, sources, opts):
        names = ", ".join(f'#{s["id"]} "{s["subject"] or ""}"' for s in sources)
        text = opts.get("target_comment") or (
            f"Request {names} was closed and merged into this request.")
        first = sources[0]
        via = {"channel": "merge", "source": {
            "from": {"ticket_id": first["id"], "subject": first["subject"],
                     "ticket_ids": [s["id"] for s in sources]},
            "to": {}, "rel": "merge"}}
        comment = {"body": text, "html_body": html_of(text),
                   "public": bool(opts.get("target_comment_is_public", False))}
        self._apply(target, {}, comment, ADMIN_ID, via, None)

    # -- voice --------------------------------------------------------------

    def create_voice_ticket(self, data, meta=None):
        """Talk Partner Edition: ticket with a voice comment, via 44/45/46."""
        if not isinstance(data, dict) or data.get("via_id") not in VOICE_VIA:
            raise record_invalid("via_id", "Via: must be 44, 45 or 46", "InvalidValue")
        via = self._voice_via(data["via_id"], data.get("voice_comment") or {})
        return self.create_ticket(dict(data), via=via, meta=meta)

    @staticmethod
    def _voice_body(via_id, voice):
        label = {44: "Voicemail", 46: "Outbound call"}.get(via_id, "Inbound call")
        parts = [f"{label} from: {voice.get('from', '')}", f"Call to: {voice.get('to', '')}"]
        for key, title in (("started_at", "Time of call"), ("call_duration", "Length of call"),
                           ("location", "Location"), ("recording_url", "Recording"),
                           ("transcription_text", "Transcription")):
            if voice.get(key) is not None:
                parts.append(f"{title}: {voice[key]}")
        return "\n".join(parts)

    @staticmethod
    def _voice_via(via_id, voice):
        if not isinstance(voice, dict):
            voice = {}
        return {"channel": "voice", "source": {
            "from": {"phone": voice.get("from"), "formatted_phone": voice.get("from")},
            "to": {"phone": voice.get("to"), "formatted_phone": voice.get("to")},
            "rel": VOICE_VIA[via_id]}}

    def _make_voice_comment(self, ticket, voice, audit):
        comment = self.comments[ticket["id"]][0]
        comment["type"] = "VoiceComment"
        comment["data"] = copy.deepcopy(voice)
        comment["formatted_from"] = voice.get("from")
        comment["formatted_to"] = voice.get("to")
        comment["transcription_visible"] = voice.get("transcription_text") is not None
        for event in audit["events"]:
            if event.get("id") == comment["id"]:
                event["type"] = "VoiceComment"
                event["data"] = copy.deepcopy(voice)

    # -- search -------------------------------------------------------------

    def search(self, query):
        """Minimal Zendesk search: AND of keyword terms, ``-`` negates."""
        terms = [self._term(tok) for tok in re.findall(r'[^\s"]*"[^"]*"|\S+', query or "")]
        kinds = {t[2] for t in terms if t[1] == "type"}
        now = time.monotonic()
        out = []
        for kind, records in (("user", self.users), ("ticket", self.tickets)):
            if kinds and kind not in kinds:
                continue
            for rec in sorted(records.values(), key=lambda r: r["id"]):
                if rec["_indexed_at"] <= now and all(self._matches(kind, rec, t) for t in terms):
                    out.append((kind, rec))
        return out

    @staticmethod
    def _term(token):
        neg = token.startswith("-")
        token = token[1:] if neg else token
        m = re.match(r"^([A-Za-z_]+)(:|<=|>=|<|>)(.*)$", token)
        if not m:
            return (neg, "text", token.strip('"').lower(), ":")
        return (neg, m.group(1).lower(), m.group(3).strip('"'), m.group(2))

    def _matches(self, kind, rec, term):
        neg, key, value, op = term
        if key == "type":
            result = value == kind
        else:
            matcher = USER_MATCHERS if kind == "user" else TICKET_MATCHERS
            func = matcher.get(key)
            result = bool(func and func(self, rec, value, op))
        return result != neg


def _wild(stored, pattern, transform=str.lower):
    """Zendesk-style ``*`` wildcard: leading = suffix, trailing = prefix."""
    if stored is None:
        return False
    stored, core = transform(str(stored)), transform(pattern.strip("*"))
    if not core:
        return pattern.startswith("*") or pattern.endswith("*")
    if pattern.startswith("*") and pattern.endswith("*"):
        return core in stored
    if pattern.startswith("*"):
        return stored.endswith(core)
    if pattern.endswith("*"):
        return stored.startswith(core)
    return stored == core


def _match_phone(store, rec, value, op):
    # Digits are compared ignoring "+", spaces, dashes and other punctuation;
    # every phone_number identity counts, not only the primary ``phone``.
    if not digits(value):
        return False
    return any(_wild(p, value, digits) for p in [rec.get("phone")] + rec.get("_phones", []))


def _match_id(field):
    def match(store, rec, value, op):
        if value.lower() == "none":
            return rec.get(field) is None
        return str(rec.get(field)) == value
    return match


def _match_status(store, rec, value, op):
    if value not in STATUSES:
        return False
    have, want = STATUSES.index(rec["status"]), STATUSES.index(value)
    return {":": have == want, "<": have < want, ">": have > want,
            "<=": have <= want, ">=": have >= want}[op]


def _match_text(fields):
    def match(store, rec, value, op):
        return any(value.strip("*") in str(rec.get(f) or "").lower() for f in fields)
    return match


def _match_field(field):
    return lambda store, rec, value, op: _wild(rec.get(field), value)


def _match_tags(store, rec, value, op):
    return value in rec.get("tags", [])


USER_MATCHERS = {
    "role": _match_field("role"), "phone": _match_phone, "email": _match_field("email"),
    "name": _match_field("name"), "external_id": _match_field("external_id"),
    "tags": _match_tags, "tag": _match_tags, "text": _match_text(("name", "email", "phone")),
}
TICKET_MATCHERS = {
    "status": _match_status, "requester_id": _match_id("requester_id"),
    "requester": _match_id("requester_id"), "assignee_id": _match_id("assignee_id"),
    "assignee": _match_id("assignee_id"), "submitter": _match_id("submitter_id"),
    "external_id": _match_field("external_id"), "tags": _match_tags, "tag": _match_tags,
    "ticket_type": _match_field("type"), "priority": _match_field("priority"),
    "subject": _match_text(("subject",)), "description": _match_text(("description",)),
    "text": _match_text(("subject", "description")),
}


# ------------------------------------------------------------------- jobs

class JobRunner:
    """Background jobs (update_many, merge) run one at a time, like a queue."""

    def __init__(self, store):
        self.store = store
        self.queue = queue.Queue()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="zd-jobs", daemon=True)

    def start(self):
        self.thread.start()

    def stop(self):
        self.stopping.set()
        self.queue.put(None)
        self.thread.join(timeout=5)

    def submit(self, kind, job_type, items, run_item, finish=None):
        """Create a queued job; ``run_item(index, item)`` returns a result dict."""
        store = self.store
        with store.lock:
            active = sum(1 for j in store.jobs.values() if j["status"] in ("queued", "working"))
            if active >= int(store.config["max_jobs"]):
                raise api_error(429, "TooManyJobs",
                                "Too many background jobs queued or running for this "
                                "account. Wait for some to complete and try again.",
                                headers={"Retry-After": "1"})
            jid = secrets.token_hex(16)
            job = {"id": jid, "url": store.url(f"job_statuses/{jid}"), "job_type": job_type,
                   "total": len(items), "progress": None, "status": "queued",
                   "message": None, "results": None,
                   "_gen": store.generation, "_created": time.time(), "_kind": kind}
            store.jobs[jid] = job
        self.queue.put((job, items, run_item, finish))
        return job

    def _loop(self):
        while True:
            task = self.queue.get()
            if task is None or self.stopping.is_set():
                return
            try:
                self._run(*task)
            except Exception:  # keep the worker alive whatever happens
                traceback.print_exc()

    def _run(self, job, items, run_item, finish):
        if self.stopping.wait(max(0.0, float(self.store.config["job_delay_ms"]) / 1000.0)):
            return
        with self.store.lock:
            if job["_gen"] != self.store.generation:
                return
            job.update(status="working", progress=0, results=[])
        for index, item in enumerate(items):
            with self.store.lock:
                job["results"].append(run_item(index, item))
                job["progress"] = index + 1
        with self.store.lock:
            failed = finish(job) if finish else False
            job["status"] = "failed" if failed else "completed"
            stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S +0000")
            job["message"] = f"{'Failed' if failed else 'Completed'} at {stamp}"


# -------------------------------------------------------------- emulator

def _route(method, pattern, name):
    return method, re.compile("^" + pattern + r"(?:\.json)?$"), name


ROUTES = [
    _route("GET", r"/api/v2/users/me", "ep_me"),
    _route("POST", r"/api/v2/users", "ep_create_user"),
    _route("POST", r"/api/v2/users/create_many", "ep_create_many_users"),
    _route("GET", r"/api/v2/users/search", "ep_search_users"),
    _route("GET", r"/api/v2/users/(\d+)", "ep_show_user"),
    _route("GET", r"/api/v2/users/(\d+)/tickets/requested", "ep_requested"),
    _route("POST", r"/api/v2/users/(\d+)/identities", "ep_create_identity"),
    _route("GET", r"/api/v2/incremental/users/cursor(?:\.json)?", "ep_incremental_users"),
    _route("GET", r"/api/v2/search", "ep_search"),
    _route("GET", r"/api/v2/tickets", "ep_list_tickets"),
    _route("POST", r"/api/v2/tickets", "ep_create_ticket"),
    _route("POST", r"/api/v2/tickets/create_many", "ep_create_many_tickets"),
    _route("GET", r"/api/v2/tickets/show_many", "ep_show_many_tickets"),
    _route("PUT", r"/api/v2/tickets/update_many", "ep_update_many"),
    _route("GET", r"/api/v2/tickets/(\d+)", "ep_show_ticket"),
    _route("PUT", r"/api/v2/tickets/(\d+)", "ep_update_ticket"),
    _route("GET", r"/api/v2/tickets/(\d+)/comments", "ep_comments"),
    _route("GET", r"/api/v2/tickets/(\d+)/audits", "ep_audits"),
    _route("POST", r"/api/v2/tickets/(\d+)/merge", "ep_merge"),
    _route("GET", r"/api/v2/ticket_fields", "ep_ticket_fields"),
    _route("GET", r"/api/v2/job_statuses", "ep_list_jobs"),
    _route("GET", r"/api/v2/job_statuses/show_many", "ep_show_many_jobs"),
    _route("GET", r"/api/v2/job_statuses/([A-Za-z0-9]+)", "ep_show_job"),
    _route("POST", r"/api/v2/channels/voice/agents/(\d+)/tickets/(\d+)/display",
           "ep_display_ticket"),
    _route("POST", r"/api/v2/channels/voice/agents/(\d+)/users/(\d+)/display",
           "ep_display_user"),
    _route("POST", r"/api/v2/channels/voice/tickets", "ep_voice_ticket"),
]

UPDATE_TICKET_PATH = re.compile(r"^/api/v2/tickets/\d+(?:\.json)?$")

CONTROL_ROUTES = {
    ("POST", "/__emulator/reset"): "ctl_reset",
    ("GET", "/__emulator/requests"): "ctl_requests",
    ("GET", "/__emulator/state"): "ctl_state",
    ("GET", "/__emulator/config"): "ctl_get_config",
    ("POST", "/__emulator/config"): "ctl_config",
    ("POST", "/__emulator/users"): "ctl_users",
    ("POST", "/__emulator/tickets"): "ctl_tickets",
    ("GET", "/__emulator/health"): "ctl_health",
}


class ZendeskEmulator(ServedEmulator):
    """The emulator: an HTTP server over a :class:`Store` plus a job runner.

    Tests may read ``emulator.store`` directly (hold ``store.lock`` while
    iterating) or use :meth:`snapshot`, :meth:`requests`, :meth:`configure`.
    """

    THREAD_NAME = "zd-http"

    def __init__(self, host="127.0.0.1", port=0, email="agent@example.com",
                 token="secret", rate_limit_per_min=700, verbose=False, public_url=None):
        self.host, self.port, self.verbose = host, port, verbose
        self.public_url = public_url.rstrip("/") if public_url else None
        self.store = Store(email, token, rate_limit_per_min)
        self.jobs = JobRunner(self.store)
        self.webhooks = WebhookSender()  # the store posts through it once one is configured
        self.server = None
        self._thread = None
        self._credentials = f"{email}/token:{token}"

    # -- lifecycle ----------------------------------------------------------

    def _handler(self):
        return _HttpHandler

    def _post_ticket_event(self, payload):
        self.webhooks.send(payload["type"], json.dumps(payload).encode(), self._sign)

    @staticmethod
    def _sign(target, body):
        """Zendesk's webhook signature: base64(HMAC-SHA256(signing secret,
        timestamp + body)) with the timestamp in its own header."""
        stamp = iso(time.time())
        mac = hmac.new(str(target.get("secret", "")).encode(), stamp.encode() + body,
                       hashlib.sha256).digest()
        return target["url"], {"X-Zendesk-Webhook-Signature": base64.b64encode(mac).decode(),
                               "X-Zendesk-Webhook-Signature-Timestamp": stamp,
                               "X-Zendesk-Webhook-Id": "01EMULATORWEBHOOK000000000"}

    def _started(self):
        self.store.base_url = self.public_url or self.url
        self.store.reset()
        self.jobs.start()

    def _stopping(self):
        self.jobs.stop()

    # -- in-process helpers for tests -------------------------------------

    def reset(self):
        self.store.reset()

    def configure(self, **config):
        return self._apply_config(config)

    def requests(self, since=0):
        with self.store.lock:
            return [copy.deepcopy(e) for e in self.store.log if e["seq"] > since]

    def snapshot(self):
        return self._state()

    def seed_user(self, **fields):
        return public_view(self.store.create_user(fields, seed=True))

    def seed_ticket(self, **fields):
        return self._seed_ticket(fields)

    # -- request handling ----------------------------------------------------

    def handle(self, req):
        """Entry point for one HTTP request; never raises."""
        try:
            if req.path.startswith("/__emulator/"):
                return self._control(req)
            if req.method == "GET" and (req.path == "/agent" or req.path.startswith("/agent/")):
                return self._agent_page(req)
            return self._api(req)
        except ApiError as err:
            return Reply(err.status, err.body, err.headers)
        except Exception:  # a bug in the emulator must not kill the server
            traceback.print_exc()
            return Reply(500, {"error": "InternalError", "description": "emulator bug"})

    def _api(self, req):
        started = time.monotonic()
        latency = float(self.store.config["latency_ms"])
        if latency > 0:
            time.sleep(latency / 1000.0)
        authorized = (self._authenticated(req.headers.get("authorization", ""))
                      and not self._token_revoked())
        if not authorized:
            reply = Reply(401, {"error": "Couldn't authenticate you"})
        else:
            reply = self._authorized(req)
        self._log(req, reply, authorized, started)
        return reply

    def _authenticated(self, header):
        """API-token Basic auth: base64 of ``{email}/token:{token}``."""
        scheme, _, encoded = header.strip().partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            given = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return False
        return given == self._credentials

    def _token_revoked(self):
        """An API token deleted or an account suspended, for a while
        (``revoke_token_s``): every request answers 401 as Zendesk does."""
        with self.store.lock:
            return time.monotonic() < self.store.revoked_until

    def _authorized(self, req):
        limited, headers = self._rate_limit(req)
        if limited is not None:
            return limited
        reply = run_with_injection(self._take_injection(req), lambda: self._dispatch(req),
                                   self._injected_reply)
        reply.headers = {**headers, **reply.headers}
        return reply

    def _dispatch(self, req):
        # Zendesk answers 404 InvalidEndpoint for unknown routes and wrong verbs alike.
        for method, regex, name in ROUTES:
            match = regex.match(req.path)
            if match and method == req.method:
                try:
                    return getattr(self, name)(req, *match.groups())
                except ApiError as err:
                    return Reply(err.status, err.body, err.headers)
        return Reply(404, {"error": "InvalidEndpoint", "description": "Not found"})

    # -- rate limits -----------------------------------------------------------

    def _rate_limit(self, req):
        """Account limit, then Update Ticket's own limit (each 0 = off).

        Returns (429 reply or None, rate-limit headers for the reply)."""
        store, now = self.store, time.monotonic()
        with store.lock:
            window = float(store.config["rate_window_s"]) / store.time_scale()
            ok, retry, headers = self._account_limit(now, window)
            if ok:
                ok, retry = self._endpoint_limit(req, now, window)
            if ok:
                return None, headers
        body = {"error": "APIRateLimitExceeded",
                "description": "Number of allowed API requests per minute exceeded"}
        return Reply(429, body, {**headers, "Retry-After": str(retry)}), headers

    def _account_limit(self, now, window):
        limit = int(self.store.config["rate_limit_per_min"])
        if limit <= 0:
            return True, 0, {}
        ok, remaining, retry, reset = window_take(self.store.account_hits, now, limit, window)
        headers = {"X-Rate-Limit": str(limit), "X-Rate-Limit-Remaining": str(remaining),
                   "ratelimit-limit": str(limit), "ratelimit-remaining": str(remaining),
                   "ratelimit-reset": str(reset)}
        return ok, retry, headers

    def _endpoint_limit(self, req, now, window):
        if req.method == "GET" and req.path.startswith("/api/v2/incremental/"):
            # Incremental exports: 10 requests per minute of their own, on
            # top of the account's budget (Zendesk's documented limit).
            limit = int(self.store.config["incremental_limit_per_min"])
            if limit <= 0:
                return True, 0
            ok, _, retry, _ = window_take(self.store.export_hits, now, limit, window)
            return ok, retry
        limit = int(self.store.config["update_ticket_limit_per_min"])
        single_update = req.method == "PUT" and UPDATE_TICKET_PATH.match(req.path)
        if limit <= 0 or not single_update:
            return True, 0
        ok, _, retry, _ = window_take(self.store.update_hits, now, limit, window)
        return ok, retry

    # -- error injection -----------------------------------------------------

    def _take_injection(self, req):
        return take_injection(self.store.lock, self.store.inject_rules, req.method, req.path)

    @staticmethod
    def _injected_reply(rule):
        status = int(rule.get("status", 503))
        defaults = {429: {"error": "APIRateLimitExceeded",
                          "description": "Number of allowed API requests per minute exceeded"},
                    503: {"error": "ServiceUnavailable", "description": "Injected failure"}}
        body = rule.get("body", defaults.get(status, {"error": "InjectedFailure",
                                                      "description": f"HTTP {status}"}))
        headers = dict(rule.get("headers") or {})
        if status == 429 or "retry_after" in rule:
            headers.setdefault("Retry-After", str(rule.get("retry_after", 1)))
        reply = Reply(status, body, headers)
        reply.injected = True
        return reply

    # -- request log -----------------------------------------------------------

    def _log(self, req, reply, authorized, started):
        store = self.store
        with store.lock:
            store.log_seq += 1
            store.log.append({
                "seq": store.log_seq, "at": iso(time.time()), "method": req.method,
                "path": req.path, "query": req.raw_query, "query_params": dict(req.query),
                "headers": {"content_type": req.headers.get("content-type"),
                            "user_agent": req.headers.get("user-agent"),
                            "accept": req.headers.get("accept"),
                            "authorization_present": "authorization" in req.headers,
                            "authenticated": authorized},
                "body": self._logged_body(req), "status": reply.status,
                "response": copy.deepcopy(reply.body),
                "injected": getattr(reply, "injected", False),
                "duration_ms": round((time.monotonic() - started) * 1000, 1),
            })

    @staticmethod
    def _logged_body(req):
        if req.json is not None:
            return copy.deepcopy(req.json)
        if not req.body:
            return None
        try:
            return json.loads(req.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return req.body.decode("utf-8", "replace")

    # -- rendering -----------------------------------------------------------

    def _ticket_view(self, ticket):
        view = public_view(ticket)
        values = ticket["_fields"]
        fields = [{"id": fid, "value": values.get(fid)} for fid in self.store.active_field_ids()]
        view["custom_fields"], view["fields"] = fields, copy.deepcopy(fields)
        return view

    def _tickets_view(self, tickets):
        return [self._ticket_view(t) for t in tickets]

    def _page(self, req, items, key):
        """Offset pagination (page, per_page <= 100) as Zendesk list endpoints."""
        per_page = min(100, max(1, as_int(req.query.get("per_page", "100"), "per_page")))
        page = max(1, as_int(req.query.get("page", "1"), "page"))
        chunk = items[(page - 1) * per_page: page * per_page]

        def link(number):
            params = dict(req.query, page=str(number), per_page=str(per_page))
            return f"{self.url}{req.path}?{urlencode(params)}"
        return {key: chunk, "count": len(items),
                "next_page": link(page + 1) if page * per_page < len(items) else None,
                "previous_page": link(page - 1) if page > 1 else None}

    @staticmethod
    def _meta(req, ticket_payload=None):
        custom = {}
        if isinstance(ticket_payload, dict) and isinstance(ticket_payload.get("metadata"), dict):
            custom = copy.deepcopy(ticket_payload["metadata"])
        return {"system": {"client": req.headers.get("user-agent", ""),
                           "ip_address": req.client}, "custom": custom}

    @staticmethod
    def _body_object(req, key):
        body = req.parse_json()
        if not isinstance(body, dict) or not isinstance(body.get(key), dict):
            raise api_error(400, "ParameterMissing",
                            f"param is missing or the value is empty: {key}")
        return body

    # -- endpoints: users ------------------------------------------------------

    def ep_me(self, req):
        """Show the Currently Authenticated User (Users API, /users/me)."""
        with self.store.lock:
            return Reply(200, {"user": public_view(self.store.user(ADMIN_ID))})

    def ep_create_user(self, req):
        """Create User (Users API): 201 {"user"}; 422 RecordInvalid."""
        data = self._body_object(req, "user")["user"]
        with self.store.lock:
            user = self.store.create_user(data)
            return Reply(201, {"user": public_view(user)},
                         {"Location": user["url"]})

    def ep_show_user(self, req, uid):
        """Show User (Users API): 200 {"user"}; 404 RecordNotFound."""
        with self.store.lock:
            return Reply(200, {"user": public_view(self.store.user(int(uid)))})

    def ep_search_users(self, req):
        """Search Users (Users API): by ``external_id`` (exact, no search
        syntax, read from the users themselves: no index lag) or by ``query``
        (the search index, users only)."""
        with self.store.lock:
            if "external_id" in req.query:
                want = req.query["external_id"]
                found = [u for u in sorted(self.store.users.values(), key=lambda u: u["id"])
                         if u.get("external_id") == want]
            elif "query" in req.query:
                found = [rec for kind, rec in self.store.search(req.query["query"])
                         if kind == "user"]
            else:
                raise api_error(400, "InvalidValue", "query or external_id is required")
            return Reply(200, self._page(req, [public_view(u) for u in found], "users"))

    def ep_create_identity(self, req, uid):
        """Create Identity (User Identities API), phone_number only: 201
        {"identity"}; the value becomes the user's ``phone`` when it had
        none (Zendesk's primary identity). 422 when the user has it."""
        ident = self._body_object(req, "identity")["identity"]
        kind, value = ident.get("type"), ident.get("value")
        if kind != "phone_number" or not isinstance(value, str) or not digits(value):
            raise record_invalid("value", "Value: is invalid", "InvalidValue")
        with self.store.lock:
            user = self.store.user(int(uid))
            phones = [user.get("phone")] + user.setdefault("_phones", [])
            if any(p and digits(p) == digits(value) for p in phones):
                raise record_invalid("value", f"Value: {value} has already been taken",
                                     "DuplicateValue")
            primary = user.get("phone") is None
            if primary:
                user["phone"] = value
                user["shared_phone_number"] = False
            else:
                user["_phones"].append(value)
            now = iso(time.time())
            user["updated_at"] = now
            self.store.user_changed(user)
            iid = self.store._take("next_identity")
            return Reply(201, {"identity": {
                "id": iid, "url": self.store.url(f"users/{uid}/identities/{iid}"),
                "user_id": int(uid), "type": "phone_number", "value": value, "verified": False,
                "primary": primary, "created_at": now, "updated_at": now}})

    def ep_requested(self, req, uid):
        """List User Requested Tickets (Tickets API), newest first."""
        with self.store.lock:
            self.store.user(int(uid))
            found = [t for t in self.store.tickets.values() if t["requester_id"] == int(uid)]
            found.sort(key=lambda t: (t["created_at"], t["id"]), reverse=True)
            return Reply(200, self._page(req, self._tickets_view(found), "tickets"))

    # -- endpoints: incremental export (issue 26 item 3) -------------------

    def ep_incremental_users(self, req):
        """Incremental User Export, Cursor Based: the first request names
        ``start_time`` (Unix seconds), every later one the ``cursor`` a page
        returned. Users come in the order of their last change, ``per_page``
        (default and at most 1000) a page; ``end_of_stream`` is true once
        the page reached the present, and ``after_cursor`` always continues
        from where the page ended (later changes come after it).
        ``include=identities`` sideloads phone identities."""
        q = req.query
        if "cursor" in q:
            try:
                after = int(base64.b64decode(q["cursor"], validate=True).decode().split("|")[0])
            except (ValueError, UnicodeDecodeError):
                raise api_error(400, "InvalidValue", "cursor is invalid") from None
            since = None
        elif "start_time" in q:
            since = as_int(q["start_time"], "start_time")
            if since > time.time():
                raise api_error(400, "InvalidValue", "start_time cannot be in the future")
            after = 0
        else:
            raise api_error(400, "InvalidValue", "start_time or cursor is required")
        per_page = min(1000, max(1, as_int(q.get("per_page", "1000"), "per_page")))
        with self.store.lock:
            changed = sorted((u for u in self.store.users.values()
                              if u["_change"] > after
                              and (since is None or u["_changed_at"] >= since)),
                             key=lambda u: u["_change"])
            page = changed[:per_page]
            last = page[-1]["_change"] if page else (after or self.store.user_changes)
            if since is not None and not page:
                last = self.store.user_changes
            cursor = base64.b64encode(f"{last}|{self.store.generation}".encode()).decode()
            body = {"users": [public_view(u) for u in page],
                    "after_cursor": cursor,
                    "after_url": self.store.base_url
                    + "/api/v2/incremental/users/cursor.json?cursor=" + cursor,
                    "before_cursor": None, "before_url": None,
                    "end_of_stream": len(changed) <= per_page}
            if "identities" in (q.get("include") or "").split(","):
                body["identities"] = [
                    {"user_id": u["id"], "type": "phone_number", "value": p}
                    for u in page for p in [u.get("phone")] + u.get("_phones", []) if p]
        return Reply(200, body)

    # -- endpoints: search ---------------------------------------------------

    def ep_search(self, req):
        """List Search Results (Search API): offset pages, result_type per hit."""
        if "query" not in req.query:
            raise api_error(400, "InvalidValue", "query is required")
        with self.store.lock:
            hits = self._sorted_hits(self.store.search(req.query["query"]), req.query)
            results = [self._search_result(kind, rec) for kind, rec in hits]
            page = self._page(req, results, "results")
        page["facets"] = None
        return Reply(200, page)

    def _search_result(self, kind, rec):
        view = public_view(rec) if kind == "user" else self._ticket_view(rec)
        view["result_type"] = kind
        return view

    @staticmethod
    def _sorted_hits(hits, query):
        sort_by = query.get("sort_by")
        if sort_by not in ("created_at", "updated_at", "priority", "status", "ticket_type"):
            return hits  # "relevance": emulated as creation order (ascending id)
        field = "type" if sort_by == "ticket_type" else sort_by
        desc = query.get("sort_order", "desc") != "asc"
        return sorted(hits, key=lambda h: (str(h[1].get(field) or ""), h[1]["id"]), reverse=desc)

    # -- endpoints: tickets --------------------------------------------------

    def ep_list_tickets(self, req):
        """List Tickets (Tickets API), optionally ``?external_id=``."""
        with self.store.lock:
            tickets = sorted(self.store.tickets.values(), key=lambda t: t["id"])
            if "external_id" in req.query:
                tickets = [t for t in tickets if t["external_id"] == req.query["external_id"]]
            return Reply(200, self._page(req, self._tickets_view(tickets), "tickets"))

    def ep_create_ticket(self, req):
        """Create Ticket (Tickets API): 201 {"ticket", "audit"}."""
        data = self._body_object(req, "ticket")["ticket"]
        with self.store.lock:
            ticket, audit = self.store.create_ticket(data, meta=self._meta(req, data))
            return Reply(201, {"ticket": self._ticket_view(ticket), "audit": audit},
                         {"Location": ticket["url"]})

    def ep_show_ticket(self, req, tid):
        """Show Ticket (Tickets API): 200 {"ticket"}; 404 RecordNotFound."""
        with self.store.lock:
            return Reply(200, {"ticket": self._ticket_view(self.store.ticket(int(tid)))})

    def ep_show_many_tickets(self, req):
        """Show Multiple Tickets (Tickets API, ``?ids=``); unknown ids skipped."""
        ids = id_list(req.query.get("ids"))
        with self.store.lock:
            found = [self.store.tickets[i] for i in ids if i in self.store.tickets]
            return Reply(200, {"tickets": self._tickets_view(found), "count": len(found),
                               "next_page": None, "previous_page": None})

    def ep_update_ticket(self, req, tid):
        """Update Ticket (Tickets API): 200 {"ticket", "audit"}; 422 when closed."""
        data = self._body_object(req, "ticket")["ticket"]
        with self.store.lock:
            ticket, audit = self.store.update_ticket(int(tid), data, meta=self._meta(req, data))
            return Reply(200, {"ticket": self._ticket_view(ticket), "audit": audit})

    def ep_comments(self, req, tid):
        """List Comments (Ticket Comments API): oldest first; ``sort_order=desc``."""
        with self.store.lock:
            self.store.ticket(int(tid))
            comments = copy.deepcopy(self.store.comments[int(tid)])
        if req.query.get("sort_order") == "desc":
            comments.reverse()
        return Reply(200, self._page(req, comments, "comments"))

    def ep_audits(self, req, tid):
        """List Audits for a Ticket (Ticket Audits API): oldest first."""
        with self.store.lock:
            self.store.ticket(int(tid))
            audits = copy.deepcopy(self.store.audits[int(tid)])
        if req.query.get("sort_order") == "desc":
            audits.reverse()
        return Reply(200, self._page(req, audits, "audits"))

    def ep_ticket_fields(self, req):
        """List Ticket Fields (Ticket Fields API): system + custom fields."""
        with self.store.lock:
            fields = self.store.all_ticket_fields()
        return Reply(200, {"ticket_fields": fields, "count": len(fields),
                           "next_page": None, "previous_page": None})

    # -- endpoints: bulk creations -------------------------------------------

    def _create_many_items(self, req, key, what):
        """The ``{key: [...]}`` body of a create_many: 1 to bulk_max objects."""
        body = req.parse_json()
        items = body.get(key) if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            raise api_error(400, "ParameterMissing",
                            f"param is missing or the value is empty: {key}")
        limit = int(self.store.config["bulk_max"])
        if len(items) > limit:
            raise api_error(400, "TooManyValues",
                            f"You can only create up to {limit} {what} at once")
        return items

    def _create_many(self, req, key, what, job_type, create):
        """A create_many job: each item created on its own when the job runs;
        results ``{"index", "id", "status": "Created"}`` (Zendesk's
        CreateResourceResult) or ``{"index", "error", "details",
        "success": false}``, in the items' order."""
        items = self._create_many_items(req, key, what)

        def run(index, item):
            try:
                rid = create(item)
            except ApiError as err:
                failed = {"index": index, "action": "create", "success": False,
                          "status": "Failed", "error": err.body.get("error", "Error"),
                          "details": self._error_details(err)}
                # FailedResult's id: the record in the way (a taken external id)
                if getattr(err, "record_id", None) is not None:
                    failed["id"] = err.record_id
                return failed
            return {"index": index, "id": rid, "action": "create", "success": True,
                    "status": "Created"}
        job = self.jobs.submit(key + "_create_many", job_type, items, run)
        with self.store.lock:
            return Reply(200, {"job_status": public_view(job)})

    def ep_create_many_tickets(self, req):
        """Create Many Tickets (Tickets API): up to 100 ``tickets``, as a job."""
        meta = self._meta(req)

        def create(item):
            ticket, _ = self.store.create_ticket(item, meta=meta)
            return ticket["id"]
        return self._create_many(req, "tickets", "tickets", "bulk_create_tickets", create)

    def ep_create_many_users(self, req):
        """Create Many Users (Users API): up to 100 ``users``, as a job. A user
        whose external_id or e-mail is taken fails alone (DuplicateValue)."""
        def create(item):
            try:
                return self.store.create_user(item)["id"]
            except ApiError as err:
                if isinstance(item, dict):
                    err.record_id = next(
                        (u["id"] for u in self.store.users.values()
                         if any(item.get(k) and u.get(k) == item.get(k)
                                for k in ("external_id", "email"))), None)
                raise
        return self._create_many(req, "users", "users", "create_many_users", create)

    # -- endpoints: bulk update and merge -----------------------------------

    def ep_update_many(self, req):
        """Update Many Tickets (Tickets API): bulk ``?ids=`` + ``ticket`` or batch
        ``tickets``; returns a queued job_status (Job Statuses API)."""
        items = self._bulk_items(req)
        meta = self._meta(req)

        def run(index, item):
            return self._bulk_item(index, item, meta)
        job = self.jobs.submit("update_many", "bulk_update", items, run)
        with self.store.lock:
            return Reply(200, {"job_status": public_view(job)})

    def _bulk_items(self, req):
        body = req.parse_json()
        if not isinstance(body, dict):
            raise api_error(400, "InvalidValue", "Request body must be a JSON object")
        if "ids" in req.query and isinstance(body.get("ticket"), dict):
            items = [dict(body["ticket"], id=i) for i in id_list(req.query["ids"])]
        elif "ids" not in req.query and isinstance(body.get("tickets"), list):
            items = body["tickets"]
        else:
            raise api_error(400, "InvalidValue", "Use ?ids= with a ticket object, or a "
                                                 "tickets array with ids")
        self._check_bulk(items)
        return items

    def _check_bulk(self, items):
        limit = int(self.store.config["bulk_max"])
        if not items:
            raise api_error(400, "InvalidValue", "No tickets to update")
        if len(items) > limit:
            raise api_error(400, "TooManyValues",
                            f"You can only update up to {limit} tickets at once")
        for item in items:
            if not isinstance(item, dict) or isinstance(item.get("id"), bool) or \
                    not isinstance(item.get("id"), int):
                raise api_error(400, "InvalidValue", "Each ticket needs an integer id")

    def _bulk_item(self, index, item, meta):
        tid = item["id"]
        payload = {k: v for k, v in item.items() if k != "id"}
        try:
            self.store.update_ticket(tid, payload, meta=meta)
        except ApiError as err:
            return {"id": tid, "index": index, "action": "update", "success": False,
                    "status": "Failed", "error": err.body.get("error", "Error"),
                    "details": self._error_details(err)}
        return {"id": tid, "index": index, "action": "update", "success": True,
                "status": "Updated"}

    @staticmethod
    def _error_details(err):
        details = err.body.get("details")
        if isinstance(details, dict):
            return "; ".join(d.get("description", "") for v in details.values() for d in v)
        return err.body.get("description", "")

    def ep_merge(self, req, tid):
        """Merge Tickets into Target Ticket (Tickets API): returns a job_status;
        sources end closed + ``closed_by_merge``, the target gets a comment."""
        body = req.parse_json()
        if not isinstance(body, dict) or not isinstance(body.get("ids"), list) or not body["ids"]:
            raise api_error(400, "ParameterMissing", "param is missing or the value is empty: ids")
        ids = [as_int(i, "ids") for i in body["ids"]]
        with self.store.lock:
            self.store.ticket(int(tid))
        outcome = {}

        def run(index, _):
            return self._merge_item(int(tid), ids, body, outcome)

        def finish(job):
            return outcome.get("failed", False)
        job = self.jobs.submit("merge", "merge", [None], run, finish)
        with self.store.lock:
            view = public_view(job)
        return Reply(200, {"job_status": view})

    def _merge_item(self, target, ids, opts, outcome):
        try:
            self.store.merge(target, ids, opts)
        except ApiError as err:
            outcome["failed"] = True
            return {"id": target, "index": 0, "action": "merge", "success": False,
                    "error": err.body.get("error", "Error"), "details": self._error_details(err)}
        return {"id": target, "index": 0, "action": "merge", "success": True,
                "status": "Merged"}

    # -- endpoints: job statuses ----------------------------------------------

    def _job_views(self, ids=None):
        cutoff = time.time() - 86400  # Zendesk keeps job statuses for a day
        with self.store.lock:
            for jid in [j for j, job in self.store.jobs.items() if job["_created"] < cutoff]:
                del self.store.jobs[jid]
            jobs = self.store.jobs
            chosen = list(jobs.values()) if ids is None else [jobs[i] for i in ids if i in jobs]
            return [public_view(j) for j in chosen]

    def ep_list_jobs(self, req):
        """List Job Statuses (Job Statuses API)."""
        return Reply(200, {"job_statuses": self._job_views()[::-1]})

    def ep_show_job(self, req, jid):
        """Show Job Status (Job Statuses API): 404 once unknown/expired."""
        views = self._job_views([jid])
        if not views:
            raise not_found()
        return Reply(200, {"job_status": views[0]})

    def ep_show_many_jobs(self, req):
        """Show Many Job Statuses (Job Statuses API, ``?ids=a,b``)."""
        ids = [i.strip() for i in req.query.get("ids", "").split(",") if i.strip()]
        return Reply(200, {"job_statuses": self._job_views(ids)})

    # -- endpoints: Talk Partner Edition --------------------------------------

    def ep_display_ticket(self, req, agent_id, tid):
        """Open Ticket in Agent's Browser (Talk Partner Edition): 200 / 404."""
        with self.store.lock:
            if not self.store.is_agent(int(agent_id)) or int(tid) not in self.store.tickets:
                raise not_found()
            self.store.displays.append({"kind": "ticket", "agent_id": int(agent_id),
                                        "ticket_id": int(tid), "at": iso(time.time())})
        return Reply(200, {})

    def ep_display_user(self, req, agent_id, uid):
        """Open a User's Profile in an Agent's Browser (Talk Partner Edition)."""
        with self.store.lock:
            if not self.store.is_agent(int(agent_id)) or int(uid) not in self.store.users:
                raise not_found()
            self.store.displays.append({"kind": "user", "agent_id": int(agent_id),
                                        "user_id": int(uid), "at": iso(time.time())})
        return Reply(200, {})

    def ep_voice_ticket(self, req):
        """Create Ticket or Voicemail Ticket (Talk Partner Edition): 201 {"ticket"};
        422 for a bad via_id or display_to_agent."""
        body = self._body_object(req, "ticket")
        agent = body.get("display_to_agent")
        with self.store.lock:
            if agent is not None and not self.store.is_agent(agent):
                raise record_invalid("display_to_agent", "Display to agent: is invalid",
                                     "InvalidValue")
            ticket, _ = self.store.create_voice_ticket(body["ticket"], self._meta(req))
            if agent is not None:
                self.store.displays.append({"kind": "ticket", "agent_id": agent,
                                            "ticket_id": ticket["id"], "at": iso(time.time())})
            return Reply(201, {"ticket": self._ticket_view(ticket)}, {"Location": ticket["url"]})

    # -- agent view ---------------------------------------------------------------

    def _agent_page(self, req):
        """Not an API: the page an agent opens (ticket_url / contact_url point
        here), so someone running the stack locally sees the tickets callbus
        makes. /agent lists them; /agent/tickets/<id> shows one."""
        esc = html.escape
        state = self._state()
        tickets = sorted(state["tickets"], key=lambda t: t["id"], reverse=True)
        match = re.fullmatch(r"/agent/tickets/(\d+)", req.path)
        if match:
            tickets = [t for t in tickets if t["id"] == int(match.group(1))]
        rows = []
        for t in tickets:
            comments = "".join(
                f"<li><pre>{esc(c.get('body') or '')}</pre></li>" for c in t.get("comments", []))
            rows.append(
                f"<section><h2><a href='/agent/tickets/{t['id']}'>#{t['id']}</a> "
                f"{esc(t.get('subject') or '')}</h2><p>status <b>{esc(t.get('status') or '')}"
                f"</b> · assignee {t.get('assignee_id')} · requester {t.get('requester_id')} · "
                f"tags {esc(', '.join(t.get('tags') or []))}</p><ol>{comments}</ol></section>")
        body = ("<!doctype html><meta charset=utf-8><meta http-equiv=refresh content=5>"
                "<title>Zendesk emulator: agent view</title><h1>Tickets (emulator)</h1>"
                + ("".join(rows) or "<p>No tickets yet: post a webhook.</p>"))
        return Reply(200 if rows or not match else 404, body)

    # -- control API ------------------------------------------------------------

    def _control(self, req):
        name = CONTROL_ROUTES.get((req.method, req.path.rstrip("/")))
        if name is None:
            return Reply(404, {"error": "UnknownControlEndpoint", "description": req.path})
        return getattr(self, name)(req)

    def ctl_health(self, req):
        """Control: readiness probe."""
        return Reply(200, {"ok": True, "url": self.url})

    def ctl_reset(self, req):
        """Control: clear all state, log, limits; restore defaults."""
        self.store.reset()
        return Reply(200, {"ok": True})

    def ctl_requests(self, req):
        """Control: the request log, entries with seq > ``since``."""
        since = as_int(req.query.get("since", "0"), "since")
        entries = self.requests(since)
        return Reply(200, {"requests": entries, "last_seq": self.store.log_seq})

    def ctl_state(self, req):
        """Control: users, tickets with comments/audits, jobs, displays."""
        return Reply(200, self._state())

    def ctl_get_config(self, req):
        """Control: current config."""
        return Reply(200, self._config_view())

    def ctl_config(self, req):
        """Control: merge config keys (limits, lag, delays, fail_next...)."""
        body = req.parse_json() or {}
        if not isinstance(body, dict):
            raise api_error(400, "InvalidValue", "config must be an object")
        return Reply(200, self._apply_config(body))

    def ctl_users(self, req):
        """Control: seed users (explicit ids, indexed at once by default)."""
        body = req.parse_json() or {}
        entries = body.get("users") or ([body["user"]] if "user" in body else [])
        made = [public_view(self.store.create_user(e, seed=True)) for e in entries]
        return Reply(201, {"users": made})

    def ctl_tickets(self, req):
        """Control: seed tickets (any status, extra comments)."""
        body = req.parse_json() or {}
        entries = body.get("tickets") or ([body["ticket"]] if "ticket" in body else [])
        return Reply(201, {"tickets": [self._seed_ticket(e) for e in entries]})

    def _seed_ticket(self, data):
        """Seed a ticket directly (any status incl. closed, extra ``comments``)."""
        data = dict(data)
        extra_comments = data.pop("comments", [])
        status = data.pop("status", None)
        if data.get("comment") is None and data.get("description") is None:
            data["comment"] = {"body": "Seeded ticket"}
        with self.store.lock:
            ticket, _ = self.store.create_ticket(data, seed=True)
            for comment in extra_comments:
                parsed = self.store._comment_input(comment, default_public=True)
                self.store._apply(ticket, {}, parsed, ADMIN_ID, None, None)
            if status is not None:
                self.store._simple_changes({"status": status}, {})
                self.store._apply(ticket, {"status": status}, None, ADMIN_ID, None, None)
            return self._ticket_view(ticket)

    def _apply_config(self, body):
        store = self.store
        with store.lock:
            for key, value in body.items():
                if key in DEFAULT_CONFIG:
                    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                        raise api_error(400, "InvalidValue", f"{key} must be a number >= 0")
                    store.config[key] = value
                elif key == "fail_next":
                    store.inject_rules = self._rules(value)
                elif key == "revoke_token_s":
                    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                        raise api_error(400, "InvalidValue", f"{key} must be a number >= 0")
                    store.revoked_until = time.monotonic() + float(value) if value else 0.0
                elif key == "agents":
                    store.set_agents(value)
                elif key == "ticket_fields":
                    store.set_custom_fields(value)
                elif key == "webhook":
                    try:
                        self.webhooks.configure(value)
                    except ValueError as err:
                        raise api_error(400, "InvalidValue", str(err))
                    # no payload is even built while no webhook is set
                    store.on_ticket_event = self._post_ticket_event if value else None
                else:
                    raise api_error(400, "UnknownConfigKey", key)
            return self._config_view()

    @staticmethod
    def _rules(value):
        if not isinstance(value, list):
            raise api_error(400, "InvalidValue", "fail_next must be a list")
        rules = []
        for rule in value:
            if not isinstance(rule, dict) or "status" not in rule:
                raise api_error(400, "InvalidValue", "each fail_next rule needs a status")
            re.compile(rule.get("path_regex", ""))
            rules.append(dict(rule, count=int(rule.get("count", 1))))
        return rules

    def _config_view(self):
        with self.store.lock:
            return dict(self.store.config, fail_next=copy.deepcopy(self.store.inject_rules),
                        ticket_fields=copy.deepcopy(self.store.custom_fields))

    def _state(self):
        store = self.store
        with store.lock:
            tickets = []
            for tid in sorted(store.tickets):
                view = self._ticket_view(store.tickets[tid])
                view["comments"] = copy.deepcopy(store.comments[tid])
                view["audits"] = copy.deepcopy(store.audits[tid])
                tickets.append(view)
            return {"users": [public_view(store.users[u]) for u in sorted(store.users)],
                    "tickets": tickets,
                    "jobs": [public_view(j) for j in store.jobs.values()],
                    "displays": copy.deepcopy(store.displays),
                    "ignored_custom_field_ids": list(store.ignored_custom_fields),
                    "config": self._config_view()}


# ------------------------------------------------------------ HTTP plumbing

class _HttpHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "zendesk-emulator/1.0"

    def _handle(self):
        try:
            body = self._read_body()
        except ValueError as err:
            self._write(Reply(400, {"error": "BadRequest", "description": str(err)}), True)
            return
        req = Request(self.command, self.path, self.headers, body, self.client_address[0])
        reply = self.server.emulator.handle(req)
        if self.server.emulator.verbose:
            sys.stderr.write(f"{self.command} {self.path} -> {reply.status}\n")
        self._write(reply)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > MAX_BODY:
            raise ValueError("request body too large")
        return self.rfile.read(length) if length else b""

    def _read_chunked(self):
        data = b""
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline().strip():
                    pass
                return data
            data += self.rfile.read(size)
            self.rfile.readline()
            if len(data) > MAX_BODY:
                raise ValueError("request body too large")

    @staticmethod
    def _encode(body):
        """JSON for objects; str/bytes bodies (injected proxy pages) go out raw."""
        if body is None:
            return b"", None
        if isinstance(body, (bytes, str)):
            raw = body.encode("utf-8") if isinstance(body, str) else body
            return raw, "text/html; charset=utf-8"
        return json.dumps(body).encode("utf-8"), "application/json; charset=utf-8"

    def _write(self, reply, close=False):
        data, ctype = self._encode(reply.body)
        self.send_response(reply.status)
        if ctype:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for key, value in reply.headers.items():
            self.send_header(key, value)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):  # quiet; --verbose logs per request
        pass


# --------------------------------------------------------------------- CLI

def main(argv=None):
    parser = argparse.ArgumentParser(description="Zendesk Support API emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = pick a free port")
    parser.add_argument("--email", default="agent@example.com")
    parser.add_argument("--token", default="secret")
    parser.add_argument("--rate-limit", type=int, default=700,
                        help="account requests per minute; 0 = off")
    parser.add_argument("--port-file", help="write the chosen port to this file")
    parser.add_argument("--public-url", help="base of the resources' url fields, when "
                        "clients reach the emulator by another name (e.g. in Docker)")
    parser.add_argument("--verbose", action="store_true", help="log requests to stderr")
    args = parser.parse_args(argv)

    emulator = ZendeskEmulator(args.host, args.port, args.email, args.token,
                               args.rate_limit, args.verbose, args.public_url).start()
    return serve_until_signal(emulator, args.port_file, "zendesk-emulator")


if __name__ == "__main__":
    sys.exit(main())
