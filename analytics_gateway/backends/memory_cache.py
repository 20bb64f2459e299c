"""In-process `Cache`: a bounded dict with per-entry expiry, for one process."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Sequence


class MemoryCache:
    def __init__(self, max_entries: int = 10_000) -> None:
        self._entries: OrderedDict[tuple[str, str], tuple[float, bytes]] = OrderedDict()
        self._counters: dict[tuple[str, str], int] = {}
        self._max_entries = max_entries

    async def get_many(self, tenant: str, keys: Sequence[str]) -> list[bytes | None]:
        now = time.monotonic()
        found: list[bytes | None] = []
        for key in keys:
            entry = self._entries.get((tenant, key))
            if entry is None or entry[0] <= now:
                self._entries.pop((tenant, key), None)
                found.append(None)
            else:
                found.append(entry[1])
        return found

    async def set_many(
        self, tenant: str, items: Sequence[tuple[str, bytes]], ttl_seconds: float
    ) -> None:
        expires = time.monotonic() + ttl_seconds
        for key, value in items:
            self._entries[(tenant, key)] = (expires, value)
            self._entries.move_to_end((tenant, key))
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    async def incr_many(self, tenant: str, counters: Sequence[str]) -> None:
        for counter in counters:
            self._counters[(tenant, counter)] = self._counters.get((tenant, counter), 0) + 1

    async def counters(self, tenant: str, counters: Sequence[str]) -> list[int]:
        return [self._counters.get((tenant, counter), 0) for counter in counters]

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        self._entries.clear()
