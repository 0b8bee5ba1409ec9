#!/usr/bin/env bash
# The whole local backing stack for callbus: Kafka + Redis.
# CALLBUS_KAFKA_NODES=3: a three-broker cluster (deploy/local/kafka.sh).
#
#   stack.sh start    deps (unless CALLBUS_SKIP_DEPS=1), kafka, redis;
#                     quick no-op for whatever already runs
#   stack.sh stop     stop both (fine if they are not running)
#   stack.sh status   exit 0 only if both run and answer
#   stack.sh env      print the export lines the services read, e.g.
#                     eval "$(deploy/local/stack.sh env)"
#
# start also writes those lines to ${CALLBUS_STACK_DIR}/env.
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

env_lines() {
    printf 'export CALLBUS_KAFKA_BROKERS=%s\n' "$("${CALLBUS_LOCAL_DIR}/kafka.sh" brokers)"
    printf 'export CALLBUS_REDIS_URL=%s\n' "redis://127.0.0.1:${CALLBUS_REDIS_PORT}"
}

write_env() {
    mkdir -p "${CALLBUS_STACK_DIR}"
    env_lines >"${CALLBUS_STACK_DIR}/env"
}

cmd_start() {
    local t0
    t0="$(now_us)"
    if [[ "${CALLBUS_SKIP_DEPS:-0}" != 1 ]]; then
        "${CALLBUS_LOCAL_DIR}/deps.sh"
    fi
    "${CALLBUS_LOCAL_DIR}/kafka.sh" fetch
    "${CALLBUS_LOCAL_DIR}/kafka.sh" start
    "${CALLBUS_LOCAL_DIR}/redis.sh" start
    write_env
    log "stack up in $(elapsed_since "${t0}")s; env in ${CALLBUS_STACK_DIR}/env"
}

cmd_stop() {
    # Stop both even if the first one fails.
    local rc=0
    "${CALLBUS_LOCAL_DIR}/kafka.sh" stop || rc=1
    "${CALLBUS_LOCAL_DIR}/redis.sh" stop || rc=1
    return "${rc}"
}

cmd_status() {
    local rc=0
    "${CALLBUS_LOCAL_DIR}/kafka.sh" status || rc=1
    "${CALLBUS_LOCAL_DIR}/redis.sh" status || rc=1
    return "${rc}"
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
env)
    write_env
    env_lines
    ;;
*)
    echo "usage: ${0##*/} {start|stop|status|env}" >&2
    exit 2
    ;;
esac
