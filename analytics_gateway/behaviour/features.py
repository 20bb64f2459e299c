"""Per-user behaviour features from the store's per-user activity figures.

The store counts (`FeatureStore.user_activity`, one backend query); this
module turns the counts into the features segments and churn models read, the
same for both stores. Over a range [start, end) split at its middle:

- `recency_days`: days from the user's last event to the range's end; how
  long they have been quiet, the strongest single churn signal.
- `frequency`: the user's events in the range; how much they use the service.
- `active_days`: distinct UTC days with an event; habit, which `frequency`
  alone mixes up with binges.
- `tenure_days`: days from the user's first event in the range to its end;
  separates new users from established ones (capped by the range's length).
- `trend`: (late - early) / (late + early) events, early before the middle
  and late from it on, in [-1, 1]: -1 active only in the first half
  (fading), +1 only in the second (new or returning).
- `event_types`: distinct event types; breadth of use (search, play,
  subscribe... rather than one thing).
- `top_type_share`: the share of the user's events of their most frequent
  type, in (0, 1]; focus on one activity.

Models read `frequency` and `active_days` as log(1 + x): counts are heavy
tailed, and a few very heavy users would otherwise dominate distances.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from analytics_gateway.backends.base import UserActivity, UserActivityQuery
from analytics_gateway.errors import QueryTooComplex

DAY_MS = 86_400_000
FEATURES = (
    "recency_days",
    "frequency",
    "active_days",
    "tenure_days",
    "trend",
    "event_types",
    "top_type_share",
)
_LOG = (FEATURES.index("frequency"), FEATURES.index("active_days"))
# users one segmentation or churn model may read: the store answers them in
# memory and the model fits them in a worker within its deadline
MAX_USERS = 50_000
MAX_RANGE_DAYS = 730
DEFAULT_RANGE_MS = 90 * DAY_MS

Matrix = npt.NDArray[np.float64]


@dataclass(frozen=True)
class UserFeatures:
    user_id: str
    recency_days: float
    frequency: int
    active_days: int
    tenure_days: float
    trend: float
    event_types: int
    top_type_share: float

    def values(self) -> tuple[float, ...]:
        """The features in `FEATURES` order, original units."""
        return (
            self.recency_days,
            float(self.frequency),
            float(self.active_days),
            self.tenure_days,
            self.trend,
            float(self.event_types),
            self.top_type_share,
        )


def check_range(start_ms: int, end_ms: int) -> None:
    if end_ms - start_ms > MAX_RANGE_DAYS * DAY_MS:
        raise QueryTooComplex(
            f"the range spans more than {MAX_RANGE_DAYS} days; use a shorter range", field="from"
        )


def activity_query(
    tenant: str, event_type: str | None, start_ms: int, end_ms: int
) -> UserActivityQuery:
    """The store's query for features over [start_ms, end_ms), split at its middle."""
    return UserActivityQuery(
        tenant=tenant,
        event_type=event_type,
        start_ms=start_ms,
        end_ms=end_ms,
        middle_ms=start_ms + (end_ms - start_ms) // 2,
        max_users=MAX_USERS,
    )


def features(activity: UserActivity, end_ms: int) -> UserFeatures:
    """One user's features from the store's figures over a range ending at `end_ms`."""
    early = activity.events - activity.late_events
    return UserFeatures(
        user_id=activity.user_id,
        recency_days=(end_ms - activity.last_ms) / DAY_MS,
        frequency=activity.events,
        active_days=activity.active_days,
        tenure_days=(end_ms - activity.first_ms) / DAY_MS,
        trend=(activity.late_events - early) / activity.events,
        event_types=activity.event_types,
        top_type_share=activity.top_type_events / activity.events,
    )


def all_features(activities: Sequence[UserActivity], end_ms: int) -> list[UserFeatures]:
    """Features of every user, by user id (the order models see them in)."""
    return sorted((features(a, end_ms) for a in activities), key=lambda f: f.user_id)


def matrix(users: Sequence[UserFeatures]) -> Matrix:
    """Users by features, original units."""
    return np.array([u.values() for u in users], dtype=np.float64).reshape(-1, len(FEATURES))


def model_space(x: Matrix) -> Matrix:
    """What models read: counts as log(1 + x), the rest as they are."""
    out = x.copy()
    for column in _LOG:
        out[:, column] = np.log1p(out[:, column])
    return out
