"""Input helpers shared by resolvers."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from analytics_gateway.durations import parse_duration_ms
from analytics_gateway.errors import BadUserInput
from analytics_gateway.ingest import now_ms
from analytics_gateway.validation import NAME_RE

DEFAULT_RANGE_MS = 3_600_000


def epoch_ms(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)


def time_range(
    last: str | None,
    start: datetime | None,
    end: datetime | None,
    *,
    default_ms: int | None = DEFAULT_RANGE_MS,
) -> tuple[int | None, int | None]:
    """Resolve `last` or `from`/`to` into epoch ms [start, end)."""
    if last is not None and (start is not None or end is not None):
        raise BadUserInput("give either `last` or `from`/`to`, not both", field="last")
    now = now_ms()
    if last is not None:
        return now - parse_duration_ms(last, field="last"), now + 1
    if start is None and end is None:
        if default_ms is None:
            return None, None
        return now - default_ms, now + 1
    start_ms = epoch_ms(start) if start is not None else None
    end_ms = epoch_ms(end) if end is not None else now + 1
    if start_ms is None:
        start_ms = end_ms - (default_ms or DEFAULT_RANGE_MS)
    if start_ms >= end_ms:
        raise BadUserInput("`from` must be before `to`", field="from")
    return start_ms, end_ms


def label_filter(raw: Any, field: str = "labels") -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        raise BadUserInput(f"{field} must be an object of label name to string", field=field)
    items: list[tuple[str, str]] = []
    for key, value in raw.items():
        if (
            not isinstance(key, str)
            or isinstance(value, bool)
            or not isinstance(value, str | int | float)
        ):
            raise BadUserInput(f"{field}: label {key!r} must map to a string", field=field)
        items.append((key, str(value)))
    return tuple(sorted(items))


def metric_name(name: str, field: str = "name") -> str:
    if not NAME_RE.match(name):
        raise BadUserInput(f"{field}: {name!r} is not a valid metric name", field=field)
    return name
