"""Events on Elasticsearch, behaving exactly like the embedded DuckDB store.

Tenants share indices; every document carries a `tenant` keyword, every read
filters on it and is routed by it. An index per tenant does not scale to
thousands of tenants: each index costs at least one shard (plus replicas) in
the cluster state, and Elasticsearch advises staying under about 1,000 shards
per node; monthly indices per tenant would multiply that again. Filtered
aliases per tenant bloat the cluster state the same way and buy nothing over
the one filter this module adds to every query. Routing by tenant keeps a
tenant's events on one shard per index, so a query touches one shard, not all
(a very large tenant makes that shard hot; `index.routing_partition_size`
spreads it if needed).

Time: indices are monthly by event time, `<prefix>-events-YYYY.MM`. Retention
(`events_retention_days`, 0 keeps everything) drops whole indices once their
last day has expired: deleting an index is a file removal, where
`delete_by_query` rewrites segments and leaves tombstones to merge away. Until
a month expires whole, every read also filters out events older than the
retention, so what expires disappears from results at once; writes skip
already expired events. Months, not days: a backfill of years stays at twelve
indices a year, at the price of keeping expired data on disk up to a month.

Writes: `_bulk` in chunks of at most 8 MiB, documents `_id`'d by event id, so
replaying a partly failed batch overwrites instead of duplicating.
`refresh=wait_for` makes an acknowledged write visible to the next read, as
with DuckDB, without forcing a refresh (a new tiny segment) per request: the
write waits for the next periodic refresh (1 s by default), so ingest latency
grows by up to the refresh interval, not the cluster's indexing cost.

Mapping and documents: see `elasticsearch_mapping`.

Reads: `query_events` is one `_search` sorted by (ts desc, id desc) with
`search_after`; `count_events_many` is ONE `_msearch` per call, a
`date_histogram` per query (fixed interval = step, epoch-aligned like DuckDB's
`ts // step * step`, `min_doc_count: 1`: no empty buckets) with a `terms`
sub-aggregation on `dims` for `groupBy`.

Every API call is one call in `gateway_backend_calls_total` (`backends.calls`):
`_bulk` as `write_events`, `_search` as `query_events`, `_msearch` as
`count_events`, the count of a range's events a behaviour read is costed at as
`events_in_range`, the index template as `setup`, listing and deleting expired
indices as `retention`. Per-tenant deletes are `_delete_by_query` on the `tenant`
field, refreshed so the next read misses them: a user's erasure as
`delete_events`, a tenant's retention (bounded by `max_docs`) as `retention`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar, cast

import orjson
from elasticsearch import ApiError, AsyncElasticsearch, TransportError

from analytics_gateway import tracing
from analytics_gateway.backends.calls import BackendCalls, Operation
from analytics_gateway.backends.elasticsearch_behaviour import ElasticsearchBehaviour
from analytics_gateway.backends.elasticsearch_client import (
    DEFAULT_PREFIX,
    build_client,
    index_prefix,
)
from analytics_gateway.backends.elasticsearch_engagement import ElasticsearchEngagement
from analytics_gateway.backends.elasticsearch_features import ElasticsearchFeatures
from analytics_gateway.backends.elasticsearch_journeys import ElasticsearchJourneys
from analytics_gateway.backends.elasticsearch_mapping import (
    DAY_MS,
    MAPPINGS,
    count_aggregation,
    count_series,
    document,
    month_end_ms,
    month_of,
)
from analytics_gateway.domain import Event, EventCountQuery, EventQuery, Series
from analytics_gateway.errors import (
    BackendTimeout,
    BackendUnavailable,
    GatewayError,
    QueryTooComplex,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

BULK_BYTES = 8 * 1024 * 1024
_SORT = [{"ts": "desc"}, {"id": "desc"}]
RECHECK_SECONDS = 30.0
# a spare index takes whatever a broken one holds: the fields as they are mapped
# there, so the copy out cannot fail on them
_LENIENT: dict[str, Any] = {
    "dynamic": True,
    "properties": {"metadata": MAPPINGS["properties"]["metadata"]},
}


def _opened_an_index(response: Any) -> bool:
    """Whether a bulk write put the first document into an index (sequence number 0)."""
    return any(result.get("_seq_no") == 0 for item in response["items"] for result in item.values())


def _mis_mapped(body: Any) -> bool:
    """Whether an index's mapping differs from `MAPPINGS` on a field it declares."""
    properties = (body.get("mappings") or {}).get("properties") or {}
    for field, wanted in MAPPINGS["properties"].items():
        have = properties.get(field)
        if have is not None and have.get("type", "object") != wanted["type"]:
            return True
    return False


def _now_ms() -> int:
    return int(time.time() * 1000)


def _reason(error: Any) -> str:
    if isinstance(error, dict):
        cause = error.get("caused_by") or {}
        return str(error.get("reason") or cause.get("reason") or error.get("type") or error)
    return str(error)


class _Refused(Exception):
    """A 4xx answer, carried past the circuit breaker: the store is up."""

    def __init__(self, error: GatewayError) -> None:
        super().__init__(error.message)
        self.error = error


def _failure(status: Any, error: Any) -> GatewayError:
    if "too_many_buckets" in str(error):
        return QueryTooComplex(
            "the counts need more buckets than the events store allows; "
            "use a coarser step or a shorter range"
        )
    return BackendUnavailable(
        f"events (elasticsearch) failed: {status} {_reason(error)}", backend="elasticsearch"
    )


class ElasticsearchEventStore:
    """Implements `EventStore`."""

    def __init__(
        self,
        client: AsyncElasticsearch,
        *,
        prefix: str = DEFAULT_PREFIX,
        timeout_seconds: float = 5.0,
        retention_days: int = 0,
        calls: BackendCalls | None = None,
        clock: Callable[[], int] = _now_ms,
        janitor_interval_seconds: float = 3600.0,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._pattern = f"{prefix}-events-*"
        self._month_re = re.compile(rf"^{re.escape(prefix)}-events-(\d{{4}})\.(\d{{2}})$")
        self._timeout = timeout_seconds
        self._retention_ms = max(retention_days, 0) * DAY_MS
        self._clock = clock
        self._janitor_interval = janitor_interval_seconds
        self._janitor: asyncio.Task[None] | None = None
        self._ready = False
        self._checked_at = 0.0
        self._ready_lock = asyncio.Lock()
        calls = calls or BackendCalls()
        self._calls = calls.of("elasticsearch")
        self.breaker = calls.breaker("elasticsearch")

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        timeout_seconds: float,
        retention_days: int = 0,
        calls: BackendCalls | None = None,
    ) -> ElasticsearchEventStore:
        prefix = index_prefix(url)
        client = build_client(url, timeout_seconds=timeout_seconds)
        return cls(
            client,
            prefix=prefix,
            timeout_seconds=timeout_seconds,
            retention_days=retention_days,
            calls=calls,
        )

    @property
    def _es(self) -> AsyncElasticsearch:
        """The client, sending `traceparent` for the current span when tracing is on."""
        if not tracing.enabled():
            return self._client
        return self._client.options(headers=tracing.inject({}))

    async def _call(self, operation: Operation, request: Awaitable[T]) -> T:
        with self._calls.call(operation):
            return await self._call_once(request)

    async def _call_once(self, request: Awaitable[T]) -> T:
        refused: GatewayError | None = None
        try:
            async with self.breaker.call():  # only failures of the store itself count
                try:
                    return await self._answer(request)
                except _Refused as exc:  # a 4xx: the store answered, and said no
                    refused = exc.error
        except BackendUnavailable:
            close = getattr(request, "close", None)
            if close is not None:
                close()  # a request the breaker refused is never sent, nor awaited
            raise
        assert refused is not None
        raise refused

    async def _answer(self, request: Awaitable[T]) -> T:
        try:
            async with asyncio.timeout(self._timeout):
                return await request
        except TimeoutError as exc:
            self._checked_at = 0.0  # it may come back rebuilt: check before the next call
            raise BackendTimeout(
                "events (elasticsearch) timed out", backend="elasticsearch"
            ) from exc
        except ApiError as exc:
            error = _failure(exc.meta.status, exc.body)
            error.__cause__ = exc
            if isinstance(exc.meta.status, int) and exc.meta.status < 500:
                raise _Refused(error) from exc
            raise error from exc
        except TransportError as exc:
            self._checked_at = 0.0
            raise BackendUnavailable(
                f"events (elasticsearch) unreachable: {exc.message}", backend="elasticsearch"
            ) from exc

    async def ensure_ready(self) -> None:
        """The index template in place and every events index mapped as it says.

        Checked once, then again every `RECHECK_SECONDS`: a cluster rebuilt empty
        (or a template deleted by hand) loses the template, and the next write then
        creates its month's index with dynamic mappings, text where keywords
        belong, so events would be stored but never found. Each check puts the
        template back if it is gone and rebuilds any index mapped otherwise.
        """
        if self._ready and time.monotonic() - self._checked_at < RECHECK_SECONDS:
            return
        async with self._ready_lock:
            if self._ready and time.monotonic() - self._checked_at < RECHECK_SECONDS:
                return
            name = f"{self._prefix}-events"
            exists = await self._call("setup", self._es.indices.exists_index_template(name=name))
            if not exists:
                if self._ready:
                    log.warning("events: index template %s vanished; putting it back", name)
                await self._call(
                    "setup",
                    self._es.indices.put_index_template(
                        name=name,
                        index_patterns=[self._pattern],
                        priority=200,
                        template={"mappings": MAPPINGS},
                    ),
                )
            await self._repair_mappings()
            self._ready = True
            self._checked_at = time.monotonic()
            if self._retention_ms and self._janitor is None:
                self._janitor = asyncio.create_task(self._janitor_loop(), name="events-retention")

    async def _repair_mappings(self) -> list[str]:
        """Rebuild each events index whose fields are not mapped as `MAPPINGS` says."""
        found = await self._call(
            "setup",
            self._es.indices.get_mapping(
                index=self._pattern, allow_no_indices=True, ignore_unavailable=True
            ),
        )
        broken = [index for index, body in dict(found).items() if _mis_mapped(body)]
        for index in broken:
            log.warning("events: index %s has dynamic mappings; rebuilding it", index)
            await self._rebuild(index)
        return broken

    async def _rebuild(self, index: str) -> None:
        """Copy out, recreate with the right mapping, copy back (ids kept: no duplicates)."""
        spare = f"{self._prefix}-repair-{index.rsplit('-', 1)[-1]}"
        indices = self._es.indices
        if await self._call("setup", indices.exists(index=spare)):  # a repair cut short
            await self._call("setup", indices.delete(index=spare))
        await self._call("setup", indices.create(index=spare, mappings=_LENIENT))
        await self._call("setup", self._reindex(index, spare))
        await self._call("setup", indices.delete(index=index))
        await self._call("setup", indices.create(index=index, mappings=MAPPINGS))
        await self._call("setup", self._reindex(spare, index))
        await self._call("setup", indices.delete(index=spare))

    def _reindex(self, source: str, dest: str) -> Awaitable[Any]:
        return self._es.reindex(
            source={"index": source}, dest={"index": dest}, refresh=True, wait_for_completion=True
        )

    def _cutoff(self) -> int | None:
        return self._clock() - self._retention_ms if self._retention_ms else None

    def _index_of(self, ts: int) -> str:
        return f"{self._prefix}-events-{month_of(ts)}"

    def _filters(self, tenant: str, start: int | None, end: int | None) -> list[dict[str, Any]]:
        filters: list[dict[str, Any]] = [{"term": {"tenant": tenant}}]
        cutoff = self._cutoff()
        if cutoff is not None:
            start = cutoff if start is None else max(start, cutoff)
        bounds: dict[str, int] = {}
        if start is not None:
            bounds["gte"] = start
        if end is not None:
            bounds["lt"] = end
        if bounds:
            filters.append({"range": {"ts": bounds}})
        return filters

    # -- writes ----------------------------------------------------------

    def _bulk_bodies(self, events: Iterable[Event]) -> Iterator[bytes]:
        body = bytearray()
        for event in events:
            action = {
                "index": {
                    "_index": self._index_of(event.timestamp_ms),
                    "_id": event.event_id,
                    "routing": event.tenant,
                }
            }
            body += orjson.dumps(action) + b"\n" + orjson.dumps(document(event)) + b"\n"
            if len(body) >= BULK_BYTES:
                yield bytes(body)
                body = bytearray()
        if body:
            yield bytes(body)

    async def write_events(self, events: Sequence[Event]) -> None:
        if not events:
            return
        await self.ensure_ready()
        cutoff = self._cutoff()
        live = [e for e in events if cutoff is None or e.timestamp_ms >= cutoff]
        for body in self._bulk_bodies(live):
            # the body is NDJSON bytes already; the client sends bytes as they are
            response = await self._call(
                "write_events",
                self._es.bulk(operations=cast(Any, body), refresh="wait_for"),
            )
            if response["errors"]:
                failed = [
                    result
                    for item in response["items"]
                    for result in item.values()
                    if result.get("status", 500) >= 300
                ]
                first = failed[0] if failed else {}
                raise BackendUnavailable(
                    f"events (elasticsearch) stored only part of a batch: {len(failed)} of "
                    f"{len(response['items'])} failed, first: {first.get('status')} "
                    f"{_reason(first.get('error'))}",
                    backend="elasticsearch",
                )
            if _opened_an_index(response):
                # the first document of an index: if no template was there to map it
                # (a cluster rebuilt empty), it is mapped by chance; check now
                self._checked_at = 0.0
                await self.ensure_ready()

    # -- reads -----------------------------------------------------------

    async def query_events(self, query: EventQuery) -> list[Event]:
        await self.ensure_ready()
        filters = self._filters(query.tenant, query.start_ms, query.end_ms)
        for field, value in (("type", query.type), ("user_id", query.user_id)):
            if value is not None:
                filters.append({"term": {field: value}})
        response = await self._call(
            "query_events",
            self._es.search(
                index=self._pattern,
                routing=query.tenant,
                ignore_unavailable=True,
                query={"bool": {"filter": filters}},
                sort=_SORT,
                search_after=list(query.after) if query.after is not None else None,
                size=max(int(query.limit), 0),
                source_excludes=["tenant", "dims"],
                track_total_hits=False,
            ),
        )
        return [
            Event(
                query.tenant,
                source["id"],
                source["type"],
                source.get("user_id"),
                int(source["ts"]),
                source.get("metadata") or {},
            )
            for source in (hit["_source"] for hit in response["hits"]["hits"])
        ]

    async def count_events_many(self, queries: Sequence[EventCountQuery]) -> list[list[Series]]:
        if not queries:
            return []
        await self.ensure_ready()
        searches: list[dict[str, Any]] = []
        for query in queries:
            header = {"index": self._pattern, "routing": query.tenant, "ignore_unavailable": True}
            filters = self._filters(query.tenant, query.start_ms, query.end_ms)
            filters.append({"term": {"type": query.type}})
            body = {
                "size": 0,
                "track_total_hits": False,
                "query": {"bool": {"filter": filters}},
                "aggs": count_aggregation(query),
            }
            searches += [header, body]
        response = await self._call("count_events", self._es.msearch(searches=searches))
        out: list[list[Series]] = []
        for query, result in zip(queries, response["responses"], strict=True):
            if "error" in result:
                raise _failure(result.get("status"), result["error"])
            buckets = result.get("aggregations", {}).get("t", {}).get("buckets", [])
            out.append(count_series(query, buckets))
        return out

    async def events_in_range(self, tenant: str, start_ms: int, end_ms: int) -> int:
        """One `_search` of size 0 counting the hits exactly."""
        await self.ensure_ready()
        response = await self._call(
            "events_in_range",
            self._es.search(
                index=self._pattern,
                routing=tenant,
                ignore_unavailable=True,
                size=0,
                track_total_hits=True,
                query={"bool": {"filter": self._filters(tenant, start_ms, end_ms)}},
            ),
        )
        return int(response.get("hits", {}).get("total", {}).get("value", 0))

    async def event_types(self, tenant: str, limit: int) -> list[str]:
        """One terms aggregation on `type` over the tenant's events."""
        await self.ensure_ready()
        response = await self._call(
            "event_types",
            self._es.search(
                index=self._pattern,
                routing=tenant,
                ignore_unavailable=True,
                size=0,
                track_total_hits=False,
                query={"bool": {"filter": self._filters(tenant, None, None)}},
                aggs={"types": {"terms": {"field": "type", "size": int(limit)}}},
            ),
        )
        buckets = response.get("aggregations", {}).get("types", {}).get("buckets", [])
        return sorted(str(b["key"]) for b in buckets)

    def behaviour(self) -> ElasticsearchBehaviour:
        """Retention over these indices, through this store's client and breaker."""
        return ElasticsearchBehaviour(self._aggregate, self._hits)

    def engagement(self) -> ElasticsearchEngagement:
        """Active users and top values: one `_search` each, through this store's client."""
        return ElasticsearchEngagement(self._aggregate)

    def features(self) -> ElasticsearchFeatures:
        """Per-user activity: one paged composite aggregation, through this store's client."""
        return ElasticsearchFeatures(self._aggregate)

    def journeys(self) -> ElasticsearchJourneys:
        """Sessions and paths (paged hits), new users (a paged composite aggregation)."""
        return ElasticsearchJourneys(self._aggregate, self._hits)

    async def _aggregate(
        self,
        tenant: str,
        start: int,
        end: int,
        filters: list[dict[str, Any]],
        aggs: dict[str, Any],
    ) -> Any:
        """One `_search` of aggregations only, over the tenant's events in [start, end)."""
        await self.ensure_ready()
        return await self._call(
            "count_events",
            self._es.search(
                index=self._pattern,
                routing=tenant,
                ignore_unavailable=True,
                size=0,
                track_total_hits=False,
                query={"bool": {"filter": self._filters(tenant, start, end) + filters}},
                aggs=aggs,
            ),
        )

    async def _hits(
        self,
        tenant: str,
        start: int,
        end: int,
        filters: list[dict[str, Any]],
        sort: list[Any],
        after: list[Any] | None,
        size: int,
    ) -> list[dict[str, Any]]:
        """One `_search` page of the tenant's events in [start, end): their sources."""
        await self.ensure_ready()
        response = await self._call(
            "query_events",
            self._es.search(
                index=self._pattern,
                routing=tenant,
                ignore_unavailable=True,
                query={"bool": {"filter": self._filters(tenant, start, end) + filters}},
                sort=sort,
                search_after=after,
                size=size,
                source_excludes=["tenant", "dims"],
                track_total_hits=False,
            ),
        )
        return cast(list[dict[str, Any]], response["hits"]["hits"])

    # -- deletes ---------------------------------------------------------

    async def delete_events(self, tenant: str, user_ids: Sequence[str]) -> int:
        """`_delete_by_query` on the tenant's field, refreshed: gone for the next read."""
        if not user_ids:
            return 0
        return await self._delete_by_query(
            "delete_events", tenant, [{"terms": {"user_id": list(user_ids)}}], None
        )

    async def delete_events_before(self, tenant: str, before_ms: int, limit: int) -> int:
        """At most `limit` documents (`max_docs`): one tenant's backlog cannot hold a round."""
        return await self._delete_by_query(
            "retention", tenant, [{"range": {"ts": {"lt": before_ms}}}], limit
        )

    async def _delete_by_query(
        self, operation: Operation, tenant: str, filters: list[dict[str, Any]], limit: int | None
    ) -> int:
        await self.ensure_ready()
        response = await self._call(
            operation,
            self._es.delete_by_query(
                index=self._pattern,
                routing=tenant,
                query={"bool": {"filter": [{"term": {"tenant": tenant}}, *filters]}},
                conflicts="proceed",
                refresh=True,
                ignore_unavailable=True,
                allow_no_indices=True,
                max_docs=limit,
            ),
        )
        return int(response.get("deleted") or 0)

    # -- retention -------------------------------------------------------

    async def purge_expired(self) -> list[str]:
        """Delete the monthly indices whose every event is past the retention."""
        cutoff = self._cutoff()
        if cutoff is None:
            return []
        response = await self._call(
            "retention", self._es.cat.indices(index=self._pattern, format="json", h="index")
        )
        rows: Any = response.body
        expired: list[str] = []
        for row in rows:
            match = self._month_re.match(row["index"])
            if match and month_end_ms(int(match[1]), int(match[2])) <= cutoff:
                expired.append(row["index"])
        if expired:
            await self._call(
                "retention",
                self._es.indices.delete(index=",".join(sorted(expired)), ignore_unavailable=True),
            )
        return sorted(expired)

    async def _janitor_loop(self) -> None:
        while True:
            try:
                deleted = await self.purge_expired()
                if deleted:
                    log.info("deleted expired event indices: %s", ", ".join(deleted))
            except GatewayError as exc:
                log.warning("event retention: %s", exc.message)
            await asyncio.sleep(self._janitor_interval)

    async def close(self) -> None:
        if self._janitor is not None:
            self._janitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._janitor
            self._janitor = None
        await self._client.close()
