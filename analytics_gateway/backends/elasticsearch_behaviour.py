"""Behaviour analytics on Elasticsearch: aggregations, finished in Python.

Retention is ONE `composite` aggregation over (user_id, UTC period: a day,
or a `calendar_interval` week, which starts on Monday as the cohorts do) with
`size` 10,000 buckets a page, so it costs (active user-periods // 10,000) + 1
`_search` requests (one for fewer than 10,000 user-periods), each counted as
`count_events`. Composite is used because `osmem-server`, which the tests
run against, supports it, and because unlike a `terms` aggregation with a
`date_histogram` under it, it pages instead of failing on
`search.max_buckets`. Buckets arrive ordered by user, so each user's first
period (their cohort) and active periods are known when the user's last bucket
has been read; counting stops with `QueryTooComplex` past `max_users`.

A funnel needs each user's step events in time order ("the first step-i
event after step i-1"), which no aggregation gives, so it reads them: the
steps' events sorted by (user_id, ts, id), 10,000 a `_search` page with
`search_after`, i.e. (step events // 10,000) + 1 requests (one for fewer
than 10,000), each counted as `query_events`; each user's steps are walked
in Python as the DuckDB query does in SQL, and counted as it counts them
(`FunnelTally`): only each user's step times are kept until the end, for the
medians.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from analytics_gateway.backends.base import (
    FunnelCounts,
    FunnelQuery,
    FunnelTally,
    RetentionQuery,
)
from analytics_gateway.errors import QueryTooComplex

DAY_MS = 86_400_000
PAGE = 10_000
# (tenant, start_ms, end_ms, extra filters, aggs) -> the `_search` response
Aggregate = Callable[[str, int, int, list[dict[str, Any]], dict[str, Any]], Awaitable[Any]]
# (tenant, start_ms, end_ms, extra filters, sort, search_after, size) -> the page's hits
Hits = Callable[
    [str, int, int, list[dict[str, Any]], list[Any], list[Any] | None, int],
    Awaitable[list[dict[str, Any]]],
]
_FUNNEL_SORT: list[Any] = [{"user_id": "asc"}, {"ts": "asc"}, {"id": "asc"}]


def _text(value: Any) -> str | None:
    """A metadata value as DuckDB's `json_extract_string` gives it."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def _walk(query: FunnelQuery, events: list[tuple[int, str]]) -> list[int]:
    """The times of the steps one user reached; `events` in time order, step 1 first."""
    times = [events[0][0]]
    for step in query.steps[1:]:
        found = next((ts for ts, kind in events if kind == step and ts > times[-1]), None)
        if found is None or found > times[0] + query.within_ms:
            break
        times.append(found)
    return times


def _middles(delays: list[int]) -> tuple[int, int] | None:
    if not delays:
        return None
    delays.sort()
    return delays[(len(delays) - 1) // 2], delays[len(delays) // 2]


def _counts(steps: int, users: list[list[int]]) -> FunnelCounts:
    """Per step, from each user's step times (the steps they reached, in order)."""
    reached = [sum(1 for times in users if len(times) > i) for i in range(steps)]
    middles: list[tuple[int, int] | None] = [None]
    for i in range(1, steps):
        middles.append(_middles([times[i] - times[i - 1] for times in users if len(times) > i]))
    return FunnelCounts(reached, middles)


def _tally(query: FunnelQuery, users: list[tuple[str | None, list[int]]]) -> FunnelTally:
    """As the DuckDB query counts: everyone, then the `max_groups` values with most
    users (then by value, None last), then the rest together."""
    steps = len(query.steps)
    overall = _counts(steps, [times for _, times in users])
    if query.breakdown is None:
        return FunnelTally(overall, [], None)
    by_value: dict[str | None, list[list[int]]] = {}
    for value, times in users:
        by_value.setdefault(value, []).append(times)
    order = sorted(by_value, key=lambda v: (-len(by_value[v]), v is None, v or ""))
    kept, rest = order[: query.max_groups], order[query.max_groups :]
    groups = [(value, _counts(steps, by_value[value])) for value in kept]
    other = _counts(steps, [t for v in rest for t in by_value[v]]) if rest else None
    return FunnelTally(overall, groups, other)


def _period(day: int, week: bool) -> int:
    """A day's period number: the day, or its week counted from Monday (day 0 is a Thursday)."""
    return (day + 3) // 7 if week else day


def _period_start_ms(period: int, week: bool) -> int:
    return (period * 7 - 3) * DAY_MS if week else period * DAY_MS


class ElasticsearchBehaviour:
    """Implements `BehaviourStore` through the event store's client and breaker."""

    def __init__(self, aggregate: Aggregate, hits: Hits) -> None:
        self._aggregate = aggregate
        self._hits = hits

    async def retention(self, query: RetentionQuery) -> list[tuple[int, int, int]]:
        filters: list[dict[str, Any]] = []
        if query.event_type is not None:
            filters.append({"term": {"type": query.event_type}})
        # a week's bucket holds a user's days of it: 7 times fewer buckets (and pages)
        interval = {"calendar_interval": "1w"} if query.week else {"fixed_interval": "1d"}
        sources = [
            {"u": {"terms": {"field": "user_id"}}},
            {"d": {"date_histogram": {"field": "ts", **interval}}},
        ]
        counts: Counter[tuple[int, int]] = Counter()
        users = 0
        user: str | None = None
        periods: set[int] = set()

        def finish() -> None:
            if user is None:
                return
            cohort = min(periods)
            for p in periods:
                if p - cohort < query.periods:
                    counts[(cohort, p - cohort)] += 1

        after: dict[str, Any] | None = None
        while True:
            composite: dict[str, Any] = {"size": PAGE, "sources": sources}
            if after is not None:
                composite["after"] = after
            response = await self._aggregate(
                query.tenant, query.start_ms, query.end_ms, filters, {"a": {"composite": composite}}
            )
            result = (response.get("aggregations") or {}).get("a") or {}
            buckets = result.get("buckets") or []
            for bucket in buckets:
                key = bucket["key"]
                if key["u"] != user:
                    finish()
                    user, periods = str(key["u"]), set()
                    users += 1
                    if users > query.max_users:
                        raise QueryTooComplex(
                            f"more than {query.max_users} users; use a shorter range"
                        )
                periods.add(_period(int(key["d"]) // DAY_MS, query.week))
            after = result.get("after_key")
            if len(buckets) < PAGE or after is None:
                break
        finish()
        return [(_period_start_ms(c, query.week), k, n) for (c, k), n in sorted(counts.items())]

    async def funnel(self, query: FunnelQuery) -> FunnelTally:
        filters: list[dict[str, Any]] = [
            {"terms": {"type": list(dict.fromkeys(query.steps))}},
            {"exists": {"field": "user_id"}},
        ]
        out: list[tuple[str | None, list[int]]] = []
        user: str | None = None
        events: list[tuple[int, str]] = []  # the user's, from their first step-1 event
        value: str | None = None

        def finish() -> None:
            if events:
                out.append((value, _walk(query, events)))

        after: list[Any] | None = None
        while True:
            page = await self._hits(
                query.tenant, query.start_ms, query.end_ms, filters, _FUNNEL_SORT, after, PAGE
            )
            for hit in page:
                source = hit["_source"]
                if source["user_id"] != user:
                    finish()
                    user, events, value = str(source["user_id"]), [], None
                if not events:
                    if source["type"] != query.steps[0]:
                        continue
                    if len(out) >= query.max_users:
                        raise QueryTooComplex(
                            f"more than {query.max_users} users; use a shorter range"
                        )
                    if query.breakdown is not None:
                        value = _text((source.get("metadata") or {}).get(query.breakdown))
                events.append((int(source["ts"]), str(source["type"])))
            if len(page) < PAGE:
                break
            after = page[-1]["sort"]
        finish()
        return _tally(query, out)
