"""Root fields for machine learning, as bases of the root Query, Mutation and Subscription."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from analytics_gateway.context import Info
from analytics_gateway.resolvers import ml as resolvers
from analytics_gateway.resolvers.ml_live import subscribe_anomalies
from analytics_gateway.schema.arguments import Since
from analytics_gateway.schema.ml import (
    AnomalyEvent,
    AnomalyReport,
    Forecast,
    Model,
    ModelKind,
    PredictionResult,
    Sensitivity,
    TrainModelInput,
)
from analytics_gateway.schema.scalars import SeriesData

DETECTOR = strawberry.argument(
    description="ensemble (default), ecod, iforest, hbos, copod, knn or timeseries. A trained "
    "model of the series with this detector (any, when omitted) is used when there is one."
)
SENSITIVITY = strawberry.argument(
    description="Sets the threshold; default: the model's own, or MEDIUM."
)
CONFIDENCE = strawberry.argument(description="Coverage of the prediction interval, 0 to 1.")
FORECAST_MODEL = strawberry.argument(
    description="auto (default: the best backtest of ets, theta, ces), ets, theta, ces, arima "
    "or seasonal_naive."
)


@strawberry.type(description="Anomaly detection, forecasts and trained models of the tenant.")
class MlQuery:
    @strawberry.field(
        description="Anomalies of every series of the given metrics over `window`, one report "
        "per series. A series with a trained model is scored by it; others walk-forward (at "
        "most 200,000 points)."
    )
    async def detect_anomalies(
        self,
        info: Info,
        metrics: Annotated[list[str], strawberry.argument(description="Metric names (1-20).")],
        window: Annotated[str, strawberry.argument(description='Range ending now, e.g. "7d".')],
        labels: Annotated[
            JSON | None, strawberry.argument(description="Only series whose labels contain these.")
        ] = None,
        detector: Annotated[str | None, DETECTOR] = None,
        sensitivity: Annotated[Sensitivity | None, SENSITIVITY] = None,
        parameters: Annotated[
            JSON | None,
            strawberry.argument(
                description="Detector parameters for a walk-forward, e.g. "
                '{"n_neighbors": 10}; given, trained models are not used.'
            ),
        ] = None,
    ) -> list[AnomalyReport] | None:
        return await resolvers.resolve_detect_anomalies(
            info, metrics, labels, window, detector, sensitivity, parameters
        )

    @strawberry.field(
        description="A forecast of one series (labels must select exactly one), fitted on "
        "`window` of history read in round buckets (at most 10,000)."
    )
    async def forecast(
        self,
        info: Info,
        metric: Annotated[str, strawberry.argument(description="Metric name.")],
        horizon: Annotated[
            str, strawberry.argument(description='How far ahead: a duration ("1d") or points.')
        ],
        labels: Annotated[
            JSON | None, strawberry.argument(description="Labels selecting one series.")
        ] = None,
        confidence_interval: Annotated[float, CONFIDENCE] = 0.95,
        model: Annotated[str | None, FORECAST_MODEL] = None,
        window: Annotated[
            str, strawberry.argument(description='History ending now to fit on, e.g. "30d".')
        ] = "30d",
    ) -> Forecast | None:
        return await resolvers.resolve_forecast(
            info, metric, labels, horizon, confidence_interval, model, window
        )

    @strawberry.field(description="The tenant's trained models, newest first.")
    async def models(
        self,
        info: Info,
        kind: Annotated[
            ModelKind | None, strawberry.argument(description="Only models of this kind.")
        ] = None,
    ) -> list[Model] | None:
        return await resolvers.resolve_models(info, kind)


@strawberry.type(description="Train, use and delete models (training needs the write scope).")
class MlMutation:
    @strawberry.mutation(
        description="Train a model on one series and save it in the registry; with `modelId`, "
        "retrain that model (the previous version serves until the new one is saved)."
    )
    async def train_model(
        self,
        info: Info,
        input: Annotated[TrainModelInput, strawberry.argument(description="What to train.")],
    ) -> Model:
        return await resolvers.resolve_train_model(info, input)

    @strawberry.mutation(
        description="Use a trained model: an ANOMALY model scores `data` (or its series over "
        "`window`), a FORECAST model forecasts its series `horizon` ahead. NOT_FOUND for an "
        "unknown model, or one whose fitted state is missing or unreadable."
    )
    async def predict(
        self,
        info: Info,
        model_id: Annotated[strawberry.ID, strawberry.argument(description="Model id.")],
        data: Annotated[
            SeriesData | None,
            strawberry.argument(description="Points to score or forecast from, as columns."),
        ] = None,
        window: Annotated[
            str | None,
            strawberry.argument(
                description="Without `data`: the model's series over this range ending now "
                '(default "1h" to score; the training span to forecast).'
            ),
        ] = None,
        horizon: Annotated[
            str | None,
            strawberry.argument(description="FORECAST: how far ahead; default as trained."),
        ] = None,
        confidence_interval: Annotated[
            float | None,
            strawberry.argument(description="FORECAST: interval coverage; default as trained."),
        ] = None,
        sensitivity: Annotated[Sensitivity | None, SENSITIVITY] = None,
    ) -> PredictionResult:
        return await resolvers.resolve_predict(
            info, str(model_id), data, window, horizon, confidence_interval, sensitivity
        )

    @strawberry.mutation(description="Delete a model; false when the tenant has no such model.")
    async def delete_model(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="Model id.")],
    ) -> bool:
        return await resolvers.resolve_delete_model(info, str(id))


@strawberry.type(description="Live anomaly alerts of the tenant's trained models.")
class MlSubscription:
    @strawberry.subscription(
        description="Every alert a trained ANOMALY model raises on newly ingested points."
    )
    async def anomalies(
        self,
        info: Info,
        metric: Annotated[
            str | None, strawberry.argument(description="Only alerts on this metric.")
        ] = None,
        labels: Annotated[
            JSON | None,
            strawberry.argument(description="Only alerts on series whose labels contain these."),
        ] = None,
        since: Since = None,
    ) -> AsyncGenerator[AnomalyEvent, None]:
        async for event in subscribe_anomalies(info, metric, labels, since):
            yield event
