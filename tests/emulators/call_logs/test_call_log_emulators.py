"""The call-log emulators' own checks (issue 27). Twilio: the documented
filter, paging through next_page_uri, basic auth (20003), 429 with
Retry-After (20429); and the scenario generator's records and webhooks
agreeing on legs."""
import base64
import json
import os
import sys
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from call_scenarios import TwilioCall  # noqa: E402
from twilio_log_emulator import TwilioLogEmulator  # noqa: E402


def get(emu, path, token=None):
    auth = base64.b64encode(f"{emu.account_sid}:{token or emu.auth_token}".encode()).decode()
    req = urllib.request.Request(emu.url + path, headers={"Authorization": f"Basic {auth}"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read()), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read()), dict(e.headers)


def calls_path(emu, query):
    return f"/2010-04-01/Accounts/{emu.account_sid}/Calls.json?{query}"


def test_pages_through_every_leg():
    with TwilioLogEmulator() as emu:
        calls = [TwilioCall("+390612345678", [("marco.bianchi", False), ("giulia.rossi", True)])
                 for _ in range(4)]
        for c in calls:
            for rec in c.records():
                emu.log(rec)
        seen, path = [], calls_path(emu, "StartTime%3E=2000-01-01&PageSize=5")
        while path:
            status, doc, _ = get(emu, path)
            assert status == 200 and len(doc["calls"]) <= 5
            seen += [r["sid"] for r in doc["calls"]]
            path = doc["next_page_uri"]
        assert sorted(seen) == sorted(leg.sid for c in calls for leg in c.legs)


def test_filter_by_start_day():
    with TwilioLogEmulator() as emu:
        for rec in TwilioCall("+390612345678", [("giulia.rossi", True)],
                              start=1773133448).records():  # 2026-03-10
            emu.log(rec)
        assert len(get(emu, calls_path(emu, "StartTime=2026-03-10"))[1]["calls"]) == 2
        assert get(emu, calls_path(emu, "StartTime%3E=2026-03-11"))[1]["calls"] == []
        assert len(get(emu, calls_path(emu, "StartTime%3C=2026-03-10"))[1]["calls"]) == 2


def test_wrong_token_is_20003():
    with TwilioLogEmulator() as emu:
        status, doc, _ = get(emu, calls_path(emu, ""), token="wrong")
        assert (status, doc["code"]) == (401, 20003)


def test_throttled_request_is_429_with_retry_after():
    with TwilioLogEmulator() as emu:
        emu.throttle(1)
        status, doc, headers = get(emu, calls_path(emu, ""))
        assert (status, doc["code"], headers.get("Retry-After")) == (429, 20429, "1")
        assert get(emu, calls_path(emu, ""))[0] == 200


def test_scenario_webhooks_cover_every_leg():
    call = TwilioCall("+390612345678", [("marco.bianchi", False), ("giulia.rossi", True)])
    sids = {dict(p)["CallSid"] for p in call.webhooks()}
    assert sids == {r["sid"] for r in call.records()}
    ends = [dict(p) for p in call.webhooks() if dict(p)["CallStatus"] in ("completed", "no-answer")]
    assert [e["SequenceNumber"] for e in ends] == ["2", "3", "3"]


# ---- CallGear's Data API -------------------------------------------------------------------------

from call_scenarios import CallGearCall  # noqa: E402
from callgear_log_emulator import CallGearLogEmulator  # noqa: E402


def rpc(emu, method, **params):
    body = json.dumps({"jsonrpc": "2.0", "id": 7, "method": method,
                       "params": dict({"access_token": emu.access_token}, **params)}).encode()
    req = urllib.request.Request(emu.url + "/v2.0", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def test_callgear_report_pages_by_offset():
    with CallGearLogEmulator() as emu:
        calls = [CallGearCall("+905324127890", [(2207, True)], start=1773310000 + i)
                 for i in range(5)]
        for c in calls:
            emu.log(c.record(), c.leg_records())
        got, offset = [], 0
        while True:
            res = rpc(emu, "get.calls_report", date_from="2026-03-12 00:00:00",
                      date_till="2026-03-12 23:59:59", limit=2, offset=offset,
                      fields=["id", "is_lost"])["result"]
            assert res["metadata"]["total_items"] == 5
            got += res["data"]
            offset += len(res["data"])
            if not res["data"] or offset >= 5:
                break
        assert [r["id"] for r in got] == [c.id for c in calls]
        assert set(got[0]) == {"id", "is_lost"}


def test_callgear_errors_are_json_rpc_errors():
    with CallGearLogEmulator() as emu:
        bad = rpc(emu, "get.calls_report", access_token="wrong")
        assert bad["error"]["code"] == -32001
        emu.throttle(1)
        limited = rpc(emu, "get.calls_report", date_from="2026-03-12 00:00:00",
                      date_till="2026-03-12 23:59:59")
        assert limited["error"]["data"]["mnemonic"] == "limit_exceeded"
        assert "result" in rpc(emu, "get.calls_report", date_from="2026-03-12 00:00:00",
                               date_till="2026-03-12 23:59:59")
        assert rpc(emu, "get.nothing")["error"]["code"] == -32601


def test_callgear_scenario_end_names_the_last_leg():
    call = CallGearCall("+905324127890", [(2211, False), (2207, True)])
    hooks = call.webhooks()
    assert [n for n, _ in hooks] == ["endleg", "handset", "endleg", "end"]
    assert hooks[-1][1]["leg_id"] == max(r["id"] for r in call.leg_records())
    assert call.record()["last_answered_employee_id"] == 2207
    # the report's last scenario operation is the one the /end names
    assert call.record()["scenario_operations"][-1]["name"] == \
        hooks[-1][1]["last_scenario_operation_name"] == CallGearCall.ROUTE_OP
    vm = CallGearCall("+905327001122", [(2211, False)], voicemail=True)
    assert [n for n, _ in vm.webhooks()] == ["endleg", "end"]
    assert vm.record()["scenario_operations"][-1]["name"] == \
        vm.webhooks()[-1][1]["last_scenario_operation_name"] == CallGearCall.VOICEMAIL_OP
    assert vm.record()["voice_mail_records"] and vm.record()["is_lost"]


# ---- Webex Contact Center's Search API ------------------------------------------------------------

from call_scenarios import WebexCall, iso_s  # noqa: E402
from webex_log_emulator import WebexLogEmulator  # noqa: E402


def search(emu, token=None, **variables):
    body = json.dumps({"query": "query { task(from: $from, to: $to) { tasks { id } } }",
                       "variables": variables}).encode()
    req = urllib.request.Request(emu.url + "/search", data=body, method="POST", headers={
        "Authorization": f"Bearer {token or emu.token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read()), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read()), dict(e.headers)


def test_webex_search_pages_by_cursor():
    with WebexLogEmulator(page_size=2) as emu:
        calls = [WebexCall("+34612345678", [("a1", True)], start=1775119000 + i) for i in range(5)]
        for c in calls:
            emu.log(c.task())
        got, cursor = [], None
        while True:
            status, doc, _ = search(emu, **{"from": 0, "to": 2 * 10**12, "cursor": cursor})
            assert status == 200
            got += [t["id"] for t in doc["data"]["task"]["tasks"]]
            info = doc["data"]["task"]["pageInfo"]
            if not info["hasNextPage"]:
                break
            cursor = info["endCursor"]
        assert got == [c.id for c in calls]


def test_webex_search_errors():
    with WebexLogEmulator() as emu:
        assert search(emu, token="wrong", **{"from": 0, "to": 1})[0] == 401
        assert search(emu)[0] == 400
        emu.throttle(1)
        status, _, headers = search(emu, **{"from": 0, "to": 1})
        assert (status, headers.get("Retry-After")) == (429, "1")


def test_webex_scenario_ended_matches_the_task():
    call = WebexCall("+34612345678", [("a2", False), ("a1", True)])
    ended = call.webhooks()[-1]
    assert ended["event"] == "ended" and ended["agentId"] == "a1"
    assert ended["timestamp"] == iso_s(call.task()["endedTime"] / 1000)
