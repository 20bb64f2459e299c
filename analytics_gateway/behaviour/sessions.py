"""Sessions: checks of a request, and the figures from a store's session counts.

A session is a run of one user's events (in the range, of the type if given)
where no two consecutive events are more than `gap` apart; its length is
from its first event to its last, so a one-event session lasts 0 seconds. A
session belongs to the UTC interval it started in. Sessions are cut at the
range's edges: events outside it are not looked at.

The store cuts and counts (`JourneyStore.sessions`); this module checks the
request and shapes the answer, so both stores give the same one.
"""

from __future__ import annotations

from dataclasses import dataclass

from analytics_gateway.backends.base import Interval, SessionFigures
from analytics_gateway.behaviour.engagement import filled
from analytics_gateway.durations import parse_duration_ms
from analytics_gateway.errors import BadUserInput, QueryTooComplex

MINUTE_MS = 60_000
MIN_GAP_MS = MINUTE_MS
MAX_GAP_MS = 24 * 60 * MINUTE_MS
# users and events a sessions or paths query may find in its range before it is
# refused: a store may read every event (Elasticsearch does), so both bound it
MAX_USERS = 200_000
MAX_EVENTS = 1_000_000
MAX_RANGE_DAYS = 366
MAX_RANGE_MS = MAX_RANGE_DAYS * 86_400_000


@dataclass(frozen=True)
class Sessions:
    gap_ms: int
    start_ms: int
    end_ms: int
    count: int
    users: int
    average_seconds: float | None
    median_seconds: float | None
    average_events: float | None
    per_interval: list[tuple[int, int]]


def check_gap(gap: str) -> int:
    gap_ms = parse_duration_ms(gap, field="gap")
    if not MIN_GAP_MS <= gap_ms <= MAX_GAP_MS:
        raise BadUserInput("gap: must be from 1m to 24h", field="gap")
    return gap_ms


def check_span(start_ms: int, end_ms: int) -> None:
    """Ranges of at most `MAX_RANGE_DAYS` days: each may mean reading every event."""
    if end_ms - start_ms > MAX_RANGE_MS:
        raise QueryTooComplex(
            f"the range spans more than {MAX_RANGE_DAYS} days; use a shorter range",
            field="from",
        )


def figures(
    found: SessionFigures, gap_ms: int, start_ms: int, end_ms: int, interval: Interval
) -> Sessions:
    n = found.sessions
    return Sessions(
        gap_ms=gap_ms,
        start_ms=start_ms,
        end_ms=end_ms,
        count=n,
        users=found.users,
        average_seconds=found.total_ms / n / 1000 if n else None,
        median_seconds=None if found.median_ms is None else found.median_ms / 1000,
        average_events=found.events / n if n else None,
        per_interval=filled(found.per_interval, start_ms, end_ms, interval),
    )
