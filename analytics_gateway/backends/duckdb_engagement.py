"""Engagement on the embedded DuckDB store: each answer is ONE SQL query.

Intervals are UTC calendar periods from `date_trunc` on a `TIMESTAMP` (no
time zone, so the session's zone never shifts a bucket); weeks are ISO weeks,
from Monday. `GROUPING SETS` gives the per-interval counts and the whole
range's distinct users in the same statement. Events without a user are not
users; for top values they still count as events.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import duckdb

from analytics_gateway.backends.base import ActiveUsersQuery, Interval, TopItemsQuery
from analytics_gateway.backends.duckdb_tables import EventsOf, on_events

Rows = list[tuple[Any, ...]]
Run = Callable[[Callable[[duckdb.DuckDBPyConnection], Rows]], Awaitable[Rows]]

_TRUNC: dict[Interval, str] = {"day": "day", "week": "week", "month": "month"}

_ACTIVE = """
SELECT epoch_ms(date_trunc('{unit}', make_timestamp(ts * 1000))) AS b,
       count(DISTINCT user_id) AS users
FROM __events__
WHERE tenant = $tenant AND ts >= $start AND ts < $end AND user_id IS NOT NULL
  AND ($type IS NULL OR type = $type)
GROUP BY GROUPING SETS ((b), ())
ORDER BY b NULLS FIRST
"""

_TOP = """
SELECT v, count(*) AS plays, count(DISTINCT user_id) AS users
FROM (SELECT json_extract_string(metadata, $path) AS v, user_id FROM __events__
      WHERE tenant = $tenant AND type = $type AND ts >= $start AND ts < $end)
WHERE v IS NOT NULL
GROUP BY v
ORDER BY {measure} DESC, v
LIMIT $limit
"""


def _path(key: str) -> str:
    """The JSON path of a top-level key, as the store's `groupBy` writes it."""
    return "$." + json.dumps(key)


class DuckDBEngagement:
    """Implements `EngagementStore` through the store's own pool (`run`)."""

    def __init__(self, run: Run, events_of: EventsOf) -> None:
        self._run = run
        self._events_of = events_of

    async def active_users(self, query: ActiveUsersQuery) -> tuple[list[tuple[int, int]], int]:
        sql = on_events(_ACTIVE.format(unit=_TRUNC[query.interval]), self._events_of(query.tenant))
        params = {
            "tenant": query.tenant,
            "start": query.start_ms,
            "end": query.end_ms,
            "type": query.event_type,
        }

        def read(cur: duckdb.DuckDBPyConnection) -> Rows:
            return cur.execute(sql, params).fetchall()

        rows = await self._run(read)
        total = next((int(n) for b, n in rows if b is None), 0)
        return [(int(b), int(n)) for b, n in rows if b is not None], total

    async def top_items(self, query: TopItemsQuery) -> list[tuple[str, int, int]]:
        measure = "users" if query.by_users else "plays"
        sql = on_events(_TOP.format(measure=measure), self._events_of(query.tenant))
        params = {
            "path": _path(query.key),
            "tenant": query.tenant,
            "type": query.event_type,
            "start": query.start_ms,
            "end": query.end_ms,
            "limit": query.limit,
        }

        def read(cur: duckdb.DuckDBPyConnection) -> Rows:
            return cur.execute(sql, params).fetchall()

        return [(str(v), int(p), int(u)) for v, p, u in await self._run(read)]
