"""One contract for every Broker: the in-process one and Redis (a real server)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from analytics_gateway.backends.base import Broker
from analytics_gateway.backends.memory_broker import MemoryBroker
from analytics_gateway.backends.message_ids import parse_message_id
from analytics_gateway.backends.redis_broker import RedisBroker
from analytics_gateway.errors import BackendUnavailable, BadUserInput, ResyncRequired
from tests.servers import RedisServer

HISTORY = 20


@pytest.fixture(params=["memory", "redis"])
async def broker(request: pytest.FixtureRequest) -> AsyncIterator[Broker]:
    if request.param == "memory":
        instance: Broker = MemoryBroker(history_size=HISTORY)
    else:
        server: RedisServer = request.getfixturevalue("redis")
        instance = RedisBroker(aioredis.Redis.from_url(server.url), history_size=HISTORY)
    yield instance
    await instance.close()


async def _collect(broker: Broker, count: int) -> list[tuple[str, bytes]]:
    received: list[tuple[str, bytes]] = []
    async for channel, _, payload in broker.messages():
        received.append((channel, payload))
        if len(received) == count:
            break
    return received


async def _collect_ids(broker: Broker, count: int) -> list[tuple[str, str, bytes]]:
    received: list[tuple[str, str, bytes]] = []
    async for item in broker.messages():
        received.append(item)
        if len(received) == count:
            break
    return received


async def test_subscribed_channels_receive_in_order_others_do_not(broker: Broker) -> None:
    await broker.subscribe("t1:a")
    await broker.subscribe("t1:b")
    reader = asyncio.create_task(_collect(broker, 3))
    await asyncio.sleep(0.1)
    await broker.publish_many([("t1:a", b"1"), ("t2:a", b"x"), ("t1:b", b"2"), ("t1:a", b"3")])
    assert await asyncio.wait_for(reader, 5) == [("t1:a", b"1"), ("t1:b", b"2"), ("t1:a", b"3")]


async def test_unsubscribed_channel_stops_receiving(broker: Broker) -> None:
    await broker.subscribe("keep")
    await broker.subscribe("drop")
    reader = asyncio.create_task(_collect(broker, 2))
    await asyncio.sleep(0.1)
    await broker.unsubscribe("drop")
    await asyncio.sleep(0.1)
    await broker.publish_many([("drop", b"no"), ("keep", b"1"), ("drop", b"no"), ("keep", b"2")])
    assert await asyncio.wait_for(reader, 5) == [("keep", b"1"), ("keep", b"2")]
    assert await broker.ping()


async def test_redis_broker_reports_outage_and_recovers(redis: RedisServer) -> None:
    broker = RedisBroker(
        aioredis.Redis.from_url(redis.url, socket_timeout=1, socket_connect_timeout=1)
    )
    try:
        await broker.subscribe("c")
        reader = asyncio.create_task(_collect(broker, 1))
        redis.stop()
        assert not await broker.ping()
        with pytest.raises(BackendUnavailable):
            await broker.publish_many([("c", b"lost")])
        redis.start()
        for _ in range(50):
            await asyncio.sleep(0.2)
            await broker.publish_many([("c", b"back")])
            if reader.done():
                break
        assert reader.result() == [("c", b"back")]
        assert broker.reconnects >= 1
    finally:
        await broker.close()


async def test_live_messages_carry_growing_ids_that_history_replays(broker: Broker) -> None:
    await broker.subscribe("c")
    reader = asyncio.create_task(_collect_ids(broker, 3))
    await asyncio.sleep(0.1)
    await broker.publish_many([("c", b"1"), ("other", b"x"), ("c", b"2"), ("c", b"3")])
    live = await asyncio.wait_for(reader, 5)
    ids = [message_id for _, message_id, _ in live]
    assert [parse_message_id(i) for i in ids] == sorted({parse_message_id(i) for i in ids})
    assert await broker.history("c", ids[0]) == [(ids[0], b"1"), (ids[1], b"2"), (ids[2], b"3")]
    assert await broker.history("c", ids[2]) == [(ids[2], b"3")]


async def test_history_is_bounded_and_a_lost_position_requires_resync(broker: Broker) -> None:
    await broker.subscribe("c")
    reader = asyncio.create_task(_collect_ids(broker, 1))
    await asyncio.sleep(0.1)
    await broker.publish_many([("c", b"first")])
    ((_, first_id, _),) = await asyncio.wait_for(reader, 5)
    await broker.unsubscribe("c")
    await broker.publish_many([("c", str(i).encode()) for i in range(HISTORY * 10)])
    with pytest.raises(ResyncRequired):
        await broker.history("c", first_id)
    with pytest.raises(ResyncRequired):
        await broker.history("never-published", first_id)


async def test_history_refuses_a_position_it_never_gave(broker: Broker) -> None:
    await broker.publish_many([("c", b"1")])
    with pytest.raises(BadUserInput):
        await broker.history("c", "99999999999999-0")
