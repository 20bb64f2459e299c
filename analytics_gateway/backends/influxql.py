"""InfluxQL for metric queries, and their results as the embedded store shapes them.

Each `MetricQuery` becomes one statement (all of a `query_many` go in one
request). The results follow `duckdb_store` exactly: buckets start at
multiples of the step since the epoch (or at `start` for one bucket over the
whole range), empty buckets are absent, series are ordered by the same
label text the embedded store sorts on, and a label a series lacks is absent.

AVG, SUM, MIN, MAX, COUNT, LAST and P50 (`median()`, which interpolates like
`quantile_cont(0.5)`, up to the last bit) run in InfluxDB. P95 and P99 (InfluxQL's `percentile()`
is nearest-rank, not interpolated) and RATE (InfluxQL cannot see the first and
last timestamps of a bucket) are computed here from the raw points, so for
those the raw points count against `max_points`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from analytics_gateway.backends.influx_lines import (
    FIELD,
    TENANT_TAG,
    decode_tag_key,
    decode_tag_value,
    encode_tag_key,
    encode_tag_value,
)
from analytics_gateway.domain import Aggregation, MetricQuery, Series, canonical_labels
from analytics_gateway.validation import LABEL_KEY_RE

_SERVER_SIDE = {
    Aggregation.AVG: "mean",
    Aggregation.SUM: "sum",
    Aggregation.MIN: "min",
    Aggregation.MAX: "max",
    Aggregation.COUNT: "count",
    Aggregation.LAST: "last",
    Aggregation.P50: "median",
}
_QUANTILES = {Aggregation.P95: 0.95, Aggregation.P99: 0.99}
_NS_PER_MS = 1_000_000
_MIN_NS = -(2**63) + 2  # InfluxDB's representable time range
_MAX_NS = 2**63 - 2
_PLAIN_PREFIX = re.compile(r"^[A-Za-z0-9_:.\-]+$")  # no regex or InfluxQL quoting needed


def ident(name: str) -> str:
    """A double-quoted InfluxQL identifier."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def literal(text: str) -> str:
    """A single-quoted InfluxQL string."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def tenant_condition(tenant: str) -> str:
    return f"{ident(TENANT_TAG)} = {literal(encode_tag_value(tenant))}"


def _ns(ms: int) -> int:
    return min(max(ms * _NS_PER_MS, _MIN_NS), _MAX_NS)


@dataclass(frozen=True)
class Plan:
    """One query's statement and how to read its result back."""

    query: MetricQuery
    statement: str | None  # None: nothing can match, no statement is sent
    raw: bool  # the result rows are points, not buckets
    group_keys: tuple[str, ...] | None  # the query's group_by; None: one group per series


def plan(query: MetricQuery, source: str, limit: int) -> Plan:
    """The statement for `query` on measurement reference `source` (`"rp"."name"`)."""
    group_by = query.group_by
    if any(not LABEL_KEY_RE.match(key) for key, _ in query.labels):
        return Plan(query, None, True, group_by)  # no stored label has such a name
    where = [tenant_condition(query.tenant)]
    where += [
        f"{ident(encode_tag_key(k))}::tag = {literal(encode_tag_value(v))}" for k, v in query.labels
    ]
    where.append(f"time >= {_ns(query.start_ms)} AND time < {_ns(query.end_ms)}")
    if group_by is None:
        tags = ["*"]
    else:
        tags = [ident(encode_tag_key(k)) for k in group_by if LABEL_KEY_RE.match(k)]
    aggregated = not (query.aggregation is None and query.step_ms is None and group_by is None)
    function = _SERVER_SIDE.get(query.aggregation or Aggregation.AVG)
    raw = not aggregated or function is None
    if raw:
        select = f"{ident(FIELD)}::field"
        grouping = tags
    else:
        select = f"{function}({ident(FIELD)}::field)"
        grouping = tags if query.step_ms is None else [f"time({int(query.step_ms)}ms)", *tags]
    statement = f"SELECT {select} FROM {source} WHERE {' AND '.join(where)}"
    if grouping:
        statement += f" GROUP BY {', '.join(grouping)}"
    if not raw and query.step_ms is not None:
        statement += " fill(none)"
    return Plan(query, f"{statement} LIMIT {int(limit)}", raw, group_by)


def rows_of(result: dict[str, Any]) -> int:
    return sum(len(s.get("values") or ()) for s in result.get("series") or ())


def metric_names_statement(database: str, tenant: str, prefix: str | None) -> str:
    """Measurements of one tenant; a plain prefix narrows them in InfluxDB already."""
    statement = f"SHOW MEASUREMENTS ON {ident(database)}"
    if prefix and _PLAIN_PREFIX.match(prefix):
        statement += f" WITH MEASUREMENT =~ /^{re.escape(prefix)}/"
    return f"{statement} WHERE {tenant_condition(tenant)}"


def label_values_statement(database: str, source: str, tenant: str, label: str) -> str:
    return (
        f"SHOW TAG VALUES ON {ident(database)} FROM {source} "
        f"WITH KEY = {ident(encode_tag_key(label))} WHERE {tenant_condition(tenant)}"
    )


def series_count_statement(query: MetricQuery, source: str) -> str | None:
    """How many series `query` matches; None when it can match none (a label no stored
    series can have)."""
    if any(not LABEL_KEY_RE.match(key) for key, _ in query.labels):
        return None
    where = [tenant_condition(query.tenant)]
    where += [
        f"{ident(encode_tag_key(k))} = {literal(encode_tag_value(v))}" for k, v in query.labels
    ]
    return f"SHOW SERIES EXACT CARDINALITY FROM {source} WHERE {' AND '.join(where)}"


def column(result: dict[str, Any], index: int) -> list[str]:
    """One column of every series of a SHOW result."""
    return [row[index] for s in result.get("series") or () for row in s.get("values") or ()]


def series_of(plan: Plan, result: dict[str, Any]) -> list[Series]:
    """The result of `plan`'s statement as the embedded store would answer it."""
    query = plan.query
    groups: list[tuple[str, dict[str, str], list[int], list[float]]] = []
    for item in result.get("series") or ():
        rows = item.get("values") or []
        if not rows:
            continue
        labels, order = _labels(plan.group_keys, item.get("tags") or {})
        times, fields = zip(*rows, strict=True)
        if None in fields:  # a bucket without a value: dropped, as the embedded store does
            times = tuple(t for t, v in rows if v is not None)
            fields = tuple(v for v in fields if v is not None)
        groups.append((order, labels, list(times), list(map(float, fields))))
    groups.sort(key=lambda g: g[0])
    aggregated = not (
        query.aggregation is None and query.step_ms is None and query.group_by is None
    )
    out: list[Series] = []
    for _, labels, stamps, values in groups:
        if plan.raw and aggregated:
            stamps, values = _reduce(query, stamps, values)
        elif aggregated and query.step_ms is None:
            stamps = [query.start_ms] * len(stamps)  # one bucket, stamped with the start
        out.append(Series(query.name, labels, stamps, values))
    return out


def _labels(group_keys: tuple[str, ...] | None, tags: dict[str, str]) -> tuple[dict[str, str], str]:
    """The group's labels, and the text the embedded store orders groups by."""
    if group_keys is None:
        found = {}
        for stored, value in tags.items():
            key = decode_tag_key(stored)
            if key is not None and value != "":
                found[key] = decode_tag_value(value)
        labels = dict(sorted(found.items()))
        return labels, canonical_labels(labels)
    values: dict[str, str | None] = {}
    for key in group_keys:
        stored = tags.get(encode_tag_key(key), "") if LABEL_KEY_RE.match(key) else ""
        values[key] = decode_tag_value(stored) if stored != "" else None
    order = json.dumps(values, ensure_ascii=False, separators=(",", ":"))
    return {k: v for k, v in values.items() if v is not None}, order


def _reduce(
    query: MetricQuery, stamps: Sequence[int], values: Sequence[float]
) -> tuple[list[int], list[float]]:
    """Bucket time-ordered raw points and aggregate them as the embedded store does."""
    ts = np.asarray(stamps, dtype=np.int64)
    vs = np.asarray(values, dtype=np.float64)
    step = query.step_ms or max(query.end_ms - query.start_ms, 1)
    origin = query.start_ms if query.step_ms is None else 0
    buckets = origin + ((ts - origin) // step) * step
    starts = np.flatnonzero(np.r_[True, buckets[1:] != buckets[:-1]])
    ends = np.r_[starts[1:], len(ts)]
    if query.aggregation in _QUANTILES:
        result = _quantiles(vs, starts, ends, _QUANTILES[query.aggregation])
    else:  # RATE: (last - first value) per second between the first and last timestamp
        first, last = starts, ends - 1
        span = ts[last] - ts[first]
        with np.errstate(divide="ignore", invalid="ignore"):
            result = (vs[last] - vs[first]) / (span / 1000.0)
        result[span <= 0] = np.nan
    keep = ~np.isnan(result)
    return buckets[starts][keep].tolist(), result[keep].tolist()


def _quantiles(
    values: np.ndarray[Any, Any], starts: np.ndarray[Any, Any], ends: np.ndarray[Any, Any], q: float
) -> np.ndarray[Any, Any]:
    """`quantile_cont(q)` per bucket: linear interpolation between closest ranks."""
    bucket_of = np.repeat(np.arange(len(starts)), ends - starts)
    ordered = values[np.lexsort((values, bucket_of))]
    position = (ends - starts - 1).astype(np.float64) * q
    low = np.floor(position)
    fraction = position - low
    lo = ordered[starts + low.astype(np.int64)]
    hi = ordered[starts + np.ceil(position).astype(np.int64)]
    result: np.ndarray[Any, Any] = np.where(
        fraction == 0, lo, lo * (1.0 - fraction) + hi * fraction
    )
    return result
