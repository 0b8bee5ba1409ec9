"""The Grafana dashboard names only series the services export (issue 25
item 3, "Done when"): every panel's PromQL expression in
deploy/grafana/callbus.json is parsed, its metric names extracted, and each
must be a family some service's /metrics shows.

The services are the real ones, on the test stack's Kafka and Redis: a
webhook goes through ingest -> ticket-service (the Zendesk emulator) ->
pop-service (an agent's open stream gets the pop), the grouper runs beside
them; a family registered only on first use (http_requests_total,
crm_requests_total, ...) thus exists when /metrics is read. Histogram
series (_bucket, _sum, _count) count as their family.

The stats service's series (stats_*): when services/stats exists (the
stats helper's branch, merged), each must be a name its source registers
(a "stats_..." string in services/stats/*.c); until then they are the stats
contract's names (STATS_CONTRACT below), reported as expected-from-contract
and checked against that list only. After the merge nothing is to be
changed here: the same test then checks them against the code. When the
stats binary is built (CALLBUS_STATS_BIN), its /metrics is not read: the
source is the check, as the alert rules' (test_deploy.py)."""
import json
import os
import pathlib
import re
import sys
import urllib.error
import urllib.request
import uuid

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "callbus.json"
sys.path.insert(0, str(ROOT / "tests" / "system" / "e2e"))
sys.path.insert(0, str(ROOT / "tests" / "pop" / "e2e"))

# The stats contract's Prometheus families (docs/pop.md "Statistics").
STATS_CONTRACT = {"stats_events_total", "stats_calls_total", "stats_tickets_total",
                  "stats_agent_calls_total", "stats_close_seconds", "stats_missed_grouped_total",
                  "stats_pops_total", "stats_crm_requests_total"}
# Prometheus' own series, not a service's.
PROMETHEUS = {"up"}
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
            "unless", "offset", "inf", "nan"}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def metric_names(expr):
    """The metric names a PromQL expression reads: identifiers that are not
    a function (followed by "("), a keyword, a label (inside {} or the
    grouping of by/without/on/ignoring) or a range/variable ([...])."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)                      # strings
    e = re.sub(r"\{[^}]*\}", "", e)                                   # matchers
    e = re.sub(r"\[[^\]]*\]", "", e)                                  # ranges, $__rate_interval
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    names = set()
    for m in re.finditer(r"(?<![\w$.])([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\()?", e):
        word, call = m.group(1), m.group(2)
        if not call and word.lower() not in KEYWORDS:
            names.add(word)
    return names


def family(name, histograms):
    for suffix in HISTOGRAM_SUFFIXES:
        if name.endswith(suffix) and name[: -len(suffix)] in histograms:
            return name[: -len(suffix)]
    return name


def panels(items):
    for p in items:
        yield p
        yield from panels(p.get("panels", []))


def queries():
    """(panel title, expr) of every panel's target and every query variable."""
    d = json.loads(DASHBOARD.read_text())
    for p in panels(d["panels"]):
        for t in p.get("targets", []):
            yield p["title"], t["expr"]
    for v in d.get("templating", {}).get("list", []):
        q = v.get("query")
        if v.get("type") == "query":
            yield "variable " + v["name"], q if isinstance(q, str) else q.get("query", "")


def stats_names():
    """The stats service's families: its source's when it is here, else the
    contract's (and say which)."""
    src = ROOT / "services" / "stats"
    if not src.is_dir():
        return STATS_CONTRACT, "expected-from-contract (services/stats not on this branch)"
    found = set()
    for path in src.glob("*.c"):
        found |= set(re.findall(r'"(stats_[a-z0-9_]+)"', path.read_text()))
    return found, "registered in services/stats/*.c"


# ---- offline: the file and the parser ------------------------------------------------------

def test_the_parser_finds_metrics_not_functions_labels_or_ranges():
    assert metric_names('histogram_quantile(0.99, sum by (le, op) '
                        '(rate(crm_request_ms_bucket{status=~"4..|5.."}[$__rate_interval])))') \
        == {"crm_request_ms_bucket"}
    assert metric_names("sum(rate(a_total[5m])) / sum(rate(b_seconds_count[5m]))") == \
        {"a_total", "b_seconds_count"}
    assert metric_names('topk(20, sum by (agent) (increase(stats_agent_calls_total[$__range])))') \
        == {"stats_agent_calls_total"}
    assert metric_names('sum by (job) (up{job=~"callbus-.*"}) < 1') == {"up"}
    assert family("x_ms_bucket", {"x_ms"}) == "x_ms" and family("y_count", set()) == "y_count"


def test_the_dashboard_is_one_grafana_can_import():
    d = json.loads(DASHBOARD.read_text())
    assert d["title"] and d["uid"] and d["schemaVersion"] >= 30
    assert [i["name"] for i in d["__inputs"]] == ["DS_PROMETHEUS"]  # the import asks for it
    ids = [p["id"] for p in panels(d["panels"])]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    for p in panels(d["panels"]):
        assert {"x", "y", "w", "h"} <= set(p["gridPos"]), p["title"]
        if p["type"] != "row":
            assert p["targets"] and all(t["expr"].strip() for t in p["targets"]), p["title"]
            assert p["datasource"]["uid"] == "${DS_PROMETHEUS}", p["title"]
    titles = " ".join(p["title"] for p in panels(d["panels"]) if p["type"] == "row")
    for part in ("ingest", "ticket-service", "pop-service", "grouper", "stats"):
        assert part in titles, part


# ---- against the running services -----------------------------------------------------------

def scrape(admin_url):
    """{family: type} of a service's /metrics."""
    with urllib.request.urlopen(admin_url + "/metrics", timeout=10) as r:
        text = r.read().decode()
    return dict(re.findall(r"^# TYPE (\w+) (\w+)$", text, re.M))


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """{family: type} of every service, after a call went through them."""
    from test_webhook_to_ticket import Service, binary, fixture, post, start_pipeline
    import pop

    gen = start_pipeline(tmp_path_factory, "TR")
    p = next(gen)
    prefix = p["prefix"]
    svc = grouper = stream = None
    try:
        svc = pop.start_pop(pop.Topics(prefix), f"pop-{prefix}", str(tmp_path_factory.mktemp("pop")),
                            "pop-dashboard")
        env = {k: v for k, v in os.environ.items() if not k.startswith("CALLBUS_")}
        env.update({"CALLBUS_KAFKA_BROKERS": pop.BROKERS, "CALLBUS_REDIS_URL": pop.REDIS_URL,
                    "CALLBUS_TOPIC_PREFIX": prefix, "CALLBUS_TOPIC_PARTITIONS": "2",
                    "CALLBUS_MISSED_GROUP": f"missed-{prefix}", "CALLBUS_HTTP_PORT": "0",
                    "CALLBUS_HTTP_BIND": "127.0.0.1", "CALLBUS_ADMIN_PORT": "0",
                    "CALLBUS_ADMIN_BIND": "127.0.0.1"})
        grouper = Service(binary("CALLBUS_MISSED_BIN", "services", "missed", "callbus-missed"),
                          "missed", env, tmp_path_factory.mktemp("missed"))
        stream = svc.stream(svc.agent("900001"))
        session = 8300000000 + uuid.uuid4().int % 99999999
        post(p, "handset", fixture("handset", session, "+905321119011"))
        stream.wait(lambda pops: [d for d in pops if d.get("kind") == "ticket"], 60,
                    what="the call's ticket pop")
        # One refused webhook: ingest's 4xx series.
        req = urllib.request.Request(f"{p['ingest'].url}/v1/callgear/wrong-token/handset",
                                     data=b"{}", headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(req, timeout=10)
        yield {"ingest": scrape(p["ingest"].admin_url), "ticket": scrape(p["ticket"].admin_url),
               "pop": scrape(svc.admin_url), "missed": scrape(grouper.admin_url)}
    finally:
        if stream:
            stream.close()
        if grouper:
            grouper.stop()
        if svc:
            svc.stop()
        next(gen, None)


def test_the_dashboard_names_only_exported_series(exported):
    families = {}
    for service, names in exported.items():
        for name, kind in names.items():
            families.setdefault(name, set()).add((service, kind))
    histograms = {n for n, s in families.items() if any(k == "histogram" for _, k in s)}
    stats, how = stats_names()
    histograms |= {n for n in stats if n.endswith("_seconds")}  # the contract's one histogram
    checked, from_stats, missing = set(), set(), []
    for title, expr in queries():
        names = metric_names(expr)
        assert names, (title, expr)
        for name in names:
            f = family(name, histograms)
            checked.add(f)
            if f.startswith("stats_"):
                from_stats.add(f)
                if f not in stats:
                    missing.append((title, f, how))
            elif f not in families and f not in PROMETHEUS:
                missing.append((title, f, "exported by no service"))
    assert not missing, missing
    # Every service is on the dashboard, and so is every family of the contract.
    for service, names in exported.items():
        assert checked & set(names), f"no panel reads {service}"
    assert from_stats == STATS_CONTRACT, STATS_CONTRACT ^ from_stats
    print(f"{len(checked)} families checked; stats_*: {how}")
