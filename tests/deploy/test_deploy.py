"""The deployment files satisfy the specifications they are written to, and
agree with the code (label `deploy`, offline, issue 14 item 5):

- docker-compose.yml against the Compose Specification's JSON schema
  (tests/deploy/schemas/compose-spec.json);
- every object `kustomize build` renders from the base and the example
  overlay against the Kubernetes JSON schemas (kubernetes-validate's, strict)
  and the KEDA and Strimzi objects against their CRDs' schemas (kubeconform,
  strict, tests/deploy/schemas made by crd2jsonschema.py from
  tests/deploy/crds/);
- every setting set in compose or the manifests is one the service reads
  (its own `--config-markdown` table) and is documented; every required
  setting of every service is set;
- the image's runtime packages are exactly those of the libraries the built
  binaries link (ldd);
- the operational promises: probes and scrapes on the admin port, hardened
  pods, grace periods, static membership, autoscaling bounded by
  partitions, a KafkaTopic for every topic, alerts on metrics that exist.

kustomize and kubeconform come from deploy/local/deps.sh; a missing tool or
binary fails these tests, it never skips them.
"""
import copy
import functools
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import jsonschema
import kubernetes_validate
import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
HERE = ROOT / "tests" / "deploy"
sys.path.insert(0, str(HERE))
import crd2jsonschema  # noqa: E402

K8S_VERSION = "1.32"  # the oldest Kubernetes the manifests are for (preStop sleep: 1.30)
CRD_GROUPS = ("keda.sh", "kafka.strimzi.io")
CRD_SCHEMAS = HERE / "schemas"
OVERLAYS = {"base": ROOT / "deploy" / "k8s" / "base",
            "example": ROOT / "deploy" / "k8s" / "overlays" / "example"}
SERVICES = {"ingest": "callbus-ingest", "ticket": "callbus-ticket", "pop": "callbus-pop",
            "missed": "callbus-missed", "stats": "callbus-stats"}
# Batch jobs of the same image: no listener, no probes (issue 27).
JOBS = {"reconcile": "callbus-reconcile"}
CONSUMERS = ("ticket", "pop", "missed", "stats")
CONFIG_DOC = (ROOT / "docs" / "configuration.md").read_text()
DOCUMENTED = set(re.findall(r"`(CALLBUS_[A-Z0-9_]+)`", CONFIG_DOC))
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
DOCKERFILE = (ROOT / "deploy" / "docker" / "Dockerfile").read_text()


# ---- tools and binaries ------------------------------------------------------------

def tool(name):
    """deps.sh builds kustomize and kubeconform into $CALLBUS_CACHE_DIR/tools/bin
    (deploy/local/lib.sh's default cache dir)."""
    cache = os.environ.get("CALLBUS_CACHE_DIR") or os.path.expanduser("~/.cache/callbus")
    path = pathlib.Path(cache) / "tools" / "bin" / name
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} missing: run deploy/local/deps.sh", pytrace=False)
    return str(path)


def binary(service):
    """The service's binary of this build (tests/deploy/CMakeLists.txt)."""
    path = os.environ.get(f"CALLBUS_DEPLOY_BIN_{service.upper()}")
    if not path or not os.access(path, os.X_OK):
        pytest.fail(f"CALLBUS_DEPLOY_BIN_{service.upper()} not set or not executable "
                    "(run through ctest)", pytrace=False)
    return path


@functools.lru_cache(maxsize=None)
def settings(service):
    """{name: default} of the service's own table; default None = required."""
    out = subprocess.run([binary(service), "--config-markdown"], capture_output=True,
                         text=True, check=True).stdout
    table = {}
    for name, default in re.findall(r"^\| `(CALLBUS_[A-Z0-9_]+)` \| (.*?) \|", out, re.M):
        table[name] = None if default == "**required**" else default
    assert len(table) > 10, out
    return table


def required(service):
    return {n for n, d in settings(service).items() if d is None}


# ---- rendering ------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def rendered(which):
    r = subprocess.run([tool("kustomize"), "build", str(OVERLAYS[which])], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return tuple(d for d in yaml.safe_load_all(r.stdout) if d)


def of_kind(docs, kind, name=None):
    return [d for d in docs if d["kind"] == kind and name in (None, d["metadata"]["name"])]


def one(docs, kind, name):
    found = of_kind(docs, kind, name)
    assert len(found) == 1, (kind, name, len(found))
    return found[0]


def is_crd_object(doc):
    return doc["apiVersion"].split("/")[0] in CRD_GROUPS


def kubeconform(docs):
    """Runs kubeconform (strict, the vendored CRD schemas only) over docs;
    returns {(kind, name): (status, msg)}."""
    stream = yaml.safe_dump_all(list(docs))
    r = subprocess.run(
        [tool("kubeconform"), "-strict", "-summary", "-verbose", "-output", "json",
         "-schema-location",
         str(CRD_SCHEMAS) + "/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json", "-"],
        input=stream, capture_output=True, text=True, timeout=60)
    report = json.loads(r.stdout)
    return {(res["kind"], res["name"]): (res["status"], res.get("msg", ""))
            for res in report["resources"]}


def k8s_errors(doc):
    """None if the object satisfies the Kubernetes schema (strict: unknown
    fields are errors), else the validator's message."""
    try:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as e:
        return f"{'.'.join(map(str, e.path))}: {e.message}"
    return None


# ---- the schemas -------------------------------------------------------------------------

def test_compose_file_satisfies_the_compose_specification():
    schema = json.loads((CRD_SCHEMAS / "compose-spec.json").read_text())
    errors = [f"{list(e.path)}: {e.message}"
              for e in jsonschema.Draft7Validator(schema).iter_errors(COMPOSE)]
    assert not errors, errors
    assert set(SERVICES) | set(JOBS) | {"kafka", "redis", "zendesk-emulator", "oidc-emulator"} == \
        set(COMPOSE["services"])


@pytest.mark.parametrize("which", sorted(OVERLAYS))
def test_every_rendered_object_satisfies_its_schema(which):
    docs = rendered(which)
    core = [d for d in docs if not is_crd_object(d)]
    crs = [d for d in docs if is_crd_object(d)]
    problems = {(d["kind"], d["metadata"]["name"]): k8s_errors(d) for d in core}
    assert not {k: v for k, v in problems.items() if v}, problems
    results = kubeconform(crs)
    assert len(results) == len(crs) >= 13, results   # 4 ScaledObjects + 9 KafkaTopics
    invalid = {k: v for k, v in results.items() if v[0] != "statusValid"}
    assert not invalid, invalid


def test_validators_reject_a_planted_violation():
    """The validation above is not vacuous: one wrong field in each family
    fails (a negative control, run every time)."""
    docs = rendered("example")
    deployment = copy.deepcopy(one(docs, "Deployment", "ingest"))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"][
        "prot"] = "admin"   # misspelt field
    assert k8s_errors(deployment)
    policy = copy.deepcopy(one(docs, "NetworkPolicy", "public-http"))
    policy["spec"]["ingress"][0]["ports"][0]["protocol"] = 6   # a number, not "TCP"
    assert k8s_errors(policy)
    scaled = copy.deepcopy(one(docs, "ScaledObject", "ticket"))
    scaled["spec"]["maxReplicaCount"] = "12"   # a string
    topic = copy.deepcopy(one(docs, "KafkaTopic", "call-events"))
    topic["spec"]["replica"] = 3   # misspelt
    results = kubeconform([scaled, topic])
    assert {s for s, _ in results.values()} == {"statusInvalid"}, results
    compose = copy.deepcopy(COMPOSE)
    compose["services"]["ingest"]["healthcheck"]["intervall"] = "5s"
    schema = json.loads((CRD_SCHEMAS / "compose-spec.json").read_text())
    assert list(jsonschema.Draft7Validator(schema).iter_errors(compose))


def test_vendored_crd_schemas_are_the_conversion_of_the_vendored_crds(tmp_path):
    crds = sorted((HERE / "crds").glob("*.yaml"))
    written = crd2jsonschema.convert(tmp_path, crds)
    assert len(written) == 2, written
    for path in written:
        committed = CRD_SCHEMAS / path.relative_to(tmp_path)
        assert committed.read_text() == path.read_text(), \
            f"{committed}: run tests/deploy/crd2jsonschema.py tests/deploy/schemas tests/deploy/crds/*.yaml"


# ---- the image ------------------------------------------------------------------------------

def runtime_stage():
    return DOCKERFILE.split("AS runtime", 1)[1]


@functools.lru_cache(maxsize=None)
def dpkg_owner(lib_path):
    """The Debian package that ships a shared library (merged /usr: try the
    path as ldd gives it, then the resolved one)."""
    for path in (lib_path, os.path.realpath(lib_path)):
        r = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True)
        if r.returncode == 0:
            return r.stdout.split(":", 1)[0].strip()
    raise AssertionError(f"no Debian package ships {lib_path}")


# In debian:*-slim already (apt itself needs them).
BASE_IMAGE_PACKAGES = {"libc6", "libgcc-s1", "libstdc++6"}
# Not libraries, each with its reason in the Dockerfile.
RUNTIME_TOOLS = {"tzdata", "ca-certificates", "curl"}


def test_runtime_packages_are_exactly_what_the_binaries_link():
    apt = re.search(r"apt-get install -y --no-install-recommends(.*?)&&", runtime_stage(), re.S)
    listed = set(apt.group(1).replace("\\", " ").split())
    needed = set()
    for service in SERVICES:
        ldd = subprocess.run(["ldd", binary(service)], capture_output=True, text=True,
                             check=True).stdout
        assert "not found" not in ldd, ldd
        paths = dict(re.findall(r"^\s*(\S+) => (/\S+)", ldd, re.M))
        direct = subprocess.run(["readelf", "-d", binary(service)], capture_output=True,
                                text=True, check=True).stdout
        for soname in re.findall(r"\(NEEDED\).*\[(.+)\]", direct):
            needed.add(dpkg_owner(paths[soname]))
    assert "librdkafka1" in needed and "libphonenumber8" in needed, needed
    assert listed - RUNTIME_TOOLS == needed - BASE_IMAGE_PACKAGES, (
        f"Dockerfile runtime list {sorted(listed - RUNTIME_TOOLS)} vs linked "
        f"{sorted(needed - BASE_IMAGE_PACKAGES)}")
    assert not any(p.endswith("-dev") for p in listed)


def test_image_is_pinned_non_root_and_signals_reach_the_service():
    bases = re.findall(r"^ARG DEBIAN_IMAGE=(\S+)", DOCKERFILE, re.M)
    assert bases and re.fullmatch(r"debian:12\.\d+-slim(@sha256:[0-9a-f]{64})?", bases[0])
    assert re.findall(r"^FROM (\S+)", DOCKERFILE, re.M) == ["${DEBIAN_IMAGE}"] * 2
    stage = runtime_stage()
    user = re.search(r"^USER (\d+):(\d+)$", stage, re.M)
    assert user and int(user.group(1)) != 0
    # exec form: the service is PID 1, no shell swallows SIGTERM
    for instr in ("CMD", "HEALTHCHECK.*CMD"):
        line = re.search(rf"^{instr} (.*)$", stage, re.M | re.S).group(1)
        assert line.lstrip().startswith("["), instr
    assert "STOPSIGNAL SIGTERM" in stage and "ENTRYPOINT" not in stage
    # health on the admin listener (the public port answers /healthz 404)
    admin = settings("ingest")["CALLBUS_ADMIN_PORT"]
    assert f'"http://127.0.0.1:{admin}/healthz"]' in stage
    for service in SERVICES:
        assert f"http://127.0.0.1:{admin}/readyz" in COMPOSE["services"][service][
            "healthcheck"]["test"], service
    for service, name in SERVICES.items():
        assert f"/{name} " in stage or f"/{name}\n" in stage, name
        assert COMPOSE["services"][service]["command"] == [name]


# ---- compose -------------------------------------------------------------------------------------

def env_file(path):
    """KEY=VALUE lines of an env file (comments and blanks skipped)."""
    out = {}
    for line in (ROOT / path).read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key] = value
    return out


SECRET_FILES = ("deploy/compose/demo.env", "deploy/compose/secrets.example.env")


def test_compose_sets_what_every_service_needs_and_nothing_unread():
    shared = env_file("deploy/compose/callbus.env")
    read_by_any = set().union(*(settings(s) for s in list(SERVICES) + list(JOBS)))
    for secrets in SECRET_FILES:
        env = {**shared, **env_file(secrets)}
        for service in SERVICES:
            own = COMPOSE["services"][service].get("environment", {})
            have = set(env) | set(own)
            assert required(service) <= have, (service, secrets, required(service) - have)
            assert set(own) <= set(settings(service)), (service, own)
        unread = {k for k in env if k.startswith("CALLBUS_")} - read_by_any
        assert not unread, f"{secrets}: set but read by no service: {unread}"
        assert {k for k in env if k.startswith("CALLBUS_")} <= DOCUMENTED
        assert "REDIS_PASSWORD" in env and "CALLBUS_REDIS_URL" in env
    demo = {**shared, **env_file("deploy/compose/demo.env")}
    for service in SERVICES:
        assert all(demo.get(n) for n in required(service)), service


def test_compose_is_hardened_and_secrets_have_no_silent_default():
    text = (ROOT / "docker-compose.yml").read_text()
    # The only ${VAR:-default} is the publish address; the secrets file is
    # ${VAR:?...} (compose refuses to start without it).
    assert set(re.findall(r"\$\{(\w+):-", text)) == {"CALLBUS_PUBLISH_ADDR"}
    assert set(re.findall(r"\$\{(\w+):\?", text)) == {"CALLBUS_SECRETS_FILE"}
    assert "demo.env" not in re.sub(r"#.*", "", text).replace(
        "(demo: deploy/compose/demo.env", "")
    for name, svc in COMPOSE["services"].items():
        image = svc["image"]
        if "build" not in svc:
            assert re.search(r":\d+(\.\d+)+", image) and "latest" not in image, image
        assert "healthcheck" in svc, name
        for port in svc.get("ports", []):
            assert port.startswith(("127.0.0.1:", "${CALLBUS_PUBLISH_ADDR:-127.0.0.1}:")), port
        for dep, cond in svc.get("depends_on", {}).items():
            assert cond["condition"] == "service_healthy", (name, dep)
        if name in JOBS:
            assert svc["command"] == [JOBS[name]] and svc["restart"] == "no", name
            assert svc["read_only"] and svc["cap_drop"] == ["ALL"], name
        if name in SERVICES:
            assert svc["read_only"] and svc["cap_drop"] == ["ALL"], name
            # the admin port stays on loopback whatever CALLBUS_PUBLISH_ADDR says
            assert any(p == f"127.0.0.1:{9090 + i}:9090"
                       for i in range(len(SERVICES)) for p in svc["ports"]), name
    demo_only = ("zendesk-emulator", "oidc-emulator")
    assert all(COMPOSE["services"][n]["profiles"] == ["demo"] for n in demo_only)
    # a job runs when asked (`run`), never with `up`: its own profile
    assert all(COMPOSE["services"][n]["profiles"] == [n] for n in JOBS)
    assert all("profiles" not in s for n, s in COMPOSE["services"].items()
               if n not in demo_only + tuple(JOBS))
    assert COMPOSE["services"]["kafka"]["image"].startswith("apache/kafka:")
    assert COMPOSE["services"]["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == \
        "broker,controller"
    redis_cmd = " ".join(COMPOSE["services"]["redis"]["command"])
    assert "--appendonly yes" in redis_cmd and "--requirepass" in redis_cmd


# ---- Kubernetes ------------------------------------------------------------------------------

def workloads(docs):
    return [d for d in docs if d["kind"] in ("Deployment", "StatefulSet")
            and d["metadata"]["name"] in SERVICES]


def container_env(docs, workload):
    """Every env name one service's container gets: its env list, its
    ConfigMaps' keys, and the keys of its Secrets (secrets.example/)."""
    c = workload["spec"]["template"]["spec"]["containers"][0]
    names = {e["name"] for e in c.get("env", [])}
    for src in c.get("envFrom", []):
        if "configMapRef" in src:
            names |= set(one(docs, "ConfigMap", src["configMapRef"]["name"])["data"])
        else:
            path = f"deploy/k8s/secrets.example/{src['secretRef']['name']}.env"
            names |= set(env_file(path))
    return names


@pytest.mark.parametrize("which", sorted(OVERLAYS))
def test_manifests_set_what_every_service_needs_and_nothing_unread(which):
    docs = rendered(which)
    assert {w["metadata"]["name"] for w in workloads(docs)} == set(SERVICES)
    for w in workloads(docs):
        service = w["metadata"]["name"]
        env = {n for n in container_env(docs, w) if n.startswith("CALLBUS_")}
        assert env <= set(settings(service)), (service, env - set(settings(service)))
        assert env <= DOCUMENTED
        assert required(service) <= env, (service, required(service) - env)
        assert w["spec"]["template"]["spec"]["containers"][0]["command"] == [SERVICES[service]]


def test_pods_are_hardened_and_probed_on_the_admin_port():
    docs = rendered("example")
    admin = settings("ingest")["CALLBUS_ADMIN_PORT"]
    pods = [d for d in docs if d["kind"] in ("Deployment", "StatefulSet")]
    assert len(pods) == 6   # the five services and Redis
    for w in pods:
        name = w["metadata"]["name"]
        pod = w["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert pod["automountServiceAccountToken"] is False, name
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["capabilities"]["drop"] == ["ALL"], name
            assert c["resources"]["requests"]["memory"] and c["resources"]["limits"]["memory"]
            assert c["image"].split(":")[-1] not in ("latest", c["image"]), c["image"]
            assert c["readinessProbe"] and c["livenessProbe"], name
    for w in workloads(docs):
        name = w["metadata"]["name"]
        pod = w["spec"]["template"]
        c = pod["spec"]["containers"][0]
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        assert str(ports["admin"]) == admin, name
        assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "admin"}, name
        assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "admin"}, name
        assert pod["metadata"]["annotations"]["prometheus.io/port"] == admin, name
        assert pod["metadata"]["labels"]["app.kubernetes.io/part-of"] == "callbus"
    for svc in of_kind(docs, "Service"):
        for port in svc["spec"]["ports"]:
            assert port["targetPort"] != "admin", svc["metadata"]["name"]


def test_reconciler_runs_hourly_one_at_a_time_hardened_with_what_it_reads():
    """Issue 27: the CronJob sets only settings callbus-reconcile reads (its
    ConfigMaps and Secret), documented ones, runs one job at a time, and its
    pod is hardened like the services'."""
    docs = rendered("example")
    cron = one(docs, "CronJob", "callbus-reconcile")
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]
    assert pod["metadata"]["labels"]["app.kubernetes.io/part-of"] == "callbus"
    spec = pod["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["automountServiceAccountToken"] is False
    c = spec["containers"][0]
    assert c["command"] == [JOBS["reconcile"]]
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
    env = {n for n in container_env(docs, cron["spec"]["jobTemplate"]) if n.startswith("CALLBUS_")}
    assert env <= set(settings("reconcile")), env - set(settings("reconcile"))
    assert env <= DOCUMENTED
    assert {"CALLBUS_RECONCILE_TWILIO_ACCOUNT_SID", "CALLBUS_RECONCILE_CALLGEAR_ACCESS_TOKEN",
            "CALLBUS_RECONCILE_WEBEX_TOKEN"} <= env
    # a run must end before the next hour's starts
    assert cron["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"] < 3600


def mebibytes(quantity):
    m = re.fullmatch(r"(\d+)(Mi|Gi)", quantity)
    return int(m.group(1)) * (1024 if m.group(2) == "Gi" else 1)


def test_memory_requests_follow_the_benchmarks():
    """Requests from the measured RSS: ingest, pop, grouper ≤ 64 MB steady;
    ticket-service ≤ 128 MB with a backlog (tests/bench/backlog: 71 MB peak);
    limits above the requests."""
    docs = rendered("example")
    budget = {"ingest": 64, "pop": 64, "missed": 64, "stats": 64, "ticket": 128}
    for w in workloads(docs):
        name = w["metadata"]["name"]
        res = w["spec"]["template"]["spec"]["containers"][0]["resources"]
        assert mebibytes(res["requests"]["memory"]) == budget[name], name
        assert mebibytes(res["limits"]["memory"]) > budget[name], name


def config_value(docs, workload, key):
    c = workload["spec"]["template"]["spec"]["containers"][0]
    for src in c.get("envFrom", []):
        if "configMapRef" in src:
            data = one(docs, "ConfigMap", src["configMapRef"]["name"])["data"]
            if key in data:
                return data[key]
    name = workload["metadata"]["name"]
    default = settings(name)[key]
    assert default is not None
    return default


def test_termination_grace_covers_the_drain_and_the_batch_window():
    docs = rendered("example")
    for w in workloads(docs):
        name = w["metadata"]["name"]
        pod = w["spec"]["template"]["spec"]
        grace_ms = pod["terminationGracePeriodSeconds"] * 1000
        pre_stop = pod["containers"][0].get("lifecycle", {}).get("preStop", {})
        pause_ms = pre_stop.get("sleep", {}).get("seconds", 0) * 1000
        drain_ms = int(config_value(docs, w, "CALLBUS_SHUTDOWN_GRACE_MS"))
        assert grace_ms > pause_ms + drain_ms, name
        if name == "ticket":
            # the batch is flushed at SIGTERM: its window plus one CRM round
            window_ms = int(config_value(docs, w, "CALLBUS_TICKET_BATCH_WINDOW_S")) * 1000
            crm_ms = int(config_value(docs, w, "CALLBUS_CRM_TIMEOUT_MS"))
            assert grace_ms > max(drain_ms, window_ms + crm_ms), name


def test_consumers_have_static_membership_from_the_pod_name():
    docs = rendered("example")
    for name in CONSUMERS:
        w = one(docs, "StatefulSet", name)   # stable pod names
        env = {e["name"]: e for e in w["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert env["CALLBUS_KAFKA_INSTANCE_ID"]["valueFrom"] == \
            {"fieldRef": {"fieldPath": "metadata.name"}}, name
        assert "CALLBUS_KAFKA_INSTANCE_ID" in settings(name), f"{name} ignores it"
    assert one(docs, "Deployment", "ingest")   # not a consumer: any pod name


def test_every_service_has_a_disruption_budget_and_policies_fence_the_ports():
    docs = rendered("example")
    for name in SERVICES:
        pdb = one(docs, "PodDisruptionBudget", name)
        assert pdb["spec"]["selector"] == {"matchLabels": {"app": name}}
    policies = {p["metadata"]["name"]: p["spec"] for p in of_kind(docs, "NetworkPolicy")}
    assert policies["default-deny-ingress"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    # from anywhere: the public port of ingest and pop-service, nothing else
    open_to_all = [s for s in policies.values() for rule in s.get("ingress", [])
                   if "from" not in rule]
    assert len(open_to_all) == 1
    assert open_to_all[0]["podSelector"]["matchExpressions"][0]["values"] == ["ingest", "pop"]
    assert open_to_all[0]["ingress"][0]["ports"] == [{"port": "http", "protocol": "TCP"}]
    for spec in policies.values():
        for rule in spec.get("ingress", []):
            ports = {p["port"] for p in rule["ports"]}
            if "admin" in ports:
                assert rule["from"] == [{"namespaceSelector": {"matchLabels": {
                    "kubernetes.io/metadata.name": "monitoring"}}}]
            if "redis" in ports:
                assert spec["podSelector"] == {"matchLabels": {"app": "callbus-redis"}}
                assert rule["from"] == [{"podSelector": {"matchLabels": {
                    "app.kubernetes.io/part-of": "callbus"}}}]


# ---- topics and autoscaling ---------------------------------------------------------------------

def code_topics():
    header = (ROOT / "common" / "cmn_topics.h").read_text()
    return set(re.findall(r'#define CMN_TOPIC_\w+\s*(?:\\\s*)?"([^"]+)"', header))


def test_a_kafka_topic_for_every_topic_replicated_three_times():
    docs = rendered("example")
    topics = {t["spec"]["topicName"]: t for t in of_kind(docs, "KafkaTopic")}
    assert set(topics) == code_topics() and len(topics) == 9
    for name, t in topics.items():
        assert t["metadata"]["labels"]["strimzi.io/cluster"] == "callbus"
        assert t["metadata"]["namespace"] == "kafka"
        assert t["spec"]["replicas"] == 3, name
        assert t["spec"]["config"]["min.insync.replicas"] == 2, name


def test_ticket_service_topics_have_one_partition_count():
    """Issue 19 item 3: ticket-service reads call-events, agent-actions and
    missed-call-ops co-partitioned (`range`): partition p of the three is on
    one replica only when they have the same count; it refuses to start
    otherwise (docs/architecture.md, "Replicas")."""
    docs = rendered("example")
    partitions = {t["spec"]["topicName"]: t["spec"]["partitions"]
                  for t in of_kind(docs, "KafkaTopic")}
    counts = {t: partitions[t]
              for t in ("call-events", "agent-actions", "missed-call-ops", "crm-events")}
    assert len(set(counts.values())) == 1, counts


def test_ingest_scales_on_cpu_and_consumers_on_lag_within_the_partitions():
    docs = rendered("example")
    hpa = one(docs, "HorizontalPodAutoscaler", "ingest")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                             "name": "ingest"}
    partitions = {t["spec"]["topicName"]: t["spec"]["partitions"]
                  for t in of_kind(docs, "KafkaTopic")}
    common = one(docs, "ConfigMap", of_kind(docs, "Deployment", "ingest")[0]["spec"]["template"][
        "spec"]["containers"][0]["envFrom"][0]["configMapRef"]["name"])
    assert int(common["data"]["CALLBUS_TOPIC_PARTITIONS"]) == partitions["call-events"]
    group_setting = {"ticket": "CALLBUS_TICKET_GROUP", "pop": "CALLBUS_POP_GROUP",
                     "missed": "CALLBUS_MISSED_GROUP", "stats": "CALLBUS_STATS_GROUP"}
    assert {s["metadata"]["name"] for s in of_kind(docs, "ScaledObject")} == set(CONSUMERS)
    for name in CONSUMERS:
        so = one(docs, "ScaledObject", name)["spec"]
        assert so["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "StatefulSet",
                                        "name": name}
        topics = set()
        for trigger in so["triggers"]:
            meta = trigger["metadata"]
            assert trigger["type"] == "kafka"
            assert meta["consumerGroup"] == settings(name)[group_setting[name]]
            assert meta["allowIdleConsumers"] == "false"
            assert meta["bootstrapServers"] == common["data"]["CALLBUS_KAFKA_BROKERS"]
            topics.add(meta["topic"])
        assert topics and "call-events" in topics, name
        assert so["maxReplicaCount"] <= min(partitions[t] for t in topics), name
        assert 1 <= so["minReplicaCount"] <= so["maxReplicaCount"]


def documented_readers():
    """{topic: "read by" cell} of docs/topics.md's table."""
    out = {}
    for line in (ROOT / "docs" / "topics.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        m = re.fullmatch(r"`([a-z.-]+)`", cells[0]) if len(cells) == 5 else None
        if m:
            out[m.group(1)] = cells[4]
    return out


def test_each_consumer_scales_on_every_topic_it_reads():
    """KEDA scales a consumer on its lag: a topic it reads but no trigger
    names (crm-events once issue 25 added it) can pile up unseen while the
    replica count stays at its minimum."""
    readers = documented_readers()
    assert "crm-events" in readers
    reader_name = {"ticket": "ticket-service", "pop": "pop-service", "missed": "grouper",
                   "stats": "stats service"}
    docs = rendered("example")
    for name in CONSUMERS:
        read = {t for t, who in readers.items() if reader_name[name] in who}
        triggered = {tr["metadata"]["topic"] for tr in one(docs, "ScaledObject", name)["spec"]["triggers"]}
        assert read and read <= triggered, (name, read - triggered)


# ---- alerts ------------------------------------------------------------------------------------------

def code_metrics():
    families = set()
    for path in list((ROOT / "common").glob("*.c")) + list((ROOT / "services").glob("**/*.c")):
        text = path.read_text()
        for kind, name in re.findall(r'cmn_metrics_(counter|gauge_fn|gauge|histogram_bounds|histogram)\(\s*"(\w+)"',
                                     text):
            families.add(name)
            if kind.startswith("histogram"):
                families |= {name + "_bucket", name + "_sum", name + "_count"}
    return families


def test_alert_rules_use_metrics_the_services_export():
    rules = yaml.safe_load((ROOT / "deploy" / "prometheus" / "callbus-alerts.yaml").read_text())
    known = code_metrics() | {"up", "kafka_consumergroup_lag"}
    assert len(known) > 30
    count = 0
    for group in rules["groups"]:
        for rule in group["rules"]:
            count += 1
            assert rule["alert"] and rule["labels"]["severity"] in ("page", "ticket")
            assert rule["annotations"]["summary"]
            expr = re.sub(r'"[^"]*"|\{[^}]*\}|\[[^\]]*\]', "", rule["expr"])
            words = set(re.findall(r"\b[a-z][a-z0-9_]*\b", expr))
            metrics = {w for w in words if ("_" in w or w == "up") and w not in PROMQL_WORDS}
            assert metrics, rule["alert"]
            assert metrics <= known, (rule["alert"], metrics - known)
    assert count >= 8


PROMQL_WORDS = {"rate", "increase", "sum", "max", "min", "avg", "by", "without", "and", "or",
                "unless", "on", "ignoring", "histogram_quantile", "max_over_time",
                "min_over_time", "avg_over_time", "absent", "le", "job", "group_left",
                "count", "delta", "deriv", "changes", "resets", "topic", "consumergroup"}


def test_tools_are_the_ones_deps_sh_installs():
    deps = (ROOT / "deploy" / "local" / "deps.sh").read_text()
    assert "kustomize/kustomize/v5@v" in deps and "kubeconform@v" in deps
    assert "[kubernetes-validate]=kubernetes_validate" in deps
    assert shutil.which("dpkg") and shutil.which("readelf") and shutil.which("ldd")
