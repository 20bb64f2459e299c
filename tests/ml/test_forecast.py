"""Forecasts: shapes, the time grid, seasonality detection and parameter checks."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from analytics_gateway.errors import BadUserInput
from analytics_gateway.ml.forecast import (
    AUTO_CANDIDATES,
    Grid,
    candidate_periods,
    detect_seasons,
    forecast,
    horizon_points,
    regularise,
)

HOUR = 3_600_000
DAY = 24 * HOUR


def _hourly(days: int, *, weekly: float = 0.0, seed: int = 0) -> tuple[list[int], list[float]]:
    rng = np.random.default_rng(seed)
    t = np.arange(days * 24)
    values = (
        50
        + 0.01 * t
        + 5 * np.sin(2 * np.pi * t / 24)
        + weekly * np.sin(2 * np.pi * t / 168)
        + rng.normal(0, 0.5, len(t))
    )
    start = 1_700_000_000_000 - 1_700_000_000_000 % HOUR
    return [start + int(i) * HOUR for i in t], values.tolist()


def test_forecast_shape_and_interval_order() -> None:
    ts, vs = _hourly(20)
    result = forecast(ts, vs, horizon=24, model="theta", confidence_interval=0.9)
    assert result.timestamps_ms == [ts[-1] + (i + 1) * HOUR for i in range(24)]
    assert len(result.values) == len(result.lower) == len(result.upper) == 24
    assert len(result.baseline_values) == 24
    for low, value, high in zip(result.lower, result.values, result.upper, strict=True):
        assert low <= value <= high
    assert result.season_length == 24
    assert result.model == "theta"
    assert result.train_start_ms == ts[0]
    assert result.train_end_ms == ts[-1]
    assert result.train_points == len(ts)
    assert result.backtest_mase is not None
    assert result.baseline_backtest_mase is not None


def test_auto_picks_the_best_backtest_and_beats_seasonal_naive() -> None:
    ts, vs = _hourly(20)
    result = forecast(ts, vs, horizon="1d")
    assert len(result.values) == 24
    assert result.model in AUTO_CANDIDATES
    scores = {k: v for k, v in result.candidates_mase.items() if v is not None}
    assert result.backtest_mase == min(scores.values())
    # A trend the seasonal-naive forecast cannot follow.
    assert result.baseline_backtest_mase is not None
    assert result.backtest_mase < result.baseline_backtest_mase
    truth = 50 + 0.01 * np.arange(480, 504) + 5 * np.sin(2 * np.pi * np.arange(480, 504) / 24)
    assert np.mean(np.abs(np.array(result.values) - truth)) < 1.0


def test_irregular_series_is_regularised_and_gaps_filled() -> None:
    ts, vs = _hourly(10)
    rng = np.random.default_rng(1)
    jittered = [t + int(rng.integers(-60_000, 60_000)) for t in ts]
    kept = [i for i in range(len(ts)) if not 100 <= i < 110]  # a ten-hour gap
    grid, y = regularise([jittered[i] for i in kept], [vs[i] for i in kept])
    assert grid.step_ms == pytest.approx(HOUR, rel=0.02)
    assert len(y) == len(ts)
    assert np.all(np.isfinite(y))
    assert min(vs[99], vs[110]) - 1 <= y[105] <= max(vs[99], vs[110]) + 1


def test_duplicate_timestamps_average() -> None:
    ts = [i * DAY for i in range(12)] + [3 * DAY]
    vs = [1.0] * 12 + [3.0]
    _, y = regularise(ts, vs)
    assert y[3] == 2.0
    assert len(y) == 12


def test_monthly_series_steps_by_calendar_month() -> None:
    months = [datetime(2000 + i // 12, i % 12 + 1, 1, tzinfo=UTC) for i in range(72)]
    ts = [int(m.timestamp() * 1000) for m in months]
    vs = [100 + i + 10 * np.sin(2 * np.pi * i / 12) for i in range(72)]
    grid, y = regularise(ts, vs)
    assert grid.months == 1
    assert len(y) == 72
    assert candidate_periods(grid, len(y)) == [12]
    result = forecast(ts, vs, horizon="365d", model="ets")
    assert len(result.timestamps_ms) == 12
    firsts = [datetime.fromtimestamp(t / 1000, UTC) for t in result.timestamps_ms]
    assert firsts[0] == datetime(2006, 1, 1, tzinfo=UTC)
    assert all(d.day == 1 for d in firsts)
    assert result.season_lengths == (12,)


def test_candidate_periods_follow_the_step() -> None:
    assert candidate_periods(Grid(0, HOUR), 24 * 60) == [24, 168]
    assert candidate_periods(Grid(0, HOUR), 24 * 30) == [24, 168]
    assert candidate_periods(Grid(0, HOUR), 24 * 7) == [24]
    assert candidate_periods(Grid(0, DAY), 2000) == [7, 365]
    assert candidate_periods(Grid(0, DAY), 300) == [7]
    assert candidate_periods(Grid(0, 60_000), 5000) == [60, 1440]
    assert candidate_periods(Grid(0, 60_000), 1000) == [60]


@pytest.mark.parametrize(
    ("period", "length"),
    [(7, 400), (12, 240), (24, 600), (60, 900)],
)
def test_detects_a_known_period(period: int, length: int) -> None:
    rng = np.random.default_rng(period)
    t = np.arange(length)
    y = 0.02 * t + np.sin(2 * np.pi * t / period) + rng.normal(0, 0.3, length)
    candidates = [p for p in (7, 12, 24, 60) if length >= 3 * p]
    assert detect_seasons(y, candidates) == (period,)


def test_detects_nested_daily_and_weekly_cycles_only_when_present() -> None:
    _, with_week = _hourly(42, weekly=3.0)
    _, without = _hourly(42, weekly=0.0)
    assert detect_seasons(np.array(with_week), [24, 168]) == (24, 168)
    assert detect_seasons(np.array(without), [24, 168]) == (24,)


def test_no_season_in_a_random_walk_or_noise() -> None:
    rng = np.random.default_rng(3)
    walk = np.cumsum(rng.normal(0, 1, 1000))
    noise = rng.normal(0, 1, 1000)
    assert detect_seasons(walk, [7, 24]) == ()
    assert detect_seasons(noise, [7, 24]) == ()


def test_horizon_duration_rounds_up_to_steps() -> None:
    assert horizon_points("30d", Grid(0, DAY)) == 30
    assert horizon_points("90m", Grid(0, HOUR)) == 2
    assert horizon_points("12", Grid(0, HOUR)) == 12
    assert horizon_points(5, Grid(0, HOUR)) == 5


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"horizon": 0}, "horizon"),
        ({"horizon": -3}, "horizon"),
        ({"horizon": "soon"}, "horizon"),
        ({"horizon": "0d"}, "horizon"),
        ({"horizon": 10**6}, "horizon"),
        ({"horizon": 5, "confidence_interval": 0.0}, "confidence_interval"),
        ({"horizon": 5, "confidence_interval": 1.0}, "confidence_interval"),
        ({"horizon": 5, "confidence_interval": 95}, "confidence_interval"),
        ({"horizon": 5, "model": "prophet"}, "model"),
    ],
)
def test_bad_parameters_are_bad_user_input(kwargs: dict[str, object], parameter: str) -> None:
    ts, vs = _hourly(3)
    with pytest.raises(BadUserInput) as caught:
        forecast(ts, vs, **kwargs)  # type: ignore[arg-type]
    assert caught.value.as_extensions()["code"] == "BAD_USER_INPUT"
    assert caught.value.extensions["parameter"] == parameter
    assert parameter in caught.value.message


def test_too_few_points_names_the_values() -> None:
    with pytest.raises(BadUserInput) as caught:
        forecast([0, 1000, 2000], [1.0, float("nan"), 2.0], horizon=3)
    assert caught.value.extensions["parameter"] == "values"
    with pytest.raises(BadUserInput) as caught:
        forecast([0, 1000], [1.0], horizon=3)
    assert caught.value.extensions["parameter"] == "values"


def test_flat_series_has_no_mase_but_still_forecasts() -> None:
    ts = [i * HOUR for i in range(48)]
    result = forecast(ts, [7.0] * 48, horizon=6, model="ets")
    assert result.values == pytest.approx([7.0] * 6)
    assert result.backtest_mase is None
    assert result.baseline_backtest_mase is None
