"""In-process broker: the embedded default when there is one gateway process."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Sequence

from analytics_gateway.backends.message_ids import (
    MessageId,
    format_message_id,
    parse_message_id,
)
from analytics_gateway.errors import BadUserInput, ResyncRequired

_CLOSED = ("", "", b"")


class MemoryBroker:
    """Channels, ids and a bounded history per channel, all within this process.

    At most `max_history_channels` channels keep history; the least recently
    published one loses its history first.
    """

    def __init__(self, history_size: int = 1000, max_history_channels: int = 10_000) -> None:
        self._channels: set[str] = set()
        self._queue: asyncio.Queue[tuple[str, str, bytes]] = asyncio.Queue()
        self._closed = False
        self._history: OrderedDict[str, deque[tuple[MessageId, bytes]]] = OrderedDict()
        self._history_size = history_size
        self._max_history_channels = max_history_channels
        self._last_id: MessageId = (0, 0)

    def _next_id(self) -> MessageId:
        now = int(time.time() * 1000)
        ms, seq = self._last_id
        self._last_id = (now, 0) if now > ms else (ms, seq + 1)
        return self._last_id

    def _remember(self, channel: str, message_id: MessageId, payload: bytes) -> None:
        kept = self._history.get(channel)
        if kept is None:
            kept = self._history[channel] = deque(maxlen=self._history_size)
            if len(self._history) > self._max_history_channels:
                self._history.popitem(last=False)
        else:
            self._history.move_to_end(channel)
        kept.append((message_id, payload))

    async def publish_many(self, messages: Sequence[tuple[str, bytes]]) -> None:
        for channel, payload in messages:
            message_id = self._next_id()
            if self._history_size:
                self._remember(channel, message_id, payload)
            if channel in self._channels:
                self._queue.put_nowait((channel, format_message_id(message_id), payload))

    async def subscribe(self, channel: str) -> None:
        self._channels.add(channel)

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)

    async def messages(self) -> AsyncIterator[tuple[str, str, bytes]]:
        while True:
            item = await self._queue.get()
            if item is _CLOSED:
                return
            yield item

    async def history(self, channel: str, since: str) -> list[tuple[str, bytes]]:
        since_id = parse_message_id(since)
        kept = self._history.get(channel)
        if not kept or since_id < kept[0][0]:
            raise ResyncRequired(
                f"the live history no longer reaches back to {since}; reload, then subscribe",
                since=since,
            )
        found = [
            (format_message_id(message_id), payload)
            for message_id, payload in kept
            if message_id >= since_id
        ]
        if not found or found[0][0] != since:
            raise BadUserInput(f"since: {since} was never a position of this stream")
        return found

    async def ping(self) -> bool:
        return not self._closed

    async def close(self) -> None:
        self._closed = True
        self._queue.put_nowait(_CLOSED)
