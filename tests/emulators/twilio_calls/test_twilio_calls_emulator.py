"""The Twilio Calls emulator's own tests (issue 24 item 1): Basic auth, the
documented refusals, and the signed status callbacks of both legs (the
agent's Client, then the customer dialled by the inline TwiML)."""
import base64
import json
import os
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from twilio_calls_emulator import TwilioCallsEmulator, signature  # noqa: E402

SID = "AC" + "0" * 31 + "1"
PUBLIC = "https://hooks.callbus.test"


class Sink:
    """ingest's stand-in: records each callback and whether its signature
    (over the public URL) holds."""

    def __init__(self, token):
        self.got = []
        sink = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):  # noqa: N802
                n = int(self.headers.get("Content-Length") or 0)
                pairs = urllib.parse.parse_qsl(self.rfile.read(n).decode())
                ok = self.headers["X-Twilio-Signature"] == signature(token, PUBLIC + self.path,
                                                                     pairs)
                sink.got.append((self.path, dict(pairs), ok))
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.srv.server_address[1]}"


@pytest.fixture
def emu():
    sink = Sink("tw-auth-token")
    e = TwilioCallsEmulator(api_keys={"SK1": "key-secret"}, deliver={PUBLIC: sink.url},
                            limit_per_minute=3, step_s=0.01).start()
    e.sink = sink
    yield e
    e.stop()
    sink.srv.shutdown()


TWIML = ('<Response><Dial callerId="+390287654321"><Number statusCallbackEvent="initiated '
         'ringing answered completed" statusCallback="' + PUBLIC + '/v1/twilio/voice-status?'
         'ticket_id=7&amp;x=1">+34912345678</Number></Dial></Response>')


def create(emu, form, user=SID, password="tw-auth-token", account=SID):
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    req = urllib.request.Request(f"{emu.url}/2010-04-01/Accounts/{account}/Calls.json",
                                 data=urllib.parse.urlencode(form, doseq=True).encode(),
                                 method="POST", headers={
                                     "Authorization": "Basic " + auth,
                                     "Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def form(**over):
    f = {"To": "client:marco.bianchi", "From": "+390287654321", "Twiml": TWIML,
         "StatusCallback": PUBLIC + "/v1/twilio/voice-status?ticket_id=7",
         "StatusCallbackEvent": ["initiated", "ringing", "answered", "completed"]}
    f.update(over)
    return f


def test_created_call_reports_both_legs_signed(emu):
    status, doc = create(emu, form())
    assert status == 201 and doc["sid"].startswith("CA") and doc["status"] == "queued"
    emu.wait_done()
    got = emu.sink.got
    assert all(ok for _, _, ok in got)
    agent = [(p["CallStatus"]) for _, p, _ in got if p["CallSid"] == doc["sid"]]
    child = [p for _, p, _ in got if p.get("ParentCallSid") == doc["sid"]]
    assert agent == ["initiated", "ringing", "in-progress", "completed"]
    assert [p["CallStatus"] for p in child] == ["initiated", "ringing", "in-progress", "completed"]
    assert child[0]["Direction"] == "outbound-dial" and child[0]["To"] == "+34912345678"
    assert all(path.endswith("ticket_id=7&x=1") for path, p, _ in got if p in child)


def test_unanswered_customer_leg_is_no_answer(emu):
    urllib.request.urlopen(urllib.request.Request(
        emu.url + "/__emulator/plan", method="POST",
        data=json.dumps({"to": "+34912345678", "answer": False}).encode()), timeout=5)
    _, doc = create(emu, form(), user="SK1", password="key-secret")
    emu.wait_done()
    child = [p["CallStatus"] for _, p, _ in emu.sink.got if p.get("ParentCallSid") == doc["sid"]]
    assert child == ["initiated", "ringing", "no-answer"]


@pytest.mark.parametrize("kwargs,status,code", [
    ({"password": "wrong"}, 401, 20003),
    ({"account": "AC" + "9" * 32}, 404, 20404),
    ({"form": form(To="")}, 400, 21201),
    ({"form": form(From="")}, 400, 21213),
    ({"form": form(Twiml="")}, 400, 21205),
    ({"form": form(To="12")}, 400, 21211),
    ({"form": form(From="+34600000000")}, 400, 21210),
    ({"form": form(Twiml="<Response><Dial>")}, 400, 12100),
])
def test_refusals_are_twilio_errors(emu, kwargs, status, code):
    f = kwargs.pop("form", form())
    got_status, doc = create(emu, f, **kwargs)
    assert (got_status, doc["code"], doc["status"]) == (status, code, status)
    assert doc["message"] and doc["more_info"].endswith(str(code))
    assert not emu.calls


def test_too_many_requests(emu):
    for _ in range(3):
        assert create(emu, form(Twiml="<Response/>"))[0] == 201
    status, doc = create(emu, form())
    assert status == 429 and doc["code"] == 20429
