"""Insights written from the data, never invented: each is a structured record (kind,
subject, figures) and one sentence generated from those figures alone. Pure.

- MOVER: a panel's value this period against the previous one, and its drivers: the
  label values whose own change explains most of it (contribution = that value's
  change / the total change; for totals such as SUM the contributions of one label's
  values add up to 1);
- ANOMALY: a point of the period that anomaly detection flagged;
- FORECAST: the next period's value, and its interval, from the forecaster;
- KPI_OFF_TARGET: a KPI of the report that is not on its target.

A period's value is the aggregation over its buckets: the sum for SUM and COUNT,
the minimum, maximum or last bucket for MIN, MAX and LAST, and the mean of the
buckets for the others (an average of averages when buckets hold unequal counts).
"""

from __future__ import annotations

import bisect
import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from analytics_gateway.domain import Aggregation, Series

MAX_DRIVERS = 3
MAX_ANOMALIES = 5
MIN_DRIVER_SHARE = 0.05  # a label value explaining less than this is not named


class InsightKind(enum.StrEnum):
    MOVER = "mover"
    ANOMALY = "anomaly"
    FORECAST = "forecast"
    KPI_OFF_TARGET = "kpi_off_target"


@dataclass(frozen=True)
class Insight:
    kind: InsightKind
    subject: str
    figures: dict[str, Any]
    sentence: str

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "subject": self.subject,
            "figures": self.figures,
            "sentence": self.sentence,
        }


def number(value: float) -> str:
    """A figure as a sentence shows it: thousands separated, four significant digits
    below a thousand."""
    if not math.isfinite(value):
        return str(value)
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if value == int(value):
        return str(int(value))
    return f"{value:.4g}"


def percent(ratio: float) -> str:
    return f"{ratio * 100:.1f}%"


def period_value(values: Sequence[float], aggregation: Aggregation) -> float | None:
    """One period's value from its buckets (see the module docstring)."""
    if not values:
        return None
    if aggregation in (Aggregation.SUM, Aggregation.COUNT):
        return float(sum(values))
    if aggregation is Aggregation.MIN:
        return float(min(values))
    if aggregation is Aggregation.MAX:
        return float(max(values))
    if aggregation is Aggregation.LAST:
        return float(values[-1])
    return float(sum(values) / len(values))


def within(series: Series, start_ms: int, end_ms: int) -> list[float]:
    """The values of buckets starting in [start_ms, end_ms)."""
    lo = bisect.bisect_left(series.timestamps, start_ms)
    hi = bisect.bisect_left(series.timestamps, end_ms)
    return series.values[lo:hi]


def _missing_as(aggregation: Aggregation) -> float | None:
    """A label value absent from a period counts as 0 in totals, and as unknown otherwise."""
    return 0.0 if aggregation in (Aggregation.SUM, Aggregation.COUNT) else None


@dataclass(frozen=True)
class Driver:
    label: str
    value: str
    current: float
    previous: float
    change: float
    contribution: float

    def as_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "value": self.value,
            "current": self.current,
            "previous": self.previous,
            "change": self.change,
            "contribution": self.contribution,
        }


def drivers(
    groups: Mapping[str, Sequence[Series]],
    aggregation: Aggregation,
    current: tuple[int, int],
    previous: tuple[int, int],
    total_change: float,
) -> list[Driver]:
    """Label values by how much of `total_change` their own change explains, largest
    first (only those moving the same way as the total, each at least 5% of it)."""
    if total_change == 0:
        return []
    found: list[Driver] = []
    missing = _missing_as(aggregation)
    for label, series_list in groups.items():
        for series in series_list:
            value = series.labels.get(label)
            if value is None:
                continue
            now = period_value(within(series, *current), aggregation)
            before = period_value(within(series, *previous), aggregation)
            now = missing if now is None else now
            before = missing if before is None else before
            if now is None or before is None:
                continue
            change = now - before
            share = change / total_change
            if share >= MIN_DRIVER_SHARE:
                found.append(Driver(label, value, now, before, change, share))
    found.sort(key=lambda d: (-d.contribution, d.label, d.value))
    return found[:MAX_DRIVERS]


def mover(
    subject: str,
    total: Series,
    groups: Mapping[str, Sequence[Series]],
    aggregation: Aggregation,
    current: tuple[int, int],
    previous: tuple[int, int],
    period_word: str,
) -> Insight | None:
    """The panel's change against the previous period, with its drivers; None without data."""
    now = period_value(within(total, *current), aggregation)
    before = period_value(within(total, *previous), aggregation)
    if now is None or before is None:
        return None
    change = now - before
    ratio = change / abs(before) if before else None
    found = drivers(groups, aggregation, current, previous, change)
    figures: dict[str, Any] = {
        "current": now,
        "previous": before,
        "change": change,
        "changeRatio": ratio,
        "aggregation": aggregation.value,
        "drivers": [d.as_json() for d in found],
    }
    if change == 0:
        sentence = f"{subject} held at {number(now)} against the previous {period_word}."
    else:
        verb = "rose" if change > 0 else "fell"
        by = f" {percent(abs(ratio))}" if ratio is not None else ""
        sentence = (
            f"{subject} {verb}{by} from {number(before)} to {number(now)} against the "
            f"previous {period_word}"
        )
        if found:
            parts = [
                f"{d.label}={d.value} explains {percent(d.contribution)} of the change "
                f"({'+' if d.change > 0 else ''}{number(d.change)})"
                for d in found
            ]
            sentence += "; " + "; ".join(parts)
        sentence += "."
    return Insight(InsightKind.MOVER, subject, figures, sentence)


@dataclass(frozen=True)
class Flagged:
    """One point anomaly detection flagged: when, its value and score."""

    timestamp_ms: int
    value: float
    score: float


def anomalies(subject: str, flagged: Sequence[Flagged], when: Mapping[int, str]) -> list[Insight]:
    """The highest-scoring flagged points (at most `MAX_ANOMALIES`), in time order;
    `when` is each timestamp as the report's readers read it."""
    top = sorted(flagged, key=lambda f: (-f.score, f.timestamp_ms))[:MAX_ANOMALIES]
    out = []
    for point in sorted(top, key=lambda f: f.timestamp_ms):
        figures = {"timestamp": point.timestamp_ms, "value": point.value, "score": point.score}
        sentence = (
            f"{subject} was anomalous at {when[point.timestamp_ms]}: {number(point.value)} "
            f"(anomaly score {point.score:.2f})."
        )
        out.append(Insight(InsightKind.ANOMALY, subject, figures, sentence))
    return out


def forecast(
    subject: str,
    value: float,
    lower: float,
    upper: float,
    confidence: float,
    model: str,
    next_period: tuple[int, int],
    period_word: str,
) -> Insight:
    figures = {
        "value": value,
        "lower": lower,
        "upper": upper,
        "confidenceInterval": confidence,
        "model": model,
        "from": next_period[0],
        "to": next_period[1],
    }
    sentence = (
        f"{subject} is forecast at {number(value)} for the next {period_word} "
        f"({percent(confidence)} interval {number(lower)} to {number(upper)}, model {model})."
    )
    return Insight(InsightKind.FORECAST, subject, figures, sentence)


def kpi_off_target(
    name: str, value: float, target: float, higher_is_better: bool, unit: str | None
) -> Insight:
    figures = {
        "value": value,
        "target": target,
        "direction": "higher" if higher_is_better else "lower",
        "gap": value - target,
    }
    bound = "at least" if higher_is_better else "at most"
    suffix = f" {unit}" if unit and unit != "none" else ""
    sentence = (
        f"KPI {name} is off target: {number(value)}{suffix} against a target of {bound} "
        f"{number(target)}{suffix}."
    )
    return Insight(InsightKind.KPI_OFF_TARGET, name, figures, sentence)
