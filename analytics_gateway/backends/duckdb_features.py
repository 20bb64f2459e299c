"""Per-user activity on the embedded DuckDB store: ONE SQL query.

One pass groups the range's events by user (count, first and last time,
distinct UTC days as `ts // 86400000`, events at or after the middle); a
second grouping by (user, type) gives the distinct types and the count of the
most frequent one, joined back per user. Users come ordered by id and at most
`max_users + 1` of them, so a range with too many is refused without reading
them all into Python.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import duckdb

from analytics_gateway.backends.base import UserActivity, UserActivityQuery
from analytics_gateway.backends.duckdb_tables import EventsOf, on_events
from analytics_gateway.errors import QueryTooComplex

Rows = list[tuple[Any, ...]]
Run = Callable[[Callable[[duckdb.DuckDBPyConnection], Rows]], Awaitable[Rows]]

_ACTIVITY = """
WITH ev AS (
    SELECT user_id, type, ts FROM __events__
    WHERE tenant = $tenant AND ts >= $start AND ts < $end AND user_id IS NOT NULL
      AND ($type IS NULL OR type = $type)
), kinds AS (
    SELECT user_id, count(*) AS kinds, max(n) AS top
    FROM (SELECT user_id, type, count(*) AS n FROM ev GROUP BY user_id, type)
    GROUP BY user_id
)
SELECT e.user_id, count(*), min(e.ts), max(e.ts), count(DISTINCT e.ts // 86400000),
       count(*) FILTER (WHERE e.ts >= $middle), any_value(k.kinds), any_value(k.top)
FROM ev e JOIN kinds k ON k.user_id = e.user_id
GROUP BY e.user_id
ORDER BY e.user_id
LIMIT $limit
"""


class DuckDBFeatures:
    """Implements `FeatureStore` through the store's own pool (`run`)."""

    def __init__(self, run: Run, events_of: EventsOf) -> None:
        self._run = run
        self._events_of = events_of

    async def user_activity(self, query: UserActivityQuery) -> list[UserActivity]:
        sql = on_events(_ACTIVITY, self._events_of(query.tenant))
        params = {
            "tenant": query.tenant,
            "start": query.start_ms,
            "end": query.end_ms,
            "type": query.event_type,
            "middle": query.middle_ms,
            "limit": query.max_users + 1,
        }

        def read(cur: duckdb.DuckDBPyConnection) -> Rows:
            return cur.execute(sql, params).fetchall()

        rows = await self._run(read)
        if len(rows) > query.max_users:
            raise QueryTooComplex(f"more than {query.max_users} users; use a shorter range")
        return [
            UserActivity(str(u), int(n), int(lo), int(hi), int(d), int(late), int(k), int(top))
            for u, n, lo, hi, d, late, k, top in rows
        ]
