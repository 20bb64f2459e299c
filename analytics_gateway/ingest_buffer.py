"""A write-ahead buffer on a Redis Stream between ingestion and the stores.

When the metric or event store refuses a write (down, slow past its timeout),
the validated batch is appended to the stream `ag:ingest` and the client gets
its acknowledgement: with Redis persisting the stream (AOF), an acknowledged
item is no longer lost to a store outage. Every gateway process runs a
drainer in the consumer group `ag-writers`; it writes entries to the store and
`XACK`s them only after the write succeeded, retrying with backoff while the
store is down. Entries left pending by a process that died are claimed by
another one (`XAUTOCLAIM`) after `claim_idle_seconds`.

Healthy writes go straight to the store, so a client that writes and then
reads sees its data; while a backlog drains, newer items may be stored before
older ones (time series stores order by timestamp, so queries are unaffected).
A retried write whose first attempt did reach the store stores nothing twice:
InfluxDB overwrites the same points (their tie-breaks are functions of the
points), the embedded store recognises the batch by its fingerprint, and
Elasticsearch overwrites events by their ids.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from analytics_gateway.backends.base import EventStore, MetricStore
from analytics_gateway.domain import Event, PointBatch
from analytics_gateway.errors import BackendUnavailable

log = logging.getLogger(__name__)

DRAINER_STALE_SECONDS = 30.0  # a drainer that has not turned for this long is stuck or gone


@dataclass(frozen=True)
class Backlog:
    """What waits in the buffer: how many entries, and how long the oldest has."""

    entries: int
    oldest_seconds: float


STREAM = "ag:ingest"
GROUP = "ag-writers"


def encode_points(batch: PointBatch) -> bytes:
    return orjson.dumps(
        {
            "kind": "points",
            "tenant": batch.tenant,
            "names": batch.names,
            "labels": batch.labels,
            "label_keys": batch.label_keys,
            "timestamps": batch.timestamps,
            "values": batch.values,
        }
    )


def points_of(item: dict[str, Any]) -> PointBatch:
    """The batch `encode_points` wrote (its payload, parsed)."""
    return PointBatch(
        item["tenant"],
        names=item["names"],
        labels=item["labels"],
        label_keys=item["label_keys"],
        timestamps=item["timestamps"],
        values=item["values"],
    )


def encode_events(events: Sequence[Event]) -> bytes:
    return orjson.dumps(
        {
            "kind": "events",
            "events": [
                [e.tenant, e.event_id, e.type, e.user_id, e.timestamp_ms, e.metadata]
                for e in events
            ],
        }
    )


class IngestBuffer:
    def __init__(
        self,
        client: aioredis.Redis,
        metrics: MetricStore,
        events: EventStore,
        *,
        max_entries: int = 100_000,
        claim_idle_seconds: float = 30.0,
        block_ms: int = 1000,
    ) -> None:
        self._client = client
        self._metrics = metrics
        self._events = events
        self._max_entries = max_entries
        self._claim_idle_ms = int(claim_idle_seconds * 1000)
        self._block_ms = block_ms
        self.consumer = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._group_ready = False
        self._last_turn: float | None = None  # monotonic: the drainer's last loop turn

    @property
    def drainer_alive(self) -> bool:
        """Whether this process's drainer turned lately (it turns at least every few
        seconds: a blocking read, a batch, or a backoff after a failure)."""
        last = self._last_turn
        return last is not None and time.monotonic() - last < DRAINER_STALE_SECONDS

    async def append_points(self, batch: PointBatch) -> None:
        await self._append(encode_points(batch))

    async def append_events(self, events: Sequence[Event]) -> None:
        await self._append(encode_events(events))

    async def _append(self, payload: bytes) -> None:
        try:
            await self._ensure_group()
            if await self._client.xlen(STREAM) >= self._max_entries:
                raise BackendUnavailable(
                    "the store is unavailable and the ingest buffer is full", backend="buffer"
                )
            await self._client.xadd(STREAM, {"b": payload})
        except (RedisError, OSError) as exc:
            raise BackendUnavailable(
                "the store and the ingest buffer are unavailable", backend="buffer"
            ) from exc

    async def pending(self) -> int:
        """Entries appended and not yet written to the store."""
        await self._ensure_group()
        info: dict[str, Any] = await self._client.xinfo_stream(STREAM)
        return int(info["length"])

    async def backlog(self) -> Backlog:
        """Entries waiting, and the age of the oldest (its stream id is its append time)."""
        try:
            entries = int(await self._client.xlen(STREAM))
            oldest = await self._client.xrange(STREAM, count=1) if entries else []
        except (RedisError, OSError) as exc:
            raise BackendUnavailable("the ingest buffer is unavailable", backend="buffer") from exc
        if not oldest:
            return Backlog(0, 0.0)
        entry_id = oldest[0][0]
        text = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
        appended_ms = int(text.split("-")[0])
        return Backlog(entries, max(0.0, time.time() - appended_ms / 1000))

    async def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            await self._client.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    # -- draining ---------------------------------------------------------

    async def drain_forever(
        self,
        stored: Callable[[PointBatch], Awaitable[None]],
        drained: Callable[[int], None],
        idle_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        events_stored: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        """The drainer loop: claim stale entries, read new ones, store, acknowledge.

        `stored` is told of every batch of points written and `events_stored` of the
        tenant of every events batch written (to invalidate cached results),
        `drained` counts acknowledged entries.
        """
        backoff = 0.1
        task = asyncio.current_task()
        while True:
            self._last_turn = time.monotonic()
            if task is not None and task.cancelling():
                # a cancel that landed inside the client's own timeout handling was
                # swallowed there; honour it here, within one blocking read
                raise asyncio.CancelledError
            try:
                entries = await self._next_entries()
                for entry_id, payload in entries:
                    batch = await self._store(payload)
                    if isinstance(batch, PointBatch):
                        await stored(batch)
                    elif events_stored is not None:
                        for tenant in batch:
                            await events_stored(tenant)
                    await self._client.xack(STREAM, GROUP, entry_id)
                    await self._client.xdel(STREAM, entry_id)
                    drained(1)
                backoff = 0.1
            except (BackendUnavailable, RedisError, OSError) as exc:
                if task is not None and task.cancelling():
                    # a store timeout can swallow the cancellation that raced it
                    raise asyncio.CancelledError from exc
                log.warning("ingest buffer: cannot drain yet (%s); retrying", exc)
                self._group_ready = False
                await idle_sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _next_entries(self) -> list[tuple[bytes, bytes]]:
        await self._ensure_group()
        # entries this consumer read before and could not store come first
        own = await self._client.xreadgroup(GROUP, self.consumer, {STREAM: "0"}, count=50)
        entries = _entries(own)
        if entries:
            return entries
        claimed = await self._client.xautoclaim(
            STREAM, GROUP, self.consumer, self._claim_idle_ms, start_id="0-0", count=50
        )
        if claimed and claimed[1]:
            return [(entry_id, fields[b"b"]) for entry_id, fields in claimed[1] if fields]
        fresh = await self._client.xreadgroup(
            GROUP, self.consumer, {STREAM: ">"}, count=50, block=self._block_ms
        )
        return _entries(fresh)

    async def _store(self, payload: bytes) -> PointBatch | list[str]:
        """Write one entry to its store; the batch when it held points, else the tenants
        of its events."""
        item = orjson.loads(payload)
        if item["kind"] == "points":
            batch = points_of(item)
            await self._metrics.write_batch(batch)
            return batch
        events = [
            Event(tenant, event_id, type_, user_id, ts, metadata)
            for tenant, event_id, type_, user_id, ts, metadata in item["events"]
        ]
        await self._events.write_events(events)
        return sorted({e.tenant for e in events})

    async def ping(self) -> bool:
        try:
            return bool(await self._client.ping())
        except (RedisError, OSError):
            return False

    async def close(self) -> None:
        await self._client.aclose()


def _entries(reply: Any) -> list[tuple[bytes, bytes]]:
    """`XREADGROUP` reply -> `(id, payload)`; deleted entries come back without fields."""
    found: list[tuple[bytes, bytes]] = []
    for _, items in reply or []:
        for entry_id, fields in items:
            if fields:
                found.append((entry_id, fields[b"b"]))
    return found
