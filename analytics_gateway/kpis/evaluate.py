"""A KPI over a range: its value, the comparison period's, the change, status and series.

Every metric of the formula is reduced over the whole range by the KPI's
aggregation (one store bucket spanning the range, all its series merged), and
every `events("type")` is the number of such events in the range; the formula
is applied to those numbers. The series applies the formula per bucket of
`planner.auto_step(range)` (at most ~120 buckets): a bucket with no point of a
metric has no value (None); a bucket with no events counts 0.

All keys of one evaluation (value, comparison value and series of every metric
and event count) are issued to the request's loaders before any is awaited, so
a KPI costs one batched call per backend, cached like every other read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from analytics_gateway.dashboards import formula as formulas
from analytics_gateway.dashboards.planner import MAX_RANGE_MS, auto_step
from analytics_gateway.dashboards.results import merged
from analytics_gateway.dataloaders import Loaders
from analytics_gateway.domain import EventCountQuery, MetricQuery, Series
from analytics_gateway.errors import BadUserInput
from analytics_gateway.kpis.model import (
    Comparison,
    KpiDefinition,
    KpiValue,
    change_of,
    status_of,
)
from analytics_gateway.subscriptions.channels import events_channel, metric_channel

WEEK_MS = 7 * 86_400_000


@dataclass(frozen=True)
class Window:
    """A range [start, end) and the bucket width of its series."""

    start: int
    end: int
    step: int

    def compared(self, comparison: Comparison) -> Window:
        """The period the value is compared with."""
        if comparison is Comparison.PREVIOUS_WEEK:
            return Window(self.start - WEEK_MS, self.end - WEEK_MS, self.step)
        span = self.end - self.start
        return Window(self.start - span, self.start, self.step)

    def buckets(self) -> list[int]:
        """The series' bucket starts: aligned to the step, as the stores align them."""
        first = self.start // self.step * self.step
        return list(range(first, self.end, self.step))


def window(start_ms: int, end_ms: int) -> Window:
    """The range [start_ms, end_ms), checked: `start` first, at most 366 days."""
    if start_ms >= end_ms:
        raise BadUserInput("from must be before to", field="from")
    if end_ms - start_ms > MAX_RANGE_MS:
        raise BadUserInput("the range is at most 366d", field="from")
    return Window(start_ms, end_ms, auto_step(end_ms - start_ms))


@dataclass(frozen=True)
class _Keys:
    """The loader keys of one evaluation, in the order `_answers` reads them back."""

    metrics: list[MetricQuery]
    events: list[EventCountQuery]


def _bound(definition: KpiDefinition, tree: formulas.Node) -> formulas.Node:
    """Every metric with the KPI's label filters (a metric's own labels win)."""

    def bind(ref: formulas.MetricRef) -> formulas.MetricRef:
        labels = {**definition.labels, **dict(ref.labels)}
        return formulas.MetricRef(ref.name, tuple(sorted(labels.items())))

    return formulas.transform(tree, bind)


def channels(tenant: str, definition: KpiDefinition) -> list[tuple[str, Mapping[str, str]]]:
    """The live channels (and the labels or type wanted on each) the KPI reads."""
    tree = _bound(definition, formulas.parse(definition.formula))
    routes: list[tuple[str, Mapping[str, str]]] = [
        (metric_channel(tenant, ref.name), dict(ref.labels)) for ref in formulas.metric_refs(tree)
    ]
    routes += [(events_channel(tenant), {"type": c.type}) for c in formulas.event_refs(tree)]
    return routes


def _keys(
    tenant: str,
    definition: KpiDefinition,
    refs: Sequence[formulas.MetricRef],
    counts: Sequence[formulas.EventRef],
    current: Window,
    previous: Window,
) -> _Keys:
    def metric(ref: formulas.MetricRef, w: Window, step: int | None) -> MetricQuery:
        return MetricQuery(
            tenant=tenant,
            name=ref.name,
            labels=ref.labels,
            start_ms=w.start,
            end_ms=w.end,
            step_ms=step,
            aggregation=definition.aggregation,
            group_by=(),
        )

    def count(ref: formulas.EventRef, w: Window) -> EventCountQuery:
        return EventCountQuery(tenant, ref.type, w.start, w.end, w.step)

    metrics = [
        *(metric(r, current, None) for r in refs),
        *(metric(r, previous, None) for r in refs),
        *(metric(r, current, current.step) for r in refs),
    ]
    events = [*(count(r, current) for r in counts), *(count(r, previous) for r in counts)]
    return _Keys(metrics, events)


def _single(answer: list[Series], name: str) -> float | None:
    series = merged(answer, name)
    return series.values[0] if series.values else None


def _total(answer: list[Series], name: str) -> float:
    return float(sum(merged(answer, name).values))


async def kpi_value(
    tenant: str, definition: KpiDefinition, current: Window, loaders: Loaders
) -> KpiValue:
    tree = _bound(definition, formulas.parse(definition.formula))
    refs = formulas.metric_refs(tree)
    counts = formulas.event_refs(tree)
    previous = current.compared(definition.comparison)
    keys = _keys(tenant, definition, refs, counts, current, previous)
    metric_answers, event_answers = await asyncio.gather(
        loaders.metrics.load_many(keys.metrics), loaders.event_counts.load_many(keys.events)
    )
    n, k = len(refs), len(counts)
    values = {r: _single(a, r.name) for r, a in zip(refs, metric_answers[:n], strict=True)}
    before = {r: _single(a, r.name) for r, a in zip(refs, metric_answers[n : 2 * n], strict=True)}
    totals: dict[formulas.EventRef, float | None] = {
        r: _total(a, r.type) for r, a in zip(counts, event_answers[:k], strict=True)
    }
    totals_before: dict[formulas.EventRef, float | None] = {
        r: _total(a, r.type) for r, a in zip(counts, event_answers[k:], strict=True)
    }
    value = formulas.evaluate(tree, values, totals)
    previous_value = formulas.evaluate(tree, before, totals_before)
    series = _series(
        tree,
        refs,
        [merged(a, r.name) for r, a in zip(refs, metric_answers[2 * n :], strict=True)],
        counts,
        [merged(a, r.type) for r, a in zip(counts, event_answers[:k], strict=True)],
        current,
    )
    return KpiValue(
        definition=definition,
        start_ms=current.start,
        end_ms=current.end,
        value=value,
        previous=previous_value,
        change=change_of(value, previous_value),
        status=status_of(value, definition.target, definition.direction),
        series=series,
        previous_start_ms=previous.start,
        previous_end_ms=previous.end,
        step_ms=current.step,
    )


def _series(
    tree: formulas.Node,
    refs: Sequence[formulas.MetricRef],
    metric_series: Sequence[Series],
    counts: Sequence[formulas.EventRef],
    count_series: Sequence[Series],
    current: Window,
) -> list[tuple[int, float | None]]:
    """The formula per bucket of the range (see module doc)."""
    metric_columns = [dict(zip(s.timestamps, s.values, strict=True)) for s in metric_series]
    count_columns = [dict(zip(s.timestamps, s.values, strict=True)) for s in count_series]
    out: list[tuple[int, float | None]] = []
    for ts in current.buckets():
        values = {r: c.get(ts) for r, c in zip(refs, metric_columns, strict=True)}
        totals: dict[formulas.EventRef, float | None] = {
            r: c.get(ts, 0.0) for r, c in zip(counts, count_columns, strict=True)
        }
        out.append((ts, formulas.evaluate(tree, values, totals)))
    return out
