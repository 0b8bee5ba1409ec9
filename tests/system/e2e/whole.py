"""The whole product as processes, for the scenario runner (tests/system/e2e) and
the fault table (tests/system/e2e/faults): callbus-ingest (CallGear, Twilio,
Webex and generic/TVox routes), callbus-ticket (grouper mode), callbus-missed,
callbus-pop and the CRM's emulator (Zendesk or Dynamics 365: `crm`), on one
module's topics. The CRM's state is read through `Whole.crm`, the neutral
view of tests/ticket/e2e/crm_view.py (its agents are the CRM's own).

Built on the helpers that already exist (imported, not copied):
tests/ticket/e2e/e2e.py (Emulator, Topics, TicketService, Call),
tests/missed/e2e/missed_e2e.py (Grouper, Ingest with CallGear and Twilio) and
tests/pop/e2e/pop.py (PopService, SseClient), tests/ticket/e2e/crm_view.py
(the emulators seen neutrally). Provider payloads start from
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
for sub in (("ticket", "e2e"), ("missed", "e2e"), ("pop", "e2e"), ("stats", "e2e")):
    sys.path.insert(0, os.path.join(ROOT, "tests", *sub))

import e2e  # noqa: E402
import missed_e2e  # noqa: E402
import pop  # noqa: E402
import stats_e2e  # noqa: E402
from e2e import AGENT1, AGENT2, Topics, TicketService, wait_for  # noqa: E402,F401

FIXTURES = os.path.join(ROOT, "tests", "ingest", "unit", "fixtures")
WEBEX_BEARER = "whole-webex-bearer"
GENERIC_SECRET = "whole-generic-secret"
IVR_TOKEN = e2e.IVR_TOKEN
# One CRM agent per person, whatever the provider calls them (R-I3): the
# providers' ids of the first and second agent. Keyed by crm id below, so
# callgear_doc/webex_doc take the agent's crm id; a Whole on Dynamics adds
# its agents' GUIDs (the emulator makes new ones per start).
WEBEX_AGENTS = ("3b2a1c0d-5e6f-4a7b-8c9d-0e1f2a3b4c5d", "7f6e5d4c-3b2a-4190-8a7b-6c5d4e3f2a1b")
CALLGEAR_EMPLOYEES = (2207, 2211)
TWILIO_AGENTS = ("marco.bianchi", "giulia.rossi")
WEBEX_ID = dict(zip((AGENT1["crm_id"], AGENT2["crm_id"]), WEBEX_AGENTS))
CALLGEAR_ID = dict(zip((AGENT1["crm_id"], AGENT2["crm_id"]), CALLGEAR_EMPLOYEES))


def agent_map(agents):
    """CALLBUS_AGENT_MAP for the CRM's first two agents (view.agents), on
    every provider's route; registers their crm ids for callgear_doc and
    webex_doc."""
    entries = []
    for a, cg, tw, wx in zip(agents, CALLGEAR_EMPLOYEES, TWILIO_AGENTS, WEBEX_AGENTS):
        CALLGEAR_ID[a["crm_id"]], WEBEX_ID[a["crm_id"]] = cg, wx
        entries += [f"callgear:{cg}={a['crm_id']}", f"twilio:{tw}={a['crm_id']}",
                    f"webex:{wx}={a['crm_id']}", f"generic:{a['provider_id']}={a['crm_id']}"]
    return ",".join(entries)


AGENT_MAP = agent_map((AGENT1, AGENT2))  # the Zendesk emulator's agents (the soak's)


def crm_params():
    """pytest params over the CRMs to run (CALLBUS_E2E_CRMS), Dynamics
    skipped while the ticket-service binary lacks it (crm_view.crm_params,
    as the ticket suites' e2e.CRM_PARAMS)."""
    return e2e.CRM_PARAMS


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

    def __init__(self, emu, topics, logdir, name, env=None, agents=(AGENT1, AGENT2)):
        super().__init__(emu, topics, logdir, name)
        self.env.update({"CALLBUS_INGEST_WEBEX_BEARER": WEBEX_BEARER,
                         "CALLBUS_INGEST_GENERIC_SECRET": GENERIC_SECRET,
                         "CALLBUS_AGENT_MAP": agent_map(agents), "CALLBUS_LOG_LEVEL": "info"})
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
    open pop stream per agent (the CRM's first two: self.agents, AGENT1 and
    AGENT2 on Zendesk) recording every pop. `crm`: zendesk or dynamics;
    self.crm is its neutral view (crm_view.py)."""

    def __init__(self, logdir, name, ticket_env=None, ingest_env=None, streams=True,
                 crm="zendesk", pop_env=None):
        self.logdir, self.name = logdir, name
        self.pop_env = pop_env or {}
        self.topics = Topics(e2e.module_prefix())
        if crm == "zendesk":
            self.emu = e2e.make_emulator()
            self.crm = e2e.crm_view.ZendeskView(self.emu)
        else:
            self.emu = e2e.crm_view.make_dynamics_emulator()
            self.crm = e2e.crm_view.DynamicsView(self.emu,
                                                 ticket_events=self.topics.ticket_events)
        self.agents = self.crm.agents[:2]
        tag = self.topics.prefix.rstrip(".")
        self.ticket_group = f"ticket-{tag}"
        self.ticket_env = dict({"CALLBUS_TICKET_UNANSWERED": "grouper",
                                "CALLBUS_IVR_TOKEN": IVR_TOKEN}, **(ticket_env or {}))
        self.tickets, self.groupers, self.pops, self.stats = [], [], [], []
        self.ingest = None
        self.streams = {}
        try:
            self.add_ticket()
            self.add_grouper()
            self.add_pop()
            self.ingest = Ingest(self.emu, self.topics, logdir, f"{name}-ingest",
                                 ingest_env, self.agents).start()
            if streams:
                self.open_streams()
        except BaseException:
            self.close()
            raise

    # -- processes ------------------------------------------------------------
    def add_ticket(self):
        svc = TicketService(self.emu, self.topics, self.ticket_group, self.logdir,
                            f"{self.name}-ticket{len(self.tickets) + 1}", self.ticket_env,
                            crm_env=self.crm.service_env())
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
                           f"{self.name}-pop{len(self.pops) + 1}",
                           dict({"CALLBUS_POP_NEW_CASE_URL": pop.NEW_CASE_URL[self.crm.name]},
                                **self.pop_env))
        self.pops.append(p)
        return p.start()

    def add_stats(self, group=None):
        """A stats service replica (issue 25); `group` another consumer
        group than the module's (a re-read of the topics from offset 0)."""
        svc = stats_e2e.StatsService(self.topics, group or f"stats-{self.topics.prefix.rstrip('.')}",
                                     self.logdir, f"{self.name}-stats{len(self.stats) + 1}")
        self.stats.append(svc)
        return svc.start()

    @property
    def ticket(self):
        return self.tickets[0]

    @property
    def pop(self):
        return self.pops[0]

    def services(self):
        return [s for s in [self.ingest] + self.tickets + self.groupers + self.pops + self.stats
                if s]

    # -- agents ---------------------------------------------------------------
    def open_streams(self):
        """Logs the two agents in and keeps a stream open for each:
        self.streams[crm_id]."""
        for a in self.agents:
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
    def missed_tickets(self, number):
        """The customer's missed-call tickets (R-M1's subject and marker
        callbus_missed), oldest first, as neutral tickets."""
        return [t for t in self.crm.tickets_tagged("callbus_missed")
                if t["subject"] == f"Missed call from {number}"]

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
