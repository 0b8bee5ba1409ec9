"""What the fault table (tests/system/e2e/faults) and the soak (tests/system/e2e/soak)
share: the local stack's scripts as faults (deploy/local/<name>.sh), the
consumers' busy gauges, the CRM's error phases, the comment marker's shape
and the Markdown table both print. Imported, never copied (STYLE.md: one
home)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))

# Every comment ends with "[callbus <event id>/<n>]" (docs/ticket-service.md).
MARKER = re.compile(r"\[callbus ([A-Za-z0-9_.:-]+)/(\d+)\]")

# What says a consumer is mid-batch: events taken and not yet done.
BUSY = {"ticket": ("ticket_batch_pending", "ticket_events_in_flight"),
        "pop": ("pop_events_in_flight",), "missed": ("missed_events_in_flight",)}


def say(who, msg):
    print(f"{who}: {msg}", file=sys.stderr, flush=True)


def script(stack, name, *args, timeout=180):
    """deploy/local/<name>.sh <args> on the stack (benchlib.Stack); False
    (and the error said) when it failed."""
    r = subprocess.run([os.path.join(ROOT, "deploy", "local", f"{name}.sh"), *args],
                       env=stack.env, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        say(name, f"{name}.sh {' '.join(args)} failed: {r.stderr[-500:]}")
    return r.returncode == 0


def redis_pid(stack):
    with open(os.path.join(stack.dir, "redis", "redis.pid"), encoding="utf-8") as f:
        return int(f.read().strip())


def busy(svc):
    """Events the consumer has in hand (0 when it does not answer)."""
    try:
        m = svc.metrics()
    except OSError:
        return 0
    return sum(m.get(k, 0) for k in BUSY.get(svc.SERVICE, ()))


def kill9_busy(svc, who, wait_s=3):
    """kill -9 of the consumer, with work in hand if it gets some within wait_s."""
    deadline = time.monotonic() + wait_s
    while busy(svc) == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    say(who, f"kill -9 {svc.name} with {busy(svc):.0f} events in hand")
    svc.kill9()


def crm_errors(crm, phases=((401, {}), (429, {"retry_after": 1}), (503, {})), phase_s=4,
               max_phase_s=20):
    """The CRM (a crm_view view: Zendesk or Dynamics) answers every API
    request with each status for phase_s, and longer (up to max_phase_s)
    until a request met it: ticket-service backs off after each error, past
    a fixed phase (the 401 after the 503s, the 503 after the 429s were
    missed on Zendesk). Then heals. Returns {status: how many requests got
    it}; a phase no request met tested nothing."""
    served = {}
    for status, extra in phases:
        crm.clear_failures()
        mark, t0 = crm.mark(), time.monotonic()
        crm.fail_next("any", status, count=100000, retry_after=extra.get("retry_after"))
        while True:
            time.sleep(0.25)
            served[status] = sum(1 for e in crm.requests(mark) if e.get("status") == status)
            waited = time.monotonic() - t0
            if waited >= max_phase_s or (waited >= phase_s and served[status]):
                break
    crm.clear_failures()
    return served


def print_table(rows, columns, out=sys.stdout):
    widths = [max(len(c), *(len(str(r[c])) for r in rows)) for c in columns]
    print("| " + " | ".join(c.ljust(wd) for c, wd in zip(columns, widths)) + " |", file=out)
    print("|" + "|".join("-" * (wd + 2) for wd in widths) + "|", file=out)
    for r in rows:
        print("| " + " | ".join(str(r[c]).ljust(wd) for c, wd in zip(columns, widths)) + " |",
              file=out)
