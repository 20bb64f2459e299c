"""Live updates of a dashboard: which widgets new data touched, at most once a second.

Each widget listens on the tenant-scoped channels its plan reads (a metric's
channel, filtered by the widget's labels; the events channel, by event type)
through the process's hub. A message marks the widgets it concerns as dirty;
the dirty set is handed out at most once per `interval`, so a widget gets at
most one update per interval however many points arrive (coalescing).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from analytics_gateway.subscriptions.hub import ClientQueue, Hub

COALESCE_SECONDS = 1.0

Route = tuple[str, str, Mapping[str, str]]
"""(widget id, channel, filter): labels a metric point must carry, or {"type": event type}."""


def concerns(message: Any, wanted: Mapping[str, str]) -> bool:
    """Whether a published message holds data the filter selects."""
    if "@any" in wanted:  # e.g. every alert event concerns the alerts panel
        return True
    if isinstance(message, list):  # a batch of events
        event_type = wanted.get("type")
        return any(event_type is None or item.get("type") == event_type for item in message)
    return any(
        all(series["labels"].get(k) == v for k, v in wanted.items())
        for series in message.get("series", ())
    )


class _Dirty:
    def __init__(self) -> None:
        self.ids: set[str] = set()
        self.wake = asyncio.Event()

    def mark(self, ids: set[str]) -> None:
        if ids:
            self.ids |= ids
            self.wake.set()

    def take(self) -> set[str]:
        taken, self.ids = self.ids, set()
        self.wake.clear()
        return taken


async def _watch(
    queue: ClientQueue, routes: Sequence[tuple[str, Mapping[str, str]]], dirty: _Dirty
) -> None:
    async for _message_id, message in queue:
        dirty.mark({widget_id for widget_id, wanted in routes if concerns(message, wanted)})


async def _stop(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def dirty_widgets(
    hub: Hub, routes: Sequence[Route], interval: float = COALESCE_SECONDS
) -> AsyncIterator[set[str]]:
    """Sets of widget ids with new data, at most one set per `interval` seconds."""
    by_channel: dict[str, list[tuple[str, Mapping[str, str]]]] = {}
    for widget_id, channel, wanted in routes:
        by_channel.setdefault(channel, []).append((widget_id, wanted))
    dirty = _Dirty()
    loop = asyncio.get_running_loop()
    async with contextlib.AsyncExitStack() as stack:
        tasks: list[asyncio.Task[None]] = []
        stack.push_async_callback(_stop, tasks)
        for channel, channel_routes in by_channel.items():
            queue = await stack.enter_async_context(hub.listen(channel))
            tasks.append(asyncio.create_task(_watch(queue, channel_routes, dirty)))
        last = -interval
        while True:
            await dirty.wake.wait()
            delay = last + interval - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            last = loop.time()
            yield dirty.take()
