"""Forecasts with prediction intervals for one metric series.

The series is put on a regular grid (its median spacing, or calendar months),
its seasonal periods are found in the data, and statsforecast's AutoETS,
AutoTheta, AutoCES or AutoARIMA forecast it. A model handles a single season
of up to 24 points itself; longer or several seasons are removed by MSTL first
and the model forecasts what remains. ``model="auto"`` picks the model with the
lowest rolling-origin backtest MASE on the training data; a seasonal-naive
baseline is always scored and forecast beside it.

Model intervals assume the model is right, which over long horizons it often
is not (a random-walk level widens them without end). When the backtest holds
enough errors to estimate the interval's tail (ten expected misses per horizon
bucket), each bucket's interval is rescaled to the backtest's empirical
coverage; otherwise the model's own interval is kept.

Everything here is CPU-bound and synchronous: call it in a worker thread.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from analytics_gateway.durations import parse_duration_ms
from analytics_gateway.errors import BadUserInput

Array = npt.NDArray[np.float64]
_log = logging.getLogger(__name__)

MODELS = ("auto", "ets", "theta", "ces", "arima", "seasonal_naive")
AUTO_CANDIDATES = ("ets", "theta", "ces")  # AutoARIMA is 10-30x slower: by name only
MIN_POINTS = 10
MAX_TRAIN_POINTS = 10_000  # seasons are found and removed over this many
MAX_FIT_POINTS = 3_000  # the models see at most the last this many (cost grows with it)
MAX_HORIZON = 10_000
NATIVE_SEASON_MAX = 24  # AutoETS's own limit; longer seasons go through MSTL
BACKTEST_WINDOWS = 5
MIN_SEASON_CYCLES = 3
SEASON_ACF_MIN = 0.2
MAX_CALIBRATION_BUCKETS = 8
_DAY_MS = 86_400_000
_MONTH_MS = 2_629_746_000  # a mean Gregorian month
_PERIODS_MS = (60_000, 3_600_000, _DAY_MS, 7 * _DAY_MS, 31_557_600_000)  # min..year
_MONTHLY_STEPS = {1: (27.5, 31.5), 3: (88.5, 92.5), 12: (364.5, 366.5)}  # months: days


@dataclass(frozen=True)
class Grid:
    """Regular time axis: ``start_ms`` plus ``i`` steps of ``step_ms`` or of calendar months."""

    start_ms: int
    step_ms: int
    months: int = 0

    def at(self, index: int) -> int:
        if not self.months:
            return self.start_ms + index * self.step_ms
        start = datetime.fromtimestamp(self.start_ms / 1000, UTC)
        total = start.year * 12 + start.month - 1 + index * self.months
        year, month = divmod(total, 12)
        day = min(start.day, _days_in_month(year, month + 1))
        return int(start.replace(year=year, month=month + 1, day=day).timestamp() * 1000)

    def index_of(self, timestamp_ms: int) -> int:
        """The nearest grid index of a timestamp."""
        if not self.months:
            return round((timestamp_ms - self.start_ms) / self.step_ms)
        start = datetime.fromtimestamp(self.start_ms / 1000, UTC)
        moment = datetime.fromtimestamp(timestamp_ms / 1000, UTC)
        months = (moment.year - start.year) * 12 + moment.month - start.month
        return round(months / self.months)


@dataclass(frozen=True)
class Forecast:
    """A forecast, its interval and how it was chosen (MASEs are from the backtest)."""

    timestamps_ms: list[int]
    values: list[float]
    lower: list[float]
    upper: list[float]
    baseline_values: list[float]
    model: str
    backtest_mase: float | None
    baseline_backtest_mase: float | None
    candidates_mase: dict[str, float | None]
    season_length: int
    season_lengths: tuple[int, ...]
    confidence_interval: float
    calibrated: bool
    step_ms: int
    step_months: int
    train_start_ms: int
    train_end_ms: int
    train_points: int


def forecast(
    timestamps_ms: Sequence[int],
    values: Sequence[float],
    *,
    horizon: int | str,
    confidence_interval: float = 0.95,
    model: str = "auto",
) -> Forecast:
    """Forecast ``horizon`` points (or a duration such as ``"30d"``) past the series' end.

    Raises `BadUserInput` naming the parameter (``extensions["parameter"]``).
    """
    level = _level(confidence_interval)
    if model not in MODELS:
        raise BadUserInput(f"model: {model!r} is not one of {', '.join(MODELS)}", parameter="model")
    grid, y = regularise(timestamps_ms, values)
    h = horizon_points(horizon, grid)
    seasons = detect_seasons(y, candidate_periods(grid, len(y)))
    m = seasons[0] if seasons else 1
    names = AUTO_CANDIDATES if model == "auto" else (model,)
    cache: Decompositions = {}
    scored = tuple(dict.fromkeys((*names, "seasonal_naive")))
    scores, ratios = _backtest(scored, seasons, y, h, level, cache)
    order = [*sorted(names, key=lambda n: _rank(scores[n])), "seasonal_naive"]
    for chosen in order if model == "auto" else [model]:
        try:
            mean, lower, upper = _predict(chosen, seasons, y, h, level, cache)
            break
        except Exception:
            if model != "auto" or chosen == order[-1]:
                raise
            _log.info("forecast model %s failed; trying the next", chosen, exc_info=True)
    calibrated = chosen in ratios and _calibrate(mean, lower, upper, ratios[chosen], level)
    baseline, _, _ = _predict("seasonal_naive", seasons, y, h, level, cache)
    return Forecast(
        timestamps_ms=[grid.at(len(y) + i) for i in range(h)],
        values=mean.tolist(),
        lower=lower.tolist(),
        upper=upper.tolist(),
        baseline_values=baseline.tolist(),
        model=chosen,
        backtest_mase=scores[chosen],
        baseline_backtest_mase=scores["seasonal_naive"],
        candidates_mase={n: scores[n] for n in names},
        season_length=m,
        season_lengths=seasons,
        confidence_interval=confidence_interval,
        calibrated=calibrated,
        step_ms=grid.step_ms,
        step_months=grid.months,
        train_start_ms=grid.start_ms,
        train_end_ms=grid.at(len(y) - 1),
        train_points=len(y),
    )


def warm_up() -> None:
    """Import statsforecast before the first request needs it.

    statsforecast 2 runs compiled code, not numba, so there is no JIT on the
    first fit; the cold start is this import (about 1-1.5 s, mostly statsmodels).
    """
    import statsforecast.models  # noqa: F401


def _level(confidence: float) -> float:
    if isinstance(confidence, bool) or not isinstance(confidence, int | float):
        raise BadUserInput("confidence_interval must be a number", parameter="confidence_interval")
    if not 0 < confidence < 1:
        raise BadUserInput(
            f"confidence_interval must be between 0 and 1 (exclusive), got {confidence}",
            parameter="confidence_interval",
        )
    return round(float(confidence) * 100, 6)


def _rank(score: float | None) -> float:
    return math.inf if score is None else score


# --- the time axis ---------------------------------------------------------------------------


def regularise(timestamps_ms: Sequence[int], values: Sequence[float]) -> tuple[Grid, Array]:
    """Put the series on its own regular grid: mean per slot, gaps filled linearly.

    The step is the median spacing; spacings of a month, quarter or year become
    calendar steps. Only the last ``MAX_TRAIN_POINTS`` slots are kept.
    """
    if len(timestamps_ms) != len(values):
        raise BadUserInput("timestamps and values differ in length", parameter="values")
    ts = np.asarray(timestamps_ms, dtype=np.int64)
    vs = np.asarray(values, dtype=np.float64)
    keep = np.isfinite(vs)
    ts, vs = ts[keep], vs[keep]
    order = np.argsort(ts, kind="stable")
    ts, vs = ts[order], vs[order]
    distinct = np.unique(ts)
    if len(distinct) < MIN_POINTS:
        raise BadUserInput(
            f"values: at least {MIN_POINTS} points at distinct times are needed, "
            f"got {len(distinct)}",
            parameter="values",
        )
    step = int(np.median(np.diff(distinct)))
    months = next(
        (k for k, (lo, hi) in _MONTHLY_STEPS.items() if lo * _DAY_MS <= step <= hi * _DAY_MS), 0
    )
    grid = Grid(int(ts[0]), months * _MONTH_MS if months else step, months)
    slots = (
        np.array([grid.index_of(int(t)) for t in ts])
        if months
        else np.rint((ts - ts[0]) / step).astype(np.int64)
    )
    first = max(0, int(slots[-1]) - MAX_TRAIN_POINTS + 1)
    inside = slots >= first
    slots, vs = slots[inside] - first, vs[inside]
    size = int(slots[-1]) + 1
    sums = np.bincount(slots, weights=vs, minlength=size)
    counts = np.bincount(slots, minlength=size)
    known = counts > 0
    index = np.arange(size)
    y = np.interp(index, index[known], sums[known] / counts[known])
    return Grid(grid.at(first), grid.step_ms, months), y.astype(np.float64)


def horizon_points(horizon: int | str, grid: Grid) -> int:
    """Points ahead: an int (or digits), or a duration such as ``"30d"`` rounded up to steps."""
    if isinstance(horizon, bool):
        raise BadUserInput("horizon must be a number of points or a duration", parameter="horizon")
    if isinstance(horizon, str) and not horizon.strip().isdigit():
        try:
            duration = parse_duration_ms(horizon, field="horizon")
        except BadUserInput as exc:
            raise BadUserInput(exc.message, parameter="horizon", **exc.extensions) from exc
        points = math.ceil(duration / grid.step_ms - 1e-9)
    else:
        points = int(horizon)
    if not 1 <= points <= MAX_HORIZON:
        raise BadUserInput(
            f"horizon must be between 1 and {MAX_HORIZON} points, got {points}",
            parameter="horizon",
        )
    return points


# --- seasonality ---------------------------------------------------------------------------------


def candidate_periods(grid: Grid, n: int) -> list[int]:
    """Calendar periods (hour, day, week, year...) that are whole numbers of steps."""
    if grid.months:
        found = [12 // grid.months] if grid.months < 12 else []
    else:
        found = []
        for period in _PERIODS_MS:
            ratio = period / grid.step_ms
            if ratio >= 2 and abs(ratio - round(ratio)) <= 0.01 * ratio:
                found.append(round(ratio))
    return [p for p in found if n >= MIN_SEASON_CYCLES * p]


def detect_seasons(y: Array, candidates: Sequence[int]) -> tuple[int, ...]:
    """Periods the detrended series repeats at, shortest first.

    Each period is tested after removing the trend (a centred moving average of
    that length) and the seasons already accepted, so a weekly cycle is not
    accepted just because a daily one repeats within it. A period ``p`` needs
    an autocorrelation at lag ``p`` above 0.2 (and above the 90% white-noise
    bound) that also exceeds the one at ``p/2`` by 0.2: a cycle peaks at its
    period, while trend residue and random walks decay smoothly. Bartlett's
    bound is not used: a strong long cycle inflates it beyond reach.
    """
    accepted: list[int] = []
    rest = y.astype(np.float64, copy=True)
    for p in sorted(set(candidates)):
        offset, detrended = _detrend(rest, p)
        if len(detrended) < 2 * p:
            continue
        acf = _acf(detrended, p)
        bound = max(SEASON_ACF_MIN, 1.645 / math.sqrt(len(detrended)))
        if acf[p] > bound and acf[p] > acf[p // 2] + SEASON_ACF_MIN:
            accepted.append(p)
            phase = (offset + np.arange(len(detrended))) % p
            profile = np.bincount(phase, weights=detrended, minlength=p) / np.bincount(
                phase, minlength=p
            )
            rest -= profile[np.arange(len(rest)) % p]
    return tuple(accepted)


def _detrend(y: Array, p: int) -> tuple[int, Array]:
    """``y`` minus its centred moving average of length ``p`` (2x``p`` when even)."""
    sums = np.concatenate(([0.0], np.cumsum(y)))
    average = (sums[p:] - sums[:-p]) / p
    if p % 2 == 0:
        average = (average[:-1] + average[1:]) / 2
    offset = p // 2
    return offset, y[offset : offset + len(average)] - average


def _acf(x: Array, max_lag: int) -> Array:
    """Autocorrelations with each lag's covariance averaged over its own pairs."""
    centred = x - x.mean()
    spectrum = np.fft.rfft(centred, 2 * len(centred))
    acov = np.fft.irfft(spectrum * np.conj(spectrum))[: max_lag + 1]
    acov /= len(centred) - np.arange(max_lag + 1)
    return acov / acov[0] if acov[0] > 0 else np.zeros(max_lag + 1)


# --- models, backtest, calibration ---------------------------------------------------------------


def _model(name: str, season: int) -> Any:
    from statsforecast.models import AutoARIMA, AutoCES, AutoETS, AutoTheta, SeasonalNaive

    if name == "seasonal_naive":
        return SeasonalNaive(season_length=season)
    if name == "ets":
        return AutoETS(season_length=season)
    if name == "theta":
        return AutoTheta(season_length=season)
    if name == "ces":
        return AutoCES(season_length=season)
    return AutoARIMA(season_length=season, seasonal=season > 1)


Decompositions = dict[int, tuple[Array, Array]]  # training length -> (seasonals, rest)


def _predict(
    name: str, seasons: Sequence[int], y: Array, h: int, level: float, cache: Decompositions
) -> tuple[Array, Array, Array]:
    """Mean, lower, upper; long or several seasons are removed (MSTL) and added back."""
    usable = [p for p in seasons if len(y) >= 2 * p + 1]
    native = name == "seasonal_naive" or (
        len(usable) <= 1 and max(usable, default=1) <= NATIVE_SEASON_MAX
    )
    if native:
        series, future = y, np.zeros(h)
    else:
        if len(y) not in cache:
            cache[len(y)] = _decompose(y, usable)
        seasonal, series = cache[len(y)]
        future = np.zeros(h)
        for row, p in zip(seasonal, usable, strict=True):
            future += row[len(y) - p :][np.arange(h) % p]  # each cycle repeats
    with np.errstate(all="ignore"):  # optimisers overflow on bad trial parameters
        result = _model(name, usable[0] if native and usable else 1).forecast(
            y=series[-MAX_FIT_POINTS:], h=h, level=[level]
        )
    mean = np.asarray(result["mean"], dtype=np.float64) + future
    lower = np.asarray(result[f"lo-{level}"], dtype=np.float64) + future
    upper = np.asarray(result[f"hi-{level}"], dtype=np.float64) + future
    if not (
        np.all(np.isfinite(mean)) and np.all(np.isfinite(lower)) and np.all(np.isfinite(upper))
    ):
        raise FloatingPointError(f"{name} produced a non-finite forecast")
    return mean, np.minimum(lower, mean), np.maximum(upper, mean)


def _decompose(y: Array, seasons: Sequence[int]) -> tuple[Array, Array]:
    """MSTL: seasonal components by iterated STL, and the series without them.

    STL's smoothers are evaluated every tenth of their window and interpolated
    (R's ``stl`` defaults), which makes a daily cycle of 1-minute data
    (period 1440) about 50x cheaper than evaluating them at every point.
    """
    from statsmodels.tsa.seasonal import STL  # type: ignore[import-untyped]

    seasonal = np.zeros((len(seasons), len(y)))
    rest = y.copy()
    for _ in range(2 if len(seasons) > 1 else 1):
        for i, p in enumerate(seasons):
            rest += seasonal[i]
            windows = {
                "seasonal": 11 + 4 * i,
                "trend": _odd(1.5 * p / (1 - 1.5 / (11 + 4 * i))),
                "low_pass": _odd(p + 1),
            }
            jumps = {f"{k}_jump": math.ceil(v / 10) for k, v in windows.items()}
            fit = STL(rest, period=p, seasonal_deg=0, **windows, **jumps).fit()
            seasonal[i] = fit.seasonal
            rest -= seasonal[i]
    return seasonal, rest


def _odd(x: float) -> int:
    n = math.ceil(x)
    return n if n % 2 else n + 1


def scale(train: Array, m: int) -> float:
    """MASE's denominator: the in-sample MAE of the seasonal-naive forecast (lag ``m``)."""
    lag = m if len(train) > m else 1
    return float(np.mean(np.abs(train[lag:] - train[:-lag])))


def mase(actual: Array, predicted: Array, denominator: float) -> float | None:
    """Mean absolute error over ``denominator``; None when it is undefined (a flat series)."""
    if denominator <= 0 or not np.isfinite(denominator):
        return None
    return float(np.mean(np.abs(actual - predicted)) / denominator)


def _backtest(
    names: Sequence[str],
    seasons: tuple[int, ...],
    y: Array,
    h: int,
    level: float,
    cache: Decompositions,
) -> tuple[dict[str, float | None], dict[str, Array]]:
    """Rolling-origin MASE per model and the errors scaled by each interval's half-width."""
    m = seasons[0] if seasons else 1
    min_train = max(MIN_POINTS, 2 * max(seasons, default=1) + 1)
    h_bt = min(h, (len(y) - min_train) // 2)
    scores: dict[str, float | None] = {name: None for name in names}
    if h_bt < 1:
        return scores, {}
    step = max(1, math.ceil(h_bt / BACKTEST_WINDOWS))
    ends = [len(y) - h_bt - j * step for j in range(BACKTEST_WINDOWS)]
    ends = [end for end in ends if end >= min_train]
    ratios: dict[str, Array] = {}
    for name in names:
        per_window: list[float] = []
        scaled: list[Array] = []
        try:
            for end in ends:
                train, actual = y[:end], y[end : end + h_bt]
                mean, lower, upper = _predict(name, seasons, train, h_bt, level, cache)
                score = mase(actual, mean, scale(train, m))
                if score is not None:
                    per_window.append(score)
                error = actual - mean
                width = np.where(error >= 0, upper - mean, mean - lower)
                scaled.append(np.abs(error) / np.maximum(width, 1e-12 * (1 + np.abs(mean))))
        except Exception:  # a model that cannot fit these windows is no candidate
            _log.info("forecast model %s failed in the backtest", name, exc_info=True)
            continue
        scores[name] = float(np.mean(per_window)) if per_window else None
        ratios[name] = np.vstack(scaled)
    return scores, ratios


def _calibrate(mean: Array, lower: Array, upper: Array, ratios: Array, level: float) -> bool:
    """Rescale the interval per horizon bucket to the backtest's coverage, in place.

    Needs ten expected misses per bucket; returns whether it rescaled.
    """
    needed = math.ceil(10 / (1 - level / 100))
    buckets = min(MAX_CALIBRATION_BUCKETS, ratios.size // needed, ratios.shape[1])
    if buckets < 1:
        return False
    edges = np.linspace(0, ratios.shape[1], buckets + 1).round().astype(int)
    factors = np.empty(len(mean))
    for start, stop in itertools.pairwise(edges):
        factor = float(np.quantile(ratios[:, start:stop], level / 100))
        factors[start:stop] = factor
    factors[edges[-1] :] = factors[edges[-1] - 1]
    lower[:] = mean - factors * (mean - lower)
    upper[:] = mean + factors * (upper - mean)
    return True


def _days_in_month(year: int, month: int) -> int:
    if month == 12:
        return 31
    return (datetime(year, month + 1, 1) - datetime(year, month, 1)).days
