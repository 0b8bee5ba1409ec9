# shellcheck shell=bash
# Shared helpers for the deploy/local scripts. Sourced, never executed.

# Resolve paths from this file's location so the scripts work from any cwd.
CALLBUS_LOCAL_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
CALLBUS_REPO_ROOT="$(cd "${CALLBUS_LOCAL_DIR}/../.." && pwd -P)"
CALLBUS_STACK_DIR="${CALLBUS_STACK_DIR:-${CALLBUS_REPO_ROOT}/.stack}"
CALLBUS_CACHE_DIR="${CALLBUS_CACHE_DIR:-${HOME}/.cache/callbus}"
CALLBUS_KAFKA_PORT="${CALLBUS_KAFKA_PORT:-19092}"
CALLBUS_KAFKA_CONTROLLER_PORT="${CALLBUS_KAFKA_CONTROLLER_PORT:-19093}"
CALLBUS_KAFKA_NODES="${CALLBUS_KAFKA_NODES:-1}" # 3: the production shape (kafka.sh)
CALLBUS_REDIS_PORT="${CALLBUS_REDIS_PORT:-16379}"
export CALLBUS_LOCAL_DIR CALLBUS_REPO_ROOT CALLBUS_STACK_DIR CALLBUS_CACHE_DIR \
    CALLBUS_KAFKA_PORT CALLBUS_KAFKA_CONTROLLER_PORT CALLBUS_KAFKA_NODES CALLBUS_REDIS_PORT

log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

# ninja without its progress lines, returning ninja's own status. (A
# `ninja | grep || true` pipeline returns 0 whatever ninja did: a failed
# build went unnoticed and old binaries were started or tested.)
ninja_quiet() {
    ninja "$@" | { grep -v '^\[' || true; }
    return "${PIPESTATUS[0]}"
}

# Microseconds since the epoch; EPOCHREALTIME avoids forking date(1).
now_us() {
    local t="${EPOCHREALTIME}"
    printf '%s\n' "${t//[^0-9]/}"
}

# Seconds with one decimal between a now_us value and now.
elapsed_since() {
    local start="$1" end
    end="$(now_us)"
    awk -v d="$((end - start))" 'BEGIN { printf "%.1f", d / 1000000 }'
}

# True if the pid is alive and its command line or working directory
# contains the given marker (a path inside our state dir). This guards
# against pid reuse and against ever signalling a process that this repo's
# stack did not start. The cwd check is for redis-server, which rewrites its
# command line (proc title) but chdirs into its data dir.
pid_matches() {
    local pid="$1" marker="$2" cmdline cwd
    [[ "${pid}" =~ ^[0-9]+$ ]] || return 1
    kill -0 "${pid}" 2>/dev/null || return 1
    cmdline="$(tr '\0' ' ' <"/proc/${pid}/cmdline" 2>/dev/null)" || cmdline=""
    cwd="$(readlink "/proc/${pid}/cwd" 2>/dev/null)" || cwd=""
    [[ "${cmdline}" == *"${marker}"* || "${cwd}/" == "${marker}"* ]]
}

# True if the pid exists and is not a zombie (an unreaped dead process still
# answers kill -0).
pid_alive() {
    local pid="$1" stat
    [[ "${pid}" =~ ^[0-9]+$ ]] || return 1
    stat="$(cat "/proc/${pid}/stat" 2>/dev/null)" || return 1
    stat="${stat##*) }"
    [[ "${stat:0:1}" != Z ]]
}

# Print the pid from a pid file, or nothing.
read_pid() {
    local file="$1"
    [[ -r "${file}" ]] && tr -dc '0-9' <"${file}"
    return 0
}

# Fail clearly if something else already listens on the TCP port.
require_port_free() {
    local port="$1" what="$2" holder lo hi
    # Any socket on that local port, listening or not: an outgoing
    # connection that took it as its ephemeral port blocks a bind too. Not
    # TIME-WAIT ones: a restarted server's old connections leave those, and
    # they do not stop a bind with SO_REUSEADDR (Kafka and Redis set it).
    holder="$(ss -Htanp exclude time-wait "sport = :${port}" 2>/dev/null || true)"
    if [[ -z "${holder}" ]] && (: <"/dev/tcp/127.0.0.1/${port}") 2>/dev/null; then
        holder="(unknown process)"
    fi
    if [[ -n "${holder}" ]]; then
        die "port ${port} (${what}) is already in use by something this stack did not start: ${holder}
  pick another with the matching CALLBUS_*_PORT variable, or stop that process"
    fi
    # Inside the kernel's ephemeral range any client socket may take the
    # port at any moment: the defaults sit below it; say so when one is not.
    read -r lo hi </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || return 0
    if ((port >= lo && port <= hi)); then
        log "warning: port ${port} (${what}) lies in the ephemeral range ${lo}-${hi}; an outgoing connection may hold it"
    fi
}

# Create a state subdirectory and print its physical path (symlinks resolved,
# so it compares equal to /proc/<pid>/cwd).
state_dir() {
    mkdir -p "${CALLBUS_STACK_DIR}/$1"
    (cd "${CALLBUS_STACK_DIR}/$1" && pwd -P)
}

# Serialise start/stop of one service (e.g. parallel test sessions) so two
# callers cannot launch two servers on one data dir. The lock lives on fd 9,
# which must be closed (9>&-) for long-running children or they hold it.
take_lock() {
    exec 9>"$1/.lock"
    flock 9
}
