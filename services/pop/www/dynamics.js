// The Dynamics 365 widget (issue 22 item 2): the Channel Integration
// Framework (CIF) panel's page. The agent signs in with the company's
// identity provider (Entra ID: oidc.js, code flow + PKCE, in a popup: the
// provider's pages refuse to be framed, and this page is a frame inside
// Dynamics), the ID token opens a pop-service session (POST
// /v1/sessions/oidc) whose token stays in this script's memory (a
// third-party frame gets no cookie), and the pops (popstream.js) are
// carried out in the agent's Dynamics session through the CIF library
// (Microsoft.CIFramework, loaded from the org by dynamics.html):
//   incoming (ringing, R-P2) -> the panel docked (setMode(1)) and a notice
//                               in the widget (CIF 1.0 has no notification API);
//   ticket   (R-P3)          -> the call's case: openForm incident <ticket id>;
//   profile  (R-P3)          -> the contact: openForm contact <id>;
//   new_case (R-P3)          -> a new case (quick create form), titled with
//                               the caller's number, its customer preset
//                               when the pop names a contact.
// Several contacts have the caller's number (R-C4: a ticket pop lists
// them; the case went to the newest): the case still opens, and the widget
// offers a button that shows them all in Dynamics' own search
// (searchAndOpenRecords, contact by telephone1): the agent's click, not a
// second navigation racing the case's.
// Each pop carried out is acknowledged (POST /v1/pops/ack, R-P5). Texts
// from a provider or the CRM are set with textContent only.
// Microsoft's references: "openForm", "searchAndOpenRecords", "setMode",
// "CIFInitDone event" (CIF 1.0 JavaScript API reference, learn.microsoft.com),
// "Set field values using parameters passed to a form" (lookups: <field>,
// <field>name, <field>type).
"use strict";

(function () {
  const $ = sel => document.querySelector(sel);
  const REDIRECT = location.origin + "/apps/dynamics/signed-in";
  const done = new Set(); // pop ids carried out: a replay after a reconnect does not reopen
  let oidc = null, tokens = null, session = null, stream = null, alive = null, refresher = null;
  let offerCallBack = () => {}; // click-to-call (issue 24), set up at start

  // The CIF library raises CIFInitDone once its APIs may be called; this
  // script runs before the library's tag, so the event is not missed.
  const cifReady = new Promise(resolve => window.addEventListener("CIFInitDone", resolve, { once: true }));
  const cif = () => window.Microsoft.CIFramework;

  function setText(el, v) { if (el) el.textContent = v == null ? "" : String(v); }
  const note = text => window.CallbusPops.logLine($("#log"), text);
  const caller = pop => window.CallbusPops.callerLabel(pop);

  // OData string literal: a quote is doubled.
  function odataString(s) { return "'" + String(s).replace(/'/g, "''") + "'"; }

  // What Dynamics is asked to do for one pop; resolves when it did it.
  async function carryOut(pop) {
    await cifReady;
    const ci = cif();
    switch (pop.kind) {
      case "incoming":
        $("#ringing").hidden = false;
        setText($("#ringing"), "Incoming call from " + caller(pop) + (pop.queue ? " (" + pop.queue + ")" : ""));
        return ci.setMode(1); // docked: the agent sees the notice
      case "ticket":
        return ci.openForm(JSON.stringify({ entityName: "incident", entityId: pop.ticket.id }));
      case "profile":
        return ci.openForm(JSON.stringify({ entityName: "contact", entityId: pop.contact.id }));
      case "new_case": {
        const params = { title: "Call from " + ((pop.caller && pop.caller.number) || "a withheld number") };
        if (pop.contact && pop.contact.id) {
          params.customerid = pop.contact.id;
          params.customeridtype = "contact";
          if (pop.caller && pop.caller.name) params.customeridname = pop.caller.name;
        }
        return ci.openForm(JSON.stringify({ entityName: "incident", useQuickCreateForm: true }), JSON.stringify(params));
      }
      default:
        throw new Error("unknown pop kind " + pop.kind);
    }
  }

  // R-C4 in Dynamics: Dynamics' search for the contacts of this number.
  function offerSearch(pop) {
    const number = pop.caller && pop.caller.number;
    const several = pop.kind === "ticket" && number && pop.contacts && pop.contacts.length > 1;
    $("#several").hidden = !several;
    if (!several) return;
    setText($("#several-text"), pop.contacts.length + " contacts have " + number + ".");
    $("#search-contacts").onclick = () => cifReady.then(() => cif().searchAndOpenRecords(
      "contact", "?$select=fullname,telephone1,emailaddress1&$filter=telephone1 eq " + odataString(number), false))
      .catch(err => note("could not search: " + (err && err.message ? err.message : err)));
  }

  async function onPop(pop) {
    if (done.has(pop.pop_id)) return;
    done.add(pop.pop_id);
    if (pop.kind !== "incoming") $("#ringing").hidden = true;
    offerSearch(pop);
    try {
      await carryOut(pop);
      offerCallBack(pop);
      note(pop.kind + ": " + caller(pop) + (pop.ticket ? " · case " + pop.ticket.id : ""));
      await window.CallbusPops.ack(session, pop.pop_id); // shown: acknowledged
    } catch (err) {
      done.delete(pop.pop_id);
      note("could not show a pop: " + (err && err.message ? err.message : err));
    }
  }

  function signedOut(why) {
    if (stream) stream.close();
    if (alive) alive.stop();
    clearTimeout(refresher);
    stream = alive = session = tokens = null;
    if (oidc) oidc.forget();
    $("#signin-box").hidden = false;
    $("#signout").hidden = true;
    setText($("#who"), "");
    setText($("#status"), "Signed out.");
    setText($("#error"), why || "");
  }

  // The ID token -> a pop-service session (its token kept here only).
  async function openSession(t) {
    const r = await fetch("/v1/sessions/oidc", {
      method: "POST", credentials: "omit", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ id_token: t.id_token }) });
    let data = null;
    try { data = await r.json(); } catch (_) { /* no JSON */ }
    if (r.status !== 201 || !data || !data.token) throw new Error("callbus refused the sign-in" + (data && data.error ? " (" + data.error + ")" : ""));
    return data.token;
  }

  // Before the ID token expires: a fresh one extends the session; refused
  // by the provider (the agent signed out there, disabled): signed out.
  function scheduleRefresh() {
    clearTimeout(refresher);
    refresher = setTimeout(async () => {
      try {
        tokens = await oidc.refresh(tokens);
        const r = await window.CallbusPops.call(session, "POST", "/v1/sessions/oidc/refresh", { id_token: tokens.id_token });
        if (r.status !== 200) throw new Error("callbus refused the refresh");
        scheduleRefresh();
      } catch (err) { await signOut("Signed out by the identity provider: sign in again."); }
    }, oidc.refreshDelayMs(tokens));
  }

  async function startSession(t) {
    tokens = t;
    session = await openSession(t);
    const me = await window.CallbusPops.call(session, "GET", "/v1/sessions/me");
    if (me.status !== 200) throw new Error("the session ended at once");
    $("#signin-box").hidden = true;
    $("#signout").hidden = false;
    setText($("#error"), "");
    setText($("#who"), "Agent " + me.data.agent_crm_id);
    alive = window.CallbusPops.keepAlive(session, me.data.expires_in, () => signedOut("Session ended: sign in again."));
    stream = window.CallbusPops.follow(session, {
      pop: onPop,
      ended: () => signedOut("Session ended: sign in again."),
      replaced: () => { if (alive) alive.stop(); setText($("#status"), "Opened in another window."); },
      state: s => setText($("#status"), s === "connected" ? "Connected. Waiting for calls…" : "Reconnecting…"),
    });
    scheduleRefresh();
  }

  async function signIn() {
    $("#signin").disabled = true;
    setText($("#error"), "");
    try {
      await startSession(await oidc.signInPopup());
    } catch (err) {
      setText($("#error"), err && err.code === "popup_blocked" ? "Allow pop-ups for this page and sign in again."
                                                               : "Not signed in: " + (err && err.message ? err.message : err));
    } finally { $("#signin").disabled = false; }
  }

  // The callbus session ends too (its streams on every replica), not only
  // at the old ID token's expiry.
  async function signOut(why) {
    if (session) await window.CallbusPops.call(session, "POST", "/v1/sessions/logout").catch(() => null);
    signedOut(typeof why === "string" ? why : "");
  }

  async function start() {
    $("#signin").addEventListener("click", signIn);
    $("#signout").addEventListener("click", signOut);
    offerCallBack = window.CallbusPops.callBack($("#dial"), $("#call-back"), $("#dial-result"),
                                                () => session, () => signedOut("Session ended: sign in again."));
    let cfg = null;
    try { cfg = (await (await fetch("/v1/auth/config", { credentials: "omit" })).json()).oidc; } catch (_) { /* below */ }
    if (!cfg) { setText($("#status"), "Sign-in is not available: ask your administrator."); return; }
    oidc = CallbusOidc.client(cfg, { redirectUri: REDIRECT });
    $("#signin-box").hidden = false;
    $("#signin").disabled = false;
    setText($("#status"), "Not signed in.");
    // A reload of the panel: the refresh token of this tab's last sign-in
    // opens a session without a window.
    const saved = oidc.saved();
    if (saved && saved.refresh_token) {
      try { await startSession(await oidc.refresh(saved)); } catch (_) { oidc.forget(); }
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
