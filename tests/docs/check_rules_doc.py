#!/usr/bin/env python3
"""docs/rules.md keeps up with the code (issue 20 item 4).

The table "Every rule" in docs/rules.md names, for each behaviour rule, the
code that decides it and the tests that prove it, as `file:symbol`. This
check fails when:
  - a rule id of the spec (BEHAVIOUR.md) has no row, or a row names a rule
    the spec does not have, or a rule has two rows;
  - a row not marked "not yet" lacks a code or a test reference;
  - a reference's file does not exist, or its symbol is not in it (a test:
    not defined there, or a C test not registered with TEST_CASE);
  - the "on Dynamics 365" cell (issue 23) is not "✓" with the tests that
    prove the rule on Dynamics, "✓ CRM-independent" with why, "not yet" or
    "no:" with why; or a Python test it names is in a module that never
    runs against Dynamics (no crm_fixtures / crm_params / Dynamics stack).
  - the code, tests or docs cite a rule id the table does not have.

The spec lives outside the repository (../shared/spec/BEHAVIOUR.md next to
the checkout). On a clone without it the table's own ids are the list, and
the comparison with the spec is skipped with a logged reason.

Usage: check_rules_doc.py [--root REPO] [--spec BEHAVIOUR.md]
"""
import argparse
import os
import re
import sys

RULE_ID = re.compile(r"(?<![A-Za-z0-9_-])R-[A-Z][0-9]+(?![0-9])")
REF = re.compile(r"`([^`:\s]+):([A-Za-z_][A-Za-z0-9_]*)`")
NOT_YET = "not yet"
DYN_CELL = re.compile(r"^(✓|not yet|no:)")
# What a Python module that runs against Dynamics contains.
RUNS_ON_DYNAMICS = re.compile(r"(?i:crm_fixtures|crm_params)|dynamics_emulator|DynamicsEmulator|[\"']dynamics[\"']")
# Where rule ids are cited: the code, its tests and its docs.
CITING_DIRS = ("services", "common", "tests", "docs", "deploy")
SKIP_DIRS = {".git", "build", "node_modules", "__pycache__", ".stack"}


def parse_table(path):
    """Rows of the table: {rule id: (line number, code cell, tests cell,
    Dynamics cell)}."""
    rows, dupes = {}, []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.startswith("| R-"):
                continue
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) != 5:
                raise SystemExit(f"{path}:{n}: a row has 5 cells, this one {len(cells)}")
            rule = cells[0]
            if rule in rows:
                dupes.append(f"{path}:{n}: {rule} has a second row")
            rows[rule] = (n, cells[2], cells[3], cells[4])
    return rows, dupes


def defined(text, symbol, is_test, is_c):
    """Whether the file defines or names the symbol."""
    word = re.escape(symbol)
    if not is_test:
        return re.search(rf"(?<![A-Za-z0-9_]){word}(?![A-Za-z0-9_])", text) is not None
    if not is_c:
        return re.search(rf"^\s*(async\s+)?def\s+{word}\s*\(", text, re.M) is not None
    if re.search(rf"^[a-z][^;\n]*\b{word}\s*\(void\)\s*$", text, re.M) is None:
        return False
    # A C test that is defined but not in the suite's list proves nothing.
    return "TEST_CASE(" not in text or re.search(rf"TEST_CASE\(\s*{word}\s*\)", text)


def check_dynamics(rule, n, cell):
    """The Dynamics cell's form: a verdict first; a plain ✓ names its tests."""
    if not DYN_CELL.match(cell):
        return [f"docs/rules.md:{n}: {rule}: the Dynamics cell starts with neither "
                f"'✓', '{NOT_YET}' nor 'no:' (why)"]
    if cell.startswith("✓") and "CRM-independent" not in cell and not REF.findall(cell):
        return [f"docs/rules.md:{n}: {rule}: ✓ on Dynamics names no test"]
    return []


def check_refs(root, rows):
    errors, checked = [], 0
    for rule, (n, code, tests, dyn) in sorted(rows.items()):
        errors += check_dynamics(rule, n, dyn)
        for cell, is_test, on_dyn in ((code, False, False), (tests, True, False), (dyn, True, True)):
            refs = REF.findall(cell)
            if not refs and NOT_YET not in cell and not on_dyn:
                what = "test" if is_test else "code"
                errors.append(f"docs/rules.md:{n}: {rule} names no {what} and is not marked '{NOT_YET}'")
            for path, symbol in refs:
                checked += 1
                full = os.path.join(root, path)
                if not os.path.isfile(full):
                    errors.append(f"docs/rules.md:{n}: {rule}: {path} does not exist")
                    continue
                with open(full, encoding="utf-8", errors="replace") as f:
                    text = f.read()
                if not defined(text, symbol, is_test, path.endswith(".c")):
                    errors.append(f"docs/rules.md:{n}: {rule}: {symbol} is not in {path}")
                elif on_dyn and path.endswith(".py") and not RUNS_ON_DYNAMICS.search(text):
                    errors.append(f"docs/rules.md:{n}: {rule}: {path} never runs against Dynamics")
    return errors, checked


def cited_ids(root):
    """{rule id: first place it is cited} over the code, tests and docs."""
    cited = {}
    for top in CITING_DIRS:
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, top)):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
            for name in sorted(filenames):
                path = os.path.join(dirpath, name)
                try:
                    with open(path, encoding="utf-8") as f:
                        lines = f.readlines()
                except (UnicodeDecodeError, OSError):
                    continue  # binaries and fixtures that are not text
                for n, line in enumerate(lines, 1):
                    for rid in RULE_ID.findall(line):
                        cited.setdefault(rid, f"{os.path.relpath(path, root)}:{n}")
    return cited


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=os.path.normpath(os.path.join(here, "..", "..")))
    ap.add_argument("--spec", default=None, help="default: ROOT/../shared/spec/BEHAVIOUR.md")
    args = ap.parse_args()
    root = os.path.abspath(args.root)
    spec = os.path.normpath(args.spec or os.path.join(root, "..", "shared", "spec", "BEHAVIOUR.md"))

    rows, errors = parse_table(os.path.join(root, "docs", "rules.md"))
    if not rows:
        errors.append("docs/rules.md: no rule rows (| R-... |) found")
    if os.path.isfile(spec):
        with open(spec, encoding="utf-8") as f:
            spec_ids = set(RULE_ID.findall(f.read()))
        errors += [f"docs/rules.md: {r} (in {spec}) has no row" for r in sorted(spec_ids - set(rows))]
        errors += [f"docs/rules.md: {r} has a row but is not in {spec}" for r in sorted(set(rows) - spec_ids)]
        print(f"spec: {len(spec_ids)} rule ids in {spec}")
    else:
        print(f"spec: {spec} absent (a clone without ../shared): "
              "the table's rule ids are the list, the comparison with the spec is skipped")

    ref_errors, checked = check_refs(root, rows)
    errors += ref_errors
    cited = cited_ids(root)
    errors += [f"{where}: cites {rid}, which docs/rules.md has no row for"
               for rid, where in sorted(cited.items()) if rid not in rows]

    print(f"docs/rules.md: {len(rows)} rules, {checked} references checked, "
          f"{len(cited)} rule ids cited in {', '.join(CITING_DIRS)}")
    for e in dict.fromkeys(errors):  # once each, in order
        print("FAIL " + e)
    print(f"{'FAILED' if errors else 'passed'}: {len(errors)} problem(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
