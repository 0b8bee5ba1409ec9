"""schemas/crm-usage.schema.json (R-S1, issue 25 item 3), ticket-service's
CRM usage records on crm-usage, against its fixtures and the C side's names:

(a) the schema is a valid 2020-12 schema; its topic is the one
    common/cmn_topics.h names and its event type the one
    services/ticket/tkt_usage.c writes;
(b) every fixtures/crm-usage/valid/*.json validates;
(c) every fixtures/crm-usage/invalid/<member>__<what>.json is refused, one
    of the errors (or of an anyOf's branches) concerning <member>.

The records the binary publishes are validated against this schema by
tests/ticket/e2e/test_crm_usage.py.
"""
import json
import pathlib
import re

import pytest
from jsonschema import Draft202012Validator, FormatChecker

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent.parent
SCHEMA = json.loads((REPO / "schemas" / "crm-usage.schema.json").read_text(encoding="utf-8"))
VALIDATOR = Draft202012Validator(SCHEMA, format_checker=FormatChecker())
FIXTURES = HERE / "fixtures" / "crm-usage"
VALID = sorted((FIXTURES / "valid").glob("*.json"))
INVALID = sorted((FIXTURES / "invalid").glob("*.json"))


def test_schema_is_valid_and_names_what_the_c_side_names():
    Draft202012Validator.check_schema(SCHEMA)
    topics_h = (REPO / "common" / "cmn_topics.h").read_text()
    assert re.search(r'#define CMN_TOPIC_CRM_USAGE\s*"crm-usage"', topics_h)
    assert "crm-usage" in SCHEMA["title"]
    usage_c = (REPO / "services" / "ticket" / "tkt_usage.c").read_text()
    assert f'"{SCHEMA["properties"]["type"]["const"]}"' in usage_c


def test_there_are_fixtures():
    assert len(VALID) >= 2 and len(INVALID) >= 3


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_fixture(path):
    record = json.loads(path.read_text(encoding="utf-8"))
    errors = list(VALIDATOR.iter_errors(record))
    assert not errors, [e.message for e in errors]


def _concerned(errors):
    out = set()
    for e in errors:
        if e.path:
            out.add(e.path[0])
        out.update(re.findall(r"'(\w+)' is a required", e.message) if not e.path else ())
        out |= _concerned(e.context or [])
    return out


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_fixture(path):
    member = path.name.split("__")[0]
    record = json.loads(path.read_text(encoding="utf-8"))
    errors = list(VALIDATOR.iter_errors(record))
    assert errors, f"{path.name} validates"
    assert member in _concerned(errors), [e.message for e in errors]
