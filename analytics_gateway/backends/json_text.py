"""Metadata values as the text DuckDB's JSON functions give them.

The embedded store groups events by `json_extract_string(metadata, key)` and
orders the groups by `json_object(key, value)::VARCHAR`. A store that groups
elsewhere (Elasticsearch terms) computes the same text here at write time, so
`eventCounts(groupBy:)` labels and their order agree across stores: strings as
they are, `true`/`false`, numbers the way DuckDB's JSON writer (yyjson) prints
them, nested objects and arrays as compact JSON with non-ASCII kept.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

_ESCAPES = {ord('"'): '\\"', ord("\\"): "\\\\"}
_ESCAPES.update({c: f"\\u{c:04X}" for c in range(0x20)})
_ESCAPES.update({ord("\b"): "\\b", ord("\t"): "\\t", ord("\n"): "\\n"})
_ESCAPES.update({ord("\f"): "\\f", ord("\r"): "\\r"})


def quote(text: str) -> str:
    """A JSON string literal, escaped as DuckDB escapes it."""
    return '"' + text.translate(_ESCAPES) + '"'


def extract_string(value: Any) -> str | None:
    """What `json_extract_string` returns for a metadata value; None for null."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json_text(value)


def object_text(key: str, value: str | None) -> str:
    """`json_object(key, value)::VARCHAR`: the embedded store's group sort key."""
    return "{" + quote(key) + ":" + ("null" if value is None else quote(value)) + "}"


def json_text(value: Any) -> str:
    """Compact JSON of a decoded value, formatted as DuckDB writes it."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return float_text(value)
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{quote(str(k))}:{json_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(json_text(v) for v in value) + "]"
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def float_text(value: float) -> str:
    """Shortest round-trip digits; plain notation for exponents -6..20, else `1.5e-7`.

    Integral values keep a `.0` (`100.0`), exponents have no `+` (`1e21`).
    Infinities and NaN cannot be stored as JSON and read as null.
    """
    if not math.isfinite(value):
        return "null"
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    if value == 0:
        return sign + "0.0"
    _, digit_tuple, exponent = Decimal(repr(abs(value))).as_tuple()
    digits = "".join(map(str, digit_tuple))
    stripped = digits.rstrip("0")
    exponent = int(exponent) + len(digits) - len(stripped)
    digits = stripped
    scientific = exponent + len(digits) - 1
    if not -6 <= scientific < 21:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{scientific}"
    if exponent >= 0:
        return f"{sign}{digits}{'0' * exponent}.0"
    point = len(digits) + exponent
    if point > 0:
        return f"{sign}{digits[:point]}.{digits[point:]}"
    return f"{sign}0.{'0' * -point}{digits}"
