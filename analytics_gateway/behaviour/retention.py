"""Retention cohorts: checks of a request, and the matrix from a store's counts.

A cohort is the users whose first event in the range fell in one UTC period
(a day, or an ISO week from Monday); `retained[k]` counts those of its users
with an event in period cohort+k, so `retained[0]` is the cohort's size.
Periods after the range's end count what the range holds of them (nothing).
The store counts (`BehaviourStore.retention`); this module only checks the
request and shapes the answer, so both stores give the same matrix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from analytics_gateway.errors import BadUserInput, QueryTooComplex

MAX_PERIODS = 52
# users a retention query may find in its range before it is refused: a store
# answers it in memory, and about this many users keep that within a request
MAX_USERS = 200_000
# cohort periods a range may span: at most ten years of days
MAX_RANGE_PERIODS = 3_660
DAY_MS = 86_400_000


@dataclass(frozen=True)
class Cohort:
    start_ms: int
    size: int
    retained: list[int]
    rates: list[float]


def check_periods(periods: int) -> int:
    if not 1 <= periods <= MAX_PERIODS:
        raise BadUserInput(f"periods: must be from 1 to {MAX_PERIODS}", field="periods")
    return periods


def check_range(start_ms: int, end_ms: int, week: bool) -> None:
    """A range of at most `MAX_RANGE_PERIODS` periods: the cohorts it can form."""
    if (end_ms - start_ms) // (DAY_MS * (7 if week else 1)) > MAX_RANGE_PERIODS:
        raise QueryTooComplex(
            f"the range spans more than {MAX_RANGE_PERIODS} periods; use a shorter range"
        )


def cohorts(counts: Sequence[tuple[int, int, int]], periods: int) -> list[Cohort]:
    """Cohorts oldest first, from (cohort start ms, k, users) counts."""
    by_start: dict[int, list[int]] = {}
    for start, k, users in counts:
        by_start.setdefault(start, [0] * periods)[k] = users
    out = []
    for start in sorted(by_start):
        retained = by_start[start]
        size = retained[0]
        rates = [n / size if size else 0.0 for n in retained]
        out.append(Cohort(start, size, retained, rates))
    return out
