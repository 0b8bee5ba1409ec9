// A pop-service session held by a Bearer token, for pages that cannot use
// the agent page's cookie and EventSource: CRM-embedded apps (the Zendesk
// app, the Dynamics widget) live in third-party iframes, where cookies are
// blocked, and EventSource cannot send an Authorization header. So the pop
// stream (R-P5) is read with fetch() and parsed here as Server-Sent
// Events, resuming with Last-Event-ID after a drop; plus the session's
// heartbeat and the pop acknowledgement (POST /v1/pops/ack, issue 22 item 4),
// and what the apps show of a pop.
// A classic script: it defines window.CallbusPops and nothing else.
"use strict";

(function () {
  const MAX_BACKOFF_MS = 10000;

  async function call(token, method, path, body) {
    const init = { method, headers: { Authorization: "Bearer " + token }, credentials: "omit" };
    // Every POST declares JSON: pop-service answers 415 otherwise.
    if (method === "POST") {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body === undefined ? {} : body);
    }
    const r = await fetch(path, init);
    let data = null;
    try { data = await r.json(); } catch (_) { /* no JSON body */ }
    return { status: r.status, data };
  }

  // Feeds text to an SSE parser; calls onEvent({event, data, id}) per
  // dispatched event and remembers the last id (the spec's rules: fields
  // per line, a blank line dispatches, ":" lines are comments).
  function sseParser(onEvent) {
    let buf = "", event = "", data = [], id = null;
    const self = { lastId: null, retryMs: null };
    self.feed = function (text) {
      buf += text;
      let nl;
      while ((nl = buf.search(/\r\n|\r|\n/)) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + (buf.startsWith("\r\n", nl) ? 2 : 1));
        if (line === "") {
          if (id !== null) self.lastId = id;
          if (data.length) onEvent({ event: event || "message", data: data.join("\n"), id: self.lastId });
          event = ""; data = []; id = null;
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? "" : line.slice(colon + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        if (field === "event") event = value;
        else if (field === "data") data.push(value);
        else if (field === "id" && !value.includes("\0")) id = value;
        else if (field === "retry" && /^\d+$/.test(value)) self.retryMs = Number(value);
      }
    };
    return self;
  }

  // Follows the agent's pop stream until close(). handlers: pop(pop, id),
  // replaced() (a newer stream of the agent took over: stopped),
  // ended(status) (401: the session is gone: stopped), state(text).
  function follow(token, handlers, path = "/v1/pops/stream") {
    const h = Object.assign({ pop() {}, replaced() {}, ended() {}, state() {} }, handlers);
    let abort = null, stopped = false, lastId = null, backoff = 500;
    async function once() {
      abort = new AbortController();
      const headers = { Authorization: "Bearer " + token, Accept: "text/event-stream" };
      if (lastId) headers["Last-Event-ID"] = lastId;
      const r = await fetch(path, { headers, signal: abort.signal, credentials: "omit", cache: "no-store" });
      if (r.status === 401) { stopped = true; h.ended(401); return; }
      if (r.status !== 200 || !r.body) throw new Error("stream answered " + r.status);
      h.state("connected");
      backoff = 500;
      const parser = sseParser(ev => {
        if (ev.event === "pop") {
          try { h.pop(JSON.parse(ev.data), ev.id); } catch (err) { console.error("bad pop", err); }
        } else if (ev.event === "replaced") { stopped = true; abort.abort(); h.replaced(); }
      });
      const reader = r.body.getReader(), dec = new TextDecoder();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        parser.feed(dec.decode(value, { stream: true }));
        if (parser.lastId) lastId = parser.lastId;
      }
      if (parser.retryMs) backoff = parser.retryMs;
    }
    (async function loop() {
      while (!stopped) {
        try { await once(); } catch (err) { if (stopped) break; console.warn("pop stream:", err.message); }
        if (stopped) break;
        h.state("reconnecting");
        await new Promise(res => setTimeout(res, backoff));
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      }
    })();
    return { close() { stopped = true; if (abort) abort.abort(); }, get lastEventId() { return lastId; } };
  }

  // Heartbeats the session every third of its lifetime until stop(); a 401
  // calls ended(401) and stops.
  function keepAlive(token, expiresInS, ended) {
    const every = Math.max(5, Math.floor((expiresInS || 60) / 3)) * 1000;
    const t = setInterval(async () => {
      try {
        const r = await call(token, "POST", "/v1/sessions/heartbeat");
        if (r.status === 401) { clearInterval(t); ended(401); }
      } catch (err) { console.warn("heartbeat:", err.message); }
    }, every);
    return { stop() { clearInterval(t); } };
  }

  // Says the pop was shown (issue 22 item 4's contract). A pop-service
  // without the route (404) or a failed request is no error for the app:
  // the result is returned, never thrown.
  async function ack(token, popId) {
    try { return (await call(token, "POST", "/v1/pops/ack", { pop_id: popId })).status; }
    catch (err) { console.warn("ack:", err.message); return 0; }
  }

  // What CRM apps show of a pop: its caller (the contact's name, else the
  // number), and a line at the top of the app's log (the last 20, as text).
  function callerLabel(pop) {
    const c = pop.caller || {};
    return c.name || c.number || (c.known ? "a customer" : "an unknown caller");
  }

  function logLine(list, text) {
    const li = document.createElement("li");
    li.textContent = new Date().toLocaleTimeString() + " · " + text;
    list.prepend(li);
    while (list.children.length > 20) list.lastElementChild.remove();
  }

  // Click-to-call (issue 24): what the agent is told of POST /v1/calls's
  // answer {status, data}: the provider rings the agent first; a refusal
  // in the provider's own words, with its code, and when to try again.
  function dialOutcome(r, number) {
    const d = r.data || {};
    if (r.status === 202) return "Your phone rings first, then " + number + ".";
    return "Not placed: " + (d.error || r.status) +
           (d.provider_code ? " (" + d.provider + " " + d.provider_code + ")" : "") +
           (d.retry_after_s ? " — try again in " + d.retry_after_s + " s" : "");
  }

  // Places the call with the session's token (the CRM apps); resolves to
  // the text to show, or null when the session ended (401).
  async function placeCall(token, number, ticketId) {
    const r = await call(token, "POST", "/v1/calls", { number, ticket_id: ticketId });
    return r.status === 401 ? null : dialOutcome(r, number);
  }

  // The CRM apps' "Call back": the caller of the last call popped, from its
  // ticket (R-O1: the call lands on it). box is shown once a call with a
  // number pops; token() is the session's token now; ended() when the
  // session is gone. Returns offer(pop), to call for each pop carried out.
  // The call placed from here pops too: a pop for the same number (its
  // ticket or none) keeps the result shown.
  function callBack(box, button, result, token, ended) {
    let to = null;
    button.addEventListener("click", async () => {
      if (!to) return;
      result.textContent = "Calling…";
      const text = await placeCall(token(), to.number, to.ticket);
      if (text === null) ended(); else result.textContent = text;
    });
    return function offer(pop) {
      const number = pop.caller && pop.caller.number;
      if (!number || pop.kind === "incoming") return;
      const next = { number, ticket: pop.ticket ? pop.ticket.id : null };
      if (to && to.number === next.number && (to.ticket === next.ticket || !next.ticket)) return;
      to = next;
      button.textContent = "Call back " + callerLabel(pop);
      result.textContent = "";
      box.hidden = false;
    };
  }

  window.CallbusPops = { call, follow, keepAlive, ack, sseParser, callerLabel, logLine,
                         dialOutcome, placeCall, callBack };
})();
