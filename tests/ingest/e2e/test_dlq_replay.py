"""deploy/tools/callbus-dlq-replay against the real ingest and broker
(issue 14 item 4, docs/operations.md "Replaying the dead-letter topic"):

- it reads call-events.dlq with kcat, selects entries, and posts each body
  on its route authenticated as its provider: a payload that is still
  unusable is refused again (400, a second dead letter), exit status 1;
- fixed payloads (dead letters whose body is now valid) of every provider
  are accepted (202) and stored on call-events, exit status 0; the same
  event ids on a second replay (harmless);
- without the provider's secret it posts nothing and says which is missing.
"""
import json
import os
import re
import subprocess
import sys
import urllib.parse

import pytest

from conftest import BROKERS, REPO
from test_ingest_http import (CALLGEAR_TOKEN, GENERIC_SECRET, PUBLIC_URL, TWILIO_PATH,
                              TWILIO_TOKEN, WEBEX_BEARER, fixture_form, fixture_json, marker)

TOOL = REPO / "deploy" / "tools" / "callbus-dlq-replay"
SECRETS = {"CALLBUS_INGEST_CALLGEAR_TOKEN": CALLGEAR_TOKEN,
           "CALLBUS_INGEST_TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
           "CALLBUS_INGEST_PUBLIC_URL": PUBLIC_URL,
           "CALLBUS_INGEST_WEBEX_BEARER": WEBEX_BEARER,
           "CALLBUS_INGEST_GENERIC_SECRET": GENERIC_SECRET}


@pytest.fixture(scope="module")
def ingest(ingest_factory):
    return ingest_factory("replay", CALLBUS_DEFAULT_COUNTRY="IT", **SECRETS)


def replay(ingest, *args, env=SECRETS, stdin=None):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CALLBUS_INGEST_")}
    return subprocess.run([sys.executable, str(TOOL), "--ingest", ingest.url(""), *args],
                          input=stdin, capture_output=True, text=True, timeout=120,
                          env={**clean, **env})


def test_still_unusable_entry_is_refused_again(ingest, cursor):
    mark = marker()
    body = dict(fixture_json("webex_offered.json"), queue=mark)
    body.pop("interactionId")
    r = ingest.post("/v1/webex/events", body, headers={"Authorization": f"Bearer {WEBEX_BEARER}"})
    assert r.status_code == 400, r.text
    assert len(cursor.dlq(mark)) == 1
    out = replay(ingest, "--brokers", BROKERS, "--match", mark, "--provider", "webex")
    assert out.returncode == 1, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("400 call-events.dlq["), lines
    assert "accepted=0 refused=1 unavailable=0" in out.stderr
    assert len(cursor.dlq(mark, want=2)) == 2   # a new dead letter, the old one stays
    dry = replay(ingest, "--brokers", BROKERS, "--match", mark, "--dry-run")
    assert dry.returncode == 0 and len(dry.stdout.splitlines()) == 2, dry.stdout


def fixed_entries(mark):
    """One dead letter per provider whose body is valid now (what a fixed
    mapping makes of it), routed as ingest records them."""
    cg = fixture_json("callgear_handset.json")
    cg["call_info"]["call_session_id"] = mark
    tw = [(k, mark if k == "CallSid" else v) for k, v in fixture_form("twilio_agent_answered.form")]
    wx = dict(fixture_json("webex_offered.json"), interactionId=mark)
    tv = dict(fixture_json("generic_tvox_offered.json"), call_id=mark, event_id=f"tvox-{mark}")
    base = {"schema_version": 1, "reason": "was unusable", "field": "",
            "received_at": "2026-12-01T10:00:00Z"}
    return [
        dict(base, provider="callgear", route="/v1/callgear/handset",
             content_type="application/json", body=json.dumps(cg)),
        dict(base, provider="twilio", route=TWILIO_PATH,
             content_type="application/x-www-form-urlencoded", body=urllib.parse.urlencode(tw)),
        dict(base, provider="webex", route="/v1/webex/events", content_type="application/json",
             body=json.dumps(wx)),
        dict(base, provider="tvox", route="/v1/generic/events", content_type="application/json",
             body=json.dumps(tv)),
    ]


def test_fixed_entries_of_every_provider_are_accepted_and_stored(ingest, cursor):
    mark = marker()
    lines = "".join(json.dumps(e) + "\n" for e in fixed_entries(mark))
    out = replay(ingest, "--input", "-", stdin=lines)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "accepted=4 refused=0" in out.stderr
    ids = [i for line in out.stdout.splitlines()
           for i in json.loads(line.split(": ", 1)[1])["event_ids"]]
    assert len(ids) == 4 and all(line.startswith("202 ") for line in out.stdout.splitlines())
    found = cursor.wait_events(ids)
    assert set(ids) <= set(found), (ids, sorted(found))
    again = replay(ingest, "--input", "-", stdin=lines)
    assert again.returncode == 0
    assert [i for line in again.stdout.splitlines()
            for i in json.loads(line.split(": ", 1)[1])["event_ids"]] == ids


def test_a_missing_secret_posts_nothing(ingest):
    entries = fixed_entries(marker())
    env = {k: v for k, v in SECRETS.items() if k != "CALLBUS_INGEST_WEBEX_BEARER"}
    out = replay(ingest, "--input", "-", env=env, stdin=json.dumps(entries[2]) + "\n")
    assert out.returncode == 2
    assert re.search(r"CALLBUS_INGEST_WEBEX_BEARER is not set", out.stderr), out.stderr
    assert out.stdout == ""
