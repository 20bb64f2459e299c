"""`PointBatch` in its two forms (lists and arrays), the live messages built from it,
and the canonical label text that keys stored series."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from typing import Any

import numpy as np
import orjson
import pytest

from analytics_gateway.domain import (
    BatchColumns,
    MetricPoint,
    PointBatch,
    SeriesRef,
    canonical_labels,
)
from analytics_gateway.ingest import live_messages


def _points(count: int, seed: int) -> list[MetricPoint]:
    rng = random.Random(seed)
    return [
        MetricPoint(
            "acme",
            rng.choice(["cpu", "mem"]),
            {"host": rng.choice(["a", "b", "c"])},
            1_700_000_000_000 + i,
            rng.uniform(-1e6, 1e6),
        )
        for i in range(count)
    ]


@pytest.mark.parametrize("count", [50, 2000])  # below and above the Arrow threshold
def test_lists_and_arrays_describe_the_same_points(count: int) -> None:
    points = _points(count, 1)
    built = PointBatch.of("acme", points)
    columns = built.columns()
    assert len({(ref.name, ref.key) for ref in columns.series}) == len(columns.series) == 6
    again = PointBatch.from_columns("acme", columns)
    assert len(again) == count
    assert again.names == [p.name for p in points]
    assert again.labels == [p.labels for p in points]
    assert again.timestamps == [p.timestamp_ms for p in points]
    assert again.values == [p.value for p in points]
    assert again.label_keys == built.label_keys
    assert again.metric_names() == built.metric_names() == {"cpu", "mem"}


def test_appending_after_reading_arrays_keeps_both_forms_in_step() -> None:
    batch = PointBatch.of("acme", _points(3, 2))
    assert len(batch.columns().codes) == 3
    batch.append("disk", {}, "{}", 5, 1.5)
    assert len(batch) == 4
    assert batch.columns().series[-1] == SeriesRef("disk", {}, "{}")
    assert batch.columns().values[-1] == 1.5

    arrays = PointBatch.from_columns(
        "acme",
        BatchColumns(
            [SeriesRef("cpu", {}, "{}")],
            np.zeros(2, dtype=np.intp),
            np.array([1, 2], dtype=np.int64),
            np.array([0.5, 0.25]),
        ),
    )
    arrays.append("cpu", {}, "{}", 3, 0.125)
    assert (arrays.timestamps, arrays.values) == ([1, 2, 3], [0.5, 0.25, 0.125])
    assert arrays.columns().codes.tolist() == [0, 0, 0]


def _reference_messages(batch: PointBatch) -> list[tuple[str, Any]]:
    """The messages point by point: series in order of first appearance."""
    by_name: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for name, labels, key, ts, value in zip(
        batch.names, batch.labels, batch.label_keys, batch.timestamps, batch.values, strict=True
    ):
        entry = by_name[name].setdefault(key, {"labels": labels, "t": [], "v": []})
        entry["t"].append(ts)
        entry["v"].append(value)
    return [
        (f"ag:acme:metric:{name}", {"name": name, "series": list(series.values())})
        for name, series in by_name.items()
    ]


def test_live_messages_group_points_by_series_in_order_of_appearance() -> None:
    batch = PointBatch.of("acme", [*_points(1500, 3), MetricPoint("acme", "cpu", {}, 9, -0.0)])
    messages = [(channel, orjson.loads(body)) for channel, body in live_messages(batch)]
    assert messages == _reference_messages(batch)
    assert live_messages(PointBatch("acme")) == []


def test_canonical_labels_is_exactly_the_json_dumps_form() -> None:
    """Stored series are keyed by this text: the fast path must not change a byte."""
    rng = random.Random(4)
    alphabet = [chr(c) for c in range(128)] + ["é", "\u2028", "日", "\udc80", "😀"]
    for _ in range(2000):
        labels = {
            "".join(rng.choices(alphabet, k=rng.randint(1, 6))): "".join(
                rng.choices(alphabet, k=rng.randint(0, 8))
            )
            for _ in range(rng.randint(0, 4))
        }
        expected = json.dumps(dict(sorted(labels.items())), separators=(",", ":"))
        assert canonical_labels(labels) == expected, labels
