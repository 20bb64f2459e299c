"""Plain data the gateway moves around. No GraphQL, no I/O."""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Labels = Mapping[str, str]


def canonical_labels(labels: Labels) -> str:
    """One stable text form per label set: sorted keys, compact JSON."""
    return json.dumps(dict(sorted(labels.items())), separators=(",", ":"))


class Scope(enum.StrEnum):
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


class Aggregation(enum.StrEnum):
    AVG = "avg"
    SUM = "sum"
    MIN = "min"
    MAX = "max"
    COUNT = "count"
    LAST = "last"
    P50 = "p50"
    P95 = "p95"
    P99 = "p99"
    RATE = "rate"


class MetricSource(enum.StrEnum):
    """Where a metric query reads: the gateway's store, or a configured Prometheus."""

    STORE = "store"
    PROMETHEUS = "prometheus"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the tenant always comes from the credential."""

    tenant: str
    key_id: str
    scopes: frozenset[Scope]

    def has(self, scope: Scope) -> bool:
        return scope in self.scopes or Scope.ADMIN in self.scopes


@dataclass(frozen=True)
class ApiKeyRecord:
    key_id: str
    tenant: str
    scopes: frozenset[Scope]
    created_at_ms: int
    revoked: bool = False
    description: str = ""


@dataclass(frozen=True)
class MetricPoint:
    tenant: str
    name: str
    labels: Mapping[str, str]
    timestamp_ms: int
    value: float


@dataclass
class PointBatch:
    """Validated points of one tenant as columns: the unit the write path moves.

    Points with the same label set share one `labels` mapping and one
    canonical `label_keys` string, so a batch costs little per point.
    """

    tenant: str
    names: list[str] = field(default_factory=list)
    labels: list[Mapping[str, str]] = field(default_factory=list)
    label_keys: list[str] = field(default_factory=list)
    timestamps: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.names)

    def append(
        self, name: str, labels: Mapping[str, str], label_key: str, ts: int, value: float
    ) -> None:
        self.names.append(name)
        self.labels.append(labels)
        self.label_keys.append(label_key)
        self.timestamps.append(ts)
        self.values.append(value)

    @classmethod
    def of(cls, tenant: str, points: Sequence[MetricPoint]) -> PointBatch:
        """A batch from already-valid points of `tenant` (demo data, tests)."""
        batch = cls(tenant)
        for p in points:
            batch.append(p.name, p.labels, canonical_labels(p.labels), p.timestamp_ms, p.value)
        return batch


@dataclass(frozen=True)
class MetricQuery:
    """A resolved, validated metric query; hashable so loaders can batch it."""

    tenant: str
    name: str
    labels: tuple[tuple[str, str], ...]
    start_ms: int
    end_ms: int
    step_ms: int | None = None
    aggregation: Aggregation | None = None
    group_by: tuple[str, ...] | None = None
    source: MetricSource = MetricSource.STORE


@dataclass
class Series:
    """One series as columns: timestamps (epoch ms) and values."""

    name: str
    labels: dict[str, str]
    timestamps: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class Event:
    tenant: str
    event_id: str
    type: str
    user_id: str | None
    timestamp_ms: int
    metadata: Mapping[str, Any]

    def as_message(self) -> dict[str, Any]:
        return {
            "id": self.event_id,
            "type": self.type,
            "userId": self.user_id,
            "t": self.timestamp_ms,
            "metadata": dict(self.metadata),
        }


@dataclass(frozen=True)
class EventQuery:
    tenant: str
    type: str | None
    user_id: str | None
    start_ms: int | None
    end_ms: int | None
    limit: int
    after: tuple[int, str] | None = None


@dataclass(frozen=True)
class EventCountQuery:
    tenant: str
    type: str
    start_ms: int
    end_ms: int
    step_ms: int
    group_by: str | None = None


@dataclass(frozen=True)
class Rejection:
    index: int
    message: str


@dataclass
class IngestOutcome:
    accepted: int = 0
    rejected: list[Rejection] = field(default_factory=list)
