#!/usr/bin/env python3
"""Check the exchanges the C Zendesk adapter made against Zendesk's OpenAPI
document, from the emulator's request log (used by test_zendesk.c).

usage: oas_validate_log.py REQUESTS_JSON EMULATOR_DIR USER_AGENT_PREFIX

REQUESTS_JSON is ``GET /__emulator/requests`` saved to a file. Only entries
whose User-Agent starts with USER_AGENT_PREFIX are ours (the test's own
control and seeding calls are not under test). Each goes through
``oas_check.validate_log_entry``. Where the emulator's error injection
fabricated the reply (``injected``: a made-up 503, an HTML proxy page, a
delayed 200 the client gave up on), that reply is not Zendesk's and is not
checked: the entry is validated with the reply replaced by a 503 carrying
Zendesk's error envelope, so our *request* is still checked in full.
Exit status 0 when every exchange conforms.
"""
import json
import sys


def main(argv):
    log_path, emulator_dir, ua_prefix = argv[1], argv[2], argv[3]
    sys.path.insert(0, emulator_dir)
    from oas_check import validate_log_entry  # noqa: E402 (needs the path)

    with open(log_path, encoding="utf-8") as handle:
        entries = json.load(handle)["requests"]
    checked, bad, by_op = 0, 0, {}
    for entry in entries:
        agent = (entry.get("headers") or {}).get("user_agent") or ""
        if not agent.startswith(ua_prefix):
            continue
        if entry.get("injected"):
            entry = dict(entry, status=503, response={"error": "Injected"})
        checked += 1
        key = f'{entry["method"]} {entry["status"]}'
        by_op[key] = by_op.get(key, 0) + 1
        errors = validate_log_entry(entry)
        if errors:
            bad += 1
            print(f'OAS: {entry["method"]} {entry["path"]}?{entry.get("query") or ""} '
                  f'-> {entry["status"]}:')
            for line in errors[:20]:
                print(f"    {line}")
    print(f"     OpenAPI check: {checked} adapter exchanges, {bad} not conforming "
          f"({', '.join(f'{k}: {v}' for k, v in sorted(by_op.items()))})")
    return 1 if bad or not checked else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
