"""Wide reads get more time than the backend timeout, in proportion to their series."""

from __future__ import annotations

from pathlib import Path

import pytest

from analytics_gateway.backends import read_budget
from analytics_gateway.backends.duckdb_store import DuckDBStore
from analytics_gateway.backends.influxdb_store import InfluxDBStore
from analytics_gateway.domain import Aggregation, MetricPoint, MetricQuery, PointBatch
from analytics_gateway.errors import BackendTimeout

T0 = 1_700_000_000_000
SERIES = 40_000


def test_the_grant_grows_with_the_series_and_stops_at_its_cap() -> None:
    assert read_budget.timeout(5.0) == 5.0
    with read_budget.granted(100_000):
        assert read_budget.timeout(5.0) == pytest.approx(10.0)
        assert read_budget.timeout(30.0) == 30.0
    with read_budget.granted(10**9):
        assert read_budget.timeout(5.0) == read_budget.MAX_SECONDS
    assert read_budget.timeout(5.0) == 5.0


async def test_a_read_over_many_series_outlasts_a_short_backend_timeout(tmp_path: Path) -> None:
    path = tmp_path / "wide.duckdb"
    writer = DuckDBStore(path)
    points = [
        MetricPoint("acme", "wide", {"host": f"h{i}"}, T0 + i % 1000, 1.0) for i in range(SERIES)
    ]
    await writer.write_batch(PointBatch.of("acme", points))
    await writer.close()
    query = MetricQuery("acme", "wide", (), T0, T0 + 1000, aggregation=Aggregation.AVG)
    reader = DuckDBStore(path, timeout_seconds=0.001)  # far less than this read takes
    try:
        with pytest.raises(BackendTimeout):
            await reader.query_many([query])
        with read_budget.granted(SERIES):
            [answer] = await reader.query_many([query])
        assert len(answer) == SERIES
    finally:
        await reader.close()


async def test_influxdb_grants_a_wide_read_its_time_too(influxdb_url: str) -> None:
    writer = InfluxDBStore.from_url(influxdb_url, timeout_seconds=30.0)
    query = MetricQuery("acme", "wide", (), T0, T0 + 1000, aggregation=Aggregation.AVG)
    try:
        points = [
            MetricPoint("acme", "wide", {"host": f"h{i}"}, T0 + i % 1000, 1.0)
            for i in range(SERIES // 4)
        ]
        await writer.write_batch(PointBatch.of("acme", points))
    finally:
        await writer.close()
    reader = InfluxDBStore.from_url(influxdb_url, timeout_seconds=0.001)
    try:
        with read_budget.granted(SERIES):  # its first call sets the database up
            assert await reader.metric_names("acme", None) == ["wide"]
        with pytest.raises(BackendTimeout):
            await reader.query_many([query])
        with read_budget.granted(SERIES // 4):
            [answer] = await reader.query_many([query])
        assert len(answer) == SERIES // 4
    finally:
        await reader.close()
