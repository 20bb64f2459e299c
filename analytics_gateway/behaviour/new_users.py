"""New vs returning users per UTC interval.

A user active in an interval (an event in it, inside the range) is new there
when the interval holds their first event ever for the tenant, of any type
and before the range too; returning otherwise. So a user first seen early in
the range's first interval, before the range started, is new in it. The store
counts (`JourneyStore.new_users`); this module fills every interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from analytics_gateway.backends.base import Interval
from analytics_gateway.behaviour.engagement import interval_starts

# users seen up to the range's end before a query is refused: first-seen is over
# all history, and Elasticsearch reads one bucket per such user
MAX_USERS = 200_000


@dataclass(frozen=True)
class NewUsers:
    start_ms: int
    new: int
    returning: int
    total: int


def per_interval(
    counts: Sequence[tuple[int, int, int]], start_ms: int, end_ms: int, interval: Interval
) -> list[NewUsers]:
    """Every interval of the range, oldest first, zeros where nobody was active."""
    found = {at: (new, total) for at, new, total in counts}
    out = []
    for at in interval_starts(start_ms, end_ms, interval):
        new, total = found.get(at, (0, 0))
        out.append(NewUsers(start_ms=at, new=new, returning=total - new, total=total))
    return out
