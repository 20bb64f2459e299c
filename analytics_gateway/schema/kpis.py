"""GraphQL types and inputs for KPIs (`KpiDirection` and `KpiStatus` are in `dashboards`,
whose KPI widgets show them too)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry
from strawberry.scalars import JSON

from analytics_gateway.schema.dashboards import KpiDirection, KpiStatus, PanelUnit
from analytics_gateway.schema.metrics import Aggregation
from analytics_gateway.schema.scalars import SeriesData


@strawberry.enum(description="The period a KPI's value is compared with.")
class KpiComparison(Enum):
    PREVIOUS_PERIOD = strawberry.enum_value(
        "previous_period", description="The period of the same length right before the range."
    )
    PREVIOUS_WEEK = strawberry.enum_value(
        "previous_week", description="The same range one week earlier."
    )


@strawberry.type(description="A saved KPI: a formula over metrics and event counts, a target.")
class Kpi:
    id: strawberry.ID = strawberry.field(description="Id, unique within the tenant.")
    version: int = strawberry.field(description="One more on every save.")
    name: str = strawberry.field(description="Name shown with the value.")
    description: str = strawberry.field(description="What the KPI means.")
    formula: str = strawberry.field(
        description='The formula, e.g. `revenue / events("song_play")`.'
    )
    aggregation: Aggregation = strawberry.field(
        description="How each metric of the formula is reduced over the range."
    )
    unit: PanelUnit | None = strawberry.field(description="Unit of the value; null: none.")
    target: float | None = strawberry.field(description="The target; null: none.")
    direction: KpiDirection = strawberry.field(description="Whether higher or lower is better.")
    comparison: KpiComparison = strawberry.field(description="The period compared with.")
    labels: JSON = strawberry.field(description="Label filter applied to every metric.")
    updated_at: datetime = strawberry.field(description="Last save (UTC).")


@strawberry.type(description="A KPI over a range, against its comparison period and target.")
class KpiReading:
    kpi: Kpi = strawberry.field(description="The KPI as saved.")
    from_: datetime = strawberry.field(name="from", description="Range start (inclusive).")
    to: datetime = strawberry.field(description="Range end (exclusive).")
    previous_from: datetime = strawberry.field(description="Comparison period start.")
    previous_to: datetime = strawberry.field(description="Comparison period end (exclusive).")
    value: float | None = strawberry.field(description="Value over the range; null: no data.")
    previous: float | None = strawberry.field(description="Value over the comparison period.")
    change: float | None = strawberry.field(
        description="(value - previous) / |previous|; null when either is null or previous is 0."
    )
    status: KpiStatus = strawberry.field(description="Against the target, direction-aware.")
    step_ms: int = strawberry.field(description="Bucket width of `series`, ms.")
    series: SeriesData = strawberry.field(
        description="The formula per bucket of the range (at most ~120); null where no value."
    )


@strawberry.input(description="A KPI definition.")
class KpiInput:
    name: str = strawberry.field(description="Name, 1 to 200 characters.")
    formula: str = strawberry.field(
        description='Formula over metrics and event counts, e.g. `revenue / events("song_play")` '
        '(+ - * /, parentheses, `metric{label="value"}`, `events("type")`; at most 500 '
        "characters and 10 metrics and event counts)."
    )
    aggregation: Aggregation = strawberry.field(
        description="How each metric is reduced over the range: SUM for totals, AVG for "
        "gauges... Event counts are always totals."
    )
    direction: KpiDirection = strawberry.field(
        default=KpiDirection.HIGHER, description="Whether higher or lower is better."
    )
    target: float | None = strawberry.field(default=None, description="The target, if any.")
    unit: PanelUnit | None = strawberry.field(default=None, description="Unit of the value.")
    description: str = strawberry.field(default="", description="At most 1000 characters.")
    comparison: KpiComparison = strawberry.field(
        default=KpiComparison.PREVIOUS_PERIOD, description="The period compared with."
    )
    labels: JSON | None = strawberry.field(
        default=None, description="Label filter applied to every metric (at most 10)."
    )
