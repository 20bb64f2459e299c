"""The deletes personal data needs, one contract for every store that implements them.

Erasure (`EventStore.delete_events`, `Broker.forget_history`) and retention
(`delete_events_before`, `MetricStore.delete_points_before`), against DuckDB,
Elasticsearch (osmem-server), InfluxDB and Redis, each a real server.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from analytics_gateway.backends.base import Broker, EventStore, MetricStore
from analytics_gateway.backends.calls import BackendCalls
from analytics_gateway.backends.duckdb_store import DuckDBStore
from analytics_gateway.backends.elasticsearch_events import ElasticsearchEventStore
from analytics_gateway.backends.influxdb_store import InfluxDBStore
from analytics_gateway.backends.memory_broker import MemoryBroker
from analytics_gateway.backends.redis_broker import RedisBroker
from analytics_gateway.domain import Event, EventQuery, MetricPoint, MetricQuery, PointBatch
from analytics_gateway.errors import ResyncRequired
from tests.conftest import backend_calls
from tests.servers import RedisServer

T0 = 1_700_000_000_000


@pytest.fixture(params=["duckdb", "elasticsearch"])
async def events(
    request: pytest.FixtureRequest, tmp_path: Path, store_calls: BackendCalls
) -> AsyncIterator[EventStore]:
    store: EventStore
    if request.param == "duckdb":
        store = DuckDBStore(tmp_path / "events.duckdb", calls=store_calls)
    else:
        url = request.getfixturevalue("elasticsearch_url")
        store = ElasticsearchEventStore.from_url(url, timeout_seconds=5.0, calls=store_calls)
    yield store
    await store.close()


@pytest.fixture(params=["duckdb", "influxdb"])
async def metrics(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MetricStore]:
    store: MetricStore
    if request.param == "duckdb":
        store = DuckDBStore(tmp_path / "metrics.duckdb")
    else:
        store = InfluxDBStore.from_url(request.getfixturevalue("influxdb_url"))
    yield store
    await store.close()


@pytest.fixture(params=["memory", "redis"])
async def broker(request: pytest.FixtureRequest) -> AsyncIterator[Broker]:
    instance: Broker
    if request.param == "memory":
        instance = MemoryBroker()
    else:
        server: RedisServer = request.getfixturevalue("redis")
        instance = RedisBroker(aioredis.Redis.from_url(server.url))
    yield instance
    await instance.close()


def ev(tenant: str, n: int, user: str | None, ts: int) -> Event:
    return Event(tenant, f"e{n}", "play", user, ts, {"n": n})


async def ids(store: EventStore, tenant: str) -> list[str]:
    found = await store.query_events(EventQuery(tenant, None, None, None, None, 1000))
    return sorted(e.event_id for e in found)


async def test_delete_events_takes_the_users_events_of_one_tenant_in_one_call(
    events: EventStore, store_calls: BackendCalls
) -> None:
    await events.write_events(
        [
            ev("t1", 1, "alice", T0),
            ev("t1", 2, "bob", T0),
            ev("t1", 3, "al", T0 + 1),
            ev("t1", 4, None, T0 + 2),
        ]
    )
    await events.write_events([ev("t2", 5, "alice", T0)])
    before = backend_calls(store_calls.registry, operation="delete_events")
    assert await events.delete_events("t1", ["alice", "al"]) == 2
    assert backend_calls(store_calls.registry, operation="delete_events") == before + 1
    assert await ids(events, "t1") == ["e2", "e4"]  # visible to the very next read
    assert await ids(events, "t2") == ["e5"]
    assert await events.delete_events("t1", ["alice"]) == 0
    assert await events.delete_events("t1", []) == 0


async def test_delete_events_before_is_bounded_and_per_tenant(events: EventStore) -> None:
    await events.write_events([ev("t1", n, "u", T0 + n) for n in range(5)])
    await events.write_events([ev("t2", 9, "u", T0)])
    assert await events.delete_events_before("t1", T0 + 4, limit=3) == 3
    assert await events.delete_events_before("t1", T0 + 4, limit=3) == 1
    assert await events.delete_events_before("t1", T0 + 4, limit=3) == 0
    assert await ids(events, "t1") == ["e4"]
    assert await ids(events, "t2") == ["e9"]


async def test_delete_points_before_keeps_newer_points_and_other_tenants(
    metrics: MetricStore,
) -> None:
    for tenant in ("t1", "t2"):
        points = [
            MetricPoint(tenant, "cpu", {"host": "a"}, T0 + i * 1000, float(i)) for i in range(4)
        ]
        points.append(MetricPoint(tenant, "mem", {}, T0, 9.0))
        await metrics.write_batch(PointBatch.of(tenant, points))
    deleted = await metrics.delete_points_before("t1", T0 + 2000, limit=100)
    assert deleted in (3, None)  # InfluxDB does not count what it deletes

    async def values(tenant: str, name: str) -> list[float]:
        query = MetricQuery(tenant, name, (), T0 - 1, T0 + 10_000)
        [found] = await metrics.query_many([query])
        return [v for s in found for v in s.values]

    assert await values("t1", "cpu") == [2.0, 3.0]
    assert await values("t1", "mem") == []
    assert await values("t2", "cpu") == [0.0, 1.0, 2.0, 3.0]
    assert await values("t2", "mem") == [9.0]


async def _first_id(broker: Broker, channel: str) -> str:
    """The id of a message published on `channel` (published until a subscriber sees one)."""

    async def first() -> str:
        async for _, message_id, _ in broker.messages():
            return message_id
        raise AssertionError("the broker closed")

    reader = asyncio.create_task(first())
    await broker.subscribe(channel)
    loop = asyncio.get_running_loop()
    give_up = loop.time() + 10
    while not reader.done():
        assert loop.time() < give_up, "no message arrived"
        await broker.publish_many([(channel, b"x")])
        await asyncio.wait([reader], timeout=0.1)
    return reader.result()


async def test_forget_history_drops_replay_of_one_channel(broker: Broker) -> None:
    first = await _first_id(broker, "ag:t1:events")
    await broker.publish_many([("ag:t1:events", b"2"), ("ag:t2:events", b"3")])
    kept = len(await broker.history("ag:t1:events", first))
    assert kept >= 2
    assert await broker.forget_history("ag:t1:events") >= kept
    assert await broker.forget_history("ag:t1:events") == 0
    with pytest.raises(ResyncRequired):
        await broker.history("ag:t1:events", first)
    await broker.publish_many([("ag:t1:events", b"4")])
    with pytest.raises(ResyncRequired):  # nor once the channel has new messages
        await broker.history("ag:t1:events", first)
    assert await broker.forget_history("ag:t1:events") == 1
    assert await broker.forget_history("ag:t2:events") == 1
