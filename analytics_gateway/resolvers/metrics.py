"""Resolvers for reading metric series."""

from __future__ import annotations

from datetime import datetime

from analytics_gateway import domain
from analytics_gateway.backends.base import PromQLSource
from analytics_gateway.context import Info
from analytics_gateway.dataloaders.metrics import NOT_CONFIGURED
from analytics_gateway.domain import Scope
from analytics_gateway.durations import parse_duration_ms
from analytics_gateway.errors import BadUserInput, QueryTooComplex
from analytics_gateway.resolvers.common import label_filter, metric_name, time_range
from analytics_gateway.schema.metrics import MetricQueryInput, MetricSource, Series

MAX_BUCKETS = 100_000


def to_domain(tenant: str, query: MetricQueryInput) -> domain.MetricQuery:
    start, end = time_range(query.last, query.from_, query.to)
    assert start is not None
    assert end is not None
    step = parse_duration_ms(query.step, field="step") if query.step is not None else None
    if step is not None and (end - start) // step > MAX_BUCKETS:
        raise QueryTooComplex(
            f"step {query.step!r} over this range makes more than {MAX_BUCKETS} buckets",
            field="step",
        )
    group_by = None
    if query.group_by is not None:
        for key in query.group_by:
            if not key or len(key) > 128:
                raise BadUserInput(f"groupBy: invalid label name {key!r}", field="groupBy")
        group_by = tuple(sorted(set(query.group_by)))
    return domain.MetricQuery(
        tenant=tenant,
        name=metric_name(query.name),
        labels=label_filter(query.labels),
        start_ms=start,
        end_ms=end,
        step_ms=step,
        aggregation=domain.Aggregation(query.aggregation.value) if query.aggregation else None,
        group_by=group_by,
        source=domain.MetricSource[query.source.name],
    )


async def resolve_metrics(info: Info, query: MetricQueryInput) -> list[Series]:
    principal = info.context.require(Scope.READ)
    series = await info.context.loaders.metrics.load(to_domain(principal.tenant, query))
    return [Series(series=s) for s in series]


async def resolve_metric_names(
    info: Info, prefix: str | None, source: MetricSource = MetricSource.STORE
) -> list[str]:
    principal = info.context.require(Scope.READ)
    if source is MetricSource.PROMETHEUS:
        return await _prometheus(info).metric_names(principal.tenant, prefix)
    return await info.context.services.backends.metrics.metric_names(principal.tenant, prefix)


async def resolve_label_values(
    info: Info, metric: str, label: str, source: MetricSource = MetricSource.STORE
) -> list[str]:
    principal = info.context.require(Scope.READ)
    name = metric_name(metric, "metric")
    if source is MetricSource.PROMETHEUS:
        return await _prometheus(info).label_values(principal.tenant, name, label)
    store = info.context.services.backends.metrics
    return await store.label_values(principal.tenant, name, label)


async def resolve_promql(
    info: Info,
    query: str,
    last: str | None,
    start: datetime | None,
    end: datetime | None,
    step: str,
) -> list[Series]:
    principal = info.context.require(Scope.READ)
    source = _prometheus(info)
    start_ms, end_ms = time_range(last, start, end)
    assert start_ms is not None
    assert end_ms is not None
    step_ms = parse_duration_ms(step, field="step")
    series = await source.promql(principal.tenant, query, start_ms, end_ms - 1, step_ms)
    return [Series(series=s) for s in series]


def _prometheus(info: Info) -> PromQLSource:
    source = info.context.services.backends.prometheus
    if source is None:
        raise BadUserInput(NOT_CONFIGURED, field="source")
    return source
