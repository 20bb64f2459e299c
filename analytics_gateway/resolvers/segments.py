"""Resolvers for `userFeatures`, `userSegments` and `churnRisk`: authorise, check, ask the
event store's feature side, fit in an ML worker (off the event loop, within the tenant's
`ml_jobs` quota), shape the answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from analytics_gateway import query_cost
from analytics_gateway.backends.base import UserActivity
from analytics_gateway.behaviour import churn, segments
from analytics_gateway.behaviour.features import (
    DEFAULT_RANGE_MS,
    UserFeatures,
    activity_query,
    all_features,
    check_range,
    matrix,
)
from analytics_gateway.context import Info
from analytics_gateway.domain import Principal, Scope
from analytics_gateway.errors import BadUserInput
from analytics_gateway.inputs import metric_name, time_range
from analytics_gateway.services import Services

MAX_FIRST = 1_000


@dataclass(frozen=True)
class Segmentation:
    start_ms: int
    end_ms: int
    users: int
    k: int
    silhouette: float | None
    segments: list[segments.Segment]


@dataclass(frozen=True)
class ChurnRisk:
    start_ms: int
    end_ms: int
    cutoff_ms: int
    scored_users: int
    base_rate: float
    at_risk: list[tuple[UserFeatures, float]]
    fit: churn.ChurnFit


def _range(
    services: Services, last: str | None, start: datetime | None, end: datetime | None
) -> tuple[int, int]:
    """`last` or `from`/`to` as other event reads take them; default the last 90 days."""
    now = services.clock()
    start_ms, end_ms = time_range(last, start, end, now_ms=now, default_ms=DEFAULT_RANGE_MS)
    assert start_ms is not None
    assert end_ms is not None
    check_range(start_ms, end_ms)
    return start_ms, end_ms


def _event_type(event_type: str | None) -> str | None:
    return None if event_type is None else metric_name(event_type, "eventType")


async def _activity(
    services: Services, tenant: str, event_type: str | None, start_ms: int, end_ms: int
) -> list[UserActivity]:
    query = activity_query(tenant, event_type, start_ms, end_ms)
    events = services.backends.events
    # one point per event in the range, as every behaviour read (`query_cost`)
    async with query_cost.events_read(
        tenant, lambda: events.events_in_range(tenant, start_ms, end_ms)
    ):
        return await events.features().user_activity(query)


async def _features(
    services: Services, tenant: str, event_type: str | None, start_ms: int, end_ms: int
) -> list[UserFeatures]:
    return all_features(await _activity(services, tenant, event_type, start_ms, end_ms), end_ms)


async def resolve_user_features(
    info: Info,
    event_type: str | None,
    first: int,
    after: str | None,
    last: str | None,
    start: datetime | None,
    end: datetime | None,
) -> list[UserFeatures]:
    principal = info.context.require(Scope.READ)
    return await user_features(
        principal, info.context.services, event_type, first, after, last, start, end
    )


async def user_features(
    principal: Principal,
    services: Services,
    event_type: str | None,
    first: int,
    after: str | None,
    last: str | None,
    start: datetime | None,
    end: datetime | None,
) -> list[UserFeatures]:
    """`userFeatures` for an authorised caller (GraphQL and REST)."""
    if not 1 <= first <= MAX_FIRST:
        raise BadUserInput(f"first: must be from 1 to {MAX_FIRST}", field="first")
    start_ms, end_ms = _range(services, last, start, end)
    users = await _features(services, principal.tenant, _event_type(event_type), start_ms, end_ms)
    return [u for u in users if after is None or u.user_id > after][:first]


async def resolve_user_segments(
    info: Info,
    event_type: str | None,
    k: int | None,
    examples: int,
    last: str | None,
    start: datetime | None,
    end: datetime | None,
) -> Segmentation:
    principal = info.context.require(Scope.READ)
    return await user_segments(
        principal, info.context.services, event_type, k, examples, last, start, end
    )


async def user_segments(
    principal: Principal,
    services: Services,
    event_type: str | None,
    k: int | None,
    examples: int,
    last: str | None,
    start: datetime | None,
    end: datetime | None,
) -> Segmentation:
    """`userSegments` for an authorised caller (GraphQL and REST)."""
    k = segments.check_k(k)
    examples = segments.check_examples(examples)
    start_ms, end_ms = _range(services, last, start, end)
    users = await _features(services, principal.tenant, _event_type(event_type), start_ms, end_ms)
    segments.check_users(len(users), k)
    x = matrix(users)
    workers = services.ml.workers
    clustering = await workers.run(principal.tenant, segments.cluster, x, k)
    return Segmentation(
        start_ms=start_ms,
        end_ms=end_ms,
        users=len(users),
        k=clustering.k,
        silhouette=clustering.silhouette,
        segments=segments.describe(users, x, clustering, examples),
    )


async def resolve_churn_risk(
    info: Info,
    horizon: str,
    event_type: str | None,
    first: int,
    last: str | None,
    start: datetime | None,
    end: datetime | None,
) -> ChurnRisk:
    principal = info.context.require(Scope.READ)
    return await churn_risk(
        principal, info.context.services, horizon, event_type, first, last, start, end
    )


async def churn_risk(
    principal: Principal,
    services: Services,
    horizon: str,
    event_type: str | None,
    first: int,
    last: str | None,
    start: datetime | None,
    end: datetime | None,
) -> ChurnRisk:
    """`churnRisk` for an authorised caller (GraphQL and REST): two feature reads (the
    training window to the cutoff, and the scoring window of the same length to the range's
    end), one fit."""
    horizon_ms = churn.check_horizon(horizon)
    first = churn.check_first(first)
    kind = _event_type(event_type)
    start_ms, end_ms = _range(services, last, start, end)
    cutoff_ms = churn.cutoff(start_ms, end_ms, horizon_ms)
    training = await _features(services, principal.tenant, kind, start_ms, cutoff_ms)
    recent = await _activity(services, principal.tenant, kind, start_ms + horizon_ms, end_ms)
    scored = all_features(recent, end_ms)
    last_seen = {a.user_id: a.last_ms for a in recent}
    labels = np.array(
        [int(last_seen.get(u.user_id, 0) < cutoff_ms) for u in training], dtype=np.int64
    )
    churn.check_labels(labels)
    workers = services.ml.workers
    fit = await workers.run(principal.tenant, churn.fit, matrix(training), labels, matrix(scored))
    ranked = sorted(
        zip(scored, fit.scores.tolist(), strict=True), key=lambda p: (-p[1], p[0].user_id)
    )
    return ChurnRisk(
        start_ms=start_ms,
        end_ms=end_ms,
        cutoff_ms=cutoff_ms,
        scored_users=len(scored),
        base_rate=float(labels.mean()),
        at_risk=ranked[:first],
        fit=fit,
    )
