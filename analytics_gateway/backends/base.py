"""The contracts every backend implements. Resolvers and services see only these."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

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

    async def label_names(self, tenant: str, metric: str) -> list[str]:
        """The label names across the metric's series, sorted."""

    async def series_count_many(self, queries: Sequence[MetricQuery]) -> list[int]:
        """How many series each query's name and labels match (whatever its range), in ONE
        backend call: what a query's cost is estimated from before it runs."""

    async def read_if_light(
        self, queries: Sequence[MetricQuery], light: Callable[[list[int]], bool]
    ) -> tuple[list[int], list[list[Series]] | None]:
        """`series_count_many`, then `query_many` if `light(counts)` says so, in ONE
        backend call where the store can (else two): the answers, or None when the read
        is not light and waits for its cost to be charged first."""

    async def delete_points_before(self, tenant: str, before_ms: int, limit: int) -> int | None:
        """Retention: delete the tenant's points older than `before_ms`, at most `limit`
        where the store can bound it; how many, or None when the store does not say."""

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

    async def event_types(self, tenant: str, limit: int) -> list[str]:
        """At most `limit` of the tenant's event types, sorted, in ONE backend call."""

    async def events_in_range(self, tenant: str, start_ms: int, end_ms: int) -> int:
        """How many of the tenant's events fall in [start, end), in ONE backend call
        (what a behaviour read of the range is costed at, before it runs)."""

    async def delete_events(self, tenant: str, user_ids: Sequence[str]) -> int:
        """Erasure: delete the tenant's events of these users, in ONE call, visible to
        the next read; how many were deleted."""

    async def delete_events_before(self, tenant: str, before_ms: int, limit: int) -> int:
        """Retention: delete at most `limit` of the tenant's events older than `before_ms`;
        how many (fewer than `limit`: none are left)."""

    def behaviour(self) -> BehaviourStore:
        """Behaviour analytics (retention, funnels) run where these events are."""

    def engagement(self) -> EngagementStore:
        """Active users and top metadata values, counted where these events are."""

    def features(self) -> FeatureStore:
        """Per-user activity figures (for segments and churn), computed where these events are."""

    def journeys(self) -> JourneyStore:
        """Sessions, next-event paths and new vs returning users, run where these events are."""

    async def close(self) -> None: ...


@dataclass(frozen=True)
class RetentionQuery:
    """Users by the UTC period (day, or ISO week from Monday) of their first event in
    [start_ms, end_ms), optionally of one event type only."""

    tenant: str
    event_type: str | None
    start_ms: int
    end_ms: int
    week: bool
    periods: int
    max_users: int


@dataclass(frozen=True)
class FunnelQuery:
    """Ordered event types (steps) done within `within_ms` of the first, in [start_ms, end_ms)."""

    tenant: str
    steps: tuple[str, ...]
    start_ms: int
    end_ms: int
    within_ms: int
    breakdown: str | None
    max_users: int
    max_groups: int  # breakdown values counted apart; the rest are counted together


@dataclass(frozen=True)
class FunnelCounts:
    """Per step: the users who reached it and, from step 2 on, the lower and upper middle
    of their milliseconds from the previous step (None when nobody reached it). The
    median is the mean of the two, so a store returns counts, never a row per user."""

    users: list[int]
    middles: list[tuple[int, int] | None]


@dataclass(frozen=True)
class FunnelTally:
    """A funnel counted for everyone and, with a breakdown, per value: the `max_groups`
    values with most users (then by value, None last) and all others together."""

    overall: FunnelCounts
    groups: list[tuple[str | None, FunnelCounts]]
    other: FunnelCounts | None


class BehaviourStore(Protocol):
    async def retention(self, query: RetentionQuery) -> list[tuple[int, int, int]]:
        """(cohort period start ms, offset k < periods, users of the cohort active in
        period cohort+k); k = 0 is the cohort's size. `QueryTooComplex` when more than
        `max_users` users had events. As few backend calls as the store allows."""

    async def funnel(self, query: FunnelQuery) -> FunnelTally:
        """The users with a step-1 event in the range, counted per step they reached.
        Step 1 is their first step-1 event; step i is their first step-i event after
        step i-1, if within `within_ms` of step 1. A user's breakdown value is the
        `breakdown` metadata value of that first event (as text; None without one).
        `QueryTooComplex` past `max_users` users. As few backend calls as the store
        allows."""


Interval = Literal["day", "week", "month"]
"""A UTC calendar period: a day, an ISO week (from Monday), a month."""


@dataclass(frozen=True)
class ActiveUsersQuery:
    """Distinct users per `interval` over [start_ms, end_ms), of one event type or all."""

    tenant: str
    event_type: str | None
    start_ms: int
    end_ms: int
    interval: Interval


@dataclass(frozen=True)
class TopItemsQuery:
    """The `limit` values of metadata `key` with the most events (or distinct users)."""

    tenant: str
    event_type: str
    key: str
    start_ms: int
    end_ms: int
    by_users: bool
    limit: int


class EngagementStore(Protocol):
    async def active_users(self, query: ActiveUsersQuery) -> tuple[list[tuple[int, int]], int]:
        """(interval start ms, distinct users) of each interval with any, oldest first,
        and the distinct users of the whole range; ONE backend call."""

    async def top_items(self, query: TopItemsQuery) -> list[tuple[str, int, int]]:
        """(value, events, distinct users), by the measure then value; ONE backend call."""


@dataclass(frozen=True)
class UserActivityQuery:
    """Each user's activity over [start_ms, end_ms), of one event type or all; the range
    is split at `middle_ms` into an early and a late part."""

    tenant: str
    event_type: str | None
    start_ms: int
    end_ms: int
    middle_ms: int
    max_users: int


@dataclass(frozen=True)
class UserActivity:
    """One user's events in a `UserActivityQuery`'s range, as counted by the store."""

    user_id: str
    events: int
    first_ms: int
    last_ms: int
    active_days: int  # distinct UTC days with an event
    late_events: int  # events at or after `middle_ms`
    event_types: int  # distinct event types
    top_type_events: int  # events of the user's most frequent type


class FeatureStore(Protocol):
    async def user_activity(self, query: UserActivityQuery) -> list[UserActivity]:
        """Every user with an event in the range, by user id; `QueryTooComplex` past
        `max_users` users. ONE backend query (paged where the store pages)."""


@dataclass(frozen=True)
class SessionsQuery:
    """Each user's events of [start_ms, end_ms) (of one type, or all) cut into sessions
    wherever more than `gap_ms` passed since the user's previous event."""

    tenant: str
    event_type: str | None
    start_ms: int
    end_ms: int
    gap_ms: int
    interval: Interval
    max_users: int
    max_events: int


@dataclass(frozen=True)
class SessionFigures:
    """Sessions as a store counts them; lengths in ms (last event - first event)."""

    sessions: int
    users: int
    events: int
    total_ms: int
    median_ms: float | None
    per_interval: list[tuple[int, int]]  # (start ms of the interval a session began in, sessions)


@dataclass(frozen=True)
class NextEventsQuery:
    """What each user did next, within `within_ms`, after each event of type `after` in
    [start_ms, end_ms); only events of the range count as next."""

    tenant: str
    after: str
    start_ms: int
    end_ms: int
    within_ms: int
    limit: int
    max_users: int
    max_events: int


@dataclass(frozen=True)
class NewUsersQuery:
    """Users active per `interval` over [start_ms, end_ms), split by whether the interval
    holds their first event ever (of any type)."""

    tenant: str
    start_ms: int
    end_ms: int
    interval: Interval
    max_users: int


class JourneyStore(Protocol):
    async def sessions(self, query: SessionsQuery) -> SessionFigures:
        """`QueryTooComplex` past `max_users` users or `max_events` events in the range.
        As few backend calls as the store allows."""

    async def next_events(
        self, query: NextEventsQuery
    ) -> tuple[int, list[tuple[str | None, int, int]]]:
        """(events of type `after`, [(next type, None for none within `within_ms`,
        transitions, distinct users)]): the `limit` most transitions, then by type with
        None as "(end)". `QueryTooComplex` past `max_users` users with an `after` event or
        `max_events` events in the range. As few backend calls as the store allows."""

    async def new_users(self, query: NewUsersQuery) -> list[tuple[int, int, int]]:
        """(interval start ms, new users, active users) of each interval with any, oldest
        first. `QueryTooComplex` past `max_users` users seen up to `end_ms`. As few backend
        calls as the store allows."""


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


AuditSeal = Callable[[str], Mapping[str, str]]
"""The fields of the audit entry that follows the entry with the given hash, `hash` included."""
AuditRecord = tuple[str, dict[str, str]]
"""An audit entry as stored: its id and its fields."""


class ConfigStore(Protocol):
    """Small, durable, multi-process configuration (API keys for now)."""

    async def create_key(self, record: ApiKeyRecord, secret_hash: str) -> None: ...

    async def key_by_hash(self, secret_hash: str) -> ApiKeyRecord | None: ...

    async def list_keys(self, tenant: str | None = None) -> list[ApiKeyRecord]: ...

    async def revoke_key(self, key_id: str) -> bool: ...

    async def rotate_key(
        self, key_id: str, secret_hash: str, previous_until_ms: int
    ) -> ApiKeyRecord | None:
        """Give the key a new secret; the current one keeps working until
        `previous_until_ms` (a secret an earlier rotation replaced stops at once).
        None if there is no such key. `key_by_hash` answers for the replaced
        secret with `expires_at_ms` at most `previous_until_ms`."""

    async def touch_keys(self, used_at_ms: Mapping[str, int]) -> None:
        """Record when keys (by id) were last used; unknown ids are ignored."""

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

    # Per-tenant audit chains (`audit.chain`): append-only, entries as string fields.

    async def append_audit(self, tenant: str, seal: AuditSeal) -> str:
        """Append `seal(head)` after the tenant's newest entry (head: its hash, "" for
        none); the new entry's id. A tenant's appends are serialised across processes,
        so each entry follows the one it was sealed on and the chain stays linear."""

    async def audit_entries(
        self,
        tenant: str,
        *,
        after: str | None = None,
        limit: int = 1000,
        newest_first: bool = False,
    ) -> list[AuditRecord]:
        """`(id, fields)` in chain order (or newest first), after the entry `after`."""

    async def audit_ends(self, tenant: str) -> tuple[str, str]:
        """`(anchor, head)`: the hash the oldest kept entry follows ("" unless trimmed)
        and the newest entry's hash ("" when there is none)."""

    async def trim_audit(self, tenant: str, before_ms: int, limit: int = 1000) -> int:
        """Drop up to `limit` of the oldest entries timed before `before_ms`, keeping the
        last dropped one's hash as the anchor, in one atomic step; how many it dropped."""

    async def audit_tenants(self) -> list[str]:
        """Tenants with an audit chain."""

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

    async def forget_history(self, channel: str) -> int:
        """Drop the channel's history (erasure); how many messages it held. A replay
        from before then gets `ResyncRequired`; live delivery is unaffected."""

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...
