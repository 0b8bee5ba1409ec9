"""The test plays Zendesk for the Zendesk app (issue 22 item 1): an app key
pair (Zendesk keeps the private key and publishes the public one at
GET /api/v2/apps/{app_id}/public_key.pem), the ZAF JWT it signs for the
app's first page request (RS256; iss the account's host, aud the
installation's API URL, sub the user), and the form post Zendesk's agent
workspace makes into the app's iframe (`token=<JWT>`)."""
import base64
import hashlib
import hmac
import json
import os
import time
import urllib.parse

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

INSTALLATION_ID = "360001234"


class AppKey:
    def __init__(self):
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def public_pem(self):
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def write_public(self, directory):
        path = os.path.join(directory, "zendesk-app-public.pem")
        with open(path, "w") as f:
            f.write(self.public_pem())
        return path


def claims(account_url, user_id, installation=INSTALLATION_ID, now=None, **override):
    """What Zendesk puts in the token for `user_id` of the account at
    account_url (https://acme.zendesk.com)."""
    now = int(time.time()) if now is None else now
    c = {"iss": urllib.parse.urlsplit(account_url).netloc,
         "aud": f"{account_url}/api/v2/apps/installations/{installation}.json",
         "sub": f"{account_url}/api/v2/users/{user_id}.json",
         "iat": now, "exp": now + 300}
    c.update(override)
    return c


def sign(key, payload):
    return jwt.encode(payload, key.private, algorithm="RS256")


def hs256_forgery(secret, payload):
    """The classic attack on RS256 verifiers: an HMAC "signature" keyed with
    the public key, which anyone has (PyJWT refuses to make one, so by hand)."""
    def b64(raw):
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps(payload).encode())
    mac = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(mac)}"


def form(token):
    return urllib.parse.urlencode({"token": token}).encode()
