"""The audit chains of the Redis config store: one Stream per tenant.

    ag:audit:<tenant>         STREAM  one entry per act, its fields as `audit.chain` names them
    ag:audit-chain:<tenant>   HASH    anchor (hash of the last entry trimmed), head (newest hash)
    ag:audit-tenants          SET     tenants with a chain

Redis's Lua has no SHA-256, so the gateway seals an entry on the head it believes
current and one script appends it only if that is still the head (else it answers
the head, and the entry is sealed again on it): compare-and-append, so appends from
every replica form one linear chain. Each replica remembers each tenant's head, so
an append is one round trip unless another replica appended meanwhile. Trimming
drops old entries and moves the anchor in one script too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import redis.asyncio as aioredis

# KEYS: stream, chain hash, tenant set; ARGV: expected head, new hash, tenant, fields...
# Returns {1, id} when appended, {0, head} when the head was another.
_APPEND = """
local head = redis.call('HGET', KEYS[2], 'head') or ''
if head ~= ARGV[1] then return {0, head} end
local id = redis.call('XADD', KEYS[1], '*', unpack(ARGV, 4))
redis.call('HSET', KEYS[2], 'head', ARGV[2])
redis.call('SADD', KEYS[3], ARGV[3])
return {1, id}
"""

# KEYS: stream, chain hash; ARGV: before (epoch ms), limit. Returns how many were dropped.
_TRIM = """
local entries = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', tonumber(ARGV[2]))
local before = tonumber(ARGV[1])
local n = 0
local anchor = nil
for _, entry in ipairs(entries) do
  local fields = entry[2]
  local time = nil
  local hash = ''
  for i = 1, #fields, 2 do
    if fields[i] == 'time' then time = tonumber(fields[i + 1]) end
    if fields[i] == 'hash' then hash = fields[i + 1] end
  end
  if time == nil or time >= before then break end
  n = n + 1
  anchor = hash
end
if n == 0 then return 0 end
for i = 1, n do redis.call('XDEL', KEYS[1], entries[i][1]) end
redis.call('HSET', KEYS[2], 'anchor', anchor)
return n
"""

Seal = Callable[[str], Mapping[str, str]]
Record = tuple[str, dict[str, str]]
_MAX_ATTEMPTS = 50
_HEADS_KEPT = 10_000


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


class RedisAudit:
    """Per-tenant audit Streams on `client`; errors are the caller's to translate."""

    def __init__(self, client: aioredis.Redis, prefix: str = "ag:") -> None:
        self._client = client
        self._prefix = prefix
        self._append = client.register_script(_APPEND)
        self._trim = client.register_script(_TRIM)
        self._heads: dict[str, str] = {}

    def stream_key(self, tenant: str) -> str:
        return f"{self._prefix}audit:{quote(tenant, safe='')}"

    def _chain_key(self, tenant: str) -> str:
        return f"{self._prefix}audit-chain:{quote(tenant, safe='')}"

    def _tenants_key(self) -> str:
        return f"{self._prefix}audit-tenants"

    async def append(self, tenant: str, seal: Seal) -> str:
        keys = [self.stream_key(tenant), self._chain_key(tenant), self._tenants_key()]
        head = self._heads.get(tenant, "")
        for _ in range(_MAX_ATTEMPTS):
            fields = seal(head)
            flat: list[str] = [head, fields["hash"], tenant]
            for name, value in fields.items():
                flat += [name, value]
            done, answer = await self._append(keys=keys, args=flat)
            if int(done):
                if len(self._heads) >= _HEADS_KEPT:
                    self._heads.clear()
                self._heads[tenant] = fields["hash"]
                return _text(answer)
            head = _text(answer)
        raise RuntimeError(f"audit chain of {tenant!r}: the head kept moving")

    async def entries(
        self, tenant: str, after: str | None, limit: int, newest_first: bool
    ) -> list[Record]:
        key = self.stream_key(tenant)
        found: Any  # the client's stubs allow None everywhere; a range has neither
        if newest_first:
            top = "+" if after is None else f"({after}"
            found = await self._client.xrevrange(key, top, "-", count=limit)
        else:
            bottom = "-" if after is None else f"({after}"
            found = await self._client.xrange(key, bottom, "+", count=limit)
        return [
            (_text(entry_id), {_text(k): _text(v) for k, v in fields.items()})
            for entry_id, fields in found
        ]

    async def ends(self, tenant: str) -> tuple[str, str]:
        anchor, head = await self._client.hmget(self._chain_key(tenant), ["anchor", "head"])
        return _text(anchor or ""), _text(head or "")

    async def trim(self, tenant: str, before_ms: int, limit: int) -> int:
        keys = [self.stream_key(tenant), self._chain_key(tenant)]
        return int(await self._trim(keys=keys, args=[before_ms, limit]))

    async def tenants(self) -> list[str]:
        return sorted(_text(m) for m in await self._client.smembers(self._tenants_key()))
