#!/usr/bin/env bash
# A private redis-server (Debian's binary) for local runs and tests, with its
# own port and data dir so it never touches a system or developer instance.
#
#   redis.sh start    start and wait for PONG; a no-op when already running
#   redis.sh stop     shutdown nosave (SIGKILL if it does not exit)
#   redis.sh status   exit 0 if running and answering
#
# Environment: CALLBUS_REDIS_PORT (16379), CALLBUS_STACK_DIR (<repo>/.stack).
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PORT="${CALLBUS_REDIS_PORT}"
READY_TIMEOUT_S=20
STOP_TIMEOUT_S=10

STATE="$(state_dir redis)"
PIDFILE="${STATE}/redis.pid"
LOGFILE="${STATE}/redis.log"
# redis-server rewrites its command line, so ownership is checked through
# its working directory (it chdirs into --dir), see pid_matches.
MARKER="${STATE}/"

rcli() { redis-cli -h 127.0.0.1 -p "${PORT}" "$@"; }

is_running() {
    local pid
    pid="$(read_pid "${PIDFILE}")"
    [[ -n "${pid}" ]] && pid_matches "${pid}" "${MARKER}"
}

answers() { [[ "$(rcli ping 2>/dev/null)" == PONG ]]; }

cmd_start() {
    local t0 pid deadline
    take_lock "${STATE}"
    if is_running; then
        log "redis already running on 127.0.0.1:${PORT} (pid $(read_pid "${PIDFILE}"))"
        return 0
    fi
    rm -f "${PIDFILE}"
    require_port_free "${PORT}" "redis, CALLBUS_REDIS_PORT"
    command -v redis-server >/dev/null || die "redis-server not found (run deploy/local/deps.sh)"
    t0="$(now_us)"
    # appendonly: data survives a restart of the stack like a real
    # deployment; no RDB snapshots (save "") to keep the disk quiet.
    redis-server \
        --bind 127.0.0.1 --port "${PORT}" \
        --dir "${STATE}" \
        --daemonize yes --pidfile "${PIDFILE}" --logfile "${LOGFILE}" \
        --appendonly yes --save "" 9>&-
    deadline=$((SECONDS + READY_TIMEOUT_S))
    until answers; do
        if ((SECONDS >= deadline)); then
            tail -n 40 "${LOGFILE}" >&2 || true
            die "redis did not answer PONG on 127.0.0.1:${PORT} within ${READY_TIMEOUT_S}s"
        fi
        sleep 0.1
    done
    # The daemon writes its pid file asynchronously; wait for it so that an
    # immediate stop/status sees it.
    until pid="$(read_pid "${PIDFILE}")" && [[ -n "${pid}" ]]; do
        ((SECONDS < deadline)) || die "redis wrote no pid file ${PIDFILE}"
        sleep 0.05
    done
    log "redis ready on 127.0.0.1:${PORT} in $(elapsed_since "${t0}")s (pid ${pid}, logs in ${STATE})"
}

cmd_stop() {
    local pid deadline
    take_lock "${STATE}"
    pid="$(read_pid "${PIDFILE}")"
    if [[ -z "${pid}" ]] || ! pid_matches "${pid}" "${MARKER}"; then
        rm -f "${PIDFILE}"
        log "redis not running"
        return 0
    fi
    # nosave: the append-only file is already durable; no RDB dump wanted.
    rcli shutdown nosave >/dev/null 2>&1 || kill -TERM "${pid}" 2>/dev/null || true
    deadline=$((SECONDS + STOP_TIMEOUT_S))
    while pid_matches "${pid}" "${MARKER}"; do
        if ((SECONDS >= deadline)); then
            log "redis (pid ${pid}) still up after ${STOP_TIMEOUT_S}s; sending SIGKILL"
            kill -KILL "${pid}" 2>/dev/null || true
            break
        fi
        sleep 0.1
    done
    rm -f "${PIDFILE}"
    log "redis stopped (pid ${pid})"
}

cmd_status() {
    local pid
    pid="$(read_pid "${PIDFILE}")"
    if [[ -n "${pid}" ]] && pid_matches "${pid}" "${MARKER}"; then
        if answers; then
            echo "redis running on 127.0.0.1:${PORT} (pid ${pid})"
            return 0
        fi
        echo "redis process ${pid} is up but not answering on 127.0.0.1:${PORT}"
        return 1
    fi
    echo "redis not running"
    return 1
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
*)
    echo "usage: ${0##*/} {start|stop|status}" >&2
    exit 2
    ;;
esac
