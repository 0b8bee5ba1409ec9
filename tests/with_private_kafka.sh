#!/usr/bin/env bash
# Runs a command against a Kafka broker of its own: one KRaft node from
# deploy/local/kafka.sh on free ports, in a fresh state directory, stopped
# and removed afterwards whatever the command did. For the suites that stop,
# kill or freeze their broker: with a broker of their own they run beside
# the others instead of holding ctest to one test at a time.
#
#   tests/with_private_kafka.sh COMMAND [ARGS...]
#
# The command sees CALLBUS_KAFKA_BROKERS, CALLBUS_STACK_DIR,
# CALLBUS_KAFKA_PORT and CALLBUS_KAFKA_CONTROLLER_PORT of that broker (so
# kafka.sh stop/start and the pid file under CALLBUS_STACK_DIR/kafka act on
# it); everything else (Redis, CALLBUS_CACHE_DIR) is the caller's.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
kafka_sh="${root}/deploy/local/kafka.sh"

port="$(python3 "${root}/tests/free_ports.py" 2)" # the broker's, the controller's
dir="$(mktemp -d "${TMPDIR:-/tmp}/callbus-private-kafka.XXXXXX")"
export CALLBUS_STACK_DIR="${dir}" CALLBUS_KAFKA_PORT="${port}"
export CALLBUS_KAFKA_CONTROLLER_PORT="$((port + 1))" CALLBUS_KAFKA_NODES=1
export CALLBUS_KAFKA_FRESH=1 CALLBUS_KAFKA_HEAP_MB="${CALLBUS_KAFKA_HEAP_MB:-256}"

# A watchdog in a session of its own outlives a SIGKILL of this script (a
# ctest timeout) and of its process group, and stops the broker then.
setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done
    if [ -d "$3" ]; then "$2" stop; rm -rf "$3"; fi' _ "$$" "${kafka_sh}" "${dir}" \
    </dev/null >/dev/null 2>&1 &
watchdog=$!

cleanup() {
    kill "${watchdog}" 2>/dev/null || true
    "${kafka_sh}" stop >/dev/null 2>&1 || true
    rm -rf "${dir}"
}
trap cleanup EXIT

"${kafka_sh}" start
CALLBUS_KAFKA_BROKERS="$("${kafka_sh}" brokers)"
export CALLBUS_KAFKA_BROKERS

# In the background, so a TERM from ctest's timeout is passed on and the
# broker is still stopped.
"$@" &
child=$!
trap 'kill -TERM "${child}" 2>/dev/null || true' TERM INT
rc=0
wait "${child}" || rc=$?
while kill -0 "${child}" 2>/dev/null; do
    wait "${child}" || rc=$?
done
exit "${rc}"
