"""A circuit breaker per store: a store that keeps timing out is not asked for a while.

A frozen store (paused, overloaded, a network black hole) answers nothing, so
every request that touches it waits the whole backend timeout: five seconds of
a client's time and a slot of its tenant's, request after request. After
`failures_to_open` failures in a row the breaker opens: calls fail at once with
BACKEND_UNAVAILABLE ("not asked for N s"). When that interval is up, one call
goes through as a trial: its success closes the breaker, its failure opens it
again for twice as long, up to `max_open_seconds` (short: a store that is back
should be used again within seconds). Writes that fail this way go to the
ingest buffer as any other failed write does.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from prometheus_client import Gauge

from analytics_gateway.errors import BackendUnavailable


class CircuitBreaker:
    def __init__(
        self,
        backend: str,
        *,
        failures_to_open: int = 3,
        first_open_seconds: float = 1.0,
        max_open_seconds: float = 4.0,
        clock: Callable[[], float] = time.monotonic,
        gauge: Gauge | None = None,
    ) -> None:
        self.backend = backend
        self._failures_to_open = failures_to_open
        self._first_open = first_open_seconds
        self._max_open = max_open_seconds
        self._clock = clock
        self._gauge = gauge
        self._failures = 0
        self._open_for = 0.0
        self._open_until: float | None = None  # None: closed
        self._trial = False

    @property
    def is_open(self) -> bool:
        return self._open_until is not None

    @asynccontextmanager
    async def call(self) -> AsyncIterator[None]:
        """Around one call to the store: refuses it while open; learns from its outcome."""
        self._admit()
        trial = self._trial
        try:
            yield
        except BackendUnavailable:
            self._failed()
            raise
        except BaseException:
            if trial:
                self._trial = False  # cancelled or refused for another reason: no verdict
            raise
        self._succeeded()

    def _admit(self) -> None:
        if self._open_until is None:
            return
        left = self._open_until - self._clock()
        if left > 0 or self._trial:
            raise BackendUnavailable(
                f"store ({self.backend}) failed {self._failures} times in a row; "
                f"not asked again for {max(left, 0):.1f} s",
                backend=self.backend,
            )
        self._trial = True

    def _failed(self) -> None:
        self._failures += 1
        if self._open_until is not None:  # the trial failed
            self._open_for = min(self._open_for * 2, self._max_open)
        elif self._failures >= self._failures_to_open:
            self._open_for = self._first_open
        else:
            return
        self._trial = False
        self._open_until = self._clock() + self._open_for
        if self._gauge is not None:
            self._gauge.set(1)

    def _succeeded(self) -> None:
        self._failures = 0
        self._trial = False
        if self._open_until is not None:
            self._open_until = None
            if self._gauge is not None:
                self._gauge.set(0)
