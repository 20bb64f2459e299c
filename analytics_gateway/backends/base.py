"""The contracts every backend implements. Resolvers and services see only these."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Protocol

from analytics_gateway.domain import (
    ApiKeyRecord,
    Event,
    EventCountQuery,
    EventQuery,
    LabelValuesQuery,
    MetricQuery,
    PointBatch,
    Series,
)
from analytics_gateway.errors import Conflict


class MetricStore(Protocol):
    async def write_batch(self, batch: PointBatch) -> None:
        """Store all points of the batch, or raise and store none."""

    async def query_many(self, queries: Sequence[MetricQuery]) -> list[list[Series]]:
        """Answer several queries in ONE backend call; result i answers query i."""

    async def metric_names(self, tenant: str, prefix: str | None) -> list[str]: ...

    async def label_values(self, tenant: str, metric: str, label: str) -> list[str]:
        """The label's values across the metric's series, sorted."""

    async def label_values_many(self, queries: Sequence[LabelValuesQuery]) -> list[list[str]]:
        """`label_values` for several queries in ONE backend call; result i answers query i."""

    async def series_count_many(self, queries: Sequence[MetricQuery]) -> list[int]:
        """How many series each query's name and labels match (whatever its range), in ONE
        backend call: what a query's cost is estimated from before it runs."""

    async def close(self) -> None: ...


class PromQLSource(Protocol):
    """A read-only metric source speaking PromQL; every call is scoped to `tenant`."""

    async def query_many(self, queries: Sequence[MetricQuery]) -> list[list[Series] | Exception]:
        """Answer queries concurrently; item i answers query i, or is its error alone."""

    async def promql(
        self, tenant: str, query: str, start_ms: int, end_ms: int, step_ms: int
    ) -> list[Series]: ...

    async def metric_names(self, tenant: str, prefix: str | None) -> list[str]: ...

    async def label_values(self, tenant: str, metric: str, label: str) -> list[str]: ...

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...


class EventStore(Protocol):
    async def write_events(self, events: Sequence[Event]) -> None: ...

    async def query_events(self, query: EventQuery) -> list[Event]:
        """Newest first; at most `query.limit` events after the cursor."""

    async def count_events_many(self, queries: Sequence[EventCountQuery]) -> list[list[Series]]:
        """Bucketed counts for several queries in ONE backend call."""

    async def close(self) -> None: ...


class Cache(Protocol):
    """Short-lived query results, always keyed within one tenant.

    Entries expire after their TTL. Counters (`incr`/`counters`) never expire
    by TTL; callers fold them into keys to invalidate entries on write.
    """

    async def get_many(self, tenant: str, keys: Sequence[str]) -> list[bytes | None]: ...

    async def set_many(
        self, tenant: str, items: Sequence[tuple[str, bytes]], ttl_seconds: float
    ) -> None: ...

    async def incr_many(self, tenant: str, counters: Sequence[str]) -> None: ...

    async def counters(self, tenant: str, counters: Sequence[str]) -> list[int]:
        """Current values; a counter never incremented is 0."""

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...


class Buckets(Protocol):
    """Token buckets for rate limits, by key."""

    async def take(self, key: str, rate: float, burst: float, amount: float) -> float:
        """Take `amount` tokens; 0 when granted, else the seconds until they would be."""

    async def close(self) -> None: ...


# (doc_id, document, expected_version) for `ConfigStore.put_documents`
DocumentWrite = tuple[str, Mapping[str, Any], int | None]


def stale_version(kind: str, doc_id: str, current: int, expected: int | None) -> Conflict:
    """The conflict every `ConfigStore` reports for a write against a stale version."""
    return Conflict(
        f"{kind} {doc_id!r} is at version {current}, not {expected}; "
        "reload it and apply the change again",
        current_version=current,
    )


def new_version(outcome: int | Conflict) -> int:
    """One `put_documents` outcome as `put_document` answers it: the version, or raise."""
    if isinstance(outcome, Conflict):
        raise outcome
    return outcome


class ConfigStore(Protocol):
    """Small, durable, multi-process configuration (API keys for now)."""

    async def create_key(self, record: ApiKeyRecord, secret_hash: str) -> None: ...

    async def key_by_hash(self, secret_hash: str) -> ApiKeyRecord | None: ...

    async def list_keys(self, tenant: str | None = None) -> list[ApiKeyRecord]: ...

    async def revoke_key(self, key_id: str) -> bool: ...

    # Per-tenant JSON documents by kind (alert rules, silences, channels,
    # dashboards, model metadata), versioned for optimistic concurrency.

    async def put_document(
        self,
        kind: str,
        tenant: str,
        doc_id: str,
        document: Mapping[str, Any],
        expected_version: int | None = None,
    ) -> int:
        """Create or replace; return the new version (1 when new).

        With `expected_version`, raise `Conflict` unless the stored version is
        that one (0: the document must not exist yet).
        """

    async def put_documents(
        self, kind: str, tenant: str, items: Sequence[DocumentWrite]
    ) -> list[int | Conflict]:
        """`put_document` for many documents of one tenant in one round trip.

        Each `(doc_id, document, expected_version)` stands alone: the result
        per item is its new version, or the `Conflict` it met (returned, not
        raised, so that the other items are still written).
        """

    async def get_document(
        self, kind: str, tenant: str, doc_id: str
    ) -> tuple[int, dict[str, Any]] | None:
        """`(version, document)`, or None."""

    async def list_documents(self, kind: str, tenant: str) -> list[tuple[str, int, dict[str, Any]]]:
        """`(id, version, document)` of every document of the kind, by id."""

    async def delete_document(self, kind: str, tenant: str, doc_id: str) -> bool: ...

    async def document_tenants(self, kind: str) -> list[str]:
        """Tenants holding at least one document of the kind (for schedulers)."""

    async def close(self) -> None: ...


class Broker(Protocol):
    """Publish/subscribe across processes (Redis) or within one (memory).

    One broker holds ONE subscriber connection per process: `subscribe` and
    `unsubscribe` change its channel set, and `messages()` yields
    `(channel, message_id, payload)` for all of them. It reconnects and
    resubscribes on its own after the server comes back.

    Every published message gets an id (`<ms>-<seq>`, growing per channel) and
    is also kept in a bounded per-channel history, so a subscriber that was
    away can replay what it missed with `history`.
    """

    async def publish_many(self, messages: Sequence[tuple[str, bytes]]) -> None: ...

    async def subscribe(self, channel: str) -> None: ...

    async def unsubscribe(self, channel: str) -> None: ...

    def messages(self) -> AsyncIterator[tuple[str, str, bytes]]: ...

    async def history(self, channel: str, since: str) -> list[tuple[str, bytes]]:
        """Messages of `channel` from id `since` on, `since` itself first.

        Raises `ResyncRequired` when `since` is older than the oldest message
        kept, and `BadUserInput` when it is newer than the newest one or was
        never an id of this channel.
        """

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...
