"""At most N things of one tenant at once in this process; the rest wait their turn.

A rate limit bounds how often a tenant may ask; it does not bound how much of
the process its requests hold at one time. Eight big reads admitted within
the rate still take every store thread and most of the event loop together,
and a neighbour's small query queues behind them. Slots bound that: each
tenant runs at most `allowed(tenant)` requests (or ML jobs) at once, first come
first served, and the rest wait in line, up to `max_waiting` per slot, beyond
which they are refused with RATE_LIMITED. Slots are per process, like the
event loop and the threads they protect.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from analytics_gateway.errors import RateLimited

Allowed = Callable[[str], Awaitable[int]]
"""tenant -> how many it may hold at once."""


class TenantSlots:
    def __init__(self, allowed: Allowed, what: str, max_waiting: int | None = None) -> None:
        self._allowed = allowed
        self._what = what
        self._max_waiting = max_waiting  # per slot; None: any number may wait
        self._slots: dict[str, tuple[asyncio.Semaphore, int]] = {}
        self._holders: dict[str, int] = {}  # holding or waiting, per tenant

    def in_use(self, tenant: str) -> int:
        """Holding or waiting: for tests and gauges."""
        return self._holders.get(tenant, 0)

    @asynccontextmanager
    async def slot(self, tenant: str) -> AsyncIterator[None]:
        found = self._slots.get(tenant)
        if found is None:
            allowed = max(1, await self._allowed(tenant))
            found = self._slots.setdefault(tenant, (asyncio.Semaphore(allowed), allowed))
        semaphore, allowed = found
        holders = self._holders.get(tenant, 0)
        if self._max_waiting is not None and holders >= allowed * (1 + self._max_waiting):
            raise RateLimited(
                f"too many {self._what} of this tenant at once ({allowed} running, "
                f"{holders - allowed} waiting); retry in 1 s",
                retryAfter=1,
            )
        self._holders[tenant] = holders + 1
        try:
            async with semaphore:
                yield
        finally:
            self._holders[tenant] -= 1
            if not self._holders[tenant]:  # nothing of the tenant left: forget its slots
                del self._holders[tenant]
                self._slots.pop(tenant, None)
