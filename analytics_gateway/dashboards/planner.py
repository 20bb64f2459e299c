"""Widget -> loader keys -> widget result.

`plan` turns one widget (with the dashboard's time range and variable values)
into the `MetricQuery` / `EventCountQuery` keys it needs and a function that
shapes their answers. `run` issues all its keys to the per-request loaders
before awaiting anything, so every widget resolved in the same tick lands in
the same batch: one call per backend for the whole dashboard (decision 4).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from analytics_gateway.dashboards import formula as formulas
from analytics_gateway.dashboards import variables
from analytics_gateway.dashboards.model import (
    QueryKind,
    Variable,
    Widget,
    WidgetQuery,
    WidgetType,
)
from analytics_gateway.dashboards.results import (
    ChartResult,
    KpiResult,
    PanelResult,
    TableResult,
    WidgetResult,
    heatmap_of,
    kpi_value,
    merged,
)
from analytics_gateway.dataloaders import Loaders
from analytics_gateway.domain import (
    Aggregation,
    EventCountQuery,
    MetricQuery,
    Series,
)
from analytics_gateway.durations import parse_duration_ms
from analytics_gateway.errors import BadUserInput, QueryTooComplex
from analytics_gateway.subscriptions.channels import alerts_channel, events_channel, metric_channel
from analytics_gateway.validation import NAME_RE

MAX_RANGE_MS = 366 * 86_400_000
MAX_BUCKETS = 10_000
TARGET_POINTS = 120
STEPS_MS = (
    10_000, 30_000, 60_000, 300_000, 900_000, 1_800_000,
    3_600_000, 10_800_000, 21_600_000, 43_200_000, 86_400_000,
)  # fmt: skip

NO_METRIC = 'Give this widget a metric (e.g. metric: "cpu_usage") to {what}.'
PANEL_WORK = {WidgetType.ANOMALIES: "watch for anomalies", WidgetType.FORECAST: "forecast"}
ANY_MESSAGE: Mapping[str, str] = {"@any": ""}  # a route filter every message passes
ANOMALY_CONTEXT = 4  # ranges of history read before an anomalies panel's range


@dataclass(frozen=True)
class View:
    """What data is read for: the tenant, a range ending at `now_ms`, variable values."""

    tenant: str
    range_ms: int
    now_ms: int
    values: Mapping[str, str] = field(default_factory=dict)


def absolute_range(
    start_ms: int | None, end_ms: int | None, time_range: str | None
) -> tuple[int, int] | None:
    """`from`/`to` as a client gave them (both, or neither; never with `timeRange`)."""
    if start_ms is None and end_ms is None:
        return None
    if start_ms is None or end_ms is None:
        raise BadUserInput(
            "give both from and to, or neither", field="from" if start_ms is None else "to"
        )
    if time_range is not None:
        raise BadUserInput("give timeRange or from/to, not both", field="timeRange")
    if start_ms >= end_ms:
        raise BadUserInput("from must be before to", field="from")
    if end_ms - start_ms > MAX_RANGE_MS:
        raise BadUserInput("from/to: at most 366d apart", field="from")
    return start_ms, end_ms


def make_view(
    tenant: str,
    time_range: str,
    declared: Sequence[Variable],
    given: Mapping[str, object] | None,
    now_ms: int,
    absolute: tuple[int, int] | None = None,
) -> View:
    """A range ending now, or `absolute` [from, to): then `to` stands for "now", so every
    widget (KPIs, their previous period, widgets with their own `last`) ends there."""
    if absolute is not None:
        start_ms, end_ms = absolute
        range_ms, now_ms = end_ms - 1 - start_ms, end_ms - 1
    else:
        range_ms = parse_duration_ms(time_range, field="timeRange")
    if range_ms > MAX_RANGE_MS:
        raise BadUserInput("timeRange: at most 366d", field="timeRange")
    return View(
        tenant=tenant,
        range_ms=range_ms,
        now_ms=now_ms,
        values=variables.resolve(declared, given),
    )


def auto_step(range_ms: int) -> int:
    """The finest of a few round steps giving at most ~120 points over the range."""
    for step in STEPS_MS:
        if range_ms // step <= TARGET_POINTS:
            return step
    return STEPS_MS[-1] * (range_ms // (STEPS_MS[-1] * TARGET_POINTS) + 1)


@dataclass(frozen=True)
class Window:
    """Aligned bucket window [start, end) and the previous one of the same length."""

    start: int
    end: int
    step: int

    @property
    def previous(self) -> Window:
        span = self.end - 1 - self.start
        span = -(-span // self.step) * self.step
        return Window(self.start - span, self.start, self.step)


def window_of(query: WidgetQuery, view: View) -> Window:
    range_ms = parse_duration_ms(query.last, field="last") if query.last else view.range_ms
    if range_ms > MAX_RANGE_MS:
        raise BadUserInput("last: at most 366d", field="last")
    step = parse_duration_ms(query.step, field="step") if query.step else auto_step(range_ms)
    if range_ms // step > MAX_BUCKETS:
        raise QueryTooComplex(f"more than {MAX_BUCKETS} buckets; use a coarser step", field="step")
    start = (view.now_ms - range_ms) // step * step
    return Window(start, view.now_ms + 1, step)


def anomaly_window(shown: Window) -> Window:
    """What an anomalies panel reads: its range and `ANOMALY_CONTEXT` ranges before it,
    so detection has history to learn from (it scores nothing in its warm-up)."""
    span = shown.end - shown.start
    return Window(
        shown.start - ANOMALY_CONTEXT * span // shown.step * shown.step, shown.end, shown.step
    )


Finish = Callable[[list[list[Series]], list[list[Series]]], WidgetResult]


@dataclass
class Plan:
    """The keys one widget needs, where its live updates come from, and how to shape it."""

    metric_queries: list[MetricQuery]
    event_queries: list[EventCountQuery]
    channels: Sequence[tuple[str, Mapping[str, str]]]
    finish: Finish


def _checked_name(name: str, what: str) -> str:
    if not NAME_RE.match(name):
        raise BadUserInput(f"{what}: {name!r} is not a valid name", field="query")
    return name


def _metric_query(
    view: View,
    window: Window,
    name: str,
    labels: Mapping[str, str],
    aggregation: Aggregation,
    group_by: tuple[str, ...] | None,
    query: WidgetQuery,
) -> MetricQuery:
    return MetricQuery(
        tenant=view.tenant,
        name=_checked_name(name, "metric"),
        labels=tuple(sorted(labels.items())),
        start_ms=window.start,
        end_ms=window.end,
        step_ms=window.step,
        aggregation=aggregation,
        group_by=group_by,
        source=query.source,
    )


def plan(widget: Widget, view: View) -> Plan:
    """The plan of one widget. ALERTS reads no store (see `panels`); ANOMALIES and
    FORECAST read their metric as a chart does, and `panels` takes it from there."""
    if widget.type is WidgetType.ALERTS:
        empty = PanelResult(widget.type.value, "Alerting is not running in this gateway.")
        return Plan([], [], [(alerts_channel(view.tenant), ANY_MESSAGE)], lambda m, e: empty)
    if widget.query is None:
        what = PANEL_WORK.get(widget.type, "show")
        result = PanelResult(widget.type.value, NO_METRIC.format(what=what))
        return Plan([], [], [], lambda m, e: result)
    query = variables.apply(widget.query, view.values)
    window = window_of(query, view)
    if query.kind is QueryKind.KPI:  # read by `panels`, which has the KPI service
        result = PanelResult(widget.type.value, "Saved KPIs are not available here.")
        return Plan([], [], [], lambda m, e: result)
    if query.kind is QueryKind.FORMULA:
        return _formula_plan(widget, query, view, window)
    if query.kind is QueryKind.EVENTS:
        return _events_plan(widget, query, view, window)
    return _metric_plan(widget, query, view, window)


def _metric_plan(widget: Widget, query: WidgetQuery, view: View, window: Window) -> Plan:
    aggregation = query.aggregation or Aggregation.AVG
    channel = [(metric_channel(view.tenant, _checked_name(query.name, "metric")), query.labels)]
    if widget.type is WidgetType.KPI:
        current = _metric_query(view, window, query.name, query.labels, aggregation, (), query)
        previous = _metric_query(
            view, window.previous, query.name, query.labels, aggregation, (), query
        )
        return Plan(
            [current, previous],
            [],
            channel,
            lambda m, e: _kpi(merged(m[0], query.name), merged(m[1], query.name), aggregation),
        )
    if widget.type is WidgetType.ANOMALIES:
        window = anomaly_window(window)
    series_query = _metric_query(
        view, window, query.name, query.labels, aggregation, query.group_by, query
    )
    if widget.type is WidgetType.FORECAST:
        channel = []  # a forecast is refit on load, not on every new point
    return Plan([series_query], [], channel, _shape(widget, from_events=False))


def _events_plan(widget: Widget, query: WidgetQuery, view: View, window: Window) -> Plan:
    group_by = (query.group_by or (None,))[0] if widget.type is not WidgetType.KPI else None

    def count(w: Window) -> EventCountQuery:
        return EventCountQuery(
            tenant=view.tenant,
            type=_checked_name(query.name, "event type"),
            start_ms=w.start,
            end_ms=w.end,
            step_ms=w.step,
            group_by=group_by,
        )

    channel = [(events_channel(view.tenant), {"type": query.name})]
    if widget.type is WidgetType.KPI:
        return Plan(
            [],
            [count(window), count(window.previous)],
            channel,
            lambda m, e: _kpi(merged(e[0], query.name), merged(e[1], query.name), Aggregation.SUM),
        )
    return Plan([], [count(window)], channel, _shape(widget, from_events=True))


def _formula_plan(widget: Widget, query: WidgetQuery, view: View, window: Window) -> Plan:
    def bind(ref: formulas.MetricRef) -> formulas.MetricRef:
        labels = {**query.labels, **dict(ref.labels)}
        labels = variables.substitute_labels(labels, view.values)
        name = _checked_name(variables.substitute(ref.name, view.values), "formula metric")
        return formulas.MetricRef(name, tuple(sorted(labels.items())))

    tree = formulas.transform(formulas.parse(query.formula), bind)
    refs = formulas.metric_refs(tree)
    counts = formulas.event_refs(tree)
    aggregation = query.aggregation or Aggregation.AVG
    windows = [window, window.previous] if widget.type is WidgetType.KPI else [window]
    keys = [
        _metric_query(view, w, ref.name, dict(ref.labels), aggregation, (), query)
        for w in windows
        for ref in refs
    ]
    event_keys = [
        EventCountQuery(view.tenant, c.type, w.start, w.end, w.step)
        for w in windows
        for c in counts
    ]
    channels = [(metric_channel(view.tenant, ref.name), dict(ref.labels)) for ref in refs]
    channels += [(events_channel(view.tenant), {"type": c.type}) for c in counts]

    def finish(m: list[list[Series]], e: list[list[Series]]) -> WidgetResult:
        current = [merged(s, r.name) for s, r in zip(m[: len(refs)], refs, strict=True)]
        tallies = [merged(s, c.type) for s, c in zip(e[: len(counts)], counts, strict=True)]
        series = _pointwise(tree, refs, current, query.formula, counts, tallies)
        if widget.type is not WidgetType.KPI:
            return ChartResult([series], widget.style)
        previous = [merged(s, r.name) for s, r in zip(m[len(refs) :], refs, strict=True)]
        before = [merged(s, c.type) for s, c in zip(e[len(counts) :], counts, strict=True)]
        return KpiResult.of(
            formulas.evaluate(tree, _values(refs, current, aggregation), _totals(counts, tallies)),
            formulas.evaluate(tree, _values(refs, previous, aggregation), _totals(counts, before)),
            series,
        )

    return Plan(keys, event_keys, channels, finish)


def _values(
    refs: list[formulas.MetricRef], series: list[Series], aggregation: Aggregation
) -> dict[formulas.MetricRef, float | None]:
    return {r: kpi_value(s, aggregation) for r, s in zip(refs, series, strict=True)}


def _totals(
    counts: list[formulas.EventRef], series: list[Series]
) -> dict[formulas.EventRef, float | None]:
    """Event counts are totals over the range, whatever the widget's aggregation."""
    return {c: float(sum(s.values)) for c, s in zip(counts, series, strict=True)}


def _pointwise(
    tree: formulas.Node,
    refs: list[formulas.MetricRef],
    series: list[Series],
    name: str,
    counts: list[formulas.EventRef] | None = None,
    tallies: list[Series] | None = None,
) -> Series:
    """The formula at every bucket where all its metrics have a value (a bucket without
    events counts 0; a formula of event counts only has the buckets holding events)."""
    columns = [dict(zip(s.timestamps, s.values, strict=True)) for s in series]
    count_columns = [dict(zip(s.timestamps, s.values, strict=True)) for s in tallies or []]
    if columns:
        shared = sorted(set.intersection(*(set(c) for c in columns)))
    else:
        shared = sorted(set().union(*(set(c) for c in count_columns)))
    out = Series(name=name, labels={})
    for ts in shared:
        value = formulas.evaluate(
            tree,
            {r: c[ts] for r, c in zip(refs, columns, strict=True)},
            {c: col.get(ts, 0.0) for c, col in zip(counts or [], count_columns, strict=True)},
        )
        if value is not None:
            out.timestamps.append(ts)
            out.values.append(value)
    return out


def _kpi(current: Series, previous: Series, aggregation: Aggregation) -> KpiResult:
    return KpiResult.of(kpi_value(current, aggregation), kpi_value(previous, aggregation), current)


def _shape(widget: Widget, from_events: bool) -> Finish:
    """Chart, table or heatmap of the series the plan's single key answers."""

    def finish(m: list[list[Series]], e: list[list[Series]]) -> WidgetResult:
        series = list(e[0] if from_events else m[0])
        if widget.type is WidgetType.TABLE:
            return TableResult(series)
        if widget.type is WidgetType.HEATMAP:
            return heatmap_of(series)
        return ChartResult(series, widget.style)

    return finish


async def run(the_plan: Plan, loaders: Loaders) -> WidgetResult:
    """Issue every key of the plan at once, then shape the answers."""
    metric_answers = loaders.metrics.load_many(the_plan.metric_queries)
    event_answers = loaders.event_counts.load_many(the_plan.event_queries)
    metric_results, event_results = await asyncio.gather(metric_answers, event_answers)
    return the_plan.finish(list(metric_results), list(event_results))


async def widget_data(widget: Widget, view: View, loaders: Loaders) -> WidgetResult:
    return await run(plan(widget, view), loaders)


__all__ = [
    "Plan", "View", "Window", "absolute_range", "make_view", "plan", "run", "widget_data",
]  # fmt: skip
