#!/usr/bin/env python3
"""Runs a command with the Dynamics emulator listening on 127.0.0.1 port 0.

The command finds it in DYN_EMULATOR_URL (and DYN_TENANT, DYN_CLIENT_ID,
DYN_CLIENT_SECRET); its exit status is ours. The emulator runs strict:
a Web API request without OData-Version / OData-MaxVersion is refused, and
the run fails when any request named a column or entity set the emulator's
$metadata does not declare (Dataverse code 0x80060888, "Could not find a
property"), so a test cannot pass by expecting such an error. The log of
requests is printed when the command fails, to show what it sent."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dynamics_emulator import DynamicsEmulator  # noqa: E402


def main(argv):
    if not argv:
        print("usage: with_emulator.py <command> [args...]", file=sys.stderr)
        return 2
    emu = DynamicsEmulator("127.0.0.1", 0).start()
    emu.configure(require_odata_version=True)
    env = dict(os.environ, DYN_EMULATOR_URL=emu.url, DYN_TENANT=emu.store.tenant,
               DYN_CLIENT_ID=emu.store.client_id, DYN_CLIENT_SECRET=emu.store.client_secret)
    try:
        rc = subprocess.run(argv, env=env, timeout=100, check=False).returncode
    finally:
        log = emu.requests()
        emu.stop()
    undeclared = [e for e in log if e["kind"] == "api" and isinstance(e.get("response"), dict)
                  and isinstance(e["response"].get("error"), dict)
                  and e["response"]["error"].get("code") == "0x80060888"]
    for entry in undeclared:
        print(f"not in the emulator's $metadata: {entry['method']} {entry['path']}?"
              f"{entry['query']}: {entry['response']['error']['message']}", file=sys.stderr)
    if undeclared and rc == 0:
        rc = 1
    if rc != 0:
        for entry in log[-40:]:
            print(json.dumps({k: entry[k] for k in ("method", "path", "query", "status")}),
                  file=sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
