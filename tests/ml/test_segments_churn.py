"""Segments, churn models and per-user features as plain functions: generated inputs,
expectations computed here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from analytics_gateway.backends import elasticsearch_features
from analytics_gateway.backends.base import UserActivity, UserActivityQuery
from analytics_gateway.backends.duckdb_store import DuckDBStore
from analytics_gateway.behaviour import churn, segments
from analytics_gateway.behaviour.features import DAY_MS, FEATURES, features, matrix
from analytics_gateway.domain import Event
from analytics_gateway.errors import BadUserInput, QueryTooComplex


def planted(seed: int) -> tuple[np.ndarray[Any, Any], list[int]]:
    """Three groups of 40 users apart in recency, frequency and tenure."""
    rng = np.random.default_rng(seed)
    rows, truth = [], []
    for group, (recency, frequency, tenure) in enumerate(((1, 200, 60), (40, 10, 60), (2, 8, 5))):
        for _ in range(40):
            rows.append(
                [
                    recency * rng.uniform(0.7, 1.3),
                    frequency * rng.uniform(0.7, 1.3),
                    min(frequency, 50) * rng.uniform(0.7, 1.0),
                    tenure * rng.uniform(0.9, 1.0),
                    rng.uniform(-0.2, 0.2),
                    3.0,
                    rng.uniform(0.4, 0.6),
                ]
            )
            truth.append(group)
    return np.array(rows), truth


def same_partition(a: list[int], b: list[int]) -> bool:
    mapping: dict[int, int] = {}
    return all(mapping.setdefault(x, y) == y for x, y in zip(a, b, strict=True)) and len(
        set(mapping.values())
    ) == len(mapping)


def test_k_is_chosen_and_the_groups_found_deterministically() -> None:
    x, truth = planted(1)
    first = segments.cluster(x, None)
    assert first.k == 3
    assert first.silhouette is not None
    assert first.silhouette > 0.5
    assert same_partition(first.labels.tolist(), truth)
    again = segments.cluster(x, None)
    assert again.labels.tolist() == first.labels.tolist()
    fixed = segments.cluster(x, 5)
    assert fixed.k == 5
    assert fixed.silhouette is None
    sizes = np.bincount(fixed.labels)
    assert sizes.tolist() == sorted(sizes.tolist(), reverse=True)


def test_descriptions_name_what_sets_a_segment_apart() -> None:
    x, truth = planted(2)
    users = [
        features(UserActivity(f"u{i:03d}", 10, 0, DAY_MS, 1, 5, 1, 5), DAY_MS)
        for i in range(len(x))
    ]
    found = segments.describe(users, x, segments.cluster(x, 3), examples=2)
    by_group = {truth[int(s.examples[0][1:])]: s for s in found}
    assert "high frequency" in by_group[0].description
    assert "lapsed" in by_group[1].description
    assert "new" in by_group[2].description
    for s in found:
        members = [i for i in range(len(x)) if truth[i] == truth[int(s.examples[0][1:])]]
        assert s.centroid == pytest.approx(tuple(x[members].mean(axis=0)))
        assert s.size == 40
        assert s.share == pytest.approx(1 / 3)
        zs = [abs(t.z_score) for t in s.traits]
        assert zs == sorted(zs, reverse=True)
        assert all(z >= segments.TRAIT_Z for z in zs)
        assert len(s.examples) == 2


def test_users_alike_make_one_segment() -> None:
    x = np.ones((10, len(FEATURES)))
    found = segments.cluster(x, None)
    assert found.k == 1
    assert found.labels.tolist() == [0] * 10


def churned(seed: int, users: int) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Churn more likely the longer a user has been quiet and the more they faded."""
    rng = np.random.default_rng(seed)
    recency = rng.exponential(10, users)
    trend = rng.uniform(-1, 1, users)
    risk = 1 / (1 + np.exp(-(0.3 * recency - 2 * trend - 2)))
    labels = (rng.uniform(size=users) < risk).astype(np.int64)
    x = np.column_stack(
        [
            recency,
            rng.integers(1, 100, users),
            rng.integers(1, 30, users),
            recency + rng.uniform(0, 30, users),
            trend,
            rng.integers(1, 4, users),
            rng.uniform(0.3, 1, users),
        ]
    ).astype(np.float64)
    return x, labels


def test_churn_fit_measures_on_held_out_users() -> None:
    x, labels = churned(3, 600)
    fit = churn.fit(x, labels, x[:50])
    assert fit.training_users + fit.held_out_users == 600
    assert fit.held_out_users == 180
    assert fit.auc is not None
    assert fit.auc > 0.75
    assert 0 < fit.brier < 0.25
    assert sum(b.users for b in fit.calibration) == 180
    assert len(fit.scores) == 50
    assert ((fit.scores >= 0) & (fit.scores <= 1)).all()
    assert churn.fit(x, labels, x[:50]).scores.tolist() == fit.scores.tolist()


def test_calibration_bins() -> None:
    predicted = np.array([0.05, 0.07, 0.5, 0.55, 1.0])
    labels = np.array([0, 1, 1, 1, 1])
    bins = churn.calibration(labels, predicted)
    assert [(b.lower, b.users) for b in bins] == [(0.0, 2), (0.5, 2), (0.9, 1)]
    assert bins[0].mean_predicted == pytest.approx(0.06)
    assert bins[0].observed == 0.5


def test_churn_refuses_short_history_and_one_outcome() -> None:
    with pytest.raises(BadUserInput) as short:
        churn.cutoff(0, 27 * DAY_MS, 14 * DAY_MS)
    assert short.value.extensions == {"field": "horizon", "reason": "HISTORY_TOO_SHORT"}
    assert churn.cutoff(0, 28 * DAY_MS, 14 * DAY_MS) == 14 * DAY_MS
    with pytest.raises(BadUserInput) as few:
        churn.check_labels(np.array([0, 1] * 10))
    assert few.value.extensions["reason"] == "HISTORY_TOO_SHORT"
    with pytest.raises(BadUserInput) as one:
        churn.check_labels(np.array([0] * 45 + [1] * 5))
    assert one.value.extensions == {"field": "horizon", "reason": "ONE_CLASS"}
    for horizon in ("12h", "181d", "soon"):
        with pytest.raises(BadUserInput):
            churn.check_horizon(horizon)


def test_features_from_activity() -> None:
    end = 10 * DAY_MS
    f = features(UserActivity("u", 8, 2 * DAY_MS, 9 * DAY_MS, 4, 6, 3, 5), end)
    assert (f.recency_days, f.tenure_days, f.trend, f.top_type_share) == (1.0, 8.0, 0.5, 5 / 8)
    assert matrix([f]).shape == (1, len(FEATURES))


def bucket(day: int, count: int, late: int, types: dict[str, int]) -> dict[str, Any]:
    return {
        "doc_count": count,
        "lo": {"value": float(day * DAY_MS + 10)},
        "hi": {"value": float(day * DAY_MS + 20)},
        "late": {"doc_count": late},
        "t": {"buckets": [{"key": k, "doc_count": n} for k, n in types.items()]},
    }


async def test_elasticsearch_pages_are_folded_per_user_and_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pages = [
        [("a", bucket(1, 3, 0, {"play": 2, "skip": 1})), ("a", bucket(4, 2, 2, {"play": 2}))],
        [("b", bucket(2, 1, 0, {"search": 1}))],
    ]
    seen: list[dict[str, Any]] = []

    async def aggregate(*args: Any) -> Any:
        seen.append(args[4]["a"]["composite"])
        page = pages[len(seen) - 1]
        buckets = [{"key": {"u": u, "d": 0}, **b} for u, b in page]
        return {"aggregations": {"a": {"buckets": buckets, "after_key": {"u": page[-1][0]}}}}

    monkeypatch.setattr(elasticsearch_features, "PAGE", 2)
    store = elasticsearch_features.ElasticsearchFeatures(aggregate)
    query = UserActivityQuery("t", None, 0, 10 * DAY_MS, 3 * DAY_MS, max_users=5)
    found = await store.user_activity(query)
    assert found == [
        UserActivity("a", 5, DAY_MS + 10, 4 * DAY_MS + 20, 2, 2, 2, 4),
        UserActivity("b", 1, 2 * DAY_MS + 10, 2 * DAY_MS + 20, 1, 0, 1, 1),
    ]
    assert len(seen) == 2
    assert seen[1]["after"] == {"u": "a"}
    seen.clear()
    with pytest.raises(QueryTooComplex):
        await store.user_activity(
            UserActivityQuery("t", None, 0, 10 * DAY_MS, 3 * DAY_MS, max_users=1)
        )


async def test_duckdb_counts_each_user_and_refuses_too_many(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "db.duckdb")
    try:
        events = [
            Event("t", f"e{u}{i}", kind, f"u{u}", ts, {})
            for u in range(4)
            for i, (kind, ts) in enumerate(
                [("play", DAY_MS + u), ("play", 5 * DAY_MS), ("skip", 5 * DAY_MS + 9)][: u + 1]
            )
        ]
        events.append(Event("other", "x", "play", "u0", 2 * DAY_MS, {}))
        await store.write_events(events)
        query = UserActivityQuery("t", None, 0, 10 * DAY_MS, 5 * DAY_MS, max_users=4)
        found = await store.features().user_activity(query)
        assert found == [
            UserActivity("u0", 1, DAY_MS, DAY_MS, 1, 0, 1, 1),
            UserActivity("u1", 2, DAY_MS + 1, 5 * DAY_MS, 2, 1, 1, 2),
            UserActivity("u2", 3, DAY_MS + 2, 5 * DAY_MS + 9, 2, 2, 2, 2),
            UserActivity("u3", 3, DAY_MS + 3, 5 * DAY_MS + 9, 2, 2, 2, 2),
        ]
        with pytest.raises(QueryTooComplex):
            await store.features().user_activity(
                UserActivityQuery("t", None, 0, 10 * DAY_MS, 5 * DAY_MS, max_users=3)
            )
    finally:
        await store.close()
