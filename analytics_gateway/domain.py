"""Plain data the gateway moves around. No GraphQL, no I/O."""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import pyarrow as pa

Labels = Mapping[str, str]


def canonical_labels(labels: Labels) -> str:
    """One stable text form per label set: sorted keys, compact JSON as `json.dumps`
    writes it (ASCII only). Stored series are keyed by this text, so it never changes.

    orjson gives the same bytes for ASCII text without DEL, ten times faster;
    anything else takes `json.dumps`.
    """
    try:
        fast: bytes | None = orjson.dumps(dict(labels), option=orjson.OPT_SORT_KEYS)
    except TypeError:  # not UTF-8 encodable (a lone surrogate)
        fast = None
    if fast is not None and fast.isascii() and b"\x7f" not in fast:
        return fast.decode()
    return json.dumps(dict(sorted(labels.items())), separators=(",", ":"))


class Scope(enum.StrEnum):
    """What a key may do. `admin` implies every other scope.

    - `ingest`: write points and events (all a collecting agent needs);
    - `read`: every query and subscription;
    - `write`: alerts, silences, dashboards and models;
    - `admin`: channels (they reach the network), keys, quotas, audit.
    """

    INGEST = "ingest"
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


SCOPES_VERSION = 2
"""Stored with every key. Version 1 keys predate `ingest`: their `write` covered ingest."""


def upgraded_scopes(scopes: frozenset[Scope], version: int) -> frozenset[Scope]:
    """The scopes a stored key has today: a version 1 `write` keeps ingesting."""
    if version < 2 and Scope.WRITE in scopes:
        return scopes | {Scope.INGEST}
    return scopes


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
    subject: str | None = None
    """The token's `sub` when the credential is a JWT from the identity provider."""
    expires_at_ms: int | None = None
    """When the credential stops being valid (a token's `exp`, a key's expiry)."""

    def has(self, scope: Scope) -> bool:
        return scope in self.scopes or Scope.ADMIN in self.scopes

    @property
    def actor(self) -> str:
        """Who acted, for the audit trail: `key:<id>` or `jwt:<sub>`."""
        return f"jwt:{self.subject}" if self.subject is not None else f"key:{self.key_id}"


@dataclass(frozen=True)
class ApiKeyRecord:
    key_id: str
    tenant: str
    scopes: frozenset[Scope]
    created_at_ms: int
    revoked: bool = False
    description: str = ""
    expires_at_ms: int | None = None
    """When the key stops working; None: never."""
    last_used_at_ms: int | None = None
    """The last authentication with it, kept to within about a minute."""
    previous_until_ms: int | None = None
    """Until when the secret the last rotation replaced still works."""


def superseded(record: ApiKeyRecord, by_previous_secret: bool) -> ApiKeyRecord:
    """The key as the secret a rotation replaced sees it: expiring when its grace ends."""
    if not by_previous_secret or record.previous_until_ms is None:
        return record
    ends = record.previous_until_ms
    if record.expires_at_ms is not None:
        ends = min(ends, record.expires_at_ms)
    return replace(record, expires_at_ms=ends)


@dataclass(frozen=True)
class MetricPoint:
    tenant: str
    name: str
    labels: Mapping[str, str]
    timestamp_ms: int
    value: float


@dataclass(frozen=True)
class SeriesRef:
    """One series of a batch: the metric, its labels and their canonical text."""

    name: str
    labels: Mapping[str, str]
    key: str


@dataclass(frozen=True)
class BatchColumns:
    """A batch as arrays: each point's series (an index into `series`), time and value.

    The form bulk writers use: one entry per series, arrays per point, so
    that encoding a batch for a store or for live subscribers never loops
    over points in Python.
    """

    series: Sequence[SeriesRef]
    codes: npt.NDArray[np.intp]
    timestamps: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]


class PointBatch:
    """Validated points of one tenant: the unit the write path moves.

    Built point by point (`append`, the list arguments) or from arrays
    (`from_columns`, the bulk line-protocol path); each form is derived from
    the other only when a reader asks for it. Points with the same label set
    share one `labels` mapping and one canonical `label_keys` string.
    """

    def __init__(
        self,
        tenant: str,
        names: list[str] | None = None,
        labels: list[Mapping[str, str]] | None = None,
        label_keys: list[str] | None = None,
        timestamps: list[int] | None = None,
        values: list[float] | None = None,
    ) -> None:
        self.tenant = tenant
        self._lists: _PointLists | None = _PointLists(
            names if names is not None else [],
            labels if labels is not None else [],
            label_keys if label_keys is not None else [],
            timestamps if timestamps is not None else [],
            values if values is not None else [],
        )
        self._columns: BatchColumns | None = None

    @classmethod
    def from_columns(cls, tenant: str, columns: BatchColumns) -> PointBatch:
        batch = cls(tenant)
        batch._lists = None
        batch._columns = columns
        return batch

    @classmethod
    def of(cls, tenant: str, points: Sequence[MetricPoint]) -> PointBatch:
        """A batch from already-valid points of `tenant` (demo data, tests)."""
        batch = cls(tenant)
        for p in points:
            batch.append(p.name, p.labels, canonical_labels(p.labels), p.timestamp_ms, p.value)
        return batch

    def __len__(self) -> int:
        if self._lists is not None:
            return len(self._lists.names)
        assert self._columns is not None
        return len(self._columns.codes)

    def __repr__(self) -> str:
        return f"PointBatch({self.tenant!r}, {len(self)} points)"

    def append(
        self, name: str, labels: Mapping[str, str], label_key: str, ts: int, value: float
    ) -> None:
        lists = self._point_lists()
        self._columns = None
        lists.names.append(name)
        lists.labels.append(labels)
        lists.label_keys.append(label_key)
        lists.timestamps.append(ts)
        lists.values.append(value)

    @property
    def names(self) -> list[str]:
        return self._point_lists().names

    @property
    def labels(self) -> list[Mapping[str, str]]:
        return self._point_lists().labels

    @property
    def label_keys(self) -> list[str]:
        return self._point_lists().label_keys

    @property
    def timestamps(self) -> list[int]:
        return self._point_lists().timestamps

    @property
    def values(self) -> list[float]:
        return self._point_lists().values

    def metric_names(self) -> set[str]:
        """The distinct metrics of the batch."""
        if self._columns is not None:
            return {ref.name for ref in self._columns.series}
        return set(self.names)

    def columns(self) -> BatchColumns:
        """The batch as arrays, one `SeriesRef` per distinct (metric, labels)."""
        if self._columns is None:
            self._columns = _columns_of(self._point_lists())
        return self._columns

    def _point_lists(self) -> _PointLists:
        if self._lists is None:
            assert self._columns is not None
            self._lists = _lists_of(self._columns)
        return self._lists


@dataclass
class _PointLists:
    names: list[str]
    labels: list[Mapping[str, str]]
    label_keys: list[str]
    timestamps: list[int]
    values: list[float]


_SMALL_BATCH = 1000  # points; below this a Python loop beats Arrow's fixed costs


def _columns_of(lists: _PointLists) -> BatchColumns:
    """Codes per distinct (metric, label key) pair: by Arrow's hashing for big batches."""
    if len(lists.names) < _SMALL_BATCH:
        index: dict[tuple[str, str], int] = {}
        series: list[SeriesRef] = []
        found: list[int] = []
        for i, pair in enumerate(zip(lists.names, lists.label_keys, strict=True)):
            code = index.get(pair)
            if code is None:
                code = index[pair] = len(series)
                series.append(SeriesRef(pair[0], lists.labels[i], pair[1]))
            found.append(code)
        codes = np.asarray(found, dtype=np.intp)
    else:
        names = pa.array(lists.names, pa.string()).dictionary_encode()
        keys = pa.array(lists.label_keys, pa.string()).dictionary_encode()
        width = max(len(keys.dictionary), 1)
        pairs = names.indices.to_numpy().astype(np.int64) * width + keys.indices.to_numpy()
        _, first, inverse = np.unique(pairs, return_index=True, return_inverse=True)
        series = [
            SeriesRef(lists.names[i], lists.labels[i], lists.label_keys[i]) for i in first.tolist()
        ]
        codes = inverse.ravel().astype(np.intp)
    return BatchColumns(
        series,
        codes,
        np.asarray(lists.timestamps, dtype=np.int64),
        np.asarray(lists.values, dtype=np.float64),
    )


def _lists_of(columns: BatchColumns) -> _PointLists:
    refs = columns.series
    codes = columns.codes.tolist()
    return _PointLists(
        [refs[c].name for c in codes],
        [refs[c].labels for c in codes],
        [refs[c].key for c in codes],
        columns.timestamps.tolist(),
        columns.values.tolist(),
    )


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


@dataclass(frozen=True)
class LabelValuesQuery:
    """The values one label takes across a metric's series, within one tenant."""

    tenant: str
    metric: str
    label: str


TimestampColumn = list[int] | npt.NDArray[np.int64]
ValueColumn = list[float] | npt.NDArray[np.float64]


class Series:
    """One series as columns: timestamps (epoch ms) and values.

    A store may hand over numpy columns. They stay numpy until something asks
    for `timestamps` or `values` as lists: a raw read answered as `SeriesData`
    (see `columns`) is encoded from the arrays and never becomes millions of
    Python numbers in lists, which every young-generation garbage collection
    would walk while the event loop waits.
    """

    __slots__ = ("_timestamps", "_values", "labels", "name")

    def __init__(
        self,
        name: str,
        labels: dict[str, str],
        timestamps: TimestampColumn | None = None,
        values: ValueColumn | None = None,
    ) -> None:
        self.name = name
        self.labels = labels
        self._timestamps: TimestampColumn = [] if timestamps is None else timestamps
        self._values: ValueColumn = [] if values is None else values

    @property
    def timestamps(self) -> list[int]:
        column = self._timestamps
        if isinstance(column, list):
            return column
        converted: list[int] = column.tolist()
        self._timestamps = converted
        return converted

    @timestamps.setter
    def timestamps(self, column: list[int]) -> None:
        self._timestamps = column

    @property
    def values(self) -> list[float]:
        column = self._values
        if isinstance(column, list):
            return column
        converted: list[float] = column.tolist()
        self._values = converted
        return converted

    @values.setter
    def values(self, column: list[float]) -> None:
        self._values = column

    def columns(self) -> tuple[TimestampColumn, ValueColumn]:
        """The columns as held, lists or numpy arrays, for encoding without converting."""
        return self._timestamps, self._values

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Series):
            return NotImplemented
        return (
            self.name == other.name
            and self.labels == other.labels
            and self.timestamps == other.timestamps
            and self.values == other.values
        )

    __hash__ = None  # type: ignore[assignment]  # mutable, as the dataclass it replaced

    def __repr__(self) -> str:
        return (
            f"Series(name={self.name!r}, labels={self.labels!r}, "
            f"timestamps={self.timestamps!r}, values={self.values!r})"
        )

    def __getstate__(self) -> tuple[str, dict[str, str], TimestampColumn, ValueColumn]:
        return self.name, self.labels, self._timestamps, self._values

    def __setstate__(self, state: tuple[str, dict[str, str], TimestampColumn, ValueColumn]) -> None:
        self.name, self.labels, self._timestamps, self._values = state


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
