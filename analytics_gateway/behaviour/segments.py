"""User segments: k-means on standardised behaviour features, described by what sets
each segment apart.

`cluster` is the CPU work (run in an ML worker): features in model space
(`features.model_space`), standardised, then `KMeans` with a fixed
`random_state` and `N_INIT` starts, so the same users give the same segments.
Without a requested k, k runs over 2..`MAX_AUTO_K` and the one with the best
silhouette on a fixed sample of at most `SILHOUETTE_SAMPLE` users wins (the
silhouette is quadratic in users; the fits are not sampled).

`describe` works on the labels: each segment's size and share, its centroid as
the mean of its users' features in original units, and its distinguishing
features, those whose segment mean lies furthest from the population mean in
population standard deviations (at least `TRAIT_Z` of them, at most
`MAX_TRAITS`), named by the words of `TRAIT_WORDS`. Segments are numbered by
size, largest first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from analytics_gateway.behaviour.churn import ONE_THREAD
from analytics_gateway.behaviour.features import FEATURES, Matrix, UserFeatures, model_space
from analytics_gateway.errors import BadUserInput

MIN_K = 2
MAX_K = 10
MAX_AUTO_K = 8
MAX_EXAMPLES = 20
SILHOUETTE_SAMPLE = 2_000
N_INIT = 4
SEED = 0
TRAIT_Z = 0.5
MAX_TRAITS = 3
# (above the population, below it) for each feature
TRAIT_WORDS: dict[str, tuple[str, str]] = {
    "recency_days": ("lapsed", "recent"),
    "frequency": ("high frequency", "low frequency"),
    "active_days": ("many active days", "few active days"),
    "tenure_days": ("long-standing", "new"),
    "trend": ("growing", "declining"),
    "event_types": ("varied", "few event types"),
    "top_type_share": ("focused on one event type", "mixed event types"),
}

Labels = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Clustering:
    labels: Labels  # per user, 0 = the largest segment
    k: int
    silhouette: float | None  # of the chosen k, on the sample; None when not measured


@dataclass(frozen=True)
class Trait:
    feature: str
    z_score: float  # (segment mean - population mean) / population standard deviation
    words: str


@dataclass(frozen=True)
class Segment:
    id: int
    size: int
    share: float
    centroid: tuple[float, ...]  # means of its users' features, `FEATURES` order
    traits: list[Trait]
    description: str
    examples: list[str]


def check_k(k: int | None) -> int | None:
    if k is not None and not MIN_K <= k <= MAX_K:
        raise BadUserInput(f"segments: must be from {MIN_K} to {MAX_K}", field="segments")
    return k


def check_examples(examples: int) -> int:
    if not 0 <= examples <= MAX_EXAMPLES:
        raise BadUserInput(f"examples: must be from 0 to {MAX_EXAMPLES}", field="examples")
    return examples


def check_users(users: int, k: int | None) -> None:
    """Enough users for k segments of more than one user each."""
    need = 2 * (k or MIN_K) + 1
    if users < need:
        raise BadUserInput(
            f"only {users} users with events in the range; segments need at least {need}",
            field="from",
        )


def _standardised(x: Matrix) -> Matrix:
    z = model_space(x)
    std = z.std(axis=0)
    std[std == 0] = 1.0
    standard: Matrix = (z - z.mean(axis=0)) / std
    return standard


def cluster(x: Matrix, k: int | None) -> Clustering:
    """Segments of the users (rows of `x`, original units); deterministic."""
    # imported here: scikit-learn loads in the ML workers, not in every gateway
    from sklearn.cluster import KMeans  # type: ignore[import-untyped]
    from sklearn.metrics import silhouette_score  # type: ignore[import-untyped]
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    with threadpool_limits(ONE_THREAD):
        return _cluster(x, k, KMeans, silhouette_score)


def _cluster(x: Matrix, k: int | None, kmeans: Any, silhouette_score: Any) -> Clustering:
    z = _standardised(x)
    distinct = len(np.unique(z, axis=0))
    rng = np.random.default_rng(SEED)
    sample = rng.choice(len(z), size=min(len(z), SILHOUETTE_SAMPLE), replace=False)
    best: tuple[float, npt.NDArray[np.int64], int] | None = None
    candidates = [k] if k is not None else list(range(MIN_K, MAX_AUTO_K + 1))
    for n in candidates:
        if n > distinct:
            break
        labels = kmeans(n_clusters=n, n_init=N_INIT, random_state=SEED).fit_predict(z)
        if k is not None:
            best = (float("nan"), labels.astype(np.int64), n)
            break
        if len(np.unique(labels[sample])) < 2:
            continue
        score = float(silhouette_score(z[sample], labels[sample]))
        if best is None or score > best[0]:
            best = (score, labels.astype(np.int64), n)
    if best is None:  # every user alike: one segment
        return Clustering(np.zeros(len(z), dtype=np.int64), 1, None)
    score, labels, n = best
    return Clustering(_by_size(labels), n, None if np.isnan(score) else score)


def _by_size(labels: Labels) -> Labels:
    """Renumber segments largest first (ties: the one with the earliest user first)."""
    ids, first, counts = np.unique(labels, return_index=True, return_counts=True)
    order = sorted(range(len(ids)), key=lambda i: (-counts[i], first[i]))
    mapping = np.empty(int(ids.max()) + 1, dtype=np.int64)
    for new, i in enumerate(order):
        mapping[ids[i]] = new
    renumbered: Labels = mapping[labels]
    return renumbered


def describe(
    users: Sequence[UserFeatures], x: Matrix, clustering: Clustering, examples: int
) -> list[Segment]:
    """Each segment's figures, centroid, distinguishing traits and first example users."""
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    out: list[Segment] = []
    for segment in range(clustering.k):
        members = np.flatnonzero(clustering.labels == segment)
        centre = x[members].mean(axis=0)
        traits = []
        for i, name in enumerate(FEATURES):
            if std[i] > 0:
                z = float((centre[i] - mean[i]) / std[i])
                if abs(z) >= TRAIT_Z:
                    high, low = TRAIT_WORDS[name]
                    traits.append(Trait(name, z, high if z > 0 else low))
        traits.sort(key=lambda t: -abs(t.z_score))
        traits = traits[:MAX_TRAITS]
        out.append(
            Segment(
                id=segment,
                size=len(members),
                share=len(members) / len(users),
                centroid=tuple(float(v) for v in centre),
                traits=traits,
                description=", ".join(t.words for t in traits) or "typical",
                examples=[users[i].user_id for i in members[:examples]],
            )
        )
    return out
