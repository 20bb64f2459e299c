"""Sessions, next-event paths and new vs returning users on the embedded DuckDB
store: each answer is ONE SQL query.

Sessions: `lag(ts)` over each user's events gives the time since their
previous one; a running `sum` of "more than the gap" marks numbers the
sessions (its default `RANGE` frame gives events at the same instant the same
number, whatever order `lag` saw them in). Sessions are then grouped by user
and number, and counted per interval of their start with `GROUPING SETS`,
the whole range's figures (`median` included) in the same statement.

Paths: `lead(type)`/`lead(ts)` over each user's events ordered by (ts, id)
give each event's successor; the `after` events are grouped by it (NULL when
there is none within the window), the total as a grouping set of its own.

New users: `min(ts)` per user over all of the tenant's history up to the
range's end, joined to the distinct (user, interval) pairs of the range.
Intervals are UTC calendar periods from `date_trunc`, as `duckdb_engagement`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import duckdb

from analytics_gateway.backends.base import (
    Interval,
    NewUsersQuery,
    NextEventsQuery,
    SessionFigures,
    SessionsQuery,
)
from analytics_gateway.backends.duckdb_tables import EventsOf, on_events
from analytics_gateway.errors import QueryTooComplex

Rows = list[tuple[Any, ...]]
Run = Callable[[Callable[[duckdb.DuckDBPyConnection], Rows]], Awaitable[Rows]]

_TRUNC: dict[Interval, str] = {"day": "day", "week": "week", "month": "month"}

_SESSIONS = """
WITH ev AS (
    SELECT user_id, ts, ts - lag(ts) OVER (PARTITION BY user_id ORDER BY ts) AS since
    FROM __events__
    WHERE tenant = $tenant AND ts >= $start AND ts < $end AND user_id IS NOT NULL
      AND ($type IS NULL OR type = $type)
), numbered AS (
    SELECT user_id, ts,
           sum(CASE WHEN since IS NULL OR since > $gap THEN 1 ELSE 0 END)
               OVER (PARTITION BY user_id ORDER BY ts) AS s
    FROM ev
), sessions AS (
    SELECT user_id, min(ts) AS t0, max(ts) - min(ts) AS len, count(*) AS n
    FROM numbered GROUP BY user_id, s
)
SELECT epoch_ms(date_trunc('{unit}', make_timestamp(t0 * 1000))) AS b,
       count(*) AS sessions, count(DISTINCT user_id) AS users, sum(n) AS events,
       sum(len) AS total, median(len) AS mid
FROM sessions
GROUP BY GROUPING SETS ((b), ())
ORDER BY b NULLS FIRST
"""

_NEXT = """
WITH ev AS (
    SELECT user_id, type, ts,
           lead(type) OVER w AS next_type, lead(ts) OVER w AS next_ts
    FROM __events__
    WHERE tenant = $tenant AND ts >= $start AND ts < $end AND user_id IS NOT NULL
    WINDOW w AS (PARTITION BY user_id ORDER BY ts, id)
), moves AS (
    SELECT user_id, CASE WHEN next_ts - ts <= $within THEN next_type END AS next_type
    FROM ev WHERE type = $after
), counted AS (
    SELECT grouping(next_type) AS whole, next_type, count(*) AS n,
           count(DISTINCT user_id) AS users
    FROM moves GROUP BY GROUPING SETS ((next_type), ())
)
SELECT whole, next_type, n, users, (SELECT count(*) FROM ev) AS scanned
FROM counted
ORDER BY whole DESC, n DESC, coalesce(next_type, '(end)')
LIMIT $limit + 1
"""

_NEW = """
WITH seen AS (
    SELECT user_id, min(ts) AS first_ts FROM __events__
    WHERE tenant = $tenant AND ts < $end AND user_id IS NOT NULL
    GROUP BY user_id
), active AS (
    SELECT DISTINCT user_id,
           epoch_ms(date_trunc('{unit}', make_timestamp(ts * 1000))) AS b
    FROM __events__
    WHERE tenant = $tenant AND ts >= $start AND ts < $end AND user_id IS NOT NULL
)
SELECT a.b,
       count(*) FILTER (
           WHERE epoch_ms(date_trunc('{unit}', make_timestamp(s.first_ts * 1000))) = a.b
       ) AS new,
       count(*) AS total,
       (SELECT count(*) FROM seen) AS seen
FROM active a JOIN seen s USING (user_id)
GROUP BY a.b
ORDER BY a.b
"""


def _too_many(what: str, bound: int) -> QueryTooComplex:
    return QueryTooComplex(f"more than {bound} {what} in the range; use a shorter range")


class DuckDBJourneys:
    """Implements `JourneyStore` through the store's own pool (`run`)."""

    def __init__(self, run: Run, events_of: EventsOf) -> None:
        self._run = run
        self._events_of = events_of

    async def _rows(self, sql: str, params: dict[str, Any]) -> Rows:
        sql = on_events(sql, self._events_of(params["tenant"]))

        def read(cur: duckdb.DuckDBPyConnection) -> Rows:
            return cur.execute(sql, params).fetchall()

        return await self._run(read)

    async def sessions(self, query: SessionsQuery) -> SessionFigures:
        rows = await self._rows(
            _SESSIONS.format(unit=_TRUNC[query.interval]),
            {
                "tenant": query.tenant,
                "start": query.start_ms,
                "end": query.end_ms,
                "type": query.event_type,
                "gap": query.gap_ms,
            },
        )
        # the scan is bounded by the range; the answer by what it found
        whole = next((r for r in rows if r[0] is None), None)
        if whole is None or not whole[1]:
            return SessionFigures(0, 0, 0, 0, None, [])
        _, sessions, users, events, total, mid = whole
        if users > query.max_users:
            raise _too_many("users", query.max_users)
        if events > query.max_events:
            raise _too_many("events", query.max_events)
        return SessionFigures(
            sessions=int(sessions),
            users=int(users),
            events=int(events),
            total_ms=int(total),
            median_ms=float(mid),
            per_interval=[(int(r[0]), int(r[1])) for r in rows if r[0] is not None],
        )

    async def next_events(
        self, query: NextEventsQuery
    ) -> tuple[int, list[tuple[str | None, int, int]]]:
        rows = await self._rows(
            _NEXT,
            {
                "tenant": query.tenant,
                "start": query.start_ms,
                "end": query.end_ms,
                "after": query.after,
                "within": query.within_ms,
                "limit": query.limit,
            },
        )
        if not rows or not rows[0][0]:
            return 0, []
        _, _, total, users, scanned = rows[0]
        if scanned > query.max_events:
            raise _too_many("events", query.max_events)
        if users > query.max_users:
            raise _too_many("users", query.max_users)
        return int(total), [(kind, int(n), int(u)) for _, kind, n, u, _ in rows[1:]]

    async def new_users(self, query: NewUsersQuery) -> list[tuple[int, int, int]]:
        rows = await self._rows(
            _NEW.format(unit=_TRUNC[query.interval]),
            {"tenant": query.tenant, "start": query.start_ms, "end": query.end_ms},
        )
        if rows and rows[0][3] > query.max_users:
            raise QueryTooComplex(
                f"more than {query.max_users} users up to the range's end; "
                "first-seen is over all of them"
            )
        return [(int(b), int(new), int(total)) for b, new, total, _ in rows]
