"""API keys of the caller's tenant, for its admins: list, create, rotate, revoke."""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry

from analytics_gateway.auth import create_key, parse_scopes, rotate_key
from analytics_gateway.context import Info
from analytics_gateway.domain import ApiKeyRecord, Scope
from analytics_gateway.durations import parse_duration_ms
from analytics_gateway.schema.keys import ApiKey, ApiKeySecret

DEFAULT_GRACE = "24h"


def _time(epoch_ms: int | None) -> datetime | None:
    return None if epoch_ms is None else datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)


def to_api_key(record: ApiKeyRecord) -> ApiKey:
    return ApiKey(
        id=strawberry.ID(record.key_id),
        scopes=sorted(scope.value for scope in record.scopes),
        description=record.description,
        created_at=datetime.fromtimestamp(record.created_at_ms / 1000, tz=UTC),
        expires_at=_time(record.expires_at_ms),
        last_used_at=_time(record.last_used_at_ms),
        previous_secret_until=_time(record.previous_until_ms),
        revoked=record.revoked,
    )


async def resolve_api_keys(info: Info) -> list[ApiKey]:
    principal = info.context.require(Scope.ADMIN)
    records = await info.context.services.backends.config.list_keys(principal.tenant)
    return [to_api_key(record) for record in records]


async def resolve_create_api_key(
    info: Info, scopes: list[str], description: str, expires_in: str | None
) -> ApiKeySecret:
    principal = info.context.require(Scope.ADMIN)
    services = info.context.services
    expires = None if expires_in is None else parse_duration_ms(expires_in, field="expiresIn")
    record, key = await create_key(
        services.backends.config,
        principal.tenant,
        parse_scopes(scopes),
        description,
        expires,
        now_ms=services.clock(),
    )
    return ApiKeySecret(api_key=to_api_key(record), secret=key)


async def resolve_rotate_api_key(info: Info, key_id: str, grace: str) -> ApiKeySecret:
    principal = info.context.require(Scope.ADMIN)
    services = info.context.services
    record, key = await rotate_key(
        services.backends.config,
        key_id,
        parse_duration_ms(grace, field="grace"),
        tenant=principal.tenant,
        now_ms=services.clock(),
    )
    return ApiKeySecret(api_key=to_api_key(record), secret=key)


async def resolve_revoke_api_key(info: Info, key_id: str) -> bool:
    principal = info.context.require(Scope.ADMIN)
    store = info.context.services.backends.config
    if not any(r.key_id == key_id for r in await store.list_keys(principal.tenant)):
        return False
    return await store.revoke_key(key_id)
