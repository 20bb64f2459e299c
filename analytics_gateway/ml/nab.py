"""NAB scoring: the Numenta Anomaly Benchmark's rules, vectorised.

Follows NAB v1.1 (`nab/sweeper.py`, `nab/optimizer.py`, `Runner.normalize`):

* each labelled window scores the scaled sigmoid of its *earliest* detection's
  position (1.0 at the window's first row, falling towards 0 at its last row),
  weighted by `tpWeight`; a window with no detection costs `fnWeight`;
* every detection outside a window costs `fpWeight`, scaled by its distance
  past the preceding window (a detection just after a window costs almost
  nothing, one before any window costs the full weight);
* the first 15% of each file (at most 750 rows) is probationary: detections
  there are ignored;
* one threshold is chosen for the whole corpus (a detection is a row whose
  score is >= the threshold) by sweeping every distinct score, and the raw
  score is normalised so the null detector scores 0 and a perfect one 100.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

PROBATION_PERCENT = 0.15
_NO_DETECTION = 1.1  # NAB's starting threshold: above every score, nothing detected


@dataclass(frozen=True)
class CostMatrix:
    """One NAB application profile."""

    tp_weight: float = 1.0
    fp_weight: float = 0.11
    fn_weight: float = 1.0
    tn_weight: float = 1.0


STANDARD = CostMatrix()


def load_profiles(path: Path) -> dict[str, CostMatrix]:
    """Read NAB's `profiles.json` (`{"standard": {"CostMatrix": {...}}, ...}`)."""
    raw = json.loads(path.read_text())
    return {
        name: CostMatrix(
            tp_weight=float(body["CostMatrix"]["tpWeight"]),
            fp_weight=float(body["CostMatrix"]["fpWeight"]),
            fn_weight=float(body["CostMatrix"]["fnWeight"]),
            tn_weight=float(body["CostMatrix"].get("tnWeight", 1.0)),
        )
        for name, body in raw.items()
    }


def scaled_sigmoid(position: FloatArray) -> FloatArray:
    """NAB's scoring curve: 2*sigmoid(-5x) - 1, and -1 from x >= 3 on."""
    out = 2.0 / (1.0 + np.exp(5.0 * np.minimum(position, 3.0))) - 1.0
    return np.where(position >= 3.0, -1.0, out)


_MAX_TP = float(scaled_sigmoid(np.array([-1.0]))[0])


def probation_length(n_rows: int, percent: float = PROBATION_PERCENT) -> int:
    """Rows at the start of a file whose detections are ignored."""
    return math.ceil(min(math.floor(percent * n_rows), percent * 5000))


@dataclass(frozen=True)
class LabelledSeries:
    """One scored file: its detector scores and its windows as inclusive row ranges."""

    name: str
    scores: FloatArray
    windows: tuple[tuple[int, int], ...]


def window_rows(
    timestamps_ms: IntArray, windows: Sequence[tuple[int, int]]
) -> tuple[tuple[int, int], ...]:
    """Map windows given as (start_ms, end_ms) to inclusive row ranges."""
    rows = []
    for start, end in windows:
        first = int(np.searchsorted(timestamps_ms, start, side="left"))
        last = int(np.searchsorted(timestamps_ms, end, side="right")) - 1
        if first > last:
            raise ValueError(f"window {start}..{end} holds no rows")
        rows.append((first, last))
    rows.sort()
    for (_, prev_end), (start, _) in itertools.pairwise(rows):
        if start <= prev_end:
            raise ValueError("anomaly windows overlap")
    return tuple(rows)


@dataclass(frozen=True)
class _Sweep:
    """Per-row weighted score if detected, window id (-1 outside), scorable mask."""

    value: FloatArray
    window: IntArray
    scorable: npt.NDArray[np.bool_]


def _sweep(
    n: int, windows: Sequence[tuple[int, int]], cost: CostMatrix, probation: float
) -> _Sweep:
    """What detecting each row would be worth (NAB's `calcSweepScore`)."""
    idx = np.arange(n, dtype=np.float64)
    value = np.full(n, -cost.fp_weight)  # before any window: a full false positive
    window = np.full(n, -1, dtype=np.int64)
    for k, (first, last) in enumerate(windows):
        width = float(last - first + 1)
        inside = slice(first, last + 1)
        value[inside] = scaled_sigmoid(-(last - idx[inside] + 1) / width) * cost.tp_weight / _MAX_TP
        window[inside] = k
        following = slice(last + 1, windows[k + 1][0] if k + 1 < len(windows) else n)
        past = np.abs(last - idx[following]) / max(width - 1.0, 1.0)  # NAB divides by 0 here
        value[following] = scaled_sigmoid(past) * cost.fp_weight
    scorable = np.arange(n) >= probation_length(n, probation)
    return _Sweep(value, window, scorable)


@dataclass(frozen=True)
class ThresholdCurve:
    """Raw NAB score for every candidate threshold, highest threshold first."""

    thresholds: FloatArray
    scores: FloatArray
    n_windows: int

    def at(self, threshold: float) -> float:
        """Raw score when rows scoring >= `threshold` are detections."""
        # thresholds are strictly decreasing: the last one still >= threshold applies.
        k = int(np.searchsorted(-self.thresholds, -threshold, side="right")) - 1
        return float(self.scores[max(k, 0)])

    def best(self) -> tuple[float, float]:
        """(threshold, raw score) maximising the score; ties go to the higher threshold."""
        k = int(np.argmax(self.scores))
        return float(self.thresholds[k]), float(self.scores[k])


def threshold_curve(
    series: Sequence[LabelledSeries],
    cost: CostMatrix = STANDARD,
    probation: float = PROBATION_PERCENT,
) -> ThresholdCurve:
    """Score every threshold over the corpus at once (NAB's `calcScoreByThreshold`)."""
    keys: list[FloatArray] = []
    deltas: list[FloatArray] = []
    n_windows = 0
    for item in series:
        scores = np.asarray(item.scores, dtype=np.float64)
        sweep = _sweep(len(scores), item.windows, cost, probation)
        outside = sweep.scorable & (sweep.window < 0)
        keys.append(scores[outside])
        deltas.append(sweep.value[outside])
        for k in range(len(item.windows)):
            rows = np.flatnonzero(sweep.scorable & (sweep.window == k))
            if rows.size == 0:
                continue
            n_windows += 1
            order = rows[np.argsort(-scores[rows], kind="stable")]
            best = np.maximum.accumulate(np.concatenate(([-cost.fn_weight], sweep.value[order])))
            keys.append(scores[order])
            deltas.append(np.diff(best))
    key = np.concatenate(keys) if keys else np.empty(0)
    delta = np.concatenate(deltas) if deltas else np.empty(0)
    order = np.argsort(-key, kind="stable")
    key, total = key[order], -cost.fn_weight * n_windows + np.cumsum(delta[order])
    # A threshold admits every row scoring >= it: read the total after the last tie.
    last_of_tie = np.r_[key[1:] != key[:-1], True] if key.size else np.empty(0, dtype=bool)
    thresholds = np.concatenate(([_NO_DETECTION], key[last_of_tie]))
    scores = np.concatenate(([-cost.fn_weight * n_windows], total[last_of_tie]))
    return ThresholdCurve(thresholds, scores, n_windows)


@dataclass(frozen=True)
class NabScore:
    """A corpus score: raw, normalised (null 0, perfect 100), at `threshold`."""

    threshold: float
    raw: float
    null: float
    perfect: float

    @property
    def normalised(self) -> float:
        span = self.perfect - self.null
        return 100.0 * (self.raw - self.null) / span if span else 0.0


def nab_score(
    series: Sequence[LabelledSeries],
    cost: CostMatrix = STANDARD,
    threshold: float | None = None,
    probation: float = PROBATION_PERCENT,
) -> NabScore:
    """Score the corpus at `threshold`, or at NAB's optimised threshold when None."""
    curve = threshold_curve(series, cost, probation)
    if threshold is None:
        threshold, raw = curve.best()
    else:
        raw = curve.at(threshold)
    perfect = cost.tp_weight * sum(len(item.windows) for item in series)
    return NabScore(threshold, raw, -cost.fn_weight * curve.n_windows, perfect)


@dataclass(frozen=True)
class EventCounts:
    """Event-level counts: windows found, alerts outside every window, windows missed."""

    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def event_counts(
    series: Sequence[LabelledSeries], threshold: float, probation: float = PROBATION_PERCENT
) -> EventCounts:
    """Count events when rows scoring >= `threshold` (after probation) are alerts."""
    tp = fp = fn = 0
    for item in series:
        scores = np.asarray(item.scores, dtype=np.float64)
        alert = scores >= threshold
        alert[: probation_length(len(scores), probation)] = False
        inside = np.zeros(len(scores), dtype=bool)
        for first, last in item.windows:
            inside[first : last + 1] = True
            if alert[first : last + 1].any():
                tp += 1
            else:
                fn += 1
        fp += int(np.count_nonzero(alert & ~inside))
    return EventCounts(tp, fp, fn)
