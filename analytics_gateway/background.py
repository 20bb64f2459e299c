"""A long-running task owned by a component, started and stopped by the lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from analytics_gateway.errors import GatewayError

log = logging.getLogger(__name__)


class BackgroundTask:
    def __init__(self, run: Callable[[], Coroutine[Any, Any, None]], name: str) -> None:
        self._run = run
        self._name = name
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        if self._task is not None:
            task, self._task = self._task, None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def on_wake_or_tick(
    wake: asyncio.Event, tick_seconds: float, work: Callable[[], Awaitable[object]], failed: str
) -> None:
    """Run `work` each time `wake` is set, and at least every `tick_seconds`, forever;
    a gateway error (a store down) is logged as `failed: <why>` and the loop goes on."""
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), tick_seconds)
        wake.clear()
        try:
            await work()
        except GatewayError as exc:
            log.warning("%s: %s", failed, exc.message)
