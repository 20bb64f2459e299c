"""The fan-out hub: one broker subscription per channel, drop-oldest per client."""

from __future__ import annotations

import asyncio

import orjson

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
