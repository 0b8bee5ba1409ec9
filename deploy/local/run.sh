#!/usr/bin/env bash
# The whole callbus stack on this machine, in the foreground:
#   installs what is missing, builds (release), starts Kafka and Redis,
#   the Zendesk emulator when no Zendesk credentials are configured, and
#   every service; prints where to post a webhook; Ctrl-C stops it all.
#
# Real Zendesk: export CALLBUS_ZENDESK_URL=https://acme.zendesk.com
#   CALLBUS_ZENDESK_EMAIL=... CALLBUS_ZENDESK_TOKEN=... before running.
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
root="${CALLBUS_REPO_ROOT}"
cd "${root}"

ingest_port="${CALLBUS_INGEST_PORT:-18080}"
ticket_port="${CALLBUS_TICKET_PORT:-18081}"
ingest_admin_port="${CALLBUS_INGEST_ADMIN_PORT:-19080}"
ticket_admin_port="${CALLBUS_TICKET_ADMIN_PORT:-19081}"
pop_port="${CALLBUS_POP_PORT:-18082}"
pop_admin_port="${CALLBUS_POP_ADMIN_PORT:-19082}"
missed_port="${CALLBUS_MISSED_PORT:-18083}"
missed_admin_port="${CALLBUS_MISSED_ADMIN_PORT:-19083}"
stats_port="${CALLBUS_STATS_PORT:-18084}"
stats_admin_port="${CALLBUS_STATS_ADMIN_PORT:-19084}"
emulator_port="${CALLBUS_EMULATOR_PORT:-18090}"
oidc_emulator_port="${CALLBUS_OIDC_EMULATOR_PORT:-18091}"
run_dir="${CALLBUS_STACK_DIR}/run"
mkdir -p "${run_dir}"

"${CALLBUS_LOCAL_DIR}/deps.sh"
# Each port checked before anything starts: a service that cannot bind
# would otherwise exit later with only a line in its log.
for spec in "${ingest_port}:ingest, CALLBUS_INGEST_PORT" "${ticket_port}:ticket, CALLBUS_TICKET_PORT" \
    "${pop_port}:pop, CALLBUS_POP_PORT" "${missed_port}:missed, CALLBUS_MISSED_PORT" \
    "${ingest_admin_port}:ingest admin, CALLBUS_INGEST_ADMIN_PORT" \
    "${ticket_admin_port}:ticket admin, CALLBUS_TICKET_ADMIN_PORT" \
    "${pop_admin_port}:pop admin, CALLBUS_POP_ADMIN_PORT" \
    "${missed_admin_port}:missed admin, CALLBUS_MISSED_ADMIN_PORT" \
    "${stats_port}:stats, CALLBUS_STATS_PORT" "${stats_admin_port}:stats admin, CALLBUS_STATS_ADMIN_PORT" \
    "${emulator_port}:Zendesk emulator, CALLBUS_EMULATOR_PORT" \
    "${oidc_emulator_port}:OpenID Connect emulator, CALLBUS_OIDC_EMULATOR_PORT"; do
    require_port_free "${spec%%:*}" "${spec#*:}"
done
# A build that fails stops here: never start yesterday's binaries, or
# only some of the services.
CALLBUS_SKIP_DEPS=1 "${CALLBUS_LOCAL_DIR}/build.sh" || die "nothing started"
CALLBUS_SKIP_DEPS=1 "${CALLBUS_LOCAL_DIR}/stack.sh" start
eval "$("${CALLBUS_LOCAL_DIR}/stack.sh" env)"

pids=()
# Bounded whatever is down: each service drains within its grace period
# (CALLBUS_SHUTDOWN_GRACE_MS); one that is still there after ours is killed.
stop_grace_s="${CALLBUS_RUN_STOP_GRACE_S:-40}"
cleanup() {
    trap - EXIT INT TERM
    log "stopping services"
    for pid in "${pids[@]}"; do kill -TERM "${pid}" 2>/dev/null || true; done
    local deadline=$((SECONDS + stop_grace_s)) pid
    for pid in "${pids[@]}"; do
        while pid_alive "${pid}" && ((SECONDS < deadline)); do sleep 0.2; done
        if pid_alive "${pid}"; then
            log "pid ${pid} still running after ${stop_grace_s}s; killing it"
            kill -KILL "${pid}" 2>/dev/null || true
        fi
        wait "${pid}" 2>/dev/null || true
    done
    "${CALLBUS_LOCAL_DIR}/stack.sh" stop || true
}
trap cleanup EXIT INT TERM

start() { # name, command...
    local name="$1"
    shift
    "$@" >>"${run_dir}/${name}.log" 2>&1 &
    pids+=("$!")
}

# Demo secrets unless the operator set their own.
export CALLBUS_INGEST_CALLGEAR_TOKEN="${CALLBUS_INGEST_CALLGEAR_TOKEN:-demo-callgear-token}"
export CALLBUS_INGEST_GENERIC_SECRET="${CALLBUS_INGEST_GENERIC_SECRET:-demo-generic-secret}"
export CALLBUS_INGEST_WEBEX_BEARER="${CALLBUS_INGEST_WEBEX_BEARER:-demo-webex-bearer}"
export CALLBUS_IVR_TOKEN="${CALLBUS_IVR_TOKEN:-demo-ivr-token}"
export CALLBUS_POP_PROVISIONING_SECRET="${CALLBUS_POP_PROVISIONING_SECRET:-demo-pop-secret}"
# The demo agent is also the demo supervisor: the banner's statistics page opens for it.
export CALLBUS_POP_SUPERVISORS="${CALLBUS_POP_SUPERVISORS:-900001}"

if [[ -z "${CALLBUS_ZENDESK_URL:-}" ]]; then
    export CALLBUS_ZENDESK_URL="http://127.0.0.1:${emulator_port}"
    export CALLBUS_ZENDESK_EMAIL="agent@example.com" CALLBUS_ZENDESK_TOKEN="emulator-token"
    # The emulator keeps its tickets in memory: what ticket-service remembers
    # in Redis about an earlier emulator's tickets would point at nothing.
    redis-cli -p "${CALLBUS_REDIS_PORT}" FLUSHDB >/dev/null
    start zendesk-emulator python3 tests/emulators/zendesk/zendesk_emulator.py --host 127.0.0.1 \
        --port "${emulator_port}" --email "${CALLBUS_ZENDESK_EMAIL}" --token "${CALLBUS_ZENDESK_TOKEN}"
    # The emulator's preset agents, for the operators of the example payloads
    # in tests/ingest/unit/fixtures, so a first webhook makes a ticket (R-I3).
    export CALLBUS_AGENT_MAP="${CALLBUS_AGENT_MAP:-callgear:2207=900001,callgear:2211=900002,twilio:giulia=900001,twilio:marco=900002,webex:3b2a1c0d-5e6f-4a7b-8c9d-0e1f2a3b4c5d=900001,webex:7f6e5d4c-3b2a-4190-8a7b-6c5d4e3f2a1b=900002}"
    crm_note="${CALLBUS_ZENDESK_URL}/agent (the Zendesk emulator: no credentials configured)"
    export CALLBUS_POP_NEW_CASE_URL="${CALLBUS_POP_NEW_CASE_URL:-${CALLBUS_ZENDESK_URL}/agent}"
else
    crm_note="${CALLBUS_ZENDESK_URL}/agent/"
    export CALLBUS_POP_NEW_CASE_URL="${CALLBUS_POP_NEW_CASE_URL:-${CALLBUS_ZENDESK_URL}/agent/tickets/new}"
fi

# Agents sign in with the company's identity provider (docs/pop.md); with
# none configured, the OpenID Connect emulator stands in, with the agents
# of the fixtures' operators (2207 -> 900001, 2211 -> 900002).
if [[ -z "${CALLBUS_POP_OIDC_ISSUER:-}" ]]; then
    start oidc-emulator python3 tests/emulators/oidc/oidc_emulator.py --host 127.0.0.1 \
        --port "${oidc_emulator_port}" --user agent-900001=900001 --user agent-900002=900002
    export CALLBUS_POP_OIDC_ISSUER="http://127.0.0.1:${oidc_emulator_port}"
    # Up before pop-service asks it for its keys: a first sign-in then works.
    for _ in $(seq 1 100); do
        curl -fsS "${CALLBUS_POP_OIDC_ISSUER}/.well-known/openid-configuration" >/dev/null 2>&1 && break
        sleep 0.1
    done
    export CALLBUS_POP_OIDC_CLIENT_ID="callbus-agent-page" CALLBUS_POP_OIDC_AGENT_CLAIM="crm_agent_id"
    signin_note="Sign in, user agent-900001 (the OpenID Connect emulator: no issuer configured)"
else
    signin_note="Sign in with ${CALLBUS_POP_OIDC_ISSUER}"
fi

CALLBUS_HTTP_PORT="${ingest_port}" CALLBUS_ADMIN_PORT="${ingest_admin_port}" \
    CALLBUS_INGEST_PUBLIC_URL="http://127.0.0.1:${ingest_port}" \
    start ingest build/release/services/ingest/callbus-ingest
# Missed calls are the grouper's to decide (docs/missed.md).
CALLBUS_HTTP_PORT="${ticket_port}" CALLBUS_ADMIN_PORT="${ticket_admin_port}" \
    CALLBUS_TICKET_UNANSWERED=grouper start ticket build/release/services/ticket/callbus-ticket
CALLBUS_HTTP_PORT="${pop_port}" CALLBUS_ADMIN_PORT="${pop_admin_port}" start pop build/release/services/pop/callbus-pop
CALLBUS_HTTP_PORT="${missed_port}" CALLBUS_ADMIN_PORT="${missed_admin_port}" start missed build/release/services/missed/callbus-missed
# The statistics (issue 25): a fifth consumer, its own group (docs/architecture.md).
CALLBUS_HTTP_PORT="${stats_port}" CALLBUS_ADMIN_PORT="${stats_admin_port}" start stats build/release/services/stats/callbus-stats

for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:${ingest_admin_port}/readyz" >/dev/null 2>&1 && break
    sleep 0.1
done

cat <<MSG

callbus is running (logs in ${run_dir}/).
  Post a CallGear webhook:
    curl -H 'Content-Type: application/json' \\
      --data @tests/ingest/unit/fixtures/callgear_handset.json \\
      http://127.0.0.1:${ingest_port}/v1/callgear/${CALLBUS_INGEST_CALLGEAR_TOKEN}/handset
  Other routes: /v1/twilio/voice-status, /v1/webex/events (Bearer ${CALLBUS_INGEST_WEBEX_BEARER}),
    /v1/generic/events (HMAC, see docs/providers.md)
  Ticket-service IVR API: http://127.0.0.1:${ticket_port}/v1/ivr/ (Bearer ${CALLBUS_IVR_TOKEN})
  Screen pops: an agent opens http://127.0.0.1:${pop_port}/agent, ${signin_note},
    telephony agent id 2207 (CRM agent 900001, the fixture's operator);
    the webhook above then pops its ticket there.
    Machine clients (a CTI desktop vouching for its agent) log agents in with
    POST /v1/sessions, Bearer ${CALLBUS_POP_PROVISIONING_SECRET} (docs/pop.md).
  Statistics, for supervisors (CALLBUS_POP_SUPERVISORS=${CALLBUS_POP_SUPERVISORS}), signed in as agents are:
    page http://127.0.0.1:${pop_port}/supervisor
    API  http://127.0.0.1:${pop_port}/v1/stats?from=YYYY-MM-DD&to=YYYY-MM-DD&by=agent|queue|day[&format=csv]
  The CRM (tickets as the CRM shows them): ${crm_note}
  Metrics: http://127.0.0.1:${ingest_admin_port}/metrics  http://127.0.0.1:${ticket_admin_port}/metrics  http://127.0.0.1:${pop_admin_port}/metrics
    http://127.0.0.1:${missed_admin_port}/metrics (the missed-call grouper)
Ctrl-C stops everything.
MSG
wait -n "${pids[@]}" || true
log "a service exited; see ${run_dir}/"
