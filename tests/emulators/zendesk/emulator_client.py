"""A tiny JSON HTTP client for the emulator tests (credentials included)."""
import base64
import json
import time
import urllib.error
import urllib.request

EMAIL, TOKEN = "agent@example.com", "secret"
AUTH = "Basic " + base64.b64encode(f"{EMAIL}/token:{TOKEN}".encode()).decode()


class Client:
    """Minimal HTTP client; ``call`` returns (status, headers, parsed body)."""

    def __init__(self, base_url, auth=AUTH):
        self.base_url, self.auth = base_url, auth

    def call(self, method, path, body=None, auth=True, headers=None, raw=None):
        data = raw if raw is not None else (
            json.dumps(body).encode() if body is not None else None)
        hdrs = {"Content-Type": "application/json", "Accept": "application/json"}
        if auth and self.auth:
            hdrs["Authorization"] = self.auth
        hdrs.update(headers or {})
        req = urllib.request.Request(self.base_url + path, data=data, method=method,
                                     headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, dict(resp.headers), _parse(resp.read())
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), _parse(err.read())

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.call("POST", path, body, **kw)

    def put(self, path, body=None, **kw):
        return self.call("PUT", path, body, **kw)

    # -- conveniences ------------------------------------------------------

    def create_user(self, **user):
        status, _, body = self.post("/api/v2/users.json", {"user": user})
        assert status == 201, body
        return body["user"]

    def create_ticket(self, **ticket):
        ticket.setdefault("comment", {"body": "Call started", "public": False})
        status, _, body = self.post("/api/v2/tickets.json", {"ticket": ticket})
        assert status == 201, body
        return body["ticket"]

    def wait_job(self, job_id, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, _, body = self.get(f"/api/v2/job_statuses/{job_id}.json")
            assert status == 200, body
            if body["job_status"]["status"] in ("completed", "failed"):
                return body["job_status"]
            time.sleep(0.02)
        raise AssertionError(f"job {job_id} did not finish")


def _parse(data):
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return data.decode("utf-8", "replace")
