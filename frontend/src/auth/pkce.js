// The pure parts of signing in with an identity provider: PKCE (RFC 7636), the random
// `state` and `nonce`, and reading a JWT's claims. Reading, not verifying: the tokens
// come straight from the provider's token endpoint, and the gateway verifies every
// access token it is sent; the UI only shows the claims and checks `nonce`/`aud`.

// RFC 7636 section 4.1: a verifier is 43-128 characters of [A-Z] [a-z] [0-9] - . _ ~
export const UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
export const VERIFIER_LENGTH = 64;

export class SignInError extends Error {}

// `length` characters of UNRESERVED from crypto.getRandomValues, each equally likely
// (bytes at or above the largest multiple of 66 are drawn again).
export function randomString(length = VERIFIER_LENGTH, random = globalThis.crypto) {
  const limit = 256 - (256 % UNRESERVED.length);
  let out = "";
  while (out.length < length) {
    for (const byte of random.getRandomValues(new Uint8Array(length))) {
      if (byte < limit && out.length < length) out += UNRESERVED[byte % UNRESERVED.length];
    }
  }
  return out;
}

export const codeVerifier = () => randomString(VERIFIER_LENGTH);

export function base64url(bytes) {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

// S256: BASE64URL(SHA-256(ASCII(verifier))).
export async function codeChallenge(verifier, subtle = globalThis.crypto.subtle) {
  const digest = await subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

// The payload of a JWT, unverified (see above). Throws SignInError when it is not one.
export function jwtClaims(token) {
  const parts = String(token ?? "").split(".");
  if (parts.length !== 3) throw new SignInError("not a JWT");
  try {
    const base64 = parts[1].replace(/-/g, "+").replace(/_/g, "/");
    const binary = atob(base64.padEnd(base64.length + ((4 - (base64.length % 4)) % 4), "="));
    const bytes = Uint8Array.from(binary, (char) => char.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    if (!claims || typeof claims !== "object" || Array.isArray(claims)) throw new Error("not an object");
    return claims;
  } catch {
    throw new SignInError("the token's claims cannot be read");
  }
}

// The provider must send back the `state` this tab sent: else the answer belongs to
// another sign-in (or was forged), and is refused.
export function checkState(expected, received) {
  if (!expected || !received || expected !== received) {
    throw new SignInError("the sign-in answer does not match this tab's sign-in (state)");
  }
}

const sameIssuer = (a, b) => String(a ?? "").replace(/\/+$/, "") === String(b ?? "").replace(/\/+$/, "");

// The ID token must be for this sign-in (`nonce`), from this issuer, for this client.
export function checkIdToken(idToken, { issuer, clientId, nonce }) {
  const claims = jwtClaims(idToken);
  if (!nonce || claims.nonce !== nonce) {
    throw new SignInError("the ID token is not for this sign-in (nonce)");
  }
  if (!sameIssuer(claims.iss, issuer)) throw new SignInError("the ID token is from another issuer");
  const audience = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!audience.includes(clientId)) throw new SignInError("the ID token is for another client");
  return claims;
}

// Who the access token names, for display only: its subject and tenant.
export function identity(accessToken, tenantClaim = "tenant") {
  try {
    const claims = jwtClaims(accessToken);
    return { sub: String(claims.sub ?? ""), tenant: String(claims[tenantClaim] ?? ""), exp: claims.exp };
  } catch {
    return { sub: "", tenant: "", exp: undefined };
  }
}

export { sameIssuer };
