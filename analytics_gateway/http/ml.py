"""REST routes for models, thin shells over `MlService` (the same rules as GraphQL).

- `POST /analytics/ml/train`: train (or retrain, with `modelId`) a model (`kind`
  anomaly, forecast or recommender, as `trainModel`); 201.
- `POST /analytics/ml/predict`: use a model: anomalies or a forecast.
- `GET /analytics/ml/models`: the tenant's models (`?kind=anomaly|forecast|recommender`).

Bodies are JSON with the GraphQL argument names; errors are
`{"errors": [{"message", "extensions": {"code", "field"...}}]}`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from analytics_gateway.domain import Scope
from analytics_gateway.errors import BadUserInput
from analytics_gateway.http.handlers import (
    guarded,
    json_object,
    json_response,
    principal_of,
    services_of,
)
from analytics_gateway.ml import detectors
from analytics_gateway.ml.registry import ANOMALY, FORECAST, RECOMMENDER, ModelRecord
from analytics_gateway.ml.scoring import AnomalyResult
from analytics_gateway.ml.service import ForecastResult
from analytics_gateway.ml.specs import columns_of, train_spec

MAX_ANOMALIES = 1000


def model_json(record: ModelRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "name": record.name,
        "kind": record.kind,
        "metric": record.metric,
        "labels": record.labels,
        "method": record.method,
        "parameters": record.parameters,
        "trainedFrom": record.trained_from_ms,
        "trainedTo": record.trained_to_ms,
        "trainingPoints": record.training_points,
        "trainedAt": record.trained_at_ms,
        "threshold": record.threshold,
        "sensitivity": record.sensitivity,
        "version": record.revision,
        "evaluation": record.evaluation,
    }


def anomalies_json(result: AnomalyResult, record: ModelRecord) -> dict[str, Any]:
    return {
        "metric": record.metric,
        "labels": record.labels,
        "detector": result.detector,
        "modelId": result.model_id,
        "trainedFrom": result.trained_from_ms,
        "trainedTo": result.trained_to_ms,
        "threshold": result.threshold,
        "points": int(result.values.size),
        "count": int(result.anomalous().size),
        "anomalies": [
            {
                "timestamp": p.timestamp_ms,
                "value": p.value,
                "score": p.score,
                "expectedLower": p.expected_lower,
                "expectedUpper": p.expected_upper,
                "alert": p.alert,
            }
            for p in result.latest_anomalies(MAX_ANOMALIES)
        ],
        "scores": {"t": result.timestamps.tolist(), "v": np.round(result.scores, 6).tolist()},
    }


def forecast_json(result: ForecastResult) -> dict[str, Any]:
    fc = result.forecast
    return {
        "metric": result.metric,
        "labels": result.labels,
        "modelId": result.model_id,
        "model": fc.model,
        "data": {"t": fc.timestamps_ms, "v": fc.values},
        "lower": {"t": fc.timestamps_ms, "v": fc.lower},
        "upper": {"t": fc.timestamps_ms, "v": fc.upper},
        "backtestMase": fc.backtest_mase,
        "baselineMase": fc.baseline_backtest_mase,
        "confidenceInterval": fc.confidence_interval,
        "seasonLength": fc.season_length,
        "calibrated": fc.calibrated,
    }


def _text(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise BadUserInput(f"{key}: must be a string", field=key)
    return value


def _moment(body: dict[str, Any], key: str) -> datetime | None:
    text = _text(body, key)
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadUserInput(f"{key}: must be an ISO-8601 date-time", field=key) from None


def _sensitivity(body: dict[str, Any]) -> detectors.Sensitivity | None:
    raw = _text(body, "sensitivity")
    if raw is None:
        return None
    try:
        return detectors.Sensitivity[raw.upper()]
    except KeyError:
        raise BadUserInput(
            "sensitivity: must be LOW, MEDIUM or HIGH", field="sensitivity"
        ) from None


def _number(body: dict[str, Any], key: str) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadUserInput(f"{key}: must be a number", field=key)
    return float(value)


async def train(request: Request) -> Response:
    principal = await principal_of(request, Scope.WRITE)
    body = await json_object(request)
    kind = (_text(body, "kind") or ANOMALY).lower()
    if kind not in (ANOMALY, FORECAST, RECOMMENDER):
        raise BadUserInput("kind: must be anomaly, forecast or recommender", field="kind")
    metric = _text(body, "metric")
    if metric is None:
        raise BadUserInput("metric: required", field="metric")
    services = services_of(request)
    spec = train_spec(
        now_ms=services.clock(),
        metric=metric,
        labels=body.get("labels"),
        kind=kind,
        window=_text(body, "window"),
        start=_moment(body, "from"),
        end=_moment(body, "to"),
        detector=_text(body, "detector"),
        method=_text(body, "method"),
        parameters=body.get("parameters"),
        sensitivity=_sensitivity(body) or detectors.Sensitivity.MEDIUM,
        horizon=_text(body, "horizon"),
        confidence_interval=_number(body, "confidenceInterval") or 0.95,
        name=_text(body, "name"),
        model_id=_text(body, "modelId"),
    )
    record = await services.ml.train(principal.tenant, spec)
    return json_response(model_json(record), 201)


async def predict(request: Request) -> Response:
    principal = await principal_of(request, Scope.READ)
    body = await json_object(request)
    model_id = _text(body, "modelId")
    if not model_id:
        raise BadUserInput("modelId: required", field="modelId")
    prediction = await services_of(request).ml.predict(
        principal.tenant,
        model_id,
        data=columns_of(body.get("data")),
        window=_text(body, "window"),
        horizon=_text(body, "horizon"),
        confidence_interval=_number(body, "confidenceInterval"),
        sensitivity=_sensitivity(body),
    )
    answer: dict[str, Any] = {"model": model_json(prediction.model)}
    answer["anomalies"] = (
        anomalies_json(prediction.anomalies, prediction.model) if prediction.anomalies else None
    )
    answer["forecast"] = forecast_json(prediction.forecast) if prediction.forecast else None
    return json_response(answer)


async def models(request: Request) -> Response:
    principal = await principal_of(request, Scope.READ)
    kind = request.query_params.get("kind")
    records = await services_of(request).ml.models(principal.tenant)
    return json_response(
        {"models": [model_json(r) for r in records if kind is None or r.kind == kind]}
    )


def routes() -> list[BaseRoute]:
    return [
        Route("/analytics/ml/train", guarded(train), methods=["POST"]),
        Route("/analytics/ml/predict", guarded(predict), methods=["POST"]),
        Route("/analytics/ml/models", guarded(models), methods=["GET"]),
    ]
