"""GraphQL types of business reports (see `analytics_gateway.reports`); roots in `report_roots`."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry
from strawberry.scalars import JSON

from analytics_gateway.schema.metrics import Aggregation

BOUNDS = (
    "At most 50 reports per tenant, 8 panels and 20 KPIs each, 3 groupBy labels per panel "
    "and 10 recipients."
)


@strawberry.enum(description="What one report covers, cut in the schedule's time zone.")
class ReportPeriod(Enum):
    DAY = strawberry.enum_value("day", description="A calendar day, from midnight.")
    WEEK = strawberry.enum_value("week", description="An ISO week, from Monday midnight.")
    MONTH = strawberry.enum_value("month", description="A calendar month, from its first day.")


@strawberry.enum(description="Which period `generateReport` covers when no from/to is given.")
class ReportWindow(Enum):
    LAST = strawberry.enum_value(
        "last", description="The last complete period (day, week or month) before now."
    )


@strawberry.enum(description="What an insight is about.")
class InsightKind(Enum):
    MOVER = strawberry.enum_value(
        "mover",
        description="A panel's change against the previous period; figures.drivers lists "
        "the label values explaining most of it (contribution = their change / the total "
        "change).",
    )
    ANOMALY = strawberry.enum_value(
        "anomaly", description="A point of the period that anomaly detection flagged."
    )
    FORECAST = strawberry.enum_value(
        "forecast", description="The forecast of the next period, with its interval."
    )
    KPI_OFF_TARGET = strawberry.enum_value(
        "kpi_off_target", description="A KPI of the report that is not on its target."
    )


@strawberry.input(description="One metric of a report, as a dashboard's METRIC query.")
class ReportPanelInput:
    metric: str = strawberry.field(description="Metric name.")
    labels: JSON | None = strawberry.field(
        default=None, description='Exact-match label filter, e.g. {"plan": "pro"}.'
    )
    aggregation: Aggregation = strawberry.field(
        default=Aggregation.SUM, description="How buckets and periods are aggregated."
    )
    group_by: list[str] | None = strawberry.field(
        default=None,
        description="Labels whose values may explain a change (at most 3); default: the "
        "metric's labels (at most 5).",
    )
    title: str | None = strawberry.field(default=None, description="Title; default: metric.")


@strawberry.input(description=f"A report's definition. {BOUNDS}")
class ReportInput:
    name: str = strawberry.field(description="Name, 1 to 200 characters.")
    kpis: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="Ids of the tenant's KPIs (kpis), at most 20."
    )
    panels: list[ReportPanelInput] = strawberry.field(
        default_factory=list, description="Metrics charted and explained, at most 8."
    )
    period: ReportPeriod = strawberry.field(
        default=ReportPeriod.WEEK, description="What one report covers."
    )
    schedule: str | None = strawberry.field(
        default=None,
        description='When it is sent: "every day 07:30 UTC", "every Monday 08:00 '
        'Europe/Paris" or "every month on day 1 09:00 America/New_York" (IANA zones; local '
        "wall-clock time across daylight saving changes). Null: on demand only.",
    )
    recipients: list[strawberry.ID] = strawberry.field(
        default_factory=list,
        description="Ids of EMAIL channels (get the PDF attached) and WEBHOOK channels (get "
        "the summary as JSON), at most 10; needs a schedule.",
    )


@strawberry.type(description="One metric of a report.")
class ReportPanel:
    metric: str = strawberry.field(description="Metric name.")
    labels: JSON = strawberry.field(description="Exact-match label filter.")
    aggregation: Aggregation = strawberry.field(description="How buckets are aggregated.")
    group_by: list[str] | None = strawberry.field(description="Labels that may explain changes.")
    title: str = strawberry.field(description="Title shown in the report.")


@strawberry.type(description="A saved report.")
class Report:
    id: strawberry.ID = strawberry.field(description="Report id.")
    version: int = strawberry.field(description="One more per save; updateReport names it.")
    name: str = strawberry.field(description="Name.")
    kpis: list[strawberry.ID] = strawberry.field(description="KPI ids.")
    panels: list[ReportPanel] = strawberry.field(description="Panels, in order.")
    period: ReportPeriod = strawberry.field(description="What one report covers.")
    schedule: str | None = strawberry.field(description="When it is sent; null: on demand.")
    time_zone: str = strawberry.field(description="The zone periods are cut in.")
    recipients: list[strawberry.ID] = strawberry.field(description="Channel ids.")
    next_run_at: datetime | None = strawberry.field(
        description="The next scheduled run; null without a schedule."
    )
    created_at: datetime = strawberry.field(description="When it was created.")
    updated_at: datetime = strawberry.field(description="When it was last saved.")


@strawberry.type(description="A KPI of a report over the report's period.")
class ReportKpiValue:
    id: strawberry.ID = strawberry.field(description="KPI id.")
    name: str = strawberry.field(description="KPI name.")
    unit: str | None = strawberry.field(description="Unit, if set.")
    value: float | None = strawberry.field(description="Value over the period.")
    previous: float | None = strawberry.field(description="Value over its comparison period.")
    change: float | None = strawberry.field(description="Relative change (0.1 = +10%).")
    target: float | None = strawberry.field(description="Target, if set.")
    status: str = strawberry.field(description="ON_TARGET, OFF_TARGET, NO_TARGET or NO_DATA.")


@strawberry.type(description="One insight: a structured record and a sentence written from it.")
class ReportInsight:
    kind: InsightKind = strawberry.field(description="What it is about.")
    subject: str = strawberry.field(description="The panel or KPI it is about.")
    sentence: str = strawberry.field(description="The insight in words, from `figures` only.")
    figures: JSON = strawberry.field(
        description="The numbers: MOVER current, previous, change, changeRatio, drivers "
        "[{label, value, current, previous, change, contribution}]; ANOMALY timestamp (epoch "
        "ms), value, score; FORECAST value, lower, upper, confidenceInterval, model, from, to; "
        "KPI_OFF_TARGET value, target, direction, gap."
    )


@strawberry.type(description="A report generated over one period.")
class GeneratedReport:
    report_id: strawberry.ID = strawberry.field(description="Report id.")
    name: str = strawberry.field(description="Report name.")
    from_: datetime = strawberry.field(name="from", description="Period start (inclusive).")
    to: datetime = strawberry.field(description="Period end (exclusive).")
    previous_from: datetime = strawberry.field(description="Compared period start.")
    previous_to: datetime = strawberry.field(description="Compared period end (exclusive).")
    period_text: str = strawberry.field(description="The period in the report's time zone.")
    kpis: list[ReportKpiValue] = strawberry.field(description="KPI values, in report order.")
    insights: list[ReportInsight] = strawberry.field(
        description="Movers, anomalies and forecasts per panel, then KPIs off target."
    )
    html: str = strawberry.field(description="Self-contained HTML, charts as inline SVG.")
    pdf: str = strawberry.field(description="The PDF, base64 (at most 4 MiB before encoding).")
    pdf_bytes: int = strawberry.field(description="Size of the PDF in bytes.")
