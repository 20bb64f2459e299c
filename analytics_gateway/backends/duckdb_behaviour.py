"""Behaviour analytics on the embedded DuckDB store: each answer is ONE SQL query.

A funnel is a chain of CTEs, one per step, each a join and a `GROUP BY`
user (no correlated subquery): step 1 is `min(ts)` per user, its breakdown
value read from `arg_min(metadata, ts)` (an `arg_min` of the value itself
would skip events without it); step i joins the users who reached step i-1
with their step-i events after it and within the window from step 1, and
keeps the first. The users are then counted in SQL: per step (for everyone
and per breakdown group: the `max_groups` values with most users, the rest
as one more), those who reached it and the lower and upper middle of their
delays from the previous step (`quantile_disc` of the delays and of their
negation), so nothing per user leaves the database.

Periods are integers so the query stays in integer arithmetic: a day is
`ts // 86400000`; a week is `(day + 3) // 7`, which starts on Mondays (the
epoch's day 0 was a Thursday). A user's cohort is `min(period)` over their
events in the range, a `GROUP BY` user over the distinct (user, period)
pairs joined back to them (a window function partitioned by user sorts
them, and takes half as long again); the matrix is then one `GROUP BY` over
(cohort, period - cohort).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import duckdb

from analytics_gateway.backends.base import (
    FunnelCounts,
    FunnelQuery,
    FunnelTally,
    RetentionQuery,
)
from analytics_gateway.backends.duckdb_tables import EventsOf, on_events
from analytics_gateway.errors import QueryTooComplex

DAY_MS = 86_400_000
Rows = list[tuple[Any, ...]]
Run = Callable[[Callable[[duckdb.DuckDBPyConnection], Rows]], Awaitable[Rows]]

# the type filter is left out of the text when there is none: `($type IS NULL OR ...)`
# with a parameter would be evaluated on every row
_RETENTION = """
WITH active AS (
    SELECT user_id, (ts // 86400000 + $offset) // $width AS p
    FROM __events__
    WHERE tenant = $tenant AND ts >= $start AND ts < $end AND user_id IS NOT NULL{type}
    GROUP BY ALL
), cohorts AS (
    SELECT user_id, min(p) AS c FROM active GROUP BY user_id
)
SELECT c, p - c AS k, count(*) AS users
FROM active JOIN cohorts USING (user_id) WHERE p - c < $periods
GROUP BY c, k ORDER BY c, k
"""


def _funnel_sql(steps: int, breakdown: bool) -> str:
    """Rows (group, value, then users, lower and upper middle delay of each step): group
    NULL for everyone, 1.. for the breakdown's groups (the last may be "the rest")."""
    types = ", ".join(f"$s{i}" for i in range(steps))
    columns = "user_id, type, ts, metadata" if breakdown else "user_id, type, ts"
    value = "json_extract_string(arg_min(metadata, ts), $path)" if breakdown else "NULL"
    ctes = [
        f"ev AS (SELECT {columns} FROM __events__ WHERE tenant = $tenant AND ts >= $start "
        f"AND ts < $end AND user_id IS NOT NULL AND type IN ({types}))",
        f"t0 AS (SELECT user_id, min(ts) AS t, {value} AS b FROM ev WHERE type = $s0 "
        "GROUP BY user_id)",
    ]
    for i in range(1, steps):
        ctes.append(
            f"t{i} AS (SELECT p.user_id, min(e.ts) AS t FROM t{i - 1} p "
            + ("" if i == 1 else "JOIN t0 f ON f.user_id = p.user_id ")
            + f"JOIN ev e ON e.user_id = p.user_id AND e.type = $s{i} AND e.ts > p.t "
            f"AND e.ts <= {'p' if i == 1 else 'f'}.t + $within GROUP BY p.user_id)"
        )
    joins = " ".join(f"LEFT JOIN t{i} ON t{i}.user_id = t0.user_id" for i in range(1, steps))
    times = ", ".join(f"t{i}.t AS t{i}" for i in range(steps))
    ctes.append(f"users AS (SELECT t0.b, {times} FROM t0 {joins})")
    counts = ["count(*)", "NULL", "NULL"]
    for i in range(1, steps):
        delay = f"t{i} - t{i - 1}"
        counts += [
            f"count(t{i})",
            f"quantile_disc({delay}, 0.5)",
            f"-quantile_disc(-({delay}), 0.5)",
        ]
    figures = ", ".join(counts)
    sql = f"WITH {', '.join(ctes)} "
    if not breakdown:
        return sql + f"SELECT NULL AS grp, NULL AS b, {figures} FROM users"
    return sql + (
        # groups by users, then value (NULL last); past `max_groups`, one group more
        ", ranked AS (SELECT b, least(row_number() OVER (ORDER BY count(*) DESC, b IS NULL, b), "
        "$groups + 1) AS g FROM users GROUP BY b) "
        "SELECT CASE WHEN grouping(r.g) = 0 THEN r.g END AS grp, "
        "CASE WHEN grouping(r.g) = 0 AND r.g <= $groups THEN any_value(u.b) END AS b, "
        f"{figures} FROM users u JOIN ranked r ON u.b IS NOT DISTINCT FROM r.b "
        "GROUP BY GROUPING SETS ((), (r.g))"
    )


def _counts(steps: int, row: tuple[Any, ...]) -> FunnelCounts:
    users = [int(row[3 * i]) for i in range(steps)]
    middles: list[tuple[int, int] | None] = [None] * steps
    for i in range(1, steps):
        low, high = row[3 * i + 1], row[3 * i + 2]
        if low is not None:
            middles[i] = (int(low), int(high))
    return FunnelCounts(users, middles)


def _tally(steps: int, groups: int, rows: Rows) -> FunnelTally:
    overall = FunnelCounts([0] * steps, [None] * steps)
    found: dict[int, tuple[str | None, FunnelCounts]] = {}
    for row in rows:
        if row[0] is None:
            overall = _counts(steps, row[2:])
        else:
            found[int(row[0])] = (row[1], _counts(steps, row[2:]))
    kept = [found[g] for g in sorted(found) if g <= groups]
    other = found.get(groups + 1)
    return FunnelTally(overall, kept, None if other is None else other[1])


class DuckDBBehaviour:
    """Implements `BehaviourStore` through the store's own pool (`run`)."""

    def __init__(self, run: Run, events_of: EventsOf) -> None:
        self._run = run
        self._events_of = events_of

    async def retention(self, query: RetentionQuery) -> list[tuple[int, int, int]]:
        width = 7 if query.week else 1
        params = {
            "offset": 3 if query.week else 0,
            "width": width,
            "tenant": query.tenant,
            "start": query.start_ms,
            "end": query.end_ms,
            "periods": query.periods,
        }
        sql = _RETENTION.format(type="" if query.event_type is None else " AND type = $type")
        sql = on_events(sql, self._events_of(query.tenant))
        if query.event_type is not None:
            params["type"] = query.event_type

        def read(cur: duckdb.DuckDBPyConnection) -> Rows:
            return cur.execute(sql, params).fetchall()

        rows = await self._run(read)
        # the scan is bounded by the range; the answer by the users it found
        if sum(int(r[2]) for r in rows if r[1] == 0) > query.max_users:
            raise QueryTooComplex(f"more than {query.max_users} users; use a shorter range")
        offset_ms = 3 * DAY_MS if query.week else 0
        return [(int(c) * width * DAY_MS - offset_ms, int(k), int(n)) for c, k, n in rows]

    async def funnel(self, query: FunnelQuery) -> FunnelTally:
        steps = len(query.steps)
        params: dict[str, Any] = {
            "tenant": query.tenant,
            "start": query.start_ms,
            "end": query.end_ms,
            "within": query.within_ms,
        }
        params.update({f"s{i}": step for i, step in enumerate(query.steps)})
        if query.breakdown is not None:
            params["path"] = f'$."{query.breakdown}"'
            params["groups"] = query.max_groups
        sql = on_events(
            _funnel_sql(steps, query.breakdown is not None), self._events_of(query.tenant)
        )

        def read(cur: duckdb.DuckDBPyConnection) -> Rows:
            return cur.execute(sql, params).fetchall()

        tally = _tally(steps, query.max_groups, await self._run(read))
        # the answer is a few counts; the bound keeps the work in line with the API's
        if tally.overall.users[0] > query.max_users:
            raise QueryTooComplex(f"more than {query.max_users} users; use a shorter range")
        return tally
