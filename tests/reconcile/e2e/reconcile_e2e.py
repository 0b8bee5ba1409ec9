"""What the reconciler's end-to-end tests share (issue 27): the stack
(Kafka topics of the module, ticket-service on the Zendesk emulator,
callbus-ingest, the call-log emulators), a run of callbus-reconcile and
call-events as kcat reads it."""
import json
import os
import re
import subprocess
from datetime import datetime, timezone

import pytest

import e2e
import whole
from callgear_log_emulator import CallGearLogEmulator
from twilio_log_emulator import TwilioLogEmulator
from webex_log_emulator import WebexLogEmulator

ROOT = e2e.ROOT
BIN = os.environ.get("CALLBUS_RECONCILE_BIN",
                     os.path.join(ROOT, "build", "test", "services", "reconcile",
                                  "callbus-reconcile"))
RESULT = re.compile(r"^RESULT reconcile provider=(\w+) (.*)$", re.M)


@pytest.fixture(scope="module")
def stack(logdir):
    topics = e2e.Topics(e2e.module_prefix())
    emu = e2e.make_emulator()
    view = e2e.crm_view.ZendeskView(emu)
    ticket = e2e.TicketService(emu, topics, "ticket-" + topics.prefix.rstrip("."), logdir,
                               "reconcile-ticket", crm_env=view.service_env())
    # every provider's route (whole.py), agents mapped on each (R-I3)
    ingest = whole.Ingest(emu, topics, logdir, "reconcile-ingest", agents=view.agents[:2])
    log = TwilioLogEmulator().start()
    cg_log = CallGearLogEmulator().start()
    wx_log = WebexLogEmulator().start()
    try:
        ticket.start()
        ingest.start()
        yield {"topics": topics, "emu": emu, "ticket": ticket, "ingest": ingest, "log": log,
               "cg_log": cg_log, "wx_log": wx_log, "agents": view.agents, "logdir": logdir}
    finally:
        for svc in (ingest, ticket):
            if svc.running():
                svc.stop()
        log.stop()
        cg_log.stop()
        wx_log.stop()
        emu.stop()


def iso(ts):
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def reconcile(stack, start, end, *extra, env_over=None, provider="twilio"):
    """Runs callbus-reconcile --provider over [start, end]: (exit status,
    {field: int} of its RESULT line, its log)."""
    log, cg_log, wx_log = stack["log"], stack["cg_log"], stack["wx_log"]
    env = dict(os.environ, CALLBUS_KAFKA_BROKERS=e2e.BROKERS,
               CALLBUS_TOPIC_PREFIX=stack["topics"].prefix,
               CALLBUS_RECONCILE_TWILIO_API_URL=log.url,
               CALLBUS_RECONCILE_TWILIO_ACCOUNT_SID=log.account_sid,
               CALLBUS_RECONCILE_TWILIO_AUTH_TOKEN=log.auth_token,
               CALLBUS_RECONCILE_CALLGEAR_API_URL=cg_log.url + "/v2.0",
               CALLBUS_RECONCILE_CALLGEAR_ACCESS_TOKEN=cg_log.access_token,
               CALLBUS_RECONCILE_WEBEX_API_URL=wx_log.url,
               CALLBUS_RECONCILE_WEBEX_TOKEN=wx_log.token,
               CALLBUS_RECONCILE_PAGE_SIZE="4",
               CALLBUS_RECONCILE_METRICS_FILE=os.path.join(stack["logdir"], "reconcile.prom"),
               CALLBUS_AGENT_MAP=whole.agent_map(stack["agents"][:2]))
    env.update(env_over or {})
    proc = subprocess.run([BIN, "--from", iso(start), "--to", iso(end), "--provider", provider,
                           *extra], env=env,
                          capture_output=True, text=True, timeout=120)
    m = RESULT.search(proc.stdout)
    assert m, proc.stdout + proc.stderr
    fields = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
    return proc.returncode, fields, proc.stdout + proc.stderr  # the log is JSON lines on stdout


def call_events(topics):
    proc = subprocess.run(["kcat", "-b", e2e.BROKERS, "-C", "-t", topics.call_events, "-o",
                           "beginning", "-e", "-J", "-q"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(json.loads(line)["payload"]) for line in proc.stdout.splitlines() if line]
