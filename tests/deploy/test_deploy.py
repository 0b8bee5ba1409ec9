"""Deployment files stay consistent with the code (label `deploy`).

- every YAML file parses, and the Kubernetes objects have what an operator
  relies on (probes on /readyz and /healthz, a termination grace longer
  than the services' own shutdown grace);
- every CALLBUS_* variable that docker-compose or the manifests set is a
  setting some service really reads (docs/configuration.md is checked
  against the binaries by the docs_config test);
- docker-compose runs the binaries the Dockerfile installs.
"""
import pathlib
import re

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
CONFIG_DOC = (ROOT / "docs" / "configuration.md").read_text()
DOCUMENTED = set(re.findall(r"`(CALLBUS_[A-Z0-9_]+)`", CONFIG_DOC))


def k8s_docs():
    for path in sorted((ROOT / "deploy" / "k8s").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                yield path.name, doc


def env_names(obj):
    """Every CALLBUS_* name used as an env key anywhere in a YAML tree."""
    found = set()
    if isinstance(obj, dict):
        for key, value in obj.items():
            if isinstance(key, str) and key.startswith("CALLBUS_"):
                found.add(key)
            if key == "name" and isinstance(value, str) and value.startswith("CALLBUS_"):
                found.add(value)
            found |= env_names(value)
    elif isinstance(obj, list):
        for item in obj:
            found |= env_names(item)
    return found


def test_every_k8s_object_parses_and_is_namespaced():
    kinds = [(name, doc["kind"]) for name, doc in k8s_docs()]
    assert ("ingest.yaml", "Deployment") in kinds
    for name, doc in k8s_docs():
        if doc["kind"] not in ("Namespace", "Kustomization"):
            assert doc["metadata"].get("namespace") == "callbus", name


def test_workloads_probe_health_and_drain_longer_than_grace():
    grace_ms = None
    for _, doc in k8s_docs():
        if doc["kind"] == "ConfigMap":
            grace_ms = int(doc["data"]["CALLBUS_SHUTDOWN_GRACE_MS"])
    assert grace_ms
    workloads = [d for _, d in k8s_docs() if d["kind"] in ("Deployment", "StatefulSet")]
    for doc in workloads:
        spec = doc["spec"]["template"]["spec"]
        if doc["metadata"]["name"] == "callbus-redis":
            continue
        assert spec["terminationGracePeriodSeconds"] * 1000 > grace_ms
        container = spec["containers"][0]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_settings_used_in_deployments_exist():
    used = set()
    for _, doc in k8s_docs():
        used |= env_names(doc)
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    used |= env_names(compose)
    unknown = sorted(used - DOCUMENTED)
    assert not unknown, f"set in deploy files but read by no service: {unknown}"


def test_compose_runs_binaries_the_image_installs():
    dockerfile = (ROOT / "deploy" / "docker" / "Dockerfile").read_text()
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for name, svc in compose["services"].items():
        if "build" in svc:
            binary = svc["command"][0]
            assert binary.startswith("callbus-"), name
            assert re.search(rf"/{binary}\*?\s", dockerfile), f"{binary} not installed by the image"


ADMIN_DEFAULT = re.search(r"\| `CALLBUS_ADMIN_PORT` \| (\d+) \|", CONFIG_DOC).group(1)


def test_probes_and_scrapes_use_the_admin_port():
    """Issue 8 item 2: /healthz, /readyz and /metrics answer on the admin
    listener only (the public port says 404), so every probe, the scrape
    annotation and the image's HEALTHCHECK point there, and no Service
    publishes the admin port."""
    workloads = [d for _, d in k8s_docs() if d["kind"] in ("Deployment", "StatefulSet")]
    checked = 0
    for doc in workloads:
        if doc["metadata"]["name"] == "callbus-redis":
            continue
        pod = doc["spec"]["template"]
        container = pod["spec"]["containers"][0]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert str(ports.get("admin")) == ADMIN_DEFAULT, doc["metadata"]["name"]
        for probe in ("readinessProbe", "livenessProbe"):
            assert container[probe]["httpGet"]["port"] == "admin"
        assert pod["metadata"]["annotations"]["prometheus.io/port"] == ADMIN_DEFAULT
        checked += 1
    assert checked >= 2
    for name, doc in k8s_docs():
        if doc["kind"] == "Service":
            for port in doc["spec"]["ports"]:
                assert port.get("targetPort") != "admin", name
    dockerfile = (ROOT / "deploy" / "docker" / "Dockerfile").read_text()
    assert f"127.0.0.1:{ADMIN_DEFAULT}/healthz" in dockerfile
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for name, svc in compose["services"].items():
        if "build" in svc:
            test = " ".join(svc["healthcheck"]["test"])
            assert f"127.0.0.1:{ADMIN_DEFAULT}/readyz" in test, name
