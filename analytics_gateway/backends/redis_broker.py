"""Redis pub/sub broker: one subscriber connection per process, self-healing.

After a Redis restart the reader reconnects with backoff and resubscribes to
every channel the hub still holds, so live subscriptions carry on.

Each publish is one Lua call that appends the payload to a Redis Stream
`<channel>:history` (the id comes from XADD) and publishes `<id>\n<payload>`:
the live message and its replayable copy get the same id atomically, so a
subscriber resuming from an id neither misses nor repeats.

History is bounded three ways, so no tenant can fill the Redis it shares with
everyone: per channel in messages (`history_size`) and in bytes
(`history_bytes`, oldest out first; a bigger message is not kept at all), and
per tenant in channels (`history_channels`, the least recently published
channel's history goes first). With replay off (`replay=False`) a channel keeps
only its latest message, whose id the next one follows. Idle histories expire
after `history_ttl_seconds`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from analytics_gateway.backends.message_ids import parse_message_id, tenant_of
from analytics_gateway.errors import BackendUnavailable, BadUserInput, ResyncRequired

log = logging.getLogger(__name__)

# KEYS: the channel's stream, its byte count, the tenant's channels by last publish
# ARGV: payload, max messages, ttl ms, channel, max bytes, max channels, replay (0/1)
_PUBLISH = """
local size = string.len(ARGV[1])
local ttl = ARGV[3]
if ARGV[7] == '0' or size > tonumber(ARGV[5]) then
  local id = redis.call('XADD', KEYS[1], 'MAXLEN', '1', '*', 'p', '', 's', '-1')
  redis.call('DEL', KEYS[2])
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PUBLISH', ARGV[4], id .. '\\n' .. ARGV[1])
  return id
end
local id = redis.call('XADD', KEYS[1], '*', 'p', ARGV[1], 's', size)
local total = redis.call('INCRBY', KEYS[2], size)
local count = redis.call('XLEN', KEYS[1])
while count > tonumber(ARGV[2]) or total > tonumber(ARGV[5]) do
  local oldest = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)
  if #oldest == 0 then total = 0 break end
  local fields = oldest[1][2]
  for i = 1, #fields, 2 do
    if fields[i] == 's' then total = total - tonumber(fields[i + 1]) end
  end
  redis.call('XDEL', KEYS[1], oldest[1][1])
  count = count - 1
end
redis.call('SET', KEYS[2], total, 'PX', ttl)
redis.call('PEXPIRE', KEYS[1], ttl)
local now = redis.call('TIME')
redis.call('ZADD', KEYS[3], tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000), ARGV[4])
redis.call('PEXPIRE', KEYS[3], ttl)
while redis.call('ZCARD', KEYS[3]) > tonumber(ARGV[6]) do
  local gone = redis.call('ZPOPMIN', KEYS[3])[1]
  redis.call('DEL', gone .. ':history', gone .. ':history-bytes')
end
redis.call('PUBLISH', ARGV[4], id .. '\\n' .. ARGV[1])
return id
"""


def history_key(channel: str) -> str:
    return f"{channel}:history"


class RedisBroker:
    def __init__(
        self,
        client: aioredis.Redis,
        *,
        max_backoff_seconds: float = 2.0,
        history_size: int = 1000,
        history_bytes: int = 256 * 1024,
        history_channels: int = 64,
        history_ttl_seconds: float = 86_400.0,
        replay: bool = True,
    ) -> None:
        self._client = client
        self._publish = client.register_script(_PUBLISH)
        self._history_size = history_size
        self._history_bytes = history_bytes
        self._history_channels = history_channels
        self._replay = replay and history_size > 0
        self._history_ttl_ms = int(history_ttl_seconds * 1000)
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
                    await self._publish(
                        keys=[
                            history_key(channel),
                            f"{channel}:history-bytes",
                            f"{tenant_of(channel)}:history-channels",
                        ],
                        args=[
                            payload,
                            self._history_size,
                            self._history_ttl_ms,
                            channel,
                            self._history_bytes,
                            self._history_channels,
                            int(self._replay),
                        ],
                        client=pipe,
                    )
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
        # `subscribe` and `unsubscribe` skip Redis while there is no connection, and
        # channels come and go while this one is made: catch up until they hold still
        # (before, a channel first listened to during the connect was never subscribed)
        subscribed: set[str] = set()
        while (wanted := set(self._channels)) != subscribed:
            if wanted - subscribed:
                await pubsub.subscribe(*sorted(wanted - subscribed))
            if subscribed - wanted:
                await pubsub.unsubscribe(*sorted(subscribed - wanted))
            subscribed = wanted
        return pubsub

    async def _reset(self) -> None:
        if self._pubsub is not None:
            pubsub, self._pubsub = self._pubsub, None
            # Through a typed name: redis-py annotates PubSub.aclose only from 8.x on,
            # and a call to the bare method needs an ignore on one side or the other.
            close: Callable[[], Awaitable[None]] = pubsub.aclose
            with contextlib.suppress(RedisError, OSError):
                await close()

    async def messages(self) -> AsyncIterator[tuple[str, str, bytes]]:
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
            message_id, _, payload = bytes(message["data"]).partition(b"\n")
            yield channel, message_id.decode(), payload

    async def history(self, channel: str, since: str) -> list[tuple[str, bytes]]:
        since_id = parse_message_id(since)
        if not self._replay:
            raise ResyncRequired(
                "this gateway keeps no live history (replay is off); reload, then subscribe",
                since=since,
            )
        key = history_key(channel)
        try:
            entries: list[Any] = (
                await self._client.xrange(key, min=since, count=self._history_size * 2) or []
            )
            first: list[Any] = entries[:1] or (await self._client.xrange(key, count=1) or [])
        except (RedisError, OSError) as exc:
            raise BackendUnavailable("broker (redis) is unavailable", backend="broker") from exc
        if any(fields.get(b"s") == b"-1" for _, fields in entries):
            # a message too big to keep came after `since`: it cannot be replayed
            raise ResyncRequired(
                f"the live history no longer holds everything after {since}; reload, then "
                "subscribe",
                since=since,
            )
        found = [(_text(entry_id), bytes(fields[b"p"])) for entry_id, fields in entries]
        if found and found[0][0] == since:
            return found
        oldest = parse_message_id(_text(first[0][0])) if first else None
        if oldest is None or since_id < oldest:
            raise ResyncRequired(
                f"the live history no longer reaches back to {since}; reload, then subscribe",
                since=since,
            )
        raise BadUserInput(f"since: {since} was never a position of this stream")

    async def forget_history(self, channel: str) -> int:
        key = history_key(channel)
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.xlen(key)
                pipe.delete(key, f"{channel}:history-bytes")
                pipe.zrem(f"{tenant_of(channel)}:history-channels", channel)
                kept, _, _ = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise BackendUnavailable("broker (redis) is unavailable", backend="broker") from exc
        return int(kept)

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


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
