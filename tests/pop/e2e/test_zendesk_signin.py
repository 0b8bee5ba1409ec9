"""The Zendesk app's sign-in (issue 22 item 1; docs/pop.md "The Zendesk
app"): Zendesk posts the app's first page request with a JWT it signed
with the app's key; pop-service verifies it (pop_jwt: signature, iss, aud,
exp, age) and opens the session of the Zendesk user it names (R-P1: the
same session a provisioning login opens), answering the app's page with
the session token in it. No secret typed by anyone. Here the test plays
Zendesk (zaf.py)."""
import os
import re
import subprocess
import time
import urllib.error
import urllib.request

import pytest

import pop
import zaf

ACCOUNT = "https://acme.zendesk.com"


@pytest.fixture(scope="module")
def key():
    return zaf.AppKey()


@pytest.fixture(scope="module")
def svc(topics, logdir, key):
    s = pop.start_pop(topics, f"pop-{topics.prefix.rstrip('.')}", logdir, "zendesk-signin", {
        "CALLBUS_POP_ZENDESK_APP_KEY": key.write_public(logdir),  # as a mounted file
        "CALLBUS_POP_ZENDESK_URL": ACCOUNT,
        "CALLBUS_POP_ZENDESK_INSTALLATION_ID": zaf.INSTALLATION_ID,
    })
    yield s
    s.stop()


def post(svc, body, accept="text/html", ctype="application/x-www-form-urlencoded"):
    """As the agent's browser posts Zendesk's form into the app's iframe."""
    req = urllib.request.Request(f"{svc.url}/apps/zendesk/", data=body, method="POST",
                                 headers={"Content-Type": ctype, "Accept": accept})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read().decode()


def session_token(page):
    m = re.search(r'<meta name="callbus-session" content="([0-9a-f]{64})">', page)
    assert m, page
    return m.group(1)


def signins(svc, result):
    return svc.metrics().get(f'pop_signin_total{{method="zendesk",result="{result}"}}', 0)


def test_signed_request_opens_the_users_session(svc, key):
    before = signins(svc, "ok")
    status, headers, page = post(svc, zaf.form(zaf.sign(key, zaf.claims(ACCOUNT, "900101"))))
    assert status == 200, page
    assert headers["Content-Type"].startswith("text/html")
    assert headers["Cache-Control"] == "no-store"  # the page holds a session token
    csp = headers["Content-Security-Policy"]
    assert f"frame-ancestors {ACCOUNT};" in csp  # only the account's workspace frames it
    assert "script-src 'self' https://static.zdassets.com;" in csp
    assert "Set-Cookie" not in headers  # a third-party iframe: no cookie
    token = session_token(page)
    assert '<script src="https://static.zdassets.com/zendesk_app_framework_sdk/2.0/zaf_sdk.min.js"' \
        in page
    status, me, _ = svc.as_agent(token, "GET", "/v1/sessions/me")
    assert status == 200 and me["agent_crm_id"] == "900101", me
    assert signins(svc, "ok") == before + 1
    # The session is the agent's one session (R-P1): it heartbeats and
    # streams like a provisioning login's.
    assert svc.as_agent(token, "POST", "/v1/sessions/heartbeat")[0] == 200
    s = svc.stream(token)
    try:
        pop.wait_for(lambda: s.status == 200, 10, what="the app's stream to open")
    finally:
        s.close()


def test_sub_as_a_plain_user_id(svc, key):
    status, _, page = post(svc, zaf.form(zaf.sign(key, zaf.claims(ACCOUNT, "x", sub="900102"))))
    assert status == 200, page
    assert svc.as_agent(session_token(page), "GET", "/v1/sessions/me")[1]["agent_crm_id"] == "900102"


def test_a_new_signin_ends_the_agents_previous_session(svc, key):
    """One session per agent (R-P1): the app reopened (Zendesk reloaded)
    replaces the session, whichever way it was opened."""
    provisioned = svc.agent("900103")
    _, _, page = post(svc, zaf.form(zaf.sign(key, zaf.claims(ACCOUNT, "900103"))))
    assert svc.as_agent(session_token(page), "GET", "/v1/sessions/me")[0] == 200
    assert svc.as_agent(provisioned, "GET", "/v1/sessions/me")[0] == 401


@pytest.mark.parametrize("case, reason", [
    ("expired", "expired"),
    ("too_old", "expired"),       # signed long ago, still unexpired: replayed too late
    ("other_installation", "audience"),
    ("other_account", "issuer"),
    ("other_key", "signature"),
    ("hs256_with_the_public_key", "algorithm"),
    ("not_a_jwt", "malformed"),
])
def test_refused_signed_requests(svc, key, case, reason):
    now = int(time.time())
    c = zaf.claims(ACCOUNT, "900109")
    token = {
        "expired": lambda: zaf.sign(key, dict(c, iat=now - 400, exp=now - 100)),
        "too_old": lambda: zaf.sign(key, dict(c, iat=now - 900, exp=now + 3600)),
        "other_installation": lambda: zaf.sign(key, zaf.claims(ACCOUNT, "900109", "999")),
        "other_account": lambda: zaf.sign(key, zaf.claims("https://evil.zendesk.com", "900109")),
        "other_key": lambda: zaf.sign(zaf.AppKey(), c),
        "hs256_with_the_public_key": lambda: zaf.hs256_forgery(key.public_pem(), c),
        "not_a_jwt": lambda: "hello.world",
    }[case]()
    before = signins(svc, reason)
    status, headers, page = post(svc, zaf.form(token))
    assert status == 401, page
    assert f"({reason})" in page and "callbus-session" not in page
    assert headers["Cache-Control"] == "no-store"
    assert signins(svc, reason) == before + 1
    # The same as JSON for a client that asks for it.
    status, _, body = post(svc, zaf.form(token), accept="application/json")
    assert status == 401 and f'"reason": "{reason}"' in body.replace('":"', '": "')


def test_no_token_and_plain_get_are_refused(svc):
    assert post(svc, b"other=1")[0] == 401
    assert post(svc, b'{"token": "x"}', ctype="application/json")[0] == 401
    status, body, _ = svc.http("GET", "/apps/zendesk/")
    assert status == 401 and body["reason"] == "unsigned" and "open it from Zendesk" in body["error"]


@pytest.mark.parametrize("env, says", [
    ({"CALLBUS_POP_ZENDESK_INSTALLATION_ID": ""}, "CALLBUS_POP_ZENDESK_INSTALLATION_ID"),
    ({"CALLBUS_POP_ZENDESK_URL": "https://acme.zendesk.com/agent"}, "CALLBUS_POP_ZENDESK_URL"),
    ({"CALLBUS_POP_ZENDESK_APP_KEY": "/nonexistent/zendesk.pem"}, "CALLBUS_POP_ZENDESK_APP_KEY"),
    ({"CALLBUS_POP_ZENDESK_APP_KEY": "-----BEGIN PUBLIC KEY-----\nnot a key\n"},
     "CALLBUS_POP_ZENDESK_APP_KEY"),
])
def test_a_half_configured_app_stops_pop_service_at_start(topics, logdir, key, env, says):
    """A key without the account and installation to check it against would
    accept any installation's token: pop-service refuses to start."""
    full = {"CALLBUS_POP_ZENDESK_APP_KEY": key.public_pem(), "CALLBUS_POP_ZENDESK_URL": ACCOUNT,
            "CALLBUS_POP_ZENDESK_INSTALLATION_ID": zaf.INSTALLATION_ID}
    s = pop.PopService(topics, "pop-misconfigured", logdir, "zendesk-misconfigured",
                       dict(full, **env))
    base = {k: v for k, v in os.environ.items() if not k.startswith("CALLBUS_")}
    r = subprocess.run([s.bin], env=dict(base, **s.env), capture_output=True, text=True,
                       timeout=30)
    assert r.returncode != 0 and says in r.stdout + r.stderr, (r.returncode, r.stdout[-2000:])
