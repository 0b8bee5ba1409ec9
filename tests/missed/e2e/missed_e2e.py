"""The grouper's end-to-end stack, on tests/ticket/e2e/e2e.py: the Zendesk
or the Dynamics 365 emulator (`crm`; issue 23 item 5), ticket-service in
grouper mode, one or more callbus-missed replicas and callbus-ingest (for
CallGear and Twilio webhooks), all on one module's topics. Tickets are
read through the CRM-neutral view (tests/ticket/e2e/crm_view.py)."""
from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import urllib.parse
import urllib.request
from datetime import datetime
from zoneinfo import ZoneInfo

from e2e import (AGENT1, AGENT2, BROKERS, REDIS_URL, ROOT, TicketService, make_crm,
                 module_prefix, Topics, wait_for)

# Twilio's signature, as tests/ingest/e2e computes it (one home).
_spec = importlib.util.spec_from_file_location(
    "ingest_http_helpers", os.path.join(ROOT, "tests", "ingest", "e2e", "conftest.py"))
_ingest_http = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_ingest_http)
twilio_signature = _ingest_http.twilio_signature

ROME = ZoneInfo("Europe/Rome")
# Working hours of the module's grouper (R-M4): weekdays, and a Saturday
# night shift that runs past midnight (and, on 2027-03-28, across the DST
# change); Christmas off.
HOURS = "mon-fri 07:00-21:00, sat 22:00-04:00"
HOLIDAYS = "2026-12-25"
CALLGEAR_TOKEN = "missed-callgear-token"
TWILIO_TOKEN = "missed-twilio-token"
PUBLIC_URL = "http://ingest.missed.test"


def agent_map(agents):
    """CALLBUS_AGENT_MAP (R-I3) of ingest: CallGear operators 2207 / 2211 and
    Twilio clients marco.bianchi / giulia.rossi are the CRM's first and
    second agent (crm_view's `agents`)."""
    a1, a2 = (a["crm_id"] for a in agents[:2])
    return (f"callgear:2207={a1},callgear:2211={a2},"
            f"twilio:marco.bianchi={a1},twilio:giulia.rossi={a2}")


AGENT_MAP = agent_map((AGENT1, AGENT2))  # the Zendesk emulator's agents


def rome(text):
    """A Europe/Rome wall time ("2026-11-30 10:00") as a POSIX timestamp."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=ROME).timestamp()


# ticket-service's settings a grouper or ingest does not take
CRM_SETTINGS = ("CALLBUS_ZENDESK", "CALLBUS_DYNAMICS", "CALLBUS_TICKET", "CALLBUS_CRM")


class Grouper(TicketService):
    SERVICE = "missed"
    BIN_ENV = "CALLBUS_MISSED_BIN"
    DEFAULT_BIN = os.path.join(ROOT, "build", "test", "services", "missed", "callbus-missed")

    def __init__(self, emu, topics, group, logdir, name, env=None):
        super().__init__(emu, topics, group, logdir, name)
        self.env = {k: v for k, v in self.env.items() if not k.startswith(CRM_SETTINGS)}
        self.env.update({"CALLBUS_MISSED_GROUP": group, "CALLBUS_MISSED_HOURS": HOURS,
                         "CALLBUS_MISSED_TIMEZONE": "Europe/Rome",
                         "CALLBUS_MISSED_HOLIDAYS": HOLIDAYS, "CALLBUS_MISSED_RETRY_MS": "200"})
        self.env.update(env or {})

    def idle(self):
        return self.metrics().get("missed_events_in_flight", 1) == 0


class Ingest(TicketService):
    SERVICE = "ingest"
    BIN_ENV = "CALLBUS_INGEST_BIN"
    DEFAULT_BIN = os.path.join(ROOT, "build", "test", "services", "ingest", "callbus-ingest")
    CONSUMER = False

    def __init__(self, emu, topics, logdir, name, agents_map=AGENT_MAP):
        super().__init__(emu, topics, "", logdir, name)
        self.env = {k: v for k, v in self.env.items() if not k.startswith(CRM_SETTINGS)}
        self.env.update({"CALLBUS_INGEST_CALLGEAR_TOKEN": CALLGEAR_TOKEN,
                         "CALLBUS_INGEST_TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
                         "CALLBUS_INGEST_PUBLIC_URL": PUBLIC_URL,
                         "CALLBUS_AGENT_MAP": agents_map})

    def _post(self, path, body, content_type, headers=None):
        req = urllib.request.Request(self.url + path, data=body.encode(), method="POST",
                                     headers=dict({"Content-Type": content_type}, **(headers or {})))
        with urllib.request.urlopen(req, timeout=20) as r:
            assert r.status == 202, r.status
            return json.loads(r.read())

    def callgear(self, notification, doc):
        return self._post(f"/v1/callgear/{CALLGEAR_TOKEN}/{notification}", json.dumps(doc),
                          "application/json")

    def twilio(self, pairs):
        path = "/v1/twilio/voice-status"
        sig = twilio_signature(TWILIO_TOKEN, PUBLIC_URL + path, pairs)
        return self._post(path, urllib.parse.urlencode(pairs), "application/x-www-form-urlencoded",
                          {"X-Twilio-Signature": sig})


class Stack:
    """emulator + topics + ticket-service (grouper mode) + grouper(s) +
    ingest, against `crm` (zendesk or dynamics); `crm` the neutral view,
    agent1 / agent2 its agents."""

    def __init__(self, logdir, name, replicas=1, ingest=True, ticket_env=None, crm="zendesk"):
        if crm != "zendesk":
            name += f"-{crm}"
        self.logdir, self.name = logdir, name
        self.topics = Topics(module_prefix())
        self.emu, self.crm = make_crm(crm, self.topics)
        self.agent1, self.agent2 = self.crm.agents[:2]
        self.group = "missed-e2e-" + self.topics.prefix.rstrip(".")
        self.ticket = TicketService(self.emu, self.topics,
                                    "ticket-e2e-" + self.topics.prefix.rstrip("."), logdir,
                                    f"{name}-ticket",
                                    dict({"CALLBUS_TICKET_UNANSWERED": "grouper"},
                                         **(ticket_env or {})), crm_env=self.crm.service_env())
        self.groupers = []
        self.ingest = None
        try:
            self.ticket.start()
            for _ in range(replicas):
                self.add_grouper()
            if ingest:
                self.ingest = Ingest(self.emu, self.topics, logdir, f"{name}-ingest",
                                     agent_map(self.crm.agents)).start()
        except BaseException:
            self.close()
            raise

    def add_grouper(self, start=True):
        g = Grouper(self.emu, self.topics, self.group, self.logdir,
                    f"{self.name}-missed{len(self.groupers) + 1}")
        self.groupers.append(g)
        return g.start() if start else g

    def services(self):
        return [s for s in [self.ticket, self.ingest] + self.groupers if s is not None]

    def produce(self, *events):
        self.topics.produce(*events)

    def settle(self, timeout=40):
        """Every grouper and ticket-service idle (ops produced and executed)."""
        for g in self.groupers:
            if g.running():
                g.wait_idle(timeout)
        self.ticket.wait_idle(timeout)

    def missed_ops(self):
        """Every message on <prefix>missed-call-ops: [(key, value dict)]."""
        proc = subprocess.run(
            ["kcat", "-b", BROKERS, "-C", "-t", self.topics.prefix + "missed-call-ops",
             "-o", "beginning", "-e", "-J", "-q"], text=True, capture_output=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        return [(m.get("key"), json.loads(m["payload"]))
                for m in map(json.loads, filter(str.strip, proc.stdout.splitlines()))]

    def missed_tickets(self, number):
        """The customer's missed-call tickets (R-M1's subject, marker
        callbus_missed), oldest first, as crm_view's neutral tickets."""
        return [t for t in customer_tickets(self.crm, number)
                if t["subject"] == f"Missed call from {number}" and "callbus_missed" in t["tags"]]

    def forget(self, number):
        """What a Redis restart without persistence loses for one customer:
        the grouper's and ticket-service's state of them."""
        host, port = urllib.parse.urlparse(REDIS_URL).netloc.split(":")
        p = self.topics.prefix
        subprocess.run(["redis-cli", "-h", host, "-p", port, "DEL", f"{p}mis:cust:{number}",
                        f"{p}tkt:cust:{number}"], check=True, capture_output=True, timeout=10)

    def close(self):
        for s in reversed(self.services()):
            if s.running():
                s.stop()
        self.emu.stop()


def customer_tickets(crm, number):
    """Every ticket (neutral) of the contacts with the customer's number,
    whoever made it, oldest first per contact."""
    return [t for c in crm.contacts_with_phone(number) for t in crm.tickets_of_contact(c["id"])]


def missed_lines(ticket):
    """The ticket's "Missed call N at ..." lines, in order: one per missed
    call (R-M2), wherever the batched flush joined comments."""
    return [line for c in ticket["comments"] for line in c["body"].splitlines()
            if re.match(r"Missed call \d+ at ", line)]


def wait_missed(stack, number, n_tickets=1, n_calls=None, timeout=30):
    """The customer's missed-call tickets once there are n_tickets and (when
    given) n_calls "Missed call" comments over them."""
    def ready():
        ts = stack.missed_tickets(number)
        if len(ts) < n_tickets:
            return None
        calls = sum(len(missed_lines(t)) for t in ts)
        return ts if n_calls is None or calls >= n_calls else None
    return wait_for(ready, timeout, what=f"{n_tickets} missed-call ticket(s) of {number}")
