"""API keys: creation, expiry, rotation, hashing, and turning credentials into a `Principal`.

A key reads `agk_<key_id>_<secret>`. Only the SHA-256 of the whole key is
stored; the tenant and scopes come from the stored record, never from input.
A key may expire; rotating it gives it a new secret under the same id, and
the old secret keeps working for a grace period so that clients can switch
over. `Authenticator` takes either a key or, when an identity provider is
configured, one of its access tokens (`oidc`).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Protocol

from analytics_gateway.backends.base import ConfigStore
from analytics_gateway.domain import ApiKeyRecord, Principal, Scope
from analytics_gateway.errors import BadUserInput, Forbidden, NotFound, Unauthenticated
from analytics_gateway.key_memory import KeyLookup, KeyMemory, KeyUsage

KEY_PREFIX = "agk_"
_TENANT_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def parse_scopes(text: str | Iterable[str]) -> frozenset[Scope]:
    items = text.split(",") if isinstance(text, str) else list(text)
    scopes: set[Scope] = set()
    for item in (i.strip().lower() for i in items):
        if not item:
            continue
        try:
            scopes.add(Scope(item))
        except ValueError:
            raise BadUserInput(
                f"unknown scope {item!r}; use ingest, read, write or admin"
            ) from None
    if not scopes:
        raise BadUserInput("at least one scope is needed (ingest, read, write, admin)")
    return frozenset(scopes)


def validate_tenant(tenant: str) -> str:
    if not tenant or len(tenant) > 64 or not set(tenant) <= _TENANT_CHARS:
        raise BadUserInput(
            f"tenant {tenant!r} must be 1-64 characters of letters, digits, '_', '-' or '.'"
        )
    return tenant


def _now_ms() -> int:
    return int(time.time() * 1000)


def _key_text(key_id: str) -> str:
    return f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(24)}"


async def create_key(
    store: ConfigStore,
    tenant: str,
    scopes: frozenset[Scope],
    description: str = "",
    expires_in_ms: int | None = None,
    now_ms: int | None = None,
) -> tuple[ApiKeyRecord, str]:
    """Create and store a key; return its record and the key text (shown once)."""
    key_id = secrets.token_hex(6)
    key = _key_text(key_id)
    created = _now_ms() if now_ms is None else now_ms
    record = ApiKeyRecord(
        key_id=key_id,
        tenant=validate_tenant(tenant),
        scopes=scopes,
        created_at_ms=created,
        description=description,
        expires_at_ms=None if expires_in_ms is None else created + expires_in_ms,
    )
    await store.create_key(record, hash_key(key))
    return record, key


async def rotate_key(
    store: ConfigStore,
    key_id: str,
    grace_ms: int,
    tenant: str | None = None,
    now_ms: int | None = None,
) -> tuple[ApiKeyRecord, str]:
    """Give a key a new secret; its current one works `grace_ms` longer. With `tenant`,
    only a key of that tenant (any other is NOT_FOUND, as if it did not exist)."""
    now = _now_ms() if now_ms is None else now_ms
    found = [r for r in await store.list_keys(tenant) if r.key_id == key_id]
    if not found:
        raise NotFound(f"no key with id {key_id!r}")
    if found[0].revoked:
        raise BadUserInput(f"key {key_id!r} is revoked; create a new one")
    if found[0].expires_at_ms is not None and found[0].expires_at_ms <= now:
        raise BadUserInput(f"key {key_id!r} has expired; create a new one")
    key = _key_text(key_id)
    record = await store.rotate_key(key_id, hash_key(key), now + grace_ms)
    if record is None:
        raise NotFound(f"no key with id {key_id!r}")
    return record, key


def credential_from(headers: Mapping[str, str]) -> str | None:
    """The key from `Authorization: Bearer`, `X-API-Key`, or WebSocket params."""
    lowered = {k.lower(): v for k, v in headers.items() if isinstance(v, str)}
    auth = lowered.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        raise Unauthenticated(
            "the Authorization header must read 'Bearer <key>' (or send 'X-API-Key: <key>')"
        )
    for name in ("x-api-key", "apikey", "api_key"):
        if lowered.get(name):
            return lowered[name].strip()
    return None


async def authenticate(keys: KeyLookup, key: str | None, now_ms: int | None = None) -> Principal:
    """The key's principal, looked up in `keys`: the config store, or the app's
    `KeyMemory` over it (which also answers through a config-store outage)."""
    return _principal(await _valid_record(keys, key, now_ms))


async def _valid_record(keys: KeyLookup, key: str | None, now_ms: int | None) -> ApiKeyRecord:
    if not key:
        raise Unauthenticated(
            "missing credentials: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"
        )
    if not key.startswith(KEY_PREFIX):
        raise Unauthenticated("invalid API key")
    record = await keys.key_by_hash(hash_key(key))
    if record is None or record.revoked:
        raise Unauthenticated("invalid or revoked API key")
    now = _now_ms() if now_ms is None else now_ms
    if record.expires_at_ms is not None and record.expires_at_ms <= now:
        raise Unauthenticated("key expired")
    return record


def _principal(record: ApiKeyRecord) -> Principal:
    return Principal(
        tenant=record.tenant,
        key_id=record.key_id,
        scopes=record.scopes,
        expires_at_ms=record.expires_at_ms,
    )


class TokenVerifier(Protocol):
    """What checks an identity provider's access tokens (`oidc.IdentityProvider`)."""

    async def verify(self, token: str) -> Principal: ...


class Authenticator:
    """The app's one way from a credential to a principal: an API key, or a token of
    the identity provider when one is configured. Notes each key's use in `usage`, and
    tells `on_sign_in` of every principal it hands out, with the time it read (the audit
    trail's sign-ins: one clock read serves both)."""

    def __init__(
        self,
        keys: KeyLookup,
        tokens: TokenVerifier | None = None,
        usage: KeyUsage | None = None,
        clock: Callable[[], int] = _now_ms,
        on_sign_in: Callable[[Principal, int], None] | None = None,
    ) -> None:
        self._keys = keys
        self.tokens = tokens
        """The identity provider's verifier; None when none is configured."""
        self._usage = usage
        self._clock = clock
        self._on_sign_in = on_sign_in

    def recent_tenant(self, credential: str | None) -> str | None:
        """The tenant of an API key verified lately (see `KeyMemory`), without asking
        the store; None when unknown. Only ever used to refuse sooner, never to admit."""
        if not credential or not credential.startswith(KEY_PREFIX):
            return None
        if not isinstance(self._keys, KeyMemory):
            return None
        return self._keys.recent_tenant(hash_key(credential))

    async def authenticate(self, credential: str | None) -> Principal:
        now = self._clock()
        if credential and _is_token(credential):
            if self.tokens is None:
                raise Unauthenticated(
                    "tokens from an identity provider are not accepted here (no OIDC issuer "
                    "is configured); use an API key"
                )
            principal = await self.tokens.verify(credential)
        else:
            record = await _valid_record(self._keys, credential, now)
            if self._usage is not None:
                self._usage.note(record.key_id, now)
            principal = _principal(record)
        if self._on_sign_in is not None:
            self._on_sign_in(principal, now)
        return principal


def _is_token(credential: str) -> bool:
    """Three base64url parts joined by dots: a JWT (keys have no dots)."""
    parts = credential.split(".")
    return len(parts) == 3 and all(set(p) <= _BASE64URL for p in parts) and all(parts[:2])


_BASE64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def require(principal: Principal | None, scope: Scope) -> Principal:
    if principal is None:
        raise Unauthenticated("missing credentials")
    if not principal.has(scope):
        holder = "token" if principal.subject is not None else "API key"
        raise Forbidden(f"this {holder} lacks the {scope.value!r} scope", scope=scope.value)
    return principal
