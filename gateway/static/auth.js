// Sign-in for the gateway's pages (the timeline and GraphiQL): OpenID Connect authorization code with PKCE (S256)
// as a public client. The access token lives in this module's memory only: never in a cookie or Web Storage, so a
// reload or a new tab signs in again. Only the PKCE verifier, the state and where to come back to wait in
// sessionStorage while the browser visits the identity provider.

const PENDING = "ccgw.sign-in";
const SIGNED_OUT = "Signed out: sign in again";
const VIEWER_QUERY = "query Viewer { viewer { name email permissions } }";

function base64url(bytes) {
  let text = "";
  for (const byte of new Uint8Array(bytes)) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomText(size) {
  return base64url(crypto.getRandomValues(new Uint8Array(size)));
}

async function getJson(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${url} answered HTTP ${response.status}`);
  return response.json();
}

function webUrl(value) {
  const url = new URL(String(value));
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error(`not a web address: ${value}`);
  return url;
}

function takePending() {
  const text = sessionStorage.getItem(PENDING);
  sessionStorage.removeItem(PENDING);
  try {
    const pending = JSON.parse(text);
    return pending && typeof pending.state === "string" && typeof pending.verifier === "string" ? pending : null;
  } catch (err) {
    return null;
  }
}

export class Auth {
  #token = null;
  #idToken = null;
  #openid = null;
  #listeners = [];

  constructor(config, graphqlPath) {
    this.issuer = config && config.issuer ? String(config.issuer).replace(/\/+$/, "") : null;
    this.clientId = config ? config.clientId : null;
    this.audience = config ? config.audience : null;
    this.graphqlPath = graphqlPath;
    this.message = "";
  }

  /** Whether the gateway wants a signed-in user (it names an issuer). */
  get enabled() { return this.issuer !== null; }

  get signedIn() { return this.#token !== null; }

  /** Whether the page may ask the API for data: signed in, or the gateway has no sign-in. */
  get ready() { return !this.enabled || this.signedIn; }

  /** The Authorization value of the signed-in user ("Bearer <token>"), or null: for a WebSocket's connection_init,
   *  which cannot carry headers. */
  authorization() { return this.#token === null ? null : `Bearer ${this.#token}`; }

  onChange(listener) { this.#listeners.push(listener); }

  #changed(message) {
    this.message = message;
    for (const listener of this.#listeners) listener(this);
  }

  async #discovery() {
    this.#openid ||= await getJson(`${this.issuer}/.well-known/openid-configuration`);
    return this.#openid;
  }

  #redirectUri() { return location.origin + location.pathname; }

  /** Off to the identity provider's login page; it sends the browser back here with ?code=&state=. */
  async signIn() {
    let endpoint;
    try {
      endpoint = webUrl((await this.#discovery()).authorization_endpoint);
    } catch (err) {
      this.#changed(`Sign-in failed: the identity provider could not be reached (${err.message})`);
      return;
    }
    const verifier = randomText(32);
    const state = randomText(16);
    const redirectUri = this.#redirectUri();
    const challenge = base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
    sessionStorage.setItem(PENDING, JSON.stringify({
      state, verifier, redirectUri, returnTo: location.search + location.hash }));
    const params = { response_type: "code", client_id: this.clientId, redirect_uri: redirectUri,
      scope: "openid profile email", state, code_challenge: challenge, code_challenge_method: "S256" };
    if (this.audience) params.audience = this.audience;
    for (const [name, value] of Object.entries(params)) endpoint.searchParams.set(name, value);
    location.assign(endpoint.href);
  }

  /** Back from the identity provider: check the state, trade the code for tokens, clean the address bar. */
  async completeSignIn() {
    const params = new URLSearchParams(location.search);
    if (!params.has("code") && !params.has("error")) return;
    const pending = takePending();
    // The code must not stay in the address bar or the history; the page's own query and hash come back.
    history.replaceState(null, "", location.pathname + (pending ? pending.returnTo : ""));
    if (!pending || params.get("state") !== pending.state) {
      this.message = "Sign-in failed: the answer does not match a sign-in started here; sign in again";
      return;
    }
    // RFC 9207: a provider that names itself in the answer must be ours (a mix-up with another provider otherwise).
    if (params.has("iss") && params.get("iss").replace(/\/+$/, "") !== this.issuer) {
      this.message = "Sign-in failed: the answer came from another identity provider";
      return;
    }
    if (params.has("error")) {
      this.message = `Sign-in failed: ${params.get("error_description") || params.get("error")}`;
      return;
    }
    try {
      const endpoint = webUrl((await this.#discovery()).token_endpoint);
      const response = await fetch(endpoint, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
        body: new URLSearchParams({ grant_type: "authorization_code", code: params.get("code"),
          redirect_uri: pending.redirectUri, client_id: this.clientId, code_verifier: pending.verifier }),
      });
      const body = await response.json().catch(() => ({}));
      if (!response.ok || typeof body.access_token !== "string") {
        this.message = `Sign-in failed: ${body.error_description || body.error || `HTTP ${response.status}`}`;
        return;
      }
      this.#token = body.access_token;
      this.#idToken = typeof body.id_token === "string" ? body.id_token : null;
      this.message = "";
    } catch (err) {
      this.message = `Sign-in failed: the identity provider could not be reached (${err.message})`;
    }
  }

  /** Forget the token here, then end the session at the identity provider, which sends the browser back. */
  async signOut() {
    const idToken = this.#idToken;
    this.#token = null;
    this.#idToken = null;
    this.#changed("");
    let endpoint = null;
    try {
      const openid = await this.#discovery();
      if (openid.end_session_endpoint) endpoint = webUrl(openid.end_session_endpoint);
    } catch (err) {
      return;  // the provider is unreachable: signed out of this page at least
    }
    if (!endpoint) return;
    endpoint.searchParams.set("client_id", this.clientId);
    endpoint.searchParams.set("post_logout_redirect_uri", this.#redirectUri());
    if (idToken) endpoint.searchParams.set("id_token_hint", idToken);
    location.assign(endpoint.href);
  }

  /** `fetch` with the bearer token; a 401 to it means the token is no longer accepted: sign out. */
  async fetch(url, init = {}) {
    const headers = new Headers(init.headers);
    const ours = this.#token !== null && !headers.has("Authorization");
    if (ours) headers.set("Authorization", `Bearer ${this.#token}`);
    const response = await fetch(url, { ...init, headers });
    if (response.status === 401 && ours && this.#token !== null) {
      this.#token = null;
      this.#idToken = null;
      this.#changed(SIGNED_OUT);
    }
    return response;
  }

  /** Who the API says the caller is: { name, email, permissions }, or null. */
  async viewer() {
    try {
      const response = await this.fetch(this.graphqlPath, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ query: VIEWER_QUERY }),
      });
      const body = await response.json();
      return (body && body.data && body.data.viewer) || null;
    } catch (err) {
      return null;
    }
  }
}

/** The gateway's sign-in settings, and the sign-in completed when the browser is back from the provider. */
export async function startAuth(graphqlPath) {
  let auth;
  try {
    auth = new Auth(await getJson("/auth/config"), graphqlPath);
  } catch (err) {
    auth = new Auth(null, graphqlPath);
    auth.message = `The gateway's sign-in settings could not be read (${err.message})`;
  }
  if (auth.enabled) await auth.completeSignIn();
  return auth;
}

/** Wire the header's #auth controls (#auth-message, #who, #sign-in, #sign-out) to `auth`. */
export function bindAuthBar(auth) {
  const $ = (id) => document.getElementById(id);
  $("sign-in").addEventListener("click", () => auth.signIn());
  $("sign-out").addEventListener("click", () => auth.signOut());
  let generation = 0;
  async function render() {
    const current = ++generation;
    $("auth").hidden = !auth.enabled && !auth.message;
    $("auth-message").textContent = auth.message;
    $("sign-in").hidden = !auth.enabled || auth.signedIn;
    $("sign-out").hidden = !auth.signedIn;
    $("who").textContent = "";
    const adminLink = $("admin-link");  // a page's link to the admin page, for CONNECTION_ADMIN only
    if (adminLink) adminLink.hidden = true;
    if (!auth.ready) return;
    const viewer = await auth.viewer();
    if (current !== generation || !viewer) return;
    if (adminLink) adminLink.hidden = !(viewer.permissions || []).includes("CONNECTION_ADMIN");
    if (!auth.signedIn) return;
    $("who").textContent = viewer.email ? `${viewer.name} (${viewer.email})` : viewer.name;
  }
  auth.onChange(render);
  return render();
}
