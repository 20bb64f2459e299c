"""Streaming scoring: every newly stored point of a modelled series, scored as it arrives.

The ingest service hands each stored batch to `observe` (a plain callback,
after the store and the live publish). Hooking ingest rather than listening
on the hub means each point is scored once, by the replica that stored it;
hub listeners would see every replica's points and score them once per
replica. `observe` only queues the batch (bounded; when full the batch is
dropped and counted) and returns: one worker task groups the points by
series and scores them in a thread, then publishes the alerts on the
tenant's anomalies channel. Every scored point's score is also stored as a
point of `ml_anomaly_score{model="<id>"}` (through `score_sink`, the ingest
path), which is what ML alert rules (`createMlAlert`) evaluate, and which
anyone can chart or query like any metric.

Each model rolls forward over its series: the last points seen are its
window context and the base of the expected band, and recent scores decide
suppression (one alert per lasting anomaly). The first batch after a model is
loaded reads that context from the store. Models trained by other replicas
are found by a periodic sync of the registry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from analytics_gateway.backends.base import Broker, MetricStore
from analytics_gateway.background import BackgroundTask
from analytics_gateway.domain import MetricQuery, PointBatch, canonical_labels
from analytics_gateway.errors import GatewayError
from analytics_gateway.ml.calibration import FloatArray, to_probability
from analytics_gateway.ml.detectors import AnomalyDetector, Sensitivity
from analytics_gateway.ml.features import IntArray
from analytics_gateway.ml.registry import ANOMALY, ModelRecord, ModelRegistry, detector_from
from analytics_gateway.ml.scoring import BAND_WINDOW, COOLDOWN, expected_band
from analytics_gateway.ml.streaming import suppress
from analytics_gateway.subscriptions.channels import anomalies_channel

log = logging.getLogger(__name__)

SCORE_METRIC = "ml_anomaly_score"
SCORE_LABEL = "model"
SYNC_SECONDS = 5.0
QUEUE_BATCHES = 1000
MAX_LOOKBACK_MS = 7 * 86_400_000

Group = tuple[Mapping[str, str], list[int], list[float]]


class LiveModel:
    """A loaded detector rolling forward over one series; used by one thread at a time."""

    def __init__(
        self, record: ModelRecord, detector: AnomalyDetector, ts: IntArray, vs: FloatArray
    ) -> None:
        self.record = record
        self.detector = detector
        self.threshold = record.threshold or Sensitivity.MEDIUM.threshold
        self._keep = max(detector.context, BAND_WINDOW)
        self._ts, self._vs = ts[-self._keep :], vs[-self._keep :]
        self._recent: FloatArray = np.empty(0)
        self.last_scores: tuple[IntArray, FloatArray] = (np.empty(0, dtype=np.int64), np.empty(0))
        self._roll()

    def _roll(self) -> None:
        if self._ts.size:
            ctx = self.detector.context
            self.detector.context_ = (self._ts[-ctx:].copy(), self._vs[-ctx:].copy())

    def score(self, timestamps: list[int], values: list[float]) -> list[dict[str, Any]]:
        """Alerts among the new points (points not after the last one seen are skipped)."""
        ts = np.asarray(timestamps, dtype=np.int64)
        vs = np.asarray(values, dtype=np.float64)
        order = np.argsort(ts, kind="stable")
        ts, vs = ts[order], vs[order]
        if self._ts.size:
            fresh = ts > self._ts[-1]
            ts, vs = ts[fresh], vs[fresh]
        if ts.size == 0:
            self.last_scores = (ts, np.empty(0))
            return []
        surprise = self.detector.surprise(ts, vs)
        combined = np.concatenate((self._recent, surprise))
        alerts = to_probability(suppress(combined, COOLDOWN))[self._recent.size :]
        self._recent = combined[-COOLDOWN:]
        scores = to_probability(surprise)
        self.last_scores = (ts, scores)
        lower, upper = expected_band(np.concatenate((self._vs, vs)), self.threshold)
        lower, upper = lower[-ts.size :], upper[-ts.size :]
        self._ts = np.concatenate((self._ts, ts))[-self._keep :]
        self._vs = np.concatenate((self._vs, vs))[-self._keep :]
        self._roll()
        record = self.record
        return [
            {
                "modelId": record.id,
                "metric": record.metric,
                "labels": record.labels,
                "detector": record.method,
                "t": int(ts[i]),
                "v": float(vs[i]),
                "score": float(scores[i]),
                "threshold": self.threshold,
                "lower": float(lower[i]),
                "upper": float(upper[i]),
            }
            for i in np.flatnonzero(alerts >= self.threshold)
        ]


@dataclass(frozen=True)
class _Unusable:
    """A model version that failed to load; retried only when its version changes."""

    version: int


def group_points(batch: PointBatch, metrics: set[str]) -> dict[tuple[str, str], Group]:
    """Points of the watched metrics by (metric, canonical labels)."""
    groups: dict[tuple[str, str], Group] = {}
    for name, labels, key, t, v in zip(
        batch.names, batch.labels, batch.label_keys, batch.timestamps, batch.values, strict=True
    ):
        if name not in metrics:
            continue
        group = groups.get((name, key))
        if group is None:
            group = groups[(name, key)] = (labels, [], [])
        group[1].append(t)
        group[2].append(v)
    return groups


class LiveScorer:
    def __init__(
        self,
        registry: ModelRegistry,
        metric_store: MetricStore,
        broker: Broker,
        score_sink: Callable[[PointBatch], Awaitable[None]],
        *,
        sync_seconds: float = SYNC_SECONDS,
        queue_batches: int = QUEUE_BATCHES,
    ) -> None:
        self._registry = registry
        self._store = metric_store
        self._broker = broker
        self._sync_seconds = sync_seconds
        self._queue: asyncio.Queue[PointBatch] = asyncio.Queue(queue_batches)
        self._models: dict[str, dict[str, ModelRecord]] = {}  # tenant -> id -> record
        self._watched: dict[str, set[str]] = {}  # tenant -> metrics with a model
        self._states: dict[tuple[str, str], LiveModel | _Unusable] = {}
        self._worker = BackgroundTask(self._work, "ml-live-scoring")
        self._syncer = BackgroundTask(self._sync_forever, "ml-registry-sync")
        self.dropped_batches = 0
        self.scored_points = 0
        # where scores go as points (the ingest service's store-and-publish path)
        self._score_sink = score_sink

    async def start(self) -> None:
        try:
            await self.sync()
        except GatewayError as exc:  # the periodic sync retries
            log.warning("live anomaly scoring starts without its models for now: %s", exc)
        self._worker.start()
        self._syncer.start()

    async def stop(self) -> None:
        await self._syncer.stop()
        await self._worker.stop()

    # -- which models exist --------------------------------------------------------

    async def sync(self) -> None:
        """Reload every tenant's anomaly models from the registry."""
        models: dict[str, dict[str, ModelRecord]] = {}
        for tenant in await self._registry.tenants():
            records = await self._registry.models(tenant)
            models[tenant] = {r.id: r for r in records if r.kind == ANOMALY}
        self._models = models
        self._reindex()

    async def _sync_forever(self) -> None:
        while True:
            await asyncio.sleep(self._sync_seconds)
            try:
                await self.sync()
            except GatewayError as exc:
                log.warning("model registry sync failed: %s", exc)

    def saved(self, tenant: str, record: ModelRecord) -> None:
        """A model was trained in this process: watch it at once."""
        if record.kind == ANOMALY:
            self._models.setdefault(tenant, {})[record.id] = record
            self._reindex()

    def removed(self, tenant: str, model_id: str) -> None:
        self._models.get(tenant, {}).pop(model_id, None)
        self._states.pop((tenant, model_id), None)
        self._reindex()

    def watches(self, tenant: str, metric: str) -> bool:
        """Whether new points of this metric are scored (a model of the tenant watches it)."""
        return metric in self._watched.get(tenant, ())

    def _reindex(self) -> None:
        self._watched = {
            tenant: {r.metric for r in records.values()}
            for tenant, records in self._models.items()
            if records
        }
        live = {(t, i) for t, records in self._models.items() for i in records}
        for key in [k for k in self._states if k not in live]:
            del self._states[key]

    # -- scoring ---------------------------------------------------------------------

    def observe(self, batch: PointBatch) -> None:
        """The ingest hook: queue the batch if a model watches one of its metrics."""
        watched = self._watched.get(batch.tenant)
        if not watched or watched.isdisjoint(batch.metric_names()):
            return
        try:
            self._queue.put_nowait(batch)
        except asyncio.QueueFull:
            self.dropped_batches += 1
            log.warning("live anomaly scoring is behind: a batch of %d points dropped", len(batch))

    async def idle(self) -> None:
        """Wait until every queued batch has been scored and published."""
        await self._queue.join()

    async def _work(self) -> None:
        while True:
            batch = await self._queue.get()
            try:
                await self._score_batch(batch)
            except GatewayError as exc:
                log.warning("live anomaly scoring failed for a batch: %s", exc)
            except Exception:
                log.exception("live anomaly scoring failed for a batch")
            finally:
                self._queue.task_done()

    async def _score_batch(self, batch: PointBatch) -> None:
        tenant = batch.tenant
        records = list(self._models.get(tenant, {}).values())
        metrics = {r.metric for r in records}
        groups = await asyncio.to_thread(group_points, batch, metrics)
        work: list[tuple[LiveModel, Group]] = []
        for (metric, key), group in groups.items():
            for record in records:
                if record.metric == metric and canonical_labels(record.labels) == key:
                    model = await self._state(tenant, record, min(group[1]))
                    if model is not None:
                        work.append((model, group))
        if not work:
            return
        events, scores = await asyncio.to_thread(_score_all, tenant, work)
        self.scored_points += sum(len(group[1]) for _, group in work)
        if scores:
            try:
                await self._score_sink(scores)
            except GatewayError as exc:
                log.warning("anomaly scores not stored (ML alerts miss them): %s", exc.message)
        if events:
            message = orjson.dumps(events)
            try:
                await self._broker.publish_many([(anomalies_channel(tenant), message)])
            except GatewayError as exc:
                log.warning("anomaly events not published (subscribers miss them): %s", exc)

    async def _state(self, tenant: str, record: ModelRecord, first_ms: int) -> LiveModel | None:
        key = (tenant, record.id)
        state = self._states.get(key)
        if isinstance(state, LiveModel) and state.record.version == record.version:
            return state
        if isinstance(state, _Unusable) and state.version == record.version:
            return None
        try:
            payload = await self._registry.read(tenant, record)
            detector = await asyncio.to_thread(detector_from, payload, record)
            keep = max(detector.context, BAND_WINDOW)
            ts, vs = await self._history(tenant, record, first_ms, keep)
        except GatewayError as exc:
            log.warning("model %s of tenant %s not scoring live: %s", record.id, tenant, exc)
            self._states[key] = _Unusable(record.version)
            return None
        if ts.size == 0 and detector.context_ is not None:
            ts, vs = detector.context_
        model = LiveModel(record, detector, ts, vs)
        self._states[key] = model
        return model

    async def _history(
        self, tenant: str, record: ModelRecord, before_ms: int, keep: int
    ) -> tuple[IntArray, FloatArray]:
        """The series' last `keep` points before `before_ms`: the new points' window context."""
        lookback = min(MAX_LOOKBACK_MS, keep * max(record.step_ms, 1) * 3)
        query = MetricQuery(
            tenant=tenant,
            name=record.metric,
            labels=tuple(sorted(record.labels.items())),
            start_ms=before_ms - lookback,
            end_ms=before_ms,
        )
        [found] = await self._store.query_many([query])
        for series in found:
            if series.labels == record.labels:
                return (
                    np.asarray(series.timestamps[-keep:], dtype=np.int64),
                    np.asarray(series.values[-keep:], dtype=np.float64),
                )
        return np.empty(0, dtype=np.int64), np.empty(0)


def _score_all(
    tenant: str, work: list[tuple[LiveModel, Group]]
) -> tuple[list[dict[str, Any]], PointBatch]:
    """The anomaly events among the new points, and every new point's score as a
    point of `SCORE_METRIC` labelled with its model (what ML alert rules read)."""
    events: list[dict[str, Any]] = []
    scores = PointBatch(tenant)
    for model, (_, ts, vs) in work:
        with contextlib.suppress(GatewayError):  # e.g. non-finite values: nothing to score
            events.extend(model.score(ts, vs))
            labels = {SCORE_LABEL: model.record.id}
            key = canonical_labels(labels)
            stamps, values = model.last_scores
            for t, v in zip(stamps.tolist(), values.tolist(), strict=True):
                scores.append(SCORE_METRIC, labels, key, t, v)
    return events, scores
