"""What the ticket-service benchmarks share: a Release build of a target in
build/bench, and a Kafka + Redis stack of their own (deploy/local/stack.sh
with a bench's own directory and ports, never the dev or test stack's)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def say(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def build(build_dir, target="callbus-ticket", subdir=("services", "ticket")):
    """Builds `target` as Release in build_dir (tests off); returns its path."""
    for tool in ("cmake", "ninja", "kcat"):
        if not shutil.which(tool):
            say(f"{tool} not found: run deploy/local/deps.sh")
            sys.exit(2)
    cache = os.path.join(build_dir, "CMakeCache.txt")
    release = os.path.exists(cache) and \
        "CMAKE_BUILD_TYPE:STRING=Release\n" in open(cache, encoding="utf-8").read()
    if not os.path.exists(os.path.join(build_dir, "build.ninja")) or not release:
        subprocess.run(["cmake", "-S", ROOT, "-B", build_dir, "-G", "Ninja",
                        "-DCMAKE_BUILD_TYPE=Release", "-DCALLBUS_TESTS=OFF"],
                       check=True, stdout=subprocess.DEVNULL)
    # a shared machine: two jobs unless told otherwise
    subprocess.run(["ninja", "-j", os.environ.get("BENCH_JOBS", "2"), "-C", build_dir, target], check=True, stdout=subprocess.DEVNULL)
    return os.path.join(build_dir, *subdir, target)


class Stack:
    """deploy/local/stack.sh with a bench's own directory and ports; `nodes`
    KRaft brokers (CALLBUS_KAFKA_NODES: node K on kafka_port + 2(K-1))."""

    def __init__(self, stack_dir, kafka_port, controller_port, redis_port, nodes=1):
        self.dir = stack_dir
        self.nodes = nodes
        self.brokers = ",".join(f"127.0.0.1:{kafka_port + 2 * k}" for k in range(nodes))
        self.redis_url = f"redis://127.0.0.1:{redis_port}"
        self.env = dict(os.environ, CALLBUS_STACK_DIR=stack_dir,
                        CALLBUS_KAFKA_PORT=str(kafka_port),
                        CALLBUS_KAFKA_CONTROLLER_PORT=str(controller_port),
                        CALLBUS_REDIS_PORT=str(redis_port), CALLBUS_KAFKA_NODES=str(nodes))

    def run(self, cmd, **kw):
        return subprocess.run([os.path.join(ROOT, "deploy", "local", "stack.sh"), cmd],
                              env=dict(self.env, **kw), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)

    def ensure(self):
        """Starts the stack unless it runs; returns whether it was started."""
        if self.run("status").returncode == 0:
            return False
        say(f"starting the bench stack ({self.dir}, kafka {self.brokers})")
        r = self.run("start", CALLBUS_SKIP_DEPS=os.environ.get("CALLBUS_SKIP_DEPS", "0"),
                     CALLBUS_KAFKA_FRESH="1")
        if r.returncode != 0:
            say("the stack did not start:\n" + r.stderr[-2000:])
            sys.exit(2)
        return True

    def stop(self):
        say("stopping the bench stack")
        self.run("stop")
