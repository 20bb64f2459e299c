"""Point batches as InfluxDB line protocol, built column-wise, and the tag encoding.

Ingest is the hot path, so a body is never built point by point in Python:
each distinct series gets its line prefix (`measurement,tags value=`) once,
and Arrow kernels take the prefix per point, format the floats (shortest
round-trip form) and the timestamps, and join the lines in C++.

Tags are the series' labels plus `TENANT_TAG`. Label keys match
`validation.LABEL_KEY_RE`, which never starts with `@`, so `@tenant` cannot
collide with a label; the keys InfluxDB refuses or reserves (`time`, and
`_field`/`_measurement` on 2.x) are stored as `@time` and so on. A label value
that line protocol cannot carry (empty, a backslash, control characters) is
stored percent-encoded behind `ENCODED_MARK`, and so is one that starts with
the mark: the encoding is one-to-one, so filters and results see the labels
exactly as written.

Timestamps are written in nanoseconds: the millisecond the API speaks plus a
sub-millisecond tie-break (`tie_breaks`) that is a function of the point
itself. InfluxDB keeps one point per series and timestamp, while the gateway
keeps every acknowledged point: the tie-break keeps two different values of
one series in the same millisecond apart, and no reader sees it (reads are in
milliseconds). Being a function of the point, it is the same on every write
of it: a batch written again (a redrive from the ingest buffer, a request that
timed out and was applied later, a client retrying the same body) overwrites
itself instead of adding copies.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from urllib.parse import quote, unquote_to_bytes

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from analytics_gateway.domain import PointBatch, SeriesRef

_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)

TENANT_TAG = "@tenant"
FIELD = "value"
ENCODED_MARK = "%%"
RESERVED_KEYS = frozenset({"time", "_field", "_measurement"})
_NS_PER_MS = 1_000_000
_SERIES_CACHE = 100_000
_KEY_ESCAPES = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ "})
_NAME_ESCAPES = str.maketrans({",": r"\,", " ": r"\ "})


def _unsafe(text: str) -> bool:
    """True if line protocol cannot carry `text` as a tag value, even escaped."""
    return not text or "\\" in text or not text.isprintable() or text.startswith(ENCODED_MARK)


def encode_tag_value(value: str) -> str:
    if not _unsafe(value):
        return value
    return ENCODED_MARK + quote(value.encode("utf-8", "surrogatepass"), safe="")


def decode_tag_value(stored: str) -> str:
    if not stored.startswith(ENCODED_MARK):
        return stored
    return unquote_to_bytes(stored[len(ENCODED_MARK) :]).decode("utf-8", "surrogatepass")


def encode_tag_key(key: str) -> str:
    return "@" + key if key in RESERVED_KEYS else key


def decode_tag_key(stored: str) -> str | None:
    """The label a stored tag key holds; None for the tenant tag."""
    if stored == TENANT_TAG:
        return None
    if stored.startswith("@") and stored[1:] in RESERVED_KEYS:
        return stored[1:]
    return stored


def _checked(text: str, what: str) -> str:
    if not text or "\\" in text or not text.isprintable():
        raise ValueError(f"{what} {text!r} cannot be stored in InfluxDB")
    return text


def series_prefix(tenant: str, name: str, labels: Mapping[str, str]) -> str:
    """`measurement,@tenant=t,k=v... value=`: tags sorted, as InfluxDB keeps them."""
    tags = [(TENANT_TAG, tenant)]
    tags += [(encode_tag_key(_checked(k, "label name")), v) for k, v in labels.items()]
    tags.sort()
    parts = [_checked(name, "metric name").translate(_NAME_ESCAPES)]
    for key, value in tags:
        parts.append(
            f",{key.translate(_KEY_ESCAPES)}={encode_tag_value(value).translate(_KEY_ESCAPES)}"
        )
    parts.append(f" {FIELD}=")
    return "".join(parts)


def tie_breaks(
    codes: npt.NDArray[np.intp], timestamps: npt.NDArray[np.int64], values: npt.NDArray[np.float64]
) -> npt.NDArray[np.int64]:
    """The sub-millisecond nanoseconds of each point: a hash of its value's bits,
    and for points the same in series, millisecond and value within one batch,
    one more for each earlier one (so all of them are kept, in batch order)."""
    bits = np.ascontiguousarray(values, dtype=np.float64).view(np.uint64)
    mixed = (bits ^ (bits >> np.uint64(30))) * _MIX_1  # splitmix64's finaliser
    mixed = (mixed ^ (mixed >> np.uint64(27))) * _MIX_2
    mixed ^= mixed >> np.uint64(31)
    offsets = (mixed % np.uint64(_NS_PER_MS)).astype(np.int64)
    stamps = timestamps * _NS_PER_MS + offsets
    order = np.lexsort((stamps, codes))  # stable: equal points keep their order
    by_code, by_stamp = codes[order], stamps[order]
    repeat = np.zeros(len(order), dtype=bool)
    repeat[1:] = (by_code[1:] == by_code[:-1]) & (by_stamp[1:] == by_stamp[:-1])
    if repeat.any():
        positions = np.arange(len(order))
        run_start = np.maximum.accumulate(np.where(repeat, 0, positions))
        offsets[order] = (offsets[order] + positions - run_start) % _NS_PER_MS
    return offsets


class LineEncoder:
    """Turns a `PointBatch` into line-protocol bodies of at most `chunk_points`,
    gzipped unless `compress_level` is 0.

    `encode` may run in any thread: the prefix cache only ever gains entries
    whose value is a pure function of their key.
    """

    def __init__(self, chunk_points: int = 5000, compress_level: int = 1) -> None:
        self.chunk_points = chunk_points
        self.compress_level = compress_level
        self._prefixes: dict[tuple[str, str, str], str] = {}

    def encode(self, batch: PointBatch) -> list[bytes]:
        count = len(batch)
        if count == 0:
            return []
        lines = self._lines(batch)
        offsets = np.frombuffer(
            lines.buffers()[1], dtype=np.int32, count=count + 1, offset=lines.offset * 4
        )
        data = memoryview(lines.buffers()[2])
        wbits = 31  # gzip container
        if not self.compress_level:
            return [
                bytes(data[offsets[i] : offsets[min(i + self.chunk_points, count)]])
                for i in range(0, count, self.chunk_points)
            ]
        return [
            zlib.compress(
                data[offsets[i] : offsets[min(i + self.chunk_points, count)]],
                self.compress_level,
                wbits,
            )
            for i in range(0, count, self.chunk_points)
        ]

    def _lines(self, batch: PointBatch) -> pa.StringArray:
        columns = batch.columns()
        tenant = batch.tenant
        prefixes = pa.array([self._prefix(tenant, ref) for ref in columns.series], pa.string())
        timestamps = np.asarray(columns.timestamps, dtype=np.int64)
        values = np.asarray(columns.values, dtype=np.float64)
        stamps = timestamps * _NS_PER_MS + tie_breaks(np.asarray(columns.codes), timestamps, values)
        return pc.binary_join_element_wise(
            prefixes.take(pa.array(columns.codes)),
            pc.cast(pa.array(columns.values, pa.float64()), pa.string()),
            " ",
            pc.cast(pa.array(stamps), pa.string()),
            "\n",
            "",
        )

    def _prefix(self, tenant: str, ref: SeriesRef) -> str:
        key = (tenant, ref.name, ref.key)
        prefix = self._prefixes.get(key)
        if prefix is None:
            if len(self._prefixes) > _SERIES_CACHE:
                self._prefixes.clear()
            prefix = series_prefix(tenant, ref.name, ref.labels)
            self._prefixes[key] = prefix
        return prefix
