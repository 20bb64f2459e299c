"""Resolvers for anomaly detection, forecasting and the model registry.

They authorise, check input and call `MlService` with the caller's tenant;
REST reuses `train_spec` and the service, so both speak the same rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from analytics_gateway import domain
from analytics_gateway.context import Info
from analytics_gateway.domain import MetricQuery, Scope
from analytics_gateway.durations import parse_duration_ms
from analytics_gateway.errors import BackendUnavailable, BadUserInput
from analytics_gateway.ml import detectors
from analytics_gateway.ml.registry import ANOMALY
from analytics_gateway.ml.service import MlService, TrainSpec
from analytics_gateway.resolvers.common import label_filter, metric_name, time_range
from analytics_gateway.schema.ml import (
    AnomalyReport,
    Forecast,
    Model,
    ModelKind,
    PredictionResult,
    Sensitivity,
    TrainModelInput,
)
from analytics_gateway.services import Services

MAX_METRICS = 20
DEFAULT_TRAIN_MS = 7 * 86_400_000


def ml_service(services: Services) -> MlService:
    if services.ml is None:
        raise BackendUnavailable("machine learning is not running in this gateway", backend="ml")
    return services.ml


def parameters_of(raw: Any, field: str = "parameters") -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise BadUserInput(f"{field}: must be an object of parameter name to value", field=field)
    return dict(raw)


def core(sensitivity: Sensitivity | None) -> detectors.Sensitivity | None:
    return sensitivity.core() if sensitivity is not None else None


def train_spec(
    *,
    metric: str,
    labels: Any = None,
    kind: str = ANOMALY,
    window: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    detector: str | None = None,
    method: str | None = None,
    parameters: Any = None,
    sensitivity: detectors.Sensitivity = detectors.Sensitivity.MEDIUM,
    horizon: str | None = None,
    confidence_interval: float = 0.95,
    name: str | None = None,
    model_id: str | None = None,
) -> TrainSpec:
    """A checked training request (GraphQL and REST build it the same way)."""
    if kind == ANOMALY and method is not None:
        raise BadUserInput("method: only for FORECAST models; use `detector`", field="method")
    if kind != ANOMALY and detector is not None:
        raise BadUserInput("detector: only for ANOMALY models; use `method`", field="detector")
    if name is not None and not 0 < len(name) <= 200:
        raise BadUserInput("name: must be 1 to 200 characters", field="name")
    if window is not None:
        if start is not None or end is not None:
            raise BadUserInput("window: give either `window` or `from`/`to`", field="window")
        parse_duration_ms(window, field="window")
    start_ms, end_ms = time_range(window, start, end, default_ms=DEFAULT_TRAIN_MS)
    assert start_ms is not None
    assert end_ms is not None
    return TrainSpec(
        metric=metric_name(metric, "metric"),
        labels=label_filter(labels),
        start_ms=start_ms,
        end_ms=end_ms,
        kind=kind,
        method=detector if kind == ANOMALY else method,
        parameters=parameters_of(parameters),
        sensitivity=sensitivity,
        horizon=horizon,
        confidence_interval=confidence_interval,
        name=name,
        model_id=model_id,
    )


async def resolve_detect_anomalies(
    info: Info,
    metrics: list[str],
    labels: Any,
    window: str,
    detector: str | None,
    sensitivity: Sensitivity | None,
    parameters: Any,
) -> list[AnomalyReport]:
    principal = info.context.require(Scope.READ)
    ml = ml_service(info.context.services)
    if not 0 < len(metrics) <= MAX_METRICS:
        raise BadUserInput(f"metrics: give 1 to {MAX_METRICS} metric names", field="metrics")
    names = [metric_name(m, "metrics") for m in metrics]
    wanted = label_filter(labels)
    params = parameters_of(parameters)
    start, end = ml.window(window)
    queries = [MetricQuery(principal.tenant, n, wanted, start, end) for n in names]
    found = await info.context.loaders.metrics.load_many(queries)
    series = [s for group in found for s in group]
    results = await ml.detect(principal.tenant, series, detector, params, core(sensitivity))
    return [
        AnomalyReport(result=r, series_name=s.name, series_labels=s.labels)
        for s, r in zip(series, results, strict=True)
    ]


async def resolve_series_anomalies(
    info: Info, series: domain.Series, detector: str | None, sensitivity: Sensitivity | None
) -> AnomalyReport:
    principal = info.context.require(Scope.READ)
    ml = ml_service(info.context.services)
    [result] = await ml.detect(principal.tenant, [series], detector, None, core(sensitivity))
    return AnomalyReport(result=result, series_name=series.name, series_labels=series.labels)


async def resolve_forecast(
    info: Info,
    metric: str,
    labels: Any,
    horizon: str,
    confidence_interval: float,
    model: str | None,
    window: str,
) -> Forecast:
    principal = info.context.require(Scope.READ)
    ml = ml_service(info.context.services)
    name = metric_name(metric, "metric")
    series = await ml.forecast_window(principal.tenant, name, label_filter(labels), window)
    return Forecast(result=await ml.forecast(series, horizon, confidence_interval, model))


async def resolve_series_forecast(
    info: Info,
    series: domain.Series,
    horizon: str,
    confidence_interval: float,
    model: str | None,
) -> Forecast:
    info.context.require(Scope.READ)
    ml = ml_service(info.context.services)
    return Forecast(result=await ml.forecast(series, horizon, confidence_interval, model))


async def resolve_models(info: Info, kind: ModelKind | None) -> list[Model]:
    principal = info.context.require(Scope.READ)
    records = await ml_service(info.context.services).models(principal.tenant)
    return [Model(record=r) for r in records if kind is None or r.kind == kind.name.lower()]


async def resolve_train_model(info: Info, data: TrainModelInput) -> Model:
    principal = info.context.require(Scope.WRITE)
    spec = train_spec(
        metric=data.metric,
        labels=data.labels,
        kind=data.kind.name.lower(),
        window=data.window,
        start=data.from_,
        end=data.to,
        detector=data.detector,
        method=data.method,
        parameters=data.parameters,
        sensitivity=data.sensitivity.core(),
        horizon=data.horizon,
        confidence_interval=data.confidence_interval,
        name=data.name,
        model_id=str(data.model_id) if data.model_id is not None else None,
    )
    record = await ml_service(info.context.services).train(principal.tenant, spec)
    return Model(record=record)


def columns_of(data: Any) -> tuple[list[int], list[float]] | None:
    """Points a client sent as SeriesData columns (numbers only, never a model)."""
    if data is None:
        return None
    if not isinstance(data, Mapping) or not isinstance(data.get("t"), list):
        raise BadUserInput('data: must be {"t": [epoch ms...], "v": [number...]}', field="data")
    if not isinstance(data.get("v"), list) or len(data["t"]) != len(data["v"]):
        raise BadUserInput("data: `t` and `v` must be lists of equal length", field="data")
    return data["t"], data["v"]


async def resolve_predict(
    info: Info,
    model_id: str,
    data: Any,
    window: str | None,
    horizon: str | None,
    confidence_interval: float | None,
    sensitivity: Sensitivity | None,
) -> PredictionResult:
    principal = info.context.require(Scope.READ)
    prediction = await ml_service(info.context.services).predict(
        principal.tenant,
        model_id,
        data=columns_of(data),
        window=window,
        horizon=horizon,
        confidence_interval=confidence_interval,
        sensitivity=core(sensitivity),
    )
    return PredictionResult(prediction=prediction)


async def resolve_delete_model(info: Info, model_id: str) -> bool:
    principal = info.context.require(Scope.WRITE)
    return await ml_service(info.context.services).delete(principal.tenant, model_id)
