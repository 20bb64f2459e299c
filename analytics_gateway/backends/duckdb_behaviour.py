"""Behaviour analytics on the embedded DuckDB store: each answer is ONE SQL query.

A funnel is a chain of CTEs, one per step: step 1 is `min(ts)` per user, its
breakdown value read from `arg_min(metadata, ts)` (an `arg_min` of the value
itself would skip events without it); step i is a correlated `min(ts)` of the
step's events after step i-1 and within the window from step 1, NULL when
there is none (and so for every later step).

Periods are integers so the query stays in integer arithmetic: a day is
`ts // 86400000`; a week is `(day + 3) // 7`, which starts on Mondays (the
epoch's day 0 was a Thursday). A user's cohort is `min(period)` over their
events in the range, a window function over the distinct (user, period)
pairs; the matrix is then one `GROUP BY` over (cohort, period - cohort).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import duckdb

from analytics_gateway.backends.base import FunnelQuery, RetentionQuery
from analytics_gateway.errors import QueryTooComplex

DAY_MS = 86_400_000
Rows = list[tuple[Any, ...]]
Run = Callable[[Callable[[duckdb.DuckDBPyConnection], Rows]], Awaitable[Rows]]

_RETENTION = """
WITH active AS (
    SELECT DISTINCT user_id, (ts // 86400000 + $offset) // $width AS p
    FROM events
    WHERE tenant = $tenant AND ts >= $start AND ts < $end AND user_id IS NOT NULL
      AND ($type IS NULL OR type = $type)
), cohorts AS (
    SELECT p, min(p) OVER (PARTITION BY user_id) AS c FROM active
)
SELECT c, p - c AS k, count(*) AS users
FROM cohorts WHERE p - c < $periods
GROUP BY c, k ORDER BY c, k
"""


class DuckDBBehaviour:
    """Implements `BehaviourStore` through the store's own pool (`run`)."""

    def __init__(self, run: Run) -> None:
        self._run = run

    async def retention(self, query: RetentionQuery) -> list[tuple[int, int, int]]:
        width = 7 if query.week else 1
        params = {
            "offset": 3 if query.week else 0,
            "width": width,
            "tenant": query.tenant,
            "start": query.start_ms,
            "end": query.end_ms,
            "type": query.event_type,
            "periods": query.periods,
        }

        def read(cur: duckdb.DuckDBPyConnection) -> Rows:
            return cur.execute(_RETENTION, params).fetchall()

        rows = await self._run(read)
        # the scan is bounded by the range; the answer by the users it found
        if sum(int(r[2]) for r in rows if r[1] == 0) > query.max_users:
            raise QueryTooComplex(f"more than {query.max_users} users; use a shorter range")
        offset_ms = 3 * DAY_MS if query.week else 0
        return [(int(c) * width * DAY_MS - offset_ms, int(k), int(n)) for c, k, n in rows]

    async def funnel(self, query: FunnelQuery) -> list[tuple[str | None, list[int]]]:
        params: dict[str, Any] = {
            "tenant": query.tenant,
            "start": query.start_ms,
            "end": query.end_ms,
            "within": query.within_ms,
            "path": f'$."{query.breakdown}"' if query.breakdown is not None else None,
            "limit": query.max_users + 1,
        }
        ctes = [
            "ev AS (SELECT user_id, type, ts, metadata FROM events WHERE tenant = $tenant "
            "AND ts >= $start AND ts < $end AND user_id IS NOT NULL AND type IN ("
            + ", ".join(f"$s{i}" for i in range(len(query.steps)))
            + "))",
            "f0 AS (SELECT user_id, min(ts) AS t0, "
            "json_extract_string(arg_min(metadata, ts), $path) AS b "
            "FROM ev WHERE type = $s0 GROUP BY user_id ORDER BY user_id LIMIT $limit)",
        ]
        for i, step in enumerate(query.steps):
            params[f"s{i}"] = step
            if i == 0:
                continue
            ctes.append(
                f"f{i} AS (SELECT f.*, (SELECT min(e.ts) FROM ev e WHERE e.user_id = f.user_id "
                f"AND e.type = $s{i} AND e.ts > f.t{i - 1} AND e.ts <= f.t0 + $within) AS t{i} "
                f"FROM f{i - 1} f)"
            )
        columns = ", ".join(f"t{i}" for i in range(len(query.steps)))
        sql = f"WITH {', '.join(ctes)} SELECT b, {columns} FROM f{len(query.steps) - 1}"

        def read(cur: duckdb.DuckDBPyConnection) -> Rows:
            return cur.execute(sql, params).fetchall()

        rows = await self._run(read)
        if len(rows) > query.max_users:
            raise QueryTooComplex(f"more than {query.max_users} users; use a shorter range")
        out: list[tuple[str | None, list[int]]] = []
        for row in rows:
            times: list[int] = []
            for t in row[1:]:
                if t is None:
                    break
                times.append(int(t))
            out.append((row[0], times))
        return out
