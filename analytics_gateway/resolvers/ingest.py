"""Resolvers for writes: map inputs to raw items and hand them to the ingest service."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from analytics_gateway.context import Info
from analytics_gateway.domain import IngestOutcome, Scope
from analytics_gateway.errors import BadUserInput
from analytics_gateway.ingest import RawEvent, RawPoint
from analytics_gateway.inputs import epoch_ms
from analytics_gateway.schema.ingest import (
    BusinessMetricsInput,
    EventInput,
    IngestRejection,
    IngestResult,
    MetricPointInput,
)


def to_result(outcome: IngestOutcome) -> IngestResult:
    return IngestResult(
        accepted=outcome.accepted,
        rejected=[IngestRejection(index=r.index, message=r.message) for r in outcome.rejected],
    )


async def resolve_ingest_metrics(info: Info, points: list[MetricPointInput]) -> IngestResult:
    principal = info.context.require(Scope.INGEST)
    raws = [
        RawPoint(p.name, p.value, p.labels, epoch_ms(p.timestamp) if p.timestamp else None)
        for p in points
    ]
    await info.context.services.quotas.admit_points(principal.tenant, len(raws))
    return to_result(await info.context.services.ingest.ingest_points(principal.tenant, raws))


async def resolve_record_events(info: Info, events: list[EventInput]) -> IngestResult:
    principal = info.context.require(Scope.INGEST)
    raws = [
        RawEvent(e.type, e.user_id, epoch_ms(e.timestamp) if e.timestamp else None, e.metadata)
        for e in events
    ]
    await info.context.services.quotas.admit_events(principal.tenant, len(raws))
    return to_result(await info.context.services.ingest.ingest_events(principal.tenant, raws))


def business_points(data: BusinessMetricsInput) -> list[RawPoint]:
    ts = epoch_ms(data.timestamp) if data.timestamp else None
    values: dict[str, Any] = {}
    for name, value in (
        ("revenue", data.revenue),
        ("active_users", data.active_users),
        ("conversion_rate", data.conversion_rate),
    ):
        if value is not None:
            values[name] = value
    if data.extra is not None:
        if not isinstance(data.extra, Mapping):
            raise BadUserInput("extra must be an object of metric name to number", field="extra")
        values.update(data.extra)
    if not values:
        raise BadUserInput("give at least one business metric", field="input")
    return [RawPoint(name, value, data.labels, ts) for name, value in values.items()]


async def resolve_record_business_metrics(info: Info, data: BusinessMetricsInput) -> IngestResult:
    principal = info.context.require(Scope.INGEST)
    raws = business_points(data)
    await info.context.services.quotas.admit_points(principal.tenant, len(raws))
    return to_result(await info.context.services.ingest.ingest_points(principal.tenant, raws))
