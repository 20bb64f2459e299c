"""Dynamic thresholds: a band learned from the history of the same series.

The band at time t comes from the values seen at the same time of day (within
half an hour either side) on the previous days of the window; with a window of
two weeks or more, from the same weekday and time of day only. Its edges are
the 5th and 95th percentiles of those values, widened by `k` robust spreads
(the median absolute deviation, never below the series' point-to-point noise),
with `k` set by the sensitivity. Percentiles and medians ignore the odd
outlier in the history, so one past incident does not widen the band for good.

History is read as `avg` per `resolution_ms(window)` bucket, and the current
value of the series is compared against it. Pure numpy: the scheduler and the
simulation call the same `band_at`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

DAY_MS = 86_400_000
WEEK_MS = 7 * DAY_MS
HALF_SLOT_MS = 30 * 60_000
MIN_SAMPLES = 24
K = {"high": 2.0, "medium": 3.0, "low": 4.5}
MAD_TO_SIGMA = 1.4826

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Band:
    low: float
    high: float
    samples: int

    def outside(self, value: float) -> bool:
        return value < self.low or value > self.high


def resolution_ms(window_ms: int) -> int:
    """Bucket width of the history: about 2,000 buckets per window, at least a minute."""
    minutes = max(1, round(window_ms / 2016 / 60_000))
    return int(minutes * 60_000)


def _noise(values: FloatArray) -> float:
    """Point-to-point noise: robust spread of successive differences."""
    if values.size < 3:
        return 0.0
    diffs = np.abs(np.diff(values))
    return float(MAD_TO_SIGMA * np.median(diffs) / np.sqrt(2.0))


def band_at(
    timestamps: IntArray,
    values: FloatArray,
    at_ms: int,
    window_ms: int,
    sensitivity: str,
) -> Band | None:
    """The band at `at_ms` from history in [at - window, at - resolution); None if too little."""
    res = resolution_ms(window_ms)
    lo_i = int(np.searchsorted(timestamps, at_ms - window_ms, side="left"))
    hi_i = int(np.searchsorted(timestamps, at_ms - res, side="left"))
    if hi_i - lo_i < MIN_SAMPLES:
        return None
    ts = timestamps[lo_i:hi_i]
    vs = values[lo_i:hi_i]
    period = WEEK_MS if window_ms >= 2 * WEEK_MS else DAY_MS
    offset = (at_ms - ts) % period
    near = np.minimum(offset, period - offset) <= HALF_SLOT_MS
    samples = vs[near]
    if samples.size < MIN_SAMPLES:
        return None
    low, mid, high = np.quantile(samples, [0.05, 0.5, 0.95])
    spread = MAD_TO_SIGMA * float(np.median(np.abs(samples - mid)))
    floor = 1e-6 * max(1.0, abs(float(mid)))
    scale = max(spread, _noise(vs), floor)
    k = K[sensitivity]
    return Band(float(low) - k * scale, float(high) + k * scale, int(samples.size))


def as_arrays(timestamps: Any, values: Any) -> tuple[IntArray, FloatArray]:
    return np.asarray(timestamps, dtype=np.int64), np.asarray(values, dtype=np.float64)
