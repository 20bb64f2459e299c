"""Which process evaluates which rule: Redis leases on rule shards, or everything locally.

Rules hash into `SHARDS` shards; a shard is owned by the process holding its
lease, `SET key <replica> NX PX ttl`, renewed every third of the TTL. Every
process also heartbeats into a membership set and takes at most its fair
share (shards / live members), releasing extras, so replicas balance. One
Lua script does heartbeat, renewals, releases and claims in a single round
trip, timed by the Redis server's clock (replicas' clocks may differ).

A process that dies stops renewing: its shards expire within one TTL and the
others claim them on their next renewal, so a rule moves within TTL * 4/3.
With no Redis configured, one process evaluates every rule.
"""

from __future__ import annotations

import contextlib
import logging
import zlib
from collections.abc import Callable

import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

SHARDS = 64

# KEYS: members zset; ARGV: replica id, ttl ms, shard count, shard key prefix
_TICK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local me, ttl, shards, prefix = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
redis.call('ZADD', KEYS[1], now, me)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - ttl)
redis.call('PEXPIRE', KEYS[1], ttl * 10)
local members = redis.call('ZCARD', KEYS[1])
local fair = math.ceil(shards / members)
local owned = {}
for s = 0, shards - 1 do
  local key = prefix .. s
  if redis.call('GET', key) == me then
    if #owned < fair then
      redis.call('PEXPIRE', key, ttl)
      owned[#owned + 1] = s
    else
      redis.call('DEL', key)
    end
  end
end
local start = redis.call('ZRANK', KEYS[1], me) * fair
for i = 0, shards - 1 do
  if #owned >= fair then break end
  local s = (start + i) % shards
  if redis.call('SET', prefix .. s, me, 'NX', 'PX', ttl) then owned[#owned + 1] = s end
end
return owned
"""

# KEYS: shard keys...; ARGV: replica id. Deletes only our own leases.
_RELEASE = """
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then redis.call('DEL', KEYS[i]) end
end
return 1
"""


def shard_of(tenant: str, rule_id: str, shards: int = SHARDS) -> int:
    return zlib.crc32(f"{tenant}\x1f{rule_id}".encode()) % shards


class LocalOwnership:
    """No Redis: this process owns every shard."""

    def __init__(self, replica_id: str) -> None:
        self.replica_id = replica_id
        self.owned: frozenset[int] = frozenset(range(SHARDS))
        self.ttl_ms = 0

    def owns(self, shard: int) -> bool:
        return True

    async def tick(self) -> tuple[frozenset[int], frozenset[int]]:
        return frozenset(), frozenset()

    async def owner(self, shard: int) -> str | None:
        return self.replica_id

    async def release(self) -> None:
        return None

    async def close(self) -> None:
        return None


class RedisOwnership:
    """Shard leases in Redis; `tick()` renews and rebalances, returning (gained, lost)."""

    def __init__(
        self,
        client: aioredis.Redis,
        replica_id: str,
        ttl_ms: int,
        prefix: str = "ag:alerting:",
        on_error: Callable[[Exception], None] | None = None,
    ) -> None:
        self._client = client
        self.replica_id = replica_id
        self.ttl_ms = ttl_ms
        self._members = f"{prefix}members"
        self._shard_prefix = f"{prefix}shard:"
        self._tick = client.register_script(_TICK)
        self._release = client.register_script(_RELEASE)
        self.owned: frozenset[int] = frozenset()
        self._on_error = on_error

    def owns(self, shard: int) -> bool:
        return shard in self.owned

    async def tick(self) -> tuple[frozenset[int], frozenset[int]]:
        try:
            raw = await self._tick(
                keys=[self._members],
                args=[self.replica_id, self.ttl_ms, SHARDS, self._shard_prefix],
            )
        except (RedisError, OSError) as exc:
            # Without Redis we cannot know our leases are still ours: stop evaluating.
            log.warning("alert leases: redis unavailable (%s); evaluating nothing", exc)
            if self._on_error is not None:
                self._on_error(exc)
            lost, self.owned = self.owned, frozenset()
            return frozenset(), lost
        now_owned = frozenset(int(s) for s in raw)
        gained, lost = now_owned - self.owned, self.owned - now_owned
        self.owned = now_owned
        return gained, lost

    async def owner(self, shard: int) -> str | None:
        try:
            raw = await self._client.get(f"{self._shard_prefix}{shard}")
        except (RedisError, OSError):
            return None
        if raw is None:
            return None
        return raw.decode() if isinstance(raw, bytes) else str(raw)

    async def release(self) -> None:
        """Hand our shards over at once (clean shutdown), instead of letting them expire."""
        keys = [f"{self._shard_prefix}{s}" for s in self.owned]
        self.owned = frozenset()
        with contextlib.suppress(RedisError, OSError):
            if keys:
                await self._release(keys=keys, args=[self.replica_id])
            await self._client.zrem(self._members, self.replica_id)

    async def close(self) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self._client.aclose()
