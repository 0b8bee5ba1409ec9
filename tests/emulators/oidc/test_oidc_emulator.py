"""The OpenID Connect emulator against the specifications it follows
(OpenID Connect Core 1.0 and Discovery 1.0, RFC 7636), with an independent
verifier: PyJWT checks its ID tokens against its published JWK Set."""
import urllib.parse
import uuid

import jwt
import pytest
import requests

import oidc_client
from oidc_client import claims, code_flow, pkce_pair, refresh


def verify(emulator, token):
    keys = requests.get(emulator.url + "/jwks", timeout=10).json()["keys"]
    kid = jwt.get_unverified_header(token)["kid"]
    key = jwt.PyJWK(next(k for k in keys if k["kid"] == kid))
    return jwt.decode(token, key.key, algorithms=["RS256"], audience=emulator.client_id,
                      issuer=emulator.issuer)


def test_discovery_names_the_issuer_and_endpoints(emulator):
    doc = requests.get(emulator.url + "/.well-known/openid-configuration", timeout=10).json()
    assert doc["issuer"] == emulator.issuer  # Discovery §4.3: exactly the issuer
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri", "end_session_endpoint"):
        assert doc[name].startswith(emulator.issuer + "/")
    assert doc["code_challenge_methods_supported"] == ["S256"]


def test_code_flow_with_pkce_gives_a_verifiable_id_token(emulator):
    tokens = code_flow(emulator.url, emulator.client_id, "alice", nonce="n-42")
    c = verify(emulator, tokens["id_token"])
    assert (c["sub"], c["crm_agent_id"], c["nonce"]) == ("alice", "900001", "n-42")
    assert c["exp"] > c["iat"] and tokens["refresh_token"]


def test_wrong_code_verifier_is_refused(emulator):
    _, challenge = pkce_pair()
    back = oidc_client.authorize(emulator.url, emulator.client_id, "alice", challenge=challenge)
    assert back["state"] == back["sent_state"]
    r = requests.post(emulator.url + "/token", data={
        "grant_type": "authorization_code", "code": back["code"], "client_id": emulator.client_id,
        "redirect_uri": "http://127.0.0.1/cb", "code_verifier": pkce_pair()[0]}, timeout=10)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_authorize_without_pkce_goes_back_with_an_error(emulator):
    r = requests.get(emulator.url + "/authorize", params={
        "response_type": "code", "client_id": emulator.client_id, "scope": "openid",
        "redirect_uri": "http://127.0.0.1/cb", "state": "s1", "login_hint": "alice"},
        allow_redirects=False, timeout=10)
    assert r.status_code == 302 and "error=invalid_request" in r.headers["Location"]
    assert "state=s1" in r.headers["Location"]


def test_unknown_user_gets_the_login_form(emulator):
    _, challenge = pkce_pair()
    r = requests.get(emulator.url + "/authorize", params={
        "response_type": "code", "client_id": emulator.client_id, "scope": "openid",
        "redirect_uri": "http://127.0.0.1/cb", "code_challenge": challenge,
        "code_challenge_method": "S256"}, allow_redirects=False, timeout=10)
    assert r.status_code == 200 and 'id="signin"' in r.text


def test_refresh_then_logout_at_the_provider_refuses_it(emulator):
    tokens = code_flow(emulator.url, emulator.client_id, "alice")
    status, fresh = refresh(emulator.url, emulator.client_id, tokens["refresh_token"])
    assert status == 200 and verify(emulator, fresh["id_token"])["sub"] == "alice"
    assert "nonce" not in claims(fresh["id_token"])  # Core §12.2
    requests.post(emulator.url + "/__emulator/logout", json={"username": "alice"}, timeout=10)
    status, body = refresh(emulator.url, emulator.client_id, fresh["refresh_token"])
    assert status == 400 and body["error"] == "invalid_grant"


def test_token_endpoint_answers_cors(emulator):
    r = requests.options(emulator.url + "/token", headers={"Origin": "http://127.0.0.1:1"},
                         timeout=10)
    assert r.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:1"


def test_rotation_publishes_a_new_kid_and_forged_tokens_do_not_verify(emulator):
    old = requests.get(emulator.url + "/jwks", timeout=10).json()["keys"][0]["kid"]
    new = requests.post(emulator.url + "/__emulator/rotate", json={}, timeout=10).json()["kid"]
    keys = requests.get(emulator.url + "/jwks", timeout=10).json()["keys"]
    assert [k["kid"] for k in keys] == [new] and new != old
    forged = requests.post(emulator.url + "/__emulator/sign",
                           json={"claims": {"sub": "alice"}, "key": "forged"}, timeout=10).json()
    with pytest.raises(jwt.InvalidSignatureError):
        verify(emulator, forged["id_token"])


def test_entra_shape_issuer_endpoints_and_claims():
    """Entra ID's shape (tenant=...; Microsoft's "OpenID Connect on the
    Microsoft identity platform"): the v2.0 issuer with the tenant in its
    path, discovery under it, the oauth2/v2.0 endpoints, and the tid, oid
    and ver claims; the code flow works through the discovered endpoints."""
    from oidc_emulator import OidcEmulator
    tenant = "8eaef023-2b34-4da1-9baa-8bc8c9d6a490"
    emu = OidcEmulator("127.0.0.1", 0, tenant=tenant).start()
    try:
        emu.add_user("alice", {"crm_agent_id": "900001"})
        assert emu.issuer == f"{emu.url}/{tenant}/v2.0"
        doc = requests.get(emu.issuer + "/.well-known/openid-configuration", timeout=10).json()
        assert doc["issuer"] == emu.issuer
        assert doc["authorization_endpoint"] == f"{emu.url}/{tenant}/oauth2/v2.0/authorize"
        assert doc["token_endpoint"] == f"{emu.url}/{tenant}/oauth2/v2.0/token"
        assert doc["jwks_uri"] == f"{emu.url}/{tenant}/discovery/v2.0/keys"
        assert requests.get(emu.url + "/jwks", timeout=10).status_code == 404  # not the plain shape
        verifier, challenge = pkce_pair()
        q = {"response_type": "code", "client_id": emu.client_id, "redirect_uri": "http://x/cb",
             "scope": "openid", "state": "s", "nonce": "n-7", "code_challenge": challenge,
             "code_challenge_method": "S256", "login_hint": "alice"}
        r = requests.get(doc["authorization_endpoint"], params=q, allow_redirects=False, timeout=10)
        code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(r.headers["Location"]).query))["code"]
        t = requests.post(doc["token_endpoint"], data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": "http://x/cb",
            "client_id": emu.client_id, "code_verifier": verifier}, timeout=10).json()
        keys = requests.get(doc["jwks_uri"], timeout=10).json()["keys"]
        c = jwt.decode(t["id_token"], jwt.PyJWK(keys[0]).key, algorithms=["RS256"],
                       audience=emu.client_id, issuer=emu.issuer)
        assert (c["tid"], c["ver"], c["nonce"]) == (tenant, "2.0", "n-7")
        assert str(uuid.UUID(c["oid"])) == c["oid"]
    finally:
        emu.stop()
