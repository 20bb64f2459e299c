"""Engagement on Elasticsearch: each answer is ONE `_search` of aggregations.

Active users: a `date_histogram` (`calendar_interval` 1d, 1w from Monday,
1M; UTC) with a `cardinality` of `user_id` under it, beside one `cardinality`
over the whole range. Top values: a `terms` aggregation on `dims` restricted
to the key's prefix (see `elasticsearch_mapping`), ordered by `_count` or by
the `cardinality` sub-aggregation, then by key (the prefix is the same for
every term, so by value).

`cardinality` is approximate (HyperLogLog++) above its `precision_threshold`;
it is set to the maximum, 40,000, so distinct-user counts are exact up to
40,000 users per bucket (or per value) and within a few percent beyond.
`terms` asks each shard for `SHARD_SIZE` values: with one monthly index per
month, counts are exact while a tenant has at most that many distinct values
of the key in each month of the range; beyond, they carry the usual `terms`
error. Each `_search` counts as a `count_events` call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from analytics_gateway.backends.base import ActiveUsersQuery, Interval, TopItemsQuery
from analytics_gateway.backends.elasticsearch_mapping import dim_prefix

PRECISION_THRESHOLD = 40_000  # the most Elasticsearch allows: exact below it
SHARD_SIZE = 10_000
# (tenant, start_ms, end_ms, extra filters, aggs) -> the `_search` response
Aggregate = Callable[[str, int, int, list[dict[str, Any]], dict[str, Any]], Awaitable[Any]]

_CALENDAR: dict[Interval, str] = {"day": "1d", "week": "1w", "month": "1M"}
_USERS: dict[str, Any] = {
    "cardinality": {"field": "user_id", "precision_threshold": PRECISION_THRESHOLD}
}


class ElasticsearchEngagement:
    """Implements `EngagementStore` through the event store's client and breaker."""

    def __init__(self, aggregate: Aggregate) -> None:
        self._aggregate = aggregate

    async def active_users(self, query: ActiveUsersQuery) -> tuple[list[tuple[int, int]], int]:
        filters: list[dict[str, Any]] = [{"exists": {"field": "user_id"}}]
        if query.event_type is not None:
            filters.append({"term": {"type": query.event_type}})
        aggs = {
            "t": {
                "date_histogram": {
                    "field": "ts",
                    "calendar_interval": _CALENDAR[query.interval],
                    "min_doc_count": 1,
                },
                "aggs": {"u": _USERS},
            },
            "all": _USERS,
        }
        response = await self._aggregate(query.tenant, query.start_ms, query.end_ms, filters, aggs)
        found = response.get("aggregations") or {}
        buckets = (found.get("t") or {}).get("buckets") or []
        counts = [(int(b["key"]), int(b["u"]["value"])) for b in buckets if b["u"]["value"]]
        return counts, int((found.get("all") or {}).get("value") or 0)

    async def top_items(self, query: TopItemsQuery) -> list[tuple[str, int, int]]:
        prefix = dim_prefix(query.key)
        measure = "u" if query.by_users else "_count"
        aggs = {
            "v": {
                "terms": {
                    "field": "dims",
                    "include": prefix + ".*",
                    "size": query.limit,
                    "shard_size": max(SHARD_SIZE, query.limit),
                    "order": [{measure: "desc"}, {"_key": "asc"}],
                },
                "aggs": {"u": _USERS},
            }
        }
        filters = [{"term": {"type": query.event_type}}]
        response = await self._aggregate(query.tenant, query.start_ms, query.end_ms, filters, aggs)
        buckets = ((response.get("aggregations") or {}).get("v") or {}).get("buckets") or []
        skip = len(prefix)
        return [(str(b["key"])[skip:], int(b["doc_count"]), int(b["u"]["value"])) for b in buckets]
