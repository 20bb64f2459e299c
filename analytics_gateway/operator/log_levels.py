"""Log levels changed at run time, and put back after a while.

A change applies in the process that took the request, and reverts at
`until_ms` to the level the logger had before the first change; a later change
of the same logger replaces the earlier one and its deadline. Changing every
replica at once through the broker is not done yet: listening on the broker
kept a Redis-backed gateway from shutting down.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from analytics_gateway.errors import BadUserInput

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOGGER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]{0,127}$")
MAX_TTL_MS = 24 * 3_600_000

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
    def __init__(self, clock: Callable[[], int]) -> None:
        self._clock = clock
        self._before: dict[str, int] = {}  # logger -> its level before the first change
        self._reverts: dict[str, asyncio.TimerHandle] = {}

    async def stop(self) -> None:
        """Put every changed logger back (the process is stopping)."""
        for name in list(self._reverts):
            self._revert(name)

    async def change(self, change: LevelChange) -> None:
        """Apply in this process (the replica that took the request)."""
        self.apply(change)

    def apply(self, change: LevelChange) -> None:
        logger = _logger(change.logger)
        if change.logger not in self._before:
            self._before[change.logger] = logger.level
        logger.setLevel(change.level)
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


def _logger(name: str) -> logging.Logger:
    return logging.getLogger() if name == "root" else logging.getLogger(name)
