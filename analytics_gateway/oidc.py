"""Access tokens from the operator's identity provider: the gateway as an OIDC resource server.

A caller may send `Authorization: Bearer <jwt>` (or put it in the WebSocket
`connection_init` payload) instead of an API key. The token is verified with
PyJWT against the provider's published keys:

- only RS256, ES256 and EdDSA: never `none`, never HMAC (a public key used as
  an HMAC secret would let anyone sign), and the key must be of the header's
  algorithm;
- `iss` must be the configured issuer, `aud` the configured audience, `exp`
  and `sub` present; `exp`, `nbf` (when present: not every provider sets it)
  and `iat` are checked with `LEEWAY_SECONDS` for clock skew;
- the tenant comes from the tenant claim (the same rule as key tenants), the
  scopes from the scope claim (space-separated or a list; values other than
  ingest, read, write and admin are ignored).

The provider's keys (JWKS) come from `ANALYTICS_OIDC_JWKS_URL`, else from the
`jwks_uri` of `<issuer>/.well-known/openid-configuration`. They are fetched on
first use and kept; a token naming an unknown `kid` fetches them again, at
most once per `ANALYTICS_OIDC_JWKS_REFRESH_SECONDS` (10 s) and once at a
time (concurrent requests wait for the same fetch), so the provider can
rotate keys without a gateway restart while made-up `kid`s cannot flood it.

The issuer and its URLs are operator configuration, never tenant input, so
fetching them is not tenant egress: the egress policy (`egress`) does not
apply to them, and loopback or private providers work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from analytics_gateway.auth import validate_tenant
from analytics_gateway.config import Settings
from analytics_gateway.domain import Principal, Scope
from analytics_gateway.errors import BackendUnavailable, BadUserInput, Unauthenticated

log = logging.getLogger(__name__)

ALGORITHMS = frozenset({"RS256", "ES256", "EdDSA"})
LEEWAY_SECONDS = 30
DISCOVERY_PATH = "/.well-known/openid-configuration"


@dataclass(frozen=True)
class OidcConfig:
    issuer: str
    audience: str
    jwks_url: str = ""
    tenant_claim: str = "tenant"
    scope_claim: str = "scope"
    refresh_seconds: float = 10.0

    @classmethod
    def of_settings(cls, settings: Settings) -> OidcConfig | None:
        """The settings' provider, or None when `ANALYTICS_OIDC_ISSUER` is not set."""
        if not settings.oidc_issuer:
            return None
        return cls(
            issuer=settings.oidc_issuer,
            audience=settings.oidc_audience,
            jwks_url=settings.oidc_jwks_url,
            tenant_claim=settings.oidc_tenant_claim,
            scope_claim=settings.oidc_scope_claim,
            refresh_seconds=settings.oidc_jwks_refresh_seconds,
        )


class SigningKeys:
    """The provider's public keys by `kid`: fetched, kept, fetched again on an unknown one."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        config: OidcConfig,
        refresh_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._config = config
        self._refresh_seconds = refresh_seconds
        self._clock = clock
        self._keys: dict[str | None, jwt.PyJWK] | None = None
        self._fetched_at = -float("inf")
        self._fetching: asyncio.Task[None] | None = None
        self.fetches = 0
        """How many times the keys were fetched (for tests and logs)."""

    async def key(self, kid: str | None) -> jwt.PyJWK | None:
        """The key named `kid` (with no `kid`: the only key, if there is one)."""
        if self._keys is None:
            if self._clock() - self._fetched_at < self._refresh_seconds and not self._fetching:
                # the last fetch failed a moment ago: ask again only once it is due
                raise BackendUnavailable("identity provider keys: not fetched yet", backend="oidc")
            await self._fetch_once()
        found = self._lookup(kid)
        if found is None and self._clock() - self._fetched_at >= self._refresh_seconds:
            await self._fetch_once()
            found = self._lookup(kid)
        return found

    def _lookup(self, kid: str | None) -> jwt.PyJWK | None:
        keys = self._keys or {}
        if kid is None:
            named = list(keys.values())
            return named[0] if len(named) == 1 else None
        return keys.get(kid)

    async def _fetch_once(self) -> None:
        """Fetch now, or wait for the fetch already under way (a caller that gives up
        does not cancel it for the others)."""
        if self._fetching is None:
            self._fetching = asyncio.create_task(self._fetch(), name="oidc-jwks")
            self._fetching.add_done_callback(self._fetched)
        await asyncio.shield(self._fetching)

    def _fetched(self, task: asyncio.Task[None]) -> None:
        if self._fetching is task:
            self._fetching = None
        if not task.cancelled():
            task.exception()  # retrieved: the callers still waiting raise it themselves

    async def close(self) -> None:
        if self._fetching is not None:
            self._fetching.cancel()
            with contextlib.suppress(asyncio.CancelledError, BackendUnavailable):
                await self._fetching

    async def _fetch(self) -> None:
        self._fetched_at = self._clock()  # a failure counts too: no retry storm
        self.fetches += 1
        try:
            url = self._config.jwks_url or await self._discovered_jwks_url()
            document = await self._get_json(url)
            keys = {key.key_id: key for key in _usable_keys(document)}
        except (httpx.HTTPError, ValueError, jwt.PyJWTError) as exc:
            log.warning("could not fetch the identity provider's signing keys: %s", exc)
            if self._keys is None:
                raise BackendUnavailable(f"identity provider keys: {exc}", backend="oidc") from exc
            return  # keep the keys we had
        log.info("identity provider signing keys: %s", ", ".join(map(str, keys)) or "none")
        self._keys = keys

    async def _discovered_jwks_url(self) -> str:
        issuer = self._config.issuer.rstrip("/")
        document = await self._get_json(issuer + DISCOVERY_PATH)
        url = document.get("jwks_uri")
        if not isinstance(url, str) or not url:
            raise ValueError(f"{issuer}{DISCOVERY_PATH} names no jwks_uri")
        return url

    async def _get_json(self, url: str) -> dict[str, Any]:
        response = await self._client.get(url, headers={"Accept": "application/json"})
        response.raise_for_status()
        document = response.json()
        if not isinstance(document, dict):
            raise ValueError(f"{url} did not answer a JSON object")
        return document


def _usable_keys(document: dict[str, Any]) -> list[jwt.PyJWK]:
    """The signing keys of a JWKS document in an accepted algorithm; others are skipped."""
    usable: list[jwt.PyJWK] = []
    for data in document.get("keys") or []:
        if not isinstance(data, dict) or data.get("use", "sig") != "sig":
            continue
        with contextlib.suppress(jwt.PyJWTError, ValueError, TypeError, KeyError):
            key = jwt.PyJWK(data)
            if key.algorithm_name in ALGORITHMS:
                usable.append(key)
    return usable


class IdentityProvider:
    """Turns the provider's access tokens into principals (see the module docstring)."""

    def __init__(
        self,
        config: OidcConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = config
        self._client = httpx.AsyncClient(
            transport=transport, timeout=5.0, headers={"User-Agent": "analytics-gateway"}
        )
        self.keys = SigningKeys(self._client, config, config.refresh_seconds)

    async def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthenticated("malformed token") from None
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise Unauthenticated(
                f"token algorithm {str(alg)[:16]!r} is not accepted (RS256, ES256 or EdDSA)"
            )
        kid = header.get("kid")
        key = await self.keys.key(kid if isinstance(kid, str) else None)
        if key is None:
            raise Unauthenticated("token signed by an unknown key")
        if key.algorithm_name != alg:
            raise Unauthenticated("token algorithm does not match its signing key")
        claims = _decoded(token, key, alg, self.config)
        return self._principal(claims)

    def _principal(self, claims: dict[str, Any]) -> Principal:
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise Unauthenticated("token has no subject (sub)")
        tenant = claims.get(self.config.tenant_claim)
        if not isinstance(tenant, str):
            raise Unauthenticated(f"token has no {self.config.tenant_claim!r} claim")
        try:
            validate_tenant(tenant)
        except BadUserInput:
            raise Unauthenticated(
                f"token's {self.config.tenant_claim!r} claim is not a tenant name"
            ) from None
        return Principal(
            tenant=tenant,
            key_id=f"jwt:{subject}",
            scopes=token_scopes(claims.get(self.config.scope_claim)),
            subject=subject,
            expires_at_ms=int(claims["exp"]) * 1000,
        )

    async def close(self) -> None:
        await self.keys.close()
        await self._client.aclose()


def token_scopes(claim: object) -> frozenset[Scope]:
    """The gateway scopes a scope claim grants; other values are the provider's business."""
    items: Iterable[object] = claim.split() if isinstance(claim, str) else ()
    if isinstance(claim, list):
        items = claim
    known = {scope.value: scope for scope in Scope}
    return frozenset(known[item] for item in items if isinstance(item, str) and item in known)


_REFUSALS: list[tuple[type[jwt.PyJWTError], str]] = [
    (jwt.ExpiredSignatureError, "token expired"),
    (jwt.ImmatureSignatureError, "token not yet valid"),
    (jwt.InvalidAudienceError, "token is not for this gateway (aud)"),
    (jwt.InvalidIssuerError, "token is not from the configured issuer (iss)"),
    (jwt.InvalidSignatureError, "token signature does not verify"),
]


def _decoded(token: str, key: jwt.PyJWK, alg: str, config: OidcConfig) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key.key,
            algorithms=[alg],
            audience=config.audience,
            issuer=config.issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iss", "aud", "sub"]},
        )
    except jwt.MissingRequiredClaimError as exc:
        raise Unauthenticated(f"token has no {exc.claim!r} claim") from None
    except jwt.PyJWTError as exc:
        reason = next((text for kind, text in _REFUSALS if isinstance(exc, kind)), None)
        raise Unauthenticated(reason or "invalid token") from None
    return claims
