"""Named data sources, the presets of `createRealtimeDashboard`, and the demo dashboards.

A component such as `{type: CHART, data: "daily_revenue"}` names a data
source here; a name not listed is read as a metric name with default settings.
"""

from __future__ import annotations

from dataclasses import dataclass

from analytics_gateway.dashboards.model import (
    ChartStyle,
    DashboardSpec,
    Position,
    QueryKind,
    Variable,
    Widget,
    WidgetQuery,
    WidgetType,
    auto_positions,
)
from analytics_gateway.domain import Aggregation
from analytics_gateway.errors import BadUserInput
from analytics_gateway.self_monitoring import series as own


def metric(
    name: str,
    aggregation: Aggregation = Aggregation.AVG,
    *,
    group_by: tuple[str, ...] | None = None,
    labels: dict[str, str] | None = None,
    step: str | None = None,
    last: str | None = None,
) -> WidgetQuery:
    return WidgetQuery(
        QueryKind.METRIC,
        name=name,
        labels=labels or {},
        aggregation=aggregation,
        group_by=group_by,
        step=step,
        last=last,
    )


def events(
    event_type: str,
    *,
    group_by: str | None = None,
    step: str | None = None,
    last: str | None = None,
) -> WidgetQuery:
    return WidgetQuery(
        QueryKind.EVENTS,
        name=event_type,
        group_by=(group_by,) if group_by else None,
        step=step,
        last=last,
    )


def formula(text: str, aggregation: Aggregation = Aggregation.AVG) -> WidgetQuery:
    return WidgetQuery(QueryKind.FORMULA, formula=text, aggregation=aggregation)


@dataclass(frozen=True)
class Source:
    title: str
    query: WidgetQuery


DATA_SOURCES: dict[str, Source] = {
    "daily_revenue": Source(
        "Daily revenue", metric("revenue", Aggregation.SUM, step="1d", last="7d")
    ),
    "revenue": Source("Revenue", metric("revenue", Aggregation.SUM)),
    "active_users": Source("Active users", metric("active_users", Aggregation.LAST)),
    "user_activity": Source(
        "Listening activity by country",
        events("song_play", group_by="country", step="1h", last="24h"),
    ),
    "song_plays": Source(
        "Song plays per minute by country",
        metric("song_plays", Aggregation.AVG, group_by=("country",)),
    ),
    "revenue_per_user": Source(
        "Revenue per active user", formula("revenue / active_users", Aggregation.LAST)
    ),
    "conversion_rate": Source("Conversion rate", metric("conversion_rate", Aggregation.AVG)),
    "error_rate": Source("Error rate", metric("error_rate", Aggregation.AVG)),
    "cpu_usage": Source("CPU by host", metric("cpu_usage", Aggregation.AVG, group_by=("host",))),
    "request_latency": Source(
        "Request latency p95 by endpoint",
        metric("request_latency_ms", Aggregation.P95, group_by=("endpoint",)),
    ),
    "daily_plays": Source("Plays per day (28d)", events("song_play", step="1d", last="28d")),
    "daily_signups": Source(
        "Sign-ups per day by country (28d)",
        events("sign_up", group_by="country", step="1d", last="28d"),
    ),
    "daily_subscriptions": Source(
        "Subscriptions per day (28d)", events("subscribe", step="1d", last="28d")
    ),
    "artist_plays": Source(
        "Plays per day by artist (7d)",
        events("song_play", group_by="artist", step="1d", last="7d"),
    ),
    "song_plays_7d": Source(
        "Plays by song (7d)", events("song_play", group_by="song_id", step="7d", last="7d")
    ),
}


def source(name: str) -> Source:
    """The named data source, or the metric of that name with default settings."""
    known = DATA_SOURCES.get(name)
    if known is not None:
        return known
    return Source(name.replace("_", " ").capitalize(), metric(name))


PresetWidget = tuple[WidgetType, str, WidgetQuery | None, ChartStyle]

PRESETS: dict[str, list[PresetWidget]] = {
    "system_health": [
        (WidgetType.KPI, "Error rate", metric("error_rate", Aggregation.AVG), ChartStyle.LINE),
        (
            WidgetType.KPI,
            "Latency p95 (ms)",
            metric("request_latency_ms", Aggregation.P95),
            ChartStyle.LINE,
        ),
        (WidgetType.CHART, "CPU by host", DATA_SOURCES["cpu_usage"].query, ChartStyle.LINE),
        (
            WidgetType.CHART,
            "Request latency p95",
            DATA_SOURCES["request_latency"].query,
            ChartStyle.LINE,
        ),
    ],
    "user_activity": [
        (WidgetType.KPI, "Active users", DATA_SOURCES["active_users"].query, ChartStyle.LINE),
        (WidgetType.KPI, "Plays", events("song_play"), ChartStyle.LINE),
        (
            WidgetType.CHART,
            "Song plays by country",
            DATA_SOURCES["song_plays"].query,
            ChartStyle.AREA,
        ),
        (
            WidgetType.HEATMAP,
            "Listening activity by country",
            DATA_SOURCES["user_activity"].query,
            ChartStyle.LINE,
        ),
    ],
    "revenue": [
        (WidgetType.KPI, "Revenue", DATA_SOURCES["revenue"].query, ChartStyle.LINE),
        (
            WidgetType.KPI,
            "Revenue per active user",
            DATA_SOURCES["revenue_per_user"].query,
            ChartStyle.LINE,
        ),
        (WidgetType.KPI, "Conversion rate", DATA_SOURCES["conversion_rate"].query, ChartStyle.LINE),
        (WidgetType.CHART, "Revenue", DATA_SOURCES["revenue"].query, ChartStyle.AREA),
    ],
    # plays, users, sign-ups and subscriptions from product events (`serve --demo` has them)
    "business": [
        (WidgetType.KPI, "Plays", events("song_play"), ChartStyle.LINE),
        (WidgetType.KPI, "Active users", DATA_SOURCES["active_users"].query, ChartStyle.LINE),
        (WidgetType.KPI, "Sign-ups", events("sign_up"), ChartStyle.LINE),
        (WidgetType.KPI, "Subscriptions", events("subscribe"), ChartStyle.LINE),
        (
            WidgetType.CHART,
            "Plays per day (28d)",
            DATA_SOURCES["daily_plays"].query,
            ChartStyle.AREA,
        ),
        (
            WidgetType.CHART,
            "Sign-ups per day by country (28d)",
            DATA_SOURCES["daily_signups"].query,
            ChartStyle.AREA,
        ),
        (
            WidgetType.CHART,
            "Subscriptions per day (28d)",
            DATA_SOURCES["daily_subscriptions"].query,
            ChartStyle.LINE,
        ),
        (
            WidgetType.HEATMAP,
            "Plays per day by artist (7d)",
            DATA_SOURCES["artist_plays"].query,
            ChartStyle.LINE,
        ),
        (WidgetType.TABLE, "Top songs (7d)", DATA_SOURCES["song_plays_7d"].query, ChartStyle.LINE),
    ],
    "alerts": [(WidgetType.ALERTS, "Alerts", None, ChartStyle.LINE)],
    "anomalies": [(WidgetType.ANOMALIES, "Anomalies", None, ChartStyle.LINE)],
    "forecast": [(WidgetType.FORECAST, "Revenue forecast", metric("revenue"), ChartStyle.LINE)],
    # the operator tenant's: what self-monitoring and `analytics-gateway agent` write
    "gateway_health": [
        (WidgetType.KPI, "Error ratio", metric(own.ERROR_RATIO, Aggregation.MAX), ChartStyle.LINE),
        (
            WidgetType.KPI,
            "Latency p95 (ms)",
            metric(own.LATENCY_P95, Aggregation.MAX),
            ChartStyle.LINE,
        ),
        (
            WidgetType.KPI,
            "Ingest buffer backlog (batches)",
            metric(own.BUFFER_ENTRIES, Aggregation.MAX),
            ChartStyle.LINE,
        ),
        (
            WidgetType.CHART,
            "Latency p50 (ms) by instance",
            metric(own.LATENCY_P50, Aggregation.AVG, group_by=("instance",)),
            ChartStyle.LINE,
        ),
        (
            WidgetType.CHART,
            "Latency p95 (ms) by instance",
            metric(own.LATENCY_P95, Aggregation.AVG, group_by=("instance",)),
            ChartStyle.LINE,
        ),
        (
            WidgetType.CHART,
            "Errors per second by code",
            metric(own.ERRORS, Aggregation.AVG, group_by=("code",)),
            ChartStyle.AREA,
        ),
        (
            WidgetType.CHART,
            "Requests per second by instance",
            metric(own.REQUESTS, Aggregation.AVG, group_by=("instance",)),
            ChartStyle.LINE,
        ),
        (
            WidgetType.CHART,
            "Ingested per second",
            metric(own.INGESTED, Aggregation.AVG, group_by=("kind",)),
            ChartStyle.AREA,
        ),
        (
            WidgetType.CHART,
            "Ingest buffer backlog (batches)",
            metric(own.BUFFER_ENTRIES, Aggregation.MAX, group_by=()),
            ChartStyle.AREA,
        ),
        (
            WidgetType.CHART,
            "Live subscriptions by instance",
            metric(own.SUBSCRIPTIONS, Aggregation.AVG, group_by=("instance",)),
            ChartStyle.LINE,
        ),
        (
            WidgetType.CHART,
            "Alert evaluation lag (s) by instance",
            metric(own.ALERT_LAG, Aggregation.MAX, group_by=("instance",)),
            ChartStyle.LINE,
        ),
        (
            WidgetType.CHART,
            "CPU (%) by host",
            metric(own.CPU_USAGE, Aggregation.AVG, group_by=("host",)),
            ChartStyle.LINE,
        ),
        (
            WidgetType.CHART,
            "Memory (%) by host",
            metric(own.MEMORY_USAGE, Aggregation.AVG, group_by=("host",)),
            ChartStyle.LINE,
        ),
    ],
}


def laid_out(items: list[PresetWidget]) -> tuple[Widget, ...]:
    """Widgets with ids w1.. and flowed grid positions."""
    positions = auto_positions([t for t, _, _, _ in items])
    return tuple(
        Widget(f"w{i + 1}", widget_type, title, position, query, style)
        for i, ((widget_type, title, query, style), position) in enumerate(
            zip(items, positions, strict=True)
        )
    )


def realtime_spec(presets: list[str], name: str | None) -> DashboardSpec:
    if not presets:
        raise BadUserInput("give at least one preset", field="widgets")
    unknown = [p for p in presets if p not in PRESETS]
    if unknown:
        raise BadUserInput(
            f"unknown preset(s) {', '.join(map(repr, unknown))}; use {', '.join(PRESETS)}",
            field="widgets",
        )
    items = [item for p in dict.fromkeys(presets) for item in PRESETS[p]]
    title = name or "Realtime: " + ", ".join(p.replace("_", " ") for p in dict.fromkeys(presets))
    return DashboardSpec(name=title, widgets=laid_out(items), time_range="1h")


DEMO_NAME = "Music platform overview"


def demo_spec() -> DashboardSpec:
    """The dashboard tenant `demo` starts with: every widget type, one variable."""
    country = {"country": "$country"}
    items: list[PresetWidget] = [
        (WidgetType.KPI, "Active users", DATA_SOURCES["active_users"].query, ChartStyle.LINE),
        (WidgetType.KPI, "Revenue (range total)", DATA_SOURCES["revenue"].query, ChartStyle.LINE),
        (
            WidgetType.KPI,
            "Revenue per active user",
            formula("revenue / active_users", Aggregation.LAST),
            ChartStyle.LINE,
        ),
        (WidgetType.KPI, "Error rate", DATA_SOURCES["error_rate"].query, ChartStyle.LINE),
        (
            WidgetType.CHART,
            "Song plays per minute ($country)",
            metric("song_plays", Aggregation.AVG, group_by=("country",), labels=country),
            ChartStyle.AREA,
        ),
        (WidgetType.CHART, "CPU by host", DATA_SOURCES["cpu_usage"].query, ChartStyle.LINE),
        (
            WidgetType.HEATMAP,
            "Listening activity by country (24h)",
            DATA_SOURCES["user_activity"].query,
            ChartStyle.LINE,
        ),
        (
            WidgetType.CHART,
            "Request latency p95 (ms)",
            DATA_SOURCES["request_latency"].query,
            ChartStyle.LINE,
        ),
        (
            WidgetType.TABLE,
            "Song plays per minute by country",
            metric("song_plays", Aggregation.AVG, group_by=("country",), labels=country),
            ChartStyle.LINE,
        ),
        (WidgetType.ALERTS, "Alerts", None, ChartStyle.LINE),
        (WidgetType.ANOMALIES, "Anomalies", metric("cpu_usage"), ChartStyle.LINE),
        (WidgetType.FORECAST, "Revenue forecast", metric("revenue"), ChartStyle.LINE),
    ]
    variable = Variable(
        name="country",
        label="Country",
        default="",
        options_metric="song_plays",
        options_label="country",
    )
    return DashboardSpec(
        name=DEMO_NAME, widgets=laid_out(items), time_range="1h", variables=(variable,)
    )


# listed after DEMO_NAME (dashboards are listed by name): the overview stays first
BUSINESS_NAME = "Business overview"


def business_spec() -> DashboardSpec:
    """The demo's second dashboard: the `business` preset over the last 7 days, so its
    KPIs compare a week with the week before."""
    return DashboardSpec(name=BUSINESS_NAME, widgets=laid_out(PRESETS["business"]), time_range="7d")


__all__ = [
    "DATA_SOURCES",
    "PRESETS",
    "Position",
    "business_spec",
    "demo_spec",
    "realtime_spec",
    "source",
]
