"""InfluxDB line protocol, so Telegraf and Influx clients can push here.

`measurement[,tag=v...] field=v[,field=v...] [timestamp]`. A field named
`value` becomes the metric `measurement`; any other becomes
`measurement_field`. Booleans become 1/0; string fields are refused. Each
line is accepted or rejected whole, reported by its 0-based line index.
"""

from __future__ import annotations

from dataclasses import dataclass

from analytics_gateway.domain import Rejection
from analytics_gateway.errors import BadUserInput
from analytics_gateway.ingest import RawPoint

# nanoseconds per unit, for the precisions both v1 and v2 write APIs accept
_PRECISION_NS = {
    "ns": 1, "n": 1, "us": 1_000, "u": 1_000, "ms": 1_000_000,
    "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000,
}  # fmt: skip


@dataclass(frozen=True)
class ParsedLine:
    index: int
    points: list[RawPoint]


def precision_divisor(precision: str | None) -> int:
    """Units per millisecond conversion factor for a `precision` parameter."""
    key = (precision or "ns").strip().lower()
    if key not in _PRECISION_NS:
        raise BadUserInput(
            f"unknown precision {precision!r}; use ns, us, ms, s (or n, u, m, h)",
            field="precision",
        )
    return _PRECISION_NS[key]


def _split(text: str, sep: str) -> list[str]:
    """Split on `sep` outside of backslash escapes and double quotes."""
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
        if ch == '"':
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
    if not raw:
        raise ValueError("empty field value")
    if raw.startswith('"'):
        raise ValueError("string fields cannot be stored as metrics")
    if raw in {"t", "T", "true", "True", "TRUE"}:
        return 1.0
    if raw in {"f", "F", "false", "False", "FALSE"}:
        return 0.0
    text = raw[:-1] if raw[-1] in "iu" else raw
    try:
        return float(int(text)) if raw[-1] in "iu" else float(text)
    except ValueError:
        raise ValueError(f"invalid field value {raw!r}") from None


def parse_line(line: str, index: int, ns_per_unit: int) -> ParsedLine:
    sections = [s for s in _split(line, " ") if s != ""]
    if len(sections) < 2:
        raise ValueError("expected 'measurement[,tags] fields [timestamp]'")
    if len(sections) > 3:
        raise ValueError("too many space-separated sections (escape spaces with '\\ ')")
    key_parts = _split(sections[0], ",")
    measurement = _unescape(key_parts[0])
    if not measurement:
        raise ValueError("missing measurement")
    labels: dict[str, str] = {}
    for tag in key_parts[1:]:
        pieces = _split(tag, "=")
        if len(pieces) != 2 or not pieces[0] or not pieces[1]:
            raise ValueError(f"invalid tag {tag!r}")
        labels[_unescape(pieces[0])] = _unescape(pieces[1])
    timestamp_ms: int | None = None
    if len(sections) == 3:
        try:
            stamp = int(sections[2])
        except ValueError:
            raise ValueError(f"invalid timestamp {sections[2]!r}") from None
        timestamp_ms = stamp * ns_per_unit // 1_000_000
    points: list[RawPoint] = []
    for field in _split(sections[1], ","):
        pieces = _split(field, "=")
        if len(pieces) != 2 or not pieces[0]:
            raise ValueError(f"invalid field {field!r}")
        name = _unescape(pieces[0])
        metric = measurement if name == "value" else f"{measurement}_{name}"
        points.append(RawPoint(metric, _field_value(pieces[1]), labels, timestamp_ms))
    return ParsedLine(index, points)


def parse_body(body: str, precision: str | None) -> tuple[list[ParsedLine], list[Rejection]]:
    ns_per_unit = precision_divisor(precision)
    parsed: list[ParsedLine] = []
    rejected: list[Rejection] = []
    for index, raw_line in enumerate(body.splitlines()):
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            parsed.append(parse_line(line, index, ns_per_unit))
        except ValueError as exc:
            rejected.append(Rejection(index, f"line {index + 1}: {exc}"))
    return parsed, rejected
