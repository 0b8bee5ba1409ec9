// The Zendesk app (apps/zendesk, issue 22 item 1): the pops of the agent
// signed in by Zendesk's signed request, carried out in the agent's own
// Zendesk workspace through the Zendesk Apps Framework client:
//   incoming (ringing, R-P2) -> a Zendesk notification;
//   ticket   (answered, R-P3) -> the call's ticket opens (routeTo ticket);
//   profile  (no ticket yet)  -> the customer's user page (routeTo user);
//   new_case (no customer)    -> a new ticket, the caller's number shown.
// Each pop carried out is acknowledged (POST /v1/pops/ack). Texts from a
// provider or the CRM are set with textContent only.
"use strict";

(function () {
  const $ = sel => document.querySelector(sel);
  const token = ($('meta[name="callbus-session"]') || {}).content || "";
  const done = new Set(); // pop ids carried out: a replay after a reconnect does not reopen
  let client = null, stream = null, alive = null;

  function setText(el, v) { if (el) el.textContent = v == null ? "" : String(v); }
  const note = text => window.CallbusPops.logLine($("#log"), text);
  const caller = pop => window.CallbusPops.callerLabel(pop);

  // What Zendesk is asked to do for one pop; resolves when it did it.
  function carryOut(pop) {
    switch (pop.kind) {
      case "incoming":
        return client.invoke("notify", "Incoming call from " + caller(pop) +
                             (pop.queue ? " (" + pop.queue + ")" : ""), "notice");
      case "ticket":
        return client.invoke("routeTo", "ticket", pop.ticket.id);
      case "profile":
        return client.invoke("routeTo", "user", pop.contact.id);
      case "new_case":
        // ZAF opens an empty new ticket; it has no requester to preset
        // from a top-bar app, so the agent is told who is calling.
        return client.invoke("routeTo", "ticket", "new").then(() =>
          client.invoke("notify", "New ticket for " + caller(pop), "notice"));
      default:
        return Promise.reject(new Error("unknown pop kind " + pop.kind));
    }
  }

  let offerCallBack = () => {}; // click-to-call (issue 24), set up at start

  async function onPop(pop) {
    if (done.has(pop.pop_id)) return;
    done.add(pop.pop_id);
    try {
      await carryOut(pop);
      offerCallBack(pop);
      note(pop.kind + ": " + caller(pop) + (pop.ticket ? " · ticket #" + pop.ticket.id : ""));
      // Shown: acknowledged (a pop-service without the route answers 404:
      // nothing to do then).
      await window.CallbusPops.ack(token, pop.pop_id);
    } catch (err) {
      done.delete(pop.pop_id);
      note("could not show a pop: " + (err && err.message ? err.message : err));
    }
  }

  function ended(status) {
    if (stream) stream.close();
    if (alive) alive.stop();
    setText($("#status"), status === 401 ? "Session ended: reopen the app (reload Zendesk)."
                                         : "Stopped.");
  }

  async function start() {
    if (!/^[0-9a-f]{64}$/.test(token)) { setText($("#status"), "Not signed in."); return; }
    client = window.ZAFClient && window.ZAFClient.init();
    if (!client) { setText($("#status"), "The Zendesk Apps Framework did not load."); return; }
    const me = await window.CallbusPops.call(token, "GET", "/v1/sessions/me");
    if (me.status !== 200) { ended(me.status); return; }
    setText($("#who"), "Agent " + me.data.agent_crm_id);
    offerCallBack = window.CallbusPops.callBack($("#dial"), $("#call-back"), $("#dial-result"),
                                                () => token, () => ended(401));
    alive = window.CallbusPops.keepAlive(token, me.data.expires_in, ended);
    stream = window.CallbusPops.follow(token, {
      pop: onPop,
      ended,
      replaced: () => { if (alive) alive.stop(); setText($("#status"), "Opened in another window."); },
      state: s => setText($("#status"), s === "connected" ? "Connected. Waiting for calls…" : "Reconnecting…"),
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
