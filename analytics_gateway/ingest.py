"""The one write path (decision 5): validate the whole batch, store, then publish.

Valid items of a mixed batch are stored; invalid ones are reported by index
and reason. A batch over the size limit is refused whole. A point that was
acknowledged is stored: a broker failure after the store is logged and
counted, never turned into a failed write.
"""

from __future__ import annotations

import logging
import math
import re
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from analytics_gateway.backends.base import Broker, EventStore, MetricStore
from analytics_gateway.config import Limits
from analytics_gateway.domain import Event, IngestOutcome, MetricPoint, Rejection
from analytics_gateway.errors import BackendUnavailable, BadUserInput
from analytics_gateway.observability import GatewayMetrics
from analytics_gateway.subscriptions.channels import events_channel, metric_channel

log = logging.getLogger(__name__)

NAME_RE = re.compile(r"^[A-Za-z_:][A-Za-z0-9_:.\-]{0,199}$")
LABEL_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,127}$")
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
    ) -> None:
        self._metrics_store = metrics_store
        self._event_store = event_store
        self._broker = broker
        self._limits = limits
        self._metrics = metrics
        self._clock = clock

    def _check_batch(self, size: int) -> None:
        if size > self._limits.max_batch_size:
            raise BadUserInput(
                f"batch of {size} items exceeds the limit of {self._limits.max_batch_size}; "
                "split it into smaller batches",
                limit=self._limits.max_batch_size,
            )

    # -- validation ----------------------------------------------------

    def _labels(self, raw: Any) -> dict[str, str]:
        if raw is None:
            return {}
        if not isinstance(raw, Mapping):
            raise ValueError("labels must be an object of label name to string value")
        if len(raw) > self._limits.max_labels:
            raise ValueError(f"too many labels ({len(raw)} > {self._limits.max_labels})")
        labels: dict[str, str] = {}
        for key, value in raw.items():
            if not isinstance(key, str) or not LABEL_KEY_RE.match(key):
                raise ValueError(f"invalid label name {key!r}")
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise ValueError(f"label {key!r} must be a string")
            text = value if isinstance(value, str) else str(value)
            if len(text) > self._limits.max_label_length:
                raise ValueError(
                    f"label {key!r} is longer than {self._limits.max_label_length} characters"
                )
            labels[key] = text
        return labels

    def _timestamp(self, raw: Any, now: int) -> int:
        if raw is None:
            return now
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
            raise ValueError("timestamp must be epoch milliseconds or an ISO-8601 date-time")
        ts = int(raw)
        if ts < 0:
            raise ValueError("timestamp is before 1970")
        if ts > now + self._limits.max_future_seconds * 1000:
            raise ValueError(
                f"timestamp is more than {self._limits.max_future_seconds}s in the future"
            )
        return ts

    def validate_point(self, tenant: str, raw: RawPoint, now: int) -> MetricPoint:
        if not isinstance(raw.name, str) or not NAME_RE.match(raw.name):
            raise ValueError(
                f"invalid metric name {raw.name!r}: use letters, digits, '_', ':', '.', '-' "
                "(starting with a letter, '_' or ':'), at most 200 characters"
            )
        value = raw.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("value must be a number")
        if not math.isfinite(value):
            raise ValueError("value must be finite (NaN and infinity are refused)")
        return MetricPoint(
            tenant=tenant,
            name=raw.name,
            labels=self._labels(raw.labels),
            timestamp_ms=self._timestamp(raw.timestamp_ms, now),
            value=float(value),
        )

    def validate_event(self, tenant: str, raw: RawEvent, now: int) -> Event:
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
            timestamp_ms=self._timestamp(raw.timestamp_ms, now),
            metadata=dict(metadata),
        )

    # -- writes ----------------------------------------------------------

    async def ingest_points(
        self, tenant: str, raws: Sequence[RawPoint], prior: Sequence[Rejection] = ()
    ) -> IngestOutcome:
        """Validate, store and publish. `prior` carries rejections found while parsing."""
        self._check_batch(len(raws) + len(prior))
        now = self._clock()
        points: list[MetricPoint] = []
        rejected = list(prior)
        for index, raw in enumerate(raws):
            try:
                points.append(self.validate_point(tenant, raw, now))
            except ValueError as exc:
                rejected.append(Rejection(index, str(exc)))
        await self.store_points(points)
        self._metrics.rejected.labels(kind="point").inc(len(rejected))
        return IngestOutcome(accepted=len(points), rejected=sorted(rejected, key=_by_index))

    async def ingest_lines(
        self,
        tenant: str,
        lines: Sequence[tuple[int, Sequence[RawPoint]]],
        prior: Sequence[Rejection],
    ) -> IngestOutcome:
        """Like `ingest_points`, but each line (index, its points) stands or falls whole."""
        self._check_batch(sum(len(points) for _, points in lines))
        now = self._clock()
        valid: list[MetricPoint] = []
        rejected = list(prior)
        for index, raws in lines:
            try:
                valid.extend([self.validate_point(tenant, raw, now) for raw in raws])
            except ValueError as exc:
                rejected.append(Rejection(index, f"line {index + 1}: {exc}"))
        await self.store_points(valid)
        self._metrics.rejected.labels(kind="line").inc(len(rejected))
        return IngestOutcome(accepted=len(valid), rejected=sorted(rejected, key=_by_index))

    async def store_points(self, points: Sequence[MetricPoint]) -> None:
        """Store already-validated points, then publish them by channel."""
        if not points:
            return
        await self._metrics_store.write_points(points)
        self._metrics.ingested.labels(kind="point").inc(len(points))
        grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for p in points:
            grouped[metric_channel(p.tenant, p.name)].append(p.as_message())
        await self._publish([(ch, orjson.dumps(items)) for ch, items in grouped.items()])

    async def ingest_events(self, tenant: str, raws: Sequence[RawEvent]) -> IngestOutcome:
        self._check_batch(len(raws))
        now = self._clock()
        events: list[Event] = []
        rejected: list[Rejection] = []
        for index, raw in enumerate(raws):
            try:
                events.append(self.validate_event(tenant, raw, now))
            except ValueError as exc:
                rejected.append(Rejection(index, str(exc)))
        if events:
            await self._event_store.write_events(events)
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


def _by_index(rejection: Rejection) -> int:
    return rejection.index
