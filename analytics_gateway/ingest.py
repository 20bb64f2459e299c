"""The one write path (decision 5): validate the whole batch, store, then publish.

Valid items of a mixed batch are stored; invalid ones are reported by index
and reason. A batch over the size limit is refused whole. A point that was
acknowledged is stored: a broker failure after the store is logged and
counted, never turned into a failed write. With an ingest buffer configured,
a batch the store refuses goes to the buffer and is acknowledged from there.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from analytics_gateway.backends.base import Broker, Cache, EventStore, MetricStore
from analytics_gateway.config import Limits
from analytics_gateway.dataloaders.query_cache import bump
from analytics_gateway.domain import Event, IngestOutcome, PointBatch, Rejection
from analytics_gateway.errors import BackendUnavailable, BadUserInput
from analytics_gateway.ingest_buffer import IngestBuffer
from analytics_gateway.lineprotocol import ParsedBody
from analytics_gateway.observability import GatewayMetrics
from analytics_gateway.subscriptions.channels import events_channel, metric_channel
from analytics_gateway.validation import NAME_RE, PointValidator

log = logging.getLogger(__name__)

MAX_METADATA_BYTES = 64 * 1024


@dataclass(frozen=True)
class RawPoint:
    """A point as a client sent it, before validation."""

    name: Any
    value: Any
    labels: Any = None
    timestamp_ms: Any = None


@dataclass(frozen=True)
class RawEvent:
    type: Any
    user_id: Any = None
    timestamp_ms: Any = None
    metadata: Any = None


LINE_SERIES_CACHE = 100_000
THREADED_MESSAGES_MIN = 1000  # points; below this a thread hop costs more than it frees


def now_ms() -> int:
    return int(time.time() * 1000)


class IngestService:
    def __init__(
        self,
        metrics_store: MetricStore,
        event_store: EventStore,
        broker: Broker,
        limits: Limits,
        metrics: GatewayMetrics,
        clock: Callable[[], int] = now_ms,
        buffer: IngestBuffer | None = None,
        cache: Cache | None = None,
    ) -> None:
        self._buffer = buffer
        self._cache = cache
        self._metrics_store = metrics_store
        self._event_store = event_store
        self._broker = broker
        self._limits = limits
        self._metrics = metrics
        self._clock = clock
        # line-protocol series key -> checked labels and canonical text, or why not:
        # agents send the same series every flush, so they are checked once
        self._line_series: dict[str, tuple[Mapping[str, str], str] | str] = {}
        # called with every stored batch, after its publish; must return at once
        self.listeners: list[Callable[[PointBatch], None]] = []

    def _check_batch(self, size: int) -> None:
        if size > self._limits.max_batch_size:
            raise BadUserInput(
                f"batch of {size} items exceeds the limit of {self._limits.max_batch_size}; "
                "split it into smaller batches",
                limit=self._limits.max_batch_size,
            )

    # -- validation ----------------------------------------------------

    def validate_event(self, tenant: str, raw: RawEvent, check: PointValidator) -> Event:
        if not isinstance(raw.type, str) or not NAME_RE.match(raw.type):
            raise ValueError(f"invalid event type {raw.type!r}")
        if raw.user_id is not None and (not isinstance(raw.user_id, str) or len(raw.user_id) > 256):
            raise ValueError("userId must be a string of at most 256 characters")
        metadata = raw.metadata if raw.metadata is not None else {}
        if not isinstance(metadata, Mapping):
            raise ValueError("metadata must be an object")
        try:
            encoded = orjson.dumps(metadata)
        except TypeError as exc:
            raise ValueError(f"metadata is not JSON: {exc}") from None
        if len(encoded) > MAX_METADATA_BYTES:
            raise ValueError(f"metadata is larger than {MAX_METADATA_BYTES} bytes")
        return Event(
            tenant=tenant,
            event_id=uuid.uuid4().hex,
            type=raw.type,
            user_id=raw.user_id,
            timestamp_ms=check.timestamp(raw.timestamp_ms),
            metadata=dict(metadata),
        )

    # -- writes ----------------------------------------------------------

    async def ingest_points(self, tenant: str, raws: Sequence[RawPoint]) -> IngestOutcome:
        """Validate, store and publish; invalid points are reported by index."""
        self._check_batch(len(raws))
        check = PointValidator(self._limits, self._clock())
        batch = PointBatch(tenant)
        rejected: list[Rejection] = []
        for index, raw in enumerate(raws):
            try:
                labels, key = check.labels(raw.labels)
                batch.append(
                    check.name(raw.name),
                    labels,
                    key,
                    check.timestamp(raw.timestamp_ms),
                    check.value(raw.value),
                )
            except ValueError as exc:
                rejected.append(Rejection(index, str(exc)))
        await self.store_batch(batch)
        self._metrics.rejected.labels(kind="point").inc(len(rejected))
        return IngestOutcome(accepted=len(batch), rejected=rejected)

    async def ingest_lines(
        self, tenant: str, body: ParsedBody, prior: Sequence[Rejection]
    ) -> IngestOutcome:
        """Line protocol: each line stands or falls whole; `prior` are parse rejections.

        Checks run per distinct name and series and, for values and timestamps,
        over whole columns: this is the high-throughput path.
        """
        self._check_batch(len(body))
        check = PointValidator(self._limits, self._clock())
        problems: dict[int, str] = {}  # line index -> first reason

        def flag(positions: Iterable[int], reason: Callable[[int], str]) -> None:
            for i in positions:
                problems.setdefault(body.lines[i], reason(i))

        series_checked: dict[str, tuple[Mapping[str, str], str] | str] = {}
        known = self._line_series
        if len(known) > LINE_SERIES_CACHE:
            known.clear()
        for key, labels in body.labels.items():
            verdict = known.get(key)
            if verdict is None:
                try:
                    verdict = check.labels(labels, key)
                except ValueError as exc:
                    verdict = str(exc)
                known[key] = verdict
            series_checked[key] = verdict
        bad_series = {k for k, v in series_checked.items() if isinstance(v, str)}
        if bad_series:
            flag(
                (i for i, k in enumerate(body.series) if k in bad_series),
                lambda i: str(series_checked[body.series[i]]),
            )
        bad_names: dict[str, str] = {}
        for name in set(body.names):
            try:
                check.name(name)
            except ValueError as exc:
                bad_names[name] = str(exc)
        if bad_names:
            flag(
                (i for i, n in enumerate(body.names) if n in bad_names),
                lambda i: bad_names[body.names[i]],
            )
        value_column = np.asarray(body.values, dtype=np.float64)
        flag(
            np.flatnonzero(~np.isfinite(value_column)).tolist(),
            lambda i: "value must be finite (NaN and infinity are refused)",
        )
        timestamps = [check.now_ms if t is None else t for t in body.timestamps]
        for i in np.flatnonzero(~check.timestamps_ok(timestamps)).tolist():
            try:
                check.timestamp(timestamps[i])
            except ValueError as exc:
                problems.setdefault(body.lines[i], str(exc))
        names, series, values = body.names, body.series, body.values
        if problems:  # keep only the points of lines without problems
            keep = [i for i, line in enumerate(body.lines) if line not in problems]
            names = [names[i] for i in keep]
            series = [series[i] for i in keep]
            values = [values[i] for i in keep]
            timestamps = [timestamps[i] for i in keep]
        checked = {k: v for k, v in series_checked.items() if not isinstance(v, str)}
        batch = PointBatch(
            tenant,
            names=names,
            labels=[checked[k][0] for k in series],
            label_keys=[checked[k][1] for k in series],
            timestamps=timestamps,
            values=values,
        )
        await self.store_batch(batch)
        rejected = list(prior) + [
            Rejection(line, f"line {line + 1}: {reason}") for line, reason in problems.items()
        ]
        self._metrics.rejected.labels(kind="line").inc(len(rejected))
        return IngestOutcome(accepted=len(batch), rejected=sorted(rejected, key=_by_index))

    async def store_batch(self, batch: PointBatch) -> None:
        """Store validated points, then publish them, one message per metric channel.

        The messages are built while the store writes (big batches in a thread,
        so the event loop can drive the store's request meanwhile), and sent
        only once the write has succeeded.
        """
        if not batch:
            return
        write = asyncio.ensure_future(self._metrics_store.write_batch(batch))
        try:
            if len(batch) >= THREADED_MESSAGES_MIN:
                # in a thread, so the loop sends the write meanwhile
                messages = await asyncio.to_thread(live_messages, batch)
            else:
                messages = live_messages(batch)
        finally:
            try:
                await write
            except BackendUnavailable:
                if self._buffer is None:
                    raise
                await self._buffer.append_points(batch)
                self._metrics.buffered.labels(kind="point").inc(len(batch))
        if self._cache is not None:
            await bump(self._cache, batch.tenant, batch.names)
        self._metrics.ingested.labels(kind="point").inc(len(batch))
        await self._publish(messages)
        for listener in self.listeners:
            try:
                listener(batch)
            except Exception:
                log.exception("an ingest listener failed; the batch is stored and published")

    async def ingest_events(self, tenant: str, raws: Sequence[RawEvent]) -> IngestOutcome:
        self._check_batch(len(raws))
        check = PointValidator(self._limits, self._clock())
        events: list[Event] = []
        rejected: list[Rejection] = []
        for index, raw in enumerate(raws):
            try:
                events.append(self.validate_event(tenant, raw, check))
            except ValueError as exc:
                rejected.append(Rejection(index, str(exc)))
        if events:
            try:
                await self._event_store.write_events(events)
            except BackendUnavailable:
                if self._buffer is None:
                    raise
                await self._buffer.append_events(events)
                self._metrics.buffered.labels(kind="event").inc(len(events))
            self._metrics.ingested.labels(kind="event").inc(len(events))
            grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for e in events:
                grouped[events_channel(e.tenant)].append(e.as_message())
            await self._publish([(ch, orjson.dumps(items)) for ch, items in grouped.items()])
        self._metrics.rejected.labels(kind="event").inc(len(rejected))
        return IngestOutcome(accepted=len(events), rejected=rejected)

    async def _publish(self, messages: list[tuple[str, bytes]]) -> None:
        try:
            await self._broker.publish_many(messages)
        except BackendUnavailable:
            self._metrics.publish_failures.inc(len(messages))
            log.warning("publish failed after store; live subscribers miss this batch")


def live_messages(batch: PointBatch) -> list[tuple[str, bytes]]:
    """One message per metric channel: `{"name", "series": [{"labels", "t", "v"}]}`."""
    by_series: dict[tuple[str, str], tuple[Mapping[str, str], list[int], list[float]]] = {}
    for name, labels, key, ts, value in zip(
        batch.names, batch.labels, batch.label_keys, batch.timestamps, batch.values, strict=True
    ):
        entry = by_series.get((name, key))
        if entry is None:
            entry = by_series[(name, key)] = (labels, [], [])
        entry[1].append(ts)
        entry[2].append(value)
    by_name: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for (name, _), (labels, ts_list, values) in by_series.items():
        by_name[name].append({"labels": labels, "t": ts_list, "v": values})
    return [
        (metric_channel(batch.tenant, name), orjson.dumps({"name": name, "series": series}))
        for name, series in by_name.items()
    ]


def _by_index(rejection: Rejection) -> int:
    return rejection.index
