"""How long a store may take for the read under way: longer for wider reads.

The backend timeout (`ANALYTICS_BACKEND_TIMEOUT_SECONDS`, 5 s) suits ordinary
reads, and a store that takes longer for them is treated as failing. A read
over very many series is another matter: one AVG per series over 100,000
series takes InfluxDB about 7 s (bench/cardinality.py), so with a fixed timeout
it could never succeed. Its series are counted before it runs (for its cost),
so the metric loader grants it `SECONDS_PER_SERIES` more per series it
matches, up to `MAX_SECONDS` (inside the 30 s request timeout); the stores
wait `timeout(default)` for the read under way.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

SECONDS_PER_SERIES = 1 / 10_000  # InfluxDB managed ~14,000 series a second in one read
MAX_SECONDS = 25.0

_granted: ContextVar[float] = ContextVar("read_budget", default=0.0)


@contextmanager
def granted(series: int) -> Iterator[None]:
    """Reads inside may take `timeout(default)`: the default, or more for many series."""
    token = _granted.set(min(series * SECONDS_PER_SERIES, MAX_SECONDS))
    try:
        yield
    finally:
        _granted.reset(token)


def timeout(default: float) -> float:
    """The store's own timeout, or the grant of the read under way if that is longer."""
    return max(default, _granted.get())
