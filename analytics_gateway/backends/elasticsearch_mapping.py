"""What the events indices hold, and how count answers read back.

Mapping (an index template, put on first use): `ts` a `date` in epoch
milliseconds, `type`/`user_id`/`tenant`/`id` keywords, `metadata` an object
with `enabled: false` (kept in `_source`, never mapped). Neither a dynamic
object (one mapped field per metadata key across all tenants, and a key that
is a number in one event and a string in another rejects the second) nor
`flattened` (Elasticsearch only; OpenSearch and osmem-server call it
`flat_object`) fits. `groupBy` instead reads `dims`, one keyword per top-level
metadata key, `<key as hex>:<value>`, where the value is the text DuckDB's
`json_extract_string` gives (see `json_text`); a `terms` aggregation picks one
key's values with the regex `<key as hex>:.*`, which needs no escaping, so no
regex dialect can read it differently. Values over 8,191 characters are not
indexed in `dims` and count under no label.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from analytics_gateway.backends.json_text import extract_string, object_text
from analytics_gateway.domain import Event, EventCountQuery, Series
from analytics_gateway.errors import QueryTooComplex

DAY_MS = 86_400_000
TERMS_SIZE = 10_000
DIMS_MAX_CHARS = 8191  # 4 bytes a character stays under Lucene's 32,766-byte term limit
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "tenant": {"type": "keyword"},
        "id": {"type": "keyword"},
        "type": {"type": "keyword"},
        "user_id": {"type": "keyword"},
        "ts": {"type": "date", "format": "epoch_millis"},
        "metadata": {"type": "object", "enabled": False},
        "dims": {"type": "keyword", "ignore_above": DIMS_MAX_CHARS},
    },
}


@lru_cache(maxsize=4096)
def _month_of_day(day: int) -> str:
    moment = _EPOCH + timedelta(days=day)
    return f"{moment.year:04d}.{moment.month:02d}"


def month_of(ts: int) -> str:
    """`YYYY.MM` of an epoch-millisecond time, in UTC: the suffix of its index."""
    return _month_of_day(ts // DAY_MS)


def month_end_ms(year: int, month: int) -> int:
    """Epoch milliseconds where the month after `year.month` begins."""
    start = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return (start - _EPOCH) // timedelta(milliseconds=1)


def dim_prefix(key: str) -> str:
    """How `dims` terms of one metadata key start: unambiguous, and literal in any regex."""
    return key.encode().hex() + ":"


def document(event: Event) -> dict[str, Any]:
    """The stored document: metadata kept whole, plus its `dims` for `groupBy`."""
    dims = []
    for key, raw in event.metadata.items():
        value = extract_string(raw)
        if value is not None:
            dims.append(dim_prefix(key) + value)
    return {
        "tenant": event.tenant,
        "id": event.event_id,
        "type": event.type,
        "user_id": event.user_id,
        "ts": event.timestamp_ms,
        "metadata": dict(event.metadata),
        "dims": dims,
    }


def count_aggregation(query: EventCountQuery) -> dict[str, Any]:
    """Buckets aligned like DuckDB's `ts // step * step`, none empty; terms for `groupBy`."""
    histogram: dict[str, Any] = {
        "date_histogram": {
            "field": "ts",
            "fixed_interval": f"{int(query.step_ms)}ms",
            "min_doc_count": 1,
        }
    }
    if query.group_by:
        include = dim_prefix(query.group_by) + ".*"
        histogram["aggs"] = {
            "g": {"terms": {"field": "dims", "include": include, "size": TERMS_SIZE}}
        }
    return {"t": histogram}


def count_series(query: EventCountQuery, buckets: list[dict[str, Any]]) -> list[Series]:
    """Series ordered like DuckDB's `ORDER BY grp, ts`; a missing key has no label."""
    if not buckets:
        return []
    if not query.group_by:
        timestamps = [int(b["key"]) for b in buckets]
        return [Series(query.type, {}, timestamps, [float(b["doc_count"]) for b in buckets])]
    key = query.group_by
    skip = len(dim_prefix(key))
    groups: dict[str, Series] = {}

    def add(value: str | None, ts: int, count: int) -> None:
        sort_key = object_text(key, value)
        series = groups.get(sort_key)
        if series is None:
            labels = {} if value is None else {key: value}
            series = groups[sort_key] = Series(query.type, labels)
        series.timestamps.append(ts)
        series.values.append(float(count))

    for bucket in buckets:
        terms = bucket["g"]
        if terms.get("sum_other_doc_count", 0):
            raise QueryTooComplex(
                f"more than {TERMS_SIZE} distinct {key!r} values in one bucket; "
                "use a coarser step or another groupBy"
            )
        ts = int(bucket["key"])
        labelled = 0
        for term in terms["buckets"]:
            labelled += int(term["doc_count"])
            add(term["key"][skip:], ts, int(term["doc_count"]))
        if bucket["doc_count"] > labelled:
            add(None, ts, int(bucket["doc_count"]) - labelled)
    return [groups[k] for k in sorted(groups)]
