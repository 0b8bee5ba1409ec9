#!/usr/bin/env python3
"""An OpenID Connect provider emulator for the tests (issue 22 items 2, 3):
an identity provider that signs agents in with the authorization code flow
and PKCE, as Entra ID, Okta or Keycloak do for a public client (a page).

Built from the specifications, not from any provider's code:
OpenID Connect Core 1.0 (§3.1 authorization code flow, §2 the ID token,
§12 refresh), OpenID Connect Discovery 1.0 (§4 the configuration document),
RFC 7636 (PKCE, S256 only), RFC 6749 (§4.1, §5.2 errors, §6 refresh),
RFC 7517 (JWK Set), RFC 7515/7518 (JWS, RS256), OpenID Connect RP-Initiated
Logout 1.0 (end_session_endpoint).

Endpoints:
  GET  /.well-known/openid-configuration
  GET  /jwks                     the current key (and the previous ones kept)
  GET  /authorize                response_type=code, client_id, redirect_uri,
                                 state, nonce, code_challenge (S256), scope;
                                 login_hint=<known user> signs in at once,
                                 else a login form (POST /authorize)
  POST /token                    authorization_code (PKCE checked) and
                                 refresh_token grants; CORS for the page
  GET  /logout                   ends the user's sessions at the provider
                                 (id_token_hint), then post_logout_redirect_uri
Test controls (not part of any provider):
  POST /__emulator/users         {"username", "claims": {...}}
  POST /__emulator/logout        {"username"}: refresh tokens stop working
  POST /__emulator/rotate        {"keep_old": false}: a new signing key (new kid)
  POST /__emulator/sign          {"claims": {...}, "key": "current"|"forged", "kid"?}:
                                 a token with these claims over the defaults
  POST /__emulator/config        {"id_token_ttl_s": N}
  GET  /__emulator/stats         {"jwks_requests", "token_requests", ...}

Entra ID's shape (tenant="<tenant id>"; Microsoft's "OpenID Connect on the
Microsoft identity platform" and "ID token claims reference"): the issuer
is <url>/<tenant>/v2.0 (discovery under it), the endpoints are
/<tenant>/oauth2/v2.0/authorize, /token and /logout and
/<tenant>/discovery/v2.0/keys, and ID tokens carry "tid" (the tenant),
"oid" (the user's object id, a GUID) and "ver": "2.0".
"""
import base64
import hashlib
import html
import json
import os
import secrets
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "zendesk"))
from emulator_common import ServedEmulator, serve_until_signal  # noqa: E402

CLIENT_ID = "callbus-agent-page"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_uint(n: int) -> str:
    return b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))


class Key:
    """An RSA signing key with its kid (RFC 7517 §4.5)."""

    def __init__(self):
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "k-" + secrets.token_hex(6)

    def jwk(self):
        pub = self.private.public_key().public_numbers()
        return {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid,
                "n": b64url_uint(pub.n), "e": b64url_uint(pub.e)}

    def sign(self, claims, kid=None):
        header = {"alg": "RS256", "typ": "JWT", "kid": kid or self.kid}
        signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
                         b64url(json.dumps(claims, separators=(",", ":")).encode()))
        sig = self.private.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + b64url(sig)


class OidcEmulator(ServedEmulator):
    THREAD_NAME = "oidc-emulator"

    def __init__(self, host="127.0.0.1", port=0, client_id=CLIENT_ID, tenant=None, public_url=None):
        self.host, self.port, self.client_id, self.tenant = host, port, client_id, tenant
        # The base URL as browsers reach it, when that is not where it listens
        # (a container listening on 0.0.0.0, published on 127.0.0.1).
        self.public_url = public_url.rstrip("/") if public_url else None
        self.lock = threading.Lock()
        self.keys = [Key()]          # keys[0] signs; the others are still published
        self.users = {}              # username -> extra claims
        self.codes = {}              # code -> grant (one use)
        self.refresh_tokens = {}     # refresh token -> grant
        self.ended = set()           # usernames logged out at the provider since their grants
        self.id_token_ttl_s = 300
        self.stats = {"jwks_requests": 0, "token_requests": 0, "authorize_requests": 0,
                      "refused_refreshes": 0}

    def _handler(self):
        return _Handler

    # Each endpoint's path: the emulator's own, or Entra ID's under the tenant.
    ENTRA_PATHS = {"discovery": "/{t}/v2.0/.well-known/openid-configuration",
                   "authorize": "/{t}/oauth2/v2.0/authorize", "token": "/{t}/oauth2/v2.0/token",
                   "jwks": "/{t}/discovery/v2.0/keys", "logout": "/{t}/oauth2/v2.0/logout"}
    PATHS = {"discovery": "/.well-known/openid-configuration", "authorize": "/authorize",
             "token": "/token", "jwks": "/jwks", "logout": "/logout"}

    def path(self, name):
        if self.tenant:
            return self.ENTRA_PATHS[name].format(t=self.tenant)
        return self.PATHS[name]

    def endpoint(self, name):
        return (self.public_url or self.url) + self.path(name)

    @property
    def issuer(self):
        base = self.public_url or self.url
        return base + f"/{self.tenant}/v2.0" if self.tenant else base

    # -- tokens ------------------------------------------------------------
    def id_token(self, username, nonce=None, extra=None, key=None, kid=None):
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": username, "aud": self.client_id, "iat": now,
                  "exp": now + self.id_token_ttl_s, "auth_time": now}
        if self.tenant:  # Entra ID's claims (ID token claims reference)
            claims.update({"tid": self.tenant, "ver": "2.0",
                           "oid": str(uuid.uuid5(uuid.NAMESPACE_URL, username))})
        claims.update(self.users.get(username, {}))
        if nonce:
            claims["nonce"] = nonce
        claims.update(extra or {})
        return (key or self.keys[0]).sign(claims, kid)

    def add_user(self, username, claims=None):
        with self.lock:
            self.users[username] = dict(claims or {})
            self.ended.discard(username)

    def logout_user(self, username):
        """Ends the user's sessions here: their refresh tokens are refused."""
        with self.lock:
            for t in [t for t, g in self.refresh_tokens.items() if g["username"] == username]:
                del self.refresh_tokens[t]
            self.ended.add(username)

    def rotate(self, keep_old=False):
        with self.lock:
            self.keys = [Key()] + (self.keys if keep_old else [])
            return self.keys[0].kid

    def sign(self, claims, key="current", kid=None):
        """A token of these claims over a signed-in user's defaults; key
        "forged": signed by a key nobody published, under the current kid."""
        username = claims.get("sub", "someone")
        signer = Key() if key == "forged" else self.keys[0]
        return self.id_token(username, extra=claims, key=signer,
                             kid=kid or (self.keys[0].kid if key == "forged" else None))

    def issue_code(self, username, q):
        code = secrets.token_urlsafe(24)
        with self.lock:
            self.codes[code] = {"username": username, "client_id": q["client_id"],
                                "redirect_uri": q["redirect_uri"], "nonce": q.get("nonce"),
                                "challenge": q["code_challenge"], "scope": q.get("scope", ""),
                                "expires": time.monotonic() + 60}
        return code

    def token_response(self, grant, nonce=None):
        refresh = secrets.token_urlsafe(32)
        with self.lock:
            self.refresh_tokens[refresh] = grant
        return {"access_token": secrets.token_urlsafe(24), "token_type": "Bearer",
                "expires_in": self.id_token_ttl_s, "refresh_token": refresh,
                "scope": grant["scope"], "id_token": self.id_token(grant["username"], nonce)}


def pkce_ok(verifier, challenge):
    """RFC 7636 §4.6: BASE64URL(SHA256(ASCII(code_verifier))) == code_challenge;
    §4.1: 43..128 characters of the unreserved set."""
    if not verifier or not 43 <= len(verifier) <= 128:
        return False
    if any(c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
           for c in verifier):
        return False
    return secrets.compare_digest(b64url(hashlib.sha256(verifier.encode()).digest()), challenge)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet
        pass

    @property
    def emu(self) -> OidcEmulator:
        return self.server.emulator

    def _send(self, status, body=b"", ctype="application/json", headers=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _cors(self):
        # The token endpoint is called by the page itself (a public client).
        origin = self.headers.get("Origin")
        return {"Access-Control-Allow-Origin": origin or "*",
                "Access-Control-Allow-Methods": "POST, OPTIONS",
                "Access-Control-Allow-Headers": "Content-Type", "Vary": "Origin"}

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _redirect(self, url):
        self._send(302, b"", "text/plain", {"Location": url})

    # -- routes ------------------------------------------------------------
    def do_OPTIONS(self):  # noqa: N802
        self._send(204, b"", "text/plain", self._cors())

    def _route(self, path):
        """The endpoint a path names ("token", ...), or the path itself."""
        for name in self.emu.PATHS:
            if path == self.emu.path(name):
                return "/" + name
        return path if path.startswith("/__emulator/") else None

    def do_GET(self):  # noqa: N802
        u = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(u.query))
        route = self._route(u.path)
        if route == "/discovery":
            e = self.emu.endpoint
            return self._send(200, {
                "issuer": self.emu.issuer, "authorization_endpoint": e("authorize"),
                "token_endpoint": e("token"), "jwks_uri": e("jwks"),
                "end_session_endpoint": e("logout"), "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                "grant_types_supported": ["authorization_code", "refresh_token"],
                "token_endpoint_auth_methods_supported": ["none"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"]})
        if route == "/jwks":
            with self.emu.lock:
                self.emu.stats["jwks_requests"] += 1
                keys = [k.jwk() for k in self.emu.keys]
            return self._send(200, {"keys": keys})
        if route == "/authorize":
            return self._authorize(q, q.get("login_hint"))
        if route == "/logout":
            return self._logout(q)
        if route == "/__emulator/stats":
            with self.emu.lock:
                return self._send(200, dict(self.emu.stats))
        return self._send(404, {"error": "not_found"})

    def do_POST(self):  # noqa: N802
        u = urllib.parse.urlsplit(self.path)
        raw = self._body()
        route = self._route(u.path)
        if route == "/token":
            return self._token(dict(urllib.parse.parse_qsl(raw.decode())))
        if route == "/authorize":  # the login form
            form = dict(urllib.parse.parse_qsl(raw.decode()))
            return self._authorize(form, form.get("username"), from_form=True)
        if route and route.startswith("/__emulator/"):
            return self._control(route[len("/__emulator/"):], json.loads(raw or b"{}"))
        return self._send(404, {"error": "not_found"})

    def _authorize(self, q, username, from_form=False):
        """Core §3.1.2: errors before the redirect URI is trusted are shown
        here; after, they go back to it (§3.1.2.6)."""
        self.emu.stats["authorize_requests"] += 1
        if q.get("client_id") != self.emu.client_id or not q.get("redirect_uri"):
            return self._send(400, "unknown client_id or no redirect_uri", "text/plain")
        back = q["redirect_uri"]

        def error(code, why):
            sep = "&" if "?" in back else "?"
            return self._redirect(back + sep + urllib.parse.urlencode(
                {"error": code, "error_description": why, "state": q.get("state", "")}))
        if q.get("response_type") != "code":
            return error("unsupported_response_type", "code only")
        if "openid" not in q.get("scope", "").split():
            return error("invalid_scope", "openid is required")
        if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            return error("invalid_request", "PKCE with S256 is required")
        if username is None or (username not in self.emu.users and not from_form):
            return self._form(q, "")
        if username not in self.emu.users:
            return self._form(q, "No such user.")
        with self.emu.lock:
            self.emu.ended.discard(username)  # signed in again
        code = self.emu.issue_code(username, q)
        sep = "&" if "?" in back else "?"
        return self._redirect(back + sep + urllib.parse.urlencode(
            {"code": code, "state": q.get("state", "")}))

    def _form(self, q, msg):
        hidden = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                         for k, v in q.items() if k != "username")
        page = ("<!doctype html><title>Sign in</title><h1>Emulated identity provider</h1>"
                f'<p id="msg">{html.escape(msg)}</p>'
                f'<form id="signin" method="post" action="{self.emu.path("authorize")}">{hidden}'
                '<label>User <input name="username" autocomplete="username"></label>'
                '<button type="submit">Sign in</button></form>')
        return self._send(200, page, "text/html; charset=utf-8")

    def _token(self, f):
        emu = self.emu
        with emu.lock:
            emu.stats["token_requests"] += 1

        def refuse(code, why, status=400):
            return self._send(status, {"error": code, "error_description": why}, headers=self._cors())
        if f.get("client_id") != emu.client_id:
            return refuse("invalid_client", "unknown client", 401)
        grant_type = f.get("grant_type")
        if grant_type == "authorization_code":
            with emu.lock:
                grant = emu.codes.pop(f.get("code", ""), None)
            if not grant or grant["expires"] < time.monotonic():
                return refuse("invalid_grant", "unknown, used or expired code")
            if grant["redirect_uri"] != f.get("redirect_uri"):
                return refuse("invalid_grant", "redirect_uri differs from the authorization's")
            if not pkce_ok(f.get("code_verifier"), grant["challenge"]):
                return refuse("invalid_grant", "PKCE verification failed")
            return self._send(200, emu.token_response(grant, grant["nonce"]), headers=self._cors())
        if grant_type == "refresh_token":
            with emu.lock:
                grant = emu.refresh_tokens.pop(f.get("refresh_token", ""), None)
                if not grant or grant["username"] in emu.ended:
                    emu.stats["refused_refreshes"] += 1
                    grant = None
            if not grant:
                return refuse("invalid_grant", "the session at the provider has ended")
            # Core §12.2: a refreshed ID token carries no new nonce.
            return self._send(200, emu.token_response(grant), headers=self._cors())
        return refuse("unsupported_grant_type", str(grant_type))

    def _logout(self, q):
        hint = q.get("id_token_hint")
        if hint:
            try:
                payload = hint.split(".")[1]
                claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
                self.emu.logout_user(claims.get("sub", ""))
            except (IndexError, ValueError):
                return self._send(400, "bad id_token_hint", "text/plain")
        back = q.get("post_logout_redirect_uri")
        if back:
            return self._redirect(back)
        return self._send(200, "<!doctype html><p>Signed out.</p>", "text/html; charset=utf-8")

    def _control(self, what, body):
        emu = self.emu
        if what == "users":
            emu.add_user(body["username"], body.get("claims"))
            return self._send(200, {"username": body["username"]})
        if what == "logout":
            emu.logout_user(body["username"])
            return self._send(200, {"ended": body["username"]})
        if what == "rotate":
            return self._send(200, {"kid": emu.rotate(bool(body.get("keep_old")))})
        if what == "sign":
            return self._send(200, {"id_token": emu.sign(body.get("claims", {}),
                                                         body.get("key", "current"),
                                                         body.get("kid"))})
        if what == "config":
            if "id_token_ttl_s" in body:
                emu.id_token_ttl_s = int(body["id_token_ttl_s"])
            return self._send(200, {"id_token_ttl_s": emu.id_token_ttl_s})
        return self._send(404, {"error": "no such control"})


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", help="write the port here once listening")
    ap.add_argument("--public-url", help="the issuer as browsers reach it (default: where it listens)")
    ap.add_argument("--user", action="append", default=[],
                    help="username[=agent_crm_id]: a user who may sign in (claim crm_agent_id)")
    a = ap.parse_args(argv)
    emu = OidcEmulator(a.host, a.port, public_url=a.public_url).start()
    for u in a.user:
        name, _, crm = u.partition("=")
        emu.add_user(name, {"crm_agent_id": crm} if crm else {})
    return serve_until_signal(emu, a.port_file, f"oidc emulator (client id {emu.client_id})")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
