"""The agent page in a real browser (issue 10 items 5, 8): headless
Chromium opens pop-service's page, the agent signs in through the OpenID
Connect emulator (issue 22 item 3: no secret anywhere on the page), a CallGear webhook is
posted to ingest, and the page shows the pop with the ticket's link (the
whole chain: ingest -> Kafka -> ticket-service -> Zendesk emulator ->
ticket-events -> pop-service -> the page). A contact named like markup
shows as text. Screenshots are kept (CALLBUS_POP_ARTEFACTS)."""
import json
import os
import sys
import time

import pytest

import pop
from pop import Call

sys.path.insert(0, os.path.join(pop.ROOT, "tests", "system", "e2e"))
from test_webhook_to_ticket import TOKEN, fixture, post, start_pipeline  # noqa: E402

sys.path.insert(0, os.path.join(pop.ROOT, "tests", "emulators", "callgear_calls"))
from callgear_calls_emulator import CallGearCallsEmulator  # noqa: E402

ARTEFACTS = os.environ.get("CALLBUS_POP_ARTEFACTS", os.path.join(pop.ROOT, "build", "artefacts",
                                                                 "pop"))
EVIL = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def idp():
    emu = pop.oidc_emulator()
    for crm in ("900001", "900002", "900004"):
        emu.add_user(f"agent-{crm}", {"crm_agent_id": crm})
    yield emu
    emu.stop()


@pytest.fixture(scope="module")
def chain(tmp_path_factory, idp):
    gen = start_pipeline(tmp_path_factory, "TR")
    p = next(gen)
    topics = pop.Topics(p["prefix"])
    # Click-to-call through CallGear (issue 24): its Call API emulator posts
    # the call's notifications to this chain's ingest.
    cg = CallGearCallsEmulator(employees={2207: "Ayşe Yılmaz"},
                               notify_url=f"{p['ingest'].url}/v1/callgear/{TOKEN}").start()
    dial = {"CALLBUS_POP_DIAL_PROVIDER": "callgear", "CALLBUS_POP_DIAL_API_URL": cg.api_url,
            "CALLBUS_POP_DIAL_TOKEN": cg.access_token,
            "CALLBUS_POP_DIAL_CALLER_ID": "+902129998877",
            "CALLBUS_AGENT_MAP": "callgear:2207=900001,callgear:2211=900002"}
    svc = pop.start_pop(topics, f"pop-{p['prefix'].rstrip('.')}",
                        str(tmp_path_factory.mktemp("pop-browser")), "pop-browser",
                        dict(pop.oidc_env(idp), **dial))
    pop.wait_for(lambda: svc.http("GET", "/v1/auth/config")[0] == 200, 20,
                 what="the issuer's configuration to load")
    p["pop"], p["topics"], p["callgear"] = svc, topics, cg
    yield p
    svc.stop()
    cg.stop()
    next(gen, None)


@pytest.fixture(scope="module")
def browser():
    b = pop.cdp_browser()
    yield b
    b.close()


def login(browser, svc, crm_id, provider_id, connected=True):
    """Signs in as the page's agents do: Sign in, the identity provider's
    form (the emulator's), back to the page with a code (oidc.js: PKCE,
    state, nonce), the session opened by the ID token."""
    browser.goto(f"{svc.url}/agent")
    browser.wait("!!document.querySelector('#login') && !document.querySelector('#signin').disabled"
                 " && document.querySelector('#login-error').textContent === ''",
                 what="the sign-in button")
    # Nothing on the page asks for or holds a secret.
    assert browser.js("document.querySelectorAll('input[type=password], input[name=secret]')"
                      ".length") == 0
    assert pop.SECRET not in browser.js("document.documentElement.outerHTML")
    browser.js(f"""(() => {{
      const f = document.querySelector('#login');
      f.provider_agent_id.value = {json.dumps(provider_id)};
      f.requestSubmit();
    }})()""")
    pop.sign_in_at_provider(browser, "agent-" + crm_id)
    browser.wait("(() => { const d = document.querySelector('#desk');"
                 " return location.pathname === '/agent/' && !!d && !d.hidden; })()",
                 what="the desk after sign-in")
    assert browser.js("location.search") == ""  # the code is not left in the address bar
    assert browser.js("document.querySelector('#who').textContent").startswith(f"Agent {crm_id}")
    if connected:
        browser.wait("document.querySelector('#status').textContent.startsWith('Connected')",
                     what="the stream to open")
    # The token is in an HttpOnly cookie: the page's script cannot read it.
    assert "callbus_pop" not in browser.js("document.cookie")


def test_webhook_pops_the_ticket_in_the_page(chain, browser):
    login(browser, chain["pop"], "900001", "2207")
    session, phone = 8200000001, "+905321119001"
    post(chain, "handset", fixture("handset", session, phone))  # CallGear: call accepted
    ticket = pop.e2e.wait_for(lambda: [t for t in chain["emulator"].snapshot()["tickets"]
                                       if t.get("external_id") == f"callbus-{session}"], 30,
                              what="the call's ticket")[0]
    href = browser.wait(f"""(() => {{
      const a = [...document.querySelectorAll('.pop.ticket a.open')];
      return a.length ? a[0].href : null; }})()""", 30, what="the ticket pop")
    assert href.endswith(f"/tickets/{ticket['id']}") or f"/tickets/{ticket['id']}" in href
    text = browser.js("document.querySelector('.pop.ticket').innerText")
    assert "+905321119001" in text and f"#{ticket['id']}" in text
    browser.screenshot(os.path.join(ARTEFACTS, "agent-page-ticket-pop.png"))


def test_a_name_made_of_markup_shows_as_text(chain, browser):
    login(browser, chain["pop"], "900002", "2211")
    call = Call()
    agent = {"provider_id": "2211", "crm_id": "900002", "name": "Two"}
    chain["topics"].produce(call.answered(agent))
    pop.produce_ticket_events(chain["topics"], pop.ticket_event(
        call, 777, subject=EVIL, contact={"id": "55", "name": EVIL, "email": EVIL}))
    browser.wait(f"""(() => {{ const c = document.querySelector(
        '.pop.ticket[data-call-id={json.dumps(call.call_id)}]');
        return c && c.querySelector('.caller').textContent; }})()""", 30, what="the ticket pop")
    shown = browser.js(f"""document.querySelector(
        '.pop.ticket[data-call-id={json.dumps(call.call_id)}] .caller').textContent""")
    assert shown == EVIL
    # Only this agent's pops: nothing of the previous agent's session.
    assert browser.js("[...document.querySelectorAll('.pop')].every(c => c.dataset.callId === "
                      + json.dumps(call.call_id) + ")")
    assert browser.js("document.querySelectorAll('#pops img').length") == 0
    assert not browser.dialogs(), "a script from a contact's name ran"
    browser.screenshot(os.path.join(ARTEFACTS, "agent-page-escaped-name.png"))


def test_the_page_acknowledges_the_pops_it_shows(chain, browser):
    """Issue 22 item 4 (R-P5): each pop the page put on screen is
    acknowledged (POST /v1/pops/ack): counted by kind, and none of them
    falls back to the CRM's channel once its timeout has passed."""
    svc = chain["pop"]
    login(browser, svc, "900004", "2215")
    agent = {"provider_id": "2215", "crm_id": "900004", "name": "Four"}

    def acked(kind):
        return svc.metric(f'pop_acknowledged_total{{kind="{kind}"}}')
    new0, ticket0 = acked("new_case"), acked("ticket")
    call = Call()
    chain["topics"].produce(call.answered(agent))
    card = f".pop[data-call-id={json.dumps(call.call_id)}]"
    browser.wait(f"document.querySelector('{card}.new_case') !== null", 30,
                 what="the new-case pop")
    pop.produce_ticket_events(chain["topics"], pop.ticket_event(call, 778))
    shown = browser.wait(f"""(() => {{ const c = document.querySelector('{card}.ticket');
        return c && c.dataset.popId; }})()""", 30, what="the ticket pop")
    assert shown.startswith(f"{call.call_id}:ticket:778:900004")
    pop.e2e.wait_for(lambda: acked("new_case") - new0 == 1 and acked("ticket") - ticket0 == 1,
                     10, what="both pops acknowledged by the page")
    time.sleep(3.5)  # past CALLBUS_POP_ACK_TIMEOUT_MS (3 s) and a sweep
    assert [v for _, v in pop.agent_actions(chain["topics"])
            if v["action"] == "pop.unacknowledged" and v["call_id"] == call.call_id] == []


def test_several_contacts_the_agent_picks_one(chain, browser):
    """R-C4 through the pop: two contacts have the caller's number; the
    ticket pop offers both (newest first, names as text), the agent picks
    the older one, and ticket-service moves the call's ticket to them
    (agent-actions -> contact.picked -> the CRM's requester)."""
    emu = chain["emulator"]
    phone = "+905321119003"
    older = emu.seed_user(name="Deniz Old " + EVIL, phone=phone, created_at="2021-03-01T10:00:00Z")
    newest = emu.seed_user(name="Deniz New", phone=phone, created_at="2024-02-01T10:00:00Z")
    login(browser, chain["pop"], "900001", "2207")
    session = 8200000003
    post(chain, "handset", fixture("handset", session, phone))
    ticket = pop.e2e.wait_for(lambda: [t for t in emu.snapshot()["tickets"]
                                       if t.get("external_id") == f"callbus-{session}"], 30,
                              what="the call's ticket")[0]
    assert ticket["requester_id"] == newest["id"]  # nobody picked yet: the newest (R-C4)
    card = f".pop.ticket[data-call-id='{session}']"
    names = browser.wait(f"""(() => {{
      const b = [...document.querySelectorAll("{card} fieldset.pick button.candidate")];
      return b.length ? b.map(x => [x.dataset.contactId, x.textContent]) : null; }})()""",
                         30, what="the contacts to pick from")
    assert names == [[str(newest["id"]), "Deniz New"], [str(older["id"]), "Deniz Old " + EVIL]]
    browser.js(f"""document.querySelector("{card} button.candidate[data-contact-id='{older['id']}']")
                 .click()""")
    browser.wait(f"""document.querySelector("{card} .pick-result").textContent === 'Sent.'""",
                 what="the pick to be accepted")
    pop.e2e.wait_for(lambda: next(t for t in emu.snapshot()["tickets"]
                                  if t["id"] == ticket["id"])["requester_id"] == older["id"], 30,
                     what="ticket-service to move the ticket to the picked contact")
    assert browser.js(f"""document.querySelector("{card} button.candidate.chosen")
                        .dataset.contactId""") == str(older["id"])
    assert browser.js("document.querySelectorAll('#pops img').length") == 0
    assert not browser.dialogs()
    browser.screenshot(os.path.join(ARTEFACTS, "agent-page-pick-contact.png"))


def test_call_back_from_the_pop(chain, browser):
    """Issue 24 item 1 (R-O1): the agent clicks "Call back" on a ticket pop;
    CallGear's start.employee_call is asked for the agent's employee and the
    customer with the ticket as external_id; its notifications put the
    call on that ticket. A refused call shows CallGear's own reason."""
    emu, cg = chain["emulator"], chain["callgear"]
    login(browser, chain["pop"], "900001", "2207")
    session, phone = 8200000005, "+905321119005"
    post(chain, "handset", fixture("handset", session, phone))
    ticket = pop.e2e.wait_for(lambda: [t for t in emu.snapshot()["tickets"]
                                       if t.get("external_id") == f"callbus-{session}"], 30,
                              what="the call's ticket")[0]
    card = f".pop.ticket[data-call-id='{session}']"
    browser.wait(f"!!document.querySelector(\"{card} button.call-back\")", 30,
                 what="the call-back button")
    browser.js(f"document.querySelector(\"{card} button.call-back\").click()")
    browser.wait(f"""document.querySelector("{card} .dial-result").textContent
                 .startsWith('Your phone rings first')""", 20, what="the call to be placed")
    [call] = cg.calls
    assert call["params"]["external_id"] == str(ticket["id"])
    assert call["params"]["contact"] == phone[1:] and call["params"]["employee"] == {"id": 2207}
    cg.wait_done()
    out = str(call["call_session_id"])

    def comments():
        [t] = [t for t in emu.snapshot()["tickets"] if t["id"] == ticket["id"]]
        return "\n".join(c["body"] for c in t["comments"])
    pop.e2e.wait_for(lambda: out in comments(), 30,
                     what="the outbound call on the ticket it was placed from")
    cg.access_token = "rotated-at-callgear"  # our token no longer works there
    browser.js(f"document.querySelector(\"{card} button.call-back\").click()")
    text = browser.wait(f"""(() => {{ const t = document.querySelector("{card} .dial-result")
                 .textContent; return t.startsWith('Not placed') ? t : null; }})()""", 20,
                        what="the refusal")
    assert "Access token is invalid" in text and "-32001" in text, text
    browser.screenshot(os.path.join(ARTEFACTS, "agent-page-call-back.png"))


def test_the_agent_moves_the_call_by_picking_a_ticket(chain, browser):
    """R-P6 by picking (issue 24 item 2), the whole chain: the card has no
    ticket id to type; "New ticket instead" makes the call's second ticket,
    whose pop offers the first as "move this call to"; picking it moves the
    call there (ticket-service's comments); picking a ticket a person solved
    meanwhile is refused by ticket-service and the card says why."""
    emu = chain["emulator"]
    login(browser, chain["pop"], "900001", "2207")
    session, phone = 8200000007, "+905321119007"  # not 5: main's call-back test has it
    post(chain, "handset", fixture("handset", session, phone))
    first = pop.e2e.wait_for(lambda: [t for t in emu.snapshot()["tickets"]
                                      if t.get("external_id") == f"callbus-{session}"], 30,
                             what="the call's ticket")[0]
    card = f".pop.ticket[data-call-id='{session}']"
    browser.wait(f"""!!document.querySelector("{card}")""", 30, what="the ticket pop")
    assert browser.js(f"""document.querySelectorAll("{card} .retarget input").length""") == 0
    # nobody had the number: the card also offers to find the customer to link
    assert browser.js(f"""!document.querySelector("{card} fieldset.link").hidden""")
    browser.js(f"""document.querySelector("{card} .new-ticket").click()""")

    def choices():
        return browser.js(f"""[...document.querySelectorAll("{card} button.choice")]
                              .map(b => [b.dataset.ticketId, b.textContent])""")
    offered = pop.e2e.wait_for(choices, 30, what="the customer's tickets offered")
    assert [c[0] for c in offered] == [str(first["id"])]
    assert offered[0][1].startswith(f"#{first['id']} · Call from {phone} (")
    second = next(t for t in emu.snapshot()["tickets"] if t["requester_id"] ==
                  first["requester_id"] and t["id"] != first["id"])
    browser.js(f"""document.querySelector("{card} button.choice[data-ticket-id='{first['id']}']")
                 .click()""")

    def said(tid, text):
        with emu.store.lock:
            return any(text in c["body"] for c in emu.store.comments.get(tid, []))
    pop.e2e.wait_for(lambda: said(first["id"], f"Call {session} attached to this ticket"), 30,
                     what="ticket-service to move the call to the ticket picked")
    assert said(second["id"], f"Call {session} moved to ticket {first['id']}")
    pop.e2e.wait_for(lambda: [c[0] for c in choices()] == [str(second["id"])], 30,
                     what="the move's pop offering the other ticket")
    with emu.store.lock:  # a person solves it meanwhile: R-T10
        emu.store.tickets[second["id"]]["status"] = "solved"
    browser.js(f"""document.querySelector("{card} button.choice[data-ticket-id='{second['id']}']")
                 .click()""")
    browser.wait(f"""(document.querySelector("{card} .result.refused") || {{}}).textContent ===
                 'Refused: that ticket is solved or closed.'""", 30, what="the refusal on the card")
    assert not said(second["id"], f"Call {session} attached to this ticket")
    browser.screenshot(os.path.join(ARTEFACTS, "agent-page-move-call.png"))


def test_a_revoked_agent_is_signed_out(chain, browser):
    """Issue 22 item 3: an administrator ends the agent's session
    (POST /admin/sessions/revoke): the page's stream ends and the page
    shows the sign-in again."""
    svc = chain["pop"]
    login(browser, svc, "900002", "2211")
    status, body = svc.admin("POST", "/admin/sessions/revoke", {"agent_crm_id": "900002"})
    assert status == 200 and body["status"] == "revoked"
    browser.wait("!document.querySelector('#login').hidden && document.querySelector('#desk').hidden",
                 10, what="the page to sign the agent out")
    assert "sign in again" in browser.js("document.querySelector('#login-error').textContent")
    browser.screenshot(os.path.join(ARTEFACTS, "agent-page-revoked.png"))


def test_the_page_refreshes_its_token_and_a_logout_at_the_provider_signs_out(chain, browser, idp):
    """Issue 22 item 3: the page refreshes the ID token before it expires
    (oidc.js, refresh_token grant) and extends its session with it; once
    the agent is signed out at the provider, the refresh is refused and
    the page signs out, ending its callbus session too."""
    idp.id_token_ttl_s = 4  # the page refreshes a second after sign-in, then every second
    try:
        login(browser, chain["pop"], "900001", "2207")
        tokens = idp.stats["token_requests"]
        pop.wait_for(lambda: idp.stats["token_requests"] >= tokens + 2, 15,
                     what="the page to refresh its ID token")
        assert browser.js("!document.querySelector('#desk').hidden")
        assert browser.js("fetch('/v1/sessions/me').then(r => r.status)") == 200
        idp.logout_user("agent-900001")
        browser.wait("!document.querySelector('#login').hidden", 15,
                     what="the page to sign out after the provider refused the refresh")
        assert "identity provider" in browser.js(
            "document.querySelector('#login-error').textContent")
        assert browser.js("fetch('/v1/sessions/me').then(r => r.status)") == 401
    finally:
        idp.id_token_ttl_s = 300


def test_popup_sign_in_for_embedded_pages(chain, browser, idp):
    """oidc.js's popup variant (identity providers refuse to be framed, so a
    page inside a CRM workspace signs in in a window of its own): the popup
    shows the provider's form, comes back to the redirect URI, closes, and
    the opener has the tokens (state and nonce checked)."""
    svc = chain["pop"]
    browser.goto(f"{svc.url}/agent")
    browser.wait("!document.querySelector('#signin').disabled", what="the sign-in button")
    browser.js("""window.popupResult = (async () => {
      const cfg = (await (await fetch('/v1/auth/config')).json()).oidc;
      const c = CallbusOidc.client(cfg, { redirectUri: location.origin + '/agent/' });
      const t = await c.signInPopup();
      return t.claims.crm_agent_id;
    })().catch(e => 'error: ' + e.message); true""", gesture=True)
    popup = browser.window(idp.issuer + "/authorize")
    try:
        pop.sign_in_at_provider(popup, "agent-900002")
    finally:
        popup.close()
    assert browser.js("window.popupResult") == "900002"
    assert not [t for t in browser.pages() if t["url"].startswith(idp.issuer)
                or "code=" in t["url"]], "the popup stayed open"


def test_a_refused_stream_is_opened_again(chain, browser, idp, tmp_path_factory):
    """The page's stream answered 503 (here a replica at its stream cap; as
    well one shutting down, or Redis slower than its timeout): EventSource
    gives up for good on an answer other than 200, so the page opens the
    stream again itself after a back-off instead of showing "Reconnecting…"
    for ever, and the pops then reach it."""
    svc = pop.start_pop(chain["topics"], f"pop-cap-{pop.RUN}", str(tmp_path_factory.mktemp("pop-cap")),
                        "pop-cap", pop.oidc_env(idp, CALLBUS_POP_MAX_STREAMS=1))
    try:
        pop.wait_for(lambda: svc.http("GET", "/v1/auth/config")[0] == 200, 20,
                     what="the issuer's configuration to load")
        held = svc.stream(svc.agent("900009"))  # the replica's one stream
        assert held.status == 200
        login(browser, svc, "900004", "2230", connected=False)
        browser.wait("document.querySelector('#status').textContent.startsWith('Reconnecting')",
                     what="the refused stream")
        time.sleep(2.5)  # past the first back-offs: still refused, still trying
        held.close()
        browser.wait("document.querySelector('#status').textContent.startsWith('Connected')", 40,
                     what="the stream opened again once the replica had room")
        call = Call()
        agent = {"provider_id": "2230", "crm_id": "900004", "name": "Four"}
        chain["topics"].produce(call.answered(agent))
        pop.produce_ticket_events(chain["topics"], pop.ticket_event(call, 778, subject="After 503"))
        browser.wait(f"!!document.querySelector('.pop.ticket[data-call-id={json.dumps(call.call_id)}]')",
                     30, what="the pop after the stream was opened again")
    finally:
        svc.stop()
