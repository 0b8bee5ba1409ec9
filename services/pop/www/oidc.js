// OpenID Connect for callbus pages (issue 22 items 2, 3): an agent signs in
// with the company's identity provider through the authorization code flow
// with PKCE (RFC 7636, S256), as a public client: no secret in the page.
// Independent of any page's DOM: the standalone agent page (app.js) uses
// it, and so does the Dynamics widget (dynamics.js, signInPopup). One
// global, CallbusOidc.
//
//   const c = CallbusOidc.client(config, { redirectUri });  // config: GET /v1/auth/config's "oidc"
//   await c.signIn();                 // to the provider (the page navigates away)
//   await c.signInPopup();            // embedded pages: providers refuse to be framed
//   const t = await c.completeSignIn(location.href); // back: null when not a return
//   const fresh = await c.refresh(t); // before t's ID token expires; throws when refused
//   c.signOutUrl(t, back);            // the provider's end_session_endpoint
//
// What it checks (OpenID Connect Core 1.0 §3.1.2.7, §3.1.3.7): the state it
// sent comes back; the ID token's nonce is the one it sent. The ID token's
// signature, issuer, audience and expiry are pop-service's to check (it
// holds the provider's keys: POST /v1/sessions/oidc).
// Kept in sessionStorage (this tab only, gone with it; memory where it is
// refused): the pending
// sign-in's state, nonce and code_verifier, then the tokens (the refresh
// token keeps the session alive across reloads).
"use strict";

const CallbusOidc = (() => {
  const PENDING = "callbus.oidc.pending", TOKENS = "callbus.oidc.tokens";

  function b64url(bytes) {
    let s = "";
    for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function random(n = 32) {
    return b64url(crypto.getRandomValues(new Uint8Array(n)));
  }

  async function s256(verifier) {
    return b64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  }

  // The payload of a compact JWS, unverified: for the nonce and exp only.
  function claims(jwt) {
    const p = String(jwt).split(".")[1] || "";
    const bin = atob(p.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((p.length + 3) % 4));
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(bin, c => c.charCodeAt(0))));
  }

  // sessionStorage, or this page's memory where the browser refuses it
  // storage (a third-party frame, e.g. the Dynamics widget, with
  // third-party data blocked): the sign-in still works, a reload forgets it.
  const memory = new Map();
  function load(key) {
    try { return JSON.parse(sessionStorage.getItem(key)); } catch (_) { return memory.get(key) || null; }
  }

  function store(key, value) {
    if (value == null) memory.delete(key); else memory.set(key, value);
    try {
      if (value == null) sessionStorage.removeItem(key); else sessionStorage.setItem(key, JSON.stringify(value));
    } catch (_) { /* memory only */ }
  }

  class SignInError extends Error {
    constructor(code, description) { super(description || code); this.code = code; }
  }

  function client(config, { redirectUri, popupName = "callbus-oidc" } = {}) {
    if (!config || !config.authorization_endpoint || !config.token_endpoint) throw new Error("no OpenID Connect configuration");

    // The provider's sign-in URL; the pending sign-in is remembered.
    async function authorizeUrl(extra = {}) {
      const pending = { state: random(), nonce: random(), verifier: random(48), redirectUri, extra };
      store(PENDING, pending);
      const u = new URL(config.authorization_endpoint);
      const q = { response_type: "code", client_id: config.client_id, redirect_uri: redirectUri,
                  scope: config.scopes || "openid", state: pending.state, nonce: pending.nonce,
                  code_challenge: await s256(pending.verifier), code_challenge_method: "S256" };
      for (const [k, v] of Object.entries(q)) u.searchParams.set(k, v);
      return u.href;
    }

    async function token(form) {
      const r = await fetch(config.token_endpoint, { method: "POST", body: new URLSearchParams({ client_id: config.client_id, ...form }),
                                                     credentials: "omit" });
      let data = null;
      try { data = await r.json(); } catch (_) { /* not JSON */ }
      if (!r.ok || !data || !data.id_token) throw new SignInError((data && data.error) || "token_endpoint", data && data.error_description);
      const c = claims(data.id_token);
      return { id_token: data.id_token, refresh_token: data.refresh_token || null, expires_at: c.exp * 1000, claims: c };
    }

    return {
      // `extra`: what the page wants back after the round trip (its optional fields).
      async signIn(extra) { location.assign(await authorizeUrl(extra)); },

      // A popup for pages inside another's frame (a CRM workspace): the
      // provider's pages refuse to be framed. Resolves with the tokens.
      async signInPopup(extra) {
        const w = window.open(await authorizeUrl(extra), popupName, "width=520,height=680");
        if (!w) throw new SignInError("popup_blocked", "the sign-in window was blocked");
        const back = await new Promise((resolve, reject) => {
          const t = setInterval(() => {
            if (w.closed) { clearInterval(t); reject(new SignInError("popup_closed", "the sign-in window was closed")); return; }
            let href = null;
            try { href = w.location.href; } catch (_) { return; } // still at the provider
            if (href && href.startsWith(redirectUri) && /[?&](code|error)=/.test(href)) { clearInterval(t); w.close(); resolve(href); }
          }, 200);
        });
        return this.completeSignIn(back);
      },

      // On the redirect URI: the code exchanged for tokens, state and nonce
      // checked. null when the URL is no return from the provider.
      async completeSignIn(href) {
        const q = new URL(href).searchParams;
        if (!q.has("code") && !q.has("error")) return null;
        const pending = load(PENDING);
        store(PENDING, null); // one use, whatever happens
        if (!pending || q.get("state") !== pending.state) throw new SignInError("state", "this sign-in was not started here: sign in again");
        if (q.has("error")) throw new SignInError(q.get("error"), q.get("error_description"));
        const t = await token({ grant_type: "authorization_code", code: q.get("code"), redirect_uri: pending.redirectUri, code_verifier: pending.verifier });
        if (t.claims.nonce !== pending.nonce) throw new SignInError("nonce", "the ID token was not made for this sign-in");
        t.extra = pending.extra || {};
        store(TOKENS, t);
        return t;
      },

      // A fresh ID token with the refresh token; throws (SignInError) when
      // the provider refuses: the agent was signed out there.
      async refresh(t) {
        if (!t || !t.refresh_token) throw new SignInError("no_refresh_token", "no refresh token");
        const fresh = await token({ grant_type: "refresh_token", refresh_token: t.refresh_token });
        if (!fresh.refresh_token) fresh.refresh_token = t.refresh_token; // not rotated
        fresh.extra = t.extra;
        store(TOKENS, fresh);
        return fresh;
      },

      // When to refresh: a little before the ID token expires.
      refreshDelayMs(t) {
        const left = t.expires_at - Date.now();
        return Math.max(1000, Math.min(left - 30000, left * 0.75));
      },

      saved() { return load(TOKENS); },
      forget() { store(TOKENS, null); store(PENDING, null); },

      signOutUrl(t, back) {
        if (!config.end_session_endpoint) return null;
        const u = new URL(config.end_session_endpoint);
        if (t && t.id_token) u.searchParams.set("id_token_hint", t.id_token);
        if (back) u.searchParams.set("post_logout_redirect_uri", back);
        u.searchParams.set("client_id", config.client_id);
        return u.href;
      },
    };
  }

  return { client, claims, SignInError };
})();
