"""GraphQL inputs that define dashboards and their widgets."""

from __future__ import annotations

import strawberry
from strawberry.scalars import JSON

from analytics_gateway.schema.dashboards import ChartStyle, DashboardLayout, PanelUnit, WidgetType
from analytics_gateway.schema.metrics import Aggregation, MetricQueryInput


@strawberry.input(description="Place and size of a widget on the 12-column grid.")
class GridPositionInput:
    x: int = strawberry.field(description="First column, 0 to 11.")
    y: int = strawberry.field(description="First row, from 0.")
    w: int = strawberry.field(description="Width in columns, 1 to 12.")
    h: int = strawberry.field(description="Height in rows, 1 to 24.")


@strawberry.input(description="From `value` up to the next threshold, values show in `color`.")
class ThresholdInput:
    value: float = strawberry.field(description="Where the colour starts.")
    color: str = strawberry.field(description="One of green, yellow, orange, red, blue.")


@strawberry.input(description="Counts of one event type per bucket, as a widget's data.")
class EventCountQueryInput:
    type: str = strawberry.field(description="Event type, e.g. song_play.")
    step: str | None = strawberry.field(
        default=None, description="Bucket width; default: chosen from the range."
    )
    group_by: str | None = strawberry.field(
        default=None, description="Metadata field to split counts by, e.g. country."
    )
    last: str | None = strawberry.field(
        default=None, description="The widget's own range; default: the dashboard's."
    )


@strawberry.input(
    description="One widget. Give its data as exactly one of: `data` (a named data source "
    "such as daily_revenue, active_users or user_activity, or a metric name), `metric` "
    "(a metric name), `formula` (e.g. `revenue / active_users`), `query` (a MetricQuery), "
    "`events` (an event count) or `kpi` (a saved KPI). ALERTS, ANOMALIES and FORECAST "
    "panels may have none. "
    "`aggregation`, `labels`, `groupBy`, `step` and `last` refine `data`, `metric` and "
    '`formula`. Strings may name dashboard variables, e.g. `{country: "$country"}`.'
)
class WidgetInput:
    type: WidgetType = strawberry.field(description="What the widget shows.")
    id: strawberry.ID | None = strawberry.field(
        default=None, description="Keep this id (on update); default: a new one."
    )
    title: str | None = strawberry.field(
        default=None, description="Title; default: from the data source."
    )
    position: GridPositionInput | None = strawberry.field(
        default=None, description="Place and size; default: flowed after the others."
    )
    style: ChartStyle | None = strawberry.field(default=None, description="Line or area.")
    data: str | None = strawberry.field(
        default=None, description="A named data source, or a metric name."
    )
    metric: str | None = strawberry.field(default=None, description="A metric name.")
    formula: str | None = strawberry.field(
        default=None, description='A KPI formula over metrics, e.g. "revenue / active_users".'
    )
    query: MetricQueryInput | None = strawberry.field(
        default=None,
        description="A full metric query; `last` is the widget's own range, `from`/`to` are "
        "not allowed (dashboards are relative to now).",
    )
    events: EventCountQueryInput | None = strawberry.field(
        default=None, description="Counts of one event type."
    )
    aggregation: Aggregation | None = strawberry.field(
        default=None, description="Per-bucket aggregation for data/metric/formula."
    )
    labels: JSON | None = strawberry.field(
        default=None, description="Label filter for data/metric/formula."
    )
    group_by: list[str] | None = strawberry.field(
        default=None, description="Split by these labels (data/metric)."
    )
    step: str | None = strawberry.field(default=None, description="Bucket width.")
    last: str | None = strawberry.field(default=None, description="The widget's own range.")
    unit: PanelUnit | None = strawberry.field(
        default=None, description="Unit of its values; default: detected from the metric."
    )
    thresholds: list[ThresholdInput] | None = strawberry.field(
        default=None, description="Colours of its values by threshold (at most 10)."
    )
    kpi: strawberry.ID | None = strawberry.field(
        default=None,
        description="A saved KPI of the tenant (KPI widgets): its value, change, status and "
        "sparkline over the widget's range (`last`) or the dashboard's.",
    )


@strawberry.input(description="A dashboard variable, referred to as `$name` in queries.")
class DashboardVariableInput:
    name: str = strawberry.field(description="Name (letters, digits, _).")
    label: str | None = strawberry.field(default=None, description="Label in the picker.")
    default: str = strawberry.field(default="", description="Default value; empty means all.")
    options: list[str] | None = strawberry.field(default=None, description="Fixed choices.")
    options_metric: str | None = strawberry.field(
        default=None, description="Offer the values of this metric's `optionsLabel`."
    )
    options_label: str | None = strawberry.field(
        default=None, description="Label whose values are offered."
    )


@strawberry.input(description="A whole dashboard definition.")
class DashboardInput:
    name: str = strawberry.field(description="Name of the dashboard.")
    widgets: list[WidgetInput] = strawberry.field(description="The widgets, in order.")
    layout: DashboardLayout = strawberry.field(
        default=DashboardLayout.GRID, description="How widgets are arranged."
    )
    time_range: str = strawberry.field(default="1h", description="Default range ending now.")
    variables: list[DashboardVariableInput] | None = strawberry.field(
        default=None, description="Variables substituted into widget queries."
    )
