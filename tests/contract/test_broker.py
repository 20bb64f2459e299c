"""One contract for every Broker: the in-process one and Redis (a real server)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

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


@pytest.mark.parametrize("kind", ["memory", "redis"])
async def test_a_channel_first_listened_to_while_the_broker_connects_receives(
    kind: str, request: pytest.FixtureRequest
) -> None:
    """Before, Redis skipped a subscribe made while its pub/sub connection was being
    made (the connection took the channels of the moment it started), and that
    channel never received anything. The second subscribe comes after a varying
    number of loop turns, so one of them lands inside the connect."""
    for turns in range(8):
        if kind == "memory":
            broker: Broker = MemoryBroker(history_size=HISTORY)
        else:
            server: RedisServer = request.getfixturevalue("redis")
            broker = RedisBroker(aioredis.Redis.from_url(server.url), history_size=HISTORY)
        try:
            reader = asyncio.create_task(_collect(broker, 1))
            await broker.subscribe("first")
            for _ in range(turns):
                await asyncio.sleep(0)
            await broker.subscribe("second")
            # published until it arrives: a subscribe is live some time after it returns
            loop = asyncio.get_running_loop()
            give_up = loop.time() + 10
            while not reader.done():
                assert loop.time() < give_up, f"'second' never received ({turns} turns)"
                await broker.publish_many([("second", b"hello")])
                await asyncio.wait({reader}, timeout=0.05)
            assert reader.result() == [("second", b"hello")]
        finally:
            await broker.close()


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


# -- bounded history -----------------------------------------------------------------


@pytest.fixture(params=["memory", "redis"])
async def small(request: pytest.FixtureRequest) -> AsyncIterator[Broker]:
    """History of at most 350 bytes per channel and 2 channels per tenant."""
    bounds: dict[str, Any] = {"history_size": 100, "history_bytes": 350, "history_channels": 2}
    if request.param == "memory":
        instance: Broker = MemoryBroker(**bounds)
    else:
        server: RedisServer = request.getfixturevalue("redis")
        instance = RedisBroker(aioredis.Redis.from_url(server.url), **bounds)
    yield instance
    await instance.close()


async def _published(broker: Broker, channel: str, *payloads: bytes) -> list[str]:
    await broker.subscribe(channel)
    reader = asyncio.create_task(_collect_ids(broker, len(payloads)))
    await asyncio.sleep(0.05)
    await broker.publish_many([(channel, p) for p in payloads])
    received = await asyncio.wait_for(reader, 10)
    await broker.unsubscribe(channel)
    return [message_id for _, message_id, _ in received]


async def test_history_keeps_at_most_its_bytes_per_channel(small: Broker) -> None:
    ids = await _published(small, "ag:t1:c", *(bytes([65 + i]) * 100 for i in range(10)))
    assert [p for _, p in await small.history("ag:t1:c", ids[-3])] == [b"H" * 100, b"I" * 100,
                                                                        b"J" * 100]  # fmt: skip
    with pytest.raises(ResyncRequired):
        await small.history("ag:t1:c", ids[-4])


async def test_a_message_too_big_to_keep_cuts_replay_across_it(small: Broker) -> None:
    ids = await _published(small, "ag:t1:c", b"a" * 10, b"b" * 1000, b"c" * 10)
    with pytest.raises(ResyncRequired):
        await small.history("ag:t1:c", ids[0])
    assert await small.history("ag:t1:c", ids[2]) == [(ids[2], b"c" * 10)]


async def test_a_tenant_keeps_history_for_its_most_recent_channels_only(small: Broker) -> None:
    first = await _published(small, "ag:t1:one", b"1")
    await _published(small, "ag:t1:two", b"2")
    other = await _published(small, "ag:t2:one", b"x")
    third = await _published(small, "ag:t1:three", b"3")
    with pytest.raises(ResyncRequired):
        await small.history("ag:t1:one", first[0])  # the least recently published: gone
    assert await small.history("ag:t1:three", third[0]) == [(third[0], b"3")]
    assert await small.history("ag:t2:one", other[0]) == [(other[0], b"x")]  # not t1's


@pytest.mark.parametrize("kind", ["memory", "redis"])
async def test_without_replay_nothing_is_kept_and_live_goes_on(
    kind: str, request: pytest.FixtureRequest
) -> None:
    if kind == "memory":
        broker: Broker = MemoryBroker(replay=False)
    else:
        server: RedisServer = request.getfixturevalue("redis")
        broker = RedisBroker(aioredis.Redis.from_url(server.url), replay=False)
    try:
        ids = await _published(broker, "ag:t1:c", b"1", b"2")
        assert parse_message_id(ids[0]) < parse_message_id(ids[1])
        with pytest.raises(ResyncRequired, match="replay is off"):
            await broker.history("ag:t1:c", ids[0])
    finally:
        await broker.close()


async def test_redis_holds_the_bounded_bytes_however_much_is_published(
    redis: RedisServer,
) -> None:
    """Before, every publish was kept (1,000 messages a channel for 24 h): 20 big writes
    grew Redis from 4 MB to 30 MB, with no limit on channels."""
    client = aioredis.Redis.from_url(redis.url)
    broker = RedisBroker(client, history_bytes=256 * 1024, history_channels=4)
    try:
        payload = b"x" * 100_000
        for name in range(10):
            await broker.publish_many([(f"ag:t1:metric:{name}", payload)] * 20)
        keys = [k async for k in client.scan_iter("ag:t1:*")]
        streams = [k for k in keys if k.endswith(b":history")]
        assert len(streams) <= 4
        held = 0
        for key in streams:
            entries: list[Any] = await client.xrange(key) or []
            held += sum(len(fields[b"p"]) for _, fields in entries)
        assert held <= 4 * 256 * 1024
    finally:
        await broker.close()
