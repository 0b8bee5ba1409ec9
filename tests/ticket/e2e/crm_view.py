"""A CRM-neutral view of the CRM emulators' state for the scenario tests
(issue 13 item 5): the same scenario reads tickets, comments and contacts,
seeds contacts, tickets and agents, injects failures and builds
ticket-service's settings the same way whether ticket-service talks to
Zendesk (tests/emulators/zendesk/zendesk_emulator.py) or Dynamics 365
(tests/emulators/dynamics/dynamics_emulator.py). One implementation per
emulator; nothing here is copied from the emulators, it reads their stores.

Neutral shapes (ids are strings: Zendesk's numbers, Dynamics' GUIDs):

  ticket   {"id", "subject", "status", "assignee", "requester", "external_id",
            "tags", "fields", "comments": [{"body", "public"}]}
           status is Zendesk's vocabulary (new open pending hold solved
           closed); Dynamics' statecode/statuscode map onto it as
           docs/dynamics.md says. assignee is the agent's crm id, None when
           unassigned (Dynamics: owned by the application user). external_id
           is None where the CRM has no such thing (Dynamics: the case id
           itself is derived from the external id); tags on Dynamics are the
           call markers of the marker column (callbus_call, callbus_missed,
           ...: not "callbus" nor "callbus-<call>", docs/dynamics.md); fields are the
           custom fields set, by FIELD_MAP's Zendesk id, values as strings.
  contact  {"id", "name", "email", "phones": [...], "created"} (Zendesk's
           contacts_with_phone adds the user's "role")
  agent    {"provider_id", "crm_id", "name"}: what canonical events carry
           (the ingest agent map's output, R-I3).
"""
from __future__ import annotations

import copy
import functools
import json
import os
import re
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "emulators", "dynamics"))

from dynamics_emulator import API as DYN_API  # noqa: E402
from dynamics_emulator import DynamicsEmulator  # noqa: E402

CRMS = ("zendesk", "dynamics")
# CALLBUS_DYNAMICS_MARKER_COLUMN's default: the call markers (R-M1, R-M3)
MARKER_COLUMN = "new_callbusmarkers"
COUNTRY_CODE = "39"  # CALLBUS_DEFAULT_COUNTRY=IT in every e2e ticket-service

# The agents of the scenarios (provider side ids and names are the same for
# both CRMs; the crm ids are each CRM's own).
AGENT_NAMES = (("1042", "Agent One"), ("1077", "Agent Two"), ("1099", "Agent Three"))
ZENDESK_AGENT_IDS = ("900001", "900002", "900003")  # the Zendesk emulator's preset agents
UNMAPPED = {"provider_id": "5555", "name": "Temp Operator"}  # no crm_id: R-I3


def digits(text):
    return re.sub(r"\D", "", text or "")


def national(number):
    """+39XXXXXXXX -> XXXXXXXX: the national look-up form of R-I2 for the
    tests' Italian numbers (cmn_phone_lookup_form keeps the trunk 0 of
    landlines, which is part of the Italian national number)."""
    d = digits(number)
    return d[len(COUNTRY_CODE):] if d.startswith(COUNTRY_CODE) else d


# ------------------------------------------------------- which CRMs run

def crms_to_run():
    """CALLBUS_E2E_CRMS (comma separated; CMake sets it per build)."""
    wanted = [c.strip() for c in os.environ.get("CALLBUS_E2E_CRMS", ",".join(CRMS)).split(",")]
    return [c for c in CRMS if c in wanted]


@functools.lru_cache(maxsize=None)
def binary_supports(crm, binary):
    """Whether `binary --config-markdown` offers CALLBUS_CRM (and, for
    Dynamics, its settings): a ticket-service built before the adapter layer
    cannot be pointed at Dynamics."""
    if crm == "zendesk":
        return True
    try:
        out = subprocess.run([binary, "--config-markdown"], capture_output=True, text=True,
                             timeout=20).stdout
    except OSError:
        return False
    return "`CALLBUS_CRM`" in out and "`CALLBUS_DYNAMICS_URL`" in out


def crm_params(binary):
    """pytest params over the CRMs to run; Dynamics skipped, with the reason,
    while the binary has no Dynamics adapter."""
    import pytest
    params = []
    for crm in crms_to_run():
        marks = []
        if not binary_supports(crm, binary):
            marks.append(pytest.mark.skip(
                reason=f"{os.path.basename(binary)} --config-markdown lists no CALLBUS_CRM / "
                       "CALLBUS_DYNAMICS_URL: built without the Dynamics adapter (issue 13)"))
        params.append(pytest.param(crm, marks=marks, id=crm))
    return params


class _View:
    """What both views share: fail injection through the emulators' common
    rule format (tests/emulators/zendesk/emulator_common.py); each view names its
    operations' paths (_PATHS) and how a rule is added (_add_rule)."""

    _PATHS = {}

    def fail_next(self, op, status, count=1, retry_after=None):
        """The next `count` requests of `op` (a key of _PATHS: lookup,
        create_ticket, any...) answer `status` (429 with Retry-After, 5xx, 401)."""
        method, regex = self._PATHS[op]
        rule = {"path_regex": regex, "status": status, "count": count}
        if method:
            rule["method"] = method
        if retry_after is not None:
            rule["retry_after"] = retry_after
        self._add_rule(rule)

    def _add_rule(self, rule):
        raise NotImplementedError


# The custom-field mapping of the e2e settings (R-T9, R-T8, R-T12): per
# mapping name, the Zendesk emulator's preset field id and the Dynamics
# emulator's incident column (its new_* columns). Neutral tickets' "fields"
# are keyed by the Zendesk id on both CRMs.
FIELD_MAP = (("session_type", 1001, "new_sessiontype"), ("from_number", 1002, "new_fromnumber"),
             ("call_duration", 1003, "new_callduration"), ("wait_time", 1004, "new_waittime"),
             ("queue_name", 1005, "new_queuename"), ("call_id", 1006, "new_callid"),
             ("hold_time", 1007, "new_holdtime"), ("ticket_type", 1008, "new_tickettype"),
             ("csat", 1009, "new_csat"))


# --------------------------------------------------------------- Zendesk

class ZendeskView(_View):
    """The Zendesk emulator (tests/ticket/e2e/e2e.py's Emulator) seen neutrally."""

    name = "zendesk"
    has_fields = True      # custom fields (R-T9) are mapped in the e2e settings
    has_merge = True       # a person can merge tickets (R-T7)
    closed = "closed"      # how a ticket callbus closed (R-M3 a, R-T4's idle leg) reads

    def __init__(self, emu, base_url=None):
        self.emu = emu
        self.base = base_url or emu.url
        self.agents = [{"provider_id": p, "crm_id": c, "name": n}
                       for (p, n), c in zip(AGENT_NAMES, ZENDESK_AGENT_IDS)]

    # -- settings -----------------------------------------------------------

    def service_env(self):
        from e2e import zendesk_env  # e2e imports this module
        return zendesk_env(self.emu)

    # -- URLs (what ticket-service announces; pop-service pops them) --------

    def ticket_url(self, tid):
        return f"{self.base}/agent/tickets/{tid}"

    def contact_url(self, cid):
        return f"{self.base}/agent/users/{cid}"

    def example_id(self, n):
        """Record number n as an id of this CRM's shape (made-up records)."""
        return str(n)

    # -- reading -------------------------------------------------------------

    @staticmethod
    def _ticket(view):
        if view is None:
            return None
        return {"id": str(view["id"]), "subject": view["subject"], "status": view["status"],
                "assignee": None if view["assignee_id"] is None else str(view["assignee_id"]),
                "requester": str(view["requester_id"]), "external_id": view.get("external_id"),
                "tags": list(view.get("tags") or []),
                "fields": {f["id"]: f["value"] for f in view.get("custom_fields") or []},
                "comments": [{"body": c["body"], "public": bool(c["public"])}
                             for c in view["comments"]]}

    def ticket(self, tid):
        return self._ticket(self.emu.ticket(int(tid)))

    def tickets_of_call(self, call_id):
        """Tickets created for the call (external id callbus-<call id>[-n])."""
        return [self._ticket(v) for v in self.emu.tickets_of_call(call_id)]

    @staticmethod
    def case_number(ticket):
        """What a caller is told of a ticket (R-V1): its id."""
        return ticket["id"]

    def tickets_of_contact(self, cid):
        """Every ticket the contact requested, whoever made it, oldest first."""
        return [self._ticket(v) for v in self.emu.tickets(requester_id=int(cid))]

    def contacts_with_phone(self, number):
        return [{"id": str(u["id"]), "name": u.get("name"), "email": u.get("email"),
                 "phones": [u.get("phone")], "created": u.get("created_at"),
                 "role": u.get("role")} for u in self.emu.users_with_phone(number)]

    def marker_count(self, event_id):
        marker = f"[callbus {event_id}/"
        with self.emu.store.lock:
            return sum(c["body"].count(marker) for cs in self.emu.store.comments.values()
                       for c in cs)

    def comment_bodies(self):
        """Every comment's text, of every ticket (the fault table's marker census)."""
        with self.emu.store.lock:
            return [c["body"] for cs in self.emu.store.comments.values() for c in cs]

    def tickets_tagged(self, tag):
        """Every ticket carrying the tag (R-M1's callbus_missed...), oldest first."""
        with self.emu.store.lock:
            ids = [tid for tid, t in sorted(self.emu.store.tickets.items())
                   if tag in (t.get("tags") or [])]
        return [self.ticket(tid) for tid in ids]

    def call_ticket_ids(self):
        """{call id: [ticket ids]} of the tickets made for a call (external
        id exactly callbus-<call id>), every call at once: a second ticket
        of one call is a duplicate."""
        return {ext[len("callbus-"):]: [str(t) for t in tids]
                for ext, tids in self.emu.tickets_by_external_id().items()}

    # -- the request log ------------------------------------------------------

    def mark(self):
        return self.emu.mark()

    def requests(self, since=0):
        return self.emu.requests(since)

    def lookups(self, since, number):
        """Requests since `since` that looked the number's contact up."""
        d = digits(number)
        return [e for e in self.emu.requests(since) if e["path"].startswith("/api/v2/search")
                and d in (e["query_params"].get("query") or "")]

    def lookups_arrived_since(self, t0):
        """Contact look-ups that reached the CRM after monotonic t0 (before latency)."""
        return [a for a in list(self.emu.arrivals)
                if a[0] >= t0 and a[2].startswith("/api/v2/search")]

    def writes(self, since):
        return [e for e in self.emu.requests(since) if e["method"] in ("POST", "PUT", "PATCH")]

    def status_reads(self, since, tid):
        """Reads of ticket tid since `since` (R-T2/R-O1, issue 25 item 2):
        its show, or a show_many naming it."""
        tid = str(tid)
        return [e for e in self.emu.requests(since) if e["method"] == "GET" and (
            e["path"] == f"/api/v2/tickets/{tid}.json" or
            (e["path"] == "/api/v2/tickets/show_many.json" and
             tid in str(e["query_params"].get("ids") or "").split(",")))]

    def requests_mentioning(self, since, number):
        d = digits(number)
        return [e for e in self.emu.requests(since) if d in json.dumps(e)]

    # -- seeding and people's actions ------------------------------------------

    def seed_contact(self, name, number, email=None, created_at=None, formatted=False):
        """A contact with the phone as Zendesk users keep it (E.164, or with
        spaces when `formatted`: the look-up matches digits)."""
        phone = number
        if formatted:
            d = number[1:]
            phone = f"+{d[:2]} {d[2:5]} {d[5:9]} {d[9:]}"
        fields = {"name": name, "phone": phone}
        if email:
            fields["email"] = email
        if created_at:
            fields["created_at"] = created_at
        u = self.emu.seed_user(**fields)
        return {"id": str(u["id"]), "name": u["name"], "email": u.get("email"),
                "phones": [u.get("phone")], "created": u.get("created_at")}

    def seed_ticket(self, subject, requester, status="open", created_at=None):
        fields = {"subject": subject, "requester_id": int(requester), "status": status}
        if created_at:
            fields["created_at"] = created_at
        t = self.emu.seed_ticket(**fields)
        return self.ticket(t["id"])

    def set_status(self, tid, status):
        self.emu.set_status(int(tid), status)

    def merge(self, source, target):
        self.emu.merge(int(source), int(target))

    # -- failures and speed ------------------------------------------------------

    _PATHS = {"lookup": ("GET", r"^/api/v2/search"),
              "create_ticket": ("POST", r"^/api/v2/tickets(\.json)?$"),
              "any": (None, r"^/api/")}

    def _add_rule(self, rule):
        self.emu.configure(fail_next=list(self.emu.store.inject_rules) + [rule])

    def clear_failures(self):
        """Every injected failure gone (the rest of the configuration kept)."""
        self.emu.configure(fail_next=[])

    def set_latency(self, ms):
        self.emu.configure(latency_ms=ms)

    def restore_defaults(self):
        self.emu.restore_defaults()


# --------------------------------------------------------------- Dynamics

# statecode/statuscode <-> the neutral (Zendesk) statuses (docs/dynamics.md).
DYN_STATUS_OUT = {(0, 1): "open", (0, 2): "hold", (0, 3): "pending", (0, 4): "open"}
DYN_STATUS_IN = {"new": (0, 1), "open": (0, 1), "hold": (0, 2), "pending": (0, 3),
                 "solved": (1, 5), "closed": (2, 6)}


class DynEmulator(DynamicsEmulator):
    """The Dynamics emulator plus a record of when Web API requests arrived
    (before any latency: its request log is written once they are answered)
    and a return to the e2e defaults between tests."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.arrivals = []      # [(monotonic, method, path)]
        self._arrivals_lock = threading.Lock()

    def _api(self, req):
        with self._arrivals_lock:
            self.arrivals.append((time.monotonic(), req.method, req.path))
        return super()._api(req)

    def restore_defaults(self):
        with self.store.lock:
            self.store.inject_rules.clear()
        self.configure(latency_ms=0, requests_per_window=6000, window_s=300.0,
                       execution_ms_per_window=1200000, max_concurrent=52, token_ttl_s=3599)


def make_dynamics_emulator():
    emu = DynEmulator("127.0.0.1", 0).start()
    emu.restore_defaults()
    return emu


class DynamicsView(_View):
    """The Dynamics emulator seen neutrally. `ticket_events` (a callable
    returning ticket-events' messages as [(key, value)]) tells which cases
    are a call's: Dataverse keeps no external id column, the adapter derives
    the case's GUID from it (docs/dynamics.md)."""

    name = "dynamics"
    has_fields = True      # custom fields (R-T9) are mapped onto incident columns
    has_merge = True       # the emulator's Merge action (R-T7)
    # Dataverse closes a case only through CloseIncident, which resolves it:
    # what callbus closes reads Resolved, "solved" (docs/dynamics.md).
    closed = "solved"

    def __init__(self, emu, base_url=None, ticket_events=None):
        self.emu = emu
        self.base = base_url or emu.url
        self.ticket_events = ticket_events
        by_name = {u["fullname"]: u["systemuserid"] for u in emu.store.agents} if emu else {}
        self.agents = [{"provider_id": p, "crm_id": by_name.get(n, "%08d-0000-4000-8000-%012d"
                                                               % (i + 1, i + 1)), "name": n}
                       for i, (p, n) in enumerate(AGENT_NAMES)]

    # -- settings -----------------------------------------------------------

    def service_env(self):
        s = self.emu.store
        return {"CALLBUS_CRM": "dynamics", "CALLBUS_DYNAMICS_URL": self.emu.url,
                "CALLBUS_DYNAMICS_AUTHORITY": self.emu.url,
                "CALLBUS_DYNAMICS_TENANT_ID": s.tenant,
                "CALLBUS_DYNAMICS_CLIENT_ID": s.client_id,
                "CALLBUS_DYNAMICS_CLIENT_SECRET": s.client_secret,
                "CALLBUS_DYNAMICS_PHONE_ATTRS": "telephone1,mobilephone",
                "CALLBUS_CRM_LOOKUP_FORM": "national",
                "CALLBUS_CRM_ALLOW_PLAIN_HTTP": "true",
                "CALLBUS_DYNAMICS_MARKER_COLUMN": MARKER_COLUMN,
                "CALLBUS_TICKET_FIELDS": ",".join(f"{n}={col}" for n, _, col in FIELD_MAP)}

    # -- URLs -------------------------------------------------------------------

    def ticket_url(self, tid):
        return f"{self.base}/main.aspx?pagetype=entityrecord&etn=incident&id={tid}"

    def contact_url(self, cid):
        return f"{self.base}/main.aspx?pagetype=entityrecord&etn=contact&id={cid}"

    def example_id(self, n):
        return "%08x-0000-4000-8000-%012d" % (0xCA5E0000 + n % 0x10000, n)

    # -- reading ---------------------------------------------------------------

    def _app_user(self):
        return self.emu.store.app_user["systemuserid"]

    def _notes(self, tid):
        notes = [n for n in self.emu.store.tables["annotation"].values()
                 if n.get("_objectid_value") == tid]
        return sorted(notes, key=lambda n: (n["createdon"], n["versionnumber"]))

    def _ticket(self, row):
        state = (row.get("statecode"), row.get("statuscode"))
        status = DYN_STATUS_OUT.get(state) or {1: "solved", 2: "closed"}.get(state[0], str(state))
        owner = row.get("_ownerid_value")
        return {"id": row["incidentid"], "subject": row.get("title"), "status": status,
                "assignee": None if owner in (None, self._app_user()) else owner,
                "requester": row.get("_customerid_value"), "external_id": None,
                "tags": (row.get(MARKER_COLUMN) or "").split(),
                "fields": {zid: str(row[col]) for _, zid, col in FIELD_MAP
                           if row.get(col) is not None},
                "ticketnumber": row.get("ticketnumber"),
                "comments": [{"body": n.get("notetext") or "", "public": False}
                             for n in self._notes(row["incidentid"])]}

    def ticket(self, tid):
        with self.emu.store.lock:
            row = self.emu.store.tables["incident"].get(str(tid).lower())
            return None if row is None else self._ticket(copy.deepcopy(row))

    def tickets_of_call(self, call_id):
        """Cases first announced on ticket-events for this call: the ones
        created for it (or pre-created by the IVR for it, R-T8), not an
        earlier call's case it reused (R-T2). A case's announcements share
        the customer's number, the message key, so they are in one
        partition, in order."""
        assert self.ticket_events is not None, "DynamicsView needs ticket_events for this"
        first = {}
        for _, v in self.ticket_events():
            if v.get("ticket_id"):
                first.setdefault(v["ticket_id"], v.get("call_id"))
        ids = [tid for tid, cid in first.items() if cid == str(call_id)]
        return [t for t in (self.ticket(i) for i in ids) if t is not None]

    @staticmethod
    def case_number(ticket):
        """What a caller is told of a case (R-V1): its ticketnumber, not the GUID."""
        return ticket["ticketnumber"]

    def tickets_of_contact(self, cid):
        """Every case of the contact (its customer), whoever made it, oldest first."""
        with self.emu.store.lock:
            rows = sorted((r for r in self.emu.store.tables["incident"].values()
                           if r.get("_customerid_value") == str(cid).lower()),
                          key=lambda r: r.get("createdon") or "")
            ids = [r["incidentid"] for r in rows]
        return [self.ticket(i) for i in ids]

    def contacts_with_phone(self, number):
        """Contacts with the number in a phone column, in E.164 digits or in
        the national look-up form (R-I2)."""
        want = {digits(number), national(number)}
        with self.emu.store.lock:
            rows = [copy.deepcopy(r) for r in self.emu.store.tables["contact"].values()]
        out = []
        for r in sorted(rows, key=lambda r: (r["createdon"], r["versionnumber"])):
            phones = [r.get(a) for a in ("telephone1", "mobilephone", "telephone2") if r.get(a)]
            if any(digits(p) in want for p in phones):
                out.append({"id": r["contactid"], "name": r.get("fullname"),
                            "email": r.get("emailaddress1"), "phones": phones,
                            "created": r.get("createdon")})
        return out

    def marker_count(self, event_id):
        marker = f"[callbus {event_id}/"
        with self.emu.store.lock:
            return sum((n.get("notetext") or "").count(marker)
                       for n in self.emu.store.tables["annotation"].values())

    def comment_bodies(self):
        """Every note's text, of every case (the fault table's marker census)."""
        with self.emu.store.lock:
            return [n.get("notetext") or "" for n in self.emu.store.tables["annotation"].values()]

    def tickets_tagged(self, tag):
        """Every case whose marker column holds the call marker, oldest first."""
        with self.emu.store.lock:
            rows = sorted((r for r in self.emu.store.tables["incident"].values()
                           if tag in (r.get(MARKER_COLUMN) or "").split()),
                          key=lambda r: (r.get("createdon") or "", r.get("versionnumber") or 0))
            ids = [r["incidentid"] for r in rows]
        return [self.ticket(i) for i in ids]

    def call_ticket_ids(self):
        """{call id: [case ids]} of the cases first announced on
        ticket-events for a call (as tickets_of_call), every call at once:
        a case's key derives from the external id, so a second case of one
        call could only be one made under another key."""
        assert self.ticket_events is not None, "DynamicsView needs ticket_events for this"
        first = {}
        for _, v in self.ticket_events():
            if v.get("ticket_id"):
                first.setdefault(v["ticket_id"], v.get("call_id"))
        with self.emu.store.lock:
            live = set(self.emu.store.tables["incident"])
        out = {}
        for tid, cid in first.items():
            if tid.lower() in live:
                out.setdefault(cid, []).append(tid)
        return out

    # -- the request log ----------------------------------------------------------

    def mark(self):
        with self.emu.store.lock:
            return self.emu.store.log_seq

    def requests(self, since=0):
        return self.emu.requests(since)

    def lookups(self, since, number):
        want = national(number)
        return [e for e in self.emu.requests(since) if e["kind"] == "api"
                and e["method"] == "GET" and e["path"] == f"{DYN_API}/contacts"
                and want in (e["query_params"].get("$filter") or "")]

    def lookups_arrived_since(self, t0):
        return [a for a in list(self.emu.arrivals)
                if a[0] >= t0 and a[1] == "GET" and a[2] == f"{DYN_API}/contacts"]

    def writes(self, since):
        return [e for e in self.emu.requests(since) if e["kind"] == "api"
                and e["method"] in ("POST", "PATCH", "PUT", "DELETE")]

    def status_reads(self, since, tid):
        """Reads of case tid since `since` (R-T2/R-O1, issue 25 item 2): a
        GET naming it (its incidentid is a GUID: a substring is exact), or a
        $batch carrying one."""
        tid = str(tid).lower()
        return [e for e in self.emu.requests(since) if e["kind"] == "api" and (
            (e["method"] == "GET" and tid in (e["path"] + (e["query"] or "")).lower()) or
            (e["path"].endswith("$batch") and f"GET " in str(e["body"])
             and tid in str(e["body"]).lower()))]

    def requests_mentioning(self, since, number):
        needles = (digits(number), national(number))
        return [e for e in self.emu.requests(since) if e["kind"] == "api"
                and any(n in json.dumps(e) for n in needles)]

    # -- seeding and people's actions -------------------------------------------------

    def _set_created(self, entity, key, created_at):
        if created_at:
            with self.emu.store.lock:
                self.emu.store.tables[entity][key]["createdon"] = created_at

    def seed_contact(self, name, number, email=None, created_at=None, formatted=False):
        """A contact with the phone in telephone1 in the look-up form the
        deployment uses (national: CALLBUS_CRM_LOOKUP_FORM=national).
        `formatted` is Zendesk's digits match and means nothing here."""
        first, _, last = name.rpartition(" ")
        fields = {"lastname": last or name, "telephone1": national(number)}
        if first:
            fields["firstname"] = first
        if email:
            fields["emailaddress1"] = email
        row = self.emu.seed("contact", **fields)
        self._set_created("contact", row["contactid"], created_at)
        return {"id": row["contactid"], "name": row["fullname"], "email": email,
                "phones": [fields["telephone1"]], "created": created_at or row["createdon"]}

    def seed_ticket(self, subject, requester, status="open", created_at=None):
        state, code = DYN_STATUS_IN[status]
        row = self.emu.seed("incident", title=subject, caseorigincode=1,
                            **{"customerid_contact@odata.bind": f"/contacts({requester})"})
        with self.emu.store.lock:
            live = self.emu.store.tables["incident"][row["incidentid"]]
            live["statecode"], live["statuscode"] = state, code
        self._set_created("incident", row["incidentid"], created_at)
        return self.ticket(row["incidentid"])

    def seed_agent(self, name, provider_id):
        """Another systemuser, as an agent the ingest agent map names."""
        row = self.emu.seed("systemuser", fullname=name,
                            internalemailaddress=f"{provider_id}@example.com", isdisabled=False)
        return {"provider_id": provider_id, "crm_id": row["systemuserid"], "name": name}

    def set_status(self, tid, status):
        """A person changes the case's status in Dynamics (not through the API log)."""
        state, code = DYN_STATUS_IN[status]
        with self.emu.store.lock:
            row = self.emu.store.tables["incident"][str(tid).lower()]
            row["statecode"], row["statuscode"] = state, code
            self.emu.store._stamp(row)

    def merge(self, source, target):
        """A person merges case `source` into `target` (Dataverse's Merge:
        source Cancelled / Merged, its masterid the target)."""
        self.emu.store.merge({"Target": {"incidentid": str(target)},
                              "Subordinate": {"incidentid": str(source)}})

    # -- failures and speed --------------------------------------------------------------

    _PATHS = {"lookup": ("GET", r"/contacts$"),
              "create_ticket": ("POST", r"/incidents$"),
              "comment": ("POST", r"/annotations$"),
              "batch": ("POST", r"/\$batch$"),
              "token": ("POST", r"/oauth2/v2\.0/token$"),
              "any": (None, r"^/api/data/")}

    def _add_rule(self, rule):
        self.emu.configure(inject=[rule])

    def clear_failures(self):
        """Every injected failure gone (the rest of the configuration kept)."""
        with self.emu.store.lock:
            self.emu.store.inject_rules.clear()

    def set_latency(self, ms):
        self.emu.configure(latency_ms=ms)

    def expire_tokens(self):
        self.emu.configure(expire_tokens=True)

    def token_fetches(self, since=0):
        return [e for e in self.emu.requests(since) if e["kind"] == "token"]

    def restore_defaults(self):
        self.emu.restore_defaults()


def shape(crm, base_url):
    """A view with no emulator behind it: only the CRM's id and URL shapes
    and its agents (pop-service tests, whose ticket events are made up)."""
    return (ZendeskView if crm == "zendesk" else DynamicsView)(None, base_url=base_url)
