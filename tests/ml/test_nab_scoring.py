"""NAB scoring on hand-built cases whose scores follow from NAB's formulas."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from analytics_gateway.ml import nab
from analytics_gateway.ml.nab import CostMatrix, LabelledSeries

SHARED_PROFILES = (
    Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "nab" / "profiles.json"
)


def sig(x: float) -> float:
    """NAB's scaled sigmoid, written out: 2 / (1 + e^(5x)) - 1, and -1 from 3 on."""
    return -1.0 if x >= 3.0 else 2.0 / (1.0 + math.exp(5.0 * x)) - 1.0


def series(n: int, windows: tuple[tuple[int, int], ...], hits: dict[int, float]) -> LabelledSeries:
    scores = np.zeros(n)
    for i, s in hits.items():
        scores[i] = s
    return LabelledSeries("f.csv", scores, windows)


def test_scaled_sigmoid_matches_the_formula() -> None:
    xs = np.array([-3.5, -1.0, -0.5, 0.0, 0.5, 1.0, 2.99, 3.0, 7.0])
    assert nab.scaled_sigmoid(xs) == pytest.approx([sig(x) for x in xs])
    assert nab.scaled_sigmoid(np.array([-1.0]))[0] == pytest.approx(0.98661, abs=1e-5)
    assert nab.scaled_sigmoid(np.array([0.0]))[0] == pytest.approx(0.0)


@pytest.mark.parametrize(("rows", "expected"), [(100, 15), (4032, 604), (10_000, 750), (4730, 709)])
def test_probation_is_15_percent_capped_at_750_rows(rows: int, expected: int) -> None:
    assert nab.probation_length(rows) == expected


def test_perfect_detector_scores_100_and_null_detector_0() -> None:
    windows = ((200, 219), (300, 339))
    perfect = series(400, windows, {200: 1.0, 300: 1.0})
    null = series(400, windows, {})
    assert nab.nab_score([perfect]).normalised == pytest.approx(100.0)
    assert nab.nab_score([perfect]).raw == pytest.approx(2.0)
    assert nab.nab_score([null]).normalised == pytest.approx(0.0)
    assert nab.nab_score([null]).raw == pytest.approx(-2.0)


def test_one_window_found_at_its_start_and_one_missed_scores_50() -> None:
    got = nab.nab_score([series(400, ((200, 219), (300, 339)), {200: 0.9})])
    assert got.raw == pytest.approx(1.0 - 1.0)  # TP weight 1 at the first row, FN -1
    assert got.normalised == pytest.approx(50.0)
    assert got.threshold == pytest.approx(0.9)


def test_late_detection_in_window_earns_the_sigmoid_of_its_position() -> None:
    width = 20
    for offset in (0, 5, 10, 19):
        got = nab.nab_score([series(400, ((200, 200 + width - 1),), {200 + offset: 1.0})])
        position = -(width - offset) / width  # NAB: -(right - i + 1) / width
        assert got.raw == pytest.approx(sig(position) / sig(-1.0))


def test_only_the_first_detection_in_a_window_counts() -> None:
    one = nab.nab_score([series(400, ((200, 219),), {205: 1.0})], threshold=0.5)
    three = nab.nab_score(
        [series(400, ((200, 219),), {205: 1.0, 210: 1.0, 219: 1.0})], threshold=0.5
    )
    assert three.raw == pytest.approx(one.raw)


def test_false_positives_weigh_by_distance_past_the_preceding_window() -> None:
    fp = 0.11
    before = nab.nab_score([series(400, ((200, 219),), {100: 1.0})], threshold=0.5)
    assert before.raw == pytest.approx(-1.0 - fp)  # missed window + a full false positive
    for distance in (1, 10, 19, 60):
        got = nab.nab_score([series(400, ((200, 219),), {219 + distance: 1.0})], threshold=0.5)
        assert got.raw == pytest.approx(-1.0 + fp * sig(distance / (20 - 1)))


def test_detections_in_the_probation_period_are_ignored() -> None:
    # 400 rows: rows 0..59 are probationary.
    got = nab.nab_score([series(400, ((200, 219),), {10: 1.0, 59: 1.0, 200: 1.0})], threshold=0.5)
    assert got.raw == pytest.approx(1.0)
    counted = nab.nab_score([series(400, ((200, 219),), {60: 1.0, 200: 1.0})], threshold=0.5)
    assert counted.raw == pytest.approx(1.0 - 0.11)


def test_threshold_is_optimised_across_the_corpus() -> None:
    # File a: window found at score 0.8, a false positive at 0.9, another at 0.3.
    a = series(400, ((200, 219),), {200: 0.8, 100: 0.9, 120: 0.3})
    # File b: window found at 0.5 only.
    b = series(400, ((250, 269),), {250: 0.5})
    got = nab.nab_score([a, b])
    candidates = {
        1.1: -2.0,
        0.9: -2.0 - 0.11,
        0.8: 1.0 - 1.0 - 0.11,
        0.5: 2.0 - 0.11,
        0.3: 2.0 - 0.22,
        0.0: None,  # every row detected: many false positives
    }
    assert got.threshold == pytest.approx(0.5)
    assert got.raw == pytest.approx(candidates[0.5])
    curve = nab.threshold_curve([a, b])
    for threshold, raw in candidates.items():
        if raw is not None:
            assert curve.at(threshold) == pytest.approx(raw)
    assert got.normalised == pytest.approx(100 * (2.0 - 0.11 + 2.0) / 4.0)


def reference_raw(items: list[LabelledSeries], threshold: float, cost: CostMatrix) -> float:
    """NAB's score at one threshold straight from its definition, one row at a time."""
    total = 0.0
    for item in items:
        n = len(item.scores)
        start = nab.probation_length(n)
        detected = [i for i in range(start, n) if item.scores[i] >= threshold]
        for first, last in item.windows:
            inside = [i for i in detected if first <= i <= last]
            width = last - first + 1
            if inside:
                total += cost.tp_weight * sig(-(last - inside[0] + 1) / width) / sig(-1.0)
            else:
                total -= cost.fn_weight
        for i in detected:
            if any(first <= i <= last for first, last in item.windows):
                continue
            ends = [(last, last - first + 1) for first, last in item.windows if last < i]
            if not ends:
                total -= cost.fp_weight
            else:
                last, width = ends[-1]
                total += cost.fp_weight * sig(abs(last - i) / (width - 1))
    return total


def test_matches_a_row_by_row_reference_on_random_corpora() -> None:
    rng = np.random.default_rng(7)
    cost = CostMatrix(tp_weight=1.0, fp_weight=0.22, fn_weight=2.0)
    for _ in range(5):
        items = []
        for f in range(3):
            n = int(rng.integers(100, 300))
            starts = sorted(rng.choice(np.arange(n // 5, n - 15, 15), size=int(f), replace=False))
            windows = tuple((int(s), int(s + rng.integers(2, 12))) for s in starts)
            items.append(LabelledSeries(f"f{f}", np.round(rng.random(n), 2), windows))
        curve = nab.threshold_curve(items, cost)
        for threshold in (0.95, 0.7, 0.42, 0.1):
            assert curve.at(threshold) == pytest.approx(reference_raw(items, threshold, cost))
        best_threshold, best_raw = curve.best()
        assert best_raw == pytest.approx(max(curve.scores))
        assert best_raw == pytest.approx(reference_raw(items, best_threshold, cost))


def test_event_counts_and_f1() -> None:
    items = [
        series(400, ((200, 219), (300, 319)), {205: 1.0, 210: 1.0, 100: 1.0, 30: 1.0}),
        series(400, (), {150: 1.0, 151: 0.2}),
    ]
    counts = nab.event_counts(items, threshold=0.5)
    # Found 1 window, missed 1; false alerts at rows 100 and 150 (row 30 is probationary).
    assert (counts.tp, counts.fp, counts.fn) == (1, 2, 1)
    assert counts.precision == pytest.approx(1 / 3)
    assert counts.recall == pytest.approx(1 / 2)
    assert counts.f1 == pytest.approx(2 * (1 / 3) * (1 / 2) / (1 / 3 + 1 / 2))


def test_window_rows_maps_times_to_rows_and_refuses_overlaps() -> None:
    stamps = np.arange(0, 100_000, 1000, dtype=np.int64)
    assert nab.window_rows(stamps, [(5000, 9000), (20_000, 20_500)]) == ((5, 9), (20, 20))
    with pytest.raises(ValueError, match="overlap"):
        nab.window_rows(stamps, [(5000, 9000), (9000, 12_000)])


def test_reads_the_standard_profile() -> None:
    if not SHARED_PROFILES.is_file():
        pytest.skip(f"NAB profiles not found at {SHARED_PROFILES}")
    profiles = nab.load_profiles(SHARED_PROFILES)
    assert profiles["standard"] == CostMatrix(1.0, 0.11, 1.0, 1.0)
    assert profiles["reward_low_FN_rate"].fn_weight == 2.0
