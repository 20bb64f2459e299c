"""Per-user activity on Elasticsearch: ONE `composite` aggregation, paged.

The composite's sources are (user_id, UTC day), as retention's, so a page of
`PAGE` buckets holds at most `PAGE` user-days whatever the range's length
(a `date_histogram` under a per-user bucket would grow with the range and
meet `search.max_buckets`). Under each bucket: `min` and `max` of `ts`, a
`filter` counting the events at or after the middle, and a `terms` on `type`
(at most `TYPES_PER_DAY` types, most frequent first). Buckets arrive ordered
by user, so a user's figures are final once their last day has been read:
days are their buckets, events the sum of `doc_count`, per-type counts the
sums of the `terms` buckets. A request costs ceil(active user-days / `PAGE`)
`_search` calls (one up to `PAGE`), each counted as `count_events`.

Exact while each user has at most `TYPES_PER_DAY` event types on a day;
beyond, a day's rarer types are missing from `event_types` and the most
frequent type's count, and the answer is close, not exact.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from analytics_gateway.backends.base import UserActivity, UserActivityQuery
from analytics_gateway.errors import QueryTooComplex

PAGE = 5_000
TYPES_PER_DAY = 20
# (tenant, start_ms, end_ms, extra filters, aggs) -> the `_search` response
Aggregate = Callable[[str, int, int, list[dict[str, Any]], dict[str, Any]], Awaitable[Any]]

_SOURCES: list[dict[str, Any]] = [
    {"u": {"terms": {"field": "user_id"}}},
    {"d": {"date_histogram": {"field": "ts", "fixed_interval": "1d"}}},
]


class _User:
    """One user's figures while their day buckets are read."""

    def __init__(self, user_id: str) -> None:
        self.user_id = user_id
        self.events = 0
        self.first = 0
        self.last = 0
        self.days = 0
        self.late = 0
        self.types: Counter[str] = Counter()

    def add(self, bucket: dict[str, Any]) -> None:
        low, high = int(bucket["lo"]["value"]), int(bucket["hi"]["value"])
        self.first = low if not self.days else min(self.first, low)
        self.last = max(self.last, high)
        self.days += 1
        self.events += int(bucket["doc_count"])
        self.late += int(bucket["late"]["doc_count"])
        for kind in bucket["t"]["buckets"]:
            self.types[str(kind["key"])] += int(kind["doc_count"])

    def activity(self) -> UserActivity:
        top = max(self.types.values(), default=0)
        return UserActivity(
            self.user_id,
            self.events,
            self.first,
            self.last,
            self.days,
            self.late,
            len(self.types),
            top,
        )


class ElasticsearchFeatures:
    """Implements `FeatureStore` through the event store's client and breaker."""

    def __init__(self, aggregate: Aggregate) -> None:
        self._aggregate = aggregate

    async def user_activity(self, query: UserActivityQuery) -> list[UserActivity]:
        filters: list[dict[str, Any]] = [{"exists": {"field": "user_id"}}]
        if query.event_type is not None:
            filters.append({"term": {"type": query.event_type}})
        sub_aggs = {
            "lo": {"min": {"field": "ts"}},
            "hi": {"max": {"field": "ts"}},
            "late": {"filter": {"range": {"ts": {"gte": query.middle_ms}}}},
            "t": {"terms": {"field": "type", "size": TYPES_PER_DAY}},
        }
        out: list[UserActivity] = []
        user: _User | None = None
        after: dict[str, Any] | None = None
        while True:
            composite: dict[str, Any] = {"size": PAGE, "sources": _SOURCES}
            if after is not None:
                composite["after"] = after
            aggs = {"a": {"composite": composite, "aggs": sub_aggs}}
            response = await self._aggregate(
                query.tenant, query.start_ms, query.end_ms, filters, aggs
            )
            result = (response.get("aggregations") or {}).get("a") or {}
            buckets = result.get("buckets") or []
            for bucket in buckets:
                user_id = str(bucket["key"]["u"])
                if user is None or user.user_id != user_id:
                    if user is not None:
                        out.append(user.activity())
                    if len(out) >= query.max_users:
                        raise QueryTooComplex(
                            f"more than {query.max_users} users; use a shorter range"
                        )
                    user = _User(user_id)
                user.add(bucket)
            after = result.get("after_key")
            if len(buckets) < PAGE or after is None:
                break
        if user is not None:
            out.append(user.activity())
        return out
