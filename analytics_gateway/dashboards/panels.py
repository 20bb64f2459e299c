"""Widget data, panels included: ALERTS from the alert service, ANOMALIES and
FORECAST from the ML service over the series their plan read, saved KPIs from
the KPI service (through the same loaders, so in the dashboard's batch).

The planner reads every widget's series through the request's loaders (one
store call per backend for the whole dashboard); this module then hands the
panels' series to the feature services. A gateway without one of them shows
the panel with the reason instead.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from analytics_gateway.alerting.engine import RuleState
from analytics_gateway.dashboards import planner, variables
from analytics_gateway.dashboards.model import QueryKind, Widget, WidgetType
from analytics_gateway.dashboards.results import (
    AlertsResult,
    AnomaliesResult,
    AnomalyMark,
    ChartResult,
    ForecastPanelResult,
    KpiResult,
    PanelResult,
    WidgetResult,
)
from analytics_gateway.dataloaders import Loaders
from analytics_gateway.domain import Series
from analytics_gateway.durations import parse_duration_ms
from analytics_gateway.errors import BadUserInput, QueryTooComplex

if TYPE_CHECKING:
    from analytics_gateway.alerting.service import AlertService
    from analytics_gateway.kpis.service import KpiService
    from analytics_gateway.ml.service import MlService

MAX_ALERTS = 50
MAX_ANOMALIES = 200
FORECAST_SHARE = 4  # the forecast reaches a quarter of the widget's points ahead
MIN_FORECAST_POINTS = 12
# most urgent first
_STATE_ORDER = {"FIRING": 0, "PENDING": 1, "ERROR": 2, "NODATA": 3, "RESOLVED": 4, "INACTIVE": 5}
_SEVERITY_ORDER = {"CRITICAL": 0, "WARNING": 1, "INFO": 2}


@dataclass(frozen=True)
class Features:
    """The services panels read; None where this gateway does not run one."""

    alerts: AlertService | None = None
    ml: MlService | None = None
    kpis: KpiService | None = None


async def widget_data(
    widget: Widget, view: planner.View, loaders: Loaders, features: Features
) -> WidgetResult:
    query = widget.query
    if query is not None and query.kind is QueryKind.KPI and features.kpis is not None:
        return await _kpi(widget, view, loaders, features.kpis)
    result = await planner.run(planner.plan(widget, view), loaders)
    if widget.type is WidgetType.ALERTS:
        return await _alerts(view.tenant, features.alerts) if features.alerts else result
    if not isinstance(result, ChartResult):
        return result  # a panel without a metric: the plan says why
    if widget.type is WidgetType.ANOMALIES and widget.query is not None:
        shown = planner.window_of(variables.apply(widget.query, view.values), view)
        return await _anomalies(view.tenant, result.series, features.ml, shown.start)
    if widget.type is WidgetType.FORECAST:
        return await _forecast(view.tenant, result.series, features.ml)
    return result


async def _kpi(widget: Widget, view: planner.View, loaders: Loaders, kpis: KpiService) -> KpiResult:
    """A saved KPI over the widget's range; NOT_FOUND unless the viewer's tenant has it."""
    assert widget.query is not None
    query = widget.query
    range_ms = parse_duration_ms(query.last, field="last") if query.last else view.range_ms
    start = view.now_ms - range_ms  # with from/to: `from` (see `planner.make_view`)
    value = await kpis.evaluate(view.tenant, query.kpi_id, start, view.now_ms + 1, loaders)
    known = [(t, v) for t, v in value.series if v is not None]
    sparkline = Series(value.definition.name, {}, [t for t, _ in known], [v for _, v in known])
    return KpiResult(
        value.value,
        value.previous,
        value.change,
        sparkline,
        status=value.status.value,
        target=value.definition.target,
        direction=value.definition.direction.value,
    )


async def _alerts(tenant: str, alerts: AlertService) -> AlertsResult:
    rules = await alerts.rules(tenant)
    states = await alerts.states(tenant)
    entries = [(rule, states.get(rule.id, RuleState())) for rule in rules]
    entries.sort(
        key=lambda e: (
            _STATE_ORDER.get(e[1].state.value, 9),
            _SEVERITY_ORDER.get(e[0].severity.value, 9),
            e[0].name,
        )
    )
    return AlertsResult(entries[:MAX_ALERTS])


async def _anomalies(
    tenant: str, series: list[Series], ml: MlService | None, shown_from: int
) -> AnomaliesResult | PanelResult:
    """Detection over everything read (the shown range and the history before it);
    the series and the anomalies of the shown range only."""
    if ml is None:
        return PanelResult(WidgetType.ANOMALIES.value, "Anomaly detection is not running here.")
    scored = [s for s in series if s.values]
    try:
        results = await ml.detect(tenant, scored)
    except (BadUserInput, QueryTooComplex) as exc:
        return PanelResult(WidgetType.ANOMALIES.value, exc.message)
    marks = [
        AnomalyMark(dict(s.labels), int(r.timestamps[i]), float(r.values[i]), float(r.scores[i]))
        for s, r in zip(scored, results, strict=True)
        for i in np.flatnonzero(r.alerts).tolist()  # one mark per anomaly, not its echo
        if r.timestamps[i] >= shown_from
    ]
    marks.sort(key=lambda m: (-m.timestamp, -m.score))
    detector = results[0].detector if results else ""
    return AnomaliesResult([_since(s, shown_from) for s in series], marks[:MAX_ANOMALIES], detector)


def _since(series: Series, start: int) -> Series:
    keep = bisect.bisect_left(series.timestamps, start)
    return Series(series.name, series.labels, series.timestamps[keep:], series.values[keep:])


async def _forecast(
    tenant: str, series: list[Series], ml: MlService | None
) -> ForecastPanelResult | PanelResult:
    if ml is None:
        return PanelResult(WidgetType.FORECAST.value, "Forecasting is not running here.")
    history = max(series, key=lambda s: len(s.values), default=None)
    if history is None or len(history.values) < MIN_FORECAST_POINTS:
        return PanelResult(
            WidgetType.FORECAST.value,
            f"Not enough data to forecast: at least {MIN_FORECAST_POINTS} points are needed.",
        )
    horizon = str(max(len(history.values) // FORECAST_SHARE, 1))  # points ahead
    try:
        answer = await ml.forecast(tenant, history, horizon, 0.95, None)
    except (BadUserInput, QueryTooComplex) as exc:
        return PanelResult(WidgetType.FORECAST.value, exc.message)
    made = answer.forecast

    def line(name: str, values: list[float]) -> Series:
        return Series(name, dict(history.labels), list(made.timestamps_ms), list(values))

    return ForecastPanelResult(
        history,
        line(history.name, made.values),
        line("lower", made.lower),
        line("upper", made.upper),
        made.model,
    )
