"""The supervisor page in headless Chromium (issue 25 item 3): a supervisor
(CALLBUS_POP_SUPERVISORS) signs in as agents do -- the OpenID Connect
emulator's form, back to /supervisor/ with a code -- picks a range and a
grouping, and sees the right figures from the stats service's day hashes
(written by the test in the contract's layout: stats_fixture.py): the
table's every figure, the R-S2 average as a duration, the charts' bars,
the CSV link. An agent who is not a supervisor signs in the same way and
is refused. Screenshots are kept (CALLBUS_POP_ARTEFACTS)."""
import json
import os

import pytest

import pop
import stats_fixture
from stats_fixture import DAY1, DAY2, DAY3, ODD_QUEUE

ARTEFACTS = os.environ.get("CALLBUS_POP_ARTEFACTS", os.path.join(pop.ROOT, "build", "artefacts",
                                                                 "pop"))
SUPERVISOR, AGENT = "900777", "900001"


@pytest.fixture(scope="module")
def idp():
    emu = pop.oidc_emulator()
    for crm in (SUPERVISOR, AGENT):
        emu.add_user(f"agent-{crm}", {"crm_agent_id": crm})
    yield emu
    emu.stop()


@pytest.fixture(scope="module")
def page_svc(topics, logdir, idp):
    keys = stats_fixture.write(topics.prefix)
    s = pop.start_pop(topics, f"pop-{topics.prefix.rstrip('.')}", logdir, "pop-supervisor",
                      pop.oidc_env(idp, CALLBUS_POP_SUPERVISORS=SUPERVISOR))
    pop.wait_for(lambda: s.http("GET", "/v1/auth/config")[0] == 200, 20,
                 what="the issuer's configuration to load")
    yield s
    s.stop()
    stats_fixture.remove(keys)


@pytest.fixture(scope="module")
def browser():
    b = pop.cdp_browser()
    yield b
    b.close()


def sign_in(browser, svc, crm_id):
    """As a supervisor does: the page, Sign in, the provider's form, back
    with a code, the session opened by the ID token; the page then reads
    the statistics (the default range: the last seven days)."""
    browser.goto(f"{svc.url}/supervisor")
    browser.wait("!!document.querySelector('#signin') && !document.querySelector('#signin').disabled",
                 what="the sign-in button")
    assert pop.SECRET not in browser.js("document.documentElement.outerHTML")
    browser.js("document.querySelector('#login').requestSubmit()")
    pop.sign_in_at_provider(browser, "agent-" + crm_id)
    browser.wait("(() => { const s = document.querySelector('#stats');"
                 " return location.pathname === '/supervisor/' && !!s && !s.hidden"
                 " && !!s.dataset.loaded; })()", what="the statistics after sign-in")
    assert browser.js("location.search") == ""
    assert browser.js("document.querySelector('#who').textContent") == crm_id
    assert "callbus_pop" not in browser.js("document.cookie")  # HttpOnly


def show(browser, since, until, by):
    browser.js(f"""(() => {{ const f = document.querySelector('#range');
      f.from.value = {json.dumps(since)}; f.to.value = {json.dumps(until)};
      f.by.value = {json.dumps(by)}; f.requestSubmit(); }})()""")
    browser.wait(f"document.querySelector('#stats').dataset.loaded === "
                 f"{json.dumps(f'{since}..{until}/{by}')}", what=f"the figures by {by}")


def table(browser):
    """[(key, {figure: text})] of the table's body in its order, and the
    totals row (a list: a JS object would put number-like keys first)."""
    t = browser.js("""(() => {
      const read = tr => { const o = {};
        tr.querySelectorAll('td[data-figure]').forEach(td => { o[td.dataset.figure] = td.textContent; });
        return o; };
      const rows = [...document.querySelectorAll('#figures tbody tr')]
        .map(tr => [tr.querySelector('td.key').firstChild.textContent, read(tr)]);
      return { rows, total: read(document.querySelector('#figures tfoot tr')) };
    })()""")
    return {"order": [k for k, _ in t["rows"]], "rows": dict(t["rows"]), "total": t["total"]}


def test_a_supervisor_sees_the_figures(page_svc, browser):
    sign_in(browser, page_svc, SUPERVISOR)
    show(browser, DAY1, DAY2, "agent")
    t = table(browser)
    assert t["order"] == ["-", "361", "422"]  # sorted by key
    a361, a422, none = t["rows"]["361"], t["rows"]["422"], t["rows"]["-"]
    assert (a361["calls"], a361["answered"], a361["avg_close_s"]) == ("8", "4", "—")
    # R-S2: 9000 s over 4 timed tickets, as a duration.
    assert (a422["avg_close_s"], a422["close_n"]) == ("37 min 30 s", "4")
    assert (a422["tickets_created"], a422["reopened"], a422["solved"], a422["closed"]) == \
        ("7", "1", "4", "2")
    assert (a422["pops_delivered"], a422["pops_acknowledged"]) == ("9", "8")
    assert (none["missed"], none["missed_grouped"], none["crm_requests"], none["crm_saved"]) == \
        ("3", "2", "30", "41")
    assert (t["total"]["calls"], t["total"]["avg_close_s"]) == ("11", "37 min 30 s")
    # Each call kind's calls under the key.
    assert browser.js("document.querySelector('#figures tbody tr:nth-child(2) .kinds')"
                      ".textContent") == "inbound 6 · outbound 2"
    # The charts: one bar per key and series, its value the figure's.
    bars = browser.js("""[...document.querySelectorAll('#chart-calls rect.bar')]
      .map(b => [b.dataset.key, b.dataset.series, Number(b.dataset.value)])""")
    assert ["361", "calls", 8] in bars and ["-", "missed", 3] in bars and len(bars) == 9
    close = browser.js("""[...document.querySelectorAll('#chart-close rect.bar')]
      .map(b => [b.dataset.key, Number(b.dataset.value)])""")
    assert close == [["-", 0], ["361", 0], ["422", 2250]]
    browser.screenshot(os.path.join(ARTEFACTS, "supervisor-page-by-agent.png"))
    # The CSV link downloads the same figures, with the session cookie.
    href = browser.js("document.querySelector('#csv').href")
    assert "format=csv" in href and f"from={DAY1}" in href
    text = browser.js("fetch(document.querySelector('#csv').href, {credentials: 'same-origin'})"
                      ".then(r => r.text())")
    assert text.startswith("key,calls,answered,missed,") and "\r\nTOTAL,11,4,3,7," in text


def test_by_queue_and_by_day(page_svc, browser):
    sign_in(browser, page_svc, SUPERVISOR)
    show(browser, DAY1, DAY3, "queue")
    t = table(browser)
    assert set(t["rows"]) == {"-", "sales", "support", ODD_QUEUE}  # a queue name stays text
    assert t["rows"]["support"]["calls"] == "8"
    assert browser.js("document.querySelector('#key-head').textContent") == "queue"
    show(browser, DAY1, DAY3, "day")
    t = table(browser)
    assert [(k, t["rows"][k]["calls"]) for k in t["order"]] == [(DAY1, "10"), (DAY2, "1"),
                                                                (DAY3, "0")]
    browser.screenshot(os.path.join(ARTEFACTS, "supervisor-page-by-day.png"))


def test_an_agent_who_is_not_a_supervisor_is_refused(page_svc, browser):
    sign_in(browser, page_svc, AGENT)
    assert browser.js("document.querySelector('#stats').dataset.loaded") == "refused"
    assert browser.js("!document.querySelector('#refused').hidden")
    assert browser.js("document.querySelector('#results').hidden")
    assert browser.js("document.querySelectorAll('#figures tbody tr').length") == 0
    show_refused = browser.js(f"""fetch('/v1/stats?from={DAY1}&to={DAY2}&by=agent',
      {{credentials: 'same-origin'}}).then(r => r.status)""")
    assert show_refused == 403
    browser.screenshot(os.path.join(ARTEFACTS, "supervisor-page-refused.png"))
