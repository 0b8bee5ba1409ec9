"""Zendesk's CLI, zcli (npm @zendesk/zcli, pinned in tools/zcli), installed
into the cache (CALLBUS_CACHE_DIR/tools/zcli) by deploy/local/deps.sh
--browser, or here when it is missing or its lock file changed: `npm ci`
from the committed lock, with --ignore-scripts (keytar's install script
would download a prebuilt binary; zcli works without it when credentials
come from the environment). Offline with nothing installed: a clear
failure, never a skip."""
import filecmp
import os
import shutil
import subprocess

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PINNED = os.path.join(ROOT, "tools", "zcli")
CACHE = os.environ.get("CALLBUS_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache",
                                                              "callbus")
TOOL = os.path.join(CACHE, "tools", "zcli")
EXE = os.path.join(TOOL, "node_modules", ".bin", "zcli")


def installed():
    lock = os.path.join(TOOL, "package-lock.json")
    return os.access(EXE, os.X_OK) and os.path.exists(lock) and \
        filecmp.cmp(lock, os.path.join(PINNED, "package-lock.json"), shallow=False)


def ensure():
    """The zcli executable's path, installing it first if needed."""
    if installed():
        return EXE
    npm = shutil.which("npm")
    if not npm:
        pytest.fail("zcli is not installed and npm is missing: run deploy/local/deps.sh --browser")
    os.makedirs(TOOL, exist_ok=True)
    for f in ("package.json", "package-lock.json"):
        shutil.copyfile(os.path.join(PINNED, f), os.path.join(TOOL, f))
    r = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=TOOL,
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0 or not os.access(EXE, os.X_OK):
        pytest.fail(f"zcli could not be installed into {TOOL} (npm ci exit {r.returncode}; "
                    f"offline? the npm registry is needed once): {r.stderr[-2000:]}")
    return EXE
