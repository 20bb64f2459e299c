"""Log levels changed at run time on every replica, and put back after a while.

A change is kept in the shared config store (one document per logger, of the
operator tenant) and applied at once in the replica that took the request;
every replica reads the documents every `SYNC_SECONDS` and applies what it has
not applied yet, so the others follow within seconds, and a replica that
starts during a change's life takes it too. Each reverts at the same instant
(`until_ms`) to the level its logger had before the first change; a later
change of the same logger replaces the earlier one and its deadline.

The store, not a broker channel, carries the change: a message is missed by a
replica that is restarting, and a lifelong listener on the shared pub/sub
connection raced the connection's close at shutdown.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from analytics_gateway.backends.base import ConfigStore
from analytics_gateway.background import BackgroundTask
from analytics_gateway.errors import BadUserInput, GatewayError

KIND = "log_level"
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOGGER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]{0,127}$")
MAX_TTL_MS = 24 * 3_600_000
SYNC_SECONDS = 2.0

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LevelChange:
    logger: str
    level: str
    until_ms: int


def checked(logger: str, level: str, ttl_ms: int, now_ms: int) -> LevelChange:
    if logger != "root" and not LOGGER_RE.match(logger):
        raise BadUserInput(
            f"logger {logger!r}: a dotted logger name (e.g. analytics_gateway.access) or root",
            field="logger",
        )
    name = level.upper()
    if name not in LEVELS:
        raise BadUserInput(f"level {level!r}: one of {', '.join(LEVELS)}", field="level")
    if not 1000 <= ttl_ms <= MAX_TTL_MS:
        raise BadUserInput("ttl: from 1s to 24h", field="ttl")
    return LevelChange(logger, name, now_ms + ttl_ms)


class LogLevels:
    def __init__(
        self,
        config: ConfigStore,
        tenant: str,
        clock: Callable[[], int],
        sync_seconds: float = SYNC_SECONDS,
    ) -> None:
        self._config = config
        self._tenant = tenant
        self._clock = clock
        self._sync_seconds = sync_seconds
        self._before: dict[str, int] = {}  # logger -> its level before the first change
        self._applied: dict[str, LevelChange] = {}
        self._reverts: dict[str, asyncio.TimerHandle] = {}
        self._task = BackgroundTask(self._follow, "log-levels")

    async def start(self) -> None:
        try:
            await self.sync()
        except GatewayError as exc:
            log.warning("log levels: cannot read the shared changes yet: %s", exc.message)
        self._task.start()

    async def stop(self) -> None:
        """Stop following, and put every changed logger back (the process is stopping)."""
        await self._task.stop()
        for name in list(self._reverts):
            self._revert(name)

    async def change(self, change: LevelChange) -> None:
        """Keep it for every replica, then apply it here at once."""
        document = {"level": change.level, "until_ms": change.until_ms}
        await self._config.put_document(KIND, self._tenant, change.logger, document)
        self.apply(change)

    async def sync(self) -> None:
        """Apply the shared changes this replica has not applied; forget expired ones."""
        now = self._clock()
        for logger, _, document in await self._config.list_documents(KIND, self._tenant):
            change = _from_document(logger, document)
            if change is None:
                log.warning("log levels: ignored a malformed change of %s", logger)
            elif change.until_ms <= now:
                await self._config.delete_document(KIND, self._tenant, logger)
            elif self._applied.get(logger) != change:
                self.apply(change)

    async def _follow(self) -> None:
        while True:
            await asyncio.sleep(self._sync_seconds)
            try:
                await self.sync()
            except GatewayError as exc:
                log.warning("log levels: cannot read the shared changes: %s", exc.message)

    def apply(self, change: LevelChange) -> None:
        logger = _logger(change.logger)
        if change.logger not in self._before:
            self._before[change.logger] = logger.level
        logger.setLevel(change.level)
        self._applied[change.logger] = change
        pending = self._reverts.pop(change.logger, None)
        if pending is not None:
            pending.cancel()
        delay = max(0.0, (change.until_ms - self._clock()) / 1000)
        loop = asyncio.get_running_loop()
        self._reverts[change.logger] = loop.call_later(delay, self._revert, change.logger)
        log.warning(
            "log level of %s set to %s until %d", change.logger, change.level, change.until_ms
        )

    def _revert(self, name: str) -> None:
        handle = self._reverts.pop(name, None)
        if handle is not None:
            handle.cancel()
        before = self._before.pop(name, None)
        if before is not None:
            _logger(name).setLevel(before)
            log.warning("log level of %s put back", name)


def _from_document(logger: str, document: dict[str, Any]) -> LevelChange | None:
    level, until_ms = document.get("level"), document.get("until_ms")
    if level not in LEVELS or not isinstance(until_ms, int):
        return None
    if logger != "root" and not LOGGER_RE.match(logger):
        return None
    return LevelChange(logger, str(level), until_ms)


def _logger(name: str) -> logging.Logger:
    return logging.getLogger() if name == "root" else logging.getLogger(name)
