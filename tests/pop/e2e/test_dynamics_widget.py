"""The Dynamics 365 widget in a real browser (issue 22 item 2): headless
Chromium opens a stand-in of the agent's Dynamics 365 app (served here at
http://localhost:<port>, the "org": another site than pop-service's
http://127.0.0.1:<port>, so the widget is a third-party frame as in
Dynamics), whose Channel Integration Framework panel frames pop-service's
GET /apps/dynamics/. The widget loads the org's msdyn_ciLibrary.js: here a
stand-in recording every Microsoft.CIFramework call into the workspace.

The agent clicks "Sign in"; the widget opens a popup (oidc.js: code flow +
PKCE) at the OpenID Connect emulator standing in for Entra ID, the agent
signs in there, the popup lands on /apps/dynamics/signed-in and closes, and
the widget shows the agent signed in: no secret anywhere, no cookie. Then a
call through the real chain (CallGear webhook -> ingest -> Kafka ->
ticket-service -> Zendesk emulator -> ticket-events -> pop-service -> the
widget) ends with the stand-in recording openForm of the call's case
(incident = the call's ticket id), and each pop acknowledged.

Why the Zendesk emulator's ticket id and not a Dynamics incident: the
widget passes the ticket id through untouched, and the whole chain's
fixture (tests/system/e2e start_pipeline) runs ticket-service against the
Zendesk emulator; the Dynamics shape (a GUID, a new-case form with its
customer) is checked with ticket events produced directly, below."""
import json
import os
import sys
import time
import urllib.parse
import uuid

import pytest

import pop

sys.path.insert(0, os.path.join(pop.ROOT, "tests", "system", "e2e"))
from test_webhook_to_ticket import TOKEN, fixture, post, start_pipeline  # noqa: E402

sys.path.insert(0, os.path.join(pop.ROOT, "tests", "emulators", "callgear_calls"))
from callgear_calls_emulator import CallGearCallsEmulator  # noqa: E402

ARTEFACTS = os.environ.get("CALLBUS_POP_ARTEFACTS", os.path.join(pop.ROOT, "build", "artefacts",
                                                                 "pop"))
AGENT = {"provider_id": "2207", "crm_id": "900001", "name": "One"}  # the pipeline's agent map

# The stand-in of msdyn_ciLibrary.js. Microsoft's facts it follows (CIF 1.0
# JavaScript API reference, learn.microsoft.com): the script tag carries
# data-crmurl (the org) and data-cifid="CIFMainLibrary" ("Pass a Dynamics
# 365 URL to a widget library"); the library raises CIFInitDone on the
# widget's window when its APIs may be called ("CIFInitDone event");
# openForm(entityFormOptions, formParameters), searchAndOpenRecords(
# entityLogicalName, queryParameters, searchOnly), setMode(0 minimized |
# 1 docked), setWidth, getMode, addHandler return promises. Like the real
# one it talks to the Dynamics page framing it (postMessage to the org);
# here that page records what was asked.
CIF_STANDIN = """
(function () {
  const tag = document.currentScript;
  const org = tag && tag.dataset.crmurl;
  function ask(name, args) {
    window.parent.postMessage({ cif: [name].concat(Array.from(args)) }, org || "*");
    return Promise.resolve(name === "getMode" ? 1 : "{}");
  }
  const api = {};
  for (const name of ["openForm", "searchAndOpenRecords", "setMode", "getMode", "setWidth",
                      "getWidth", "addHandler", "removeHandler", "setClickToAct"])
    api[name] = function () { return ask(name, arguments); };
  window.Microsoft = { CIFramework: api };
  if (!tag || tag.dataset.cifid !== "CIFMainLibrary" || org !== location.ancestorOrigins[0])
    ask("misloaded", [String(tag && tag.dataset.cifid), String(org)]);
  setTimeout(() => window.dispatchEvent(new Event("CIFInitDone")), 0);
})();
"""

WORKSPACE = """<!doctype html><meta charset="utf-8"><title>Dynamics 365 (stand-in)</title>
<script>window.recorded = []; addEventListener("message", e => {
  if (e.data && e.data.cif && e.origin === %(pop)s) window.recorded.push(e.data.cif); });</script>
<main style="position:absolute;left:0;top:0;width:800px">Customer Service workspace</main>
<iframe id="cif-panel" src="%(widget)s" style="position:absolute;right:0;top:0;border:0"
        width="360" height="600" allow="clipboard-write"></iframe>"""


def workspace():
    """The org (pop.StandIn at "localhost"): / frames the widget,
    /webresources/Widget/msdyn_ciLibrary.js is the CIF library stand-in.
    .pop_url is set once pop-service listens."""
    def respond(path, _query):
        if path == "/webresources/Widget/msdyn_ciLibrary.js":
            return "text/javascript", CIF_STANDIN
        if path == "/":
            return "text/html", WORKSPACE % {"pop": json.dumps(ws.pop_url),
                                             "widget": ws.pop_url + "/apps/dynamics/"}
        return None
    ws = pop.StandIn(respond, host="localhost")
    return ws


KNOWN = {"+905321119203": {"id": str(uuid.uuid4()), "name": "Ayla Known"}}


def lookup():
    """ticket-service's IVR look-up (GET /v1/ivr/lookup?number=, docs/pop.md
    "Contact fields on the ringing notice"): a contact of the org for the
    numbers in KNOWN, none for the others. Makes a known caller's answer a
    `profile` pop (R-P3)."""
    def respond(_path, query):
        c = KNOWN.get(query.get("number", [""])[0])
        return "application/json", json.dumps({"status": "found", "contact": c} if c
                                              else {"status": "none"})
    return pop.StandIn(respond)


@pytest.fixture(scope="module")
def idp():
    """Entra ID's stand-in, in its shape: the v2.0 issuer under the tenant."""
    emu = pop.oidc_emulator(tenant=str(uuid.uuid4()))
    emu.add_user("agent-900001", {"crm_agent_id": "900001"})
    yield emu
    emu.stop()


@pytest.fixture(scope="module")
def chain(tmp_path_factory, idp):
    ws, ivr = workspace(), lookup()
    gen = start_pipeline(tmp_path_factory, "TR")
    p = next(gen)
    topics = pop.Topics(p["prefix"])
    logdir = str(tmp_path_factory.mktemp("pop-dynamics-widget"))
    # Click-to-call through CallGear (issue 24): its Call API emulator.
    cg = CallGearCallsEmulator(employees={2207: "One"},
                               notify_url=f"{p['ingest'].url}/v1/callgear/{TOKEN}").start()
    svc = pop.start_pop(topics, f"pop-{p['prefix'].rstrip('.')}", logdir, "pop-dynamics-widget",
                        pop.oidc_env(idp, CALLBUS_POP_DYNAMICS_ORG_URL=ws.url,
                                     CALLBUS_POP_DIAL_PROVIDER="callgear",
                                     CALLBUS_POP_DIAL_API_URL=cg.api_url,
                                     CALLBUS_POP_DIAL_TOKEN=cg.access_token,
                                     CALLBUS_POP_DIAL_CALLER_ID="+902129998877",
                                     CALLBUS_AGENT_MAP="callgear:2207=900001",
                                     # agents sign in with the identity provider only
                                     CALLBUS_POP_PROVISIONING_SECRET="",
                                     CALLBUS_POP_LOOKUP_URL=ivr.url,
                                     CALLBUS_POP_LOOKUP_TOKEN="ivr-token",
                                     CALLBUS_POP_LOOKUP_WAIT_MS=500))
    pop.wait_for(lambda: svc.http("GET", "/v1/auth/config")[0] == 200, 20,
                 what="the issuer's configuration to load")
    ws.pop_url = svc.url
    p.update(pop=svc, topics=topics, workspace=ws, callgear=cg)
    yield p
    svc.stop()
    cg.stop()
    ws.close()
    ivr.close()
    next(gen, None)


@pytest.fixture(scope="module")
def browser():
    b = pop.cdp_browser()
    yield b
    b.close()


@pytest.fixture(scope="module")
def widget(chain, browser, idp):
    """The workspace open and the agent signed in, as an agent does it: the
    widget's frame (driven through its own DevTools target)."""
    svc = chain["pop"]
    browser.goto(chain["workspace"].url + "/")
    frame = browser.window(svc.url + "/apps/dynamics/", kind="iframe")
    sign_in(browser, frame, idp)
    yield frame
    frame.close()


def sign_in(browser, frame, idp):
    """Sign in, in the widget, then at the provider's form in the popup."""
    frame.wait("!document.querySelector('#signin-box').hidden"
               " && !document.querySelector('#signin').disabled", what="the widget's sign-in button")
    assert frame.js("document.querySelectorAll('input').length") == 0  # nothing typed here
    frame.js("document.querySelector('#signin').click(); true", gesture=True)
    popup = browser.window(idp.endpoint("authorize"))
    try:
        pop.sign_in_at_provider(popup, "agent-900001")
    finally:
        popup.close()
    frame.wait("document.querySelector('#who').textContent === 'Agent 900001'", 20,
               what="the widget to show the agent signed in")
    frame.wait("document.querySelector('#status').textContent.startsWith('Connected')",
               what="the pop stream to open")


def recorded(browser):
    return json.loads(browser.js("JSON.stringify(window.recorded)"))


def wait_recorded(browser, pred, what, timeout=30):
    return pop.wait_for(lambda: [a for a in recorded(browser) if pred(a)], timeout, what=what)


def test_the_agent_signs_in_through_a_popup_with_no_secret(chain, browser, widget, idp):
    # The popup went through the provider, landed on pop-service and closed.
    assert idp.issuer.endswith("/v2.0")  # Entra's issuer form, as CALLBUS_POP_OIDC_ISSUER
    assert not [t for t in browser.pages() if t["url"].startswith(idp.url)
                or "/apps/dynamics/signed-in" in t["url"]], "the sign-in window stayed open"
    assert idp.stats["token_requests"] >= 1
    # The library was loaded as Microsoft documents (no "misloaded").
    assert not [a for a in recorded(browser) if a[0] == "misloaded"], recorded(browser)
    # No secret anywhere, and the session lives in the script only: no cookie.
    assert pop.SECRET not in widget.js("document.documentElement.outerHTML")
    assert widget.js("document.cookie") == ""
    cookies = browser.send("Network.getAllCookies")["cookies"]
    assert not [c for c in cookies if c["name"] == "callbus_pop"], cookies
    assert chain["pop"].metric('pop_signin_total{method="oidc",result="ok"}') >= 1
    browser.screenshot(os.path.join(ARTEFACTS, "dynamics-widget-signed-in.png"))


def test_a_call_opens_its_case_in_dynamics_and_is_acknowledged(chain, browser, widget):
    svc = chain["pop"]

    def acked(kind):
        return svc.metric(f'pop_acknowledged_total{{kind="{kind}"}}')
    incoming0, ticket0 = acked("incoming"), acked("ticket")
    session, phone = 8200000201, "+905321119201"
    ring = pop.Call(number=phone, call_id=str(session))
    chain["topics"].produce(ring.offered(AGENT))  # ringing at the agent (R-P2)
    wait_recorded(browser, lambda a: a == ["setMode", 1], "the panel docked for the ringing call")
    shown = widget.wait("(() => { const r = document.querySelector('#ringing');"
                        " return !r.hidden && r.textContent; })()", what="the ringing notice")
    assert shown.startswith("Incoming call from") and phone in shown

    post(chain, "handset", fixture("handset", session, phone))  # CallGear: answered
    ticket = pop.e2e.wait_for(lambda: [t for t in chain["emulator"].snapshot()["tickets"]
                                       if t.get("external_id") == f"callbus-{session}"], 30,
                              what="the call's ticket")[0]
    opened = wait_recorded(browser, lambda a: a[0] == "openForm"
                           and json.loads(a[1]).get("entityId") == str(ticket["id"]),
                           "the widget to open the call's case")
    assert json.loads(opened[0][1]) == {"entityName": "incident", "entityId": str(ticket["id"])}
    assert widget.js("document.querySelector('#ringing').hidden")
    # Shown, so acknowledged (R-P5, issue 22 item 4) with the in-memory token.
    pop.wait_for(lambda: acked("incoming") > incoming0 and acked("ticket") > ticket0, 10,
                 what="the ringing and ticket pops acknowledged by the widget")
    browser.screenshot(os.path.join(ARTEFACTS, "dynamics-widget-case.png"))


def test_dynamics_shaped_pops_new_case_then_the_case(chain, browser, widget):
    """An answered call nobody knows: a new case (quick create form) titled
    with the caller's number; then ticket-service binds the call's incident
    (a Dynamics GUID): that case opens. No call opens anything twice."""
    svc = chain["pop"]
    new0 = svc.metric('pop_acknowledged_total{kind="new_case"}')
    call = pop.Call(number="+905321119202")
    chain["topics"].produce(call.answered(AGENT))
    made = wait_recorded(browser, lambda a: a[0] == "openForm" and len(a) > 2
                         and "+905321119202" in a[2], "the new-case form")
    assert len(made) == 1, made
    assert json.loads(made[0][1]) == {"entityName": "incident", "useQuickCreateForm": True}
    assert json.loads(made[0][2]) == {"title": "Call from +905321119202"}
    incident = str(uuid.uuid4())
    pop.produce_ticket_events(chain["topics"], pop.ticket_event(
        call, incident, crm=pop.crm_shape("dynamics")))
    wait_recorded(browser, lambda a: a[0] == "openForm"
                  and json.loads(a[1]).get("entityId") == incident, "the call's incident")
    pop.wait_for(lambda: svc.metric('pop_acknowledged_total{kind="new_case"}') > new0, 10,
                 what="the new-case pop acknowledged")
    time.sleep(0.5)
    opens = [a for a in recorded(browser) if a[0] == "openForm"
             and json.loads(a[1]).get("entityId") == incident]
    assert len(opens) == 1, opens


def test_a_known_caller_opens_their_contact(chain, browser, widget):
    """R-P3: answered, no case yet, the caller is a contact of the org: the
    contact's form opens."""
    number = "+905321119203"
    call = pop.Call(number=number)
    chain["topics"].produce(call.offered(AGENT))
    widget.wait(f"document.querySelector('#ringing').textContent.includes('Ayla Known')",
                what="the ringing notice naming the contact")
    chain["topics"].produce(call.answered(AGENT))
    opened = wait_recorded(browser, lambda a: a[0] == "openForm"
                           and json.loads(a[1]).get("entityName") == "contact",
                           "the contact's form")
    assert [json.loads(a[1]) for a in opened] == [
        {"entityName": "contact", "entityId": KNOWN[number]["id"]}]


def test_several_contacts_are_found_in_dynamics_search(chain, browser, widget):
    """R-C4: two contacts have the number; the case (the newest contact's)
    opens, and the widget offers Dynamics' own search for the number, which
    the agent's click runs (searchAndOpenRecords, contact by telephone1)."""
    number = "+905321119204"
    call = pop.Call(number=number)
    chain["topics"].produce(call.answered(AGENT))
    incident = str(uuid.uuid4())
    ev = pop.ticket_event(call, incident, crm=pop.crm_shape("dynamics"))
    ev["contacts"] = [{"id": str(uuid.uuid4()), "name": "Deniz New"},
                      {"id": str(uuid.uuid4()), "name": "Deniz Old"}]
    pop.produce_ticket_events(chain["topics"], ev)
    wait_recorded(browser, lambda a: a[0] == "openForm"
                  and json.loads(a[1]).get("entityId") == incident, "the call's incident")
    offer = widget.wait("(() => { const p = document.querySelector('#several');"
                        " return !p.hidden && p.textContent; })()", what="the search offer")
    assert f"2 contacts have {number}" in offer
    assert not [a for a in recorded(browser) if a[0] == "searchAndOpenRecords"]  # not before a click
    widget.js("document.querySelector('#search-contacts').click(); true", gesture=True)
    searched = wait_recorded(browser, lambda a: a[0] == "searchAndOpenRecords",
                             "the search for the number")
    assert searched == [["searchAndOpenRecords", "contact",
                         "?$select=fullname,telephone1,emailaddress1"
                         f"&$filter=telephone1 eq '{number}'", False]]


def test_call_back_from_the_widget(chain, browser, widget):
    """Issue 24 item 1 in the Dynamics widget (R-O1): after a call's case
    opened, the widget offers "Call back"; the click places the call through
    CallGear as the agent, from that case (external_id); a refusal shows
    CallGear's words."""
    cg = chain["callgear"]
    session, phone = 8200000209, "+905321119209"
    post(chain, "handset", fixture("handset", session, phone))
    ticket = pop.e2e.wait_for(lambda: [t for t in chain["emulator"].snapshot()["tickets"]
                                       if t.get("external_id") == f"callbus-{session}"], 30,
                              what="the call's ticket")[0]
    wait_recorded(browser, lambda a: a[0] == "openForm"
                  and json.loads(a[1]).get("entityId") == str(ticket["id"]),
                  "the widget to open the call's case")
    widget.wait(f"""!document.querySelector('#dial').hidden
        && document.querySelector('#call-back').textContent.includes({json.dumps(phone)})""", 20,
                what="the call-back button")
    placed = len(cg.calls)
    widget.js("document.querySelector('#call-back').click(); true", gesture=True)
    text = widget.wait("""(() => { const t = document.querySelector('#dial-result').textContent;
        return t.startsWith('Your phone') || t.startsWith('Not') ? t : null; })()""", 20,
                       what="the call to be placed")
    assert text.startswith("Your phone rings first"), text
    call = cg.calls[placed]
    assert call["params"]["external_id"] == str(ticket["id"])
    assert call["params"]["contact"] == phone[1:]
    cg.wait_done()
    cg.access_token = "rotated"
    widget.js("document.querySelector('#call-back').click(); true", gesture=True)
    text = widget.wait("""(() => { const t = document.querySelector('#dial-result').textContent;
        return t.startsWith('Not placed') ? t : null; })()""", 20, what="the refusal")
    assert "Access token is invalid" in text, text
    browser.screenshot(os.path.join(ARTEFACTS, "dynamics-widget-call-back.png"))


def test_refresh_and_a_logout_at_the_provider_sign_the_widget_out(chain, browser, widget, idp):
    """Issue 22 item 3 in the widget: it refreshes its ID token before it
    expires and extends its session with it (POST /v1/sessions/oidc/refresh,
    Bearer the in-memory token); once the agent is signed out at the
    provider, the refresh is refused and the widget signs out. Last: it
    leaves the widget signed out."""
    svc = chain["pop"]
    widget.send("Network.enable")
    widget.js("document.querySelector('#signout').click(); true")
    widget.wait("!document.querySelector('#signin-box').hidden", what="the widget signed out")
    idp.id_token_ttl_s = 4  # the widget refreshes a second after sign-in, then every second
    try:
        sign_in(browser, widget, idp)
        refreshed = svc.metric('pop_signin_total{method="oidc_refresh",result="ok"}')
        pop.wait_for(lambda: svc.metric('pop_signin_total{method="oidc_refresh",result="ok"}')
                     >= refreshed + 2, 15, what="the widget to refresh its session twice")
        idp.logout_user("agent-900001")
        widget.wait("!document.querySelector('#signin-box').hidden", 15,
                    what="the widget to sign out after the provider refused the refresh")
        assert "identity provider" in widget.js("document.querySelector('#error').textContent")
        assert widget.js("document.querySelector('#who').textContent") == ""
        # Its callbus session ended with it (logout, Bearer the in-memory
        # token), not only at the old ID token's expiry.
        def logouts():
            widget.js("1")  # collects the DevTools events that arrived meanwhile
            sent = {e["params"]["requestId"]: e["params"]["request"] for e in widget.events
                    if e.get("method") == "Network.requestWillBeSent"
                    and e["params"]["request"]["url"].endswith("/v1/sessions/logout")}
            return [(r["headers"].get("Authorization", "")[:7], e["params"]["response"]["status"])
                    for e in widget.events if e.get("method") == "Network.responseReceived"
                    for rid, r in sent.items() if e["params"]["requestId"] == rid]
        # The first: the agent's own "Sign out" above; the second: this one.
        assert pop.wait_for(lambda: len(logouts()) >= 2 and logouts(), 10,
                            what="the widget's logout") == [("Bearer ", 200)] * 2
    finally:
        idp.id_token_ttl_s = 300


def test_a_reloaded_panel_signs_in_again_without_a_window(chain, browser, widget, idp):
    """The panel reloads (Dynamics reloaded, the agent pressed F5): the
    widget signs in with its refresh token (kept in the frame's own
    sessionStorage) and opens a new session, with no window and no form.
    Last: it reloads the workspace."""
    if widget.js("!document.querySelector('#signin-box').hidden"):
        sign_in(browser, widget, idp)
    authorizations = idp.stats["authorize_requests"]
    svc = chain["pop"]
    signins = svc.metric('pop_signin_total{method="oidc",result="ok"}')
    browser.goto(chain["workspace"].url + "/")
    frame = browser.window(svc.url + "/apps/dynamics/", kind="iframe")
    try:
        frame.wait("document.querySelector('#who').textContent === 'Agent 900001'", 20,
                   what="the reloaded widget to sign in by itself")
        frame.wait("document.querySelector('#status').textContent.startsWith('Connected')",
                   what="the pop stream to open")
        assert idp.stats["authorize_requests"] == authorizations  # no sign-in window
        assert svc.metric('pop_signin_total{method="oidc",result="ok"}') == signins + 1
    finally:
        frame.close()
