"""schemas/ticket-dlq-entry.schema.json (issue 19 item 4), the dead letters
ticket-service writes on ticket-service.dlq, against its fixtures and the C
side's names:

(a) the schema is a valid 2020-12 schema; its decisions are the ones
    services/ticket/tkt_failure.h names, and its topic the one
    common/cmn_topics.h names;
(b) every fixtures/ticket-dlq/valid/*.json validates, and a call event it
    keeps for call-events is a valid canonical event (the replay puts it
    back there);
(d) every fixtures/ticket-dlq/invalid/<member>__<what>.json is refused, one
    of the errors concerning <member>.

The C encoder's own letters are validated against this schema by the e2e
test on the Dynamics emulator (tests/ticket/e2e/test_dynamics.py).
"""
import json
import pathlib
import re

import pytest
from jsonschema import Draft202012Validator, FormatChecker

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent.parent
SCHEMA = json.loads((REPO / "schemas" / "ticket-dlq-entry.schema.json").read_text(encoding="utf-8"))
EVENT_SCHEMA = json.loads((REPO / "schemas" / "call-event.schema.json").read_text(encoding="utf-8"))
VALIDATOR = Draft202012Validator(SCHEMA, format_checker=FormatChecker())
EVENTS = Draft202012Validator(EVENT_SCHEMA, format_checker=FormatChecker())
FIXTURES = HERE / "fixtures" / "ticket-dlq"
VALID = sorted((FIXTURES / "valid").glob("*.json"))
INVALID = sorted((FIXTURES / "invalid").glob("*.json"))


def test_schema_is_valid_and_names_what_the_c_side_names():
    Draft202012Validator.check_schema(SCHEMA)
    failure_h = (REPO / "services" / "ticket" / "tkt_failure.h").read_text()
    decisions = set(re.findall(r'#define TKT_DECISION_\w+ "(\w+)"', failure_h))
    assert decisions and set(SCHEMA["properties"]["decision"]["enum"]) == decisions
    topics_h = (REPO / "common" / "cmn_topics.h").read_text()
    assert re.search(r'#define CMN_TOPIC_TICKET_DLQ\s*\\?\s*"ticket-service\.dlq"', topics_h)
    assert "ticket-service.dlq" in SCHEMA["title"]


def test_there_are_fixtures():
    assert len(VALID) >= 2 and len(INVALID) >= 3


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_fixture(path):
    entry = json.loads(path.read_text(encoding="utf-8"))
    errors = list(VALIDATOR.iter_errors(entry))
    assert not errors, [e.message for e in errors]
    if entry["source"]["topic"].endswith("call-events") and isinstance(entry["event"], dict):
        bad = list(EVENTS.iter_errors(entry["event"]))
        assert not bad, [e.message for e in bad]
        assert entry["event"]["event_id"] == entry["event_id"]


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_fixture(path):
    member = path.name.split("__")[0]
    entry = json.loads(path.read_text(encoding="utf-8"))
    errors = list(VALIDATOR.iter_errors(entry))
    assert errors, f"{path.name} validates"
    concerned = {e.path[0] if e.path else None for e in errors}
    named = {m for e in errors if not e.path for m in re.findall(r"'(\w+)' is a required", e.message)}
    assert member in concerned | named, [e.message for e in errors]
