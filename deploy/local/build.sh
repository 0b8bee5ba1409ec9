#!/usr/bin/env bash
# The Release build: what the run command (run.sh) starts and the soak
# (tests/system/e2e/soak) runs, so production shape is one build in one
# place: build/release, -O3, no tests. Installs what is missing first
# unless CALLBUS_SKIP_DEPS=1 (the caller did).
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "${CALLBUS_REPO_ROOT}"

[[ "${CALLBUS_SKIP_DEPS:-0}" == 1 ]] || "${CALLBUS_LOCAL_DIR}/deps.sh"
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DCALLBUS_TESTS=OFF >/dev/null
ninja_quiet -C build/release || die "the Release build failed (above)"
