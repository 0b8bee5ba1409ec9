"""The whole product as processes, for the scenario runner (tests/system/e2e) and
the fault table (tests/system/e2e/faults): callbus-ingest (CallGear, Twilio,
Webex and generic/TVox routes), callbus-ticket (grouper mode), callbus-missed,
callbus-pop and the Zendesk emulator, on one module's topics.

Built on the helpers that already exist (imported, not copied):
tests/ticket/e2e/e2e.py (Emulator, Topics, TicketService, Call),
tests/missed/e2e/missed_e2e.py (Grouper, Ingest with CallGear and Twilio) and
tests/pop/e2e/pop.py (PopService, SseClient). Provider payloads start from
tests/ingest/unit/fixtures."""
from __future__ import annotations

import copy
import hashlib
import hmac
import json
import os
import sys
import time
from datetime import datetime, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
for sub in (("ticket", "e2e"), ("missed", "e2e"), ("pop", "e2e")):
    sys.path.insert(0, os.path.join(ROOT, "tests", *sub))

import e2e  # noqa: E402
import missed_e2e  # noqa: E402
import pop  # noqa: E402
from e2e import AGENT1, AGENT2, Topics, TicketService, wait_for  # noqa: E402,F401

FIXTURES = os.path.join(ROOT, "tests", "ingest", "unit", "fixtures")
WEBEX_BEARER = "whole-webex-bearer"
GENERIC_SECRET = "whole-generic-secret"
IVR_TOKEN = e2e.IVR_TOKEN
# One CRM agent per person, whatever the provider calls them (R-I3).
WEBEX_ID = {AGENT1["crm_id"]: "3b2a1c0d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
            AGENT2["crm_id"]: "7f6e5d4c-3b2a-4190-8a7b-6c5d4e3f2a1b"}
CALLGEAR_ID = {AGENT1["crm_id"]: 2207, AGENT2["crm_id"]: 2211}
AGENT_MAP = ",".join([missed_e2e.AGENT_MAP]
                     + [f"webex:{w}={c}" for c, w in WEBEX_ID.items()]
                     + [f"generic:{a['provider_id']}={a['crm_id']}" for a in (AGENT1, AGENT2)])


def fixture(name):
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as f:
        return f.read() if name.endswith(".form") else json.load(f)


def callgear_doc(name, session, phone, crm_id=None, ticket_id=None, talk_s=None):
    """A CallGear fixture (callgear_<name>.json) for one call: its session id,
    the customer's number, the employee of a CRM agent (None: none), the
    notification time now (CALLBUS_INGEST_CALLGEAR_TIME_ZONE is UTC)."""
    doc = copy.deepcopy(fixture(f"callgear_{name}.json"))
    doc["call_info"]["call_session_id"] = session
    doc["contact_info"]["contact_phone_number"] = phone
    doc["notification_time"] = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    if crm_id is not None or name in ("end_voicemail",):
        doc["employee_info"]["employee_id"] = CALLGEAR_ID[crm_id] if crm_id else None
    if ticket_id is not None:
        doc["external_id"] = str(ticket_id)
    if talk_s is not None:
        doc["call_info"]["talk_time_duration"] = talk_s
    return doc


def webex_doc(name, interaction, phone, crm_id, previous_crm_id=None):
    doc = copy.deepcopy(fixture(f"webex_{name}.json"))
    doc["interactionId"], doc["ani"], doc["agentId"] = interaction, phone, WEBEX_ID[crm_id]
    if previous_crm_id:
        doc["previousAgentId"] = WEBEX_ID[previous_crm_id]
    doc["timestamp"] = e2e.iso_ms(time.time())
    return doc


class Ingest(missed_e2e.Ingest):
    """callbus-ingest with every provider's route configured."""

    def __init__(self, emu, topics, logdir, name, env=None):
        super().__init__(emu, topics, logdir, name)
        self.env.update({"CALLBUS_INGEST_WEBEX_BEARER": WEBEX_BEARER,
                         "CALLBUS_INGEST_GENERIC_SECRET": GENERIC_SECRET,
                         "CALLBUS_AGENT_MAP": AGENT_MAP, "CALLBUS_LOG_LEVEL": "info"})
        self.env.update(env or {})

    def webex(self, doc):
        return self._post("/v1/webex/events", json.dumps(doc), "application/json",
                          {"Authorization": f"Bearer {WEBEX_BEARER}"})

    def generic(self, *events):
        """Canonical events (a TVox IVR script's form), signed (docs/providers.md)."""
        body = json.dumps(list(events) if len(events) > 1 else events[0])
        ts = str(int(time.time()))
        sig = hmac.new(GENERIC_SECRET.encode(), f"{ts}.{body}".encode(), hashlib.sha256)
        return self._post("/v1/generic/events", body, "application/json",
                          {"X-Callbus-Timestamp": ts,
                           "X-Callbus-Signature": "v1=" + sig.hexdigest()})


class Whole:
    """emulator + topics + ticket-service (grouper mode) + grouper + pop +
    ingest, started in that order (consumers before the producer), and one
    open pop stream per agent (AGENT1, AGENT2) recording every pop."""

    def __init__(self, logdir, name, ticket_env=None, ingest_env=None, streams=True):
        self.logdir, self.name = logdir, name
        self.emu = e2e.make_emulator()
        self.topics = Topics(e2e.module_prefix())
        tag = self.topics.prefix.rstrip(".")
        self.ticket_group = f"ticket-{tag}"
        self.ticket_env = dict({"CALLBUS_TICKET_UNANSWERED": "grouper",
                                "CALLBUS_IVR_TOKEN": IVR_TOKEN}, **(ticket_env or {}))
        self.tickets, self.groupers, self.pops = [], [], []
        self.ingest = None
        self.streams = {}
        try:
            self.add_ticket()
            self.add_grouper()
            self.add_pop()
            self.ingest = Ingest(self.emu, self.topics, logdir, f"{name}-ingest",
                                 ingest_env).start()
            if streams:
                self.open_streams()
        except BaseException:
            self.close()
            raise

    # -- processes ------------------------------------------------------------
    def add_ticket(self):
        svc = TicketService(self.emu, self.topics, self.ticket_group, self.logdir,
                            f"{self.name}-ticket{len(self.tickets) + 1}", self.ticket_env)
        self.tickets.append(svc)
        return svc.start()

    def add_grouper(self):
        g = missed_e2e.Grouper(self.emu, self.topics, f"missed-{self.topics.prefix.rstrip('.')}",
                               self.logdir, f"{self.name}-missed{len(self.groupers) + 1}",
                               {"CALLBUS_MISSED_HOURS": ""})  # always working hours (R-M4)
        self.groupers.append(g)
        return g.start()

    def add_pop(self):
        p = pop.PopService(self.topics, f"pop-{self.topics.prefix.rstrip('.')}", self.logdir,
                           f"{self.name}-pop{len(self.pops) + 1}")
        self.pops.append(p)
        return p.start()

    @property
    def ticket(self):
        return self.tickets[0]

    @property
    def pop(self):
        return self.pops[0]

    def services(self):
        return [s for s in [self.ingest] + self.tickets + self.groupers + self.pops if s]

    # -- agents ---------------------------------------------------------------
    def open_streams(self):
        """Logs AGENT1 and AGENT2 in (with their CallGear operator id) and
        keeps a stream open for each: self.streams[crm_id]."""
        for a in (AGENT1, AGENT2):
            token = self.pop.agent(a["crm_id"])
            self.streams[a["crm_id"]] = (token, self.pop.stream(token))

    def sse(self, crm_id):
        return self.streams[crm_id][1]

    def token(self, crm_id):
        return self.streams[crm_id][0]

    def wait_pop(self, crm_id, call_id, kind="ticket", ticket_id=None, timeout=30):
        """The pop of `kind` for the call (and ticket) the agent's stream got."""
        def match(ps):
            return next((p for p in ps if str(p["call_id"]) == str(call_id) and p["kind"] == kind
                         and (ticket_id is None or (p.get("ticket") or {}).get("id")
                              == str(ticket_id))), None)
        return self.sse(crm_id).wait(match, timeout, f"{kind} pop of {call_id} for {crm_id}")

    def pops_of(self, crm_id, call_id):
        return [p for p in self.sse(crm_id).pops() if str(p["call_id"]) == str(call_id)]

    # -- state ------------------------------------------------------------------
    missed_tickets = missed_e2e.Stack.missed_tickets  # the grouper stack's reading, reused

    def settle(self, timeout=40):
        for s in self.groupers + self.tickets + self.pops:
            if s.running():
                s.wait_idle(timeout)

    def close(self):
        for _, s in self.streams.values():
            s.close()
        rcs = []
        for s in self.services():
            if s.running():
                rcs.append((s.name, s.stop()))
        self.emu.stop()
        return rcs
