// The agent page: sign in, follow the pop stream, act on a pop.
// Every text that came from a provider or the CRM is set with textContent
// (never innerHTML), so a name like <img src=x onerror=...> shows as text.
// The session token lives in an HttpOnly cookie: never in a URL.
// The agent signs in with the company's identity provider (oidc.js: code
// flow + PKCE); the page never asks for the provisioning secret, which is
// for machine clients only (docs/pop.md "Who may sign in").
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const KIND = { incoming: "Incoming call", ticket: "Ticket", profile: "Customer", new_case: "New case" };
let source = null, heartbeat = null, me = null;
let reopenMs = 1000; // the back-off before a refused stream is opened again
let oidc = null, refresher = null; // the provider's client; the next ID-token refresh
const shown = new Map(); // call id -> its card (a call's later pop replaces the earlier)

async function api(method, path, body, headers = {}) {
  const init = { method, headers: { ...headers }, credentials: "same-origin" };
  // Every POST declares JSON, with or without fields: pop-service answers 415 otherwise.
  if (body !== undefined || method === "POST") { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body === undefined ? {} : body); }
  const r = await fetch(path, init);
  let data = null;
  try { data = await r.json(); } catch (_) { /* no body */ }
  return { status: r.status, data };
}

function setText(el, value) { el.textContent = value == null ? "" : String(value); }

function safeUrl(u) {
  try { const x = new URL(u); return x.protocol === "https:" || x.protocol === "http:" ? x.href : null; }
  catch (_) { return null; }
}

function render(pop) {
  const card = $("#pop-tpl").content.firstElementChild.cloneNode(true);
  card.classList.add(pop.kind);
  card.dataset.callId = pop.call_id;
  card.dataset.popId = pop.pop_id;
  setText($(".kind", card), KIND[pop.kind] || pop.kind);
  setText($("time", card), new Date(pop.created_at).toLocaleTimeString());
  const c = pop.caller || {};
  setText($(".caller", card), c.name || (c.known ? "Customer" : "Unknown caller"));
  setText($(".number", card), c.number || "withheld");
  setText($(".queue", card), pop.queue || "—");
  for (const [cls, v] of [["email", c.email], ["company", c.company]]) {
    if (v) setText($("." + cls, card), v); else card.querySelectorAll(".f-" + cls).forEach(e => e.remove());
  }
  if (pop.ticket) {
    setText($(".ticket", card), "#" + pop.ticket.id + (pop.ticket.subject ? " · " + pop.ticket.subject : "") +
            (pop.ticket.status ? " (" + pop.ticket.status + ")" : ""));
  } else card.querySelectorAll(".f-ticket").forEach(e => e.remove());
  const a = $("a.open", card), url = pop.crm_url && safeUrl(pop.crm_url);
  if (url) {
    a.href = url;
    setText(a, pop.kind === "ticket" ? "Open ticket #" + pop.ticket.id :
               pop.kind === "new_case" ? "Open a new case" : "Open customer profile");
  } else a.parentElement.remove();
  pickable(card, pop);
  dialable(card, pop);
  linkable(card, pop);
  movable(card, pop);
  $(".new-ticket", card).addEventListener("click", () => act($(".result", card), { action: "call.new_ticket", call_id: pop.call_id }));
  const old = shown.get(pop.call_id);
  if (old) old.replaceWith(card); else $("#pops").prepend(card);
  shown.set(pop.call_id, card);
  setText($("#status"), "Last pop " + new Date().toLocaleTimeString());
  acknowledge(pop.pop_id);
}

// Issue 22 item 4 (R-P5): the card is on screen, so say so; a pop left
// unacknowledged goes through the CRM's own channel. A pop replayed after
// a reconnect is acknowledged again: harmless (counted once).
function acknowledge(popId) {
  api("POST", "/v1/pops/ack", { pop_id: popId }).catch(() => { /* the fallback covers it */ });
}

// R-C4: several contacts have the caller's number: the agent says which
// one is calling; ticket-service moves the ticket to them (agent-actions).
// The first is the one taken when nobody picks (the newest).
function pickable(card, pop) {
  const box = $("fieldset.pick", card);
  if (!Array.isArray(pop.contacts) || pop.contacts.length < 2) return box.remove();
  const chosen = pop.contact && pop.contact.id;
  for (const c of pop.contacts) {
    const li = document.createElement("li"), b = document.createElement("button");
    b.type = "button";
    b.className = "candidate";
    b.dataset.contactId = c.id;
    setText(b, (c.name || "Contact " + c.id) + (c.email ? " · " + c.email : ""));
    if (c.id === chosen) b.classList.add("chosen");
    b.addEventListener("click", async () => {
      if (await act($(".pick-result", card), { action: "contact.picked", call_id: pop.call_id, contact_id: c.id })) {
        box.querySelectorAll("button.candidate").forEach(x => x.classList.toggle("chosen", x === b));
        setText($(".caller", card), c.name || "Customer");
      }
    });
    li.append(b);
    $(".candidates", box).append(li);
  }
  box.hidden = false;
}

// Click-to-call (issue 24): the provider rings the agent, then the
// customer; the call carries the ticket it was started from, so it lands
// on it (R-O1). A refusal shows the provider's own reason.
function dialable(card, pop) {
  const box = $("p.dial", card), number = pop.caller && pop.caller.number;
  if (!number) return box.remove(); // withheld: nobody to call
  $("button.call-back", card).addEventListener("click", () =>
    dial($(".dial-result", card), number, pop.ticket ? pop.ticket.id : null));
}

async function dial(out, number, ticketId) {
  setText(out, "Calling…");
  const r = await api("POST", "/v1/calls", { number, ticket_id: ticketId });
  if (r.status === 401) { loggedOut("Session ended: sign in again."); return false; }
  setText(out, window.CallbusPops.dialOutcome(r, number));
  return r.status === 202;
}

// R-P6 (issue 24 item 2): the call moves to one of the customer's other
// open tickets, picked from ticket-service's list (never a typed id);
// ticket-service checks again that it is this customer's and writable
// (R-T10) and, when it refuses, says why with the call's ticket: shown here.
const REFUSED = {
  not_the_customers_ticket: "that ticket is not this customer's",
  ticket_not_writable: "that ticket is solved or closed",
  not_a_candidate: "that contact does not have the caller's number",
  other_customer: "the call is another customer's",
  unknown_call: "the call is unknown",
};

function age(when) {
  const s = (Date.now() - new Date(when).getTime()) / 1000;
  if (!(s >= 0)) return "";
  return s < 3600 ? Math.max(1, Math.round(s / 60)) + " min" : s < 172800 ? Math.round(s / 3600) + " h" : Math.round(s / 86400) + " d";
}

function movable(card, pop) {
  const box = $("fieldset.move", card), out = $(".result", card);
  if (pop.refusal) {
    setText(out, "Refused: " + (REFUSED[pop.refusal.reason] || pop.refusal.reason) + ".");
    out.classList.add("refused");
  }
  if (!Array.isArray(pop.tickets) || pop.tickets.length === 0) return box.remove();
  for (const t of pop.tickets) {
    const li = document.createElement("li"), b = document.createElement("button");
    b.type = "button";
    b.className = "choice";
    b.dataset.ticketId = t.id;
    const a = t.created_at ? age(t.created_at) : "";
    setText(b, "#" + t.id + (t.subject ? " · " + t.subject : "") + " (" + t.status + (a ? ", " + a : "") + ")");
    b.addEventListener("click", () => {
      out.classList.remove("refused");
      act(out, { action: "call.retargeted", call_id: pop.call_id, ticket_id: t.id });
    });
    li.append(b);
    $(".choices", box).append(li);
  }
  box.hidden = false;
}

// Issue 24 item 2 (Deskie's unknown caller): nobody in the CRM had the
// number, so callbus made a contact for the call; the agent may instead
// find the customer (the CRM's contacts by name or e-mail, searched through
// ticket-service) and link the call to them: the ticket moves to that
// contact and the number is added to it. Or keep the new contact.
function linkable(card, pop) {
  const box = $("fieldset.link", card), out = $(".link-result", card), list = $("ul.found", box);
  if (!pop.new_contact) return box.remove();
  $("form.find", box).addEventListener("submit", async ev => {
    ev.preventDefault();
    const q = ev.target.q.value.trim();
    if (!q) return;
    setText(out, "…");
    const r = await api("GET", "/v1/contacts/search?q=" + encodeURIComponent(q));
    if (r.status === 401) return loggedOut("Session ended: sign in again.");
    list.replaceChildren();
    if (r.status !== 200) return setText(out, "Search failed: " + ((r.data && r.data.error) || r.status));
    setText(out, r.data.contacts.length ? "" : "Nobody found.");
    for (const c of r.data.contacts) {
      const li = document.createElement("li"), b = document.createElement("button");
      b.type = "button";
      b.className = "found-contact";
      b.dataset.contactId = c.id;
      setText(b, (c.name || "Contact " + c.id) + (c.email ? " · " + c.email : ""));
      b.addEventListener("click", async () => {
        if (await act(out, { action: "contact.linked", call_id: pop.call_id, contact_id: c.id })) {
          setText($(".caller", card), c.name || "Customer");
          list.replaceChildren();
        }
      });
      li.append(b);
      list.append(li);
    }
  });
  $(".keep", box).addEventListener("click", () => box.remove());
  box.hidden = false;
}

async function act(out, body) {
  setText(out, "…");
  const r = await api("POST", "/v1/actions", body);
  if (r.status === 401) { loggedOut("Session ended: sign in again."); return false; }
  setText(out, r.status === 202 ? "Sent." : "Not sent: " + ((r.data && r.data.error) || r.status));
  return r.status === 202;
}

function follow() {
  // EventSource sends the cookie, and Last-Event-ID when it reconnects:
  // the server replays what was missed (R-P5).
  source = new EventSource("/v1/pops/stream");
  source.addEventListener("pop", ev => {
    try { render(JSON.parse(ev.data)); } catch (err) { console.error("bad pop", err); }
  });
  // A newer stream of this agent took this one's place (another tab, the
  // per-session cap): stop here, or the two would take turns ending each other.
  source.addEventListener("replaced", () => {
    source.close();
    setText($("#status"), "Opened in another tab or window: reload to follow pops here.");
  });
  source.onopen = () => { reopenMs = 1000; setText($("#status"), "Connected. Waiting for calls…"); };
  source.onerror = async () => {
    const failed = source;
    setText($("#status"), "Reconnecting…");
    try {
      const r = await api("GET", "/v1/sessions/me");
      if (r.status === 401) { loggedOut("Session ended: sign in again."); return; }
    } catch (_) { /* pop-service unreachable: the stream's own retry decides */ }
    // EventSource reconnects a dropped stream by itself, but gives up for
    // good on an answer other than 200 (a replica at its stream cap or
    // shutting down answers 503): open a new one after a back-off. It sends
    // no Last-Event-ID, so the server replays since sign-in and `shown`
    // keeps each call's pop once.
    if (failed.readyState === EventSource.CLOSED && source === failed && me) {
      setTimeout(() => { if (source === failed && me) follow(); }, reopenMs);
      reopenMs = Math.min(reopenMs * 2, 30000);
    }
  };
}

function loggedIn(session) {
  // A new login (another agent at the same desk): nothing of the previous
  // session stays, neither its stream nor its pops.
  if (source) source.close();
  if (heartbeat) clearInterval(heartbeat);
  $("#pops").replaceChildren();
  shown.clear();
  me = session;
  $("#login").hidden = true;
  $("#desk").hidden = false;
  $("#logout").hidden = false;
  setText($("#who"), "Agent " + session.agent_crm_id + (session.extension ? " · ext " + session.extension : ""));
  follow();
  const every = Math.max(5, Math.floor((session.expires_in || 60) / 3)) * 1000;
  heartbeat = setInterval(async () => {
    const r = await api("POST", "/v1/sessions/heartbeat");
    if (r.status === 401) loggedOut("Session expired: sign in again.");
  }, every);
}

function loggedOut(msg) {
  if (source) source.close();
  if (heartbeat) clearInterval(heartbeat);
  if (refresher) clearTimeout(refresher);
  if (oidc) oidc.forget();
  source = heartbeat = me = refresher = null;
  $("#pops").replaceChildren();
  shown.clear();
  $("#login").hidden = false;
  $("#desk").hidden = true;
  $("#logout").hidden = true;
  setText($("#who"), "");
  setText($("#login-error"), msg || "");
}

// The session lives as long as the ID token (and a little grace): a fresh
// one, got with the refresh token before it expires, extends it. When the
// provider refuses (the agent signed out there, or was disabled), so is
// the session here.
function keepFresh(tokens) {
  if (refresher) clearTimeout(refresher);
  refresher = setTimeout(async () => {
    refresher = null;
    let fresh;
    try { fresh = await oidc.refresh(tokens); }
    catch (err) {
      // The stream first (its end would say "Session ended"), then the session.
      loggedOut("Signed out by your identity provider: sign in again.");
      await api("POST", "/v1/sessions/logout");
      return;
    }
    const r = await api("POST", "/v1/sessions/oidc/refresh", { id_token: fresh.id_token });
    if (r.status === 200) keepFresh(fresh);
    else if (r.status === 401) loggedOut("Session ended: sign in again.");
    else keepFresh(fresh); // pop-service busy: try again with the next token
  }, oidc.refreshDelayMs(tokens));
}

// Back from the provider with a code: tokens, then our session.
async function completeSignIn() {
  let tokens;
  try { tokens = await oidc.completeSignIn(location.href); }
  catch (err) { setText($("#login-error"), "Sign-in failed: " + err.message); }
  if (/[?&](code|error|state)=/.test(location.search)) history.replaceState(null, "", location.pathname);
  if (!tokens) return;
  const body = { id_token: tokens.id_token, ...tokens.extra };
  const r = await api("POST", "/v1/sessions/oidc", body);
  if (r.status === 201) { setText($("#login-error"), ""); loggedIn(r.data); keepFresh(tokens); }
  else { oidc.forget(); setText($("#login-error"), "Sign-in refused: " + ((r.data && r.data.error) || r.status)); }
}

async function setUpSignIn() {
  const r = await api("GET", "/v1/auth/config");
  const config = r.status === 200 && r.data && r.data.oidc;
  if (!config) {
    setText($("#login-error"), r.status === 200 ? "Sign-in is not set up here: ask your administrator."
                                                 : "Sign-in is unavailable for now: reload in a moment.");
    return;
  }
  oidc = CallbusOidc.client(config, { redirectUri: location.origin + "/agent/" });
  $("#signin").disabled = false; // disabled in the page until the provider is known
}

document.addEventListener("DOMContentLoaded", async () => {
  // The sign-in popup of an embedded page lands here: its opener reads the URL.
  if (window.opener && window.name === "callbus-oidc") return;
  $("#login").addEventListener("submit", async ev => {
    ev.preventDefault();
    if (!oidc) return;
    const f = ev.target, extra = {};
    if (f.provider_agent_id.value.trim()) extra.provider_agent_id = f.provider_agent_id.value.trim();
    if (f.extension.value.trim()) extra.extension = f.extension.value.trim();
    await oidc.signIn(extra);
  });
  $("#logout").addEventListener("click", async () => {
    const tokens = oidc && oidc.saved(), out = oidc && oidc.signOutUrl(tokens, location.origin + "/agent/");
    await api("POST", "/v1/sessions/logout");
    loggedOut();
    if (out && tokens) location.assign(out); // signed out at the provider too
  });
  await setUpSignIn();
  if (oidc && /[?&](code|error)=/.test(location.search)) return completeSignIn();
  const r = await api("GET", "/v1/sessions/me"); // a reload keeps the session
  if (r.status === 200) {
    loggedIn(r.data);
    const tokens = oidc && oidc.saved();
    if (tokens) keepFresh(tokens);
  }
});
