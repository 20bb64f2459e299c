"""The detector contract, for every detector: shapes, range, errors, no look-ahead."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from analytics_gateway.errors import BadUserInput
from analytics_gateway.ml.calibration import Calibrator, to_probability
from analytics_gateway.ml.detectors import (
    DETECTORS,
    NotFittedError,
    Sensitivity,
    build_detector,
    load_detector,
)
from analytics_gateway.ml.features import FeatureSpec, rolling_mean, rolling_std
from analytics_gateway.ml.pyod_models import TabularModel
from analytics_gateway.ml.streaming import StreamingPolicy, detect_series, suppress

STEP_MS = 300_000
FAST: dict[str, dict[str, Any]] = {"iforest": {"n_estimators": 20}}


def make_series(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ts = 1_400_000_000_000 + np.arange(n, dtype=np.int64) * STEP_MS
    values = 10 + 3 * np.sin(np.arange(n) * 2 * np.pi / 288) + rng.normal(0, 0.3, n)
    return ts, values


def detector(name: str, **params: Any) -> Any:
    return build_detector(name, **{**FAST.get(name, {}), **params})


@pytest.mark.parametrize("name", DETECTORS)
def test_fit_then_score_gives_one_probability_per_point(name: str) -> None:
    ts, vs = make_series(800)
    model = detector(name).fit(ts[:600], vs[:600])
    scores = model.score(ts[600:], vs[600:])
    assert scores.shape == (200,)
    assert np.isfinite(scores).all()
    assert (scores >= 0).all()
    assert (scores <= 1).all()
    assert model.score(ts[:0], vs[:0]).shape == (0,)


@pytest.mark.parametrize("name", DETECTORS)
def test_an_obvious_spike_scores_highest(name: str) -> None:
    ts, vs = make_series(800)
    vs = vs.copy()
    vs[700] += 40.0
    scores = detector(name).fit(ts[:600], vs[:600]).score(ts[600:], vs[600:])
    assert int(np.argmax(scores)) == 100
    assert scores[100] >= Sensitivity.HIGH.threshold


@pytest.mark.parametrize("name", DETECTORS)
def test_scoring_before_fit_is_a_clear_error(name: str) -> None:
    ts, vs = make_series(50)
    with pytest.raises(NotFittedError, match="fitted before scoring"):
        detector(name).score(ts, vs)


@pytest.mark.parametrize("name", DETECTORS)
def test_future_points_never_change_past_scores(name: str) -> None:
    ts, vs = make_series(800)
    model = detector(name).fit(ts[:500], vs[:500])
    changed = vs.copy()
    changed[650:] = changed[650:] * 5 + 100  # rewrite the future
    before = model.score(ts[500:], vs[500:])
    after = model.score(ts[500:], changed[500:])
    np.testing.assert_array_equal(before[:150], after[:150])
    assert not np.array_equal(before[150:], after[150:])


@pytest.mark.parametrize("name", ["ensemble", "ecod", "timeseries"])
def test_streaming_detection_never_looks_ahead(name: str) -> None:
    ts, vs = make_series(900)
    policy = StreamingPolicy(warmup=100, min_refit=100, cooldown=50)
    changed = vs.copy()
    changed[600:] += np.linspace(0, 50, 300)  # a future drift, refits included
    a = detect_series(lambda: detector(name), ts, vs, policy)
    b = detect_series(lambda: detector(name), ts, changed, policy)
    np.testing.assert_array_equal(a.scores[:600], b.scores[:600])
    np.testing.assert_array_equal(a.alert_scores[:600], b.alert_scores[:600])
    assert not np.array_equal(a.scores[600:], b.scores[600:])
    assert (a.scores[:100] == 0).all()  # nothing to learn from before the warm-up


@pytest.mark.parametrize("name", ["knn", "ensemble", "timeseries"])
def test_continuing_series_gets_the_training_tail_as_context(name: str) -> None:
    ts, vs = make_series(800)
    model = detector(name).fit(ts[:600], vs[:600])
    whole = model.score(ts, vs)[600:]
    continued = model.score(ts[600:], vs[600:])
    np.testing.assert_allclose(continued, whole, rtol=1e-9, atol=1e-12)


def test_ecod_scores_a_row_as_pyod_would_score_it_alone() -> None:
    from pyod.models.ecod import ECOD  # type: ignore[import-untyped]

    rng = np.random.default_rng(3)
    train = rng.lognormal(size=(300, 3))  # clearly skewed columns
    test = rng.lognormal(size=(5, 3)) * [1, 3, 0.5]
    model = TabularModel.fit("ecod", {}, train)
    ours = model.raw(test)
    reference = ECOD().fit((train - model.center) / model.scale)
    for i in range(len(test)):
        alone = reference.decision_function(((test[i : i + 1]) - model.center) / model.scale)
        assert ours[i] == pytest.approx(alone[0], rel=1e-9)


def test_model_round_trips_through_bytes() -> None:
    ts, vs = make_series(700)
    model = detector("ensemble").fit(ts[:600], vs[:600])
    restored = load_detector(model.to_bytes())
    np.testing.assert_array_equal(
        restored.score(ts[600:], vs[600:]), model.score(ts[600:], vs[600:])
    )
    with pytest.raises(ValueError, match="not a serialised"):
        load_detector(b"\x80\x04K\x01.")  # a pickle, but not one of ours


def assert_bad_input(exc: pytest.ExceptionInfo[BadUserInput], field: str) -> None:
    assert exc.value.code == "BAD_USER_INPUT"
    assert exc.value.as_extensions()["field"] == field
    assert field in exc.value.message


@pytest.mark.parametrize(
    ("name", "params", "field"),
    [
        ("lof-ish", {}, "detector"),
        ("knn", {"n_neighbors": 0}, "n_neighbors"),
        ("knn", {"n_neighbors": "five"}, "n_neighbors"),
        ("knn", {"method": "max"}, "method"),
        ("knn", {"neighbours": 3}, "neighbours"),
        ("iforest", {"n_estimators": 5}, "n_estimators"),
        ("hbos", {"n_bins": True}, "n_bins"),
        ("ecod", {"long_window": 0}, "long_window"),
        ("copod", {"calendar": "yes"}, "calendar"),
        ("timeseries", {"window_size": 1}, "window_size"),
        ("timeseries", {"model": "lstm"}, "model"),
        ("ensemble", {"members": ["knn", "nope"]}, "members"),
        ("ensemble", {"members": "knn"}, "members"),
        ("ensemble", {"max_train": 3}, "max_train"),
    ],
)
def test_bad_parameters_name_the_parameter(name: str, params: dict[str, Any], field: str) -> None:
    with pytest.raises(BadUserInput) as exc:
        build_detector(name, **params)
    assert_bad_input(exc, field)


@pytest.mark.parametrize(
    ("ts", "vs", "field"),
    [
        ([1, 2, 3], [1.0, 2.0], "values"),
        ([3, 2, 1] * 10, [1.0] * 30, "timestamps"),
        (list(range(30)), [1.0] * 29 + [float("nan")], "values"),
        (list(range(5)), [1.0] * 5, "values"),  # too few points to fit
    ],
)
def test_bad_series_name_the_field(ts: list[int], vs: list[float], field: str) -> None:
    with pytest.raises(BadUserInput) as exc:
        build_detector("knn").fit(ts, vs)
    assert_bad_input(exc, field)


def test_sensitivity_thresholds_are_ordered_probabilities() -> None:
    assert (
        0
        < Sensitivity.HIGH.threshold
        < Sensitivity.MEDIUM.threshold
        < Sensitivity.LOW.threshold
        < 1
    )


def test_calibration_is_a_mid_rank_ecdf_with_an_open_tail() -> None:
    cal = Calibrator.fit(np.arange(1.0, 100.0))  # 99 training scores, 1..99
    p = to_probability(cal.surprise(np.array([0.0, 50.0, 99.0, 120.0, 200.0])))
    assert p[0] == pytest.approx(0.5 / 100)
    assert p[1] == pytest.approx(50 / 100)  # 49 below, one tie counted half, + 0.5
    assert p[2] == pytest.approx(99 / 100)
    assert p[2] < p[3] < p[4] <= 1.0


def test_suppression_keeps_only_new_highs_over_the_cooldown() -> None:
    scores = np.array([0.0, 5.0, 4.0, 6.0, 6.0, 1.0, 1.0, 1.0, 3.0])
    np.testing.assert_array_equal(
        suppress(scores, 3), [0.0, 5.0, 0.0, 6.0, 0.0, 0.0, 0.0, 0.0, 3.0]
    )
    np.testing.assert_array_equal(suppress(scores, 0), scores)


def test_rolling_features_match_their_definition_and_ignore_the_future() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(100, 5, 300)
    for w in (1, 2, 5, 60):
        padded = np.concatenate((np.full(w - 1, x[0]), x))  # the first value repeats before
        naive_mean = [padded[t : t + w].mean() for t in range(300)]
        naive_std = [padded[t : t + w].std() for t in range(300)]
        np.testing.assert_allclose(rolling_mean(x, w), naive_mean, rtol=1e-9)
        np.testing.assert_allclose(rolling_std(x, w), naive_std, rtol=1e-6, atol=1e-6)
    flat = np.full(1000, 1.0e8)
    assert (rolling_std(flat, 12) == 0).all()
    ts = np.arange(300, dtype=np.int64) * STEP_MS
    spec = FeatureSpec(calendar=True).resolve(ts)
    full = spec.build(ts, x)
    y = x.copy()
    y[200:] = -y[200:]
    np.testing.assert_array_equal(spec.build(ts, y)[:200], full[:200])
    assert full.shape == (300, 9)  # 5 windowed columns + time of day + day of week
