"""Agents sign in with the company's identity provider (issue 22 item 3;
R-P1): an ID token from the OpenID Connect emulator (tests/emulators/oidc)
opens the session POST /v1/sessions opens; tokens for another audience,
expired, forged or from another issuer are 401 and counted; a key rotation
at the provider is followed; a session lives no longer than its ID token
unless a fresh one extends it, so a logout at the provider ends it at the
next refresh; an administrator's revocation ends the agent's streams on
every replica; the provisioning secret still logs machine clients in."""
import os
import sys
import time

import pytest

import pop
from pop import Call

sys.path.insert(0, os.path.join(pop.ROOT, "tests", "emulators", "oidc"))
from oidc_client import code_flow, refresh  # noqa: E402

GRACE_S = 1


@pytest.fixture(scope="module")
def idp():
    emu = pop.oidc_emulator()
    yield emu
    emu.stop()


@pytest.fixture(scope="module")
def osvc(topics, logdir, idp):
    """A pop-service signing agents in with the emulator: sessions live to
    the token's exp + 1 s, an unknown kid refetches keys after 1 s."""
    s = pop.start_pop(topics, f"pop-oidc-{pop.RUN}", logdir, "pop-oidc", pop.oidc_env(
        idp, CALLBUS_POP_OIDC_GRACE_S=GRACE_S, CALLBUS_POP_OIDC_KEYS_MIN_INTERVAL_S=1))
    pop.wait_for(lambda: s.http("GET", "/v1/auth/config")[0] == 200, 20,
                 what="the issuer's configuration to load")
    yield s
    if s.running():
        s.stop()


def user(idp, crm_id):
    name = f"agent-{crm_id}"
    idp.add_user(name, {"crm_agent_id": crm_id})
    return name


def signin_count(svc, result, method="oidc"):
    return svc.metric(f'pop_signin_total{{method="{method}",result="{result}"}}')


def test_auth_config_tells_the_page_where_to_sign_in(osvc, idp):
    status, body, _ = osvc.http("GET", "/v1/auth/config")
    c = body["oidc"]
    assert status == 200 and c["issuer"] == idp.issuer and c["client_id"] == idp.client_id
    assert c["authorization_endpoint"] == idp.issuer + "/authorize"
    assert c["token_endpoint"] == idp.issuer + "/token"
    assert c["end_session_endpoint"] == idp.issuer + "/logout"
    assert "openid" in c["scopes"].split()


def test_signin_with_an_id_token_opens_the_session_and_its_stream(osvc, idp, topics):
    crm = "940001"
    tokens = code_flow(idp.issuer, idp.client_id, user(idp, crm))
    before = signin_count(osvc, "ok")
    status, body, _ = osvc.oidc_login(tokens["id_token"], provider_agent_id="p940001",
                                      extension="301")
    assert status == 201, body
    assert (body["agent_crm_id"], body["provider_agent_id"], body["extension"]) == \
        (crm, "p940001", "301")
    assert len(body["token"]) == 64 and 0 < body["expires_in"] <= 120
    assert signin_count(osvc, "ok") == before + 1
    stream = osvc.stream(body["token"])
    try:
        assert stream.status == 200
        call = Call()
        topics.produce(call.answered({"provider_id": "p940001", "crm_id": crm, "name": "A"}))
        stream.wait_kind(call, "new_case")
    finally:
        stream.close()


@pytest.mark.parametrize("claims,key,why", [
    ({"aud": "someone-else"}, "current", "audience"),
    ({"exp": -120}, "current", "expired"),  # relative: see below
    ({}, "forged", "signature"),
    ({"iss": "https://evil.example.com"}, "current", "issuer"),
    ({"crm_agent_id": None}, "current", "agent_claim"),
])
def test_bad_id_tokens_are_401_and_counted(osvc, idp, claims, key, why):
    name = user(idp, "940002")
    claims = dict(claims, sub=name)
    if "exp" in claims:
        claims["exp"] = int(time.time()) + claims["exp"]
        claims["iat"] = claims["exp"] - 300
    if claims.get("crm_agent_id", "") is None:
        idp.add_user(name, {})
        del claims["crm_agent_id"]
    token = idp.sign(claims, key)
    before = signin_count(osvc, why)
    status, body, _ = osvc.oidc_login(token)
    assert (status, body["error"]) == (401, why)
    assert signin_count(osvc, why) == before + 1
    status, body, _ = osvc.oidc_login("not.a.token")
    assert status == 401 and body["error"] == "malformed"


def test_keys_rotated_at_the_provider_are_fetched_again(osvc, idp):
    name = user(idp, "940003")
    time.sleep(1.1)  # past CALLBUS_POP_OIDC_KEYS_MIN_INTERVAL_S since the last fetch
    idp.rotate()
    fetches = idp.stats["jwks_requests"]
    status, body, _ = osvc.oidc_login(idp.sign({"sub": name}))
    assert status == 201, body
    assert idp.stats["jwks_requests"] == fetches + 1
    # Kids nobody published, at once: refused without a fetch each (rate limit).
    for i in range(5):
        status, body, _ = osvc.oidc_login(idp.sign({"sub": name}, "forged", kid=f"nope-{i}"))
        assert (status, body["error"]) == (401, "unknown_key")
    assert idp.stats["jwks_requests"] <= fetches + 2


def test_a_fresh_id_token_extends_the_session(osvc, idp):
    crm = "940004"
    idp.id_token_ttl_s = 4
    try:
        tokens = code_flow(idp.issuer, idp.client_id, user(idp, crm))
        status, body, _ = osvc.oidc_login(tokens["id_token"])
        assert status == 201 and body["expires_in"] <= 4 + GRACE_S
        session = body["token"]
        idp.id_token_ttl_s = 60
        status, fresh = refresh(idp.issuer, idp.client_id, tokens["refresh_token"])
        assert status == 200
        status, ext, _ = osvc.http("POST", "/v1/sessions/oidc/refresh",
                                   {"id_token": fresh["id_token"]},
                                   {"Authorization": f"Bearer {session}"})
        assert status == 200 and 55 <= ext["expires_in"] <= 60 + GRACE_S, ext
        time.sleep(4 + GRACE_S + 1)  # past the first token's life
        assert osvc.as_agent(session, "GET", "/v1/sessions/me")[0] == 200
        # Another agent's token does not extend this session.
        other = code_flow(idp.issuer, idp.client_id, user(idp, "940005"))["id_token"]
        status, _, _ = osvc.http("POST", "/v1/sessions/oidc/refresh", {"id_token": other},
                                 {"Authorization": f"Bearer {session}"})
        assert status == 401
    finally:
        idp.id_token_ttl_s = 300


def test_logout_at_the_provider_ends_the_session_and_its_streams(osvc, idp):
    crm = "940006"
    idp.id_token_ttl_s = 3
    try:
        name = user(idp, crm)
        tokens = code_flow(idp.issuer, idp.client_id, name)
        status, body, _ = osvc.oidc_login(tokens["id_token"])
        assert status == 201
        stream = osvc.stream(body["token"])
        assert stream.status == 200
        idp.logout_user(name)
        status, refused = refresh(idp.issuer, idp.client_id, tokens["refresh_token"])
        assert (status, refused["error"]) == (400, "invalid_grant")  # no fresh token
        # Heartbeats go on (the page is open) but cannot outlive the token.
        t0 = time.monotonic()
        while not stream.closed.wait(0.5) and time.monotonic() - t0 < 10:
            osvc.as_agent(body["token"], "POST", "/v1/sessions/heartbeat")
        took = time.monotonic() - t0
        assert stream.closed.is_set(), "the stream outlived its ID token"
        assert took <= 3 + GRACE_S + 2, f"stream ended {took:.1f} s after the provider's logout"
        assert osvc.as_agent(body["token"], "GET", "/v1/sessions/me")[0] == 401
    finally:
        idp.id_token_ttl_s = 300


def test_admin_revocation_ends_the_agents_streams_on_both_replicas(osvc, idp, topics, logdir):
    other = pop.start_pop(topics, osvc.group, logdir, "pop-oidc-b", osvc.env)
    try:
        crm = "940007"
        status, body, _ = osvc.oidc_login(code_flow(idp.issuer, idp.client_id,
                                                    user(idp, crm))["id_token"])
        assert status == 201
        streams = [osvc.stream(body["token"]), other.stream(body["token"])]
        assert [s.status for s in streams] == [200, 200]
        assert other.admin("POST", "/admin/sessions/revoke", {"agent_crm_id": crm},
                           secret="wrong")[0] == 401
        assert other.admin("POST", "/admin/sessions/revoke", {"agent_crm_id": crm},
                           secret=None)[0] == 401
        t0 = time.monotonic()
        status, rv = other.admin("POST", "/admin/sessions/revoke", {"agent_crm_id": crm})
        assert (status, rv["status"], rv["agent_crm_id"]) == (200, "revoked", crm)
        for s in streams:  # announced: at once, not at the next session check (30 s)
            assert s.closed.wait(5), "a stream outlived the revocation"
        assert time.monotonic() - t0 < 5
        assert osvc.as_agent(body["token"], "GET", "/v1/sessions/me")[0] == 401
        assert other.admin("POST", "/admin/sessions/revoke", {"agent_crm_id": crm})[0] == 404
        # The public port has no such route.
        assert osvc.http("POST", "/admin/sessions/revoke", {"agent_crm_id": crm},
                         {"Authorization": f"Bearer {pop.SECRET}"})[0] == 404
    finally:
        other.stop()


def test_provisioning_secret_still_logs_machine_clients_in(osvc):
    before = signin_count(osvc, "ok", "secret")
    status, body, _ = osvc.login("940008", "p940008")
    assert status == 201 and body["agent_crm_id"] == "940008"
    assert signin_count(osvc, "ok", "secret") == before + 1
    assert osvc.login("940008", secret="wrong")[0] == 401
    assert signin_count(osvc, "refused", "secret") >= 1


def test_without_an_issuer_oidc_signin_is_off(svc, idp):
    status, body, _ = svc.http("GET", "/v1/auth/config")
    assert (status, body) == (200, {"oidc": None})
    status, body, _ = svc.oidc_login(idp.sign({"sub": "x"}))
    assert status == 404


def test_signin_before_the_keys_are_loaded_is_503(topics, logdir):
    """An issuer that does not answer: the sign-in waits CALLBUS_POP_OIDC_WAIT_MS
    for keys, then 503 (the loop never blocks: /v1/auth/config is 503 too)."""
    s = pop.start_pop(topics, f"pop-oidc-down-{pop.RUN}", logdir, "pop-oidc-down", {
        "CALLBUS_POP_OIDC_ISSUER": "http://127.0.0.1:9", "CALLBUS_POP_OIDC_CLIENT_ID": "x",
        "CALLBUS_POP_OIDC_WAIT_MS": "300"})
    try:
        status, body, took = s.oidc_login("a.b.c")
        assert status == 503 and took < 3, (status, body, took)
        assert s.http("GET", "/v1/auth/config")[0] == 503
        assert s.metric('pop_signin_total{method="oidc",result="unavailable"}') == 1
        # A crowd of sign-ins does not make a crowd of fetches from an issuer
        # that is down (one at most every 2 s, besides the backed-off retries).
        for _ in range(10):
            assert s.oidc_login("a.b.c")[0] == 503
        failed = s.metric('pop_oidc_key_fetches_total{result="failed"}')
        assert 1 <= failed <= 6, failed
    finally:
        s.stop()
