// Signing in with the operator's identity provider: OAuth2 authorization code with S256
// PKCE, done by the browser as a public client (no secret). The gateway names the
// provider in the page's config ({ issuer, clientId, audience, tenantClaim }).
//
// The tokens live in memory and in this tab's sessionStorage (never localStorage: they
// end with the tab, and no other tab reads them). The access token goes to the gateway
// exactly as an API key does. With a refresh token it is renewed before it expires;
// without one, the user goes through the provider again when it expires.
import {
  checkIdToken,
  checkState,
  codeChallenge,
  codeVerifier,
  identity,
  randomString,
  sameIssuer,
  SignInError,
} from "./pkce.js";

const TOKENS = "analytics-gateway.oidc-tokens";
const PENDING = "analytics-gateway.oidc-pending";
// What the UI does: dashboards and alerts (read, write), contact points (admin).
// The provider grants what the user may have; the gateway enforces what was granted.
export const SCOPE = "openid offline_access read write admin";
const RENEW_AHEAD_MS = 60_000;

export class OidcSession {
  constructor(config, { storage = sessionStorage, fetch = globalThis.fetch.bind(globalThis), location = window.location } = {}) {
    this.config = config;
    this.storage = storage;
    this.fetch = fetch;
    this.location = location;
    this.tokens = undefined; // loaded from storage on first use
    this.timer = null;
    this.discovery = null;
  }

  get providerName() {
    try {
      return new URL(this.config.issuer).host;
    } catch {
      return this.config.issuer;
    }
  }

  // The UI's own address (no query, no hash): where the provider sends the user back.
  get redirectUri() {
    return `${this.location.origin}${this.location.pathname}`;
  }

  async metadata() {
    if (this.discovery === null) {
      const url = `${this.config.issuer.replace(/\/+$/, "")}/.well-known/openid-configuration`;
      const response = await this.fetch(url, { headers: { accept: "application/json" } });
      if (!response.ok) throw new SignInError(`the identity provider's discovery answered HTTP ${response.status}`);
      const metadata = await response.json();
      if (!sameIssuer(metadata.issuer, this.config.issuer)) {
        throw new SignInError("the identity provider's discovery names another issuer");
      }
      this.discovery = metadata;
    }
    return this.discovery;
  }

  // Leaves the page for the provider's sign-in; `returnHash` is where the user comes back to.
  async signIn(returnHash = "") {
    const metadata = await this.metadata();
    const pending = {
      state: randomString(32),
      nonce: randomString(32),
      verifier: codeVerifier(),
      redirectUri: this.redirectUri,
      returnHash,
    };
    this.storage.setItem(PENDING, JSON.stringify(pending));
    const url = new URL(metadata.authorization_endpoint);
    const params = {
      response_type: "code",
      client_id: this.config.clientId,
      redirect_uri: pending.redirectUri,
      scope: SCOPE,
      state: pending.state,
      nonce: pending.nonce,
      code_challenge: await codeChallenge(pending.verifier),
      code_challenge_method: "S256",
    };
    // RFC 8707: the provider then issues a JWT access token for the gateway's audience
    if (this.config.audience) params.resource = this.config.audience;
    for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
    this.location.assign(url.href);
  }

  // Whether this page load is the provider sending the user back.
  isCallback() {
    const params = new URLSearchParams(this.location.search);
    return params.has("state") && (params.has("code") || params.has("error"));
  }

  // Checks the answer, exchanges the code; returns the hash the user started from.
  async completeSignIn() {
    const params = new URLSearchParams(this.location.search);
    const pending = readJson(this.storage, PENDING);
    this.storage.removeItem(PENDING); // one answer per sign-in, whatever happens
    checkState(pending?.state, params.get("state"));
    if (params.has("error")) {
      throw new SignInError(params.get("error_description") || params.get("error"));
    }
    // RFC 9207: an answer naming another issuer is a mix-up (or an attack)
    if (params.has("iss") && !sameIssuer(params.get("iss"), this.config.issuer)) {
      throw new SignInError("the sign-in answer comes from another issuer");
    }
    const metadata = await this.metadata();
    const tokens = await this.tokenRequest(metadata, {
      grant_type: "authorization_code",
      code: params.get("code"),
      redirect_uri: pending.redirectUri,
      code_verifier: pending.verifier,
    });
    if (!tokens.id_token) throw new SignInError("the identity provider sent no ID token");
    checkIdToken(tokens.id_token, { ...this.config, nonce: pending.nonce });
    this.store(tokens, null);
    return pending.returnHash || "#/";
  }

  async tokenRequest(metadata, fields) {
    const body = new URLSearchParams({ ...fields, client_id: this.config.clientId });
    if (this.config.audience) body.set("resource", this.config.audience);
    const response = await this.fetch(metadata.token_endpoint, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      body,
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok || !answer.access_token) {
      throw new SignInError(answer.error_description || answer.error || `token endpoint: HTTP ${response.status}`);
    }
    return answer;
  }

  store(answer, previous) {
    const now = Date.now();
    const exp = identity(answer.access_token).exp;
    const expiresAt = answer.expires_in ? now + answer.expires_in * 1000 : typeof exp === "number" ? exp * 1000 : now + 300_000;
    this.tokens = {
      accessToken: answer.access_token,
      refreshToken: answer.refresh_token ?? previous?.refreshToken ?? null,
      idToken: answer.id_token ?? previous?.idToken ?? null,
      issuedAt: now,
      expiresAt,
    };
    this.storage.setItem(TOKENS, JSON.stringify(this.tokens));
  }

  current() {
    if (this.tokens === undefined) this.tokens = readJson(this.storage, TOKENS);
    return this.tokens;
  }

  // The access token while it is valid, else null.
  accessToken() {
    const tokens = this.current();
    return tokens && tokens.expiresAt > Date.now() ? tokens.accessToken : null;
  }

  identity() {
    const token = this.accessToken();
    return token ? identity(token, this.config.tenantClaim || "tenant") : null;
  }

  async refresh() {
    const tokens = this.current();
    if (!tokens?.refreshToken) throw new SignInError("no refresh token");
    const metadata = await this.metadata();
    const answer = await this.tokenRequest(metadata, {
      grant_type: "refresh_token",
      refresh_token: tokens.refreshToken,
    });
    this.store(answer, tokens);
  }

  // On a page load: renew a stored token that is (nearly) expired, drop one that cannot be.
  async resume() {
    const tokens = this.current();
    if (!tokens) return;
    if (tokens.expiresAt - Date.now() > 5_000) return;
    try {
      await this.refresh();
    } catch {
      this.clear();
    }
  }

  // Renews the token ahead of its expiry (then calls onRenewed); with no refresh token,
  // or when renewing fails, calls onExpired when it expires.
  keepFresh({ onRenewed, onExpired }) {
    clearTimeout(this.timer);
    const tokens = this.current();
    if (!tokens) return;
    const now = Date.now();
    const expired = () => {
      this.timer = setTimeout(onExpired, Math.max(0, tokens.expiresAt - Date.now()));
    };
    if (!tokens.refreshToken) {
      expired();
      return;
    }
    const ahead = Math.min(RENEW_AHEAD_MS, (tokens.expiresAt - tokens.issuedAt) / 4);
    this.timer = setTimeout(async () => {
      try {
        await this.refresh();
      } catch (error) {
        console.warn("token renewal failed", error);
        expired();
        return;
      }
      onRenewed();
      this.keepFresh({ onRenewed, onExpired });
    }, Math.max(0, tokens.expiresAt - ahead - now));
  }

  clear() {
    clearTimeout(this.timer);
    this.timer = null;
    this.tokens = null;
    this.storage.removeItem(TOKENS);
  }

  // Forgets the tokens; with an end_session endpoint, leaves for it (returns true).
  async signOut() {
    const tokens = this.current();
    this.clear();
    let endpoint;
    try {
      endpoint = (await this.metadata()).end_session_endpoint ?? null;
    } catch {
      endpoint = null; // the provider is unreachable: signed out here all the same
    }
    if (!endpoint || !tokens) return false;
    const url = new URL(endpoint);
    url.searchParams.set("client_id", this.config.clientId);
    url.searchParams.set("post_logout_redirect_uri", this.redirectUri);
    if (tokens.idToken) url.searchParams.set("id_token_hint", tokens.idToken);
    this.location.assign(url.href);
    return true;
  }
}

function readJson(storage, key) {
  try {
    const value = JSON.parse(storage.getItem(key) ?? "null");
    return value && typeof value === "object" ? value : null;
  } catch {
    return null;
  }
}
