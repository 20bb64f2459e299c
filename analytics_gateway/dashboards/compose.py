"""Widgets from components as users give them, the same for GraphQL inputs and REST JSON.

A component names its data as exactly one of `data` (a named data source or a
metric name), `metric`, `formula`, `query` (a full metric query), `events` or
`kpi` (a saved KPI's id);
shortcut knobs (aggregation, labels, groupBy, step, last) refine the first
three. Ids are kept when given (so live updates keep their widget), else
`w1`, `w2`...; positions are kept when given, else flowed below the others.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from analytics_gateway.dashboards import catalogue
from analytics_gateway.dashboards.model import (
    ChartStyle,
    Position,
    QueryKind,
    Threshold,
    Widget,
    WidgetQuery,
    WidgetType,
    auto_positions,
)
from analytics_gateway.domain import Aggregation
from analytics_gateway.errors import BadUserInput

DATA_FIELDS = ("data", "metric", "formula", "query", "events", "kpi")


@dataclass(frozen=True)
class Component:
    type: WidgetType
    id: str | None = None
    title: str | None = None
    position: Position | None = None
    style: ChartStyle | None = None
    data: str | None = None
    metric: str | None = None
    formula: str | None = None
    query: WidgetQuery | None = None
    events: WidgetQuery | None = None
    aggregation: Aggregation | None = None
    labels: Mapping[str, str] | None = None
    group_by: tuple[str, ...] | None = None
    step: str | None = None
    last: str | None = None
    unit: str | None = None
    thresholds: tuple[Threshold, ...] = ()
    kpi: str | None = None


def _refine(query: WidgetQuery, item: Component) -> WidgetQuery:
    changes: dict[str, Any] = {}
    if item.aggregation is not None:
        changes["aggregation"] = item.aggregation
    if item.labels is not None:
        changes["labels"] = dict(item.labels)
    if item.group_by is not None:
        changes["group_by"] = item.group_by
    if item.step is not None:
        changes["step"] = item.step
    if item.last is not None:
        changes["last"] = item.last
    return dataclasses.replace(query, **changes)


def query_and_title(item: Component) -> tuple[WidgetQuery | None, str]:
    given = [name for name in DATA_FIELDS if getattr(item, name) is not None]
    if len(given) > 1:
        raise BadUserInput(
            f"give one of {', '.join(DATA_FIELDS)}, not {' and '.join(given)}", field="widgets"
        )
    if item.query is not None:
        return item.query, item.query.name
    if item.events is not None:
        return item.events, f"{item.events.name} events"
    if item.data is not None:
        source = catalogue.source(item.data)
        return _refine(source.query, item), source.title
    if item.metric is not None:
        source = catalogue.source(item.metric)
        return _refine(catalogue.metric(item.metric), item), source.title
    if item.formula is not None:
        return _refine(catalogue.formula(item.formula), item), item.formula
    if item.kpi is not None:
        return WidgetQuery(QueryKind.KPI, kpi_id=item.kpi, last=item.last), "KPI"
    return None, item.type.name.capitalize()


def widgets(items: Sequence[Component]) -> tuple[Widget, ...]:
    placed = [item.position for item in items if item.position is not None]
    below = max((p.y + p.h for p in placed), default=0)
    flowed = iter(
        Position(p.x, p.y + below, p.w, p.h)
        for p in auto_positions([item.type for item in items if item.position is None])
    )
    taken = {item.id for item in items if item.id}
    counter = 0
    out: list[Widget] = []
    for item in items:
        widget_id = item.id or ""
        while not widget_id:
            counter += 1
            widget_id = f"w{counter}" if f"w{counter}" not in taken else ""
        query, title = query_and_title(item)
        position = item.position or next(flowed)
        style = item.style or ChartStyle.LINE
        out.append(
            Widget(
                widget_id, item.type, item.title or title, position, query, style,
                unit=item.unit, thresholds=item.thresholds,
            )
        )  # fmt: skip
    return tuple(out)
