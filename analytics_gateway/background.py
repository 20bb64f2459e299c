"""A long-running task owned by a component, started and stopped by the lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from types import FrameType
from typing import Any

from analytics_gateway.errors import GatewayError

log = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 5.0
RECANCEL_SECONDS = 0.5


async def stop_task(task: asyncio.Task[Any], grace_seconds: float = STOP_GRACE_SECONDS) -> None:
    """Cancel `task` and wait for it, a bounded time, so no task holds the shutdown.

    Some clients catch a cancel and turn it into their own error, which a loop that
    goes on after errors then survives: the cancel is asked again every half
    second. A task still running after `grace_seconds` is logged with where it
    waits, and left behind.
    """
    loop = asyncio.get_running_loop()
    give_up = loop.time() + grace_seconds
    while not task.done():
        remaining = give_up - loop.time()
        if remaining <= 0:
            log.warning(
                "background task %s did not stop in time: %s",
                task.get_name(),
                " <- ".join(_frame(f) for f in task.get_stack()),
            )
            return
        task.cancel()
        await asyncio.wait([task], timeout=min(RECANCEL_SECONDS, remaining))
    if not task.cancelled() and task.exception() is not None:
        log.error("background task %s failed", task.get_name(), exc_info=task.exception())


def _frame(frame: FrameType) -> str:
    return f"{frame.f_code.co_name} ({Path(frame.f_code.co_filename).name}:{frame.f_lineno})"


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
            await stop_task(task)


async def on_wake_or_tick(
    wake: asyncio.Event, tick_seconds: float, work: Callable[[], Awaitable[object]], failed: str
) -> None:
    """Run `work` each time `wake` is set, and at least every `tick_seconds`, forever;
    a gateway error (a store down) is logged as `failed: <why>` and the loop goes on."""
    current = asyncio.current_task()
    while True:
        if current is not None and current.cancelling():
            # a cancel that something on the way swallowed (on Python 3.11,
            # `wait_for` can lose one that lands as its inner wait ends): stop, as asked
            raise asyncio.CancelledError
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(tick_seconds):
                await wake.wait()
        wake.clear()
        try:
            await work()
        except GatewayError as exc:
            if current is not None and current.cancelling():
                # the cancel became a store error on the way: stop, as asked
                raise asyncio.CancelledError from exc
            log.warning("%s: %s", failed, exc.message)
