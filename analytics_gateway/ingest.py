"""The one write path (decision 5): validate the whole batch, store, then publish.

Valid items of a mixed batch are stored; invalid ones are reported by index
and reason. A batch over the size limit is refused whole. A point that was
acknowledged is stored: a broker failure after the store is logged and
counted, never turned into a failed write. With an ingest buffer configured,
a batch the store refuses goes to the buffer and is acknowledged from there.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from analytics_gateway import tracing
from analytics_gateway.backends.base import Broker, EventStore, MetricStore
from analytics_gateway.config import Limits
from analytics_gateway.domain import (
    BatchColumns,
    Event,
    IngestOutcome,
    PointBatch,
    Rejection,
    SeriesRef,
)
from analytics_gateway.errors import BackendUnavailable, BadUserInput
from analytics_gateway.ingest_buffer import IngestBuffer
from analytics_gateway.lineprotocol import MISSING_TIMESTAMP, ParsedBody, ParsedColumns
from analytics_gateway.observability import GatewayMetrics
from analytics_gateway.privacy.sensitive import SensitiveKeys, SensitivePolicy, keyed_event_id
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


SeriesQuota = Callable[[str, Iterable[str]], Awaitable[set[str]]]
"""(tenant, series ids) -> the ids refused: new series beyond the tenant's quota."""
SERIES_QUOTA = "the tenant's quota of active series is reached; this series is new and refused"

Listener = Callable[[PointBatch], Awaitable[None]]
"""Told of every stored batch before it is published (query cache invalidation, live
anomaly scoring); it must be quick, and its failure never fails the write."""

LINE_SERIES_CACHE = 100_000
THREADED_MESSAGES_MIN = 1000  # points; below this a thread hop costs more than it frees


def now_ms() -> int:
    return int(time.time() * 1000)


def event_id(
    tenant: str, type_: str, user_id: str | None, timestamp_ms: int, metadata: bytes
) -> str:
    """The id of an event whose client gave its time: a hash of what it is, so the
    same body sent again (a retry after a timeout) names the same events, and the
    stores keep each once (Elasticsearch by id, the embedded store by batch)."""
    digest = hashlib.blake2b(digest_size=16)
    for part in (tenant, type_, user_id or "\0", str(timestamp_ms)):
        digest.update(part.encode() + b"\x1f")
    digest.update(metadata)
    return digest.hexdigest()


def apart(events: list[Event]) -> list[Event]:
    """Events the same in everything within one batch are all kept: the second and
    later get their position among their twins added to the id."""
    seen: dict[str, int] = {}
    out: list[Event] = []
    for event in events:
        count = seen.get(event.event_id, 0)
        seen[event.event_id] = count + 1
        out.append(event if count == 0 else replace(event, event_id=f"{event.event_id}-{count}"))
    return out


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
        listeners: Sequence[Listener] = (),
        series_quota: SeriesQuota | None = None,
        pseudonymise: Callable[[str, str], str] | None = None,
        sensitive: SensitiveKeys | None = None,
    ) -> None:
        self._buffer = buffer
        # the tenant's sensitive metadata keys, sealed before any store sees them
        self._sensitive = sensitive
        # (tenant, userId) -> what events keep instead (`privacy.pseudonymise`)
        self._pseudonymise = pseudonymise
        self._series_quota = series_quota
        self._metrics_store = metrics_store
        self._event_store = event_store
        self._broker = broker
        self._limits = limits
        self._metrics = metrics
        self._clock = clock
        # line-protocol series key -> checked labels and canonical text, or why not:
        # agents send the same series every flush, so they are checked once
        self._line_series: dict[str, tuple[Mapping[str, str], str] | str] = {}
        self._listeners = list(listeners)
        self._event_listeners: list[Callable[[str], Awaitable[None]]] = []

    def on_stored(self, listener: Listener) -> None:
        """Tell `listener` of every batch stored from now on."""
        self._listeners.append(listener)

    def on_events_stored(self, listener: Callable[[str], Awaitable[None]]) -> None:
        """Tell `listener` the tenant of every events batch stored (or buffered) from now on."""
        self._event_listeners.append(listener)

    def _check_batch(self, size: int) -> None:
        if size > self._limits.max_batch_size:
            raise BadUserInput(
                f"batch of {size} items exceeds the limit of {self._limits.max_batch_size}; "
                "split it into smaller batches",
                limit=self._limits.max_batch_size,
            )

    # -- validation ----------------------------------------------------

    def validate_event(
        self,
        tenant: str,
        raw: RawEvent,
        check: PointValidator,
        sensitive: SensitivePolicy | None = None,
    ) -> Event:
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
        timestamp = check.timestamp(raw.timestamp_ms)
        user_id = raw.user_id
        if user_id is not None and self._pseudonymise is not None:
            user_id = self._pseudonymise(tenant, user_id)
        sealed = None
        if sensitive is not None and sensitive.keys and self._sensitive is not None:
            sealed = self._sensitive.seal(tenant, metadata, sensitive)
        if raw.timestamp_ms is None:
            the_id = uuid.uuid4().hex
        elif sealed is None:
            the_id = event_id(tenant, raw.type, user_id, timestamp, encoded)
        elif sensitive is not None and sensitive.id_key is not None:
            # a plain hash would let its readers test a guessed sensitive value
            the_id = keyed_event_id(sensitive.id_key, tenant, raw.type, user_id, timestamp, encoded)
        else:
            the_id = uuid.uuid4().hex
        return Event(
            tenant=tenant,
            event_id=the_id,
            type=raw.type,
            user_id=user_id,
            timestamp_ms=timestamp,
            metadata=sealed if sealed is not None else dict(metadata),
        )

    # -- writes ----------------------------------------------------------

    async def ingest_points(self, tenant: str, raws: Sequence[RawPoint]) -> IngestOutcome:
        """Validate, store and publish; invalid points are reported by index."""
        self._check_batch(len(raws))
        check = PointValidator(self._limits, self._clock())
        batch = PointBatch(tenant)
        rejected: list[Rejection] = []
        valid: list[tuple[int, str, Mapping[str, str], str, int, float]] = []
        for index, raw in enumerate(raws):
            try:
                labels, key = check.labels(raw.labels)
                name = check.name(raw.name)
                ts, value = check.timestamp(raw.timestamp_ms), check.value(raw.value)
                valid.append((index, name, labels, key, ts, value))
            except ValueError as exc:
                rejected.append(Rejection(index, str(exc)))
        refused = await self._refused_series(tenant, [_series_id(v[1], v[3]) for v in valid])
        for index, name, labels, key, ts, value in valid:
            if refused and _series_id(name, key) in refused:
                rejected.append(Rejection(index, SERIES_QUOTA))
            else:
                batch.append(name, labels, key, ts, value)
        rejected.sort(key=_by_index)
        await self.store_batch(batch)
        self._metrics.rejected.labels(kind="point").inc(len(rejected))
        return IngestOutcome(accepted=len(batch), rejected=rejected)

    async def ingest_lines(
        self, tenant: str, body: ParsedBody, prior: Sequence[Rejection]
    ) -> IngestOutcome:
        """Line protocol: each line stands or falls whole; `prior` are parse rejections.

        Checks run once per distinct series and metric name and, for values
        and timestamps, over whole arrays: this is the high-throughput path,
        and the accepted points reach the store as arrays too.
        """
        self._check_batch(len(body))
        check = PointValidator(self._limits, self._clock())
        columns = body.columns
        # per (series key, metric) pair: the batch series it becomes, or why it cannot
        refs: list[SeriesRef | None] = []
        pair_problems: list[str | None] = []
        names_checked: dict[str, str | None] = {}
        for key, name in columns.pairs:
            verdict = self._series_verdict(key, body.labels[key], check)
            if isinstance(verdict, str):
                pair_problems.append(verdict)
                refs.append(None)
                continue
            if name not in names_checked:
                try:
                    check.name(name)
                    names_checked[name] = None
                except ValueError as exc:
                    names_checked[name] = str(exc)
            problem = names_checked[name]
            pair_problems.append(problem)
            refs.append(None if problem is not None else SeriesRef(name, verdict[0], verdict[1]))
        wanted = [_series_id(ref.name, ref.key) for ref in refs if ref is not None]
        refused = await self._refused_series(tenant, wanted)
        if refused:
            for pair, ref in enumerate(refs):
                if ref is not None and _series_id(ref.name, ref.key) in refused:
                    refs[pair] = None
                    pair_problems[pair] = SERIES_QUOTA
        timestamps = np.where(
            columns.timestamps == MISSING_TIMESTAMP, check.now_ms, columns.timestamps
        )
        # the first reason per line, in this order: series or name, value, timestamp
        problems: dict[int, str] = {}
        bad_pairs = np.array([p is not None for p in pair_problems], dtype=bool)
        for i in np.flatnonzero(bad_pairs[columns.codes]).tolist():
            problems.setdefault(int(columns.lines[i]), str(pair_problems[columns.codes[i]]))
        for i in np.flatnonzero(~np.isfinite(columns.values)).tolist():
            problems.setdefault(
                int(columns.lines[i]), "value must be finite (NaN and infinity are refused)"
            )
        for i in np.flatnonzero(~check.timestamps_ok(timestamps)).tolist():
            try:
                check.timestamp(int(timestamps[i]))
            except ValueError as exc:
                problems.setdefault(int(columns.lines[i]), str(exc))
        batch = PointBatch.from_columns(
            tenant, _accepted(refs, columns, timestamps, problems.keys())
        )
        await self.store_batch(batch)
        rejected = list(prior) + [
            Rejection(line, f"line {line + 1}: {reason}") for line, reason in problems.items()
        ]
        self._metrics.rejected.labels(kind="line").inc(len(rejected))
        return IngestOutcome(accepted=len(batch), rejected=sorted(rejected, key=_by_index))

    async def _refused_series(self, tenant: str, series: list[str]) -> set[str]:
        """Series in batch order, so the first new ones are the ones let in."""
        if self._series_quota is None or not series:
            return set()
        return await self._series_quota(tenant, dict.fromkeys(series))

    def _series_verdict(
        self, key: str, labels: Mapping[str, str], check: PointValidator
    ) -> tuple[Mapping[str, str], str] | str:
        """Checked labels and their canonical text for a line-protocol series key, or why not.

        Agents send the same series every flush, so each key is checked once.
        """
        known = self._line_series
        verdict = known.get(key)
        if verdict is None:
            if len(known) > LINE_SERIES_CACHE:
                known.clear()
            try:
                verdict = check.labels(labels, key)
            except ValueError as exc:
                verdict = str(exc)
            known[key] = verdict
        return verdict

    async def store_batch(self, batch: PointBatch) -> None:
        """Store validated points, then publish them, one message per metric channel
        (in a span of its own, with the batch's size)."""
        attributes = {"analytics.tenant": batch.tenant, "ingest.points": len(batch)}
        with tracing.span("ingest points", attributes):
            await self._store_batch(batch)

    async def _store_batch(self, batch: PointBatch) -> None:
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
        for listener in self._listeners:
            try:
                await listener(batch)
            except Exception:
                log.exception("an ingest listener failed; the batch is stored and published")
        self._metrics.ingested.labels(kind="point").inc(len(batch))
        await self._publish(messages)

    async def ingest_events(self, tenant: str, raws: Sequence[RawEvent]) -> IngestOutcome:
        self._check_batch(len(raws))
        check = PointValidator(self._limits, self._clock())
        policy = await self._sensitive.policy(tenant) if self._sensitive is not None else None
        events: list[Event] = []
        rejected: list[Rejection] = []
        for index, raw in enumerate(raws):
            try:
                events.append(self.validate_event(tenant, raw, check, policy))
            except ValueError as exc:
                rejected.append(Rejection(index, str(exc)))
        events = apart(events)
        if events:
            try:
                await self._event_store.write_events(events)
            except BackendUnavailable:
                if self._buffer is None:
                    raise
                await self._buffer.append_events(events)
                self._metrics.buffered.labels(kind="event").inc(len(events))
            for told in self._event_listeners:
                try:
                    await told(tenant)
                except Exception:
                    log.exception("an events listener failed; the events are stored")
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


def _accepted(
    refs: Sequence[SeriesRef | None],
    columns: ParsedColumns,
    timestamps: npt.NDArray[np.int64],
    bad_lines: Iterable[int],
) -> BatchColumns:
    """The points of lines without problems, one code per distinct (metric, labels).

    Only series with a point left are listed. Two series keys may name the
    same series (tags in another order), so pairs are merged by their checked
    labels here.
    """
    codes, values = columns.codes, columns.values
    bad = np.fromiter(bad_lines, dtype=np.int64)
    if len(bad):
        keep = ~np.isin(columns.lines, bad)
        codes, values, timestamps = codes[keep], values[keep], timestamps[keep]
    series: list[SeriesRef] = []
    merged: dict[tuple[str, str], int] = {}
    remap = np.full(max(len(refs), 1), -1, dtype=np.intp)
    for pair in np.unique(codes).tolist():
        ref = refs[pair]
        assert ref is not None, "a point of a refused pair was kept"
        code = merged.get((ref.name, ref.key))
        if code is None:
            code = merged[(ref.name, ref.key)] = len(series)
            series.append(ref)
        remap[pair] = code
    return BatchColumns(series, remap[codes], timestamps.astype(np.int64), values)


def live_messages(batch: PointBatch) -> list[tuple[str, bytes]]:
    """One message per metric channel: `{"name", "series": [{"labels", "t", "v"}]}`.

    Series appear in the order of their first point in the batch.
    """
    columns = batch.columns()
    if not len(columns.codes):
        return []
    order = np.argsort(columns.codes, kind="stable")
    codes = columns.codes[order]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    ends = np.r_[starts[1:], len(codes)]
    stamps, values = columns.timestamps[order], columns.values[order]
    groups = sorted(zip(order[starts].tolist(), starts.tolist(), ends.tolist(), strict=True))
    by_name: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for _, start, end in groups:
        ref = columns.series[codes[start]]
        by_name[ref.name].append(
            {"labels": ref.labels, "t": stamps[start:end], "v": values[start:end]}
        )
    return [
        (
            metric_channel(batch.tenant, name),
            orjson.dumps({"name": name, "series": series}, option=orjson.OPT_SERIALIZE_NUMPY),
        )
        for name, series in by_name.items()
    ]


def _series_id(name: str, key: str) -> str:
    return f"{name}\x00{key}"


def _by_index(rejection: Rejection) -> int:
    return rejection.index
