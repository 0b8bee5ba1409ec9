"""Validate Zendesk API exchanges against Zendesk's published OpenAPI document.

``validate_exchange(method, path, query, request_body, status, response_body)``
returns a list of human-readable errors (empty = conforms). It checks the
request (path, query parameters, JSON body) and the response (status is
declared, JSON body matches the schema) with ``openapi-core``. Use it on the
emulator's own replies and on what our C adapter sent, taken from the
emulator's request log (``GET /__emulator/requests``)::

    for entry in log:
        errors = validate_exchange(entry["method"], entry["path"], entry["query"],
                                   entry["body"], entry["status"], entry["response"])

The spec is parsed once per process (``load_openapi`` is cached). Where the
published spec is itself wrong, or uses a construct ``openapi-core`` cannot
handle, the fix is applied narrowly to the named schema/operation in
``SPEC_PATCHES`` / ``_SKIP_BODY_OPERATIONS`` with the reason next to it;
nothing is relaxed globally.
"""
from __future__ import annotations

import copy
import functools
import json
import os
import re
from urllib.parse import parse_qsl, urlencode, urlsplit

import yaml
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse

SPEC_PATH = os.environ.get("ZENDESK_OAS_PATH",
                           "/work/shared/vendor-specs/zendesk-support-oas.yaml")
# Matches the spec's server template https://{subdomain}.{domain}.com
HOST_URL = "https://example.zendesk.com"
# Validation-only credentials when the caller has no headers to give: the
# emulator checks auth itself; here we check shapes.
PLACEHOLDER_AUTH = "Basic ZW1haWwvdG9rZW46dG9rZW4="


class _SpecLoader(yaml.CSafeLoader if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader):
    """YAML 1.1 resolves a bare ``=`` to the obscure ``!!value`` tag, which
    safe loaders reject (the spec has ``change: =`` in a trigger example)."""


_SpecLoader.add_constructor("tag:yaml.org,2002:value",
                            lambda loader, node: loader.construct_scalar(node))


def _schema(spec, name):
    return spec["components"]["schemas"][name]


def _patch_job_result(spec):
    # JobStatusResultObject is oneOf Create/Update/Failed with no discriminator
    # and no additionalProperties:false, so a bulk-update result that carries
    # "index" (as Zendesk's create results do) satisfies both CreateResourceResult
    # {id,index} and UpdateResourceResult {id,action,success,status}; a failure
    # with "status":"Failed" satisfies Update and Failed. The vendor README says
    # validators must tolerate this ambiguity: require >= 1 branch (anyOf).
    schema = _schema(spec, "JobStatusResultObject")
    schema["anyOf"] = schema.pop("oneOf")


def _patch_custom_field_value(spec):
    # Zendesk lists every custom field on a ticket, unset ones as
    # {"id": N, "value": null}; the spec's own Show Ticket parameter
    # `reduced_payload_size` ("omits null custom fields") says so, but
    # TicketFieldValueInput.value is not nullable.
    # (`nullable` next to `oneOf` does not let null through the oneOf, so the
    # string branch is the one made nullable.)
    _schema(spec, "TicketFieldValueInput")["properties"]["value"]["oneOf"][0]["nullable"] = True


def _patch_audit_event_value(spec):
    # Audit Change/Create events carry an array for `tags` and null when a
    # field is cleared (previous_value of a first assignment too); the spec
    # allows only string|integer for AuditObject.events[].value.
    value = _schema(spec, "AuditObject")["properties"]["events"]["items"]["properties"]["value"]
    value["oneOf"].append({"type": "array", "items": {"type": "string"}})
    value["oneOf"][0]["nullable"] = True  # see _patch_custom_field_value


def _patch_user_email(spec):
    # Users without an e-mail address (callers created from a phone number)
    # come back with "email": null; UserForAdmin.email is not nullable.
    _schema(spec, "UserForAdmin")["properties"]["email"]["nullable"] = True


def _patch_batch_update_id(spec):
    # Batch update_many items are allOf [TicketObject, {id, required: [id]}]:
    # the spec requires `id` while TicketObject marks it readOnly, so every
    # valid batch request would be "writing a read-only property". Point the
    # batch items at a copy of TicketObject whose `id` is writable.
    ticket = copy.deepcopy(_schema(spec, "TicketObject"))
    ticket["properties"]["id"].pop("readOnly", None)
    spec["components"]["schemas"]["TicketObjectBatchItem"] = ticket
    batch = _schema(spec, "TicketsUpdateRequest")["oneOf"][1]
    batch["properties"]["tickets"]["items"]["allOf"][0] = {
        "$ref": "#/components/schemas/TicketObjectBatchItem"}


def _patch_offset_page(spec):
    # DualPaginationPage declares `page` as style=deepObject with oneOf
    # [integer, object]: plain `?page=2` (offset pagination, documented in the
    # same parameter) is not deepObject syntax, and openapi-core cannot even
    # deserialize the parameter when it is absent. Validate the offset form;
    # cursor `page[...]` keys then pass as unknown parameters.
    spec["components"]["parameters"]["DualPaginationPage"] = {
        "name": "page", "in": "query", "schema": {"type": "integer", "minimum": 0}}


def _patch_nullable_enums(spec):
    # TicketObject.type and .priority are `nullable: true` with an enum that
    # lacks null; under OAS 3.0.3 (and openapi-core) the enum still rejects
    # null, yet a ticket without type/priority has "type": null,
    # "priority": null (the spec's own examples show due_at: null alike).
    for name in ("type", "priority"):
        _schema(spec, "TicketObject")["properties"][name]["enum"].append(None)


SPEC_PATCHES = (_patch_job_result, _patch_custom_field_value,
                _patch_audit_event_value, _patch_user_email,
                _patch_batch_update_id, _patch_offset_page, _patch_nullable_enums)

# Operations whose declared body schema cannot describe any real body: the
# Talk display endpoints document "Status: 200 OK" (no payload) yet declare
# `type: string` (example "") for both 200 and 404. We still check the status
# code is declared, but not the body.
_SKIP_BODY_OPERATIONS = {
    ("POST", "/api/v2/channels/voice/agents/{agent_id}/tickets/{ticket_id}/display"),
    ("POST", "/api/v2/channels/voice/agents/{agent_id}/users/{user_id}/display"),
}


def load_spec_dict(path=SPEC_PATH, patched=True):
    """The parsed spec (a fresh copy), with ``SPEC_PATCHES`` unless told not."""
    return copy.deepcopy(_cached_spec_dict(path) if patched else _raw_spec_dict(path))


@functools.lru_cache(maxsize=4)
def _raw_spec_dict(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_SpecLoader)


@functools.lru_cache(maxsize=4)
def _cached_spec_dict(path):
    spec = copy.deepcopy(_raw_spec_dict(path))
    for patch in SPEC_PATCHES:
        patch(spec)
    return spec


def build_openapi(spec_dict):
    """An ``OpenAPI`` for a spec dict (used by tests on the unpatched spec)."""
    return OpenAPI.from_dict(spec_dict, config=Config(spec_validator_cls=None))


@functools.lru_cache(maxsize=4)
def load_openapi(path=SPEC_PATH):
    """The cached ``openapi_core.OpenAPI`` for the patched spec.

    The spec-structure validator is skipped: it takes long on 47k lines and
    the document is the vendor's, not ours to fix."""
    return build_openapi(_cached_spec_dict(path))


@functools.lru_cache(maxsize=512)
def _operation_openapi(path, template):
    """An ``OpenAPI`` of the patched spec with only ``template`` in its paths
    (components shared, not copied). openapi-core looks a request's path up
    by trying every template of the spec in turn, half the time of a check
    on 427 paths; ``_best_template`` has picked the one it would find, so
    the check is the same (and 2-3 times faster: the e2e suites' conformance
    tests check thousands of requests)."""
    spec = _cached_spec_dict(path)
    return build_openapi(dict(spec, paths={template: spec["paths"][template]}))


def normalise_path(path):
    """Strip scheme/host and the ``.json`` suffix Zendesk accepts on every
    route (the spec's paths have none)."""
    path = urlsplit(path).path if "://" in path else path.split("?")[0]
    return path[:-5] if path.endswith(".json") else path


def _query_string(query):
    if query is None:
        return ""
    if isinstance(query, str):
        return query.lstrip("?")
    pairs = []
    for key, value in query.items():
        for item in value if isinstance(value, (list, tuple)) else [value]:
            pairs.append((key, str(item)))
    return urlencode(pairs)


def _as_bytes(body):
    if body is None:
        return None
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    return json.dumps(body).encode("utf-8")


def _describe(err):
    """One line per leaf problem, with the JSON path when known."""
    lines = []
    cause = err
    while cause is not None:
        for schema_error in getattr(cause, "schema_errors", None) or []:
            where = "/".join(str(p) for p in schema_error.absolute_path) or "<root>"
            lines.append(f"{type(err).__name__}: {where}: {schema_error.message}")
            for sub in schema_error.context or []:
                sub_where = "/".join(str(p) for p in sub.absolute_path) or "<root>"
                lines.append(f"    ({sub_where}: {sub.message})")
        cause = cause.__cause__
    return lines or [f"{type(err).__name__}: {err}"]


@functools.lru_cache(maxsize=8)
def _templates(openapi):
    """[(compiled template regex, template, verbs)] for every spec path."""
    paths = openapi.spec / "paths"
    out = []
    for template in paths.keys():
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        out.append((re.compile(pattern), template, set((paths / template).keys())))
    return out


def _best_template(openapi, method, path):
    # Prefer a literal template (/tickets/update_many) over a parametrised one
    # (/tickets/{ticket_id}), as openapi-core does.
    candidates = [template for regex, template, verbs in _templates(openapi)
                  if method.lower() in verbs and regex.match(path)]
    candidates.sort(key=lambda t: t.count("{"))
    return candidates[0] if candidates else None


def validate_exchange(method, path, query, request_body, status, response_body,
                      headers=None, content_type="application/json", openapi=None):
    """Check one HTTP exchange against the Zendesk spec; returns error strings.

    ``query``: raw string or mapping; ``request_body`` / ``response_body``:
    parsed JSON, str or bytes (``None`` = no body). ``headers`` (request
    headers) default to a placeholder Basic Authorization so the security
    requirement is met. Error replies (4xx/5xx) whose status the operation
    does not declare are outside the spec; for those only Zendesk's documented
    error envelope (an object with an ``error`` member) is checked.
    ``openapi`` overrides the cached patched spec (tests of the patches).
    """
    own_spec = openapi is None
    openapi = openapi or load_openapi()
    method = method.upper()
    spec_path = normalise_path(path)
    template = _best_template(openapi, method, spec_path)
    if template is None:
        return [f"{method} {spec_path}: no such operation in the Zendesk spec"]
    if own_spec:
        openapi = _operation_openapi(SPEC_PATH, template)
    request = MockRequest(HOST_URL, method.lower(), spec_path,
                          args=dict(parse_qsl(_query_string(query), keep_blank_values=True)),
                          headers=dict({"Authorization": PLACEHOLDER_AUTH} if headers is None
                                       else headers),
                          data=_as_bytes(request_body), content_type=content_type)
    errors = [line for err in openapi.iter_request_errors(request) for line in _describe(err)]
    errors += _response_errors(openapi, request, template, method, status, response_body)
    return errors


def _response_errors(openapi, request, template, method, status, body):
    declared = (openapi.spec / "paths" / template / method.lower() / "responses").keys()
    if str(status) not in declared and "default" not in declared:
        if int(status) >= 400:
            return _error_envelope_errors(status, body)
        return [f"{method} {template}: status {status} not declared (has {sorted(declared)})"]
    if (method, template) in _SKIP_BODY_OPERATIONS:
        return []
    response = MockResponse(_as_bytes(body) or b"", status_code=int(status))
    return [line for err in openapi.iter_response_errors(request, response)
            for line in _describe(err)]


def _error_envelope_errors(status, body):
    if isinstance(body, (bytes, str)):
        try:
            body = json.loads(body)
        except ValueError:
            return [f"{status}: error body is not JSON"]
    if not isinstance(body, dict) or "error" not in body:
        return [f"{status}: error body lacks Zendesk's 'error' member: {body!r}"]
    return []


def validate_log_entry(entry, openapi=None):
    """``validate_exchange`` for one entry of the emulator's request log
    (``GET /__emulator/requests`` or ``ZendeskEmulator.requests()``)."""
    headers = entry.get("headers") or {}
    request_headers = {"Authorization": PLACEHOLDER_AUTH} \
        if headers.get("authorization_present") else {}
    return validate_exchange(entry["method"], entry["path"], entry.get("query"),
                             entry.get("body"), entry["status"], entry.get("response"),
                             headers=request_headers,
                             content_type=headers.get("content_type") or "application/json",
                             openapi=openapi)
