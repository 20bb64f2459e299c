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
    tenant_of,
)
from analytics_gateway.errors import BadUserInput, ResyncRequired

_CLOSED = ("", "", b"")


class MemoryBroker:
    """Channels, ids and a bounded history per channel, all within this process.

    History is bounded as the Redis broker bounds it: per channel in messages
    and bytes (a message bigger than the channel's bytes is not kept, and
    cuts replay across it), per tenant in channels (the least recently
    published one goes first). With `replay=False` nothing is kept.
    """

    def __init__(
        self,
        history_size: int = 1000,
        history_bytes: int = 256 * 1024,
        history_channels: int = 64,
        replay: bool = True,
    ) -> None:
        self._channels: set[str] = set()
        self._queue: asyncio.Queue[tuple[str, str, bytes]] = asyncio.Queue()
        self._closed = False
        self._history: dict[str, deque[tuple[MessageId, bytes]]] = {}
        self._bytes: dict[str, int] = {}
        self._cut: dict[str, MessageId] = {}  # the last message too big to keep, by channel
        self._by_tenant: dict[str, OrderedDict[str, None]] = {}
        self._history_size = history_size
        self._history_bytes = history_bytes
        self._history_channels = history_channels
        self._replay = replay and history_size > 0
        self._last_id: MessageId = (0, 0)

    def _next_id(self) -> MessageId:
        now = int(time.time() * 1000)
        ms, seq = self._last_id
        self._last_id = (now, 0) if now > ms else (ms, seq + 1)
        return self._last_id

    def _remember(self, channel: str, message_id: MessageId, payload: bytes) -> None:
        if len(payload) > self._history_bytes:
            self._forget(channel)
            self._cut[channel] = message_id
            return
        kept = self._history.setdefault(channel, deque())
        kept.append((message_id, payload))
        total = self._bytes.get(channel, 0) + len(payload)
        while len(kept) > self._history_size or total > self._history_bytes:
            total -= len(kept.popleft()[1])
        self._bytes[channel] = total
        channels = self._by_tenant.setdefault(tenant_of(channel), OrderedDict())
        channels[channel] = None
        channels.move_to_end(channel)
        while len(channels) > self._history_channels:
            gone, _ = channels.popitem(last=False)
            self._forget(gone)

    def _forget(self, channel: str) -> None:
        self._history.pop(channel, None)
        self._bytes.pop(channel, None)

    async def publish_many(self, messages: Sequence[tuple[str, bytes]]) -> None:
        for channel, payload in messages:
            message_id = self._next_id()
            if self._replay:
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
        if not self._replay:
            raise ResyncRequired(
                "this gateway keeps no live history (replay is off); reload, then subscribe",
                since=since,
            )
        kept = self._history.get(channel)
        cut = self._cut.get(channel)
        if not kept or since_id < kept[0][0] or (cut is not None and since_id <= cut):
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

    async def forget_history(self, channel: str) -> int:
        kept = len(self._history.get(channel, ()))
        self._forget(channel)
        self._cut[channel] = self._last_id  # nothing up to now can be replayed any more
        return kept

    async def ping(self) -> bool:
        return not self._closed

    async def close(self) -> None:
        self._closed = True
        self._queue.put_nowait(_CLOSED)
