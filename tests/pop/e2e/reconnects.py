#!/usr/bin/env python3
"""The reconnect figure of issue 19 item 2: one agent opens and closes
1,200 pop streams in a row (what browser reloads and flaky Wi-Fi do over a
morning) against one callbus-pop at its default connection cap (1,024),
and the figures are printed: streams opened/closed, refused, connections
open afterwards.

Needs the Kafka and Redis of deploy/local/stack.sh in the environment
(`eval "$(deploy/local/stack.sh env)"`), and a built callbus-pop
(CALLBUS_POP_BIN, default build/test). RECONNECTS (1200) sets the count;
extra CALLBUS_* settings for the service may be passed as NAME=VALUE
arguments.

  tests/pop/e2e/reconnects.py
  tests/pop/e2e/reconnects.py CALLBUS_HTTP_MAX_CONNECTIONS=64

The last line printed is
  RESULT pop-reconnects streams=<n> opened=<n> closed=<n> refused=<n> connections_after=<n>
Exit 1 when a stream was refused or connections stay open afterwards."""
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pop  # noqa: E402


def main():
    n = int(os.environ.get("RECONNECTS", "1200"))
    env = dict(a.split("=", 1) for a in sys.argv[1:])
    topics = pop.Topics(pop.e2e.module_prefix())
    logdir = tempfile.mkdtemp(prefix="pop-reconnects-")
    svc = pop.start_pop(topics, f"pop-{topics.prefix.rstrip('.')}", logdir, "pop-reconnects", env)
    try:
        token = svc.agent("930001", "reconnect-1")
        r = reconnect_storm_report(svc, token, n)
    finally:
        svc.stop()
    ok = r["refused"] == 0 and r["connections_after"] <= r["connections_before"]
    print(f"log: {svc.logpath}")
    print(f"RESULT pop-reconnects streams={r['streams']} opened={r['opened']} "
          f"closed={r['closed']} refused={r['refused']} "
          f"connections_after={int(r['connections_after'])} "
          f"(before {int(r['connections_before'])}, server refused "
          f"{int(r['refused_by_server'])})")
    return 0 if ok else 1


def reconnect_storm_report(svc, token, n):
    r = pop.reconnect_storm(svc, token, n)
    ready = svc._http_status("/readyz", admin=True)
    agent = svc._http_status("/agent")
    print(f"/readyz {ready}, /agent {agent}")
    return r


if __name__ == "__main__":
    sys.exit(main())
