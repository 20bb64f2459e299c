"""Series for the client tests, written through the client."""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from analytics_gateway_client import AnalyticsClient, MetricPointInput, Subscription

T = TypeVar("T")
STEP = timedelta(minutes=1)


def wave(n: int, *, seed: int = 0, spike_at: int | None = None) -> list[float]:
    """A noisy wave around 50; `spike_at` gets 40 added."""
    rng = random.Random(seed)
    values = [50 + 5 * math.sin(2 * math.pi * i / 120) + rng.gauss(0, 0.5) for i in range(n)]
    if spike_at is not None:
        values[spike_at] += 40
    return values


async def write_series(
    client: AnalyticsClient, name: str, values: list[float], labels: dict[str, str]
) -> datetime:
    """One point a minute, the last a second ago; returns the last point's time."""
    end = datetime.now(UTC) - timedelta(seconds=1)
    start = end - (len(values) - 1) * STEP
    result = await client.metrics.ingest(
        MetricPointInput(name=name, value=v, labels=labels, timestamp=start + i * STEP)
        for i, v in enumerate(values)
    )
    assert (result.accepted, result.rejected) == (len(values), [])
    return end


async def first_message(
    subscription: Subscription[T], meanwhile: Callable[[], Awaitable[object]], seconds: float = 10
) -> T:
    """The subscription's first message, doing `meanwhile` every 0.2 s until it comes
    (a subscribe and a write race: the write is repeated until one is delivered)."""
    waiting = asyncio.ensure_future(subscription.__anext__())
    try:
        async with asyncio.timeout(seconds):
            while not waiting.done():
                await meanwhile()
                await asyncio.wait({waiting}, timeout=0.2)
    finally:
        if not waiting.done():
            waiting.cancel()
    return waiting.result()
