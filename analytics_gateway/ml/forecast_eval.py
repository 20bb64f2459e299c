"""Score the forecaster on a real series: hold out its end, forecast it, compare.

Reports MASE of the chosen model and of seasonal naive on the hold-out (both
over the same denominator: the in-sample seasonal-naive MAE of the training
part), sMAPE, and the share of held-out points inside the prediction interval.
Backs ``analytics-gateway eval forecast``.
"""

from __future__ import annotations

import csv
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from analytics_gateway.errors import BadUserInput
from analytics_gateway.ml.forecast import Array, Forecast, forecast, mase, regularise, scale


@dataclass(frozen=True)
class ForecastScore:
    """Hold-out scores of one forecast beside the seasonal-naive baseline."""

    points: int
    held_out: int
    forecast: Forecast
    mase: float | None
    baseline_mase: float | None
    smape: float
    baseline_smape: float
    coverage: float
    inside: int
    seconds: float


def holdout_points(text: str, total: int) -> int:
    """``"29"`` points, or a share of the series: ``"10%"`` or ``"0.1"``."""
    raw = text.strip()
    try:
        if raw.endswith("%"):
            count = round(total * float(raw[:-1]) / 100)
        elif raw.isdigit():
            count = int(raw)
        else:
            share = float(raw)
            if not 0 < share < 1:
                raise ValueError(raw)
            count = round(total * share)
    except ValueError as exc:
        raise BadUserInput(
            f"horizon: {text!r} is not a point count, a percentage or a fraction",
            parameter="horizon",
        ) from exc
    if not 1 <= count < total:
        raise BadUserInput(
            f"horizon must hold out between 1 and {total - 1} points, got {count}",
            parameter="horizon",
        )
    return count


def evaluate(
    timestamps_ms: list[int],
    values: list[float],
    *,
    holdout: str,
    model: str = "auto",
    confidence_interval: float = 0.95,
) -> ForecastScore:
    """Hold out the last points, fit on the rest, and score the forecast of the hold-out."""
    started = time.perf_counter()
    order = sorted(range(len(timestamps_ms)), key=timestamps_ms.__getitem__)
    ts = [timestamps_ms[i] for i in order]
    vs = [values[i] for i in order]
    held = holdout_points(holdout, len(ts))
    train_ts, test_ts = ts[:-held], ts[-held:]
    actual: Array = np.asarray(vs[-held:], dtype=np.float64)
    grid, train = regularise(train_ts, vs[:-held])
    positions = np.array([grid.index_of(t) - len(train) for t in test_ts])
    if positions.min() < 0:
        raise BadUserInput("hold-out points fall inside the training range", parameter="horizon")
    result = forecast(
        train_ts,
        vs[:-held],
        horizon=int(positions.max()) + 1,
        confidence_interval=confidence_interval,
        model=model,
    )
    predicted = np.asarray(result.values)[positions]
    baseline = np.asarray(result.baseline_values)[positions]
    inside = (actual >= np.asarray(result.lower)[positions]) & (
        actual <= np.asarray(result.upper)[positions]
    )
    denominator = scale(train, result.season_length)
    return ForecastScore(
        points=len(ts),
        held_out=held,
        forecast=result,
        mase=mase(actual, predicted, denominator),
        baseline_mase=mase(actual, baseline, denominator),
        smape=_smape(actual, predicted),
        baseline_smape=_smape(actual, baseline),
        coverage=float(inside.mean()),
        inside=int(inside.sum()),
        seconds=time.perf_counter() - started,
    )


def run(path: Path, holdout: str, model: str = "auto", confidence: float = 0.95) -> str:
    """``analytics-gateway eval forecast``: read the CSV, score it, return the report."""
    if not path.is_file():
        raise BadUserInput(f"csv: no such file {path}", parameter="csv")
    timestamps, values = read_csv(path)
    score = evaluate(
        timestamps, values, holdout=holdout, model=model, confidence_interval=confidence
    )
    return report(score, path.name)


def read_csv(path: Path) -> tuple[list[int], list[float]]:
    """A ``time,value`` CSV (header optional); times are ISO 8601 (UTC when no offset)
    or epoch numbers: seconds below 10^11 (before year 5138), milliseconds above."""
    timestamps: list[int] = []
    values: list[float] = []
    with path.open(newline="") as handle:
        for row in csv.reader(handle):
            if len(row) < 2 or not row[0].strip():
                continue
            try:
                value = float(row[1])
            except ValueError:
                if not timestamps:
                    continue  # the header
                raise BadUserInput(f"{path}: bad value {row[1]!r}", parameter="csv") from None
            timestamps.append(_timestamp_ms(row[0].strip(), path))
            values.append(value)
    return timestamps, values


def report(score: ForecastScore, name: str) -> str:
    """The lines ``analytics-gateway eval forecast`` prints."""
    fc = score.forecast
    step = f"{fc.step_months} month(s)" if fc.step_months else _duration(fc.step_ms)
    seasons = ", ".join(map(str, fc.season_lengths)) or "none"
    level = f"{fc.confidence_interval:.0%}"
    return "\n".join(
        [
            f"series: {name}: {score.points} points, step {step}, seasons: {seasons}",
            f"held out: last {score.held_out} points; trained on {fc.train_points} grid points",
            f"model: {fc.model} (backtest MASE {_num(fc.backtest_mase)}, "
            f"seasonal naive {_num(fc.baseline_backtest_mase)}; candidates "
            + ", ".join(f"{k} {_num(v)}" for k, v in fc.candidates_mase.items())
            + ")",
            f"hold-out MASE: model {_num(score.mase)}, seasonal naive {_num(score.baseline_mase)} "
            f"(season {fc.season_length})",
            f"hold-out sMAPE: model {score.smape:.2f}%, seasonal naive {score.baseline_smape:.2f}%",
            f"{level} interval coverage: {score.coverage:.3f} ({score.inside}/{score.held_out}), "
            f"{'calibrated on the backtest' if fc.calibrated else 'model interval'}",
            f"runtime: {score.seconds:.2f} s",
        ]
    )


def _smape(actual: Array, predicted: Array) -> float:
    denominator = np.abs(actual) + np.abs(predicted)
    terms = np.divide(
        2 * np.abs(actual - predicted),
        denominator,
        out=np.zeros_like(actual),
        where=denominator > 0,
    )
    return float(100 * terms.mean())


def _duration(ms: int) -> str:
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms >= size and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def _num(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.3f}"


EPOCH_SECONDS_BELOW = 1e11  # as seconds: year 5138; as milliseconds: 1973


def _timestamp_ms(text: str, path: Path) -> int:
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(number):
            raise BadUserInput(f"{path}: bad timestamp {text!r}", parameter="csv")
        return int(number * 1000) if abs(number) < EPOCH_SECONDS_BELOW else int(number)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadUserInput(f"{path}: bad timestamp {text!r}", parameter="csv") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)
