"""Each tenant's points and events are tables of their own in the embedded store. In
shared tables, a tenant's read scanned every other tenant's rows in its time range
(DuckDB has no index that skips them), so a tenant writing at its allowed rate made
its neighbours' reads slower by the minute: 8.3 ms to 28.8 ms for a 15-minute read
beside 18 million of another tenant's points (`python -m bench --only
neighbour-volume`), 0.7 ms to 7 ms for a count of events beside 4.5 million."""

from __future__ import annotations

from pathlib import Path

import duckdb

from analytics_gateway.backends.base import ActiveUsersQuery
from analytics_gateway.backends.duckdb_store import DuckDBStore
from analytics_gateway.backends.duckdb_tables import events_table, points_table
from analytics_gateway.domain import (
    Event,
    EventCountQuery,
    EventQuery,
    MetricPoint,
    MetricQuery,
    PointBatch,
)

MINUTE = 60_000
BASE = 1_700_000_000_000 // MINUTE * MINUTE


def batch(tenant: str, name: str, count: int, value: float = 1.0) -> PointBatch:
    points = [
        MetricPoint(tenant, name, {"host": f"h{i % 3}"}, BASE + i * 1000, value)
        for i in range(count)
    ]
    return PointBatch.of(tenant, points)


def raw(tenant: str, name: str) -> MetricQuery:
    return MetricQuery(tenant, name, (), BASE, BASE + 60 * MINUTE, None, None)


def rows_in(path: Path, table: str) -> list[tuple[int, ...]]:
    with duckdb.connect(str(path), read_only=True) as conn:
        return conn.execute(f"SELECT series_id, ts FROM {table}").fetchall()


async def test_a_tenants_points_are_in_its_own_table_only(tmp_path: Path) -> None:
    path = tmp_path / "m.duckdb"
    store = DuckDBStore(path)
    try:
        await store.write_batch(batch("alpha", "cpu", 30))
        await store.write_batch(batch("beta", "cpu", 7))
        [alpha], [beta] = [await store.query_many([raw(t, "cpu")]) for t in ("alpha", "beta")]
    finally:
        await store.close()
    assert sum(len(s.timestamps) for s in alpha) == 30
    assert sum(len(s.timestamps) for s in beta) == 7
    assert points_table("alpha") != points_table("beta")
    assert len(rows_in(path, points_table("alpha"))) == 30
    assert len(rows_in(path, points_table("beta"))) == 7
    with duckdb.connect(str(path), read_only=True) as conn:
        shared = conn.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'points'")
        assert shared.fetchone() == (0,)


async def test_a_tenant_that_never_wrote_reads_nothing_and_deletes_nothing(
    tmp_path: Path,
) -> None:
    store = DuckDBStore(tmp_path / "m.duckdb")
    try:
        await store.write_batch(batch("alpha", "cpu", 5))
        assert await store.query_many([raw("nobody", "cpu")]) == [[]]
        counts, answers = await store.read_if_light([raw("nobody", "cpu")], lambda _: True)
        assert (counts, answers) == ([0], [[]])
        assert await store.delete_points_before("nobody", BASE + 60 * MINUTE, 100) == 0
        # and a mixed batch of queries answers each from its own tenant's table
        mixed = await store.query_many([raw("nobody", "cpu"), raw("alpha", "cpu")])
        assert mixed[0] == []
        assert sum(len(s.timestamps) for s in mixed[1]) == 5
    finally:
        await store.close()


async def test_retention_deletes_from_the_tenants_table_only(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "m.duckdb")
    try:
        await store.write_batch(batch("alpha", "cpu", 10))
        await store.write_batch(batch("beta", "cpu", 10))
        assert await store.delete_points_before("alpha", BASE + 5000, 100) == 5
        [alpha], [beta] = [await store.query_many([raw(t, "cpu")]) for t in ("alpha", "beta")]
    finally:
        await store.close()
    assert sum(len(s.timestamps) for s in alpha) == 5
    assert sum(len(s.timestamps) for s in beta) == 10


async def test_a_file_with_one_shared_points_table_is_split_per_tenant_on_open(
    tmp_path: Path,
) -> None:
    """A data directory written before per-tenant tables keeps every point."""
    path = tmp_path / "old.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute(
            "CREATE TABLE series (id INTEGER PRIMARY KEY, tenant VARCHAR NOT NULL, "
            "name VARCHAR NOT NULL, labels VARCHAR NOT NULL)"
        )
        conn.execute(
            "CREATE TABLE points (series_id INTEGER NOT NULL, ts BIGINT NOT NULL, "
            "value DOUBLE NOT NULL)"
        )
        conn.execute(
            "INSERT INTO series VALUES (1, 'alpha', 'cpu', '{\"host\":\"a\"}'), "
            "(2, 'beta', 'cpu', '{\"host\":\"b\"}')"
        )
        conn.execute(
            "INSERT INTO points SELECT CASE WHEN i % 4 = 0 THEN 2 ELSE 1 END, "
            f"{BASE} + i * 1000, i FROM range(40) t(i)"
        )
    store = DuckDBStore(path)
    try:
        [alpha], [beta] = [await store.query_many([raw(t, "cpu")]) for t in ("alpha", "beta")]
        await store.write_batch(batch("beta", "cpu", 2, value=99.0))
        [beta_after] = await store.query_many([raw("beta", "cpu")])
    finally:
        await store.close()
    assert [s.labels for s in alpha] == [{"host": "a"}]
    assert sorted(alpha[0].values) == [float(i) for i in range(40) if i % 4]
    assert [s.labels for s in beta] == [{"host": "b"}]
    assert sorted(beta[0].values) == [float(i) for i in range(0, 40, 4)]
    assert sum(len(s.timestamps) for s in beta_after) == 12
    with duckdb.connect(str(path), read_only=True) as conn:
        shared = conn.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'points'")
        assert shared.fetchone() == (0,)


def events(tenant: str, count: int) -> list[Event]:
    return [
        Event(tenant, f"{tenant}-{i}", "play" if i % 2 else "skip", f"u{i % 4}", BASE + i, {})
        for i in range(count)
    ]


async def test_a_tenants_events_are_in_its_own_table_only(tmp_path: Path) -> None:
    path = tmp_path / "m.duckdb"
    store = DuckDBStore(path)
    end = BASE + MINUTE
    try:
        await store.write_events(events("alpha", 20))
        # a batch of two tenants' events goes to each one's table
        await store.write_events([*events("beta", 6), *events("gamma", 3)])
        counts = [await store.events_in_range(t, BASE, end) for t in ("alpha", "beta", "gamma")]
        listed = await store.query_events(EventQuery("beta", None, None, BASE, end, 100, None))
        [[plays]] = await store.count_events_many(
            [EventCountQuery("alpha", "play", BASE, end, MINUTE)]
        )
        assert await store.event_types("nobody", 10) == []
        assert await store.events_in_range("nobody", BASE, end) == 0
        assert await store.delete_events_before("nobody", end, 100) == 0
        assert await store.delete_events_before("alpha", BASE + 10, 100) == 10
        assert await store.events_in_range("alpha", BASE, end) == 10
        assert await store.events_in_range("beta", BASE, end) == 6
    finally:
        await store.close()
    assert counts == [20, 6, 3]
    assert {e.event_id for e in listed} == {f"beta-{i}" for i in range(6)}
    assert plays.values == [10.0]
    assert len(rows_of(path, events_table("alpha"))) == 10
    assert len(rows_of(path, events_table("beta"))) == 6
    assert rows_of(path, "events") == []


def rows_of(path: Path, table: str) -> list[tuple[object, ...]]:
    with duckdb.connect(str(path), read_only=True) as conn:
        return conn.execute(f"SELECT * FROM {table}").fetchall()


async def test_shared_events_of_before_are_split_per_tenant_on_open(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    await DuckDBStore(path).close()  # a file with the shared `events` table, empty
    with duckdb.connect(str(path)) as conn:
        conn.execute(
            "INSERT INTO events SELECT CASE WHEN i % 3 = 0 THEN 'beta' ELSE 'alpha' END, "
            f"'e' || i, 'play', 'u1', {BASE} + i, '{{}}' FROM range(30) t(i)"
        )
    store = DuckDBStore(path)
    try:
        alpha = await store.events_in_range("alpha", BASE, BASE + MINUTE)
        beta = await store.events_in_range("beta", BASE, BASE + MINUTE)
        active = await store.engagement().active_users(
            ActiveUsersQuery("beta", None, BASE, BASE + MINUTE, "day")
        )
    finally:
        await store.close()
    assert (alpha, beta) == (20, 10)
    assert active[1] == 1
    assert rows_of(path, "events") == []
    assert len(rows_of(path, events_table("alpha"))) == 20
