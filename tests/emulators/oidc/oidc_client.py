"""What a relying party does with the OpenID Connect emulator, in Python
(the emulator's self-test and the pop-service tests): the authorization
code flow with PKCE (S256), a refresh, reading a token's claims."""
import base64
import hashlib
import json
import secrets
import urllib.parse

import requests


def claims(token):
    """The payload of a compact JWS, unverified (tests only)."""
    p = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))


def pkce_pair():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()) \
        .rstrip(b"=").decode()
    return verifier, challenge


def authorize(issuer, client_id, username, redirect_uri="http://127.0.0.1/cb", nonce=None,
              challenge=None, scope="openid offline_access"):
    """GET /authorize with login_hint: the redirect's query (code, state...)."""
    q = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
         "scope": scope, "state": secrets.token_urlsafe(8), "nonce": nonce or "n-1",
         "code_challenge": challenge, "code_challenge_method": "S256", "login_hint": username}
    r = requests.get(issuer + "/authorize", params={k: v for k, v in q.items() if v},
                     allow_redirects=False, timeout=10)
    assert r.status_code == 302, (r.status_code, r.text)
    back = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(r.headers["Location"]).query))
    back["sent_state"] = q["state"]
    return back


def code_flow(issuer, client_id, username, redirect_uri="http://127.0.0.1/cb", nonce="n-1"):
    """The whole flow: the token endpoint's answer (id_token, refresh_token...)."""
    verifier, challenge = pkce_pair()
    back = authorize(issuer, client_id, username, redirect_uri, nonce, challenge)
    r = requests.post(issuer + "/token", data={
        "grant_type": "authorization_code", "code": back["code"], "redirect_uri": redirect_uri,
        "client_id": client_id, "code_verifier": verifier}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def refresh(issuer, client_id, refresh_token):
    """POST /token grant_type=refresh_token: (status, body)."""
    r = requests.post(issuer + "/token", data={"grant_type": "refresh_token",
                                               "refresh_token": refresh_token,
                                               "client_id": client_id}, timeout=10)
    return r.status_code, r.json()
