"""What a widget shows, computed from the series its queries returned. No GraphQL, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from analytics_gateway.dashboards.model import ChartStyle
from analytics_gateway.domain import Aggregation, Series

if TYPE_CHECKING:
    from analytics_gateway.alerting.engine import RuleState
    from analytics_gateway.alerting.model import AlertRule

TOTALS = frozenset({Aggregation.SUM, Aggregation.COUNT})


@dataclass
class ChartResult:
    series: list[Series]
    style: ChartStyle


@dataclass
class KpiResult:
    """One number, the same number over the previous period, and the series behind it;
    for a saved KPI also its status against the target, the target and its direction."""

    value: float | None
    previous: float | None
    change: float | None
    sparkline: Series
    status: str | None = None
    target: float | None = None
    direction: str | None = None

    @classmethod
    def of(cls, value: float | None, previous: float | None, sparkline: Series) -> KpiResult:
        change = None
        if value is not None and previous:
            change = (value - previous) / abs(previous)
        return cls(value, previous, change, sparkline)


@dataclass
class HeatmapResult:
    """A matrix: one row per series, one column per bucket; None where no value."""

    rows: list[str]
    timestamps: list[int]
    values: list[list[float | None]]


@dataclass
class TableResult:
    series: list[Series]


@dataclass
class PanelResult:
    """A panel with nothing to show, and why (no metric given, a feature not running)."""

    kind: str
    reason: str


@dataclass
class AlertsResult:
    """The tenant's alert rules with their state, most urgent first."""

    entries: list[tuple[AlertRule, RuleState]]


@dataclass(frozen=True)
class AnomalyMark:
    labels: dict[str, str]
    timestamp: int
    value: float
    score: float


@dataclass
class AnomaliesResult:
    """The widget's series and the points detection found anomalous in them."""

    series: list[Series]
    anomalies: list[AnomalyMark]
    detector: str


@dataclass
class ForecastPanelResult:
    """The series the forecast continues, the forecast and its interval."""

    history: Series
    forecast: Series
    lower: Series
    upper: Series
    model: str


WidgetResult = (
    ChartResult
    | KpiResult
    | HeatmapResult
    | TableResult
    | PanelResult
    | AlertsResult
    | AnomaliesResult
    | ForecastPanelResult
)


def kpi_value(series: Series, aggregation: Aggregation) -> float | None:
    """Totals (SUM, COUNT) add up over the range; other KPIs show the latest bucket."""
    if not series.values:
        return None
    if aggregation in TOTALS:
        return float(sum(series.values))
    return series.values[-1]


def merged(series: Sequence[Series], name: str) -> Series:
    """One series from a merged (`groupBy: []`) answer: the only one, or their sum."""
    if len(series) == 1:
        return series[0]
    sums: dict[int, float] = {}
    for s in series:
        for ts, value in zip(s.timestamps, s.values, strict=True):
            sums[ts] = sums.get(ts, 0.0) + value
    ordered = sorted(sums)
    return Series(name=name, labels={}, timestamps=ordered, values=[sums[t] for t in ordered])


def row_name(series: Series) -> str:
    if not series.labels:
        return series.name
    if len(series.labels) == 1:
        return next(iter(series.labels.values()))
    return ", ".join(f"{k}={v}" for k, v in sorted(series.labels.items()))


def heatmap_of(series: Sequence[Series]) -> HeatmapResult:
    ordered = sorted(series, key=row_name)
    timestamps = sorted({t for s in ordered for t in s.timestamps})
    column = {t: i for i, t in enumerate(timestamps)}
    values: list[list[float | None]] = []
    for s in ordered:
        row: list[float | None] = [None] * len(timestamps)
        for ts, value in zip(s.timestamps, s.values, strict=True):
            row[column[ts]] = value
        values.append(row)
    return HeatmapResult([row_name(s) for s in ordered], timestamps, values)


def _series_json(series: Series) -> dict[str, Any]:
    return {
        "name": series.name,
        "labels": series.labels,
        "data": {"t": series.timestamps, "v": series.values},
    }


def as_json(result: WidgetResult) -> dict[str, Any]:
    """The REST form of a widget's data (the GraphQL `WidgetData` shapes, as plain JSON)."""
    if isinstance(result, ChartResult):
        return {
            "kind": "chart",
            "style": result.style.value,
            "series": [_series_json(s) for s in result.series],
        }
    if isinstance(result, KpiResult):
        spark = result.sparkline
        return {
            "kind": "kpi",
            "value": result.value,
            "previous": result.previous,
            "change": result.change,
            "sparkline": {"t": spark.timestamps, "v": spark.values},
            **(
                {"status": result.status, "target": result.target, "direction": result.direction}
                if result.status is not None
                else {}
            ),
        }
    if isinstance(result, HeatmapResult):
        return {
            "kind": "heatmap",
            "rows": result.rows,
            "timestamps": result.timestamps,
            "values": result.values,
        }
    if isinstance(result, TableResult):
        return {"kind": "table", "rows": [_series_json(s) for s in result.series]}
    if isinstance(result, AlertsResult):
        return {
            "kind": "alerts",
            "alerts": [
                {
                    "id": rule.id,
                    "name": rule.name,
                    "severity": rule.severity.value,
                    "state": state.state.value,
                }
                for rule, state in result.entries
            ],
        }
    if isinstance(result, AnomaliesResult):
        return {
            "kind": "anomalies",
            "detector": result.detector,
            "series": [_series_json(s) for s in result.series],
            "anomalies": [
                {"labels": m.labels, "timestamp": m.timestamp, "value": m.value, "score": m.score}
                for m in result.anomalies
            ],
        }
    if isinstance(result, ForecastPanelResult):
        return {
            "kind": "forecast",
            "model": result.model,
            "history": _series_json(result.history),
            "forecast": _series_json(result.forecast),
            "lower": {"t": result.lower.timestamps, "v": result.lower.values},
            "upper": {"t": result.upper.timestamps, "v": result.upper.values},
        }
    return {"kind": result.kind, "available": False, "message": result.reason}
