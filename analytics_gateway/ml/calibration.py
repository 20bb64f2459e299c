"""Turn a detector's raw scores into probabilities in [0, 1].

Raw PyOD scores have no common scale (a KNN distance, an isolation depth, a
histogram log-density), so each fitted model keeps the empirical CDF of its
training scores. A new raw score becomes its mid-rank ECDF value; beyond the
largest training score the tail keeps falling exponentially, so a point far
beyond anything seen still outranks one just beyond it.

Internally scores travel as *surprise* u = -log10(1 - p): additive across an
ensemble, unbounded, with full resolution in the tail. `to_probability`
maps it back to [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

MAX_QUANTILES = 4096
MAX_SURPRISE = 15.0  # 1 - 1e-15 is the last probability float64 tells from 1


def ecdf_counts(sorted_col: FloatArray, x: FloatArray) -> tuple[IntArray, IntArray]:
    """How many training values are <= and >= each x (one binary search per x)."""
    n = sorted_col.size
    lo = np.searchsorted(sorted_col, x, side="left")
    # End of each run of equal training values, so ties need no second search.
    run_end = np.searchsorted(sorted_col, sorted_col, side="right")
    hit = lo < n
    hit[hit] = sorted_col[lo[hit]] == x[hit]
    le = np.where(hit, run_end[np.minimum(lo, n - 1)], lo)
    return le, n - lo


@dataclass(frozen=True)
class Calibrator:
    """The ECDF of a model's training scores, kept as at most 4096 quantiles."""

    quantiles: FloatArray
    n_train: int
    tail_scale: float

    @classmethod
    def fit(cls, train_scores: FloatArray) -> Calibrator:
        scores = np.sort(np.asarray(train_scores, dtype=np.float64).reshape(-1))
        if scores.size == 0:
            raise ValueError("cannot calibrate on no scores")
        if scores.size > MAX_QUANTILES:
            scores = np.quantile(scores, np.linspace(0.0, 1.0, MAX_QUANTILES))
        top = float(scores[-1])
        spread = top - float(np.median(scores))
        floor = 1e-9 * max(abs(top), 1e-3)
        return cls(scores, int(np.asarray(train_scores).size), max(spread, floor))

    def surprise(self, raw: FloatArray) -> FloatArray:
        """-log10 of the chance that a training score reaches `raw`."""
        raw = np.asarray(raw, dtype=np.float64)
        q = self.quantiles
        at_most, at_least = ecdf_counts(q, raw)
        below = q.size - at_least
        p = (below + 0.5 * (at_most - below) + 0.5) / (q.size + 1)
        u = -np.log10(1.0 - p)
        # Beyond the training maximum: one decade of surprise per tail_scale.
        top = q[-1]
        tail = np.log10(self.n_train + 1.0) + (raw - top) / self.tail_scale
        out: FloatArray = np.where(raw > top, np.maximum(tail, u), u)
        return np.minimum(out, MAX_SURPRISE)


def to_probability(surprise: FloatArray) -> FloatArray:
    """Map surprise to [0, 1]: 1 - 10**-u."""
    out: FloatArray = 1.0 - np.power(10.0, -np.clip(surprise, 0.0, MAX_SURPRISE))
    return out


def to_surprise(probability: float) -> float:
    """The surprise a probability threshold corresponds to."""
    return float(-np.log10(max(1.0 - probability, 10.0**-MAX_SURPRISE)))
