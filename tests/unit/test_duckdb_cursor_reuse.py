"""Each DuckDB pool thread keeps one cursor for every call it runs. A call that reads
its result only in part (one row of a count) must not leave that cursor unable to
start the next call's read: that failed as BACKEND_UNAVAILABLE whenever the two calls
happened to land on the same thread."""

from __future__ import annotations

from pathlib import Path

from analytics_gateway.backends.duckdb_store import DuckDBStore
from analytics_gateway.domain import (
    Aggregation,
    Event,
    EventCountQuery,
    MetricPoint,
    MetricQuery,
    PointBatch,
)

HOUR = 3_600_000
BASE = 1_700_000_000_000 // HOUR * HOUR


async def test_a_read_follows_a_one_row_count_on_the_same_cursor(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "one.duckdb", threads=1)  # one thread: one cursor
    try:
        await store.write_events(
            [Event("t1", f"e{i}", "play", "u1", BASE + i, {}) for i in range(3)]
        )
        await store.write_batch(
            PointBatch.of("t1", [MetricPoint("t1", "m", {}, BASE + i, 1.0) for i in range(3)])
        )

        assert await store.events_in_range("t1", BASE, BASE + HOUR) == 3
        [[counted]] = await store.count_events_many(
            [EventCountQuery("t1", "play", BASE, BASE + HOUR, HOUR)]
        )
        assert counted.values == [3.0]

        assert await store.events_in_range("t1", BASE, BASE + HOUR) == 3
        query = MetricQuery("t1", "m", (), BASE, BASE + HOUR, HOUR, Aggregation.SUM)
        [read] = await store.query_many([query])
        assert [s.values for s in read] == [[3.0]]
    finally:
        await store.close()
