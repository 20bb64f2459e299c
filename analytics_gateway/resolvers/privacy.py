"""Resolvers for personal data: erase a user, set and show retention and sensitive
metadata keys (admin for changes)."""

from __future__ import annotations

from analytics_gateway.context import Info
from analytics_gateway.domain import Scope
from analytics_gateway.errors import BadUserInput
from analytics_gateway.observability import correlation_id
from analytics_gateway.privacy.retention import RetentionPolicy
from analytics_gateway.schema.metrics import to_datetime
from analytics_gateway.schema.privacy import ErasureReceipt, Retention, StoreCount

MAX_USER_ID = 256  # what ingest accepts


def to_retention(policy: RetentionPolicy) -> Retention:
    return Retention(events=policy.events, metrics=policy.metrics)


async def resolve_erase_user(info: Info, user_id: str) -> ErasureReceipt:
    principal = info.context.require(Scope.ADMIN)
    if not user_id or len(user_id) > MAX_USER_ID:
        raise BadUserInput(
            f"userId must be 1 to {MAX_USER_ID} characters, as ingest takes it", field="userId"
        )
    services = info.context.services
    receipt = await services.privacy.erasure.erase(
        principal.tenant,
        user_id,
        principal.actor,
        audit=services.audit,
        request_id=correlation_id.get(),
        models=services.ml.recommender.forget_users,
    )
    return ErasureReceipt(
        user_id=receipt.user_id,
        erased_at=to_datetime(receipt.erased_at_ms),
        counts=[StoreCount(store=c.store, deleted=c.deleted) for c in receipt.counts],
        audit_id=receipt.audit_id,
    )


async def resolve_set_retention(info: Info, events: str | None, metrics: str | None) -> Retention:
    principal = info.context.require(Scope.ADMIN)
    retention = info.context.services.privacy.retention
    return to_retention(await retention.set(principal.tenant, events, metrics))


async def resolve_retention(info: Info) -> Retention:
    principal = info.context.require(Scope.READ)
    return to_retention(await info.context.services.privacy.retention.policy(principal.tenant))


async def resolve_set_sensitive_keys(info: Info, keys: list[str]) -> list[str]:
    principal = info.context.require(Scope.ADMIN)
    return await info.context.services.privacy.sensitive.set(principal.tenant, keys)


async def resolve_sensitive_keys(info: Info) -> list[str]:
    principal = info.context.require(Scope.READ)
    return sorted(await info.context.services.privacy.sensitive.keys(principal.tenant))
