"""`AnomalyDetector` and `PredictiveAnalytics`: the brief's detection and forecasts,
and the models they can train. Reading needs the `read` scope; training `write`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from analytics_gateway_client._convert import enum_of, labels_of, optional_enum
from analytics_gateway_client.generated.enums import ModelKind, Sensitivity
from analytics_gateway_client.generated.input_types import TrainModelInput
from analytics_gateway_client.results import AnomalyEvent, AnomalyReport, Forecast, Model
from analytics_gateway_client.transport import Subscription, required

if TYPE_CHECKING:
    from analytics_gateway_client.client import AnalyticsClient


class _Models:
    kind: ModelKind

    def __init__(self, client: AnalyticsClient) -> None:
        self._client = client

    async def models(self) -> list[Model]:
        """The tenant's trained models of this kind, newest first."""
        answer = await self._client.call(self._client.graphql.models(kind=self.kind))
        return list(required(answer.models, "models"))

    async def delete_model(self, model_id: str) -> bool:
        """Delete a model; False when the tenant has no such model."""
        answer = await self._client.call(self._client.graphql.delete_model(model_id))
        return answer.delete_model

    async def _train(self, values: Mapping[str, Any]) -> Model:
        given = {k: v for k, v in values.items() if v is not None}
        train = TrainModelInput.model_validate({**given, "kind": self.kind})
        answer = await self._client.call(self._client.graphql.train_model(train))
        return answer.train_model


class AnomalyDetector(_Models):
    """Anomaly detection over the tenant's metric series (PyOD detectors)."""

    kind = ModelKind.ANOMALY

    async def detect(
        self,
        metrics: Sequence[str] | str,
        window: str = "1h",
        *,
        labels: Mapping[str, str] | None = None,
        detector: str | None = None,
        sensitivity: Sensitivity | str | None = None,
        parameters: Mapping[str, Any] | None = None,
        limit: int = 1000,
        tenant_id: str | None = None,
    ) -> list[AnomalyReport]:
        """Anomalies of every series of `metrics` over `window`, one report per series,
        as the brief asks:

            await detector.detect(["cpu_usage", "memory_usage", "request_rate"], "1h")

        A series with a trained model is scored by it, others walk-forward with
        `detector` (default ensemble). Each report lists its `limit` latest anomalous
        points. A `tenant_id` that is not the key's tenant raises `Forbidden`."""
        await self._client.check_tenant(tenant_id)
        names = [metrics] if isinstance(metrics, str) else list(metrics)
        answer = await self._client.call(
            self._client.graphql.detect_anomalies(
                names,
                window,
                limit=limit,
                labels=labels_of(labels),
                detector=detector,
                sensitivity=optional_enum(Sensitivity, sensitivity),
                parameters=dict(parameters) if parameters is not None else None,
            )
        )
        return list(required(answer.detect_anomalies, "detectAnomalies"))

    async def train(
        self,
        metric: str,
        *,
        labels: Mapping[str, str] | None = None,
        window: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        detector: str | None = None,
        sensitivity: Sensitivity | str = Sensitivity.MEDIUM,
        parameters: Mapping[str, Any] | None = None,
        name: str | None = None,
        model_id: str | None = None,
    ) -> Model:
        """Train an anomaly model on one series (`labels` must select exactly one) over
        `window` (default "7d") or `start`..`end`; it then scores new points live
        (`live()`) and can back an ML alert (`create_ml_alert(model=<id or name>)`).
        With `model_id`, retrain that model."""
        return await self._train(
            {
                "metric": metric,
                "labels": labels_of(labels),
                "window": window,
                "from": start,
                "to": end,
                "detector": detector,
                "sensitivity": enum_of(Sensitivity, sensitivity),
                "parameters": dict(parameters) if parameters is not None else None,
                "name": name,
                "modelId": model_id,
            }
        )

    def live(
        self,
        metric: str | None = None,
        labels: Mapping[str, str] | None = None,
        *,
        since: str | None = None,
    ) -> Subscription[AnomalyEvent]:
        """Every anomaly a trained model raises on newly ingested points (of `metric`,
        of series whose labels contain `labels`)."""
        stream = self._client.graphql.anomalies(
            metric=metric, labels=labels_of(labels), since=since
        )
        return self._client.subscribe(stream, lambda message: message.anomalies)


class PredictiveAnalytics(_Models):
    """Forecasts of the tenant's metric series with prediction intervals."""

    kind = ModelKind.FORECAST

    async def forecast(
        self,
        metric: str,
        horizon: str,
        confidence_interval: float = 0.95,
        *,
        labels: Mapping[str, str] | None = None,
        model: str | None = None,
        window: str = "30d",
    ) -> Forecast:
        """A forecast of one series (`labels` must select exactly one) `horizon` ahead
        (a duration such as "30d", or a number of points), as the brief asks:

            await predictions.forecast("active_users", horizon="1d", confidence_interval=0.95)

        Fitted on `window` of history with `model` (default: the best backtest of
        ets, theta and ces); `data`, `lower` and `upper` are columns."""
        answer = await self._client.call(
            self._client.graphql.forecast(
                metric,
                horizon,
                confidence_interval=confidence_interval,
                window=window,
                labels=labels_of(labels),
                model=model,
            )
        )
        return required(answer.forecast, "forecast")

    async def train(
        self,
        metric: str,
        *,
        labels: Mapping[str, str] | None = None,
        horizon: str | None = None,
        method: str | None = None,
        window: str | None = None,
        confidence_interval: float = 0.95,
        name: str | None = None,
        model_id: str | None = None,
    ) -> Model:
        """Train a forecasting model of one series (`method` default auto)."""
        return await self._train(
            {
                "metric": metric,
                "labels": labels_of(labels),
                "horizon": horizon,
                "method": method,
                "window": window,
                "confidenceInterval": confidence_interval,
                "name": name,
                "modelId": model_id,
            }
        )
