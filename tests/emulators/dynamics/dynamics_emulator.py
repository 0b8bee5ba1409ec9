#!/usr/bin/env python3
"""Microsoft Dynamics 365 (Dataverse Web API, OData v4) emulator for callbus tests.

Modelled on tests/emulators/zendesk/zendesk_emulator.py (same control API under
``/__emulator/``, request log, fail-next injection, rate limits) and built
from Microsoft's published documentation (sources in README.md):

  * Microsoft Entra ID client-credentials token endpoint
    ``POST /{tenant}/oauth2/v2.0/token`` (form: grant_type=client_credentials,
    client_id, client_secret, scope=<org>/.default) answering
    ``{"token_type":"Bearer","expires_in":N,"ext_expires_in":N,"access_token":...}``
    and AADSTS errors (``{"error":"invalid_client","error_description":...}``).
  * ``/api/data/v9.2/``: Bearer auth on every request; an unknown or expired
    token answers 401 with ``WWW-Authenticate: Bearer authorization_uri=...``.
  * Entity sets contacts, incidents, annotations, systemusers: create (204 +
    ``OData-EntityId``, or 201 + body with ``Prefer: return=representation``),
    retrieve by id, query with ``$filter`` (eq ne gt ge lt le, and/or/not,
    parentheses, contains/startswith/endswith, string/number/guid/null/bool
    literals), ``$orderby``, ``$top``, ``$select``, ``$expand`` of single-valued
    navigation properties, ``$count``; PATCH update (``If-Match`` on
    ``@odata.etag``), ``@odata.bind`` for lookups, formatted values with
    ``Prefer: odata.include-annotations``; the CloseIncident action.
  * ``POST /api/data/v9.2/$batch``: multipart/mixed with change sets (atomic:
    one failure rolls the change set back), ``Content-ID`` and ``$n``
    references, responses in request order, processing stops at the first
    failure outside a change set unless ``Prefer: odata.continue-on-error``.
  * Errors as Dataverse writes them: ``{"error":{"code":"0x...","message":...}}``.
  * Service-protection limits per user (the application user of the token):
    requests per 5-minute sliding window (6,000), combined execution time per
    window (1,200,000 ms), concurrent requests (52) -> 429 with Retry-After and
    the documented error codes.
  * ``GET /api/data/v9.2/EntityDefinitions(LogicalName='incident')/Attributes``
    (``$select``): the table's columns as AttributeMetadata (LogicalName,
    AttributeType), custom columns new_* on incident for callbus's custom
    fields; a write of a column the table lacks is Dataverse's 400
    ``0x80060888`` "Invalid property ... was found in entity ...".
  * ``GET /api/data/v9.2/$metadata``: a CSDL document of the emulated subset,
    generated from the same ENTITIES table the emulator validates against.

  * Change tracking (``Prefer: odata.track-changes``, ``odata.maxpagesize``,
    ``@odata.nextLink`` / ``@odata.deltaLink``, deleted rows as
    ``$deletedEntity``), for the contact mirror (issue 26 item 3).

Not emulated: paging cookies / @odata.nextLink outside change tracking, FetchXML, alternate keys,
deep insert, plug-ins and business rules, security roles, the full CSDL of
a real environment (per environment, authenticated), the exact wording of
errors Microsoft does not document (listed in README.md).

Standard library only.
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import os
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
from urllib.parse import parse_qs, quote, unquote, urlsplit

# What the Zendesk emulator shares with this one (fail-next rules, the run loop).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "zendesk"))
from emulator_common import (ServedEmulator, WebhookSender, run_with_injection,  # noqa: E402
                             serve_until_signal, take_injection)

API = "/api/data/v9.2"
MAX_BODY = 10 * 1024 * 1024
LOG_CAPACITY = 20000
BATCH_MAX = 1000  # documented: up to 1,000 requests in a batch

DEFAULT_CONFIG = {
    "token_ttl_s": 3599,              # expires_in of issued tokens
    "requests_per_window": 6000,      # per user per window; 0 = off
    "window_s": 300.0,                # service-protection sliding window
    "execution_ms_per_window": 1200000,  # combined execution time; 0 = off
    "max_concurrent": 52,             # concurrent requests per user; 0 = off
    "latency_ms": 0,                  # added to every Web API request
    "batch_counts_inner": True,       # each operation in a $batch counts as a request
    "require_odata_version": False,   # 400 when OData-Version / MaxVersion is absent
}

# Error codes Dataverse documents for service protection (api-limits page).
LIMIT_ERRORS = {
    "requests": ("0x80072322", "Number of requests exceeded the limit of {n} over time "
                 "window of {w} seconds."),
    "time": ("0x80072321", "Combined execution time of incoming requests exceeded limit of "
             "{n} milliseconds over time window of {w} seconds. Decrease number of "
             "concurrent requests or reduce the duration of requests and try again later."),
    "concurrency": ("0x80072326", "Number of concurrent requests exceeded the limit of {n}."),
}
NOT_FOUND = "0x80040217"       # ObjectDoesNotExist
BAD_PROPERTY = "0x80060888"    # property not found on type / bad query syntax
BAD_REQUEST = "0x80048d19"     # malformed request / payload
ETAG_MISMATCH = "0x80060882"   # If-Match precondition failed
CASE_CLOSED = "0x80040203"     # writing to a resolved / cancelled case (approximation)

# name -> (entity set, key, attributes {name: type}, navigation {name: (target set, lookup)})
# Types: str, int, picklist (a choice: its option's integer value), guid,
# datetime, memo, bool. Lookups are exposed as _<name>_value.
ENTITIES = {
    "contact": {
        "set": "contacts", "key": "contactid",
        "attrs": {"contactid": "guid", "firstname": "str", "lastname": "str",
                  "fullname": "str", "telephone1": "str", "telephone2": "str",
                  "mobilephone": "str", "emailaddress1": "str", "createdon": "datetime",
                  "modifiedon": "datetime", "statecode": "int", "statuscode": "int",
                  "versionnumber": "int", "_ownerid_value": "guid"},
        "nav": {"ownerid": ("systemusers", "_ownerid_value")},
        "readonly": {"fullname", "createdon", "modifiedon", "versionnumber"},
    },
    "incident": {
        "set": "incidents", "key": "incidentid",
        "attrs": {"incidentid": "guid", "title": "str", "description": "memo",
                  "ticketnumber": "str", "caseorigincode": "int", "statecode": "int",
                  "statuscode": "int", "prioritycode": "int", "createdon": "datetime",
                  "modifiedon": "datetime", "versionnumber": "int",
                  "_customerid_value": "guid", "_ownerid_value": "guid",
                  "_masterid_value": "guid",  # set by the Merge action only
                  # custom columns (publisher prefix new_) a contact center adds
                  # for callbus's custom fields (R-T9, R-T8, R-T12)
                  "new_sessiontype": "str", "new_fromnumber": "str",
                  "new_callduration": "int", "new_waittime": "int", "new_queuename": "str",
                  "new_callid": "str", "new_holdtime": "int", "new_tickettype": "str",
                  "new_csat": "picklist",
                  # the call markers (R-M1, R-M3): text, space-separated tags
                  "new_callbusmarkers": "str"},
        "nav": {"customerid_contact": ("contacts", "_customerid_value"),
                "ownerid": ("systemusers", "_ownerid_value")},
        "readonly": {"ticketnumber", "createdon", "modifiedon", "versionnumber",
                     "_masterid_value"},
    },
    "annotation": {
        "set": "annotations", "key": "annotationid",
        "attrs": {"annotationid": "guid", "subject": "str", "notetext": "memo",
                  "isdocument": "bool", "createdon": "datetime", "modifiedon": "datetime",
                  "versionnumber": "int", "_objectid_value": "guid",
                  "objecttypecode": "str"},
        "nav": {"objectid_incident": ("incidents", "_objectid_value")},
        "readonly": {"createdon", "modifiedon", "versionnumber", "objecttypecode"},
    },
    "systemuser": {
        "set": "systemusers", "key": "systemuserid",
        "attrs": {"systemuserid": "guid", "fullname": "str", "internalemailaddress": "str",
                  "applicationid": "guid", "isdisabled": "bool", "versionnumber": "int",
                  "createdon": "datetime", "modifiedon": "datetime"},
        "nav": {},
        "readonly": {"createdon", "modifiedon", "versionnumber"},
    },
}
BY_SET = {e["set"]: name for name, e in ENTITIES.items()}

# Option-set labels for formatted values (Dataverse's defaults for incident).
INCIDENT_STATUS = {  # statuscode -> (statecode, label)
    1: (0, "In Progress"), 2: (0, "On Hold"), 3: (0, "Waiting for Details"),
    4: (0, "Researching"), 5: (1, "Problem Solved"), 1000: (1, "Information Provided"),
    6: (2, "Cancelled"), 2000: (2, "Merged"),
}
INCIDENT_STATE = {0: "Active", 1: "Resolved", 2: "Cancelled"}
CASE_ORIGIN = {1: "Phone", 2: "Email", 3: "Web", 2483: "Facebook", 3986: "Twitter"}
DEFAULT_STATUS = {0: 1, 1: 5, 2: 6}
DEFAULT_AGENTS = [("Agent One", "agent1@example.com"), ("Agent Two", "agent2@example.com"),
                  ("Agent Three", "agent3@example.com")]
FORMATTED = "@OData.Community.Display.V1.FormattedValue"
GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                     r"[0-9a-fA-F]{12}$")


class ApiError(Exception):
    def __init__(self, status, code, message, headers=None):
        super().__init__(f"{status} {code} {message}")
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}

    def body(self):
        return {"error": {"code": self.code, "message": self.message}}


def iso(ts):
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Reply:
    def __init__(self, status, body=None, headers=None, ctype=None):
        self.status, self.body, self.headers = status, body, dict(headers or {})
        self.ctype = ctype


def error_reply(err):
    return Reply(err.status, err.body(), err.headers)


# ------------------------------------------------------------ OData $filter

TOKEN_RE = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-"
                      r"[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})(?![\w-])"
                      r"|(?P<num>-?\d+(?:\.\d+)?)(?![\w])|(?P<name>[A-Za-z_][\w.]*)"
                      r"|(?P<punct>[(),]))")
COMPARE = {"eq", "ne", "gt", "ge", "lt", "le"}
FUNCS = {"contains", "startswith", "endswith"}


def tokenize(text):
    pos, out = 0, []
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = TOKEN_RE.match(text, pos)
        if not m:
            raise ApiError(400, BAD_PROPERTY, f"Syntax error at position {pos} in '{text}'.")
        kind = m.lastgroup
        value = m.group(kind)
        if kind == "str":
            value = value[1:-1].replace("''", "'")
        elif kind == "num":
            value = float(value) if "." in value else int(value)
        elif kind == "guid":
            value = value.lower()
        out.append((kind, value))
        pos = m.end()
    return out


class FilterParser:
    """Recursive descent over OData's boolean expressions; yields a predicate."""

    def __init__(self, text, entity):
        self.tokens, self.i, self.entity = tokenize(text), 0, entity

    def parse(self):
        pred = self._or()
        if self.i != len(self.tokens):
            raise ApiError(400, BAD_PROPERTY, f"Syntax error: unexpected '{self.tokens[self.i][1]}'.")
        return pred

    def _peek(self):
        return self.tokens[self.i] if self.i < len(self.tokens) else (None, None)

    def _take(self, kind=None, value=None):
        tok = self._peek()
        if tok[0] is None or (kind and tok[0] != kind) or (value is not None and tok[1] != value):
            raise ApiError(400, BAD_PROPERTY, f"Syntax error: expected {value or kind}.")
        self.i += 1
        return tok

    def _or(self):
        left = self._and()
        while self._peek() == ("name", "or"):
            self.i += 1
            right = self._and()
            left = (lambda a, b: lambda r: a(r) or b(r))(left, right)
        return left

    def _and(self):
        left = self._unary()
        while self._peek() == ("name", "and"):
            self.i += 1
            right = self._unary()
            left = (lambda a, b: lambda r: a(r) and b(r))(left, right)
        return left

    def _unary(self):
        if self._peek() == ("name", "not"):
            self.i += 1
            inner = self._unary()
            return lambda r: not inner(r)
        if self._peek() == ("punct", "("):
            self.i += 1
            inner = self._or()
            self._take("punct", ")")
            return inner
        kind, name = self._peek()
        if kind == "name" and name in FUNCS:
            return self._func()
        return self._compare()

    def _attr(self):
        _, name = self._take("name")
        if name not in ENTITIES[self.entity]["attrs"]:
            raise ApiError(400, BAD_PROPERTY, f"Could not find a property named '{name}' on "
                           f"type 'Microsoft.Dynamics.CRM.{self.entity}'.")
        return name

    def _literal(self):
        kind, value = self._take()
        if kind in ("str", "num", "guid"):
            return value
        if kind == "name" and value in ("null", "true", "false"):
            return {"null": None, "true": True, "false": False}[value]
        raise ApiError(400, BAD_PROPERTY, f"Syntax error: '{value}' is not a literal.")

    def _func(self):
        _, fn = self._take("name")
        self._take("punct", "(")
        attr = self._attr()
        self._take("punct", ",")
        arg = self._literal()
        self._take("punct", ")")
        if not isinstance(arg, str):
            raise ApiError(400, BAD_PROPERTY, f"{fn} needs a string argument.")
        arg = arg.lower()
        ops = {"contains": lambda v: arg in v, "startswith": lambda v: v.startswith(arg),
               "endswith": lambda v: v.endswith(arg)}
        test = ops[fn]
        return lambda r: isinstance(r.get(attr), str) and test(r[attr].lower())

    def _compare(self):
        attr = self._attr()
        _, op = self._take("name")
        if op not in COMPARE:
            raise ApiError(400, BAD_PROPERTY, f"Syntax error: unknown operator '{op}'.")
        value = self._literal()
        kind = ENTITIES[self.entity]["attrs"][attr]
        if kind == "guid" and isinstance(value, str) and value is not None:
            if not GUID_RE.match(value):
                raise ApiError(400, BAD_PROPERTY, "A binary operator with incompatible types "
                               "was detected. Found operand types 'Edm.Guid' and 'Edm.String'.")
            value = value.lower()

        def cmp(r):
            have = r.get(attr)
            if isinstance(have, str) and isinstance(value, str):
                have_v, want = have.lower(), value.lower()  # Dataverse collation: case-insensitive
            else:
                have_v, want = have, value
            if op == "eq":
                return have_v == want
            if op == "ne":
                return have_v != want
            if have_v is None or want is None:
                return False
            try:
                return {"gt": have_v > want, "ge": have_v >= want,
                        "lt": have_v < want, "le": have_v <= want}[op]
            except TypeError:
                return False
        return cmp


# ------------------------------------------------------------------ the store

class Store:
    def __init__(self, tenant, client_id, client_secret):
        self.tenant, self.client_id, self.client_secret = tenant, client_id, client_secret
        self.lock = threading.RLock()
        self.base_url = ""
        self.on_case_step = None  # set by the emulator: (message, row, inputs, pre) to post
        self.reset()

    def reset(self):
        with self.lock:
            self.config = dict(DEFAULT_CONFIG)
            self.tables = {name: {} for name in ENTITIES}
            self.tokens = {}          # access_token -> expiry (monotonic)
            self.log, self.log_seq = deque(maxlen=LOG_CAPACITY), 0
            self.inject_rules = []
            self.hits = deque()       # (monotonic stamp) per counted request
            self.exec_ms = deque()    # (stamp, ms)
            self.in_flight = 0
            self.version = 1000
            self.tombstones = []      # (versionnumber, entity, id) of deleted rows: change tracking
            self.case_seq = 1000
            self.app_user = self._new_systemuser("# callbus", "callbus@example.com",
                                                 application=True)
            self.agents = [self._new_systemuser(n, e) for n, e in DEFAULT_AGENTS]

    def _stamp(self, row):
        self.version += 1
        now = iso(time.time())
        row.setdefault("createdon", now)
        row["modifiedon"] = now
        row["versionnumber"] = self.version

    def _new_systemuser(self, name, email, application=False):
        row = {"systemuserid": str(uuid.uuid4()), "fullname": name,
               "internalemailaddress": email, "isdisabled": False,
               "applicationid": self.client_id if application else None}
        self._stamp(row)
        self.tables["systemuser"][row["systemuserid"]] = row
        return row

    def get(self, entity, key):
        row = self.tables[entity].get(key.lower())
        if row is None:
            raise ApiError(404, NOT_FOUND, f"{entity} With Id = {key} Does Not Exist")
        return row

    # -- writes -----------------------------------------------------------

    def _bind(self, entity, name, value):
        """``nav@odata.bind: "/set(guid)"`` (or ``set(guid)``, or ``$n`` resolved earlier)."""
        nav = ENTITIES[entity]["nav"].get(name)
        if nav is None:
            raise ApiError(400, BAD_PROPERTY, f"An undeclared property '{name}' which only has "
                           "property annotations in the payload but no property value was "
                           "found in the payload.")
        target_set, lookup = nav
        m = re.match(r"^/?(?:.*/)?(\w+)\(([0-9a-fA-F-]{36})\)$", str(value or ""))
        if not m or m.group(1) != target_set:
            raise ApiError(400, BAD_REQUEST, f"The URI '{value}' is not valid for binding "
                           f"'{name}': expected /{target_set}(<guid>).")
        self.get(BY_SET[target_set], m.group(2))
        return lookup, m.group(2).lower()

    def _apply(self, entity, row, payload, creating):
        spec = ENTITIES[entity]
        if not isinstance(payload, dict):
            raise ApiError(400, BAD_REQUEST, "The request body must be a JSON object.")
        for key, value in payload.items():
            if key.endswith("@odata.bind"):
                lookup, target = self._bind(entity, key[:-len("@odata.bind")], value)
                row[lookup] = target
                continue
            if key.startswith("@") or "@" in key:
                continue
            kind = spec["attrs"].get(key)
            if kind is None or key.startswith("_"):
                raise ApiError(400, BAD_PROPERTY, f"Invalid property '{key}' was found in "
                               f"entity 'Microsoft.Dynamics.CRM.{entity}'.")
            if key in spec["readonly"] or (key == spec["key"] and not creating):
                continue  # Dataverse ignores values for read-only columns
            if value is not None:
                ok = {"str": isinstance(value, str), "memo": isinstance(value, str),
                      "int": isinstance(value, int) and not isinstance(value, bool),
                      "picklist": isinstance(value, int) and not isinstance(value, bool),
                      "bool": isinstance(value, bool), "guid": isinstance(value, str)
                      and GUID_RE.match(value), "datetime": isinstance(value, str)}[kind]
                if not ok:
                    raise ApiError(400, BAD_REQUEST, f"Cannot convert the literal '{value}' to "
                                   f"the expected type of '{key}'.")
                if kind == "str" and len(value) > 4000:
                    raise ApiError(400, BAD_REQUEST, f"The length of the '{key}' attribute "
                                   "exceeded the maximum allowed length.")
            row[key] = value.lower() if kind == "guid" and value else value

    def create(self, entity, payload):
        spec = ENTITIES[entity]
        with self.lock:
            row = {}
            self._apply(entity, row, payload, creating=True)
            key = row.get(spec["key"]) or str(uuid.uuid4())
            if key in self.tables[entity]:
                raise ApiError(412, "0x80040237", "A record with matching key values already "
                               "exists.")
            row[spec["key"]] = key
            self._defaults(entity, row)
            self._stamp(row)
            self.tables[entity][key] = row
            if entity == "incident" and self.on_case_step is not None:
                self.on_case_step("Create", row, [{"key": "Target", "value": entity_of(row)}],
                                  None)
            return row

    def _defaults(self, entity, row):
        row.setdefault("_ownerid_value", self.app_user["systemuserid"]
                       if entity != "systemuser" else None)
        if entity == "contact":
            row.setdefault("statecode", 0)
            row.setdefault("statuscode", 1)
            self._fullname(row)
        elif entity == "incident":
            if not row.get("title"):
                raise ApiError(400, "0x80040200", "Case Title: Required fields must be filled in.")
            if not row.get("_customerid_value"):
                raise ApiError(400, "0x80040200", "Customer: Required fields must be filled in.")
            row.setdefault("statecode", 0)
            row.setdefault("statuscode", DEFAULT_STATUS[row["statecode"]])
            self.case_seq += 1
            row["ticketnumber"] = f"CAS-{self.case_seq:05d}-{secrets.token_hex(3).upper()}"
            self._check_status(row)
        elif entity == "annotation":
            row.setdefault("isdocument", False)
            if row.get("_objectid_value"):
                row["objecttypecode"] = "incident"

    @staticmethod
    def _fullname(row):
        row["fullname"] = " ".join(p for p in (row.get("firstname"), row.get("lastname")) if p)

    @staticmethod
    def _check_status(row):
        state, status = row.get("statecode"), row.get("statuscode")
        if state not in INCIDENT_STATE or INCIDENT_STATUS.get(status, (None,))[0] != state:
            raise ApiError(400, "0x8004431a", f"{status} is not a valid status code for state "
                           f"code IncidentState.{INCIDENT_STATE.get(state, state)} on incident.")

    def update(self, entity, key, payload, if_match=None):
        with self.lock:
            row = self.get(entity, key)
            if if_match and if_match != "*" and if_match != etag(row):
                raise ApiError(412, ETAG_MISMATCH, "The version of the existing record doesn't "
                               "match the RowVersion property provided.")
            if entity == "incident":
                if row["statecode"] != 0:
                    raise ApiError(400, CASE_CLOSED, "This case has already been resolved or "
                                   "cancelled. Reopen the case to make changes.")
                if isinstance(payload, dict) and payload.get("statecode") == 1:
                    raise ApiError(400, "0x80040203", "Use the CloseIncident action to resolve a "
                                   "case; statecode 1 cannot be set by an update.")
            new = copy.deepcopy(row)
            self._apply(entity, new, payload, creating=False)
            if entity == "incident":
                if "statecode" in payload and "statuscode" not in payload:
                    new["statuscode"] = DEFAULT_STATUS.get(new["statecode"], new["statuscode"])
                self._check_status(new)
            if entity == "contact":
                self._fullname(new)
            self._stamp(new)
            pre = copy.deepcopy(row) if self.on_case_step is not None else None
            row.clear()
            row.update(new)
            if entity == "incident" and isinstance(payload, dict):
                self._update_step(row, payload, pre)
            return row

    # -- the service endpoint's steps (issue 25 item 1) ------------------------

    def _update_step(self, row, payload, pre):
        """The Update step on incident, registered for statecode, statuscode
        and ownerid: Target holds the columns the request changed."""
        if self.on_case_step is None:
            return
        changed = [c for c in ("statecode", "statuscode") if c in payload]
        if "ownerid@odata.bind" in payload:
            changed.append("_ownerid_value")
        if changed:
            target = entity_of(row, changed)
            self.on_case_step("Update", row, [{"key": "Target", "value": target}], pre)

    def close_incident(self, payload):
        with self.lock:
            res = payload.get("IncidentResolution") if isinstance(payload, dict) else None
            status = payload.get("Status") if isinstance(payload, dict) else None
            if not isinstance(res, dict) or not isinstance(status, int):
                raise ApiError(400, BAD_REQUEST, "CloseIncident needs IncidentResolution and "
                               "Status.")
            bind = res.get("incidentid@odata.bind", "")
            m = re.match(r"^/?incidents\(([0-9a-fA-F-]{36})\)$", str(bind))
            if not m:
                raise ApiError(400, BAD_REQUEST, "IncidentResolution needs incidentid@odata.bind.")
            row = self.get("incident", m.group(1))
            if row["statecode"] != 0:
                raise ApiError(400, CASE_CLOSED, "This case has already been resolved or "
                               "cancelled.")
            if INCIDENT_STATUS.get(status, (None,))[0] != 1:
                raise ApiError(400, "0x8004431a", f"{status} is not a valid status code for "
                               "state code IncidentState.Resolved on incident.")
            pre = copy.deepcopy(row) if self.on_case_step is not None else None
            row["statecode"], row["statuscode"] = 1, status
            self._stamp(row)
            if self.on_case_step is not None:
                resolution = {"Attributes": [{"key": "incidentid", "value": reference(
                    "incident", row["incidentid"])}, {"key": "subject", "value": res.get(
                        "subject")}], "Id": str(uuid.uuid4()),
                    "LogicalName": "incidentresolution"}
                self.on_case_step("Close", row, [
                    {"key": "IncidentResolution", "value": resolution},
                    {"key": "Status", "value": option(status)}], pre)

    def merge(self, payload):
        """The Merge action on incidents (Microsoft's "Merge" Web API action,
        "Merge duplicate records"): the Subordinate is deactivated as
        Cancelled / Merged (statecode 2, statuscode 2000) and its masterid
        points at the Target; both must be active cases."""
        with self.lock:
            ids = []
            for name in ("Target", "Subordinate"):
                ref = payload.get(name) if isinstance(payload, dict) else None
                key = ref.get("incidentid") if isinstance(ref, dict) else None
                if not isinstance(key, str) or not GUID_RE.match(key):
                    raise ApiError(400, BAD_REQUEST, f"Merge needs {name} with an incidentid.")
                ids.append(key)
            target, sub = (self.get("incident", k) for k in ids)
            if target is sub:
                raise ApiError(400, BAD_REQUEST, "A record cannot be merged into itself.")
            for row in (target, sub):
                if row["statecode"] != 0:
                    raise ApiError(400, CASE_CLOSED, "Only active cases can be merged.")
            sub["statecode"], sub["statuscode"] = 2, 2000
            sub["_masterid_value"] = target["incidentid"]
            self._stamp(sub)
            if self.on_case_step is not None:
                # Merge's primary entity is the master (the Target)
                self.on_case_step("Merge", target, [
                    {"key": "Target", "value": reference("incident", target["incidentid"])},
                    {"key": "SubordinateId", "value": sub["incidentid"]},
                    {"key": "PerformParentingChecks", "value": False}], None)

    def delete(self, entity, key):
        with self.lock:
            self.get(entity, key)
            del self.tables[entity][key.lower()]
            self.version += 1
            self.tombstones.append((self.version, entity, key.lower()))

    def changes(self, entity, after, upto):
        """Change tracking: rows whose versionnumber is in (after, upto] and
        the rows deleted in it, in version order: [(version, row or None, id)]."""
        with self.lock:
            out = [(r["versionnumber"], r, k) for k, r in self.tables[entity].items()
                   if after < r["versionnumber"] <= upto]
            out += [(v, None, k) for v, e, k in self.tombstones
                    if e == entity and after < v <= upto]
        return sorted(out, key=lambda x: x[0])


def etag(row):
    return f'W/"{row["versionnumber"]}"'


# ------------------------------------------- RemoteExecutionContext (webhooks)
# The .NET DataContract JSON Dataverse's service endpoints post
# (learn.microsoft.com: "Use webhooks to create external handlers for server
# events", RemoteExecutionContext): collections of {"key", "value"}, option
# sets {"Value"}, lookups {"Id", "LogicalName"}, times "/Date(<ms>)/".

XRM = "http://schemas.microsoft.com/xrm/2011/Contracts"


def option(value):
    return {"__type": f"OptionSetValue:{XRM}", "Value": value}


def reference(table, guid):
    return {"__type": f"EntityReference:{XRM}", "Id": guid, "KeyAttributes": [],
            "LogicalName": table, "Name": None, "RowVersion": None}


def dotnet_date(text):
    try:
        when = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return text  # a seeded value of another form: as it is
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return f"/Date({int(when.timestamp() * 1000)})/"


CASE_COLUMNS = {  # our row's column -> (the SDK attribute, its value)
    "statecode": ("statecode", option),
    "statuscode": ("statuscode", option),
    "_customerid_value": ("customerid", lambda v: reference("contact", v)),
    "_ownerid_value": ("ownerid", lambda v: reference("systemuser", v)),
    "_masterid_value": ("masterid", lambda v: reference("incident", v)),
    "createdon": ("createdon", dotnet_date),
    "title": ("title", lambda v: v),
}


def entity_of(row, columns=None):
    """An incident row as an SDK Entity, with `columns` (all it has: None)."""
    attrs = []
    for column, (name, convert) in CASE_COLUMNS.items():
        if (columns is None or column in columns) and row.get(column) is not None:
            attrs.append({"key": name, "value": convert(row[column])})
    return {"Attributes": attrs, "EntityState": None, "FormattedValues": [],
            "Id": row["incidentid"], "KeyAttributes": [], "LogicalName": "incident",
            "RelatedEntities": [], "RowVersion": None}


def execution_context(message, row, inputs, pre, org_id):
    """The context of a post-operation (stage 40), asynchronous step with a
    pre image and a post image of the case."""
    now = int(time.time() * 1000)
    return {"BusinessUnitId": org_id, "CorrelationId": str(uuid.uuid4()), "Depth": 1,
            "InitiatingUserId": org_id, "InputParameters": inputs,
            "IsExecutingOffline": False, "IsInTransaction": False, "IsOfflinePlayback": False,
            "IsolationMode": 1, "MessageName": message, "Mode": 1,
            "OperationCreatedOn": f"/Date({now})/", "OperationId": str(uuid.uuid4()),
            "OrganizationId": org_id, "OrganizationName": "emulator", "OutputParameters": [],
            "OwningExtension": {"Id": org_id, "LogicalName": "sdkmessageprocessingstep",
                                "Name": f"callbus: {message} of incident"},
            "ParentContext": None,
            "PostEntityImages": [{"key": "PostImage", "value": entity_of(row)}],
            "PreEntityImages": [{"key": "PreImage", "value": entity_of(pre)}] if pre else [],
            "PrimaryEntityId": row["incidentid"], "PrimaryEntityName": "incident",
            "RequestId": str(uuid.uuid4()), "SecondaryEntityName": "none",
            "SharedVariables": [], "Stage": 40, "UserId": org_id}


# ---------------------------------------------------------------- rendering

def render(entity, row, select=None, expand=None, formatted=False, store=None):
    spec = ENTITIES[entity]
    out = {"@odata.etag": etag(row)}
    names = select or [a for a in spec["attrs"]]
    for name in names:
        out[name] = row.get(name)
    out[spec["key"]] = row[spec["key"]]
    if formatted and entity == "incident":
        for name, labels in (("statecode", INCIDENT_STATE), ("caseorigincode", CASE_ORIGIN)):
            if name in out and out[name] in labels:
                out[name + FORMATTED] = labels[out[name]]
        if "statuscode" in out and out["statuscode"] in INCIDENT_STATUS:
            out["statuscode" + FORMATTED] = INCIDENT_STATUS[out["statuscode"]][1]
    for nav, nav_select in (expand or {}).items():
        target_set, lookup = spec["nav"][nav]
        target_id = row.get(lookup)
        target = store.tables[BY_SET[target_set]].get(target_id) if target_id else None
        out[nav] = render(BY_SET[target_set], target, nav_select, None, formatted,
                          store) if target else None
    return out


def parse_select(entity, text):
    if not text:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    for name in names:
        if name not in ENTITIES[entity]["attrs"]:
            raise ApiError(400, BAD_PROPERTY, f"Could not find a property named '{name}' on "
                           f"type 'Microsoft.Dynamics.CRM.{entity}'.")
    return names


def parse_expand(entity, text):
    """``nav($select=a,b)`` items, comma-separated at depth 0."""
    if not text:
        return None
    out, depth, cur = {}, 0, ""
    for ch in text + ",":
        if ch == "," and depth == 0:
            item = cur.strip()
            cur = ""
            if not item:
                continue
            m = re.match(r"^(\w+)(?:\((.*)\))?$", item)
            if not m or m.group(1) not in ENTITIES[entity]["nav"]:
                raise ApiError(400, BAD_PROPERTY, f"Could not find a property named "
                               f"'{item}' on type 'Microsoft.Dynamics.CRM.{entity}'.")
            target = BY_SET[ENTITIES[entity]["nav"][m.group(1)][0]]
            opts = parse_qs(m.group(2).replace(";", "&")) if m.group(2) else {}
            out[m.group(1)] = parse_select(target, (opts.get("$select") or [""])[0])
            continue
        depth += ch == "("
        depth -= ch == ")"
        cur += ch
    return out


def parse_orderby(entity, text):
    keys = []
    for part in [p.strip() for p in (text or "").split(",") if p.strip()]:
        bits = part.split()
        if bits[0] not in ENTITIES[entity]["attrs"] or len(bits) > 2 or (
                len(bits) == 2 and bits[1] not in ("asc", "desc")):
            raise ApiError(400, BAD_PROPERTY, f"Invalid $orderby '{part}'.")
        keys.append((bits[0], len(bits) == 2 and bits[1] == "desc"))
    return keys


def sort_rows(rows, keys):
    for name, desc in reversed(keys):
        present = [r for r in rows if r.get(name) is not None]
        absent = [r for r in rows if r.get(name) is None]
        present.sort(key=lambda r: r[name], reverse=desc)
        rows = absent + present if not desc else present + absent  # nulls sort low
    return rows


def metadata_xml():
    """A CSDL document of the emulated subset (the same table the emulator enforces)."""
    edm = {"str": "Edm.String", "memo": "Edm.String", "int": "Edm.Int32",
           "picklist": "Edm.Int32", "bool": "Edm.Boolean",
           "guid": "Edm.Guid", "datetime": "Edm.DateTimeOffset"}
    parts = ['<?xml version="1.0" encoding="utf-8"?>',
             '<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">',
             '<edmx:DataServices><Schema Namespace="Microsoft.Dynamics.CRM" Alias="mscrm" '
             'xmlns="http://docs.oasis-open.org/odata/ns/edm">']
    for name, spec in ENTITIES.items():
        parts.append(f'<EntityType Name="{name}"><Key><PropertyRef Name="{spec["key"]}"/></Key>')
        for attr, kind in spec["attrs"].items():
            parts.append(f'<Property Name="{attr}" Type="{edm[kind]}"/>')
        for nav, (target, _) in spec["nav"].items():
            parts.append(f'<NavigationProperty Name="{nav}" '
                         f'Type="mscrm.{BY_SET[target]}"/>')
        parts.append("</EntityType>")
    parts.append('<EntityContainer Name="System">')
    for name, spec in ENTITIES.items():
        parts.append(f'<EntitySet Name="{spec["set"]}" EntityType="mscrm.{name}"/>')
    parts.append("</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>")
    return "\n".join(parts)


# AttributeMetadata.AttributeType of our kinds (and of the columns whose
# type is not their JSON kind: state, status, choices, lookups by name).
ATTRIBUTE_TYPES = {"str": "String", "memo": "Memo", "int": "Integer", "picklist": "Picklist",
                   "bool": "Boolean", "guid": "Uniqueidentifier", "datetime": "DateTime"}
SPECIAL_ATTRIBUTE_TYPES = {"statecode": "State", "statuscode": "Status",
                           "caseorigincode": "Picklist", "prioritycode": "Picklist",
                           "customerid": "Customer", "ownerid": "Owner", "objectid": "Lookup",
                           "masterid": "Lookup"}
METADATA_NS = uuid.UUID("5b0c6f4e-3a8d-5c1e-9f27-ca11b05000ff")


def attribute_metadata(entity, select=None):
    """``EntityDefinitions(LogicalName='x')/Attributes``: one AttributeMetadata
    per column (lookups by their logical name, not _x_value), MetadataId always
    returned, other properties as $select asks (Microsoft's "Query table
    definitions using the Web API")."""
    rows = []
    for attr, kind in ENTITIES[entity]["attrs"].items():
        name = attr[1:-len("_value")] if attr.startswith("_") and attr.endswith("_value") else attr
        atype = SPECIAL_ATTRIBUTE_TYPES.get(name, ATTRIBUTE_TYPES[kind])
        full = {"@odata.type": f"#Microsoft.Dynamics.CRM.{atype}AttributeMetadata",
                "LogicalName": name, "SchemaName": name, "AttributeType": atype,
                "EntityLogicalName": entity, "IsCustomAttribute": name.startswith("new_"),
                "MetadataId": str(uuid.uuid5(METADATA_NS, f"{entity}.{name}"))}
        if select:
            unknown = [p for p in select if p not in full]
            if unknown:
                raise ApiError(400, BAD_PROPERTY, f"Could not find a property named "
                               f"'{unknown[0]}' on type 'Microsoft.Dynamics.CRM."
                               "AttributeMetadata'.")
            full = {k: v for k, v in full.items()
                    if k in select or k in ("@odata.type", "MetadataId")}
        rows.append(full)
    return rows


ROUTE_ATTRIBUTES = re.compile(r"^" + re.escape(API) +
                              r"/EntityDefinitions\(LogicalName='(\w+)'\)/Attributes$")


# ------------------------------------------------------------ request model

class Request:
    def __init__(self, method, target, headers, body=b"", client="127.0.0.1"):
        parts = urlsplit(target)
        self.method, self.path, self.raw_query = method.upper(), unquote(parts.path), parts.query
        self.query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        self.headers = {k.lower(): v for k, v in dict(headers or {}).items()}
        # Prefer may come in several header lines (RFC 7240): one list
        if hasattr(headers, "get_all") and headers.get_all("Prefer"):
            self.headers["prefer"] = ",".join(headers.get_all("Prefer"))
        self.body, self.client = body or b"", client

    def json(self):
        if not self.body.strip():
            return None
        try:
            return json.loads(self.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, BAD_REQUEST, "The request body is not valid JSON.") from None

    def prefers(self, what):
        return what in self.headers.get("prefer", "")


ROUTE_SET = re.compile(r"^" + re.escape(API) + r"/(\w+)$")
ROUTE_ONE = re.compile(r"^" + re.escape(API) + r"/(\w+)\(([0-9a-fA-F-]{36})\)$")


# -------------------------------------------------------------- the emulator

class DynamicsEmulator(ServedEmulator):
    THREAD_NAME = "dyn-http"

    def __init__(self, host="127.0.0.1", port=0, tenant="callbus-tenant",
                 client_id="11111111-2222-3333-4444-555555555555", client_secret="secret",
                 verbose=False):
        self.host, self.port, self.verbose = host, port, verbose
        self.store = Store(tenant, client_id, client_secret)
        self.server, self._thread = None, None
        self.webhooks = WebhookSender()
        self.org_id = str(uuid.uuid4())

    def _post_case_step(self, message, row, inputs, pre):
        body = execution_context(message, row, inputs, pre, self.org_id)
        self.webhooks.send(message, json.dumps(body).encode(), self._with_key)

    @staticmethod
    def _with_key(target, body):
        """AuthType WebhookKey: Dataverse appends the key as ?code=."""
        url = target["url"]
        if target.get("key"):
            url += ("&" if "?" in url else "?") + "code=" + quote(str(target["key"]), safe="")
        return url, {}

    # -- lifecycle ----------------------------------------------------------

    def _handler(self):
        return _HttpHandler

    def _started(self):
        self.store.base_url = self.url

    # -- in-process helpers ---------------------------------------------------

    def configure(self, **config):
        with self.store.lock:
            for key, value in config.items():
                if key == "inject":
                    self.store.inject_rules.extend(copy.deepcopy(value))
                elif key == "webhook":
                    try:
                        self.webhooks.configure(value)
                    except ValueError as err:
                        raise ApiError(400, BAD_REQUEST, str(err))
                    # no context is even built while no webhook is set
                    self.store.on_case_step = self._post_case_step if value else None
                elif key == "expire_tokens":
                    if value:
                        self.store.tokens = {t: 0.0 for t in self.store.tokens}
                elif key in DEFAULT_CONFIG:
                    self.store.config[key] = type(DEFAULT_CONFIG[key])(value)
                else:
                    raise ApiError(400, BAD_REQUEST, f"unknown config key {key}")
            return dict(self.store.config)

    def requests(self, since=0):
        with self.store.lock:
            return [copy.deepcopy(e) for e in self.store.log if e["seq"] > since]

    def seed(self, entity, **fields):
        return copy.deepcopy(self.store.create(entity, fields))

    # -- dispatch -------------------------------------------------------------

    def handle(self, req):
        try:
            if req.path.startswith("/__emulator/"):
                return self._control(req)
            if re.match(r"^/[\w.-]+/oauth2/v2\.0/token$", req.path):
                return self._token(req)
            if req.path == API or req.path.startswith(API + "/"):
                return self._api(req)
            return Reply(404, {"error": {"code": "0x80060888", "message": "Resource not found "
                                         f"for the segment '{req.path}'."}})
        except ApiError as err:
            return error_reply(err)
        except Exception:  # an emulator bug must not kill the server
            traceback.print_exc()
            return Reply(500, {"error": {"code": "0x80040216", "message": "emulator bug"}})

    # -- Microsoft Entra ID token endpoint -------------------------------------

    def _token(self, req):
        store = self.store
        tenant = req.path.split("/")[1]
        form = {k: v[-1] for k, v in parse_qs(req.body.decode("utf-8", "replace")).items()}
        rule = self._take_injection(req)
        if rule:
            reply = self._injected_reply(rule)
        elif tenant != store.tenant:
            reply = self._aad_error(400, "invalid_request", 90002,
                                    f"Tenant '{tenant}' not found.")
        elif form.get("grant_type") != "client_credentials":
            reply = self._aad_error(400, "unsupported_grant_type", 70003,
                                    "The app requested an unsupported grant type.")
        elif not form.get("scope", "").endswith("/.default"):
            reply = self._aad_error(400, "invalid_scope", 1002012,
                                    "The provided value for scope is not valid. Client "
                                    "credential flows must have a scope value with /.default.")
        elif form.get("client_id") != store.client_id:
            reply = self._aad_error(400, "unauthorized_client", 700016,
                                    f"Application with identifier '{form.get('client_id')}' "
                                    "was not found in the directory.")
        elif form.get("client_secret") != store.client_secret:
            reply = self._aad_error(401, "invalid_client", 7000215,
                                    "Invalid client secret provided.")
        else:
            with store.lock:
                ttl = int(store.config["token_ttl_s"])
                token = "emu." + secrets.token_urlsafe(24)
                store.tokens[token] = time.monotonic() + ttl
            reply = Reply(200, {"token_type": "Bearer", "expires_in": ttl,
                                "ext_expires_in": ttl, "access_token": token})
        safe = {k: ("***" if k == "client_secret" else v) for k, v in form.items()}
        self._log(req, reply, None, time.monotonic(), body=safe, kind="token")
        return reply

    @staticmethod
    def _aad_error(status, error, code, text):
        return Reply(status, {"error": error, "error_description": f"AADSTS{code}: {text}",
                              "error_codes": [code], "timestamp": iso(time.time()),
                              "trace_id": str(uuid.uuid4()), "correlation_id": str(uuid.uuid4())})

    # -- Web API ------------------------------------------------------------------

    def _authenticated(self, req):
        scheme, _, token = req.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return False, "missing"
        with self.store.lock:
            expiry = self.store.tokens.get(token.strip())
        if expiry is None:
            return False, "invalid"
        if time.monotonic() >= expiry:
            return False, "expired"
        return True, ""

    def _unauthorized(self, why):
        store = self.store
        challenge = (f"Bearer authorization_uri=https://login.microsoftonline.com/"
                     f"{store.tenant}/oauth2/authorize, resource_id={store.base_url}")
        if why != "missing":
            desc = "The access token expired" if why == "expired" else "The token is invalid"
            challenge += f', error="invalid_token", error_description="{desc}"'
        return Reply(401, None, {"WWW-Authenticate": challenge})

    def _api(self, req):
        started = time.monotonic()
        ok, why = self._authenticated(req)
        if not ok:
            reply = self._unauthorized(why)
            self._log(req, reply, False, started)
            return reply
        limited = self._limit_enter(req)
        if limited is not None:
            self._log(req, limited, True, started)
            return limited
        try:
            latency = float(self.store.config["latency_ms"])
            if latency > 0:
                time.sleep(latency / 1000.0)
            reply = run_with_injection(self._take_injection(req),
                                       lambda: self._checked_dispatch(req), self._injected_reply)
        finally:
            self._limit_leave(started)
        reply.headers.setdefault("OData-Version", "4.0")
        self._log(req, reply, True, started)
        return reply

    def _checked_dispatch(self, req):
        if self.store.config["require_odata_version"] and not (
                req.headers.get("odata-version") or req.headers.get("odata-maxversion")):
            return error_reply(ApiError(400, BAD_REQUEST, "OData-Version header missing."))
        try:
            return self._dispatch(req)
        except ApiError as err:
            return error_reply(err)

    def _dispatch(self, req, batch_ids=None):
        path = req.path
        if path in (API, API + "/"):
            return Reply(200, {"@odata.context": f"{self.store.base_url}{API}/$metadata",
                               "value": [{"name": e["set"], "kind": "EntitySet", "url": e["set"]}
                                         for e in ENTITIES.values()]})
        if path == API + "/$metadata" and req.method == "GET":
            return Reply(200, metadata_xml(), ctype="application/xml")
        if path == API + "/$batch":
            if req.method != "POST" or batch_ids is not None:
                raise ApiError(400, BAD_REQUEST, "Batch requests can't contain other batch "
                               "requests.")
            return self._batch(req)
        if path == API + "/CloseIncident" and req.method == "POST":
            self.store.close_incident(req.json())
            return Reply(204)
        if path == API + "/Merge" and req.method == "POST":
            self.store.merge(req.json())
            return Reply(204)
        if path == API + "/WhoAmI" and req.method == "GET":
            return Reply(200, {"UserId": self.store.app_user["systemuserid"]})
        m = ROUTE_ATTRIBUTES.match(path)
        if m and req.method == "GET":
            if m.group(1) not in ENTITIES:
                raise ApiError(404, NOT_FOUND, f"Could not find entity with name "
                               f"'{m.group(1)}'.")
            sel = req.query.get("$select")
            return Reply(200, {"@odata.context": f"{self.store.base_url}{API}/$metadata#"
                               f"EntityDefinitions('{m.group(1)}')/Attributes",
                               "value": attribute_metadata(
                                   m.group(1), sel.split(",") if sel else None)})
        m = ROUTE_ONE.match(path)
        if m and m.group(1) in BY_SET:
            return self._one(req, BY_SET[m.group(1)], m.group(2))
        m = ROUTE_SET.match(path)
        if m and m.group(1) in BY_SET:
            return self._collection(req, BY_SET[m.group(1)])
        raise ApiError(404, BAD_PROPERTY, f"Resource not found for the segment '{path}'.")

    def _tracked(self, req, entity):
        """Change tracking (issue 26 item 3): ``Prefer: odata.track-changes``
        on the first request returns every row, pages of
        ``odata.maxpagesize`` (default 5000) linked by ``@odata.nextLink``
        (``$skiptoken``), the last one with ``@odata.deltaLink``
        (``$deltatoken``); that link, requested later, returns what changed
        since: new or changed rows, deleted ones as
        ``{"@odata.context": ".../$deletedEntity", "id", "reason": "deleted"}``,
        paged the same way. Only ``$select`` with it (400 for ``$filter``,
        ``$orderby``, ``$top``, as Dataverse)."""
        store, spec = self.store, ENTITIES[entity]
        q = req.query
        for bad in ("$filter", "$orderby", "$top", "$expand"):
            if bad in q:
                raise ApiError(400, BAD_REQUEST, f"Change tracking does not support {bad}.")
        m = re.search(r"odata\.maxpagesize=(\d+)", req.headers.get("prefer", ""))
        size = max(1, min(5000, int(m.group(1)))) if m else 5000
        select = parse_select(entity, q.get("$select"))
        with store.lock:
            if "$skiptoken" in q or "$deltatoken" in q:
                token = q.get("$skiptoken") or q.get("$deltatoken")
                parts = token.split("!")
                if not all(re.match(r"^\d+$", x) for x in parts) or len(parts) > 2:
                    raise ApiError(400, BAD_REQUEST, "The delta token is invalid.")
                after = int(parts[0])
                upto = int(parts[1]) if len(parts) == 2 else store.version
            else:
                after, upto = 0, store.version
            changed = store.changes(entity, after, upto)
            page = changed[:size]
            base = f"{store.base_url}{API}/{spec['set']}"
            sel = f"$select={q['$select']}&" if q.get("$select") else ""
            value = []
            for _, row, key in page:
                if row is None:
                    value.append({"@odata.context": f"{store.base_url}{API}/$metadata#"
                                  f"{spec['set']}/$deletedEntity", "id": key,
                                  "reason": "deleted"})
                else:
                    value.append(render(entity, row, select, None, False, store))
            body = {"@odata.context": f"{store.base_url}{API}/$metadata#{spec['set']}",
                    "value": value}
            if len(changed) > size:
                body["@odata.nextLink"] = f"{base}?{sel}$skiptoken={page[-1][0]}!{upto}"
            else:
                body["@odata.deltaLink"] = f"{base}?{sel}$deltatoken={upto}"
        return Reply(200, body, headers={"Preference-Applied": "odata.track-changes"})

    def _collection(self, req, entity):
        store, spec = self.store, ENTITIES[entity]
        formatted = req.prefers("odata.include-annotations")
        if req.method == "GET" and (req.prefers("odata.track-changes") or "$deltatoken" in
                                    req.query or "$skiptoken" in req.query):
            return self._tracked(req, entity)
        if req.method == "GET":
            select = parse_select(entity, req.query.get("$select"))
            expand = parse_expand(entity, req.query.get("$expand"))
            keys = parse_orderby(entity, req.query.get("$orderby"))
            pred = (FilterParser(req.query["$filter"], entity).parse()
                    if req.query.get("$filter") else (lambda r: True))
            top = req.query.get("$top")
            if top is not None and not re.match(r"^\d+$", top):
                raise ApiError(400, BAD_PROPERTY, f"Invalid value '{top}' for $top.")
            with store.lock:
                rows = sort_rows([r for r in store.tables[entity].values() if pred(r)], keys)
                count = len(rows)
                if top is not None:
                    rows = rows[:int(top)]
                body = {"@odata.context": f"{store.base_url}{API}/$metadata#{spec['set']}",
                        "value": [render(entity, r, select, expand, formatted, store)
                                  for r in rows]}
            if req.query.get("$count") == "true":
                body["@odata.count"] = count
            return Reply(200, body)
        if req.method == "POST":
            row = store.create(entity, req.json())
            return self._written(req, entity, row, 201)
        raise ApiError(405, BAD_REQUEST, f"{req.method} is not supported on a collection.")

    def _written(self, req, entity, row, status):
        spec = ENTITIES[entity]
        entity_id = f"{self.store.base_url}{API}/{spec['set']}({row[spec['key']]})"
        if req.prefers("return=representation"):
            select = parse_select(entity, req.query.get("$select"))
            with self.store.lock:
                body = render(entity, row, select, None, req.prefers("odata.include-annotations"),
                              self.store)
            body["@odata.context"] = f"{self.store.base_url}{API}/$metadata#{spec['set']}/$entity"
            return Reply(status if status == 201 else 200, body,
                         {"Preference-Applied": "return=representation"})
        return Reply(204, None, {"OData-EntityId": entity_id})

    def _one(self, req, entity, key):
        store = self.store
        if req.method == "GET":
            select = parse_select(entity, req.query.get("$select"))
            expand = parse_expand(entity, req.query.get("$expand"))
            with store.lock:
                row = store.get(entity, key)
                body = render(entity, row, select, expand,
                              req.prefers("odata.include-annotations"), store)
            body["@odata.context"] = (f"{store.base_url}{API}/$metadata#"
                                      f"{ENTITIES[entity]['set']}/$entity")
            return Reply(200, body)
        if req.method == "PATCH":
            row = store.update(entity, key, req.json() or {}, req.headers.get("if-match"))
            return self._written(req, entity, row, 204)
        if req.method == "DELETE":
            store.delete(entity, key)
            return Reply(204)
        raise ApiError(405, BAD_REQUEST, f"{req.method} is not supported on a record.")

    # -- $batch -------------------------------------------------------------------

    def _batch(self, req):
        ctype = req.headers.get("content-type", "")
        boundary = multipart_boundary(ctype)
        if not ctype.startswith("multipart/mixed") or not boundary:
            raise ApiError(400, BAD_REQUEST, "A $batch request needs Content-Type "
                           "multipart/mixed with a boundary.")
        items = parse_multipart(req.body, boundary)
        total = sum(len(i["parts"]) if i["changeset"] else 1 for i in items)
        if total > BATCH_MAX:
            raise ApiError(400, BAD_REQUEST, f"The number of requests in a batch exceeds "
                           f"{BATCH_MAX}.")
        if self.store.config["batch_counts_inner"] and total > 1:
            limited = self._count_extra(total - 1)
            if limited is not None:
                return limited
        continue_on_error = req.prefers("odata.continue-on-error")
        out_boundary = "batchresponse_" + str(uuid.uuid4())
        chunks, stopped = [], False
        for item in items:
            if stopped:
                break
            if item["changeset"]:
                text, failed = self._changeset(req, item["parts"])
                chunks.append(text)
            else:
                reply = self._inner(req, item["parts"][0], {})
                chunks.append(http_part(reply, None))
                failed = reply.status >= 400
            stopped = failed and not continue_on_error
        body = "".join(f"--{out_boundary}\r\n{c}" for c in chunks) + f"--{out_boundary}--\r\n"
        return Reply(200, body.encode("utf-8"),
                     ctype=f"multipart/mixed; boundary={out_boundary}")

    def _changeset(self, outer, parts):
        """Atomic: every part applied, or (first failure) none, answered by that failure."""
        store = self.store
        cs_boundary = "changesetresponse_" + str(uuid.uuid4())
        with store.lock:
            saved = copy.deepcopy((store.tables, store.version, store.case_seq))
            ids, replies = {}, []
            for part in parts:
                if part["method"] == "GET":
                    reply = error_reply(ApiError(400, BAD_REQUEST, "GET requests can't be "
                                                 "included in a change set."))
                else:
                    reply = self._inner(outer, part, ids)
                if reply.status >= 400:
                    store.tables, store.version, store.case_seq = saved
                    return http_part(reply, part.get("content_id")), True
                replies.append((reply, part.get("content_id")))
        inner = "".join(f"--{cs_boundary}\r\n{http_part(r, cid)}" for r, cid in replies)
        text = (f"Content-Type: multipart/mixed; boundary={cs_boundary}\r\n\r\n"
                f"{inner}--{cs_boundary}--\r\n")
        return text, False

    def _inner(self, outer, part, ids):
        target = part["url"]
        for cid, url in ids.items():  # $n references a record created earlier in the change set
            target = re.sub(r"(?<![\w])\$" + re.escape(cid) + r"(?![\w])", url, target)
        body = part["body"]
        if ids and body:
            text = body.decode("utf-8", "replace")
            for cid, url in ids.items():
                rel = "/" + url.split(API + "/", 1)[-1]
                text = text.replace(f'"${cid}"', json.dumps(rel))
            body = text.encode("utf-8")
        parsed = urlsplit(target)
        path = parsed.path if parsed.path.startswith(API) else f"{API}/{parsed.path.lstrip('/')}"
        sub = Request(part["method"], path + (f"?{parsed.query}" if parsed.query else ""),
                      {**outer.headers, **part["headers"]}, body, outer.client)
        def dispatch():
            try:
                return self._dispatch(sub, batch_ids=ids)
            except ApiError as err:
                return error_reply(err)
        # Fail-next rules reach the operations inside a $batch too (matched on
        # the operation's own method and path), so a test can fail one change
        # set of a batch and see the others applied.
        reply = run_with_injection(self._take_injection(sub), dispatch, self._injected_reply)
        cid = part.get("content_id")
        if cid and reply.status < 400:
            entity_id = reply.headers.get("OData-EntityId")
            if not entity_id and isinstance(reply.body, dict) and "@odata.etag" in reply.body:
                m = ROUTE_SET.match(path)
                if m:
                    key = ENTITIES[BY_SET[m.group(1)]]["key"]
                    entity_id = f"{self.store.base_url}{path}({reply.body[key]})"
            if entity_id:
                ids[cid] = entity_id
        return reply

    # -- service protection -------------------------------------------------------

    def _limit_reply(self, which, retry):
        store = self.store
        n = {"requests": store.config["requests_per_window"],
             "time": store.config["execution_ms_per_window"],
             "concurrency": store.config["max_concurrent"]}[which]
        code, text = LIMIT_ERRORS[which]
        message = text.format(n=n, w=int(store.config["window_s"]))
        return Reply(429, {"error": {"code": code, "message": message}},
                     {"Retry-After": str(max(1, int(math.ceil(retry))))})

    def _trim(self, now):
        store = self.store
        window = float(store.config["window_s"])
        while store.hits and store.hits[0] <= now - window:
            store.hits.popleft()
        while store.exec_ms and store.exec_ms[0][0] <= now - window:
            store.exec_ms.popleft()
        return window

    def _limit_enter(self, req):
        store, now = self.store, time.monotonic()
        with store.lock:
            window = self._trim(now)
            limit = int(store.config["requests_per_window"])
            if limit > 0 and len(store.hits) >= limit:
                return self._limit_reply("requests", store.hits[0] + window - now)
            budget = int(store.config["execution_ms_per_window"])
            if budget > 0 and sum(ms for _, ms in store.exec_ms) >= budget:
                return self._limit_reply("time", store.exec_ms[0][0] + window - now)
            conc = int(store.config["max_concurrent"])
            if conc > 0 and store.in_flight >= conc:
                return self._limit_reply("concurrency", 1)
            store.hits.append(now)
            store.in_flight += 1
        return None

    def _count_extra(self, n):
        store, now = self.store, time.monotonic()
        with store.lock:
            window = self._trim(now)
            limit = int(store.config["requests_per_window"])
            if limit > 0 and len(store.hits) + n > limit:
                return self._limit_reply("requests", store.hits[0] + window - now)
            store.hits.extend([now] * n)
        return None

    def _limit_leave(self, started):
        store = self.store
        with store.lock:
            store.in_flight -= 1
            store.exec_ms.append((time.monotonic(), (time.monotonic() - started) * 1000.0))

    # -- error injection ------------------------------------------------------------

    def _take_injection(self, req):
        return take_injection(self.store.lock, self.store.inject_rules, req.method, req.path)

    @staticmethod
    def _injected_reply(rule):
        status = int(rule.get("status", 503))
        default = {429: LIMIT_ERRORS["requests"][0], 401: None}.get(status, "0x80040216")
        body = rule.get("body", {"error": {"code": default, "message": f"Injected {status}"}}
                        if default else None)
        headers = dict(rule.get("headers") or {})
        if status == 429 or "retry_after" in rule:
            headers.setdefault("Retry-After", str(rule.get("retry_after", 1)))
        return Reply(status, body, headers)

    # -- request log -------------------------------------------------------------------

    def _log(self, req, reply, authorized, started, body=None, kind="api"):
        store = self.store
        if body is None:
            if req.headers.get("content-type", "").startswith("application/json"):
                try:
                    body = req.json()
                except ApiError:
                    body = req.body.decode("utf-8", "replace")
            elif req.body:
                body = req.body.decode("utf-8", "replace")
        with store.lock:
            store.log_seq += 1
            store.log.append({
                "seq": store.log_seq, "at": iso(time.time()), "kind": kind,
                "method": req.method, "path": req.path, "query": req.raw_query,
                "query_params": dict(req.query),
                "headers": {k: req.headers.get(k) for k in (
                    "content-type", "accept", "odata-version", "odata-maxversion", "prefer",
                    "if-match", "user-agent")},
                "authorization_present": "authorization" in req.headers,
                "authenticated": authorized, "body": body, "status": reply.status,
                "response": reply.body if isinstance(reply.body, (dict, list)) else None,
                "elapsed_ms": round((time.monotonic() - started) * 1000.0, 2)})

    # -- control API --------------------------------------------------------------------

    def _control(self, req):
        path, store = req.path, self.store
        if path == "/__emulator/health":
            return Reply(200, {"ok": True})
        if path == "/__emulator/reset" and req.method == "POST":
            store.reset()
            return Reply(200, {"ok": True})
        if path == "/__emulator/requests" and req.method == "GET":
            return Reply(200, {"requests": self.requests(int(req.query.get("since", 0)))})
        if path == "/__emulator/config":
            if req.method == "POST":
                self.configure(**(req.json() or {}))
            with store.lock:
                return Reply(200, {"config": dict(store.config),
                                   "inject": copy.deepcopy(store.inject_rules),
                                   "tenant": store.tenant, "client_id": store.client_id})
        if path == "/__emulator/state" and req.method == "GET":
            with store.lock:
                return Reply(200, {name: list(copy.deepcopy(t).values())
                                   for name, t in store.tables.items()})
        if path == "/__emulator/merge" and req.method == "POST":
            # an agent's merge in the CRM's UI: the Merge action's body, no token
            store.merge(req.json())
            return Reply(200, {})
        m = re.match(r"^/__emulator/seed/(\w+)$", path)
        if m and req.method == "POST" and m.group(1) in ENTITIES:
            return Reply(201, self.seed(m.group(1), **(req.json() or {})))
        raise ApiError(404, BAD_PROPERTY, f"no control endpoint {req.method} {path}")


# --------------------------------------------------------------- multipart

def multipart_boundary(ctype):
    m = re.search(r'boundary="?([^";]+)"?', ctype or "")
    return m.group(1) if m else None


def _split_headers(blob):
    head, _, rest = blob.partition(b"\r\n\r\n")
    headers = {}
    for line in head.decode("utf-8", "replace").split("\r\n"):
        if ":" in line:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
    return headers, rest


def _parts(body, boundary):
    delim = b"--" + boundary.encode()
    pieces = body.split(delim)
    if len(pieces) < 3 or not pieces[-1].startswith(b"--"):
        raise ApiError(400, BAD_REQUEST, "The batch body is not a complete multipart message.")
    out = []
    for piece in pieces[1:-1]:
        if piece.startswith(b"\r\n"):
            piece = piece[2:]
        if piece.endswith(b"\r\n"):
            piece = piece[:-2]
        out.append(piece)
    return out


def _http_request(headers, blob):
    """An application/http part: request line, headers, blank line, body."""
    if headers.get("content-type", "").split(";")[0].strip() != "application/http":
        raise ApiError(400, BAD_REQUEST, "Each batch part needs Content-Type application/http.")
    line, _, rest = blob.partition(b"\r\n")
    m = re.match(r"^(GET|POST|PATCH|PUT|DELETE) (\S+) HTTP/1\.1$", line.decode("utf-8", "replace"))
    if not m:
        raise ApiError(400, BAD_REQUEST, f"Bad request line in batch part: {line[:80]!r}")
    if rest.startswith(b"\r\n"):  # no headers at all
        inner_headers, body = {}, rest[2:]
    else:
        inner_headers, body = _split_headers(rest)
    return {"method": m.group(1), "url": m.group(2), "headers": inner_headers,
            "body": body.rstrip(b"\r\n"), "content_id": headers.get("content-id")}


def parse_multipart(body, boundary):
    items = []
    for part in _parts(body, boundary):
        headers, rest = _split_headers(part)
        ctype = headers.get("content-type", "")
        if ctype.startswith("multipart/mixed"):
            inner = multipart_boundary(ctype)
            if not inner:
                raise ApiError(400, BAD_REQUEST, "A change set needs a boundary.")
            sub = []
            for p in _parts(rest, inner):
                h, r = _split_headers(p)
                req = _http_request(h, r)
                if not req["content_id"]:
                    raise ApiError(400, BAD_PROPERTY, "Content-ID header not present in a "
                                   "change set part.")
                sub.append(req)
            items.append({"changeset": True, "parts": sub})
        else:
            items.append({"changeset": False, "parts": [_http_request(headers, rest)]})
    return items


REASONS = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request",
           401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
           412: "Precondition Failed", 429: "Too Many Requests", 500: "Internal Server Error",
           503: "Service Unavailable"}


def http_part(reply, content_id):
    head = "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
    if content_id:
        head += f"Content-ID: {content_id}\r\n"
    lines = [f"HTTP/1.1 {reply.status} {REASONS.get(reply.status, 'Status')}"]
    data = b""
    if reply.body is not None:
        data = json.dumps(reply.body).encode() if isinstance(reply.body, (dict, list)) else (
            reply.body if isinstance(reply.body, bytes) else str(reply.body).encode())
        lines.append("Content-Type: application/json; odata.metadata=minimal")
    lines.append("OData-Version: 4.0")
    for k, v in reply.headers.items():
        lines.append(f"{k}: {v}")
    return head + "\r\n" + "\r\n".join(lines) + "\r\n\r\n" + data.decode("utf-8") + "\r\n"


# ------------------------------------------------------------ HTTP plumbing

class _HttpHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "dynamics-emulator/1.0"

    def _handle(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > MAX_BODY:
            self._write(Reply(413, {"error": {"code": BAD_REQUEST, "message": "too large"}}))
            return
        body = self.rfile.read(length) if length else b""
        req = Request(self.command, self.path, self.headers, body, self.client_address[0])
        reply = self.server.emulator.handle(req)
        if self.server.emulator.verbose:
            sys.stderr.write(f"{self.command} {self.path} -> {reply.status}\n")
        self._write(reply)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

    def _write(self, reply):
        if reply.body is None:
            data, ctype = b"", None
        elif isinstance(reply.body, (bytes, str)):
            data = reply.body.encode() if isinstance(reply.body, str) else reply.body
            ctype = reply.ctype or "text/plain"
        else:
            data = json.dumps(reply.body).encode("utf-8")
            ctype = "application/json; odata.metadata=minimal; charset=utf-8"
        self.send_response(reply.status)
        if ctype:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for key, value in reply.headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        pass


def main(argv=None):
    parser = argparse.ArgumentParser(description="Dynamics 365 / Dataverse Web API emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = pick a free port")
    parser.add_argument("--tenant", default="callbus-tenant")
    parser.add_argument("--client-id", default="11111111-2222-3333-4444-555555555555")
    parser.add_argument("--client-secret", default="secret")
    parser.add_argument("--port-file", help="write the chosen port to this file")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    emulator = DynamicsEmulator(args.host, args.port, args.tenant, args.client_id,
                                args.client_secret, args.verbose).start()
    return serve_until_signal(emulator, args.port_file, "dynamics-emulator")


if __name__ == "__main__":
    sys.exit(main())
