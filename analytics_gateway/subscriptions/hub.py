"""The per-process fan-out hub (decision 3).

One broker subscription per channel per process, reference-counted; each
client gets a bounded queue and, when slow, loses its oldest messages (counted)
instead of stalling the others. Payloads are decoded once per process.
Queues carry `(message_id, message)` so a subscriber can resume by id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson

from analytics_gateway.backends.base import Broker
from analytics_gateway.background import BackgroundTask

log = logging.getLogger(__name__)


class ClientQueue:
    """A bounded drop-oldest queue of decoded messages for one subscriber."""

    def __init__(self, size: int, on_drop: Callable[[int], None]) -> None:
        self._items: deque[Any] = deque()
        self._size = size
        self._ready = asyncio.Event()
        self._on_drop = on_drop
        self.dropped = 0

    def put(self, item: Any) -> None:
        if len(self._items) >= self._size:
            self._items.popleft()
            self.dropped += 1
            self._on_drop(1)
        self._items.append(item)
        self._ready.set()

    async def get(self) -> Any:
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Any]:
        while True:
            yield await self.get()


class Hub:
    def __init__(
        self,
        broker: Broker,
        *,
        queue_size: int = 1000,
        on_drop: Callable[[int], None] = lambda n: None,
    ) -> None:
        self._broker = broker
        self._queue_size = queue_size
        self._on_drop = on_drop
        self._subscribers: dict[str, set[ClientQueue]] = {}
        self._task = BackgroundTask(self._pump, "hub-pump")
        self._lock = asyncio.Lock()

    @property
    def active(self) -> int:
        return sum(len(s) for s in self._subscribers.values())

    async def start(self) -> None:
        self._task.start()

    async def stop(self) -> None:
        await self._task.stop()

    async def _pump(self) -> None:
        async for channel, message_id, payload in self._broker.messages():
            queues = self._subscribers.get(channel)
            if not queues:
                continue
            try:
                item = (message_id, orjson.loads(payload))
            except orjson.JSONDecodeError:
                log.warning("dropping undecodable message on %s", channel)
                continue
            for queue in queues:
                queue.put(item)

    async def history(self, channel: str, since: str) -> list[tuple[str, Any]]:
        """Decoded messages of `channel` from id `since` on (see `Broker.history`)."""
        return [
            (message_id, orjson.loads(payload))
            for message_id, payload in await self._broker.history(channel, since)
        ]

    @contextlib.asynccontextmanager
    async def listen(self, channel: str) -> AsyncIterator[ClientQueue]:
        """Register a client queue on `channel` for the duration of the block."""
        queue = ClientQueue(self._queue_size, self._on_drop)
        async with self._lock:
            members = self._subscribers.setdefault(channel, set())
            if not members:
                await self._broker.subscribe(channel)
            members.add(queue)
        try:
            yield queue
        finally:
            async with self._lock:
                members = self._subscribers.get(channel, set())
                members.discard(queue)
                if not members:
                    self._subscribers.pop(channel, None)
                    await self._broker.unsubscribe(channel)
