"""Resolvers for anomaly detection, forecasting and the model registry.

They authorise, check input and call `MlService` with the caller's tenant;
REST checks its input with the same `ml.specs` and calls the same service.
"""

from __future__ import annotations

from typing import Any

from analytics_gateway import domain
from analytics_gateway.context import Info
from analytics_gateway.domain import MetricQuery, Scope
from analytics_gateway.errors import BadUserInput
from analytics_gateway.inputs import label_filter, metric_name
from analytics_gateway.ml import detectors
from analytics_gateway.ml.specs import columns_of, parameters_of, train_spec
from analytics_gateway.schema.ml import (
    AnomalyReport,
    Forecast,
    Model,
    ModelKind,
    PredictionResult,
    Sensitivity,
    TrainModelInput,
)

MAX_METRICS = 20


def core(sensitivity: Sensitivity | None) -> detectors.Sensitivity | None:
    return sensitivity.core() if sensitivity is not None else None


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
    ml = info.context.services.ml
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
    ml = info.context.services.ml
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
    ml = info.context.services.ml
    name = metric_name(metric, "metric")
    series = await ml.forecast_window(principal.tenant, name, label_filter(labels), window)
    result = await ml.forecast(principal.tenant, series, horizon, confidence_interval, model)
    return Forecast(result=result)


async def resolve_series_forecast(
    info: Info,
    series: domain.Series,
    horizon: str,
    confidence_interval: float,
    model: str | None,
) -> Forecast:
    principal = info.context.require(Scope.READ)
    ml = info.context.services.ml
    result = await ml.forecast(principal.tenant, series, horizon, confidence_interval, model)
    return Forecast(result=result)


async def resolve_models(info: Info, kind: ModelKind | None) -> list[Model]:
    principal = info.context.require(Scope.READ)
    records = await info.context.services.ml.models(principal.tenant)
    return [Model(record=r) for r in records if kind is None or r.kind == kind.name.lower()]


async def resolve_train_model(info: Info, data: TrainModelInput) -> Model:
    principal = info.context.require(Scope.WRITE)
    spec = train_spec(
        now_ms=info.context.services.clock(),
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
    record = await info.context.services.ml.train(principal.tenant, spec)
    return Model(record=record)


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
    prediction = await info.context.services.ml.predict(
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
    return await info.context.services.ml.delete(principal.tenant, model_id)
