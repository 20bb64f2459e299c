"""How much of the event loop live fan-out may take, so it never starves ingest.

Every subscription's results are computed and serialised on the event loop
that also acknowledges writes. With hundreds of subscribers on a busy metric,
fan-out alone can take all of it: `/write` then waited seconds and most of the
offered points were never acknowledged. `FanoutBudget` is a token bucket in
seconds of loop time: subscription consumers are charged the time they spend
on each message and wait when the bucket is empty, at most `share` seconds
of every second. While they wait their bounded queues fill and lose their
oldest messages (counted on `/metrics`): fan-out sheds, ingest goes on.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class FanoutBudget:
    def __init__(
        self,
        share: float,
        burst_seconds: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < share <= 1:
            raise ValueError("the fan-out share of the event loop must be in (0, 1]")
        self._share = share
        self._burst = burst_seconds
        self._clock = clock
        self._tokens = burst_seconds
        self._at = clock()
        self.waited_seconds = 0.0

    def _refill(self) -> float:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._at) * self._share)
        self._at = now
        return self._tokens

    def charge(self, seconds: float) -> None:
        """A consumer spent `seconds` of the loop on one message."""
        self._refill()
        self._tokens -= seconds

    async def acquire(self) -> None:
        """Wait until the bucket holds time again."""
        while (tokens := self._refill()) <= 0:
            pause = -tokens / self._share + 0.001
            self.waited_seconds += pause
            await asyncio.sleep(pause)
