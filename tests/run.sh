#!/usr/bin/env bash
# Runs every callbus test on this machine, from nothing:
#   installs missing packages, builds twice (normal, and ASan+UBSan with
#   clang, which also builds the libFuzzer targets), starts a real Kafka
#   broker and Redis of its own (own ports and state dir, so a running dev
#   stack is not disturbed), runs ctest in both builds, stops the stack.
#
#   tests/run.sh              everything
#   tests/run.sh -L ingest    one label (any ctest arguments pass through)
#   CALLBUS_TEST_BUILDS=normal tests/run.sh   skip the sanitizer build
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "${root}"

# The test stack: not the dev stack's ports or directory.
export CALLBUS_STACK_DIR="${CALLBUS_TEST_STACK_DIR:-${root}/.stack/test}"
export CALLBUS_KAFKA_PORT="${CALLBUS_TEST_KAFKA_PORT:-19192}"
export CALLBUS_KAFKA_CONTROLLER_PORT="${CALLBUS_TEST_KAFKA_CONTROLLER_PORT:-19193}"
export CALLBUS_REDIS_PORT="${CALLBUS_TEST_REDIS_PORT:-16479}"
export CALLBUS_KAFKA_FRESH=1
builds="${CALLBUS_TEST_BUILDS:-normal sanitize}"
jobs="$(nproc)"

deploy/local/deps.sh --browser

# shellcheck source=../deploy/local/lib.sh
source deploy/local/lib.sh

build() { # dir, cmake args...
    local dir="$1"
    shift
    cmake -S . -B "${dir}" -G Ninja "$@" >/dev/null
    ninja_quiet -C "${dir}" -j "${jobs}" || die "build of ${dir} failed"
}

# The Release build is the run command's own (deploy/local/build.sh):
# its -O3 warnings fail here, and the run command's test
# (tests/deploy/test_run_command.py) starts what it built.
CALLBUS_SKIP_DEPS=1 deploy/local/build.sh || die "the Release build failed"
for b in ${builds}; do
    case "${b}" in
    normal) build build/test -DCMAKE_BUILD_TYPE=RelWithDebInfo ;;
    sanitize) build build/test-san -DCMAKE_BUILD_TYPE=Sanitize -DCMAKE_C_COMPILER=clang -DCALLBUS_FUZZ=ON ;;
    esac
done

stop_stack() { deploy/local/stack.sh stop >/dev/null 2>&1 || true; }
trap stop_stack EXIT
CALLBUS_SKIP_DEPS=1 deploy/local/stack.sh start
eval "$(deploy/local/stack.sh env)"
export CALLBUS_TEST_PARTITIONS=3

# Fail fast on a leak or UB report rather than reading it from a log.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

rc=0
for b in ${builds}; do
    dir=build/test
    [ "${b}" = sanitize ] && dir=build/test-san
    echo "== ctest (${b} build)"
    # Three at a time: most suites wait on Kafka, Redis or a service, not the
    # CPU (at two, a fresh-clone run kept the 2 cores busy 7 of its 16
    # minutes). Those that stop or freeze a broker have one of their own
    # (tests/with_private_kafka.sh), so nothing runs alone at the end; the
    # longest suites start first (COST: their seconds on the 2-core
    # machine; test_ticket_e2e is one test per file, so it spreads too).
    ctest --test-dir "${dir}" --output-on-failure -j "${CALLBUS_TEST_JOBS:-3}" "$@" || rc=1
done
exit "${rc}"
