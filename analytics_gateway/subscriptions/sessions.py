"""Open WebSocket sessions by API key, so a revoked key is cut off within a second.

HTTP requests look the key up on every call; a WebSocket authenticates once,
in `connection_init`. A watcher polls the config store (only while sessions
are open) and closes every session of a key that has been revoked.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from analytics_gateway.backends.base import ConfigStore
from analytics_gateway.background import BackgroundTask
from analytics_gateway.errors import GatewayError

log = logging.getLogger(__name__)

Closer = Callable[[], Awaitable[None]]


class SessionRegistry:
    def __init__(self, config: ConfigStore, interval_seconds: float = 1.0) -> None:
        self._config = config
        self._interval = interval_seconds
        self._by_key: dict[str, dict[int, Closer]] = {}
        self._task = BackgroundTask(self._watch, "session-revocation")

    def add(self, key_id: str, token: int, close: Closer) -> None:
        self._by_key.setdefault(key_id, {})[token] = close

    def discard(self, key_id: str, token: int) -> None:
        sessions = self._by_key.get(key_id)
        if sessions is not None:
            sessions.pop(token, None)
            if not sessions:
                del self._by_key[key_id]

    async def start(self) -> None:
        self._task.start()

    async def stop(self) -> None:
        await self._task.stop()

    async def check(self) -> int:
        """Close sessions of revoked keys now; returns how many were closed."""
        if not self._by_key:
            return 0
        revoked = {r.key_id for r in await self._config.list_keys() if r.revoked}
        closed = 0
        for key_id in revoked & set(self._by_key):
            for close in list(self._by_key.pop(key_id, {}).values()):
                with contextlib.suppress(Exception):
                    await close()
                closed += 1
        return closed

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.check()
            except GatewayError as exc:
                log.warning("could not check for revoked keys: %s", exc.message)
