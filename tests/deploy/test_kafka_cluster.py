"""A three-broker local Kafka cluster (issue 21 item 1): deploy/local with
CALLBUS_KAFKA_NODES=3 starts three KRaft nodes, the services' topics get
three replicas (all in sync), and ingest keeps answering 202 while one
broker is stopped (controlled shutdown) and while another is killed (-9):
min.insync.replicas=2 lets acks=all succeed with one broker down. Every
accepted webhook is on call-events afterwards (nothing accepted is lost).

Own stack on free ports below the ephemeral range; about a minute."""
from __future__ import annotations

import copy
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests"))
import free_ports  # noqa: E402
STACK = os.path.join(ROOT, "deploy", "local", "stack.sh")
KAFKA = os.path.join(ROOT, "deploy", "local", "kafka.sh")
FIXTURE = os.path.join(ROOT, "tests", "ingest", "unit", "fixtures", "callgear_handset.json")
TOKEN = "cluster-test-token"
NODES = 3


def cluster_ports():
    """2*NODES neighbours (brokers even, controllers odd) and two more
    (Redis, ingest's pair), free and below the ephemeral range."""
    base = free_ports.free_block(2 * NODES + 4)
    return list(range(base, base + 2 * NODES + 4))


def run(cmd, env, timeout=180):
    t0 = time.monotonic()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"{cmd} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}"
    print(f"{' '.join(os.path.basename(c) for c in cmd)}: {time.monotonic() - t0:.1f} s")
    return r.stdout


def wait_for(what, cond, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return None


def post_webhook(port, session_id):
    doc = copy.deepcopy(FIXTURE_DOC)
    doc["call_info"]["call_session_id"] = session_id
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/callgear/{TOKEN}/handset",
        data=json.dumps(doc).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


with open(FIXTURE) as f:
    FIXTURE_DOC = json.load(f)


@pytest.fixture(scope="module")
def cluster():
    ports = cluster_ports()
    state = tempfile.mkdtemp(prefix="callbus-cluster-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLBUS_")}
    if "CALLBUS_CACHE_DIR" in os.environ:
        env["CALLBUS_CACHE_DIR"] = os.environ["CALLBUS_CACHE_DIR"]
    env.update({"CALLBUS_STACK_DIR": state, "CALLBUS_KAFKA_NODES": str(NODES),
                "CALLBUS_KAFKA_PORT": str(ports[0]),
                "CALLBUS_KAFKA_CONTROLLER_PORT": str(ports[1]),
                "CALLBUS_REDIS_PORT": str(ports[2 * NODES]),
                "CALLBUS_SKIP_DEPS": "1", "CALLBUS_KAFKA_FRESH": "1"})
    try:
        run([STACK, "start"], env)
        stack_env = dict(re.findall(r"export (\w+)=(\S+)", run([STACK, "env"], env)))
        yield {"env": env, "ports": ports, "state": state, **stack_env}
    finally:
        subprocess.run([STACK, "stop"], env=env, capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def ingest(cluster):
    binary = os.environ.get("CALLBUS_DEPLOY_BIN_INGEST")
    if not binary or not os.access(binary, os.X_OK):
        pytest.fail("CALLBUS_DEPLOY_BIN_INGEST not set (run through ctest)", pytrace=False)
    http, admin = cluster["ports"][2 * NODES + 1], cluster["ports"][2 * NODES + 2]
    env = dict(cluster["env"])
    env.update({"CALLBUS_KAFKA_BROKERS": cluster["CALLBUS_KAFKA_BROKERS"],
                "CALLBUS_REDIS_URL": cluster["CALLBUS_REDIS_URL"],
                "CALLBUS_TOPIC_PREFIX": "cluster.",
                "CALLBUS_HTTP_PORT": str(http), "CALLBUS_ADMIN_PORT": str(admin),
                "CALLBUS_ADMIN_BIND": "127.0.0.1",
                "CALLBUS_INGEST_CALLGEAR_TOKEN": TOKEN})
    log = open(os.path.join(cluster["state"], "ingest.log"), "w")
    proc = subprocess.Popen([binary], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for("ingest ready", lambda: get(f"http://127.0.0.1:{admin}/readyz") == 200, 60)
        yield {"port": http, "brokers": cluster["CALLBUS_KAFKA_BROKERS"]}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def topic_metadata(brokers, topic):
    """kcat -L of one topic: [(partition, replicas, isrs)]."""
    out = subprocess.run(["kcat", "-b", brokers, "-L", "-t", topic, "-m", "10"],
                         capture_output=True, text=True, timeout=30).stdout
    return [(int(p), r.split(","), i.split(","))
            for p, r, i in re.findall(r"partition (\d+), leader \d+, replicas: (\S+), isrs: (\S+)",
                                      out)]


def events_on(brokers, topic):
    out = subprocess.run(["kcat", "-b", brokers, "-C", "-t", topic, "-o", "beginning", "-e",
                          "-q", "-f", "%s\n"], capture_output=True, text=True, timeout=60).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_three_brokers_one_down_nothing_refused_or_lost(cluster, ingest):
    kafka_env = cluster["env"]
    brokers = ingest["brokers"]
    assert len(brokers.split(",")) == NODES, brokers
    meta = topic_metadata(brokers, "cluster.call-events")
    assert meta, "call-events has no partitions"
    for partition, replicas, isrs in meta:
        assert len(replicas) == NODES and sorted(isrs) == sorted(replicas), \
            (partition, replicas, isrs)

    sessions = iter(range(random.SystemRandom().randrange(10 ** 9, 2 * 10 ** 9), 3 * 10 ** 9))
    accepted, refused = [], []

    def post(n):
        for _ in range(n):
            s = next(sessions)
            t0 = time.monotonic()
            status = post_webhook(ingest["port"], s)
            print(f"post {s}: {status} in {time.monotonic() - t0:.2f} s")
            (accepted if status == 202 else refused).append(s)

    post(5)
    run([KAFKA, "stop-node", "2"], kafka_env)  # a rolling restart's first step
    post(10)
    run([KAFKA, "start-node", "2"], kafka_env)
    # start-node returns with node 2 back in sync: killing another node any
    # sooner would leave partitions one in-sync replica, below min.insync.
    for partition, replicas, isrs in topic_metadata(brokers, "cluster.call-events"):
        assert sorted(isrs) == sorted(replicas), (partition, replicas, isrs)
    run([KAFKA, "kill-node", "3"], kafka_env)  # a crash
    post(10)
    run([KAFKA, "start-node", "3"], kafka_env)
    post(5)
    # A post right after the crash waits for the failover (about 8 s: the
    # controller fences the dead broker after broker.session.timeout.ms),
    # within CALLBUS_INGEST_KAFKA_TIMEOUT_MS's default.
    assert not refused, f"{len(refused)} webhooks refused with one broker of three down"

    wanted = {str(s) for s in accepted}
    wait_for("every accepted webhook on call-events",
             lambda: wanted <= {e.get("call_id") for e in events_on(brokers,
                                                                    "cluster.call-events")},
             60)
    for partition, replicas, isrs in topic_metadata(brokers, "cluster.call-events"):
        assert len(replicas) == NODES, (partition, replicas)



@pytest.mark.parametrize("service", ["missed", "ticket"])
def test_a_consumer_finds_topics_created_after_it_subscribed(cluster, ingest, service):
    """A replica that subscribed before its topics existed (on a fresh
    cluster several replicas start at once: one creates the topics, another
    subscribes a moment before a broker has learnt of them, "Subscribed
    topic not available") must be assigned soon after they appear.
    librdkafka looks for a missing subscribed topic only every
    topic.metadata.refresh.interval.ms, 5 minutes by default: the soak saw
    ticket-service idle for minutes after such a start (issue 21). Here the
    service cannot create its topics (replication 4 > 3 brokers: "topics not
    ensured") and subscribes anyway; an ingest on the same prefix then
    creates them; the service must be assigned within 20 s. Before the fix
    the grouper was (1.8 s), ticket-service was not."""
    binary = os.environ.get(f"CALLBUS_DEPLOY_BIN_{service.upper()}")
    if not binary or not os.access(binary, os.X_OK):
        pytest.fail(f"CALLBUS_DEPLOY_BIN_{service.upper()} not set (run through ctest)",
                    pytrace=False)
    prefix = f"late{random.SystemRandom().randrange(10 ** 9)}."
    env = dict(cluster["env"])
    env.update({"CALLBUS_KAFKA_BROKERS": cluster["CALLBUS_KAFKA_BROKERS"],
                "CALLBUS_REDIS_URL": cluster["CALLBUS_REDIS_URL"],
                "CALLBUS_TOPIC_PREFIX": prefix, "CALLBUS_MISSED_GROUP": prefix + "missed",
                "CALLBUS_TICKET_GROUP": prefix + "ticket",
                # ticket-service's CRM: never called here (no event comes)
                "CALLBUS_ZENDESK_URL": "http://127.0.0.1:9", "CALLBUS_ZENDESK_EMAIL": "x@example.com",
                "CALLBUS_ZENDESK_TOKEN": "x",
                "CALLBUS_TOPIC_REPLICATION": str(NODES + 1),
                "CALLBUS_HTTP_PORT": "0", "CALLBUS_ADMIN_PORT": str(cluster["ports"][2 * NODES + 3]),
                "CALLBUS_ADMIN_BIND": "127.0.0.1"})
    path = os.path.join(cluster["state"], f"{service}-late.log")
    with open(path, "w") as log:
        proc = subprocess.Popen([binary], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(f"{service} to subscribe without its topics",
                 lambda: "not available" in open(path).read(), 30)
        # Another replica (an ingest on the same prefix) creates the topics.
        creator = dict(env, CALLBUS_TOPIC_REPLICATION="0", CALLBUS_ADMIN_PORT="0")
        with open(os.path.join(cluster["state"], "ingest-creator.log"), "w") as log:
            other = subprocess.Popen([os.environ["CALLBUS_DEPLOY_BIN_INGEST"]], env=creator,
                                     stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for("the topics to be created by another replica",
                     lambda: topic_metadata(cluster["CALLBUS_KAFKA_BROKERS"],
                                            prefix + "call-events"), 30)
        finally:
            other.terminate()
            other.wait(timeout=30)
        t0 = time.monotonic()
        wait_for(f"{service} to be assigned the topics created after it subscribed (log: {path})",
                 lambda: re.search(r"assigned [1-9]\d* partition", open(path).read()), 20)
        print(f"assigned {time.monotonic() - t0:.1f} s after its topics were created")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
