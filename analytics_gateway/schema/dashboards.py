"""GraphQL types and inputs for dashboards, their widgets and their live updates."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from enum import Enum
from typing import Annotated, cast

import strawberry
from strawberry.scalars import JSON

from analytics_gateway.dashboards import model
from analytics_gateway.schema.alerts import Alert
from analytics_gateway.schema.metrics import (
    Aggregation,
    MetricSource,
    Series,
    to_datetime,
)
from analytics_gateway.schema.scalars import SeriesData


@strawberry.enum(description="What a widget shows.")
class WidgetType(Enum):
    CHART = strawberry.enum_value("chart", description="Line or area chart of series.")
    KPI = strawberry.enum_value(
        "kpi", description="One number with its change and a sparkline (a metric, an event "
        "count or a formula such as `revenue / active_users`)."
    )  # fmt: skip
    HEATMAP = strawberry.enum_value("heatmap", description="Series by time as a colour grid.")
    TABLE = strawberry.enum_value("table", description="One row per series with its summary.")
    ALERTS = strawberry.enum_value("alerts", description="Alert events (from alerting).")
    ANOMALIES = strawberry.enum_value("anomalies", description="Detected anomalies (from ML).")
    FORECAST = strawberry.enum_value("forecast", description="A forecast (from ML).")


@strawberry.enum(description="How widgets are arranged.")
class DashboardLayout(Enum):
    GRID = strawberry.enum_value("grid", description="A 12-column grid of rows.")


@strawberry.enum(description="How a chart draws its series.")
class ChartStyle(Enum):
    LINE = strawberry.enum_value("line", description="Lines.")
    AREA = strawberry.enum_value("area", description="Filled areas.")


@strawberry.enum(description="The unit a panel's values are shown in.")
class PanelUnit(Enum):
    NONE = strawberry.enum_value("none", description="Plain numbers.")
    PERCENT = strawberry.enum_value("percent", description="A ratio: 0.05 reads 5%.")
    BYTES = strawberry.enum_value("bytes", description="Bytes: 1536 reads 1.5 KiB.")
    MS = strawberry.enum_value("ms", description="Milliseconds: 1500 reads 1.5 s.")
    CURRENCY = strawberry.enum_value("currency", description="Money: 1234.5 reads $1,234.50.")


@strawberry.type(
    description="From `value` up to the next threshold, a panel's values are shown in `color`."
)
class Threshold:
    value: float = strawberry.field(description="Where the colour starts.")
    color: str = strawberry.field(description="One of green, yellow, orange, red, blue.")


@strawberry.enum(description="Which way a KPI is better.")
class KpiDirection(Enum):
    HIGHER = strawberry.enum_value("higher", description="Higher is better: on target at or above.")
    LOWER = strawberry.enum_value("lower", description="Lower is better: on target at or below.")


@strawberry.enum(description="Where a KPI stands against its target.")
class KpiStatus(Enum):
    ON_TARGET = strawberry.enum_value("on_target", description="At the target or better.")
    OFF_TARGET = strawberry.enum_value("off_target", description="Worse than the target.")
    NO_TARGET = strawberry.enum_value("no_target", description="The KPI has no target.")
    NO_DATA = strawberry.enum_value("no_data", description="No value over the range.")


@strawberry.enum(description="What feeds a widget.")
class WidgetQueryKind(Enum):
    METRIC = strawberry.enum_value("metric", description="A metric query.")
    EVENTS = strawberry.enum_value("events", description="Counts of one event type.")
    FORMULA = strawberry.enum_value(
        "formula", description='A formula over metrics and event counts (`events("type")`).'
    )
    KPI = strawberry.enum_value("kpi", description="A saved KPI (see `kpis`).")


@strawberry.type(description="Place and size of a widget on the 12-column grid.")
class GridPosition:
    x: int = strawberry.field(description="First column, 0 to 11.")
    y: int = strawberry.field(description="First row, from 0.")
    w: int = strawberry.field(description="Width in columns, 1 to 12.")
    h: int = strawberry.field(description="Height in rows.")


@strawberry.type(description="The query that feeds a widget, as stored (variables unreplaced).")
class WidgetQuery:
    kind: WidgetQueryKind = strawberry.field(description="Metric, event count or formula.")
    name: str = strawberry.field(description="Metric name, or event type for EVENTS.")
    formula: str = strawberry.field(description="The formula of a FORMULA query.")
    labels: JSON = strawberry.field(description="Label filter; values may name variables.")
    aggregation: Aggregation | None = strawberry.field(description="Per-bucket aggregation.")
    step: str | None = strawberry.field(description="Bucket width; null: chosen from the range.")
    group_by: list[str] | None = strawberry.field(description="Labels the series are split by.")
    last: str | None = strawberry.field(description="The widget's own range, if not the board's.")
    source: MetricSource = strawberry.field(description="Where metrics are read from.")
    kpi_id: strawberry.ID | None = strawberry.field(description="The saved KPI of a KPI query.")


@strawberry.type(description="Series to draw as a line or area chart.")
class ChartData:
    series: list[Series] = strawberry.field(description="The series, as columns.")
    style: ChartStyle = strawberry.field(description="Line or area.")


@strawberry.type(
    description="A KPI: its value over the range (a total for SUM and COUNT, else the latest "
    "bucket), the same over the previous period of equal length, and the relative change. "
    "For a saved KPI, its own value and comparison period (see `kpi`), status and target."
)
class KpiData:
    value: float | None = strawberry.field(description="Current value; null with no data.")
    previous: float | None = strawberry.field(description="Value over the previous period.")
    change: float | None = strawberry.field(
        description="(value - previous) / |previous|; null when previous is null or 0."
    )
    sparkline: SeriesData = strawberry.field(description="The series behind the value.")
    status: KpiStatus | None = strawberry.field(
        default=None, description="Against the target, for a saved KPI; null otherwise."
    )
    target: float | None = strawberry.field(
        default=None, description="The saved KPI's target; null without one."
    )
    direction: KpiDirection | None = strawberry.field(
        default=None, description="Whether higher or lower is better, for a saved KPI."
    )


@strawberry.type(description="A matrix of values: one row per series, one column per bucket.")
class HeatmapData:
    row_labels: list[str] = strawberry.field(description="Row names (the series' label values).")
    timestamps: list[float] = strawberry.field(description="Column starts, epoch ms (UTC).")
    values: JSON = strawberry.field(description="values[row][column]; null where no value.")


@strawberry.type(description="One row per series: its labels and summary.")
class TableData:
    rows: list[Series] = strawberry.field(description="Series; read `labels` and `summary`.")


@strawberry.type(
    description="A panel with nothing to show, and why: no metric given, too little data, "
    "or the feature (alerting, machine learning) not running in this gateway."
)
class PanelData:
    kind: WidgetType = strawberry.field(description="The panel's widget type.")
    available: bool = strawberry.field(description="Whether the feature is available.")
    message: str = strawberry.field(description="Why the panel is empty.")


@strawberry.type(description="The tenant's alerts, most urgent first (FIRING, then PENDING...).")
class AlertsData:
    alerts: list[Alert] = strawberry.field(description="Alert rules with their current state.")


@strawberry.type(description="A point detection found anomalous.")
class WidgetAnomaly:
    labels: JSON = strawberry.field(description="The labels of its series.")
    timestamp: datetime = strawberry.field(description="When (UTC).")
    value: float = strawberry.field(description="Its value.")
    score: float = strawberry.field(description="Anomaly score in [0, 1].")


@strawberry.type(description="The widget's series and the anomalies detection found in them.")
class AnomaliesData:
    series: list[Series] = strawberry.field(description="The series that were scored.")
    anomalies: list[WidgetAnomaly] = strawberry.field(description="Newest first.")
    detector: str = strawberry.field(description="The detector, or the trained model's.")


@strawberry.type(description="A forecast of the widget's metric past the end of its range.")
class ForecastData:
    history: Series = strawberry.field(description="The series the forecast continues.")
    forecast: Series = strawberry.field(description="The forecast.")
    lower: SeriesData = strawberry.field(description="Lower bound of the 95% interval.")
    upper: SeriesData = strawberry.field(description="Upper bound of the 95% interval.")
    model: str = strawberry.field(description="The model chosen by backtest.")


WidgetData = Annotated[
    ChartData
    | KpiData
    | HeatmapData
    | TableData
    | AlertsData
    | AnomaliesData
    | ForecastData
    | PanelData,
    strawberry.union("WidgetData", description="What a widget shows, by widget type."),
]


def widget_query(query: model.WidgetQuery) -> WidgetQuery:
    return WidgetQuery(
        kind=WidgetQueryKind[query.kind.name],
        name=query.name,
        formula=query.formula,
        labels=cast(JSON, dict(query.labels)),
        aggregation=Aggregation[query.aggregation.name] if query.aggregation else None,
        step=query.step,
        group_by=list(query.group_by) if query.group_by is not None else None,
        last=query.last,
        source=MetricSource[query.source.name],
        kpi_id=strawberry.ID(query.kpi_id) if query.kpi_id else None,
    )


@strawberry.type(description="One widget of a dashboard, and its data for the chosen range.")
class Widget:
    widget: strawberry.Private[model.Widget]
    read_data: strawberry.Private[Callable[[], Awaitable[WidgetData | None]]]

    @strawberry.field(description="Id, unique within the dashboard.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.widget.id)

    @strawberry.field(description="What the widget shows.")
    def type(self) -> WidgetType:
        return WidgetType[self.widget.type.name]

    @strawberry.field(description="Title shown above the widget.")
    def title(self) -> str:
        return self.widget.title

    @strawberry.field(description="Place and size on the grid.")
    def position(self) -> GridPosition:
        p = self.widget.position
        return GridPosition(x=p.x, y=p.y, w=p.w, h=p.h)

    @strawberry.field(description="How a chart draws its series.")
    def style(self) -> ChartStyle:
        return ChartStyle[self.widget.style.name]

    @strawberry.field(description="Unit of its values; null: detected from the metric's name.")
    def unit(self) -> PanelUnit | None:
        return PanelUnit[self.widget.unit.upper()] if self.widget.unit else None

    @strawberry.field(description="Colours of its values by threshold, as saved.")
    def thresholds(self) -> list[Threshold]:
        return [Threshold(value=t.value, color=t.color) for t in self.widget.thresholds]

    @strawberry.field(description="The query that feeds the widget; null for some panels.")
    def query(self) -> WidgetQuery | None:
        return widget_query(self.widget.query) if self.widget.query else None

    @strawberry.field(
        description="The widget's data for the dashboard's range and variables. All widgets "
        "of a request are read together: one call per backend, however many widgets."
    )
    async def data(self) -> WidgetData | None:
        return await self.read_data()


@strawberry.type(description="A dashboard variable: `$name` in widget queries takes its value.")
class DashboardVariable:
    variable: strawberry.Private[model.Variable]
    values: strawberry.Private[Mapping[str, str]]
    read_options: strawberry.Private[Callable[[], Awaitable[list[str]]]]

    @strawberry.field(description="Name, referred to as `$name` in queries.")
    def name(self) -> str:
        return self.variable.name

    @strawberry.field(description="Label shown in the variable picker.")
    def label(self) -> str:
        return self.variable.label or self.variable.name

    @strawberry.field(description="Value used when none is chosen; empty means all.")
    def default(self) -> str:
        return self.variable.default

    @strawberry.field(
        description="Metric whose `optionsLabel` values are offered; null: fixed options only."
    )
    def options_metric(self) -> str | None:
        return self.variable.options_metric

    @strawberry.field(description="Label of `optionsMetric` whose values are offered.")
    def options_label(self) -> str | None:
        return self.variable.options_label

    @strawberry.field(description="The value in effect for this view of the dashboard.")
    def value(self) -> str:
        return self.values.get(self.variable.name, self.variable.default)

    @strawberry.field(
        description="Values to choose from: fixed ones, or the values of a metric's label."
    )
    async def options(self) -> list[str]:
        return await self.read_options()


@strawberry.type(description="A dashboard of the caller's tenant.")
class Dashboard:
    dashboard: strawberry.Private[model.Dashboard]
    variables_: strawberry.Private[list[DashboardVariable]]
    widgets_: strawberry.Private[list[Widget]]

    @strawberry.field(description="Id of the dashboard.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.dashboard.id)

    @strawberry.field(description="Name of the dashboard.")
    def name(self) -> str:
        return self.dashboard.spec.name

    @strawberry.field(description="How widgets are arranged.")
    def layout(self) -> DashboardLayout:
        return DashboardLayout[self.dashboard.spec.layout.name]

    @strawberry.field(
        description="Version, one more at each save; pass it to updateDashboard, which fails "
        "with CONFLICT when someone saved a newer one."
    )
    def version(self) -> int:
        return self.dashboard.version

    @strawberry.field(description='Default time range ending now, e.g. "1h".')
    def time_range(self) -> str:
        return self.dashboard.spec.time_range

    @strawberry.field(description="When it was last saved (UTC).")
    def updated_at(self) -> datetime | None:
        return to_datetime(self.dashboard.updated_at_ms) if self.dashboard.updated_at_ms else None

    @strawberry.field(description="Variables substituted into every widget's query.")
    def variables(self) -> list[DashboardVariable]:
        return self.variables_

    @strawberry.field(description="The widgets, with their data for this view.")
    def widgets(self) -> list[Widget]:
        return self.widgets_


@strawberry.type(description="New data of one widget.")
class WidgetUpdate:
    widget_id: strawberry.ID = strawberry.field(description="Id of the widget.")
    result: strawberry.Private[WidgetData | Exception]

    @strawberry.field(description="Its data now; null with an error when a backend failed.")
    def data(self) -> WidgetData | None:
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


@strawberry.type(
    description="Widgets of a dashboard that have new data: at most one update per widget "
    "per second, however many points arrive."
)
class DashboardUpdate:
    dashboard_id: strawberry.ID = strawberry.field(description="Id of the dashboard.")
    version: int = strawberry.field(
        description="The dashboard's version; when it changes, every widget is sent again."
    )
    timestamp: datetime = strawberry.field(description="When the data was read (UTC).")
    widgets: list[WidgetUpdate] = strawberry.field(description="The widgets that changed.")
