"""In-process broker: the embedded default when there is one gateway process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

_CLOSED = ("", b"")


class MemoryBroker:
    def __init__(self) -> None:
        self._channels: set[str] = set()
        self._queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self._closed = False

    async def publish_many(self, messages: Sequence[tuple[str, bytes]]) -> None:
        for channel, payload in messages:
            if channel in self._channels:
                self._queue.put_nowait((channel, payload))

    async def subscribe(self, channel: str) -> None:
        self._channels.add(channel)

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)

    async def messages(self) -> AsyncIterator[tuple[str, bytes]]:
        while True:
            item = await self._queue.get()
            if item is _CLOSED:
                return
            yield item

    async def ping(self) -> bool:
        return not self._closed

    async def close(self) -> None:
        self._closed = True
        self._queue.put_nowait(_CLOSED)
