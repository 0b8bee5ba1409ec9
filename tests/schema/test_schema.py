"""schemas/call-event.schema.json against the C encoder/decoder (common/cmn_event.c),
driven through callbus-event-tool.

(a) the schema is a valid 2020-12 schema and states what cmn_event.h/.c state
    (type names, providers, string limits);
(b) every event the C side builds (`samples`) validates;
(c) every fixtures/valid/*.json validates, decodes in C, and re-encodes to an
    event that validates and means the same (times compared as instants);
(d) every fixtures/invalid/*.json breaks one rule and is rejected by BOTH the
    schema and the C decoder, each naming the member concerned. The file name
    is `<field>__<what is wrong>.json`: <field> is the member the C decoder
    must name (its `ERROR <field>: ...` line), and one of the schema's errors
    must concern the same top-level member.

KNOWN_DIVERGENCES lists documents on which the C code and the schema still
disagree, each with the C change that ends it; they are strict xfails, so the
day the C side is fixed the entry fails and must be deleted.
"""
import calendar
import copy
import json
import pathlib
import re
import subprocess

import pytest
from jsonschema import Draft202012Validator, FormatChecker

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent.parent
SCHEMA_PATH = REPO / "schemas" / "call-event.schema.json"
VALID = sorted((HERE / "fixtures" / "valid").glob("*.json"))
INVALID = sorted((HERE / "fixtures" / "invalid").glob("*.json"))

SCHEMA = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
VALIDATOR = Draft202012Validator(SCHEMA, format_checker=FormatChecker())

CANONICAL_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
RFC3339 = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?(?:Z|([+-])(\d\d):(\d\d))$")


# ---- helpers ----------------------------------------------------------------

def one_line(path):
    """A fixture file as one line, byte for byte otherwise: JSON escapes
    newlines inside strings, so raw newlines are only whitespace between
    tokens (json.loads + dumps would hide duplicate keys and number forms)."""
    return path.read_text(encoding="utf-8").replace("\r", " ").replace("\n", " ").strip()


def run_tool(tool, mode, lines=()):
    proc = subprocess.run([tool, mode], input="".join(line + "\n" for line in lines),
                          capture_output=True, text=True, encoding="utf-8", timeout=120)
    # stderr carries sanitizer reports (leaks included) in the Sanitize build.
    assert proc.stderr == "", f"callbus-event-tool {mode} wrote to stderr:\n{proc.stderr}"
    out = proc.stdout.splitlines()
    return proc.returncode, out


def roundtrip(tool, lines):
    rc, out = run_tool(tool, "roundtrip", lines)
    assert len(out) == len(lines), f"one output line per input line expected, got {out!r}"
    assert rc == (1 if any(o.startswith("ERROR ") for o in out) else 0)
    return out


def c_error_field(line):
    """'ERROR agent.provider_id: ...' -> 'agent.provider_id'; None for an event."""
    if not line.startswith("ERROR "):
        return None
    field, sep, _ = line[len("ERROR "):].partition(": ")
    assert sep, f"malformed error line {line!r}"
    return field


def to_ms(text):
    m = RFC3339.match(text)
    assert m, f"not an RFC 3339 date-time: {text!r}"
    y, mo, d, h, mi, s, frac, sign, oh, om = m.groups()
    secs = calendar.timegm((int(y), int(mo), int(d), int(h), int(mi), int(s)))
    if sign:
        secs -= (1 if sign == "+" else -1) * (int(oh) * 3600 + int(om) * 60)
    return secs * 1000 + int(((frac or "") + "000")[:3])  # the C side keeps milliseconds, truncated


def semantic(doc):
    """What an event means: times as instants (ms), and empty tags/durations/
    agent objects as absent (the encoder does not write empty containers)."""
    out = copy.deepcopy(doc)
    for k in ("occurred_at", "received_at"):
        if k in out:
            out[k] = to_ms(out[k])
    for k in ("tags", "durations", "agent", "previous_agent"):
        if k in out and not out[k]:
            del out[k]
    return out


def schema_error_fields(doc):
    """Dotted member paths the schema's errors concern (array indexes dropped)."""
    fields = set()

    def walk(err):
        path = [str(p) for p in err.absolute_path if not isinstance(p, int)]
        if err.validator == "required":
            fields.update(".".join(path + [name]) for name in err.validator_value
                          if isinstance(err.instance, dict) and name not in err.instance)
        elif err.validator == "additionalProperties" and isinstance(err.instance, dict):
            known = err.schema.get("properties", {})
            fields.update(".".join(path + [name]) for name in err.instance if name not in known)
        else:
            fields.add(".".join(path))
        for sub in err.context or ():
            walk(sub)

    for err in VALIDATOR.iter_errors(doc):
        walk(err)
    return fields


def top(field):
    return field.split(".", 1)[0]


# ---- (a) the schema itself ---------------------------------------------------

def test_schema_is_a_valid_2020_12_schema():
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert SCHEMA["$id"] == "https://callbus.example/schemas/call-event.schema.json"
    Draft202012Validator.check_schema(SCHEMA)


def test_every_member_is_described():
    for name, prop in SCHEMA["properties"].items():
        assert prop.get("description"), f"{name} has no description"
    for group in ("durations", "recording", "csat"):
        for name, prop in SCHEMA["properties"][group]["properties"].items():
            assert prop.get("description"), f"{group}.{name} has no description"
    for name, prop in SCHEMA["$defs"]["agent"]["properties"].items():
        assert prop.get("description"), f"agent.{name} has no description"


def test_date_time_format_is_really_asserted():
    # Without rfc3339-validator installed, FormatChecker silently accepts any
    # date-time; the schema's pattern still holds, but day-of-month would not.
    assert not FormatChecker().conforms("2026-02-30T10:00:00Z", "date-time")
    assert FormatChecker().conforms("2026-02-28T10:00:00.5+01:00", "date-time")


def test_date_time_pattern_holds_without_format_assertion():
    bare = Draft202012Validator(SCHEMA)  # no format checker: annotation only
    sample = json.loads(one_line(VALID[0]))
    for bad in ("2026-11-23 09:05:08", "2026-11-23T09:05:08", "yesterday", "2026-11-23T24:00:00Z"):
        assert not bare.is_valid(dict(sample, occurred_at=bad)), bad


C_HEADER = (REPO / "common" / "cmn_event.h").read_text(encoding="utf-8")
C_SOURCE = (REPO / "common" / "cmn_event.c").read_text(encoding="utf-8")


def test_type_names_are_cmn_event_types():
    c_types = re.findall(r'X\(CMN_EV_\w+,\s*"([^"]+)"\)', C_HEADER)
    assert len(c_types) == 12
    assert SCHEMA["properties"]["type"]["enum"] == c_types


def test_providers_are_cmn_event_providers():
    m = re.search(r"providers\[\]\s*=\s*\{([^}]*)\}", C_SOURCE)
    assert m
    assert SCHEMA["properties"]["provider"]["enum"] == re.findall(r'"([^"]+)"', m.group(1))


def test_string_limits_are_str_members():
    m = re.search(r"str_members\[\]\s*=\s*\{(.*?)\};", C_SOURCE, re.S)
    assert m
    limits = {name: int(n) for name, n in re.findall(r"M\((\w+),\s*(\d+)\)", m.group(1))}
    assert len(limits) == 13  # customer_name: issue 24 item 3; source: issue 27
    for name, max_len in limits.items():
        prop = SCHEMA["properties"][name]
        if "enum" in prop:  # provider: every value fits
            assert all(len(v) <= max_len for v in prop["enum"])
            continue
        assert prop["maxLength"] == max_len, name
        assert prop["minLength"] >= 1, name  # the C side rejects "" for every string member


def test_csat_score_within_scale_table_is_complete():
    rules = SCHEMA["$defs"]["csat_score_within_scale"]["allOf"]
    assert [r["if"]["properties"]["scale"]["const"] for r in rules] == list(range(1, 100))
    assert all(r["then"]["properties"]["score"]["maximum"] == r["if"]["properties"]["scale"]["const"]
               for r in rules)
    alone = Draft202012Validator(dict(SCHEMA["properties"]["csat"], **{"$defs": SCHEMA["$defs"]}))
    csat = lambda score, scale: alone.is_valid({"score": score, "scale": scale})
    assert csat(5, 5) and csat(0, 1) and csat(100, 100) and csat(99, 100)
    assert not csat(6, 5) and not csat(2, 1) and not csat(101, 100) and not csat(1, 0)


# ---- (b) what the C side builds ---------------------------------------------

def test_samples_cover_every_type_and_validate(event_tool):
    rc, lines = run_tool(event_tool, "samples")
    assert rc == 0
    docs = [json.loads(line) for line in lines]
    assert [d["type"] for d in docs] == SCHEMA["properties"]["type"]["enum"]
    for doc in docs:
        errors = [e.message for e in VALIDATOR.iter_errors(doc)]
        assert not errors, f"sample {doc['type']}: {errors}"
        for k in ("occurred_at", "received_at"):
            assert CANONICAL_TIME.match(doc[k])


def test_samples_roundtrip_unchanged(event_tool):
    _, lines = run_tool(event_tool, "samples")
    assert roundtrip(event_tool, lines) == lines


# ---- (c) valid fixtures -------------------------------------------------------

@pytest.fixture(scope="session")
def valid_outputs(event_tool):
    return dict(zip(VALID, roundtrip(event_tool, [one_line(p) for p in VALID])))


def test_there_are_fixtures():
    assert len(VALID) >= 12 and len(INVALID) >= 25


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_fixture_roundtrips(path, valid_outputs):
    doc = json.loads(one_line(path))
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in VALIDATOR.iter_errors(doc)]
    assert not errors, f"fixture does not validate: {errors}"
    out = valid_outputs[path]
    assert c_error_field(out) is None, f"C decoder rejected it: {out}"
    encoded = json.loads(out)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in VALIDATOR.iter_errors(encoded)]
    assert not errors, f"C re-encoding does not validate: {errors}"
    for k in ("occurred_at", "received_at"):
        assert CANONICAL_TIME.match(encoded[k]), encoded[k]
    assert semantic(encoded) == semantic(doc)


# ---- (d) invalid fixtures -----------------------------------------------------

@pytest.fixture(scope="session")
def invalid_outputs(event_tool):
    return dict(zip(INVALID, roundtrip(event_tool, [one_line(p) for p in INVALID])))


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_fixture_rejected_by_both(path, invalid_outputs):
    expected = path.stem.split("__", 1)[0]
    doc = json.loads(one_line(path))
    fields = schema_error_fields(doc)
    assert fields, "the schema accepts it"
    assert {top(f) for f in fields} == {top(expected)}, \
        f"the schema rejects it, but about {sorted(fields)}, not {expected}"
    out = invalid_outputs[path]
    assert c_error_field(out) is not None, f"the C decoder accepts it: {out}"
    assert c_error_field(out) == expected, out


def test_duplicate_members_rejected_by_c(event_tool):
    # JSON Schema sees a parsed object and cannot tell; the C decoder must
    # (JSON_REJECT_DUPLICATES), or two readers could see two different events.
    line = one_line(VALID[0])
    assert line.endswith("}")
    dup = line[:-1] + ', "provider": "twilio"}'
    out = roundtrip(event_tool, [dup])[0]
    assert out.startswith("ERROR $: ") and "duplicate" in out, out


def test_non_objects_rejected_by_both(event_tool):
    for text in ("[]", "null", '"call.ended"', "", "{"):
        out = roundtrip(event_tool, [text])[0]
        assert c_error_field(out) == "$", out
        if text not in ("", "{"):
            assert not VALIDATOR.is_valid(json.loads(text))


# ---- known divergences ----------------------------------------------------------

def _ended(drop=(), **changes):
    doc = {"schema_version": 1, "type": "call.ended", "event_id": "callgear-0a1b2c3d4e5f60718293a4b5c6d7e8f9",
           "provider": "callgear", "call_id": "987654321", "direction": "inbound",
           "customer_number": "+390612345678", "outcome": "answered",
           "occurred_at": "2026-11-23T09:05:08.000Z", "received_at": "2026-11-23T09:05:08.412Z"}
    doc.update(changes)
    for k in drop:
        del doc[k]
    return doc


def _raw(doc, old, new):
    """The document's compact text with one literal replaced (number forms)."""
    text = json.dumps(doc, separators=(",", ":"))
    assert old in text
    return text.replace(old, new, 1)


# Documents on which C and the schema once disagreed, fixed since; kept so
# they cannot drift apart again. (id, document text, field the C decoder
# must name, or None when both accept it.)
AGREEMENTS = [
    ("recording_url_not_http_outside_recording_ready",
     json.dumps(_ended(recording={"url": "ftp://r.example/1.mp3"})), "recording.url"),
    ("recording_without_url", json.dumps(_ended(recording={"duration_s": 5})), "recording.url"),
    ("time_space_separator", json.dumps(_ended(occurred_at="2026-11-23 09:05:08")), "occurred_at"),
    ("time_without_offset", json.dumps(_ended(occurred_at="2026-11-23T09:05:08")), "occurred_at"),
    ("time_lowercase_t_z", json.dumps(_ended(occurred_at="2026-11-23t09:05:08z")), "occurred_at"),
    ("time_february_31", json.dumps(_ended(occurred_at="2026-02-31T09:05:08Z")), "occurred_at"),
    ("time_leap_second", json.dumps(_ended(occurred_at="2026-12-31T23:59:60Z")), "occurred_at"),
    ("time_offset_not_digits", json.dumps(_ended(occurred_at="2026-11-23T09:05:08+03:0x")), "occurred_at"),
    ("language_counts_characters", json.dumps(_ended(language="Ü" * 20), ensure_ascii=False), None),
    # Issue 7 item 1: ids that become keys and markers are whole visible ASCII.
    ("call_id_at_128", json.dumps(_ended(call_id="c" * 128)), None),
    ("call_id_over_128", json.dumps(_ended(call_id="c" * 129)), "call_id"),
    ("call_id_not_ascii", json.dumps(_ended(call_id="chiamata-è"), ensure_ascii=False), "call_id"),
    ("call_id_with_space", json.dumps(_ended(call_id="call 1")), "call_id"),
    ("leg_id_over_128", json.dumps(_ended(leg_id="l" * 129)), "leg_id"),
    ("agent_provider_id_over_128", json.dumps(_ended(agent={"provider_id": "a" * 129})),
     "agent.provider_id"),
    ("agent_provider_id_at_128", json.dumps(_ended(agent={"provider_id": "a" * 128})), None),
    ("agent_crm_id_over_47", json.dumps(_ended(agent={"provider_id": "1", "crm_id": "9" * 48})),
     "agent.crm_id"),
    # Issue 7 item 9: durations are range-checked (30 days at most).
    ("duration_at_max", json.dumps(_ended(durations={"talk_s": 2592000})), None),
    ("duration_over_max", json.dumps(_ended(durations={"talk_s": 2592001})), "durations.talk_s"),
    ("duration_overflowing_int64",
     _raw(_ended(durations={"talk_s": 5}), '"talk_s":5', '"talk_s":99999999999999999999'),
     "$"),  # jansson refuses the number itself
]


@pytest.mark.parametrize("text,field", [pytest.param(t, f, id=i) for i, t, f in AGREEMENTS])
def test_c_and_schema_agree(text, field, event_tool):
    schema_ok = VALIDATOR.is_valid(json.loads(text))
    out = roundtrip(event_tool, [text])[0]
    assert schema_ok == (field is None), f"schema valid: {schema_ok}"
    assert c_error_field(out) == field, out


# Documents on which C and the schema still disagree, each with the C change
# that ends it; strict xfails, so the day the C side changes the entry fails
# and must move to AGREEMENTS. See docs/event-model.md.
KNOWN_DIVERGENCES = [
    ("time_at_epoch", json.dumps(_ended(occurred_at="1970-01-01T00:00:00Z")), None,
     "cmn_event_validate uses 0 ms as 'unset': a valid time at or before the epoch is refused"),
    ("integer_written_as_real", _raw(_ended(durations={"wait_s": 5}), '"wait_s":5', '"wait_s":5.0'), None,
     "JSON Schema's integer includes 5.0; take_nonneg/schema_version/csat accept only jansson integers"),
]


@pytest.mark.parametrize("text,field,why", [pytest.param(t, f, why, id=i, marks=pytest.mark.xfail(
    strict=True, reason=f"known C/schema divergence: {why}")) for i, t, f, why in KNOWN_DIVERGENCES])
def test_known_divergence(text, field, why, event_tool):
    schema_ok = VALIDATOR.is_valid(json.loads(text))
    out = roundtrip(event_tool, [text])[0]
    assert schema_ok == (c_error_field(out) is None), f"schema valid: {schema_ok}, C: {out}"
    assert c_error_field(out) == field, out
