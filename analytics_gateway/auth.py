"""API keys: creation, hashing, and turning credentials into a `Principal`.

A key reads `agk_<key_id>_<secret>`. Only the SHA-256 of the whole key is
stored; the tenant and scopes come from the stored record, never from input.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Iterable, Mapping

from analytics_gateway.backends.base import ConfigStore
from analytics_gateway.domain import ApiKeyRecord, Principal, Scope
from analytics_gateway.errors import BadUserInput, Forbidden, Unauthenticated
from analytics_gateway.key_memory import KeyLookup

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


async def create_key(
    store: ConfigStore, tenant: str, scopes: frozenset[Scope], description: str = ""
) -> tuple[ApiKeyRecord, str]:
    """Create and store a key; return its record and the key text (shown once)."""
    key_id = secrets.token_hex(6)
    key = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(24)}"
    record = ApiKeyRecord(
        key_id=key_id,
        tenant=validate_tenant(tenant),
        scopes=scopes,
        created_at_ms=int(time.time() * 1000),
        description=description,
    )
    await store.create_key(record, hash_key(key))
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


async def authenticate(keys: KeyLookup, key: str | None) -> Principal:
    """The key's principal, looked up in `keys`: the config store, or the app's
    `KeyMemory` over it (which also answers through a config-store outage)."""
    if not key:
        raise Unauthenticated(
            "missing credentials: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"
        )
    if not key.startswith(KEY_PREFIX):
        raise Unauthenticated("invalid API key")
    record = await keys.key_by_hash(hash_key(key))
    if record is None or record.revoked:
        raise Unauthenticated("invalid or revoked API key")
    return Principal(tenant=record.tenant, key_id=record.key_id, scopes=record.scopes)


def require(principal: Principal | None, scope: Scope) -> Principal:
    if principal is None:
        raise Unauthenticated("missing credentials")
    if not principal.has(scope):
        raise Forbidden(f"this API key lacks the {scope.value!r} scope", scope=scope.value)
    return principal
