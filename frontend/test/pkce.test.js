import assert from "node:assert/strict";
import { test } from "node:test";
import { OidcSession } from "../src/auth/oidc.js";
import {
  UNRESERVED,
  base64url,
  checkIdToken,
  checkState,
  codeChallenge,
  codeVerifier,
  identity,
  jwtClaims,
  randomString,
  SignInError,
} from "../src/auth/pkce.js";

const unsignedJwt = (claims) =>
  `${base64url(new TextEncoder().encode('{"alg":"none"}'))}.${base64url(new TextEncoder().encode(JSON.stringify(claims)))}.sig`;

test("a code verifier is 64 unreserved characters, new every time", () => {
  const verifiers = new Set();
  for (let i = 0; i < 200; i += 1) {
    const verifier = codeVerifier();
    assert.equal(verifier.length, 64);
    assert.match(verifier, /^[A-Za-z0-9\-._~]+$/);
    verifiers.add(verifier);
  }
  assert.equal(verifiers.size, 200);
  assert.equal(UNRESERVED.length, 66);
});

test("random strings use every unreserved character, and only those", () => {
  const seen = new Set(randomString(20_000));
  assert.deepEqual([...seen].sort(), [...UNRESERVED].sort());
});

test("random strings skip the bytes that would favour some characters", () => {
  // 198 = 3 x 66: bytes 198-255 are drawn again, so a byte of 200 never yields a character
  const bytes = [200, 0, 255, 65, 197];
  const random = {
    getRandomValues(array) {
      array.fill(0);
      array.set(bytes.splice(0, array.length));
      return array;
    },
  };
  assert.equal(randomString(3, random), "A~~"); // 0 -> A, 65 -> ~, 197 (= 2 x 66 + 65) -> ~
});

test("the S256 challenge of RFC 7636's example verifier (appendix B)", async () => {
  const challenge = await codeChallenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
  assert.equal(challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
});

test("base64url has no padding and no + or /", () => {
  assert.equal(base64url(new Uint8Array([0xfb, 0xff, 0xfe])), "-__-");
  assert.equal(base64url(new Uint8Array([1])), "AQ");
});

test("state must be the one this tab sent", () => {
  checkState("abc", "abc");
  assert.throws(() => checkState("abc", "abd"), SignInError);
  assert.throws(() => checkState("abc", null), SignInError);
  assert.throws(() => checkState(undefined, "abc"), SignInError); // no sign-in started here
  assert.throws(() => checkState("", ""), SignInError);
});

test("the ID token must carry this sign-in's nonce, issuer and client", () => {
  const expected = { issuer: "http://127.0.0.1:9000", clientId: "ui", nonce: "n-1" };
  const good = { iss: "http://127.0.0.1:9000/", aud: "ui", nonce: "n-1", sub: "alice" };
  assert.equal(checkIdToken(unsignedJwt(good), expected).sub, "alice");
  assert.equal(checkIdToken(unsignedJwt({ ...good, aud: ["x", "ui"] }), expected).sub, "alice");
  assert.throws(() => checkIdToken(unsignedJwt({ ...good, nonce: "n-2" }), expected), /nonce/);
  assert.throws(() => checkIdToken(unsignedJwt({ ...good, nonce: undefined }), expected), /nonce/);
  assert.throws(() => checkIdToken(unsignedJwt(good), { ...expected, nonce: "" }), /nonce/);
  assert.throws(() => checkIdToken(unsignedJwt({ ...good, iss: "http://evil" }), expected), /issuer/);
  assert.throws(() => checkIdToken(unsignedJwt({ ...good, aud: "other" }), expected), /client/);
  assert.throws(() => checkIdToken("not-a-jwt", expected), SignInError);
});

test("claims are read from a JWT's payload (base64url, UTF-8)", () => {
  const token = unsignedJwt({ sub: "zoë", tenant: "acme", exp: 1 });
  assert.deepEqual(jwtClaims(token), { sub: "zoë", tenant: "acme", exp: 1 });
  assert.deepEqual(identity(token), { sub: "zoë", tenant: "acme", exp: 1 });
  assert.equal(identity(unsignedJwt({ sub: "a", org: "globex" }), "org").tenant, "globex");
  assert.equal(identity("garbage").sub, "");
  assert.throws(() => jwtClaims("a.!!!.c"), SignInError);
});

function fakeBrowser(search = "") {
  const items = new Map();
  const storage = {
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => items.set(key, String(value)),
    removeItem: (key) => items.delete(key),
  };
  const location = { origin: "http://127.0.0.1:8000", pathname: "/", search, assigned: null };
  location.assign = (url) => {
    location.assigned = url;
  };
  return { items, storage, location };
}

const ISSUER = "http://127.0.0.1:9000";
const METADATA = {
  issuer: ISSUER,
  authorization_endpoint: `${ISSUER}/auth`,
  token_endpoint: `${ISSUER}/token`,
  end_session_endpoint: `${ISSUER}/session/end`,
};
const CONFIG = { issuer: ISSUER, clientId: "ui", audience: "https://gw", tenantClaim: "tenant" };

function fakeProvider(requests, token) {
  return async (url, init = {}) => {
    requests.push({ url, body: init.body ? new URLSearchParams(init.body) : null });
    const body = url.endsWith("openid-configuration") ? METADATA : token(new URLSearchParams(init.body));
    return { ok: true, status: 200, json: async () => body };
  };
}

test("signing in: PKCE and state out, the code exchanged with the verifier, nonce checked", async () => {
  const browser = fakeBrowser();
  const requests = [];
  let nonce = null;
  const fetch = fakeProvider(requests, (form) => ({
    access_token: unsignedJwt({ sub: "alice", tenant: "acme" }),
    refresh_token: "r1",
    expires_in: 30,
    id_token: unsignedJwt({ iss: ISSUER, aud: "ui", nonce: form.get("code") === "c1" ? nonce : "x" }),
  }));
  const session = new OidcSession(CONFIG, { storage: browser.storage, fetch, location: browser.location });
  await session.signIn("#/d/x");
  const sent = new URL(browser.location.assigned);
  assert.equal(sent.origin + sent.pathname, `${ISSUER}/auth`);
  const params = sent.searchParams;
  assert.equal(params.get("code_challenge_method"), "S256");
  assert.equal(params.get("redirect_uri"), "http://127.0.0.1:8000/");
  assert.equal(params.get("resource"), "https://gw");
  nonce = params.get("nonce");
  const pending = JSON.parse(browser.items.get("analytics-gateway.oidc-pending"));
  assert.equal(params.get("code_challenge"), await codeChallenge(pending.verifier));

  browser.location.search = `?code=c1&state=${params.get("state")}`;
  const back = new OidcSession(CONFIG, { storage: browser.storage, fetch, location: browser.location });
  assert.ok(back.isCallback());
  assert.equal(await back.completeSignIn(), "#/d/x");
  const exchange = requests.at(-1).body;
  assert.equal(exchange.get("grant_type"), "authorization_code");
  assert.equal(exchange.get("code_verifier"), pending.verifier);
  assert.equal(exchange.get("client_id"), "ui");
  assert.deepEqual(back.identity(), { sub: "alice", tenant: "acme", exp: undefined });
  assert.ok(!browser.items.has("analytics-gateway.oidc-pending")); // one use only
  assert.ok(browser.items.has("analytics-gateway.oidc-tokens"));

  // the same answer again (a reload of the callback address) is refused
  await assert.rejects(back.completeSignIn(), /state/);

  // sign-out forgets the tokens and goes to the provider's end_session endpoint
  assert.equal(await back.signOut(), true);
  assert.ok(!browser.items.has("analytics-gateway.oidc-tokens"));
  const end = new URL(browser.location.assigned);
  assert.equal(end.pathname, "/session/end");
  assert.equal(end.searchParams.get("post_logout_redirect_uri"), "http://127.0.0.1:8000/");
  assert.ok(end.searchParams.get("id_token_hint"));
});

test("an answer with another state is refused before any code exchange", async () => {
  const browser = fakeBrowser();
  const requests = [];
  const fetch = fakeProvider(requests, () => assert.fail("no token request"));
  const session = new OidcSession(CONFIG, { storage: browser.storage, fetch, location: browser.location });
  await session.signIn("");
  browser.location.search = "?code=c1&state=forged";
  await assert.rejects(session.completeSignIn(), SignInError);
  assert.ok(requests.every((request) => request.body === null));
  assert.equal(session.accessToken(), null);
});

test("refresh keeps the refresh token when the provider sends no new one", async () => {
  const browser = fakeBrowser();
  const requests = [];
  const fetch = fakeProvider(requests, () => ({ access_token: unsignedJwt({ sub: "a", n: 2 }), expires_in: 30 }));
  const session = new OidcSession(CONFIG, { storage: browser.storage, fetch, location: browser.location });
  session.store({ access_token: unsignedJwt({ sub: "a", n: 1 }), refresh_token: "r1", id_token: "i", expires_in: 30 }, null);
  await session.refresh();
  const form = requests.at(-1).body;
  assert.equal(form.get("grant_type"), "refresh_token");
  assert.equal(form.get("refresh_token"), "r1");
  assert.equal(jwtClaims(session.accessToken()).n, 2);
  assert.equal(session.current().refreshToken, "r1");
  assert.equal(session.current().idToken, "i");
});
