"""The scenario generator of the call-log tests (issue 27): one call as the
provider sees it, from which both come — the webhooks it posts (to
callbus-ingest, or dropped, as a provider that never re-sends) and the
records its call log keeps (fed to the log emulator). Only what the provider
does is here; tests decide what is lost.

Twilio: an inbound call is the caller's leg (Direction=inbound) and one
child leg per agent rung (outbound-dial to client:<identity>), each firing
its status callbacks numbered as docs/providers.md ("Reconciliation") says
the account is subscribed: initiated 0, ringing 1, answered 2, completed 3
(an unanswered dialled leg ends as 2); the caller's leg posts its end as 3.
"""
import secrets
import time

from twilio_log_emulator import rfc2822

TWILIO_NUMBER = "+390287654321"


class TwilioLeg:
    def __init__(self, sid, direction, frm, to, status, start, end, parent=None):
        self.sid, self.direction, self.frm, self.to = sid, direction, frm, to
        self.status, self.start, self.end, self.parent = status, start, end, parent

    def record(self):
        """The leg in the Calls resource."""
        rec = {"sid": self.sid, "parent_call_sid": self.parent, "to": self.to,
               "from": self.frm, "status": self.status, "direction": self.direction,
               "start_time": rfc2822(self.start), "end_time": rfc2822(self.end),
               "duration": str(int(self.end - self.start)), "answered_by": None,
               "caller_name": None, "price": None, "queue_time": "0"}
        return rec

    def callbacks(self):
        """The status callbacks the leg fired, in order: form pairs."""
        answered = self.status == "completed"
        if self.direction == "inbound":
            steps = [(self.status, 3 if answered else 1, self.end)]
        else:
            steps = [("initiated", 0, self.start), ("ringing", 1, self.start)]
            steps += ([("in-progress", 2, self.start), ("completed", 3, self.end)] if answered
                      else [(self.status, 2, self.end)])
        out = []
        for status, seq, at in steps:
            pairs = [("AccountSid", "AC" + "0" * 31 + "2"), ("ApiVersion", "2010-04-01"),
                     ("CallSid", self.sid), ("CallStatus", status), ("Direction", self.direction),
                     ("From", self.frm), ("To", self.to), ("Called", self.to),
                     ("Caller", self.frm), ("CallbackSource", "call-progress-events"),
                     ("SequenceNumber", str(seq)), ("Timestamp", rfc2822(at))]
            if self.parent:
                pairs.append(("ParentCallSid", self.parent))
            if status in ("completed", "busy", "no-answer", "canceled", "failed"):
                pairs.append(("CallDuration", str(int(self.end - self.start))))
            out.append(pairs)
        return out


class TwilioCall:
    """An inbound call: `agents` [(identity, answered)] rung in turn."""

    def __init__(self, customer, agents, start=None, talk_s=40):
        self.sid = "CA" + secrets.token_hex(16)
        start = time.time() - 600 if start is None else start
        t = start + 5
        self.children = []
        for identity, answered in agents:
            end = t + (talk_s if answered else 15)
            self.children.append(TwilioLeg("CA" + secrets.token_hex(16), "outbound-dial",
                                           customer, f"client:{identity}",
                                           "completed" if answered else "no-answer", t, end,
                                           parent=self.sid))
            t = end + 1
        self.caller = TwilioLeg(self.sid, "inbound", customer, TWILIO_NUMBER, "completed", start,
                                t + 1)

    @property
    def legs(self):
        return self.children + [self.caller]

    def records(self):
        return [leg.record() for leg in self.legs]

    def webhooks(self):
        """Every status callback of the call, in the order Twilio posts them."""
        return [cb for leg in self.legs for cb in leg.callbacks()]


def wall(ts):
    """A POSIX time as CallGear writes times (the account's zone: UTC here)."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts))


class CallGearCall:
    """An inbound CallGear call session: `employees` [(employee_id,
    answered)] offered in turn, one leg each after the caller's; with
    `voicemail`, nobody answered and the scenario's last operation is a
    voicemail box. Its webhooks are the notifications ingest takes
    (docs/providers.md): /handset when an employee answers, /endleg per
    employee leg, /end (naming the last scenario operation, as the report's
    scenario_operations ends with it)."""

    _next = [int(time.time() * 1000) % 10**9 * 10]

    IVR_OP, ROUTE_OP, VOICEMAIL_OP = "Sesli menü", "Çalışana yönlendirme", "Sesli mesaj (mesai dışı)"

    def __init__(self, customer, employees, start=None, talk_s=40, virtual="902129998877",
                 voicemail=False):
        CallGearCall._next[0] += 1
        self.id = CallGearCall._next[0]
        self.customer, self.virtual = customer, virtual
        self.start = time.time() - 600 if start is None else start
        self.legs = [self.id * 10 + i for i in range(len(employees) + 1)]
        self.employees = employees
        answered = [e for e, a in employees if a]
        self.talk = talk_s if answered else 0
        self.wait = 5 + 15 * (len(employees) - (1 if answered else 0))
        self.total = self.wait + self.talk
        self.finish = self.start + self.total
        self.answered_by = answered[-1] if answered else None
        assert not (voicemail and answered), "a voicemail call is one nobody answered"
        self.voicemail = voicemail
        self.operations = ([self.IVR_OP] + [self.ROUTE_OP] * bool(employees)
                           + [self.VOICEMAIL_OP] * voicemail)

    def _body(self, leg, employee, at, **call_info):
        info = {"call_source": "va", "direction": "in", "call_session_id": self.id,
                "scenario_name": "Destek hattı", "talk_time_duration": self.talk,
                "total_time_duration": self.total, "wait_time_duration": self.wait,
                "tag_names": [], "is_lost": self.answered_by is None}
        info.update(call_info)
        return {"notification_name": "", "virtual_phone_number": int(self.virtual),
                "notification_time": wall(at), "external_id": None,
                "contact_info": {"contact_phone_number": self.customer,
                                 "communication_number": self.virtual,
                                 "contact_full_name": None},
                "employee_info": {"employee_id": employee, "employee_full_name": None},
                "call_info": info, "leg_id": leg, "leg_ids": self.legs,
                "last_scenario_operation_name": self.operations[-1]}

    def webhooks(self):
        """[(notification, body)] in the order CallGear posts them."""
        out, t = [], self.start + 5
        for i, (emp, answered) in enumerate(self.employees):
            leg = self.legs[i + 1]
            if answered:
                out.append(("handset", self._body(leg, emp, t)))
            out.append(("endleg", self._body(leg, emp, t + (self.talk if answered else 15),
                                             is_operator=True,
                                             talk_time_duration=self.talk if answered else 0)))
            t += 15
        last = self.answered_by or (self.employees[-1][0] if self.employees else None)
        out.append(("end", self._body(self.legs[-1], last, self.finish)))
        return out

    def record(self):
        """The session in get.calls_report."""
        return {"id": self.id, "start_time": wall(self.start), "finish_time": wall(self.finish),
                "direction": "in", "is_lost": self.answered_by is None,
                "contact_phone_number": self.customer, "contact_full_name": None,
                "virtual_phone_number": self.virtual, "scenario_name": "Destek hattı",
                "wait_duration": self.wait, "talk_duration": self.talk,
                "total_duration": self.total, "tags": [],
                "last_answered_employee_id": self.answered_by,
                "last_answered_employee_full_name": None,
                "employees": [{"employee_id": e, "employee_full_name": None, "is_answered": a}
                              for e, a in self.employees],
                "scenario_operations": [{"name": op, "id": 40 + i}
                                        for i, op in enumerate(self.operations)],
                "voice_mail_records": ["vm%d" % self.id] if self.voicemail else []}

    def leg_records(self):
        """Its legs in get.call_legs_report."""
        return [{"id": leg, "call_session_id": self.id, "start_time": wall(self.start + i)}
                for i, leg in enumerate(self.legs)]


def iso_s(ts):
    """RFC 3339 in whole seconds, UTC: the timestamp the Webex flow posts."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(ts)))


class WebexCall:
    """An inbound Webex Contact Center contact: `agents` [(agent id,
    answered)] offered in turn. Its webhooks are the bodies the flow's event
    flows post (docs/providers.md): offered per agent, answered, ended."""

    def __init__(self, customer, agents, start=None, talk_s=40, dnis="+34911234567"):
        self.id = secrets.token_hex(4) + "-" + secrets.token_hex(2) + "-4" + secrets.token_hex(
            2)[1:] + "-8" + secrets.token_hex(2)[1:] + "-" + secrets.token_hex(6)
        self.customer, self.dnis, self.agents = customer, dnis, agents
        self.start = int(time.time() - 600 if start is None else start)
        answered = [a for a, ok in agents if ok]
        self.answered_by = answered[-1] if answered else None
        self.last_agent = agents[-1][0] if agents else None
        self.wait = 5 + 15 * len(agents) - (15 if answered else 0)
        self.talk = talk_s if answered else 0
        self.end = self.start + self.wait + self.talk

    def _body(self, event, at, **more):
        body = {"event": event, "interactionId": self.id, "direction": "inbound",
                "ani": self.customer, "dnis": self.dnis, "queue": "Soporte_ES",
                "timestamp": iso_s(at)}
        body.update(more)
        return body

    def webhooks(self):
        out, t = [], self.start + 5
        for agent, ok in self.agents:
            out.append(self._body("offered", t, agentId=agent))
            if ok:
                out.append(self._body("answered", t + 3, agentId=agent))
            t += 15
        outcome = ("answered" if self.answered_by else "missed" if self.last_agent
                   else "abandoned")
        ended = {"outcome": outcome, "durations": {"wait": self.wait, "talk": self.talk,
                                                   "hold": 0, "total": self.wait + self.talk}}
        if self.last_agent:
            ended["agentId"] = self.answered_by or self.last_agent
        out.append(self._body("ended", self.end, **ended))
        return out

    def task(self):
        """The contact in the Search API's task query."""
        agent = self.answered_by or self.last_agent
        return {"id": self.id, "channelType": "telephony", "direction": "inbound",
                "origin": self.customer, "destination": self.dnis, "status": "ended",
                "isActive": False, "createdTime": self.start * 1000,
                "endedTime": self.end * 1000, "lastQueue": {"name": "Soporte_ES"},
                "lastAgent": {"id": agent, "name": None} if agent else None,
                "queueDuration": self.wait * 1000, "connectedDuration": self.talk * 1000,
                "holdDuration": 0, "totalDuration": (self.wait + self.talk) * 1000,
                "terminationType": "normal"}
