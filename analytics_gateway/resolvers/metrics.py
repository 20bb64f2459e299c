"""Resolvers for reading metric series."""

from __future__ import annotations

from datetime import datetime

from analytics_gateway import domain
from analytics_gateway.context import Info
from analytics_gateway.domain import Scope
from analytics_gateway.durations import parse_duration_ms
from analytics_gateway.inputs import bounded_range, metric_name, metric_query
from analytics_gateway.schema.metrics import MetricQueryInput, MetricSource, Series


def to_domain(tenant: str, query: MetricQueryInput, now_ms: int) -> domain.MetricQuery:
    return metric_query(
        tenant,
        query.name,
        now_ms=now_ms,
        labels=query.labels,
        last=query.last,
        start=query.from_,
        end=query.to,
        step=query.step,
        aggregation=domain.Aggregation(query.aggregation.value) if query.aggregation else None,
        group_by=query.group_by,
        source=domain.MetricSource[query.source.name],
    )


async def resolve_metrics(info: Info, query: MetricQueryInput) -> list[Series]:
    principal = info.context.require(Scope.READ)
    now = info.context.services.clock()
    series = await info.context.loaders.metrics.load(to_domain(principal.tenant, query, now))
    return [Series(series=s) for s in series]


async def resolve_metric_names(
    info: Info, prefix: str | None, source: MetricSource = MetricSource.STORE
) -> list[str]:
    principal = info.context.require(Scope.READ)
    where = domain.MetricSource[source.name]
    return await info.context.services.reads.metric_names(principal.tenant, prefix, where)


async def resolve_label_names(info: Info, metric: str) -> list[str]:
    principal = info.context.require(Scope.READ)
    name = metric_name(metric, "metric")
    return await info.context.services.reads.label_names(principal.tenant, name)


async def resolve_label_values(
    info: Info, metric: str, label: str, source: MetricSource = MetricSource.STORE
) -> list[str]:
    principal = info.context.require(Scope.READ)
    name = metric_name(metric, "metric")
    if source is MetricSource.PROMETHEUS:
        reads = info.context.services.reads
        return await reads.prometheus_label_values(principal.tenant, name, label)
    query = domain.LabelValuesQuery(principal.tenant, name, label)
    return await info.context.loaders.label_values.load(query)


async def resolve_promql(
    info: Info,
    query: str,
    last: str | None,
    start: datetime | None,
    end: datetime | None,
    step: str,
) -> list[Series]:
    principal = info.context.require(Scope.READ)
    start_ms, end_ms = bounded_range(last, start, end, now_ms=info.context.services.clock())
    step_ms = parse_duration_ms(step, field="step")
    reads = info.context.services.reads
    series = await reads.promql(principal.tenant, query, start_ms, end_ms - 1, step_ms)
    return [Series(series=s) for s in series]
