"""Redis pub/sub broker: one subscriber connection per process, self-healing.

After a Redis restart the reader reconnects with backoff and resubscribes to
every channel the hub still holds, so live subscriptions carry on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from analytics_gateway.errors import BackendUnavailable

log = logging.getLogger(__name__)


class RedisBroker:
    def __init__(self, client: aioredis.Redis, *, max_backoff_seconds: float = 2.0) -> None:
        self._client = client
        self._channels: set[str] = set()
        self._pubsub: PubSub | None = None
        self._has_channels = asyncio.Event()
        self._max_backoff = max_backoff_seconds
        self._closed = False
        self.reconnects = 0

    async def publish_many(self, messages: Sequence[tuple[str, bytes]]) -> None:
        if not messages:
            return
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for channel, payload in messages:
                    pipe.publish(channel, payload)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise BackendUnavailable("broker (redis) is unavailable", backend="broker") from exc

    async def subscribe(self, channel: str) -> None:
        self._channels.add(channel)
        self._has_channels.set()
        if self._pubsub is not None:
            try:
                await self._pubsub.subscribe(channel)
            except (RedisError, OSError):
                log.warning("redis subscribe failed; will resubscribe on reconnect")

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)
        if not self._channels:
            self._has_channels.clear()
        if self._pubsub is not None:
            try:
                await self._pubsub.unsubscribe(channel)
            except (RedisError, OSError):
                log.warning("redis unsubscribe failed; the reconnect drops it")

    async def _connect(self) -> PubSub:
        pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(*sorted(self._channels))
        return pubsub

    async def _reset(self) -> None:
        if self._pubsub is not None:
            pubsub, self._pubsub = self._pubsub, None
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def messages(self) -> AsyncIterator[tuple[str, bytes]]:
        backoff = 0.05
        while not self._closed:
            await self._has_channels.wait()
            try:
                if self._pubsub is None:
                    self._pubsub = await self._connect()
                    backoff = 0.05
                message = await self._pubsub.get_message(timeout=1.0)
            except (RedisError, OSError) as exc:
                if self._closed:
                    return
                log.warning("redis pub/sub connection lost (%s); reconnecting", exc)
                self.reconnects += 1
                await self._reset()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)
                continue
            if message is None or message.get("type") != "message":
                continue
            channel = message["channel"]
            if isinstance(channel, bytes):
                channel = channel.decode()
            yield channel, message["data"]

    async def ping(self) -> bool:
        try:
            return bool(await self._client.ping())
        except (RedisError, OSError):
            return False

    async def close(self) -> None:
        self._closed = True
        self._has_channels.set()
        await self._reset()
        await self._client.aclose()
