"""Windowed features of one series, built without looking ahead.

Row t of every feature matrix depends on points 0..t only, so a detector
scoring row t never sees the future. Everything is vectorised (running sums
in C), so building features costs O(n) and no per-point Python.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.ndimage import uniform_filter1d  # type: ignore[import-untyped]

from analytics_gateway.errors import BadUserInput

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
WEEK_MS = 7 * DAY_MS


def validate_series(timestamps_ms: object, values: object) -> tuple[IntArray, FloatArray]:
    """Return the series as arrays, or raise `BadUserInput` naming what is wrong."""
    try:
        ts = np.asarray(timestamps_ms, dtype=np.int64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise BadUserInput("timestamps: must be epoch milliseconds", field="timestamps") from exc
    try:
        vs = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise BadUserInput("values: must be numbers", field="values") from exc
    if ts.shape != vs.shape:
        raise BadUserInput(f"values: {vs.size} values for {ts.size} timestamps", field="values")
    if not np.isfinite(vs).all():
        raise BadUserInput("values: must be finite (no NaN or infinity)", field="values")
    if ts.size > 1 and (np.diff(ts) < 0).any():
        raise BadUserInput("timestamps: must be in ascending order", field="timestamps")
    return ts, vs


def rolling_mean(x: FloatArray, window: int) -> FloatArray:
    """Mean of the last `window` points up to each point (the first value repeats before).

    A running sum (scipy's uniform filter): its rounding error is bounded by the
    window, where a difference of cumulative sums would grow with the series.
    """
    if x.size == 0:
        return x.copy()
    out: FloatArray = uniform_filter1d(x, window, origin=(window - 1) // 2, mode="nearest")
    return out


def rolling_std(x: FloatArray, window: int) -> FloatArray:
    """Population standard deviation of the last `window` points up to each point."""
    mean = rolling_mean(x, window)
    mean_sq = rolling_mean(x * x, window)
    var = mean_sq - mean * mean
    # What is left of E[x^2] - E[x]^2 at rounding level is a constant stretch: 0.
    var[var <= 1e-12 * mean_sq] = 0.0
    out: FloatArray = np.sqrt(var)
    return out


def previous(x: FloatArray) -> FloatArray:
    """x shifted one step later: the value known just before each point."""
    return np.concatenate((x[:1], x[:-1]))


def median_step_ms(timestamps_ms: IntArray) -> int:
    """Typical spacing of the series (0 when it has fewer than two points)."""
    if timestamps_ms.size < 2:
        return 0
    return int(np.median(np.diff(timestamps_ms)))


@dataclass(frozen=True)
class FeatureSpec:
    """Which windowed features to build; fixed when a detector is fitted.

    `calendar` adds time of day (step under an hour) and day of week (step
    under a day) as points on a circle; None decides from the series' step.
    """

    short_window: int = 5
    spread_window: int = 12
    long_window: int = 60
    calendar: bool | None = False

    def __post_init__(self) -> None:
        for name in ("short_window", "spread_window", "long_window"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 10_000:
                raise BadUserInput(f"{name}: must be an integer from 1 to 10000", field=name)

    @property
    def context(self) -> int:
        """Points of history a feature row can depend on."""
        return max(self.short_window, self.spread_window, self.long_window + 1)

    def resolve(self, timestamps_ms: IntArray) -> ResolvedSpec:
        """Fix the calendar choice from the training series' step."""
        step = median_step_ms(timestamps_ms)
        wanted = self.calendar is not False
        by_step = self.calendar is None
        time_of_day = wanted and 0 < step < HOUR_MS if by_step else wanted
        day_of_week = wanted and 0 < step < DAY_MS if by_step else wanted
        return ResolvedSpec(self, bool(time_of_day), bool(day_of_week))


@dataclass(frozen=True)
class ResolvedSpec:
    """A `FeatureSpec` with its calendar columns decided."""

    spec: FeatureSpec
    time_of_day: bool
    day_of_week: bool

    def build(self, timestamps_ms: IntArray, values: FloatArray) -> FloatArray:
        """Feature matrix (n, d): value, step change, short mean, spread, level shift."""
        spec = self.spec
        origin = values[0] if values.size else 0.0
        x = values - origin  # centred: E[x^2] - E[x]^2 then loses less to rounding
        level = rolling_mean(x, spec.long_window)
        columns = [
            values,
            x - previous(x),
            rolling_mean(x, spec.short_window) + origin,
            rolling_std(x, spec.spread_window),
            x - previous(level),
        ]
        if self.time_of_day:
            angle = 2 * np.pi * (timestamps_ms % DAY_MS) / DAY_MS
            columns += [np.sin(angle), np.cos(angle)]
        if self.day_of_week:
            angle = 2 * np.pi * (timestamps_ms % WEEK_MS) / WEEK_MS
            columns += [np.sin(angle), np.cos(angle)]
        return np.column_stack(columns) if values.size else np.empty((0, len(columns)))


def lag_windows(values: FloatArray, window: int) -> FloatArray:
    """Row t holds the `window` values ending at t (the first value repeats before the start)."""
    if values.size == 0:
        return np.empty((0, window))
    padded = np.concatenate((np.full(window - 1, values[0]), values))
    view = np.lib.stride_tricks.sliding_window_view(padded, window)
    return np.ascontiguousarray(view)
