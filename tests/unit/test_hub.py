"""The fan-out hub: one broker subscription per channel, drop-oldest per client."""

from __future__ import annotations

import asyncio
import contextlib

import orjson
import pytest

from analytics_gateway.backends.memory_broker import MemoryBroker
from analytics_gateway.subscriptions.hub import Hub


class CountingBroker(MemoryBroker):
    def __init__(self) -> None:
        super().__init__()
        self.subscribe_calls: list[str] = []
        self.unsubscribe_calls: list[str] = []

    async def subscribe(self, channel: str) -> None:
        self.subscribe_calls.append(channel)
        await super().subscribe(channel)

    async def unsubscribe(self, channel: str) -> None:
        self.unsubscribe_calls.append(channel)
        await super().unsubscribe(channel)


async def test_one_broker_subscription_per_channel_and_fan_out_to_all() -> None:
    broker = CountingBroker()
    hub = Hub(broker, queue_size=10)
    await hub.start()
    try:
        async with hub.listen("c") as q1, hub.listen("c") as q2, hub.listen("other") as q3:
            assert broker.subscribe_calls == ["c", "other"]
            assert hub.active == 3
            await broker.publish_many([("c", orjson.dumps([1])), ("other", orjson.dumps([2]))])
            assert (await asyncio.wait_for(q1.get(), 1))[1] == [1]
            assert (await asyncio.wait_for(q2.get(), 1))[1] == [1]
            assert (await asyncio.wait_for(q3.get(), 1))[1] == [2]
        assert sorted(broker.unsubscribe_calls) == ["c", "other"]
        assert hub.active == 0
    finally:
        await hub.stop()
        await broker.close()


async def test_slow_client_loses_oldest_messages_and_they_are_counted() -> None:
    broker = MemoryBroker()
    drops: list[int] = []
    hub = Hub(broker, queue_size=3, on_drop=drops.append)
    await hub.start()
    try:
        async with hub.listen("c") as slow, hub.listen("c") as fast:
            received: list[int] = []

            async def drain() -> None:
                async for _, item in fast:
                    received.append(item)

            reader = asyncio.create_task(drain())
            for i in range(10):
                await broker.publish_many([("c", orjson.dumps(i))])
                await asyncio.sleep(0)
            await asyncio.sleep(0.05)
            assert received == list(range(10))  # the fast one is not stalled
            assert [(await slow.get())[1] for _ in range(3)] == [7, 8, 9]
            assert slow.dropped == 7
            assert sum(drops) == 7
            reader.cancel()
    finally:
        await hub.stop()
        await broker.close()


def _metric_message(*label_sets: dict[str, str]) -> bytes:
    return orjson.dumps(
        {
            "name": "cpu",
            "series": [{"labels": labels, "t": [1], "v": [1.0]} for labels in label_sets],
        }
    )


async def test_label_listeners_get_only_messages_with_a_series_they_select() -> None:
    broker = MemoryBroker()
    delivered: list[int] = []
    hub = Hub(broker, queue_size=10, on_deliver=delivered.append)
    await hub.start()
    try:
        async with (
            hub.listen("m", labels={"host": "a"}) as host_a,
            hub.listen("m", labels={"host": "a", "dc": "eu"}) as host_a_eu,
            hub.listen("m", labels={"host": "zzz"}) as never,
            hub.listen("m") as everything,
        ):
            await broker.publish_many([("m", _metric_message({"host": "a", "dc": "us"}))])
            await broker.publish_many([("m", _metric_message({"dc": "eu", "host": "a"}))])
            first = (await asyncio.wait_for(everything.get(), 5))[0]
            second = (await asyncio.wait_for(everything.get(), 5))[0]
            assert (await asyncio.wait_for(host_a.get(), 5))[0] == first
            assert (await asyncio.wait_for(host_a.get(), 5))[0] == second
            assert (await asyncio.wait_for(host_a_eu.get(), 5))[0] == second
            # two messages: 2 + 2 deliveries, none to the listener nothing selects
            assert delivered == [2, 3]
            assert never.dropped == 0
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(never.get(), 0.2)
        assert hub.active == 0
        assert hub._by_label == {}
        assert hub._everything == {}
    finally:
        await hub.stop()
        await broker.close()


async def test_thousands_of_unmatched_listeners_cost_no_delivery() -> None:
    broker = MemoryBroker()
    delivered: list[int] = []
    hub = Hub(broker, queue_size=10, on_deliver=delivered.append)
    await hub.start()
    try:
        async with contextlib.AsyncExitStack() as stack:
            for i in range(4000):
                await stack.enter_async_context(hub.listen("m", labels={"host": f"h{i}"}))
            mine = await stack.enter_async_context(hub.listen("m", labels={"host": "real"}))
            await broker.publish_many([("m", _metric_message({"host": "real"}))])
            await asyncio.wait_for(mine.get(), 5)
            assert delivered == [1]
    finally:
        await hub.stop()
        await broker.close()
