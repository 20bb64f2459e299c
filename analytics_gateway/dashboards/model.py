"""Dashboards as data: plain dataclasses, and their stored JSON form. No GraphQL, no I/O.

A dashboard is a named grid of widgets. Each widget has a type, a title, a
position and size on a 12-column grid, and (except for the panels that show
alerts, anomalies or forecasts) the query that feeds it: a metric query, an
event count, a KPI formula over metrics and event counts, or a saved KPI.
Strings in queries may name dashboard variables (`$country`), substituted when
the data is read. A widget may also fix the unit of its values and colour them
by thresholds; both are kept with the dashboard so every viewer sees the same
panel.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from analytics_gateway.domain import Aggregation, MetricSource
from analytics_gateway.errors import BadUserInput

GRID_COLUMNS = 12
MAX_WIDGETS = 50
MAX_VARIABLES = 20
MAX_TITLE = 200
MAX_THRESHOLDS = 10

# Units a panel's values may be shown in; none chosen means detected from the metric.
UNITS = ("none", "percent", "bytes", "ms", "currency")
# The colours a threshold may take: a small palette every panel type can draw.
THRESHOLD_COLORS = ("green", "yellow", "orange", "red", "blue")


class WidgetType(enum.StrEnum):
    CHART = "chart"
    KPI = "kpi"
    HEATMAP = "heatmap"
    TABLE = "table"
    ALERTS = "alerts"
    ANOMALIES = "anomalies"
    FORECAST = "forecast"


# Panels fed by alerting and ML (see `panels`); they may be saved without a query.
PANEL_TYPES = frozenset({WidgetType.ALERTS, WidgetType.ANOMALIES, WidgetType.FORECAST})


class Layout(enum.StrEnum):
    GRID = "grid"


class ChartStyle(enum.StrEnum):
    LINE = "line"
    AREA = "area"


class QueryKind(enum.StrEnum):
    METRIC = "metric"
    EVENTS = "events"
    FORMULA = "formula"
    KPI = "kpi"


@dataclass(frozen=True)
class Position:
    """Place and size on the grid, in columns (x, w) and rows (y, h)."""

    x: int
    y: int
    w: int
    h: int

    def validate(self) -> Position:
        if not (0 <= self.x < GRID_COLUMNS and 1 <= self.w <= GRID_COLUMNS):
            raise BadUserInput(
                f"position: x must be 0..{GRID_COLUMNS - 1} and w 1..{GRID_COLUMNS}",
                field="position",
            )
        if self.x + self.w > GRID_COLUMNS:
            raise BadUserInput(f"position: x + w must be at most {GRID_COLUMNS}", field="position")
        if not (0 <= self.y <= 1000 and 1 <= self.h <= 24):
            raise BadUserInput("position: y must be 0..1000 and h 1..24", field="position")
        return self


@dataclass(frozen=True)
class WidgetQuery:
    """What feeds a widget; which fields apply depends on `kind`.

    METRIC: `name`, `labels`, `aggregation`, `step`, `group_by`, `source`.
    EVENTS: `name` is the event type; `step`, `group_by` (one metadata field).
    FORMULA: `formula` over metric names and `events("type")`; `aggregation`,
    `step`, `labels` (applied to every metric of the formula).
    KPI: `kpi_id` names a saved KPI of the tenant (see `analytics_gateway.kpis`),
    which brings its own formula, aggregation and target.
    `last`, when set, is the widget's own range instead of the dashboard's.
    """

    kind: QueryKind
    name: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    aggregation: Aggregation | None = None
    step: str | None = None
    group_by: tuple[str, ...] | None = None
    formula: str = ""
    last: str | None = None
    source: MetricSource = MetricSource.STORE
    kpi_id: str = ""

    def as_document(self) -> dict[str, Any]:
        return {
            **({"kpiId": self.kpi_id} if self.kpi_id else {}),
            "kind": self.kind.value,
            "name": self.name,
            "labels": dict(self.labels),
            "aggregation": self.aggregation.value if self.aggregation else None,
            "step": self.step,
            "groupBy": list(self.group_by) if self.group_by is not None else None,
            "formula": self.formula,
            "last": self.last,
            "source": self.source.value,
        }

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> WidgetQuery:
        group_by = doc.get("groupBy")
        aggregation = doc.get("aggregation")
        return cls(
            kind=QueryKind(doc["kind"]),
            name=doc.get("name", ""),
            labels=dict(doc.get("labels") or {}),
            aggregation=Aggregation(aggregation) if aggregation else None,
            step=doc.get("step"),
            group_by=tuple(group_by) if group_by is not None else None,
            formula=doc.get("formula", ""),
            last=doc.get("last"),
            source=MetricSource(doc.get("source", "store")),
            kpi_id=doc.get("kpiId", ""),
        )


@dataclass(frozen=True)
class Threshold:
    """From `value` up (to the next threshold), values are shown in `color`."""

    value: float
    color: str

    def as_document(self) -> dict[str, Any]:
        return {"value": self.value, "color": self.color}

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> Threshold:
        return cls(value=float(doc["value"]), color=str(doc["color"]))


@dataclass(frozen=True)
class Widget:
    """One panel. `unit` (one of `UNITS`) is None when detected from the metric's name;
    `thresholds` colour its values (kept in the order given)."""

    id: str
    type: WidgetType
    title: str
    position: Position
    query: WidgetQuery | None = None
    style: ChartStyle = ChartStyle.LINE
    unit: str | None = None
    thresholds: tuple[Threshold, ...] = ()

    def as_document(self) -> dict[str, Any]:
        p = self.position
        return {
            "id": self.id,
            "type": self.type.value,
            "title": self.title,
            "position": {"x": p.x, "y": p.y, "w": p.w, "h": p.h},
            "style": self.style.value,
            "unit": self.unit,
            "thresholds": [t.as_document() for t in self.thresholds],
            "query": self.query.as_document() if self.query else None,
        }

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> Widget:
        query = doc.get("query")
        return cls(
            id=doc["id"],
            type=WidgetType(doc["type"]),
            title=doc.get("title", ""),
            position=Position(**doc["position"]),
            query=WidgetQuery.from_document(query) if query else None,
            style=ChartStyle(doc.get("style", "line")),
            unit=doc.get("unit"),
            thresholds=tuple(Threshold.from_document(t) for t in doc.get("thresholds") or ()),
        )


@dataclass(frozen=True)
class Variable:
    """A dashboard variable: `$name` in widget queries takes its value.

    Options are fixed (`options`) or the values of one label of one metric
    (`options_metric`, `options_label`). An empty value means "all": a label
    filter whose value is only this variable is dropped.
    """

    name: str
    label: str = ""
    default: str = ""
    options: tuple[str, ...] = ()
    options_metric: str | None = None
    options_label: str | None = None

    def as_document(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "default": self.default,
            "options": list(self.options),
            "optionsMetric": self.options_metric,
            "optionsLabel": self.options_label,
        }

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> Variable:
        return cls(
            name=doc["name"],
            label=doc.get("label", ""),
            default=doc.get("default", ""),
            options=tuple(doc.get("options") or ()),
            options_metric=doc.get("optionsMetric"),
            options_label=doc.get("optionsLabel"),
        )


@dataclass(frozen=True)
class DashboardSpec:
    """Everything a user defines about a dashboard (what a save writes)."""

    name: str
    widgets: tuple[Widget, ...]
    layout: Layout = Layout.GRID
    time_range: str = "1h"
    variables: tuple[Variable, ...] = ()

    def as_document(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "layout": self.layout.value,
            "timeRange": self.time_range,
            "variables": [v.as_document() for v in self.variables],
            "widgets": [w.as_document() for w in self.widgets],
        }

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> DashboardSpec:
        return cls(
            name=doc["name"],
            layout=Layout(doc.get("layout", "grid")),
            time_range=doc.get("timeRange", "1h"),
            variables=tuple(Variable.from_document(v) for v in doc.get("variables", [])),
            widgets=tuple(Widget.from_document(w) for w in doc.get("widgets", [])),
        )


@dataclass(frozen=True)
class Dashboard:
    """A stored dashboard: its id, version (one more per save) and definition."""

    id: str
    version: int
    spec: DashboardSpec
    updated_at_ms: int = 0

    def widget(self, widget_id: str) -> Widget | None:
        return next((w for w in self.spec.widgets if w.id == widget_id), None)


DEFAULT_SIZES = {
    WidgetType.KPI: (3, 2),
    WidgetType.CHART: (6, 4),
    WidgetType.HEATMAP: (6, 4),
    WidgetType.TABLE: (6, 4),
    WidgetType.ALERTS: (4, 4),
    WidgetType.ANOMALIES: (4, 4),
    WidgetType.FORECAST: (4, 4),
}


def auto_positions(types: Sequence[WidgetType]) -> list[Position]:
    """Flow widgets left to right, row by row, at their default sizes."""
    positions: list[Position] = []
    x = y = row_height = 0
    for widget_type in types:
        w, h = DEFAULT_SIZES[widget_type]
        if x + w > GRID_COLUMNS:
            x, y, row_height = 0, y + row_height, 0
        positions.append(Position(x, y, w, h))
        x += w
        row_height = max(row_height, h)
    return positions
