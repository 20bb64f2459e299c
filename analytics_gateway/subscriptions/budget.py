"""How much of the event loop live fan-out may take, so it never starves ingest.

Every subscription's results are computed and serialised on the event loop
that also acknowledges writes. With hundreds of subscribers on a busy metric,
fan-out alone can take all of it: `/write` then waited seconds and most of the
offered points were never acknowledged. `FanoutBudget` is a token bucket in
seconds of loop time: subscription consumers are charged the time they spend
on each message and wait when the bucket is empty, at most `share` seconds
of every second. While they wait their bounded queues fill and lose their
oldest messages (counted on `/metrics`): fan-out sheds, ingest goes on.

Each consumer let through reserves what a message has recently cost (a moving
average) and settles the difference once it knows: otherwise hundreds of
consumers woken by one refill would all pass the same check and overdraw the
bucket together, holding the loop for as long. The burst is small for the
same reason: the longest stretch fan-out may hold the loop is about what a
write then waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable


class FanoutBudget:
    def __init__(
        self,
        share: float,
        burst_seconds: float = 0.02,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < share <= 1:
            raise ValueError("the fan-out share of the event loop must be in (0, 1]")
        self._share = share
        self._burst = burst_seconds
        self._clock = clock
        self._tokens = burst_seconds
        self._at = clock()
        self._typical = 0.0001  # seconds a message costs, averaged
        self._waiters: deque[asyncio.Future[float]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self.waited_seconds = 0.0

    def _refill(self) -> float:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._at) * self._share)
        self._at = now
        return self._tokens

    def charge(self, seconds: float, reserved: float = 0.0) -> None:
        """A consumer spent `seconds` of the loop on one message it had `reserved` for."""
        self._refill()
        self._tokens -= seconds - reserved
        self._typical += (seconds - self._typical) * 0.05

    async def acquire(self) -> float:
        """Wait until the bucket holds time again; returns what was reserved.

        Waiters queue in order and are woken by one timer, each once, as time comes
        back: a few hundred consumers polling a timer each would spend the loop on
        waking up.
        """
        if not self._waiters and self._refill() > 0:
            return self._reserve()
        waiter: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._wake_later()
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._tokens += waiter.result()  # released, then cancelled: give it back
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)
            raise

    def _reserve(self) -> float:
        reserved = self._typical
        self._tokens -= reserved
        return reserved

    def _wake_later(self) -> None:
        if self._timer is not None:
            return
        pause = max(-self._refill() / self._share, 0.0) + 0.001
        self.waited_seconds += pause
        self._timer = asyncio.get_running_loop().call_later(pause, self._release)

    def _release(self) -> None:
        self._timer = None
        while self._waiters and self._refill() > 0:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(self._reserve())
        if self._waiters:
            self._wake_later()
