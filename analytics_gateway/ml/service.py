"""`MlService`: train, detect, predict and forecast, each call scoped to one tenant.

Reads go to the metric store, models to the registry; every fit, score and
forecast runs in a worker thread, never on the event loop. Detection uses
the tenant's trained model for a series when there is one (same metric,
same labels, a similar step, and the detector asked for, if any), else a
walk-forward over the series itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from analytics_gateway import tracing
from analytics_gateway.backends.base import Broker, ConfigStore, EventStore, MetricStore
from analytics_gateway.config import Settings
from analytics_gateway.domain import Aggregation, MetricQuery, PointBatch, Series
from analytics_gateway.durations import parse_duration_ms
from analytics_gateway.errors import BadUserInput, QueryTooComplex
from analytics_gateway.ingest import IngestService
from analytics_gateway.ml.detectors import (
    DEFAULT_DETECTOR,
    AnomalyDetector,
    Sensitivity,
    build_detector,
)
from analytics_gateway.ml.features import median_step_ms, validate_series
from analytics_gateway.ml.forecast import MODELS, Forecast, forecast
from analytics_gateway.ml.live import LiveScorer
from analytics_gateway.ml.recommender_service import PARAMETERS as RECOMMENDER_PARAMETERS
from analytics_gateway.ml.recommender_service import RecommenderService
from analytics_gateway.ml.registry import (
    ANOMALY,
    FORECAST,
    RECOMMENDER,
    ModelRecord,
    ModelRegistry,
    detector_from,
    new_model_id,
)
from analytics_gateway.ml.scoring import (
    AnomalyResult,
    ScoredPoint,
    train_detector,
    walk_forward,
    with_model,
)
from analytics_gateway.ml.warmup import warm_up
from analytics_gateway.ml.workers import MlWorkers
from analytics_gateway.quotas import Quotas

DEFAULT_HORIZON = "1d"
DEFAULT_PREDICT_WINDOW = "1h"
WALK_FORWARD_MAX_POINTS = 200_000
FORECAST_MAX_POINTS = 10_000
CACHED_DETECTORS = 16
_STEPS_MS = [
    1_000, 5_000, 10_000, 30_000, 60_000, 300_000, 600_000, 900_000, 1_800_000,
    3_600_000, 10_800_000, 21_600_000, 43_200_000, 86_400_000, 604_800_000,
]  # fmt: skip


def model_root(settings: Settings) -> Path:
    return Path(settings.model_dir) if settings.model_dir else settings.data_dir / "models"


def forecast_step_ms(range_ms: int) -> int:
    """The smallest round bucket that keeps a range within `FORECAST_MAX_POINTS` points."""
    for step in _STEPS_MS:
        if range_ms / step <= FORECAST_MAX_POINTS:
            return step
    return _STEPS_MS[-1]


def named(exc: BadUserInput, fields: dict[str, str]) -> BadUserInput:
    """The forecaster names parameters as `parameter`; give clients `field` in their words."""
    if "field" in exc.extensions:
        return exc
    name = str(exc.extensions.get("parameter", ""))
    return BadUserInput(exc.message, **{**exc.extensions, "field": fields.get(name, name)})


@dataclass(frozen=True)
class TrainSpec:
    """What to train: the series (one), its range, the kind and method."""

    metric: str
    labels: tuple[tuple[str, str], ...]
    start_ms: int
    end_ms: int
    kind: str = ANOMALY
    method: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    sensitivity: Sensitivity = Sensitivity.MEDIUM
    horizon: str | None = None
    confidence_interval: float = 0.95
    name: str | None = None
    model_id: str | None = None  # retrain this model


@dataclass(frozen=True)
class ForecastResult:
    metric: str
    labels: dict[str, str]
    forecast: Forecast
    model_id: str | None = None


@dataclass(frozen=True)
class Prediction:
    model: ModelRecord
    anomalies: AnomalyResult | None = None
    forecast: ForecastResult | None = None


class MlService:
    def __init__(
        self,
        settings: Settings,
        config: ConfigStore,
        metric_store: MetricStore,
        broker: Broker,
        ingest: IngestService,
        clock: Callable[[], int],
        *,
        sync_seconds: float = 5.0,
        quotas: Quotas | None = None,
        events: EventStore | None = None,
    ) -> None:
        """Scores of live points are written through `ingest` (so ML alerts read them),
        and every batch `ingest` stores is offered to live scoring; recommenders learn
        from `events`."""
        key = settings.model_signing_key.encode() if settings.model_signing_key else None
        self.registry = ModelRegistry(config, model_root(settings), key)
        self.live = LiveScorer(
            self.registry, metric_store, broker, ingest.store_batch, sync_seconds=sync_seconds
        )
        ingest.on_stored(self.observe)
        self._store = metric_store
        self._clock = clock
        self._detectors: OrderedDict[tuple[str, str, int], AnomalyDetector] = OrderedDict()
        self._quotas = quotas
        self.workers = MlWorkers(settings.ml_workers, settings.ml_max_seconds, self._jobs_allowed)
        self._prestart_workers = settings.ml_prestart_workers or settings.demo
        self.warmed_up: asyncio.Future[float] | None = None
        self.recommender = RecommenderService(self.registry, events, self.workers.run)
        self._retraining: asyncio.Task[None] | None = None

    async def _jobs_allowed(self, tenant: str) -> int:
        return 1 if self._quotas is None else (await self._quotas.of(tenant)).ml_jobs

    async def start(self) -> None:
        await self.live.start()
        # Not awaited: serving starts at once, the cold start is paid in the background.
        self.warmed_up = asyncio.ensure_future(asyncio.to_thread(self._warm_up))
        retraining = self.recommender.retrain_forever(self.retrain_recommender, self._clock)
        self._retraining = asyncio.ensure_future(retraining)

    def _warm_up(self) -> float:
        took = warm_up()
        if self._prestart_workers:
            self.workers.prestart()
        return took

    @property
    def warm(self) -> bool:
        """Whether the start-up warm-up has finished (or failed: then requests pay it)."""
        return self.warmed_up is not None and self.warmed_up.done()

    async def stop(self) -> None:
        if self._retraining is not None:
            self._retraining.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retraining
        await self.workers.stop()
        if self.warmed_up is not None and not self.warmed_up.done():
            # the thread finishes on its own (a few seconds at most); nothing waits for it
            self.warmed_up.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.warmed_up
        await self.live.stop()

    async def observe(self, batch: PointBatch) -> None:
        """The ingest listener: queues the batch for live scoring (see `live`)."""
        self.live.observe(batch)

    # -- the registry ----------------------------------------------------------------

    async def models(self, tenant: str) -> list[ModelRecord]:
        return await self.registry.models(tenant)

    async def delete(self, tenant: str, model_id: str) -> bool:
        deleted = await self.registry.delete(tenant, model_id)
        self.live.removed(tenant, model_id)
        return deleted

    async def _detector(self, tenant: str, record: ModelRecord) -> AnomalyDetector:
        """The model's fitted detector (shared, read-only), loaded from the registry's file."""
        key = (tenant, record.id, record.version)
        cached = self._detectors.get(key)
        if cached is not None:
            self._detectors.move_to_end(key)
            return cached
        payload = await self.registry.read(tenant, record)
        detector = await asyncio.to_thread(detector_from, payload, record)
        self._detectors[key] = detector
        while len(self._detectors) > CACHED_DETECTORS:
            self._detectors.popitem(last=False)
        return detector

    # -- results, off the event loop -----------------------------------------------------

    async def latest_anomalies(self, result: AnomalyResult, limit: int) -> list[ScoredPoint]:
        return await asyncio.to_thread(result.latest_anomalies, limit)

    async def band(self, result: AnomalyResult) -> tuple[list[float], list[float]]:
        """The expected band at every point of `result`."""
        lower, upper = await asyncio.to_thread(result.band)
        return lower.tolist(), upper.tolist()

    # -- reading series ----------------------------------------------------------------

    def window(self, window: str, field: str = "window") -> tuple[int, int]:
        """`[now - window, now]` in epoch ms."""
        now = self._clock()
        return now - parse_duration_ms(window, field=field), now + 1

    async def _series(
        self,
        tenant: str,
        metric: str,
        labels: tuple[tuple[str, str], ...],
        span: tuple[int, int],
        step_ms: int | None = None,
    ) -> list[Series]:
        aggregation = Aggregation.AVG if step_ms else None
        query = MetricQuery(tenant, metric, labels, span[0], span[1], step_ms, aggregation)
        [found] = await self._store.query_many([query])
        return found

    async def _one_series(
        self,
        tenant: str,
        metric: str,
        labels: tuple[tuple[str, str], ...],
        span: tuple[int, int],
        step_ms: int | None = None,
    ) -> Series:
        found = [s for s in await self._series(tenant, metric, labels, span, step_ms) if s.values]
        if not found:
            raise BadUserInput(f"metric: no points of {metric!r} in that range", field="metric")
        if len(found) > 1:
            raise BadUserInput(
                f"labels: {len(found)} series of {metric!r} match; give labels that select one",
                field="labels",
            )
        return found[0]

    async def _exact(
        self, tenant: str, record: ModelRecord, span: tuple[int, int], step_ms: int | None = None
    ) -> Series:
        labels = tuple(sorted(record.labels.items()))
        for series in await self._series(tenant, record.metric, labels, span, step_ms):
            if series.labels == record.labels:
                return series
        return Series(record.metric, dict(record.labels))

    # -- training ------------------------------------------------------------------------

    async def train(self, tenant: str, spec: TrainSpec) -> ModelRecord:
        with tracing.span("ml train", {"analytics.tenant": tenant}):
            return await self._train_traced(tenant, spec)

    async def _train_traced(self, tenant: str, spec: TrainSpec) -> ModelRecord:
        """Fit a model on one series and save it; retraining replaces it once saved."""
        if spec.kind == RECOMMENDER:
            return await self._train_recommender(tenant, spec)
        if spec.kind == ANOMALY:
            build_detector(spec.method or DEFAULT_DETECTOR, **spec.parameters)
        elif spec.method is not None and spec.method not in MODELS:
            raise BadUserInput(
                f"method: {spec.method!r} is not one of {', '.join(MODELS)}", field="method"
            )
        elif spec.parameters:
            raise BadUserInput("parameters: forecasting takes no parameters", field="parameters")
        previous = await self.registry.get(tenant, spec.model_id) if spec.model_id else None
        if previous is None and self._quotas is not None:
            held = len(await self.registry.models(tenant))
            await self._quotas.check_count(tenant, "models", held)
        span = (spec.start_ms, spec.end_ms)
        if spec.kind == ANOMALY:
            series = await self._one_series(tenant, spec.metric, spec.labels, span)
            record, payload = await self._train_detector(tenant, series, spec)
        else:
            step = forecast_step_ms(spec.end_ms - spec.start_ms)
            series = await self._one_series(tenant, spec.metric, spec.labels, span, step)
            record, payload = await self._train_forecast(tenant, series, spec)
        record = dataclasses.replace(record, id=previous.id if previous else new_model_id())
        saved = await self.registry.save(tenant, record, payload, previous)
        self.live.saved(tenant, saved)
        return saved

    async def _train_recommender(self, tenant: str, spec: TrainSpec) -> ModelRecord:
        """Fit on the tenant's `spec.metric` events (plays) and save it as other models."""
        previous = await self.registry.get(tenant, spec.model_id) if spec.model_id else None
        if previous is not None and previous.kind != RECOMMENDER:
            raise BadUserInput("modelId: not a RECOMMENDER model", field="modelId")
        if previous is None and self._quotas is not None:
            held = len(await self.registry.models(tenant))
            await self._quotas.check_count(tenant, "models", held)
        span = (spec.start_ms, spec.end_ms)
        params, payload, plays, evaluation = await self.recommender.fit(
            tenant, spec.metric, span, spec.method, spec.parameters
        )
        record = ModelRecord(
            id=previous.id if previous else new_model_id(),
            name=spec.name or f"{spec.metric} recommender",
            kind=RECOMMENDER,
            metric=spec.metric,
            labels={},
            method=spec.method or "ease",
            parameters={**params, "windowMs": spec.end_ms - spec.start_ms},
            trained_from_ms=plays.first_ms,
            trained_to_ms=plays.last_ms + 1,
            training_points=len(plays.users),
            step_ms=0,
            trained_at_ms=self._clock(),
            evaluation=evaluation,
        )
        return await self.registry.save(tenant, record, payload, previous)

    async def retrain_recommender(self, tenant: str, record: ModelRecord) -> ModelRecord:
        """Scheduled retraining: the same events, parameters and window length, ending now."""
        now = self._clock()
        window = int(record.parameters.get("windowMs", 7 * 86_400_000))
        spec = TrainSpec(
            metric=record.metric,
            labels=(),
            start_ms=now - window,
            end_ms=now + 1,
            kind=RECOMMENDER,
            method=record.method,
            parameters={k: v for k, v in record.parameters.items() if k in RECOMMENDER_PARAMETERS},
            name=record.name,
            model_id=record.id,
        )
        return await self.train(tenant, spec)

    async def _train_detector(
        self, tenant: str, series: Series, spec: TrainSpec
    ) -> tuple[ModelRecord, bytes | None]:
        method = spec.method or DEFAULT_DETECTOR
        threshold = spec.sensitivity.threshold
        trained = await self.workers.run(
            tenant,
            train_detector,
            series.timestamps,
            series.values,
            method,
            spec.parameters,
            threshold,
        )
        payload = await asyncio.to_thread(trained.detector.to_bytes)
        record = ModelRecord(
            id="",
            name=spec.name or f"{series.name} {method}",
            kind=ANOMALY,
            metric=series.name,
            labels=series.labels,
            method=method,
            parameters=dict(spec.parameters),
            trained_from_ms=trained.trained_from_ms,
            trained_to_ms=trained.trained_to_ms,
            training_points=trained.training_points,
            step_ms=trained.step_ms,
            trained_at_ms=self._clock(),
            threshold=threshold,
            sensitivity=spec.sensitivity.name,
            evaluation=trained.evaluation,
        )
        return record, payload

    async def _train_forecast(
        self, tenant: str, series: Series, spec: TrainSpec
    ) -> tuple[ModelRecord, bytes | None]:
        horizon = spec.horizon or DEFAULT_HORIZON
        started = time.perf_counter()
        result = await self._forecast(
            tenant,
            series,
            horizon,
            spec.confidence_interval,
            spec.method or "auto",
            {"model": "method"},
        )
        fc = result.forecast
        record = ModelRecord(
            id="",
            name=spec.name or f"{series.name} forecast",
            kind=FORECAST,
            metric=series.name,
            labels=series.labels,
            method=fc.model,
            parameters={
                "requestedMethod": spec.method or "auto",
                "horizon": horizon,
                "confidenceInterval": spec.confidence_interval,
                "seasonLengths": list(fc.season_lengths),
            },
            trained_from_ms=fc.train_start_ms,
            trained_to_ms=fc.train_end_ms,
            training_points=fc.train_points,
            step_ms=fc.step_ms,
            trained_at_ms=self._clock(),
            evaluation={
                "backtestMase": fc.backtest_mase,
                "baselineMase": fc.baseline_backtest_mase,
                "seasonLength": fc.season_length,
                "horizonPoints": len(fc.values),
                "fitSeconds": time.perf_counter() - started,
            },
        )
        return record, None

    # -- detection ---------------------------------------------------------------------

    async def detect(
        self,
        tenant: str,
        series: Sequence[Series],
        detector: str | None = None,
        parameters: dict[str, Any] | None = None,
        sensitivity: Sensitivity | None = None,
    ) -> list[AnomalyResult]:
        with tracing.span("ml detect", {"analytics.tenant": tenant}):
            return await self._detect_traced(tenant, series, detector, parameters, sensitivity)

    async def _detect_traced(
        self,
        tenant: str,
        series: Sequence[Series],
        detector: str | None = None,
        parameters: dict[str, Any] | None = None,
        sensitivity: Sensitivity | None = None,
    ) -> list[AnomalyResult]:
        """One result per series, in order."""
        parameters = parameters or {}
        if detector is not None or parameters:
            build_detector(detector or DEFAULT_DETECTOR, **parameters)
        records = [r for r in await self.registry.models(tenant) if r.kind == ANOMALY]
        return list(
            await asyncio.gather(
                *(
                    self._detect_one(tenant, s, records, detector, parameters, sensitivity)
                    for s in series
                )
            )
        )

    async def _detect_one(
        self,
        tenant: str,
        series: Series,
        records: list[ModelRecord],
        detector: str | None,
        parameters: dict[str, Any],
        sensitivity: Sensitivity | None,
    ) -> AnomalyResult:
        record = None if parameters else _matching(records, series, detector)
        if record is not None:
            model = await self._detector(tenant, record)
            threshold = sensitivity.threshold if sensitivity else _threshold(record)
            return await self.workers.run(
                tenant,
                with_model,
                model,
                series.timestamps,
                series.values,
                threshold,
                model_id=record.id,
                trained=(record.trained_from_ms, record.trained_to_ms),
            )
        if len(series.values) > WALK_FORWARD_MAX_POINTS:
            raise QueryTooComplex(
                f"window: {len(series.values)} points of {series.name!r} and no trained model; "
                f"without one, detection takes at most {WALK_FORWARD_MAX_POINTS} points: train "
                "a model (trainModel), or ask for a shorter window or a coarser step",
                field="window",
            )
        threshold = (sensitivity or Sensitivity.MEDIUM).threshold
        return await self.workers.run(
            tenant,
            walk_forward,
            series.timestamps,
            series.values,
            detector or DEFAULT_DETECTOR,
            parameters,
            threshold,
        )

    # -- forecasting -------------------------------------------------------------------

    async def forecast_window(
        self, tenant: str, metric: str, labels: tuple[tuple[str, str], ...], window: str
    ) -> Series:
        """The series to forecast from: `window` ending now, in round buckets."""
        span = self.window(window)
        return await self._one_series(
            tenant, metric, labels, span, forecast_step_ms(span[1] - span[0])
        )

    async def forecast(
        self,
        tenant: str,
        series: Series,
        horizon: str,
        confidence_interval: float,
        model: str | None,
    ) -> ForecastResult:
        with tracing.span("ml forecast", {"analytics.tenant": tenant}):
            return await self._forecast_traced(tenant, series, horizon, confidence_interval, model)

    async def _forecast_traced(
        self,
        tenant: str,
        series: Series,
        horizon: str,
        confidence_interval: float,
        model: str | None,
    ) -> ForecastResult:
        return await self._forecast(
            tenant, series, horizon, confidence_interval, model or "auto", {}
        )

    async def _forecast(
        self,
        tenant: str,
        series: Series,
        horizon: str,
        confidence_interval: float,
        model: str,
        names: dict[str, str],
        model_id: str | None = None,
    ) -> ForecastResult:
        fields = {"confidence_interval": "confidenceInterval", **names}
        try:
            result = await self.workers.run(
                tenant,
                forecast,
                series.timestamps,
                series.values,
                horizon=horizon,
                confidence_interval=confidence_interval,
                model=model,
            )
        except BadUserInput as exc:
            raise named(exc, fields) from exc
        return ForecastResult(series.name, series.labels, result, model_id)

    # -- prediction with a trained model -----------------------------------------------

    async def predict(
        self,
        tenant: str,
        model_id: str,
        *,
        data: tuple[list[int], list[float]] | None = None,
        window: str | None = None,
        horizon: str | None = None,
        confidence_interval: float | None = None,
        sensitivity: Sensitivity | None = None,
    ) -> Prediction:
        """Score points with an anomaly model, or forecast with a forecasting model.

        Points come from `data` (columns a client sent: numbers only) or from
        the store: the model's own series over `window` ending now.
        """
        record = await self.registry.get(tenant, model_id)
        if record.kind == RECOMMENDER:
            raise BadUserInput(
                "modelId: a RECOMMENDER model answers `recommendations`, not `predict`",
                field="modelId",
            )
        if record.kind == ANOMALY:
            scored = await self._score(tenant, record, data, window, sensitivity)
            return Prediction(record, anomalies=scored)
        params = record.parameters
        if data is not None:
            series = Series(record.metric, dict(record.labels), *data)
        else:
            default = f"{max(record.trained_to_ms - record.trained_from_ms, 1)}ms"
            span = self.window(window or default)
            series = await self._exact(tenant, record, span, record.step_ms or None)
        ci = confidence_interval or float(params.get("confidenceInterval", 0.95))
        steps = horizon or str(params.get("horizon", DEFAULT_HORIZON))
        result = await self._forecast(
            tenant, series, steps, ci, record.method, {}, model_id=record.id
        )
        return Prediction(record, forecast=result)

    async def _score(
        self,
        tenant: str,
        record: ModelRecord,
        data: tuple[list[int], list[float]] | None,
        window: str | None,
        sensitivity: Sensitivity | None,
    ) -> AnomalyResult:
        if data is not None:
            try:
                validate_series(*data)
            except BadUserInput as exc:
                raise BadUserInput(f"data: {exc.message}", field="data") from exc
            timestamps, values = data
        else:
            series = await self._exact(
                tenant, record, self.window(window or DEFAULT_PREDICT_WINDOW)
            )
            timestamps, values = series.timestamps, series.values
        model = await self._detector(tenant, record)
        threshold = sensitivity.threshold if sensitivity else _threshold(record)
        return await self.workers.run(
            tenant,
            with_model,
            model,
            timestamps,
            values,
            threshold,
            model_id=record.id,
            trained=(record.trained_from_ms, record.trained_to_ms),
        )


def _threshold(record: ModelRecord) -> float:
    return record.threshold if record.threshold is not None else Sensitivity.MEDIUM.threshold


def _matching(
    records: list[ModelRecord], series: Series, detector: str | None
) -> ModelRecord | None:
    """The newest model of this exact series (and detector), at a comparable step."""
    step = median_step_ms_of(series)
    for record in records:  # newest first
        if record.metric != series.name or record.labels != series.labels:
            continue
        if detector is not None and record.method != detector:
            continue
        if step and record.step_ms and not 0.5 <= step / record.step_ms <= 2.0:
            continue
        return record
    return None


def median_step_ms_of(series: Series) -> int:
    return median_step_ms(np.asarray(series.timestamps[-1000:], dtype=np.int64))
