"""The CallGear Call API emulator's own tests (issue 24 item 1): what it
accepts and refuses as the documentation says, and the notifications a
placed call posts, in order, with the external_id echoed."""
import json
import os
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from callgear_calls_emulator import CallGearCallsEmulator  # noqa: E402


class Sink:
    """Records what is posted to it (ingest's stand-in)."""

    def __init__(self):
        self.got = []
        sink = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):  # noqa: N802
                n = int(self.headers.get("Content-Length") or 0)
                sink.got.append((self.path, json.loads(self.rfile.read(n))))
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.srv.server_address[1]}/v1/callgear/tok"


@pytest.fixture
def emu():
    sink = Sink()
    e = CallGearCallsEmulator(notify_url=sink.url, limit_per_minute=3, step_s=0.01).start()
    e.sink = sink
    yield e
    e.stop()
    sink.srv.shutdown()


def rpc(emu, params, method="start.employee_call", ctype="application/json; charset=UTF-8"):
    body = json.dumps({"jsonrpc": "2.0", "id": "r1", "method": method, "params": params})
    req = urllib.request.Request(emu.api_url, data=body.encode(), method="POST",
                                 headers={"Content-Type": ctype})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def params(**over):
    p = {"access_token": "cg-call-api-token", "first_call": "employee", "switch_at_once": True,
         "virtual_phone_number": "902129998877", "contact": "905332104455",
         "employee": {"id": 2207}, "external_id": "48213"}
    p.update(over)
    return p


def test_placed_call_posts_its_notifications_in_order(emu):
    r = rpc(emu, params())
    session = r["result"]["data"]["call_session_id"]
    emu.wait_done()
    assert [p.rsplit("/", 1)[1] for p, _ in emu.sink.got] == ["legout", "callout", "handset",
                                                              "end"]
    for _, doc in emu.sink.got:
        assert doc["call_info"]["call_session_id"] == session
        assert doc["external_id"] == "48213" and doc["call_info"]["direction"] == "out"
        assert doc["employee_info"]["employee_id"] == 2207
    end = emu.sink.got[-1][1]
    assert end["call_info"]["talk_time_duration"] == 30 and end["call_info"]["is_lost"] is False


def test_unanswered_call_has_no_handset_and_is_lost(emu):
    urllib.request.urlopen(urllib.request.Request(
        emu.url + "/__emulator/plan", method="POST",
        data=json.dumps({"contact": "905332104455", "answer": False}).encode()), timeout=5)
    rpc(emu, params())
    emu.wait_done()
    names = [p.rsplit("/", 1)[1] for p, _ in emu.sink.got]
    assert names == ["legout", "callout", "end"]
    assert emu.sink.got[-1][1]["call_info"]["is_lost"] is True


@pytest.mark.parametrize("over,code,mnemonic", [
    ({"access_token": "wrong"}, -32001, "access_token_invalid"),
    ({"contact": "90-533"}, -32602, "invalid_parameter_value"),
    ({"virtual_phone_number": "111"}, -32602, "invalid_parameter_value"),
    ({"employee": {"id": 9}}, -32602, "invalid_parameter_value"),
    ({"first_call": None}, -32602, "required_parameter_missed"),
])
def test_refusals_name_code_and_mnemonic(emu, over, code, mnemonic):
    r = rpc(emu, params(**over))
    assert r["error"]["code"] == code and r["error"]["data"]["mnemonic"] == mnemonic
    assert not emu.calls


def test_protocol_errors(emu):
    assert rpc(emu, params(), method="start.nothing")["error"]["code"] == -32601
    assert rpc(emu, params(), ctype="text/plain")["error"]["code"] == -32700


def test_limit_per_minute(emu):
    for _ in range(3):
        assert "result" in rpc(emu, params())
    r = rpc(emu, params())
    assert r["error"]["code"] == -32029 and r["error"]["data"]["mnemonic"] == "limit_exceeded"
    emu.wait_done()
