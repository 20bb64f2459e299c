"""`eval recommendations`: a per-user hold-out of a ratings CSV, model against popularity.

The split is the one `shared/data/recsys/README.md` describes, so its
published popularity figures check that ours is the same: users with at
least `min_rows` rows; each user's rows sorted by (timestamp, item_id), the
last `n // 5` (or `--holdout-last N`) are test; without timestamps, N random
rows (seeded) are. The train matrix is binary over the items seen in train.
A user's relevant set is the distinct test items not bought in train; users
with an empty one are not scored. Both models rank only items the user has
not had in train; ties go to the smaller item id.
"""

from __future__ import annotations

import csv
import math
import time
from argparse import Namespace
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import scipy.sparse as sp  # type: ignore[import-untyped]
from numpy.typing import NDArray

from analytics_gateway.ml.recommender import (
    DEFAULT_LAMBDA,
    DEFAULT_MAX_ITEMS,
    DEFAULT_NEIGHBOURS,
    EASE,
    METHODS,
    Interactions,
    Recommender,
    popularity_of,
)

MIN_ROWS = 5


@dataclass(frozen=True)
class Row:
    user: str
    item: str
    time: float | None


@dataclass(frozen=True)
class Split:
    train: Interactions  # binary, users x items seen in train
    relevant: dict[int, set[str]]  # train row -> its relevant test items
    train_rows: int
    test_rows: int


@dataclass(frozen=True)
class Scores:
    precision: float
    recall: float
    ndcg: float
    coverage: float


@dataclass(frozen=True)
class Report:
    k: int
    users: int
    scored_users: int
    items: int
    train_rows: int
    test_rows: int
    method: str
    model: Scores
    popularity: Scores
    fit_seconds: float


def read_ratings(path: Path) -> list[Row]:
    """`user_id,item_id[,timestamp]` rows (other columns ignored)."""
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        fields = next(reader, [])
        for needed in ("user_id", "item_id"):
            if needed not in fields:
                raise ValueError(f"{path}: no `{needed}` column (have {', '.join(fields)})")
        user, item = fields.index("user_id"), fields.index("item_id")
        if "timestamp" not in fields:
            return [Row(r[user], r[item], None) for r in reader]
        at = fields.index("timestamp")
        times: dict[str, float] = {}  # many rows share a time (one basket): parse each once
        rows = []
        for r in reader:
            text = r[at]
            seconds = times.get(text)
            if seconds is None:
                seconds = times[text] = _time(text)
            rows.append(Row(r[user], r[item], seconds))
        return rows


def _time(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def split(
    rows: list[Row],
    holdout_last: int | None = None,
    holdout_fraction: float = 0.2,
    min_rows: int = MIN_ROWS,
    seed: int = 0,
) -> Split:
    by_user: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_user[row.user].append(row)
    rng = np.random.default_rng(seed)
    train: list[Row] = []
    test: dict[str, list[Row]] = {}
    for user in sorted(by_user):
        own = by_user[user]
        n = len(own)
        if n < min_rows:
            continue
        held = holdout_last if holdout_last is not None else int(n * holdout_fraction + 1e-9)
        held = min(max(held, 1), n - 1)
        if all(r.time is not None for r in own):
            own = sorted(own, key=lambda r: (r.time, r.item))
        else:
            own = [own[i] for i in rng.permutation(n)]
        train += own[: n - held]
        test[user] = own[n - held :]
    data = Interactions.build([r.user for r in train], [r.item for r in train], binary=True)
    relevant: dict[int, set[str]] = {}
    for row_index, user in enumerate(data.users.tolist()):
        start, end = data.matrix.indptr[row_index], data.matrix.indptr[row_index + 1]
        bought = set(data.items[data.matrix.indices[start:end]].tolist())
        wanted = {r.item for r in test.get(user, [])} - bought
        if wanted:
            relevant[row_index] = wanted
    test_rows = sum(len(t) for t in test.values())
    return Split(data, relevant, len(train), test_rows)


def ranked(scores: NDArray[np.float64], history: sp.csr_matrix, k: int) -> NDArray[np.int64]:
    """Top-k columns per row, items in `history` left out, ties by column."""
    scores = scores.copy()
    scores[history.nonzero()] = -np.inf
    n = scores.shape[1]
    if k >= n:
        return np.argsort(-scores, axis=1, kind="stable").astype(np.int64)
    part = np.argpartition(-scores, k, axis=1)[:, : k + 1]
    values = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -values), axis=1)
    top = np.take_along_axis(part, order, axis=1)
    cut = np.take_along_axis(values, order, axis=1)
    # where the k-th and the next score tie, the partition may have cut a smaller id: redo
    tied = np.flatnonzero(cut[:, k - 1] == cut[:, k])
    result = top[:, :k].copy()
    for row in tied:
        result[row] = np.argsort(-scores[row], kind="stable")[:k]
    return result.astype(np.int64)


def measure(
    top: NDArray[np.int64], items: NDArray[np.str_], relevant: list[set[str]], k: int
) -> Scores:
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    precision = recall = ndcg = 0.0
    for row, wanted in zip(top.tolist(), relevant, strict=True):
        hits = np.array([items[c] in wanted for c in row], dtype=np.float64)
        precision += hits.sum() / k
        recall += hits.sum() / len(wanted)
        ndcg += float(hits @ discounts[: len(hits)]) / float(discounts[: min(len(wanted), k)].sum())
    n = max(len(relevant), 1)
    coverage = len(np.unique(top)) / max(len(items), 1)
    return Scores(precision / n, recall / n, ndcg / n, coverage)


def evaluate(
    data: Split,
    k: int = 10,
    method: str = EASE,
    lam: float = DEFAULT_LAMBDA,
    neighbours: int = DEFAULT_NEIGHBOURS,
    max_items: int = DEFAULT_MAX_ITEMS,
) -> Report:
    train = data.train
    started = time.perf_counter()
    model = Recommender.fit(train, method, lam=lam, neighbours=neighbours, max_items=max_items)
    fit_seconds = time.perf_counter() - started
    rows = np.array(sorted(data.relevant), dtype=np.int64)
    relevant = [data.relevant[int(r)] for r in rows]
    history = train.matrix[rows]
    model_top = ranked(model.scores(history), history, k)
    popular = np.broadcast_to(popularity_of(train.matrix), (len(rows), train.matrix.shape[1]))
    popular_top = ranked(np.asarray(popular, dtype=np.float64), history, k)
    return Report(
        k=k,
        users=train.matrix.shape[0],
        scored_users=len(rows),
        items=len(train.items),
        train_rows=data.train_rows,
        test_rows=data.test_rows,
        method=method,
        model=measure(model_top, train.items, relevant, k),
        popularity=measure(popular_top, train.items, relevant, k),
        fit_seconds=fit_seconds,
    )


def format_report(report: Report) -> str:
    k = report.k
    lines = [
        f"users {report.users} (scored {report.scored_users}), items {report.items}, "
        f"train rows {report.train_rows}, test rows {report.test_rows}",
        f"{'model':<12} {f'precision@{k}':>13} {f'recall@{k}':>10} {f'NDCG@{k}':>8} "
        f"{'coverage':>9}",
    ]
    for name, s in ((report.method, report.model), ("popularity", report.popularity)):
        lines.append(
            f"{name:<12} {s.precision:>13.4f} {s.recall:>10.4f} {s.ndcg:>8.4f} {s.coverage:>9.4f}"
        )
    m, p = report.model, report.popularity
    lines.append(
        f"{'ratio':<12} {_ratio(m.precision, p.precision):>13} {_ratio(m.recall, p.recall):>10} "
        f"{_ratio(m.ndcg, p.ndcg):>8} {_ratio(m.coverage, p.coverage):>9}"
    )
    lines.append(f"fit {report.fit_seconds:.2f} s")
    return "\n".join(lines)


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b > 0 else ("inf" if a > 0 else "n/a")


def ratio(a: float, b: float) -> float:
    return a / b if b > 0 else math.inf


def run(args: Namespace) -> str:
    """The `eval recommendations` command."""
    if args.method not in METHODS:
        raise ValueError(f"--method: one of {', '.join(METHODS)}")
    if args.k < 1 or (args.holdout_last is not None and args.holdout_last < 1):
        raise ValueError("--k and --holdout-last must be at least 1")
    if not 0 < args.holdout_fraction < 1:
        raise ValueError("--holdout-fraction must be between 0 and 1")
    data = split(
        read_ratings(args.ratings), args.holdout_last, args.holdout_fraction, seed=args.seed
    )
    return format_report(evaluate(data, args.k, args.method))
