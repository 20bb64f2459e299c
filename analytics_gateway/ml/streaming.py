"""Detection over a whole series without look-ahead, as a live system would see it.

The series is walked forward in blocks: each block is scored by a detector
fitted only on the points before it, and the detector is refitted as the
history grows (geometrically, so refits cost O(log n) fits). Then alerts are
suppressed: a point may alert only if its score beats every score of the
`cooldown` points before it, so a lasting anomaly raises one alert, not one
per point. Both steps use the past only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import maximum_filter1d  # type: ignore[import-untyped]

from analytics_gateway.errors import BadUserInput
from analytics_gateway.ml.calibration import FloatArray, to_probability
from analytics_gateway.ml.detectors import AnomalyDetector
from analytics_gateway.ml.features import IntArray, validate_series


@dataclass(frozen=True)
class StreamingPolicy:
    """When to fit and refit, and how long one alert silences the next."""

    warmup: int = 150  # points seen before the first fit; they score 0
    refit_growth: float = 0.25  # refit once the history grew by this fraction...
    min_refit: int = 100  # ...and by at least this many points
    cooldown: int = 100  # points an alert must out-score to alert again

    def __post_init__(self) -> None:
        checks = {
            "warmup": self.warmup >= 2,
            "refit_growth": 0.0 < self.refit_growth <= 10.0,
            "min_refit": self.min_refit >= 1,
            "cooldown": self.cooldown >= 0,
        }
        for name, ok in checks.items():
            if not ok:
                raise BadUserInput(f"{name}: out of range ({getattr(self, name)})", field=name)


def streaming_surprise(
    make_detector: Callable[[], AnomalyDetector],
    timestamps_ms: IntArray,
    values: FloatArray,
    policy: StreamingPolicy,
) -> FloatArray:
    """Surprise per point, each block scored by a model fitted on earlier points only."""
    n = values.size
    out = np.zeros(n)
    start = policy.warmup
    while start < n:
        end = min(n, start + max(policy.min_refit, int(start * policy.refit_growth)))
        detector = make_detector()
        first = max(0, start - detector.max_train - detector.context)
        if start - first < detector.min_points:
            start = end  # not enough history yet: these points stay at 0
            continue
        detector.fit(timestamps_ms[first:start], values[first:start])
        out[start:end] = detector.surprise(timestamps_ms[start:end], values[start:end])
        start = end
    return out


def suppress(scores: FloatArray, cooldown: int) -> FloatArray:
    """Zero every score that does not beat all of the `cooldown` scores before it."""
    if cooldown == 0 or scores.size == 0:
        return scores.copy()
    trailing = maximum_filter1d(
        scores, size=cooldown, origin=(cooldown - 1) // 2, mode="constant", cval=-np.inf
    )
    before = np.concatenate(([-np.inf], trailing[:-1]))
    out: FloatArray = np.where(scores > before, scores, 0.0)
    return out


@dataclass(frozen=True)
class Detection:
    """Scores in [0, 1] per point, and the same after alert suppression."""

    scores: FloatArray
    alert_scores: FloatArray

    def alerts(self, threshold: float) -> IntArray:
        """Indices of the points that alert at `threshold`."""
        return np.flatnonzero(self.alert_scores >= threshold)


def detect_series(
    make_detector: Callable[[], AnomalyDetector],
    timestamps_ms: object,
    values: object,
    policy: StreamingPolicy | None = None,
) -> Detection:
    """Score a whole series as it would have been scored live."""
    ts, vs = validate_series(timestamps_ms, values)
    policy = policy or StreamingPolicy()
    surprise = streaming_surprise(make_detector, ts, vs, policy)
    return Detection(to_probability(surprise), to_probability(suppress(surprise, policy.cooldown)))
