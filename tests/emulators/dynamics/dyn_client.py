"""A tiny Web API client for the emulator tests: token, JSON, $batch bodies."""
import json
import urllib.error
import urllib.parse
import urllib.request

TENANT = "callbus-tenant"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
SECRET = "secret"
API = "/api/data/v9.2"
ODATA = {"OData-Version": "4.0", "OData-MaxVersion": "4.0", "Accept": "application/json"}


def raw(base, method, path, data=None, headers=None):
    """(status, headers, bytes); never raises on HTTP errors."""
    req = urllib.request.Request(base + path, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


class Client:
    def __init__(self, base):
        self.base, self.token = base, None

    def token_request(self, **over):
        form = {"grant_type": "client_credentials", "client_id": CLIENT_ID,
                "client_secret": SECRET, "scope": self.base + "/.default"}
        form.update(over)
        tenant = form.pop("tenant", TENANT)
        status, _, body = raw(self.base, "POST", f"/{tenant}/oauth2/v2.0/token",
                              urllib.parse.urlencode(form).encode(),
                              {"Content-Type": "application/x-www-form-urlencoded"})
        return status, json.loads(body)

    def login(self):
        status, body = self.token_request()
        assert status == 200, body
        self.token = body["access_token"]
        return body

    def call(self, method, path, body=None, headers=None, auth=True):
        hdrs = dict(ODATA)
        if body is not None:
            hdrs["Content-Type"] = "application/json; charset=utf-8"
        if auth and self.token:
            hdrs["Authorization"] = "Bearer " + self.token
        hdrs.update(headers or {})
        data = body if isinstance(body, bytes) else (
            json.dumps(body).encode() if body is not None else None)
        status, rh, payload = raw(self.base, method, API + path, data, hdrs)
        ctype = rh.get("Content-Type", "")
        parsed = json.loads(payload) if payload and ctype.startswith("application/json") else (
            payload.decode() if payload else None)
        return status, rh, parsed

    def create(self, entity_set, body, headers=None):
        """Returns the created record's id from OData-EntityId."""
        status, rh, parsed = self.call("POST", "/" + entity_set, body, headers)
        assert status == 204, (status, parsed)
        entity_id = rh["OData-EntityId"]
        return entity_id[entity_id.rindex("(") + 1:-1]
