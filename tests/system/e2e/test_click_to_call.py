"""Click-to-call end to end (issue 24 item 1; R-O1, R-M3 c/e): an agent
clicks "call back" on a missed-call ticket -> POST /v1/calls on pop-service
-> the provider's API (the CallGear Call API emulator, the Twilio Calls
emulator: tests/emulators/*_calls) places the call and posts the webhooks
a real call produces -> callbus-ingest -> Kafka -> callbus-ticket -> the
Zendesk emulator: the call lands on that ticket, which ends pending and
marked called back. One stack for the module (whole.py); one pop-service
replica per provider beside the stack's own (sessions live in Redis, so
any replica serves any agent)."""
import itertools
import os
import random
import subprocess
import sys

import pytest

import whole
from whole import AGENT1, AGENT2, callgear_doc, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
for name in ("callgear_calls", "twilio_calls"):
    sys.path.insert(0, os.path.join(whole.ROOT, "tests", "emulators", name))
from callgear_calls_emulator import CallGearCallsEmulator  # noqa: E402
from twilio_calls_emulator import TwilioCallsEmulator  # noqa: E402

A1, A2 = AGENT1["crm_id"], AGENT2["crm_id"]
CG_TOKEN = "c2c-callgear-call-api-token"
CG_VIRTUAL = "+902129998877"
TW_ACCOUNT = "AC" + "c2c0" * 8
TW_FROM = "+390287654321"
_sessions = itertools.count(random.SystemRandom().randrange(10 ** 8, 9 * 10 ** 8) * 10)


def dial_env(provider, **settings):
    env = {"CALLBUS_POP_DIAL_PROVIDER": provider, "CALLBUS_AGENT_MAP": whole.AGENT_MAP}
    env.update({f"CALLBUS_POP_DIAL_{k.upper()}": str(v) for k, v in settings.items()})
    return env


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    # Only agent 1's employee exists at CallGear: agent 2's call is refused there.
    cg = CallGearCallsEmulator(access_token=CG_TOKEN, virtual_numbers=[CG_VIRTUAL[1:]],
                               employees={whole.CALLGEAR_ID[A1]: "Ayşe Yılmaz"}).start()
    # Twilio signs its callbacks with the account's auth token: ingest's.
    tw = TwilioCallsEmulator(account_sid=TW_ACCOUNT, auth_token=whole.missed_e2e.TWILIO_TOKEN,
                             numbers=[TW_FROM]).start()
    stack = whole.Whole(str(tmp_path_factory.mktemp("c2c")), "c2c")
    try:
        cg.notify_url = stack.ingest.url + "/v1/callgear/" + whole.missed_e2e.CALLGEAR_TOKEN
        tw.deliver = {whole.missed_e2e.PUBLIC_URL: stack.ingest.url}
        stack.cg, stack.tw = cg, tw
        stack.cg_pop = add_pop(stack, dial_env("callgear", api_url=cg.api_url, token=CG_TOKEN,
                                              caller_id=CG_VIRTUAL, burst=2, per_min=1))
        stack.tw_pop = add_pop(stack, dial_env(
            "twilio", api_url=tw.url, account=TW_ACCOUNT, token=whole.missed_e2e.TWILIO_TOKEN,
            caller_id=TW_FROM,
            status_callback_url=whole.missed_e2e.PUBLIC_URL + "/v1/twilio/voice-status"))
        yield stack
    finally:
        cg.stop()
        tw.stop()
        rcs = stack.close()
    assert all(rc == 0 for _, rc in rcs), rcs


def add_pop(stack, env):
    """One more pop-service replica of the stack's group, with `env` (as
    whole.Whole adds its own; sessions are shared through Redis)."""
    p = whole.pop.PopService(stack.topics, f"pop-{stack.topics.prefix.rstrip('.')}", stack.logdir,
                             f"{stack.name}-pop{len(stack.pops) + 1}", env)
    stack.pops.append(p)
    return p.start()


def missed_call_ticket(w, phone):
    """A missed call from `phone` (CallGear, offered to agent 2): its ticket."""
    w.ingest.callgear("end", callgear_doc("end_missed", next(_sessions), phone, A2))
    [mt] = whole.missed_e2e.wait_missed(w, phone, 1, 1, 40)
    assert mt["status"] == "open"
    return mt


def click_to_call(w, pop, crm_id, number, ticket_id):
    return pop.as_agent(w.token(crm_id), "POST", "/v1/calls",
                        {"number": number, "ticket_id": ticket_id})


def called_back(w, mt):
    """R-M3 (c)/(e): the missed-call ticket pending and marked called back."""
    def done():
        t = w.emu.ticket(mt["id"])
        return t if t["status"] == "pending" and "callbus_called_back" in t["tags"] else None
    return wait_for(done, 40, what=f"missed-call ticket {mt['id']} pending and called back")


def test_callgear_call_back_from_a_missed_call_ticket(w):
    """R-O1, R-M3 (c/e), issue 24 item 1: agent 1 clicks "call back" on the
    customer's missed-call ticket; CallGear's start.employee_call carries
    the ticket as external_id, the call's notifications echo it, and the
    call lands on that ticket: it ends pending and marked called back, with
    no other ticket; agent 1 is popped that ticket."""
    phone = whole.e2e.new_number()
    mt = missed_call_ticket(w, phone)
    status, body, _ = click_to_call(w, w.cg_pop, A1, phone, mt["id"])
    assert status == 202, body
    assert body["status"] == "placed" and body["provider"] == "callgear"
    assert body["ticket_id"] == str(mt["id"])
    [call] = [c for c in w.cg.calls if str(c["call_session_id"]) == body["call_id"]]
    p = call["params"]
    assert p["employee"] == {"id": whole.CALLGEAR_ID[A1]} and p["first_call"] == "employee"
    assert p["contact"] == phone.lstrip("+") and p["external_id"] == str(mt["id"])
    w.cg.wait_done()
    assert [(n["name"], n["status"]) for n in call["notifications"]] == [
        ("legout", 202), ("callout", 202), ("handset", 202), ("end", 202)]
    w.wait_pop(A1, body["call_id"], ticket_id=mt["id"])  # R-P3 on the outbound call
    m = called_back(w, mt)
    assert body["call_id"] in "\n".join(c["body"] for c in m["comments"])
    assert not [t for t in w.emu.tickets_of_call(body["call_id"]) if t["id"] != mt["id"]]


def test_callgear_refusal_reaches_the_agent(w):
    """The provider's reason, as JSON: agent 2's employee is not in the
    CallGear account (-32602: 422); an agent with no CallGear operator is
    refused by pop-service (403); past the bucket (burst 2): 429 with
    Retry-After. Nothing was placed for any of them."""
    placed = len(w.cg.calls)
    status, body, _ = click_to_call(w, w.cg_pop, A2, "+905332104455", None)
    assert status == 422, body
    assert body["provider"] == "callgear" and body["error"] == "Employee is not found"
    assert body["provider_code"] == "-32602 invalid_parameter_value"
    stranger = w.cg_pop.agent("900777")
    status, body, _ = w.cg_pop.as_agent(stranger, "POST", "/v1/calls", {"number": "+905332104455"})
    assert status == 403 and "no callgear operator" in body["error"], body
    status, body, _ = click_to_call(w, w.cg_pop, A1, "+905332104455", None)
    assert status == 429 and body["retry_after_s"] > 0, body
    status, body, _ = click_to_call(w, w.cg_pop, A1, "not a number", None)
    assert status == 400, body
    assert len(w.cg.calls) == placed
    status, body, _ = w.cg_pop.http("POST", "/v1/calls", {"number": "+905332104455"})
    assert status == 401, body
    # Counted by outcome (docs/pop.md, Metrics).
    m = w.cg_pop.metrics()
    for result in ("placed", "refused", "unmapped_agent", "rate_limited", "bad_number"):
        assert m.get(f'pop_dial_total{{provider="callgear",result="{result}"}}', 0) >= 1, result


def test_twilio_call_back_from_a_missed_call_ticket(w):
    """R-O1, R-M3 (c/e), issue 24 item 1, on Twilio: the Calls resource rings
    agent 1's Client, the inline TwiML dials the customer; both legs'
    status callbacks carry ?ticket_id=, signed as Twilio signs them; the
    call lands on the missed-call ticket, which ends pending and called
    back, with no other ticket."""
    phone = whole.e2e.new_number()
    mt = missed_call_ticket(w, phone)
    status, body, _ = click_to_call(w, w.tw_pop, A1, phone, mt["id"])
    assert status == 202, body
    assert body["provider"] == "twilio" and body["call_id"].startswith("CA")
    [call] = [c for c in w.tw.calls if c["sid"] == body["call_id"]]
    assert call["params"]["To"] == "client:marco.bianchi"
    assert call["dial"]["number"] == phone
    w.tw.wait_done()
    assert call["callbacks"] and all(cb["status"] == 202 for cb in call["callbacks"]), \
        call["callbacks"]
    assert all(f"?ticket_id={mt['id']}&customer=" in cb["url"] for cb in call["callbacks"])
    m = called_back(w, mt)
    assert body["call_id"] in "\n".join(c["body"] for c in m["comments"])
    assert not [t for t in w.emu.tickets_of_call(body["call_id"]) if t["id"] != mt["id"]]


def test_twilio_unanswered_call_back_leaves_the_ticket_open(w):
    """R-O3, R-M3 (an unanswered outbound call leaves it open): the customer
    does not answer the agent's call back; the attempt is logged on the
    missed-call ticket, which stays open and is not marked called back."""
    phone = whole.e2e.new_number()
    mt = missed_call_ticket(w, phone)
    w.tw.plans[phone] = {"answer": False}
    status, body, _ = click_to_call(w, w.tw_pop, A1, phone, mt["id"])
    assert status == 202, body
    w.tw.wait_done()
    [call] = [c for c in w.tw.calls if c["sid"] == body["call_id"]]
    assert "no-answer" in [cb["params"]["CallStatus"] for cb in call["callbacks"]]

    def attempt():
        t = w.emu.ticket(mt["id"])
        text = "\n".join(c["body"] for c in t["comments"])
        return t if "Call attempt (not answered)" in text else None
    m = wait_for(attempt, 40, what="the attempt on the missed-call ticket (R-O3)")
    assert m["status"] == "open" and "callbus_called_back" not in m["tags"]
    assert not [t for t in w.emu.tickets_of_call(body["call_id"]) if t["id"] != mt["id"]]


def test_twilio_refusal_reaches_the_agent(w):
    """Twilio's own words: a caller id the account does not have (21210) is
    the request's fault, 422 with Twilio's message and code; Twilio not
    answering is 504."""
    status, body, _ = click_to_call(w, w.tw_pop, A1, "+3491", None)
    assert status == 400, body  # not a number at all: pop-service's own refusal
    w.tw.numbers.clear()        # the account lost its caller id number
    status, body, _ = click_to_call(w, w.tw_pop, A1, "+34912345678", None)
    assert status == 422 and body["provider_code"] == "21210", body
    assert "not yet verified" in body["error"]
    w.tw.stop()                 # Twilio unreachable: the agent is told, 504
    status, body, _ = click_to_call(w, w.tw_pop, A1, "+34912345678", None)
    assert status == 504 and body["provider"] == "twilio" and body["error"], body


@pytest.mark.parametrize("settings,why", [
    ({"provider": "twilio", "token": "t"}, "CALLBUS_POP_DIAL_ACCOUNT is required"),
    ({"provider": "callgear", "token": "t", "caller_id": CG_VIRTUAL,
      "api_url": "http://callapi.example.com/v4.0"}, "http"),
    ({"provider": "webex"}, "is not one of"),
])
def test_a_setting_it_cannot_use_stops_the_start(settings, why):
    """Click-to-call misconfigured: pop-service refuses to start, before
    Kafka, saying which setting (credentials go to https only, or to this
    machine: an emulator)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLBUS_")}
    env.update({"CALLBUS_KAFKA_BROKERS": whole.e2e.BROKERS,
                "CALLBUS_REDIS_URL": whole.e2e.REDIS_URL,
                "CALLBUS_HTTP_PORT": "0", "CALLBUS_ADMIN_PORT": "0",
                "CALLBUS_HTTP_BIND": "127.0.0.1", "CALLBUS_ADMIN_BIND": "127.0.0.1"})
    env.update(dial_env(settings.pop("provider"), **settings))
    bin_ = os.environ.get("CALLBUS_POP_BIN", whole.pop.DEFAULT_BIN)
    r = subprocess.run([bin_], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert why in r.stdout + r.stderr, r.stdout + r.stderr
