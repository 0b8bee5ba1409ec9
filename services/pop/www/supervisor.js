// The supervisor page (issue 25 item 3): sign in as agents do (oidc.js:
// code flow + PKCE, then POST /v1/sessions/oidc), pick a range of UTC
// days and a grouping, read GET /v1/stats, show every figure in a table
// and two charts drawn here as inline SVG (no library: the page runs
// offline and only its own scripts may run). pop-service decides who is a
// supervisor (CALLBUS_POP_SUPERVISORS): anyone else is told so (403).
// Ids and queue names come from providers and the CRM: set with
// textContent only, never as markup.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const SVG = "http://www.w3.org/2000/svg";
const FIGURES = ["calls", "answered", "missed", "tickets_created", "reopened", "solved", "closed",
                 "avg_close_s", "close_n", "missed_grouped", "pops_delivered", "pops_acknowledged",
                 "crm_requests", "crm_saved"];
let oidc = null, heartbeat = null;

async function api(method, path, body) {
  const init = { method, headers: {}, credentials: "same-origin" };
  if (body !== undefined || method === "POST") { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body === undefined ? {} : body); }
  const r = await fetch(path, init);
  let data = null;
  try { data = await r.json(); } catch (_) { /* no body */ }
  return { status: r.status, data };
}

function setText(el, value) { el.textContent = value == null ? "" : String(value); }

// R-S2's average as a duration people read: "2 d 3 h", "1 h 30 min", "45 s".
function duration(s) {
  if (s == null) return "—";
  s = Math.round(s);
  const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
  if (d) return d + " d" + (h ? " " + h + " h" : "");
  if (h) return h + " h" + (m ? " " + m + " min" : "");
  if (m) return m + " min" + (s % 60 ? " " + s % 60 + " s" : "");
  return s + " s";
}

function utcDay(date) { return date.toISOString().slice(0, 10); }

function query(f, format) {
  const q = new URLSearchParams({ from: f.from.value, to: f.to.value, by: f.by.value });
  if (format) q.set("format", format);
  return "/v1/stats?" + q;
}

function cell(tr, value, figure) {
  const td = document.createElement("td");
  if (figure) td.dataset.figure = figure;
  setText(td, figure === "avg_close_s" ? duration(value) : value);
  if (figure === "avg_close_s" && value != null) td.title = Math.round(value) + " s";
  tr.append(td);
  return td;
}

// One row's figures; under the key, the calls of each call kind.
function row(r, key) {
  const tr = document.createElement("tr");
  const th = cell(tr, key);
  th.classList.add("key");
  const kinds = Object.entries(r.by_kind || {}).filter(([, v]) => v.calls)
    .map(([k, v]) => k + " " + v.calls).join(" · ");
  if (kinds) { const s = document.createElement("span"); s.className = "kinds"; setText(s, kinds); th.append(s); }
  for (const f of FIGURES) cell(tr, r[f], f);
  return tr;
}

function el(name, attrs, text) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text != null) e.textContent = String(text);
  return e;
}

// Bars of several series per key, grouped; each bar's <title> says its value.
function barChart(rows, series, value, label) {
  const W = 640, H = 220, top = 10, bottom = 40, left = 72, gap = 6;
  const max = Math.max(1, ...rows.flatMap(r => series.map(s => value(r, s) || 0)));
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img" });
  const plotH = H - top - bottom, groupW = rows.length ? (W - left) / rows.length : W - left;
  const barW = Math.max(1, (groupW - gap) / series.length);
  svg.append(el("line", { class: "axis", x1: left, y1: top + plotH, x2: W, y2: top + plotH }));
  svg.append(el("text", { x: left - 4, y: top + 8, "text-anchor": "end" }, label(max)));
  svg.append(el("text", { x: left - 4, y: top + plotH, "text-anchor": "end" }, "0"));
  rows.forEach((r, i) => {
    const x0 = left + i * groupW + gap / 2;
    series.forEach((s, j) => {
      const v = value(r, s) || 0, h = v / max * plotH;
      const bar = el("rect", { class: s + " bar", x: x0 + j * barW, y: top + plotH - h,
                               width: Math.max(1, barW - 1), height: h });
      bar.dataset.key = r.key;
      bar.dataset.series = s;
      bar.dataset.value = v;
      bar.append(el("title", {}, r.key + " · " + s + ": " + label(v)));
      svg.append(bar);
    });
    if (rows.length <= 31) {
      const t = el("text", { x: x0 + groupW / 2 - gap / 2, y: H - bottom + 14, "text-anchor": "middle" },
                   r.key.length > 12 ? r.key.slice(0, 11) + "…" : r.key);
      svg.append(t);
    }
  });
  return svg;
}

function legend(series) {
  const p = document.createElement("p");
  p.className = "legend";
  for (const s of series) {
    const sw = document.createElement("span");
    sw.className = s;
    p.append(sw, document.createTextNode(s));
  }
  return p;
}

function show(data) {
  setText($("#key-head"), data.by);
  const body = $("#figures tbody"), foot = $("#figures tfoot");
  body.replaceChildren(...data.rows.map(r => row(r, r.key)));
  foot.replaceChildren(row(data.totals, "Total"));
  const calls = ["calls", "answered", "missed"];
  $("#chart-calls").replaceChildren(barChart(data.rows, calls, (r, s) => r[s], v => String(Math.round(v))), legend(calls));
  $("#chart-close").replaceChildren(barChart(data.rows, ["close"], r => r.avg_close_s, duration));
  $("#stats").dataset.loaded = data.from + ".." + data.to + "/" + data.by;
}

async function load() {
  const f = $("#range");
  setText($("#stats-error"), "");
  $("#csv").href = query(f, "csv");
  const r = await api("GET", query(f));
  if (r.status === 200) { $("#refused").hidden = true; $("#range").hidden = $("#results").hidden = false; show(r.data); return; }
  if (r.status === 401) return loggedOut("Session expired: sign in again.");
  if (r.status === 403) {
    $("#refused").hidden = false;
    $("#range").hidden = $("#results").hidden = true; // nothing to pick for an agent
    $("#figures tbody").replaceChildren();
    $("#figures tfoot").replaceChildren();
    $("#stats").dataset.loaded = "refused";
    return;
  }
  setText($("#stats-error"), "Could not read the statistics: " + ((r.data && r.data.error) || r.status));
}

function loggedIn(session) {
  if (heartbeat) clearInterval(heartbeat);
  $("#login").hidden = true;
  $("#stats").hidden = false;
  $("#logout").hidden = false;
  setText($("#who"), session.agent_crm_id);
  // The session lives while the page says it is there (R-P1), as the agent page's.
  const every = Math.max(5, Math.floor((session.expires_in || 60) / 3)) * 1000;
  heartbeat = setInterval(async () => {
    const r = await api("POST", "/v1/sessions/heartbeat");
    if (r.status === 401) loggedOut("Session expired: sign in again.");
  }, every);
  load();
}

function loggedOut(msg) {
  if (heartbeat) clearInterval(heartbeat);
  heartbeat = null;
  if (oidc) oidc.forget();
  $("#login").hidden = false;
  $("#stats").hidden = true;
  $("#logout").hidden = true;
  setText($("#who"), "");
  setText($("#login-error"), msg || "");
}

async function completeSignIn() {
  let tokens;
  try { tokens = await oidc.completeSignIn(location.href); }
  catch (err) { setText($("#login-error"), "Sign-in failed: " + err.message); }
  if (/[?&](code|error|state)=/.test(location.search)) history.replaceState(null, "", location.pathname);
  if (!tokens) return;
  const r = await api("POST", "/v1/sessions/oidc", { id_token: tokens.id_token });
  if (r.status === 201) { setText($("#login-error"), ""); loggedIn(r.data); }
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
  oidc = CallbusOidc.client(config, { redirectUri: location.origin + "/supervisor/" });
  $("#signin").disabled = false;
}

document.addEventListener("DOMContentLoaded", async () => {
  const f = $("#range"), today = new Date();
  f.to.value = utcDay(today);
  f.from.value = utcDay(new Date(today.getTime() - 6 * 86400000)); // the last seven UTC days
  f.addEventListener("submit", ev => { ev.preventDefault(); load(); });
  $("#login").addEventListener("submit", async ev => {
    ev.preventDefault();
    if (oidc) await oidc.signIn();
  });
  $("#logout").addEventListener("click", async () => {
    const tokens = oidc && oidc.saved(), out = oidc && oidc.signOutUrl(tokens, location.origin + "/supervisor/");
    await api("POST", "/v1/sessions/logout");
    loggedOut();
    if (out && tokens) location.assign(out);
  });
  await setUpSignIn();
  if (oidc && /[?&](code|error)=/.test(location.search)) return completeSignIn();
  const r = await api("GET", "/v1/sessions/me"); // a reload keeps the session
  if (r.status === 200) loggedIn(r.data);
});
