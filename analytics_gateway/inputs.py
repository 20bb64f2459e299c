"""Client input shared by GraphQL and REST, checked in one place.

Time ranges (`last` or `from`/`to`), label filters, metric names and whole
metric queries arrive through resolvers and REST routes alike; both hand the
raw values here, so one request means the same thing, and fails with the
same `BadUserInput`, whichever way it came. "Now" is always passed in: it is
the app's clock, which tests inject.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from analytics_gateway.domain import Aggregation, MetricQuery, MetricSource
from analytics_gateway.durations import parse_duration_ms
from analytics_gateway.errors import BadUserInput, QueryTooComplex
from analytics_gateway.validation import NAME_RE

DEFAULT_RANGE_MS = 3_600_000
MAX_BUCKETS = 100_000
MAX_GROUP_LABEL_LENGTH = 128
# what a range may span: no point is stored before 1970 (ingest refuses them), and a
# range's previous period or next run must still be a date Python can hold
LATEST_MS = int(datetime(9000, 1, 1, tzinfo=UTC).timestamp() * 1000)


def epoch_ms(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)


def time_range(
    last: str | None,
    start: datetime | None,
    end: datetime | None,
    *,
    now_ms: int,
    default_ms: int | None = DEFAULT_RANGE_MS,
) -> tuple[int | None, int | None]:
    """Resolve `last` or `from`/`to` into epoch ms [start, end)."""
    if last is not None and (start is not None or end is not None):
        raise BadUserInput("give either `last` or `from`/`to`, not both", field="last")
    if last is not None:
        begin = now_ms - parse_duration_ms(last, field="last")
        if begin < 0:
            raise BadUserInput("`last` reaches before 1970", field="last")
        return begin, now_ms + 1
    if start is None and end is None:
        if default_ms is None:
            return None, None
        return now_ms - default_ms, now_ms + 1
    start_ms = epoch_ms(start) if start is not None else None
    end_ms = epoch_ms(end) if end is not None else now_ms + 1
    if start_ms is None:
        start_ms = end_ms - (default_ms or DEFAULT_RANGE_MS)
    if start_ms >= end_ms:
        raise BadUserInput("`from` must be before `to`", field="from")
    if start_ms < 0:
        raise BadUserInput("`from` must be in 1970 or later", field="from")
    if end_ms > LATEST_MS:
        raise BadUserInput("`to` must be before the year 9000", field="to")
    return start_ms, end_ms


def bounded_range(
    last: str | None, start: datetime | None, end: datetime | None, *, now_ms: int
) -> tuple[int, int]:
    """`time_range` with its default: always a range."""
    start_ms, end_ms = time_range(last, start, end, now_ms=now_ms)
    assert start_ms is not None
    assert end_ms is not None
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


def metric_query(
    tenant: str,
    name: str,
    *,
    now_ms: int,
    labels: Any = None,
    last: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    step: str | None = None,
    aggregation: Aggregation | None = None,
    group_by: Sequence[str] | None = None,
    source: MetricSource = MetricSource.STORE,
) -> MetricQuery:
    """A checked `MetricQuery` from what a client sent (GraphQL input or query string)."""
    start_ms, end_ms = bounded_range(last, start, end, now_ms=now_ms)
    step_ms = parse_duration_ms(step, field="step") if step is not None else None
    if step_ms is not None and (end_ms - start_ms) // step_ms > MAX_BUCKETS:
        raise QueryTooComplex(
            f"step {step!r} over this range makes more than {MAX_BUCKETS} buckets",
            field="step",
        )
    grouping = None
    if group_by is not None:
        for key in group_by:
            if not key or len(key) > MAX_GROUP_LABEL_LENGTH:
                raise BadUserInput(f"groupBy: invalid label name {key!r}", field="groupBy")
        grouping = tuple(sorted(set(group_by)))
    return MetricQuery(
        tenant=tenant,
        name=metric_name(name),
        labels=label_filter(labels),
        start_ms=start_ms,
        end_ms=end_ms,
        step_ms=step_ms,
        aggregation=aggregation,
        group_by=grouping,
        source=source,
    )
