"""GET /v1/stats and the supervisor page's files (issue 25 item 3), against
the real Redis: the test writes the stats service's day hashes itself, in
the stats contract's layout (docs/pop.md "Statistics": key
`<prefix>stats:d:<YYYY-MM-DD>`, field figure 0x1F kind 0x1F queue 0x1F
agent, an integer) -- a fixture of what the writer keeps, not a stub of
product code -- and reads them back through pop-service as a supervisor
(CALLBUS_POP_SUPERVISORS), an agent who is not one (403) and nobody (401).
R-S2: the average time to close is close_s_sum / close_n, null without a
timed ticket. The cells: stats_fixture.py."""
import csv
import http.client
import io

import pytest

import pop
from stats_fixture import DAY1, DAY2, DAY3, ODD_QUEUE
import stats_fixture

SUPERVISOR, AGENT = "900777", "900001"


@pytest.fixture(scope="module")
def stats_svc(topics, logdir):
    keys = stats_fixture.write(topics.prefix)
    s = pop.start_pop(topics, f"pop-{topics.prefix.rstrip('.')}", logdir, "pop-stats",
                      {"CALLBUS_POP_SUPERVISORS": f"sup-1, {SUPERVISOR}",
                       "CALLBUS_STATS_MAX_DAYS": "31"})
    yield s
    s.stop()
    stats_fixture.remove(keys)


def get(svc, token, path):
    return svc.http("GET", path, headers={"Authorization": f"Bearer {token}"} if token else None)


def raw_get(svc, token, path):
    conn = http.client.HTTPConnection("127.0.0.1", svc.port, timeout=10)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"} if token else {})
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


def test_nobody_without_a_session_and_no_agent_who_is_not_a_supervisor(stats_svc):
    q = f"/v1/stats?from={DAY1}&to={DAY2}&by=agent"
    status, body, _ = get(stats_svc, None, q)
    assert status == 401, body
    status, body, _ = get(stats_svc, "0" * 64, q)
    assert status == 401, body
    status, body, _ = get(stats_svc, stats_svc.agent(AGENT), q)
    assert status == 403, body
    assert "supervisor" in body["error"]


def test_by_agent_every_figure_and_the_r_s2_average(stats_svc):
    token = stats_svc.agent(SUPERVISOR)
    status, body, _ = get(stats_svc, token, f"/v1/stats?from={DAY1}&to={DAY2}&by=agent")
    assert status == 200, body
    assert (body["from"], body["to"], body["by"]) == (DAY1, DAY2, "agent")
    rows = {r["key"]: r for r in body["rows"]}
    assert [r["key"] for r in body["rows"]] == ["-", "361", "422"]  # sorted by key
    a361, a422, none = rows["361"], rows["422"], rows["-"]
    assert (a361["calls"], a361["answered"]) == (8, 4)
    assert a361["by_kind"]["inbound"]["calls"] == 6 and a361["by_kind"]["outbound"]["calls"] == 2
    assert a361["avg_close_s"] is None and a361["close_n"] == 0  # R-S2: no timed ticket
    assert a422["avg_close_s"] == 2250.0 and a422["close_n"] == 4  # 9000 s / 4
    assert (a422["tickets_created"], a422["reopened"], a422["solved"], a422["closed"]) == (7, 1, 4, 2)
    assert (a422["pops_delivered"], a422["pops_acknowledged"]) == (9, 8)
    assert (none["missed"], none["missed_grouped"]) == (3, 2)
    assert (none["crm_requests"], none["crm_saved"]) == (30, 41)
    t = body["totals"]
    assert "key" not in t
    assert (t["calls"], t["answered"], t["missed"], t["tickets_created"]) == (11, 4, 3, 7)
    assert t["avg_close_s"] == 2250.0
    assert t["by_kind"]["missed"]["calls"] == 3


def test_by_queue_and_by_day(stats_svc):
    token = stats_svc.agent(SUPERVISOR)
    status, body, _ = get(stats_svc, token, f"/v1/stats?from={DAY1}&to={DAY3}&by=queue")
    assert status == 200, body
    rows = {r["key"]: r for r in body["rows"]}
    assert set(rows) == {"-", "sales", "support", ODD_QUEUE}
    assert rows["support"]["calls"] == 8 and rows[ODD_QUEUE]["calls"] == 1
    status, body, _ = get(stats_svc, token, f"/v1/stats?from={DAY1}&to={DAY3}&by=day")
    assert status == 200, body
    # Every day of the range, the empty third one too.
    assert [(r["key"], r["calls"]) for r in body["rows"]] == [(DAY1, 10), (DAY2, 1), (DAY3, 0)]
    # One day only: the second's figures.
    status, body, _ = get(stats_svc, token, f"/v1/stats?from={DAY2}&to={DAY2}&by=agent")
    assert [r["key"] for r in body["rows"]] == ["-", "361", "422"]
    assert body["totals"]["calls"] == 1


def test_csv(stats_svc):
    token = stats_svc.agent(SUPERVISOR)
    status, headers, raw = raw_get(stats_svc, token,
                                   f"/v1/stats?from={DAY1}&to={DAY2}&by=queue&format=csv")
    assert status == 200, raw
    assert headers["Content-Type"].startswith("text/csv")
    assert f"callbus-stats-queue-{DAY1}-{DAY2}.csv" in headers["Content-Disposition"]
    text = raw.decode()
    assert text.startswith("key,calls,answered,missed,tickets_created,reopened,solved,closed,"
                           "avg_close_s,close_n,missed_grouped,pops_delivered,pops_acknowledged,"
                           "crm_requests,crm_saved\r\n")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert [r[0] for r in rows] == ["key", "-", ODD_QUEUE, "sales", "support", "TOTAL"]
    support = dict(zip(rows[0], rows[4]))
    assert (support["calls"], support["avg_close_s"], support["close_n"]) == ("8", "2250.0", "4")
    assert dict(zip(rows[0], rows[3]))["avg_close_s"] == ""  # R-S2: none timed
    assert rows[-1][1] == "11"


@pytest.mark.parametrize("query, field", [
    ("to=2031-03-02&by=agent", "from"),
    ("from=2031-3-1&to=2031-03-02&by=agent", "from"),
    ("from=2031-02-29&to=2031-03-02&by=agent", "from"),
    ("from=2031-03-01&by=agent", "to"),
    ("from=2031-03-02&to=2031-03-01&by=agent", "to"),
    ("from=2031-01-01&to=2031-03-02&by=agent", "to"),  # 61 days > CALLBUS_STATS_MAX_DAYS=31
    ("from=2031-03-01&to=2031-03-02", "by"),
    ("from=2031-03-01&to=2031-03-02&by=team", "by"),
    ("from=2031-03-01&to=2031-03-02&by=agent&format=xlsx", "format"),
])
def test_bad_parameters_are_400_naming_the_field(stats_svc, query, field):
    status, body, _ = get(stats_svc, stats_svc.agent(SUPERVISOR), "/v1/stats?" + query)
    assert status == 400, body
    assert body["field"] == field, body


def test_the_supervisor_page_is_built_in(stats_svc):
    for path, kind in (("/supervisor", "text/html"), ("/supervisor/", "text/html"),
                       ("/supervisor/supervisor.js", "text/javascript"),
                       ("/supervisor/supervisor.css", "text/css")):
        status, headers, raw = raw_get(stats_svc, "", path)
        assert status == 200, (path, status)
        assert headers["Content-Type"].startswith(kind), (path, headers)
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert raw_get(stats_svc, "", "/supervisor/nothing.js")[0] == 404
