"""The recommender core and `eval recommendations`, on data with planted structure."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest

from analytics_gateway.cli import main
from analytics_gateway.errors import BadUserInput
from analytics_gateway.ml.recommender import EASE, ITEM_KNN, Interactions, Recommender
from analytics_gateway.ml.recommender_eval import evaluate, read_ratings, split
from analytics_gateway.ml.recommender_service import check, completion

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "recsys"
GROUPS = {"a": 20, "b": 16, "c": 12, "d": 10}  # users per group: popularity favours a
ITEMS_PER_GROUP = 10
USERS = sum(GROUPS.values())


def planted(seed: int = 0, plays: int = 6) -> list[tuple[str, str, int]]:
    """(user, item, time): each user plays `plays` random items of their own group only."""
    rng = random.Random(seed)
    rows = []
    t = 1_700_000_000
    for group, users in GROUPS.items():
        for u in range(users):
            for item in rng.sample(range(ITEMS_PER_GROUP), plays):
                t += 60
                rows.append((f"{group}-user{u}", f"{group}-item{item:02d}", t))
    return rows


def fitted(method: str = EASE) -> tuple[Recommender, list[tuple[str, str, int]]]:
    rows = planted()
    data = Interactions.build([r[0] for r in rows], [r[1] for r in rows])
    return Recommender.fit(data, method, lam=10.0), rows


@pytest.mark.parametrize("method", [EASE, ITEM_KNN])
def test_recommends_unseen_items_of_the_users_own_group(method: str) -> None:
    model, rows = fitted(method)
    for user in ("a-user0", "b-user3"):
        played = {item for u, item, _ in rows if u == user}
        found, personal = model.recommend(user, 4)
        assert personal
        assert len(found) == 4
        assert all(item.startswith(user[0] + "-") for item, _ in found), found
        assert not played & {item for item, _ in found}
        assert [s for _, s in found] == sorted((s for _, s in found), reverse=True)


def test_exclude_played_decides_whether_history_comes_back() -> None:
    model, rows = fitted()
    played = {item for u, item, _ in rows if u == "b-user0"}
    everything, _ = model.recommend("b-user0", 10, exclude_played=False)
    assert played & {item for item, _ in everything}
    unseen, _ = model.recommend("b-user0", 10, exclude_played=True)
    assert not played & {item for item, _ in unseen}
    # plays the model has not seen yet are left out too
    newest, _ = model.recommend("b-user0", 10, also_played=[unseen[0][0]])
    assert unseen[0][0] not in {item for item, _ in newest}


def test_cold_start_falls_back_to_popularity() -> None:
    model, rows = fitted()
    counts: dict[str, int] = {}
    for _, item, _ in set(rows):
        counts[item] = counts.get(item, 0) + 1
    expected = sorted(counts, key=lambda i: (-counts[i], i))[:5]
    found, personal = model.recommend("nobody", 5)
    assert not personal
    assert [item for item, _ in found] == expected
    few, personal = model.recommend("a-user0", 5, min_interactions=50)
    assert not personal
    assert len(few) == 5


def test_similar_items_stay_in_the_group_and_survive_a_round_trip() -> None:
    model, _ = fitted()
    loaded = Recommender.from_bytes(model.to_bytes())
    similar = loaded.similar("b-item03", 5)
    assert similar is not None
    assert 0 < len(similar) <= 5
    assert all(item.startswith("b-") and item != "b-item03" for item, _ in similar)
    assert loaded.similar("unknown", 5) is None
    assert loaded.recommend("a-user1", 5) == model.recommend("a-user1", 5)


def test_completion_weights_plays() -> None:
    assert completion({"duration": 90, "song_length": 180}, "duration", "song_length") == 0.5
    assert completion({"duration": 400, "song_length": 200}, "duration", "song_length") == 1.0
    assert completion({"duration": 90}, "duration", "song_length") == 1.0
    assert completion({"duration": "x", "song_length": 0}, "duration", "song_length") == 1.0


def test_parameters_are_checked() -> None:
    assert check(None, {})["maxItems"] == 5_000
    with pytest.raises(BadUserInput, match="maxItems"):
        check(None, {"maxItems": 10**6})
    with pytest.raises(BadUserInput, match="method"):
        check("als", {})


def write_csv(path: Path, rows: list[tuple[str, str, int]], timed: bool = True) -> Path:
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["user_id", "item_id", "timestamp"] if timed else ["user_id", "item_id"])
        for user, item, t in rows:
            out.writerow([user, item, t] if timed else [user, item])
    return path


def test_the_model_beats_popularity_on_a_planted_hold_out(tmp_path: Path) -> None:
    data = split(read_ratings(write_csv(tmp_path / "r.csv", planted())))
    assert data.test_rows == USERS  # 6 rows a user: the last one
    report = evaluate(data, k=5, lam=10.0)
    assert report.model.precision >= 2 * report.popularity.precision
    assert report.model.ndcg >= 2 * report.popularity.ndcg
    assert report.model.coverage > report.popularity.coverage


def test_eval_cli_prints_both_models_and_ratios(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path / "r.csv", planted())
    assert main(["eval", "recommendations", "--ratings", str(path), "--holdout-last", "3"]) == 0
    out = capsys.readouterr().out
    assert f"test rows {USERS * 3}" in out
    for word in ("precision@10", "recall@10", "NDCG@10", "coverage", "ease", "popularity"):
        assert word in out
    assert "ratio" in out
    # without timestamps the hold-out is random, and the same for the same seed
    bare = write_csv(tmp_path / "bare.csv", planted(), timed=False)
    runs = []
    for _ in range(2):
        assert main(["eval", "recommendations", "--ratings", str(bare), "--seed", "3"]) == 0
        runs.append(capsys.readouterr().out.rsplit("\n", 2)[0])  # all but the timing
    assert runs[0] == runs[1]
    assert main(["eval", "recommendations", "--ratings", str(bare), "--k", "0"]) == 2


def test_shared_online_retail_split_beats_popularity_twice() -> None:
    """The README's split and popularity figures, and the >= 2x target (see README.md)."""
    ratings = SHARED / "interactions.csv"
    if not ratings.exists():
        pytest.skip(f"shared recsys data not found at {SHARED} (UCI Online Retail)")
    data = split(read_ratings(ratings))
    report = evaluate(data)
    assert (data.train_rows, data.test_rows) == (310_217, 75_526)
    assert (report.users, report.scored_users, report.items) == (4_105, 3_974, 3_596)
    popular = report.popularity
    assert (round(popular.precision, 4), round(popular.recall, 4), round(popular.ndcg, 4)) == (
        0.0199,
        0.0314,
        0.0265,
    )
    assert report.model.precision >= 2 * popular.precision
    assert report.model.ndcg >= 2 * popular.ndcg
