"""Engagement: active users per UTC period, stickiness, and top metadata values.

The stores count (`EngagementStore`); this module checks a request and shapes
the answer, so both stores give the same one.

Active users: the distinct users with at least one event (of the type, if
given) in each UTC calendar interval (day, ISO week from Monday, month) that
the range touches, oldest first, intervals without users as 0. The first and
last intervals count only the part of them inside the range; each is named by
its calendar start, which may lie before the range's start.

Stickiness (DAU/MAU), exactly: the window is the last `STICKINESS_DAYS` UTC
days of the range, i.e. from the start of the day `STICKINESS_DAYS - 1` days
before the day of the range's last instant (or the range's start, if later)
to the range's end. DAU is the average over the window's days (partial days
at either end count as days; days without users as 0) of each day's distinct
users; MAU is the distinct users over the whole window; stickiness is
DAU / MAU, null when the window has no users.

Users are counted by the ids the store holds: with pseudonymised user ids,
one pseudonym per user and tenant, so the counts are the same; a user with
events from before and after pseudonymisation was turned on counts twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from analytics_gateway.backends.base import Interval
from analytics_gateway.errors import BadUserInput, QueryTooComplex

DAY_MS = 86_400_000
WEEK_MS = 7 * DAY_MS
MAX_FIRST = 100
# intervals one activeUsers answer may hold: over 27 years of days
MAX_INTERVALS = 10_000
STICKINESS_DAYS = 30
DEFAULT_RANGE_MS = 30 * DAY_MS
_MONDAY_MS = 4 * DAY_MS  # 1970-01-05, the first Monday after the epoch


@dataclass(frozen=True)
class Stickiness:
    start_ms: int
    end_ms: int
    days: int
    daily_active_users: list[int]
    average_daily: float
    monthly: int
    ratio: float | None


INTERVALS: dict[str, Interval] = {"day": "day", "week": "week", "month": "month"}


def check_interval(name: str) -> Interval:
    interval = INTERVALS.get(name)
    if interval is None:
        raise BadUserInput(
            f"interval: {name!r} is not one of {', '.join(INTERVALS)}", field="interval"
        )
    return interval


def check_first(first: int) -> int:
    if not 1 <= first <= MAX_FIRST:
        raise BadUserInput(f"first: must be from 1 to {MAX_FIRST}", field="first")
    return first


def interval_start(ts: int, interval: Interval) -> int:
    """The UTC calendar start (epoch ms) of the interval holding `ts`."""
    if interval == "day":
        return ts // DAY_MS * DAY_MS
    if interval == "week":
        return (ts - _MONDAY_MS) // WEEK_MS * WEEK_MS + _MONDAY_MS
    moment = datetime.fromtimestamp(ts / 1000, UTC)
    return int(datetime(moment.year, moment.month, 1, tzinfo=UTC).timestamp() * 1000)


def next_start(start: int, interval: Interval) -> int:
    if interval == "day":
        return start + DAY_MS
    if interval == "week":
        return start + WEEK_MS
    moment = datetime.fromtimestamp(start / 1000, UTC)
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return int(datetime(year, month, 1, tzinfo=UTC).timestamp() * 1000)


def interval_starts(start_ms: int, end_ms: int, interval: Interval) -> list[int]:
    """Starts of the intervals [start_ms, end_ms) touches; QUERY_TOO_COMPLEX past
    `MAX_INTERVALS`."""
    width = {"day": DAY_MS, "week": WEEK_MS, "month": 28 * DAY_MS}[interval]
    if (end_ms - start_ms) // width > MAX_INTERVALS:
        raise QueryTooComplex(
            f"the range spans more than {MAX_INTERVALS} intervals; "
            "use a shorter range or a longer interval",
            field="interval",
        )
    starts = []
    at = interval_start(start_ms, interval)
    while at < end_ms:
        starts.append(at)
        at = next_start(at, interval)
    return starts


def filled(
    counts: Sequence[tuple[int, int]], start_ms: int, end_ms: int, interval: Interval
) -> list[tuple[int, int]]:
    """(interval start, users) for every interval of the range, 0 where the store had none."""
    found = dict(counts)
    return [(at, found.get(at, 0)) for at in interval_starts(start_ms, end_ms, interval)]


def stickiness_window(start_ms: int, end_ms: int) -> tuple[int, int]:
    """[start, end) of the last `STICKINESS_DAYS` UTC days of the range."""
    last_day = interval_start(end_ms - 1, "day")
    return max(start_ms, last_day - (STICKINESS_DAYS - 1) * DAY_MS), end_ms


def stickiness(
    daily: Sequence[tuple[int, int]], monthly: int, start_ms: int, end_ms: int
) -> Stickiness:
    """DAU/MAU over the window [start_ms, end_ms) from its per-day users and distinct users."""
    days = filled(daily, start_ms, end_ms, "day")
    users = [n for _, n in days]
    average = sum(users) / len(users) if users else 0.0
    return Stickiness(
        start_ms=start_ms,
        end_ms=end_ms,
        days=len(users),
        daily_active_users=users,
        average_daily=average,
        monthly=monthly,
        ratio=average / monthly if monthly else None,
    )
