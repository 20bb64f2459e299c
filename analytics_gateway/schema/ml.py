"""GraphQL types for anomaly detection, forecasting and the model registry.

Anomaly results have one shape whatever the detector: scores in [0, 1], an
expected band, and which model (and training window) produced them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from typing import Annotated, Any, cast

import strawberry
from strawberry.scalars import JSON

from analytics_gateway.context import Info
from analytics_gateway.errors import BadUserInput
from analytics_gateway.ml import detectors
from analytics_gateway.ml.registry import ANOMALY, FORECAST, RECOMMENDER, ModelRecord
from analytics_gateway.ml.scoring import AnomalyResult
from analytics_gateway.ml.service import ForecastResult, Prediction
from analytics_gateway.schema.scalars import SeriesData
from analytics_gateway.subscriptions.cursors import cursor as make_cursor

MAX_ANOMALY_OBJECTS = 10_000


def _time(epoch_ms: int | None) -> datetime | None:
    if epoch_ms is None:
        return None
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)


@strawberry.enum(
    description="How readily a score counts as anomalous: a threshold on the score in [0, 1]."
)
class Sensitivity(Enum):
    LOW = strawberry.enum_value("LOW", description="Threshold 0.999: the fewest anomalies.")
    MEDIUM = strawberry.enum_value("MEDIUM", description="Threshold 0.997 (the default).")
    HIGH = strawberry.enum_value("HIGH", description="Threshold 0.99: the most anomalies.")

    def core(self) -> detectors.Sensitivity:
        return detectors.Sensitivity[self.name]


@strawberry.enum(description="What a trained model does.")
class ModelKind(Enum):
    ANOMALY = strawberry.enum_value(ANOMALY, description="Scores points: anomaly detection.")
    FORECAST = strawberry.enum_value(FORECAST, description="Forecasts a series ahead.")
    RECOMMENDER = strawberry.enum_value(
        RECOMMENDER,
        description="Recommends items from play events (`recommendations`, `similarItems`).",
    )


@strawberry.type(description="A point that scored at or above the threshold.")
class AnomalyPoint:
    timestamp: datetime = strawberry.field(description="When the value was observed (UTC).")
    value: float = strawberry.field(description="The observed value.")
    score: float = strawberry.field(
        description="Anomaly score in [0, 1]: the calibrated chance that a normal point "
        "scores lower."
    )
    expected_lower: float = strawberry.field(
        description="Lower edge of the expected band: mean of the previous 60 values minus "
        "as many standard deviations as the threshold's two-sided normal quantile."
    )
    expected_upper: float = strawberry.field(description="Upper edge of the expected band.")
    alert: bool = strawberry.field(
        description="True when the point also beats every score of the 100 points before it: "
        "a lasting anomaly raises one alert."
    )


@strawberry.type(
    description="Anomalies of one series. The shape is the same whatever the detector: scores "
    "in [0, 1], an expected band, and the model and training window that produced them."
)
class AnomalyReport:
    result: strawberry.Private[AnomalyResult]
    series_name: strawberry.Private[str]
    series_labels: strawberry.Private[dict[str, str]]

    @strawberry.field(description="Metric name.")
    def metric(self) -> str:
        return self.series_name

    @strawberry.field(description="Labels of the series.")
    def labels(self) -> JSON:
        return cast(JSON, self.series_labels)

    @strawberry.field(description="The detector that scored the series (e.g. ensemble, iforest).")
    def detector(self) -> str:
        return self.result.detector

    @strawberry.field(
        description="The trained model that scored the series; null when no trained model "
        "matched and the series was scored walk-forward."
    )
    def model_id(self) -> strawberry.ID | None:
        return strawberry.ID(self.result.model_id) if self.result.model_id else None

    @strawberry.field(
        description="True when scored walk-forward (no trained model): each point by a model "
        "fitted only on the points before it; the first 150 points score 0."
    )
    def walk_forward(self) -> bool:
        return self.result.walk_forward

    @strawberry.field(description="Start of the model's training window; null when walk-forward.")
    def trained_from(self) -> datetime | None:
        return _time(self.result.trained_from_ms)

    @strawberry.field(description="End of the model's training window; null when walk-forward.")
    def trained_to(self) -> datetime | None:
        return _time(self.result.trained_to_ms)

    @strawberry.field(description="The score at or above which a point is anomalous.")
    def threshold(self) -> float:
        return self.result.threshold

    @strawberry.field(description="Number of points scored.")
    def points(self) -> int:
        return int(self.result.values.size)

    @strawberry.field(description="Number of anomalous points (score at or above threshold).")
    def count(self) -> int:
        return int(self.result.anomalous().size)

    @strawberry.field(description="Number of anomalous points that raised an alert.")
    def alert_count(self) -> int:
        return int(self.result.alerts.sum())

    @strawberry.field(
        description="The most recent `limit` anomalous points, oldest first (limit at most "
        f"{MAX_ANOMALY_OBJECTS})."
    )
    async def anomalies(
        self,
        info: Info,
        limit: Annotated[
            int, strawberry.argument(description="How many of the latest anomalous points.")
        ] = 1000,
    ) -> list[AnomalyPoint]:
        if not 0 <= limit <= MAX_ANOMALY_OBJECTS:
            raise BadUserInput(f"limit: must be between 0 and {MAX_ANOMALY_OBJECTS}", field="limit")
        points = await info.context.services.ml.latest_anomalies(self.result, limit)
        return [
            AnomalyPoint(
                timestamp=cast(datetime, _time(p.timestamp_ms)),
                value=p.value,
                score=p.score,
                expected_lower=p.expected_lower,
                expected_upper=p.expected_upper,
                alert=p.alert,
            )
            for p in points
        ]

    @strawberry.field(description="The score of every point, as columns.")
    def scores(self) -> SeriesData:
        return cast(
            SeriesData, {"t": self.result.timestamps.tolist(), "v": self.result.scores.tolist()}
        )

    @strawberry.field(description="Lower edge of the expected band at every point, as columns.")
    async def expected_lower(self, info: Info) -> SeriesData:
        lower, _ = await info.context.services.ml.band(self.result)
        return cast(SeriesData, {"t": self.result.timestamps.tolist(), "v": lower})

    @strawberry.field(description="Upper edge of the expected band at every point, as columns.")
    async def expected_upper(self, info: Info) -> SeriesData:
        _, upper = await info.context.services.ml.band(self.result)
        return cast(SeriesData, {"t": self.result.timestamps.tolist(), "v": upper})


@strawberry.type(description="A forecast of one series with its prediction interval.")
class Forecast:
    result: strawberry.Private[ForecastResult]

    @strawberry.field(description="Metric name.")
    def metric(self) -> str:
        return self.result.metric

    @strawberry.field(description="Labels of the series.")
    def labels(self) -> JSON:
        return cast(JSON, self.result.labels)

    @strawberry.field(description="The forecast values, as columns.")
    def data(self) -> SeriesData:
        fc = self.result.forecast
        return cast(SeriesData, {"t": fc.timestamps_ms, "v": fc.values})

    @strawberry.field(description="Lower edge of the prediction interval, as columns.")
    def lower(self) -> SeriesData:
        fc = self.result.forecast
        return cast(SeriesData, {"t": fc.timestamps_ms, "v": fc.lower})

    @strawberry.field(description="Upper edge of the prediction interval, as columns.")
    def upper(self) -> SeriesData:
        fc = self.result.forecast
        return cast(SeriesData, {"t": fc.timestamps_ms, "v": fc.upper})

    @strawberry.field(description="The seasonal-naive forecast, the baseline, as columns.")
    def baseline(self) -> SeriesData:
        fc = self.result.forecast
        return cast(SeriesData, {"t": fc.timestamps_ms, "v": fc.baseline_values})

    @strawberry.field(description="The forecasting model used (ets, theta, ces, arima...).")
    def model(self) -> str:
        return self.result.forecast.model

    @strawberry.field(
        description="The trained forecasting model used, when the forecast came from one."
    )
    def model_id(self) -> strawberry.ID | None:
        return strawberry.ID(self.result.model_id) if self.result.model_id else None

    @strawberry.field(
        description="Mean absolute scaled error of the model in a rolling-origin backtest on "
        "the history (below 1: better than the in-sample seasonal naive); null when the "
        "history is too short to backtest."
    )
    def backtest_mase(self) -> float | None:
        return self.result.forecast.backtest_mase

    @strawberry.field(description="The same backtest MASE of the seasonal-naive baseline.")
    def baseline_mase(self) -> float | None:
        return self.result.forecast.baseline_backtest_mase

    @strawberry.field(description="Coverage the interval aims at, e.g. 0.95.")
    def confidence_interval(self) -> float:
        return self.result.forecast.confidence_interval

    @strawberry.field(description="True when the interval was rescaled to the backtest's errors.")
    def calibrated(self) -> bool:
        return self.result.forecast.calibrated

    @strawberry.field(description="Main season found in the history, in steps (1: none).")
    def season_length(self) -> int:
        return self.result.forecast.season_length

    @strawberry.field(description="Spacing of the forecast points in milliseconds.")
    def step_ms(self) -> float:
        return float(self.result.forecast.step_ms)

    @strawberry.field(description="Start of the history the forecast was fitted on.")
    def trained_from(self) -> datetime:
        return cast(datetime, _time(self.result.forecast.train_start_ms))

    @strawberry.field(description="End of the history the forecast was fitted on.")
    def trained_to(self) -> datetime:
        return cast(datetime, _time(self.result.forecast.train_end_ms))

    @strawberry.field(description="Points of history the forecast was fitted on.")
    def training_points(self) -> int:
        return self.result.forecast.train_points


@strawberry.type(description="How a model did when it was trained; null where not applicable.")
class ModelEvaluation:
    fit_seconds: float | None = strawberry.field(description="Time the final fit took.")
    holdout_points: int | None = strawberry.field(
        description="ANOMALY: points held out (the last fifth of the training range), scored "
        "by a model fitted only on the points before them."
    )
    holdout_alerts: int | None = strawberry.field(
        description="ANOMALY: alerts raised on the hold-out at the model's threshold."
    )
    holdout_alert_rate: float | None = strawberry.field(
        description="ANOMALY: alerts per held-out point; on normal data, the false-alert rate."
    )
    backtest_mase: float | None = strawberry.field(
        description="FORECAST: rolling-origin backtest MASE of the chosen method."
    )
    baseline_mase: float | None = strawberry.field(
        description="FORECAST: the same backtest MASE of seasonal naive."
    )
    season_length: int | None = strawberry.field(
        description="FORECAST: main season found, in steps."
    )
    horizon_points: int | None = strawberry.field(
        description="FORECAST: points ahead the backtest forecast."
    )


@strawberry.type(description="A trained model of the caller's tenant.")
class Model:
    record: strawberry.Private[ModelRecord]

    @strawberry.field(description="Model id.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.record.id)

    @strawberry.field(description="Display name.")
    def name(self) -> str:
        return self.record.name

    @strawberry.field(description="ANOMALY or FORECAST.")
    def kind(self) -> ModelKind:
        return ModelKind(self.record.kind)

    @strawberry.field(description="The metric it was trained on.")
    def metric(self) -> str:
        return self.record.metric

    @strawberry.field(description="Labels of the one series it was trained on.")
    def labels(self) -> JSON:
        return cast(JSON, self.record.labels)

    @strawberry.field(
        description="The detector (ANOMALY: ensemble, ecod, iforest, hbos, copod, knn, "
        "timeseries) or the forecasting method chosen (FORECAST: ets, theta, ces, arima...)."
    )
    def method(self) -> str:
        return self.record.method

    @strawberry.field(description="Parameters it was trained with.")
    def parameters(self) -> JSON:
        return cast(JSON, self.record.parameters)

    @strawberry.field(description="First point of the training window actually fitted.")
    def trained_from(self) -> datetime:
        return cast(datetime, _time(self.record.trained_from_ms))

    @strawberry.field(description="Last point of the training window actually fitted.")
    def trained_to(self) -> datetime:
        return cast(datetime, _time(self.record.trained_to_ms))

    @strawberry.field(description="Points it was fitted on.")
    def training_points(self) -> int:
        return self.record.training_points

    @strawberry.field(description="When it was trained (UTC).")
    def trained_at(self) -> datetime:
        return cast(datetime, _time(self.record.trained_at_ms))

    @strawberry.field(description="ANOMALY: the score at or above which a point is anomalous.")
    def threshold(self) -> float | None:
        return self.record.threshold

    @strawberry.field(description="ANOMALY: the sensitivity the threshold came from.")
    def sensitivity(self) -> Sensitivity | None:
        return Sensitivity[self.record.sensitivity] if self.record.sensitivity else None

    @strawberry.field(description="Revision: 1 when first trained, one more per retraining.")
    def version(self) -> int:
        return self.record.revision

    @strawberry.field(description="How it did when trained.")
    def evaluation(self) -> ModelEvaluation:
        e = self.record.evaluation
        return ModelEvaluation(
            fit_seconds=e.get("fitSeconds"),
            holdout_points=e.get("holdoutPoints"),
            holdout_alerts=e.get("holdoutAlerts"),
            holdout_alert_rate=e.get("holdoutAlertRate"),
            backtest_mase=e.get("backtestMase"),
            baseline_mase=e.get("baselineMase"),
            season_length=e.get("seasonLength"),
            horizon_points=e.get("horizonPoints"),
        )


@strawberry.type(description="What `predict` returned: anomalies or a forecast, by model kind.")
class PredictionResult:
    prediction: strawberry.Private[Prediction]

    @strawberry.field(description="The model used.")
    def model(self) -> Model:
        return Model(record=self.prediction.model)

    @strawberry.field(description="ANOMALY models: the scored points; else null.")
    def anomalies(self) -> AnomalyReport | None:
        p = self.prediction
        if p.anomalies is None:
            return None
        return AnomalyReport(
            result=p.anomalies, series_name=p.model.metric, series_labels=p.model.labels
        )

    @strawberry.field(description="FORECAST models: the forecast; else null.")
    def forecast(self) -> Forecast | None:
        return Forecast(result=self.prediction.forecast) if self.prediction.forecast else None


@strawberry.type(description="An anomaly alert raised live by a trained model on a new point.")
class AnomalyEvent:
    model_id: strawberry.ID = strawberry.field(description="The model that raised it.")
    metric: str = strawberry.field(description="Metric name.")
    labels: JSON = strawberry.field(description="Labels of the series.")
    detector: str = strawberry.field(description="The model's detector.")
    timestamp: datetime = strawberry.field(description="When the value was observed (UTC).")
    value: float = strawberry.field(description="The observed value.")
    score: float = strawberry.field(description="Anomaly score in [0, 1].")
    threshold: float = strawberry.field(description="The model's threshold.")
    expected_lower: float = strawberry.field(description="Lower edge of the expected band.")
    expected_upper: float = strawberry.field(description="Upper edge of the expected band.")
    cursor: str | None = strawberry.field(
        default=None,
        description="Position in the live stream: pass it as `since` to resume right after it.",
    )

    @classmethod
    def of(cls, item: dict[str, Any], message_id: str, index: int) -> AnomalyEvent:
        return cls(
            model_id=strawberry.ID(item["modelId"]),
            metric=item["metric"],
            labels=item["labels"],
            detector=item["detector"],
            timestamp=cast(datetime, _time(item["t"])),
            value=item["v"],
            score=item["score"],
            threshold=item["threshold"],
            expected_lower=item["lower"],
            expected_upper=item["upper"],
            cursor=make_cursor(message_id, index),
        )


@strawberry.input(description="What to train: one series, a range of it, and a method.")
class TrainModelInput:
    metric: str = strawberry.field(
        description="Metric name; RECOMMENDER: the event type it learns from, e.g. song_play."
    )
    labels: JSON | None = strawberry.field(
        default=None, description="Labels selecting exactly one series of the metric."
    )
    kind: ModelKind = strawberry.field(
        default=ModelKind.ANOMALY, description="ANOMALY (default), FORECAST or RECOMMENDER."
    )
    window: str | None = strawberry.field(
        default=None, description='Training range ending now, e.g. "7d" (the default).'
    )
    from_: datetime | None = strawberry.field(
        default=None, name="from", description="Training range start, instead of `window`."
    )
    to: datetime | None = strawberry.field(
        default=None, description="Training range end (exclusive); default now."
    )
    detector: str | None = strawberry.field(
        default=None,
        description="ANOMALY: ensemble (default), ecod, iforest, hbos, copod, knn or timeseries.",
    )
    method: str | None = strawberry.field(
        default=None,
        description="FORECAST: auto (default: the best backtest of ets, theta, ces), ets, "
        "theta, ces, arima or seasonal_naive. RECOMMENDER: ease (default) or itemknn.",
    )
    parameters: JSON | None = strawberry.field(
        default=None,
        description='ANOMALY: detector parameters, e.g. {"n_neighbors": 10, "max_train": 5000}. '
        'RECOMMENDER: e.g. {"itemField": "song_id", "lengthField": "song_length", '
        '"maxItems": 5000, "minInteractions": 2}.',
    )
    sensitivity: Sensitivity = strawberry.field(
        default=Sensitivity.MEDIUM, description="ANOMALY: sets the model's threshold."
    )
    horizon: str | None = strawberry.field(
        default=None, description='FORECAST: how far ahead it forecasts, e.g. "1d" (default).'
    )
    confidence_interval: float = strawberry.field(
        default=0.95, description="FORECAST: coverage of its prediction interval."
    )
    name: str | None = strawberry.field(default=None, description="Display name.")
    model_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Retrain this model: it keeps its id and gets the next version; the old "
        "version serves until the new one is saved.",
    )
