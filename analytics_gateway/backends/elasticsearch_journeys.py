"""Sessions, next-event paths and new vs returning users on Elasticsearch.

Sessions and paths need each user's events in time order, which no
aggregation gives (a `scripted_metric` could, but is not part of the API
`osmem-server`, which the tests run against, serves, and is often disabled),
so both read them as the funnel does: the range's events sorted by (user_id,
ts, id), 10,000 a `_search` page with `search_after`, i.e.
ceil(events / 10,000) requests (one for up to 10,000 events), each counted
as `query_events`; each user's events are then walked in Python as the
DuckDB query does in SQL. Sessions read only the events of the type (if
given); paths read every event of the range, since any type can come next.
Reading stops with `QueryTooComplex` past `max_events` events (or past
`max_users` users), so a request costs at most 100 pages.

New vs returning users is ONE `composite` aggregation over `user_id` (10,000
buckets a page: ceil(users / 10,000) requests, each counted as
`count_events`) over the tenant's whole history up to the range's end; each
user bucket holds the `min` of ts (their first event ever) and, under a
`filter` on the range, a `date_histogram` of the intervals they were active
in (`calendar_interval` 1d, 1w from Monday, 1M; UTC).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from analytics_gateway.backends.base import (
    Interval,
    NewUsersQuery,
    NextEventsQuery,
    SessionFigures,
    SessionsQuery,
)
from analytics_gateway.behaviour.engagement import interval_start
from analytics_gateway.behaviour.paths import order_key
from analytics_gateway.errors import QueryTooComplex

PAGE = 10_000
# (tenant, start_ms, end_ms, extra filters, aggs) -> the `_search` response
Aggregate = Callable[[str, int, int, list[dict[str, Any]], dict[str, Any]], Awaitable[Any]]
# (tenant, start_ms, end_ms, extra filters, sort, search_after, size) -> the page's hits
Hits = Callable[
    [str, int, int, list[dict[str, Any]], list[Any], list[Any] | None, int],
    Awaitable[list[dict[str, Any]]],
]
_SORT: list[Any] = [{"user_id": "asc"}, {"ts": "asc"}, {"id": "asc"}]
_CALENDAR: dict[Interval, str] = {"day": "1d", "week": "1w", "month": "1M"}


def _too_many(what: str, bound: int) -> QueryTooComplex:
    return QueryTooComplex(f"more than {bound} {what} in the range; use a shorter range")


class ElasticsearchJourneys:
    """Implements `JourneyStore` through the event store's client and breaker."""

    def __init__(self, aggregate: Aggregate, hits: Hits) -> None:
        self._aggregate = aggregate
        self._hits = hits

    async def _users(
        self, tenant: str, start: int, end: int, filters: list[dict[str, Any]], max_events: int
    ) -> AsyncIterator[tuple[str, list[tuple[int, str]]]]:
        """Each user's events in time order, as (user, [(ts, type)]), page by page."""
        user: str | None = None
        events: list[tuple[int, str]] = []
        read = 0
        after: list[Any] | None = None
        while True:
            page = await self._hits(tenant, start, end, filters, _SORT, after, PAGE)
            read += len(page)
            if read > max_events:
                raise _too_many("events", max_events)
            for hit in page:
                source = hit["_source"]
                if source["user_id"] != user:
                    if user is not None:
                        yield user, events
                    user, events = str(source["user_id"]), []
                events.append((int(source["ts"]), str(source["type"])))
            if len(page) < PAGE:
                break
            after = page[-1]["sort"]
        if user is not None:
            yield user, events

    async def sessions(self, query: SessionsQuery) -> SessionFigures:
        filters: list[dict[str, Any]] = [{"exists": {"field": "user_id"}}]
        if query.event_type is not None:
            filters.append({"term": {"type": query.event_type}})
        lengths: list[int] = []
        per_interval: Counter[int] = Counter()
        users = events = 0
        async for _, timed in self._users(
            query.tenant, query.start_ms, query.end_ms, filters, query.max_events
        ):
            users += 1
            if users > query.max_users:
                raise _too_many("users", query.max_users)
            events += len(timed)
            first = last = timed[0][0]
            for ts, _ in timed[1:]:
                if ts - last > query.gap_ms:
                    lengths.append(last - first)
                    per_interval[interval_start(first, query.interval)] += 1
                    first = ts
                last = ts
            lengths.append(last - first)
            per_interval[interval_start(first, query.interval)] += 1
        return SessionFigures(
            sessions=len(lengths),
            users=users,
            events=events,
            total_ms=sum(lengths),
            median_ms=float(statistics.median(lengths)) if lengths else None,
            per_interval=sorted(per_interval.items()),
        )

    async def next_events(
        self, query: NextEventsQuery
    ) -> tuple[int, list[tuple[str | None, int, int]]]:
        filters: list[dict[str, Any]] = [{"exists": {"field": "user_id"}}]
        moves: Counter[str | None] = Counter()
        movers: dict[str | None, int] = Counter()
        users = 0
        async for _, timed in self._users(
            query.tenant, query.start_ms, query.end_ms, filters, query.max_events
        ):
            mine: set[str | None] = set()
            for i, (ts, kind) in enumerate(timed):
                if kind != query.after:
                    continue
                following = timed[i + 1] if i + 1 < len(timed) else None
                within = following is not None and following[0] - ts <= query.within_ms
                step = following[1] if following is not None and within else None
                moves[step] += 1
                mine.add(step)
            if mine:
                users += 1
                if users > query.max_users:
                    raise _too_many("users", query.max_users)
                for step in mine:
                    movers[step] += 1
        ranked = sorted(moves.items(), key=lambda item: order_key(*item))[: query.limit]
        return sum(moves.values()), [(kind, n, movers[kind]) for kind, n in ranked]

    async def new_users(self, query: NewUsersQuery) -> list[tuple[int, int, int]]:
        aggs_of_user = {
            "first": {"min": {"field": "ts"}},
            "range": {
                "filter": {"range": {"ts": {"gte": query.start_ms}}},
                "aggs": {
                    "t": {
                        "date_histogram": {
                            "field": "ts",
                            "calendar_interval": _CALENDAR[query.interval],
                            "min_doc_count": 1,
                        }
                    }
                },
            },
        }
        filters: list[dict[str, Any]] = [{"exists": {"field": "user_id"}}]
        new: Counter[int] = Counter()
        total: Counter[int] = Counter()
        users = 0
        after: dict[str, Any] | None = None
        while True:
            composite: dict[str, Any] = {
                "size": PAGE,
                "sources": [{"u": {"terms": {"field": "user_id"}}}],
            }
            if after is not None:
                composite["after"] = after
            response = await self._aggregate(
                query.tenant,
                0,
                query.end_ms,
                filters,
                {"a": {"composite": composite, "aggs": aggs_of_user}},
            )
            result = (response.get("aggregations") or {}).get("a") or {}
            buckets = result.get("buckets") or []
            users += len(buckets)
            if users > query.max_users:
                raise QueryTooComplex(
                    f"more than {query.max_users} users up to the range's end; "
                    "first-seen is over all of them"
                )
            for bucket in buckets:
                first = interval_start(int(bucket["first"]["value"]), query.interval)
                for active in bucket["range"]["t"]["buckets"]:
                    if not active["doc_count"]:
                        continue
                    at = int(active["key"])
                    total[at] += 1
                    new[at] += at == first
            after = result.get("after_key")
            if len(buckets) < PAGE or after is None:
                break
        return [(at, new[at], total[at]) for at in sorted(total)]
