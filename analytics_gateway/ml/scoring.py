"""Detection results in one shape, whatever the detector: CPU work, call it in a thread.

Every result holds per point a score in [0, 1], whether it raised an alert,
and an expected band. Scores come either from a trained model or, without
one, from a walk-forward over the series itself (`streaming.detect_series`:
each point scored by a model fitted on the points before it only).

An alert is a point whose score reaches the threshold and beats every score
of the `COOLDOWN` points before it (`streaming.suppress`), so a lasting
anomaly raises one alert. The band is detector-agnostic: the mean of the
previous `BAND_WINDOW` values plus or minus as many standard deviations as
the threshold's two-sided normal quantile (2.97 at MEDIUM).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.special import ndtri  # type: ignore[import-untyped]

from analytics_gateway.ml.calibration import FloatArray, to_probability
from analytics_gateway.ml.detectors import AnomalyDetector, build_detector
from analytics_gateway.ml.features import (
    IntArray,
    median_step_ms,
    previous,
    rolling_mean,
    rolling_std,
    validate_series,
)
from analytics_gateway.ml.streaming import StreamingPolicy, detect_series, suppress

BoolArray = npt.NDArray[np.bool_]

BAND_WINDOW = 60
COOLDOWN = StreamingPolicy().cooldown
HOLDOUT_SHARE = 0.2


def band_width(threshold: float) -> float:
    """Standard deviations either side: the two-sided normal quantile of the threshold."""
    return float(ndtri(1.0 - (1.0 - threshold) / 2.0))


def expected_band(values: FloatArray, threshold: float) -> tuple[FloatArray, FloatArray]:
    """Lower and upper edge per point, from the `BAND_WINDOW` values before it."""
    if values.size == 0:
        return values.copy(), values.copy()
    origin = values[0]
    x = values - origin
    mean = previous(rolling_mean(x, BAND_WINDOW)) + origin
    spread = previous(rolling_std(x, BAND_WINDOW)) * band_width(threshold)
    return mean - spread, mean + spread


def band_at(
    values: FloatArray, indices: IntArray, threshold: float
) -> tuple[FloatArray, FloatArray]:
    """`expected_band` at `indices` only: each window gathered (the first value pads it)."""
    if indices.size == 0:
        return np.empty(0), np.empty(0)
    window = np.clip(indices[:, None] - BAND_WINDOW + np.arange(BAND_WINDOW), 0, None)
    history = values[window]
    mean = history.mean(axis=1)
    spread = history.std(axis=1) * band_width(threshold)
    return mean - spread, mean + spread


@dataclass(frozen=True)
class ScoredPoint:
    """An anomalous point as clients see it: its score, band and whether it alerted."""

    timestamp_ms: int
    value: float
    score: float
    expected_lower: float
    expected_upper: float
    alert: bool


@dataclass
class AnomalyResult:
    """Scores of one series with everything a client needs to show them."""

    timestamps: IntArray
    values: FloatArray
    scores: FloatArray  # in [0, 1]
    alerts: BoolArray
    threshold: float
    detector: str
    model_id: str | None = None
    trained_from_ms: int | None = None
    trained_to_ms: int | None = None
    _band: tuple[FloatArray, FloatArray] | None = field(default=None, repr=False)

    @property
    def walk_forward(self) -> bool:
        return self.model_id is None

    def anomalous(self) -> IntArray:
        """Indices of the points scoring at or above the threshold."""
        out: IntArray = np.flatnonzero(self.scores >= self.threshold).astype(np.int64)
        return out

    def band(self) -> tuple[FloatArray, FloatArray]:
        """The expected band at every point."""
        if self._band is None:
            self._band = expected_band(self.values, self.threshold)
        return self._band

    def band_at(self, indices: IntArray) -> tuple[FloatArray, FloatArray]:
        """The expected band at some points only (as `band()` at those points)."""
        if self._band is not None:
            return self._band[0][indices], self._band[1][indices]
        return band_at(self.values, indices, self.threshold)

    def latest_anomalies(self, limit: int) -> list[ScoredPoint]:
        """The `limit` most recent anomalous points, oldest first, with their band."""
        picked = self.anomalous()[-limit:] if limit > 0 else np.empty(0, dtype=np.int64)
        lower, upper = self.band_at(picked)
        return [
            ScoredPoint(
                int(self.timestamps[i]),
                float(self.values[i]),
                float(self.scores[i]),
                lo,
                hi,
                bool(self.alerts[i]),
            )
            for i, lo, hi in zip(picked.tolist(), lower.tolist(), upper.tolist(), strict=True)
        ]


def _scored(surprise: FloatArray, threshold: float) -> tuple[FloatArray, BoolArray]:
    scores = to_probability(surprise)
    alerts: BoolArray = to_probability(suppress(surprise, COOLDOWN)) >= threshold
    return scores, alerts


def walk_forward(
    timestamps_ms: object,
    values: object,
    detector: str,
    parameters: dict[str, Any],
    threshold: float,
) -> AnomalyResult:
    """Scores without a trained model: no point is scored by a model that saw it."""
    ts, vs = validate_series(timestamps_ms, values)
    detection = detect_series(lambda: build_detector(detector, **parameters), ts, vs)
    return AnomalyResult(
        ts,
        vs,
        detection.scores,
        detection.alert_scores >= threshold,
        threshold,
        detector,
    )


def with_model(
    model: AnomalyDetector,
    timestamps_ms: object,
    values: object,
    threshold: float,
    *,
    model_id: str,
    trained: tuple[int, int],
) -> AnomalyResult:
    """Scores from a trained model (points inside its training range are in-sample)."""
    ts, vs = validate_series(timestamps_ms, values)
    scores, alerts = _scored(model.surprise(ts, vs), threshold)
    return AnomalyResult(ts, vs, scores, alerts, threshold, model.name, model_id, *trained)


@dataclass(frozen=True)
class TrainedDetector:
    """A fitted detector, the range it learned from and how it did on a hold-out."""

    detector: AnomalyDetector
    trained_from_ms: int
    trained_to_ms: int
    training_points: int
    step_ms: int
    evaluation: dict[str, Any]


def train_detector(
    timestamps_ms: object,
    values: object,
    detector: str,
    parameters: dict[str, Any],
    threshold: float,
) -> TrainedDetector:
    """Fit on the series' last points; first score a hold-out with a model fitted before it.

    The hold-out (the last fifth) is scored by a model fitted on the points
    before it only, so its alert rate is what the model would have raised
    live; then the model is fitted on everything.
    """
    ts, vs = validate_series(timestamps_ms, values)
    model = build_detector(detector, **parameters)
    keep = model.max_train + model.context
    ts, vs = ts[-keep:], vs[-keep:]
    evaluation: dict[str, Any] = {}
    held = int(ts.size * HOLDOUT_SHARE)
    if held >= 1 and ts.size - held >= max(model.min_points, 2):
        early = build_detector(detector, **parameters).fit(ts[:-held], vs[:-held])
        surprise = early.surprise(ts[-held:], vs[-held:])
        _, alerts = _scored(surprise, threshold)
        evaluation = {
            "holdoutPoints": held,
            "holdoutAlerts": int(alerts.sum()),
            "holdoutAlertRate": float(alerts.mean()),
        }
    started = time.perf_counter()
    model.fit(ts, vs)
    evaluation["fitSeconds"] = time.perf_counter() - started
    return TrainedDetector(
        model, int(ts[0]), int(ts[-1]), int(ts.size), median_step_ms(ts), evaluation
    )
