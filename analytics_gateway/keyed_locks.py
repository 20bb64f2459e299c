"""One asyncio lock per key, kept only while someone holds or waits for it.

Creating one more of a tenant's things (a KPI, a report, a rule, a channel, a
dashboard) counts what it holds, checks the count against its limit, then
stores the new one. Concurrent creates of one tenant all counted the same
number and all passed: 30 at once made 102 KPIs where 100 is the limit.
Holding `(tenant, kind)` across the count and the write makes the check hold
in this process; replicas each hold their own locks.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager


class KeyedLocks:
    def __init__(self) -> None:
        self._locks: dict[Hashable, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            _, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        """Keys held or waited for (none left behind once everyone is done)."""
        return len(self._locks)
