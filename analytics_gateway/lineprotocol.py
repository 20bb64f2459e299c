"""InfluxDB line protocol, so Telegraf and Influx clients can push here.

`measurement[,tag=v...] field=v[,field=v...] [timestamp]`. A field named
`value` becomes the metric `measurement`; any other becomes
`measurement_field`. Booleans become 1/0; string fields are refused. Each
line is accepted or rejected whole, reported by its 0-based line index.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from analytics_gateway.domain import Rejection
from analytics_gateway.errors import BadUserInput, quote_input

# nanoseconds per unit, for the precisions both v1 and v2 write APIs accept
_PRECISION_NS = {
    "ns": 1, "n": 1, "us": 1_000, "u": 1_000, "ms": 1_000_000,
    "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000,
}  # fmt: skip


MISSING_TIMESTAMP = int(np.iinfo(np.int64).min)  # a line without one: "now" on ingest

# numbers as InfluxDB's scanner takes them: ASCII digits, a leading '-' only, one
# '.', an exponent; no '+', '_', spaces, other scripts' digits, NaN or infinity
_FLOAT_SYNTAX = r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
_INTEGER_SYNTAX = r"-?[0-9]+"
# NaN and infinity parse, so ingest can refuse them by name ("must be finite")
_NON_FINITE_SYNTAX = r"[-+]?(?:[nN][aA][nN]|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?)"
_VALUE_SYNTAX = f"(?:{_FLOAT_SYNTAX}|{_NON_FINITE_SYNTAX})"
_is_float = re.compile(_VALUE_SYNTAX).fullmatch
_is_integer = re.compile(_INTEGER_SYNTAX).fullmatch
_INT64 = (-(2**63), 2**63 - 1)
_UINT64 = (0, 2**64 - 1)
# the nanosecond range InfluxDB keeps (models.MinNanoTime, MaxNanoTime)
_NANOS = (-(2**63) + 2, 2**63 - 2)
_MAX_MS = _NANOS[1] // 1_000_000


@dataclass(frozen=True)
class ParsedColumns:
    """Parsed points as arrays; `pairs` are the distinct (series key, metric name)."""

    pairs: Sequence[tuple[str, str]]
    codes: npt.NDArray[np.intp]
    lines: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    timestamps: npt.NDArray[np.int64]


@dataclass
class _ParsedLists:
    lines: list[int] = field(default_factory=list)
    series: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    timestamps: list[int | None] = field(default_factory=list)


class ParsedBody:
    """The fields of the well-formed lines, one entry per field (point), as arrays.

    Ingest reads `columns`; the per-point lists (`lines`, `series`, `names`,
    `values`, `timestamps`) are derived on first use, for readers that want
    them. `labels` maps each series key to its tags.
    """

    def __init__(self, columns: ParsedColumns, labels: dict[str, dict[str, str]]) -> None:
        self.columns = columns
        self.labels = labels
        self._lists: _ParsedLists | None = None

    def __len__(self) -> int:
        return len(self.columns.codes)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ParsedBody):
            return NotImplemented
        return self.labels == other.labels and self._as_lists() == other._as_lists()

    @property
    def lines(self) -> list[int]:
        return self._as_lists().lines

    @property
    def series(self) -> list[str]:
        return self._as_lists().series

    @property
    def names(self) -> list[str]:
        return self._as_lists().names

    @property
    def values(self) -> list[float]:
        return self._as_lists().values

    @property
    def timestamps(self) -> list[int | None]:
        return self._as_lists().timestamps

    def _as_lists(self) -> _ParsedLists:
        if self._lists is None:
            self._lists = _lists_of(self.columns)
        return self._lists


def _columns_of(lists: _ParsedLists) -> ParsedColumns:
    index: dict[tuple[str, str], int] = {}
    codes = [
        index.setdefault((key, name), len(index))
        for key, name in zip(lists.series, lists.names, strict=True)
    ]
    return ParsedColumns(
        pairs=list(index),
        codes=np.asarray(codes, dtype=np.intp),
        lines=np.asarray(lists.lines, dtype=np.int64),
        values=np.asarray(lists.values, dtype=np.float64),
        timestamps=np.asarray(
            [MISSING_TIMESTAMP if t is None else t for t in lists.timestamps], dtype=np.int64
        ),
    )


def _lists_of(columns: ParsedColumns) -> _ParsedLists:
    codes = columns.codes.tolist()
    return _ParsedLists(
        lines=columns.lines.tolist(),
        series=[columns.pairs[c][0] for c in codes],
        names=[columns.pairs[c][1] for c in codes],
        values=columns.values.tolist(),
        timestamps=[None if t == MISSING_TIMESTAMP else t for t in columns.timestamps.tolist()],
    )


def precision_divisor(precision: str | None) -> int:
    """Units per millisecond conversion factor for a `precision` parameter."""
    key = (precision or "ns").strip().lower()
    if key not in _PRECISION_NS:
        raise BadUserInput(
            f"unknown precision {precision!r}; use ns, us, ms, s (or n, u, m, h)",
            field="precision",
        )
    return _PRECISION_NS[key]


def _split(text: str, sep: str, *, quotes: bool = True) -> list[str]:
    """Split on `sep` outside of backslash escapes (and double quotes, if `quotes`:
    they quote only string field values; in a series key they are plain text)."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            current.append(text[i : i + 2])
            i += 2
            continue
        if ch == '"' and quotes:
            quoted = not quoted
        if ch == sep and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    if quoted:
        raise ValueError("unterminated string field")
    parts.append("".join(current))
    return parts


def _unescape(text: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in ' ,="\\':
            out.append(text[i + 1])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _field_value(raw: str) -> float:
    """A field value that is not a plain float: a boolean or an integer, else refused."""
    if not raw:
        raise ValueError("empty field value")
    if raw.startswith('"'):
        raise ValueError("string fields cannot be stored as metrics")
    if raw in {"t", "T", "true", "True", "TRUE"}:
        return 1.0
    if raw in {"f", "F", "false", "False", "FALSE"}:
        return 0.0
    if raw[-1] in "iu" and _is_integer(raw[:-1]):
        low, high = _INT64 if raw[-1] == "i" else _UINT64
        if not low <= int(raw[:-1]) <= high:
            kind = "a 64-bit integer" if raw[-1] == "i" else "a 64-bit unsigned integer"
            raise ValueError(f"field value {quote_input(raw)} is out of range for {kind}")
        return float(int(raw[:-1]))
    if _is_float(raw):
        return float(raw)  # finite or not: ingest refuses what is not finite
    raise ValueError(f"invalid field value {quote_input(raw)}")


def _number(raw: str) -> float:
    """The value of a field: floats as they come, anything else by `_field_value`."""
    return float(raw) if _is_float(raw) else _field_value(raw)


def _series(key: str) -> tuple[str, dict[str, str]]:
    """Measurement and tags of `measurement[,tag=value...]`."""
    if "\\" not in key:  # nothing escaped: plain splits will do
        measurement, *tags = key.split(",")
        if not measurement:
            raise ValueError("missing measurement")
        plain: dict[str, str] = {}
        for tag in tags:
            name, sep, value = tag.partition("=")
            if not sep or not name or not value or "=" in value:
                raise ValueError(f"invalid tag {tag!r}")
            if name in plain:
                raise ValueError(f"duplicate tag {name!r}")
            plain[name] = value
        return measurement, plain
    key_parts = _split(key, ",", quotes=False)
    measurement = _unescape(key_parts[0])
    if not measurement:
        raise ValueError("missing measurement")
    labels: dict[str, str] = {}
    for tag in key_parts[1:]:
        pieces = _split(tag, "=", quotes=False)
        if len(pieces) != 2 or not pieces[0] or not pieces[1]:
            raise ValueError(f"invalid tag {tag!r}")
        name = _unescape(pieces[0])
        if name in labels:
            raise ValueError(f"duplicate tag {name!r}")
        labels[name] = _unescape(pieces[1])
    return measurement, labels


def _timestamp_ms(text: str, ns_per_unit: int) -> int:
    if not _is_integer(text):
        raise ValueError(f"invalid timestamp {quote_input(text)}")
    stamp_ns = int(text) * ns_per_unit
    if not _NANOS[0] <= stamp_ns <= _NANOS[1]:
        raise ValueError(f"timestamp {quote_input(text)} is out of range (years 1677 to 2262)")
    return stamp_ns // 1_000_000


def _parse_careful(line: str, ns_per_unit: int) -> tuple[str, list[tuple[str, str]], int | None]:
    """A line with escapes, quotes or odd spacing: series key, raw fields, timestamp."""
    key = _split(line, " ", quotes=False)[0]  # quotes are plain text in a series key
    sections = [key, *(s for s in _split(line[len(key) :], " ") if s != "")]
    if not key or len(sections) < 2:
        raise ValueError("expected 'measurement[,tags] fields [timestamp]'")
    if len(sections) > 3:
        raise ValueError("too many space-separated sections (escape spaces with '\\ ')")
    timestamp_ms = _timestamp_ms(sections[2], ns_per_unit) if len(sections) == 3 else None
    fields: list[tuple[str, str]] = []
    for item in _split(sections[1], ","):
        pieces = _split(item, "=")
        if len(pieces) != 2 or not pieces[0]:
            raise ValueError(f"invalid field {item!r}")
        fields.append((_unescape(pieces[0]), pieces[1]))
    return sections[0], fields, timestamp_ms


# bodies below this many bytes are parsed line by line: the columnar setup costs more
_COLUMNAR_MIN_BYTES = 4096


def _all_of_length(lists: pa.ListArray, length: int) -> bool:
    """Whether every list in `lists` has exactly `length` items."""
    bounds = pc.min_max(pc.list_value_length(lists)).as_py()
    return bool(bounds["min"] == bounds["max"] == length)


def _parse_columnar(body: str, ns_per_unit: int) -> ParsedBody | None:
    """The whole body at once with Arrow kernels, or None to parse it line by line.

    Only for the shape agents send in bulk: every line `key field=number
    timestamp` with one field, no escapes, quotes, comments, blank lines or
    integer (`5i`) fields, and a precision of ns, us or ms. Anything else,
    including any line the line-by-line parser would reject, returns None, so
    that parser stays the one authority on errors and edge cases.
    """
    if ns_per_unit not in (1, 1_000, 1_000_000):
        return None
    if "\\" in body or '"' in body or "#" in body or "\t" in body or "\r" in body:
        return None
    lines = body[:-1] if body.endswith("\n") else body
    if not lines:
        return None
    try:
        # one string split by Arrow: no Python string per line
        rows = pc.list_flatten(pc.split_pattern(pa.array([lines], pa.string()), "\n"))
        sections = pc.split_pattern(rows, " ")
        count = len(sections)
        if not _all_of_length(sections, 3):
            return None
        flat = pc.list_flatten(sections)
        keys = flat.take(pa.array(np.arange(0, 3 * count, 3)))
        fields = pc.split_pattern(flat.take(pa.array(np.arange(1, 3 * count, 3))), "=")
        if not _all_of_length(fields, 2):
            return None
        field_parts = pc.list_flatten(fields)
        field_names = field_parts.take(pa.array(np.arange(0, 2 * count, 2)))
        if pc.any(pc.match_substring(field_names, ",")).as_py():
            return None  # several fields on a line
        if pc.any(pc.equal(pc.utf8_length(field_names), 0)).as_py():
            return None
        value_text = field_parts.take(pa.array(np.arange(1, 2 * count, 2)))
        if not pc.all(pc.match_substring_regex(value_text, f"^{_VALUE_SYNTAX}$")).as_py():
            return None  # integers, booleans, or what InfluxDB would refuse
        values = pc.cast(value_text, pa.float64())
        stamp_text = flat.take(pa.array(np.arange(2, 3 * count, 3)))
        if pc.max(pc.utf8_length(stamp_text)).as_py() > 19:
            return None  # the line parser reports it out of range
        if not pc.all(pc.match_substring_regex(stamp_text, f"^{_INTEGER_SYNTAX}$")).as_py():
            return None
        stamps = pc.cast(stamp_text, pa.int64())
        bounds = pc.min_max(stamps).as_py()
        low, high = (b * ns_per_unit for b in (bounds["min"], bounds["max"]))
        if low < _NANOS[0] or high > _NANOS[1]:
            return None  # the line parser reports it out of range
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None  # a value or timestamp that is not a plain number: line by line
    if values.null_count or stamps.null_count:
        return None
    key_codes = keys.dictionary_encode()
    name_codes = field_names.dictionary_encode()
    unique_keys = key_codes.dictionary.to_pylist()
    labels: dict[str, dict[str, str]] = {}
    measurements: list[str] = []
    for key in unique_keys:
        if not key:
            return None
        try:
            measurement, labels[key] = _series(key)
        except ValueError:
            return None
        measurements.append(measurement)
    field_list = name_codes.dictionary.to_pylist()
    width = len(field_list)
    combined = key_codes.indices.to_numpy().astype(np.int64) * width + name_codes.indices.to_numpy()
    pairs_seen, inverse = np.unique(combined, return_inverse=True)
    pairs: list[tuple[str, str]] = []
    for c in pairs_seen.tolist():
        key_index, field_index = divmod(c, width)
        measurement, field_name = measurements[key_index], field_list[field_index]
        metric = measurement if field_name == "value" else f"{measurement}_{field_name}"
        pairs.append((unique_keys[key_index], metric))
    stamp_ms = stamps.to_numpy()
    if ns_per_unit != 1_000_000:
        stamp_ms = stamp_ms // (1_000_000 // ns_per_unit)
    columns = ParsedColumns(
        pairs=pairs,
        codes=inverse.ravel().astype(np.intp),
        lines=np.arange(count, dtype=np.int64),
        values=values.to_numpy(),
        timestamps=stamp_ms.astype(np.int64),
    )
    return ParsedBody(columns, labels)


def parse_body(body: str, precision: str | None) -> tuple[ParsedBody, list[Rejection]]:
    """Parse every line; a malformed line is rejected whole with its 0-based index.

    Big bodies of plain lines are parsed as columns (`_parse_columnar`); plain
    lines otherwise take an inlined fast path, and everything else goes
    through the careful tokenizer.
    """
    ns_per_unit = precision_divisor(precision)
    if len(body) >= _COLUMNAR_MIN_BYTES:
        columnar = _parse_columnar(body, ns_per_unit)
        if columnar is not None:
            return columnar, []
    out = _ParsedLists()
    labels: dict[str, dict[str, str]] = {}
    measurements: dict[str, str] = {}
    rejected: list[Rejection] = []
    add_line, add_series = out.lines.append, out.series.append
    add_name, add_value, add_ts = out.names.append, out.values.append, out.timestamps.append
    ms_precision = ns_per_unit == 1_000_000
    # lines end at "\n" (and "\r\n") only, as InfluxDB reads them: `str.splitlines`
    # would also cut at U+2028, U+0085 and others, shifting every later line's index
    for index, raw_line in enumerate(body.split("\n")):
        line = raw_line[:-1] if raw_line.endswith("\r") else raw_line
        if not line or line[-1] in " \t" or line[0] in " \t#":
            line = line.strip()
            if not line or line[0] == "#":
                continue
        try:
            sections = line.split(" ")
            if len(sections) == 3 and "\\" not in line and '"' not in line:
                key, field_text, stamp = sections
                if len(stamp) > 19:
                    raise ValueError(f"timestamp {stamp!r} is out of range")
                timestamp_ms: int | None = (
                    int(stamp)
                    if ms_precision and stamp.isascii() and stamp.isdigit() and len(stamp) < 14
                    else _timestamp_ms(stamp, ns_per_unit)
                )
                if timestamp_ms is not None and timestamp_ms > _MAX_MS:
                    raise ValueError(f"timestamp {quote_input(stamp)} is out of range")
                if "," not in field_text and key in measurements:
                    # the commonest line of all: a known series with one field
                    name, sep, raw = field_text.partition("=")
                    if sep and name and "=" not in raw:
                        value = _number(raw)
                        measurement = measurements[key]
                        add_line(index)
                        add_series(key)
                        add_name(measurement if name == "value" else f"{measurement}_{name}")
                        add_value(value)
                        add_ts(timestamp_ms)
                        continue
                fields = [item.partition("=") for item in field_text.split(",")]
            elif len(sections) == 2 and "\\" not in line and '"' not in line:
                key, field_text = sections
                timestamp_ms = None
                fields = [item.partition("=") for item in field_text.split(",")]
            else:
                key, careful, timestamp_ms = _parse_careful(line, ns_per_unit)
                fields = [(name, "=", raw) for name, raw in careful]
            known = measurements.get(key)
            if known is None:
                measurement, labels[key] = _series(key)
                measurements[key] = measurement
            else:
                measurement = known
            points: list[tuple[str, float]] = []
            for name, sep, raw in fields:
                if not sep or not name or "=" in raw:
                    raise ValueError(f"invalid field {name + sep + raw!r}")
                value = _number(raw)
                points.append((measurement if name == "value" else f"{measurement}_{name}", value))
        except ValueError as exc:
            rejected.append(Rejection(index, f"line {index + 1}: {exc}"))
            continue
        for metric, value in points:
            add_line(index)
            add_series(key)
            add_name(metric)
            add_value(value)
            add_ts(timestamp_ms)
    return ParsedBody(_columns_of(out), labels), rejected
