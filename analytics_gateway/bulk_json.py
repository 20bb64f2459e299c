"""Point columns in a response, encoded a slice at a time between other requests.

A 150k-point answer takes tens of milliseconds to encode as JSON. Encoded in
one call on the event loop, that is a stall every other tenant's requests wait
out, whatever the per-tenant limits say. So each `SeriesData` value leaving the
schema is noted (a context variable set per HTTP request); before the response
is encoded, the noted columns are encoded one by one, letting the loop run
other work after every `SLICE_POINTS` points, and the final encode only copies
those bytes in. Big encodes take turns in one lane (`sliced`): with four
tenants' big answers sliced side by side, every loop turn would still carry
four slices, and a small request needs many turns.

Columns may be numpy arrays (a store's raw read, see `domain.Series`); orjson
encodes them directly. Where no request notes them (a subscription's
message), they become lists here, as every other encoder expects.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from typing import Any

import numpy as np
import orjson

SLICE_POINTS = 10_000  # about a millisecond of encoding

_noted: ContextVar[list[SeriesColumns] | None] = ContextVar("bulk_columns", default=None)


class SeriesColumns(dict[str, Any]):
    """A `SeriesData` value on its way out, with its JSON once encoded ahead."""

    __slots__ = ("encoded",)

    def __init__(self, value: Mapping[str, Any]) -> None:
        super().__init__(value)
        self.encoded: bytes | None = None


def outgoing(value: Mapping[str, Any]) -> SeriesColumns:
    """Wrap a serialized `SeriesData` value, noting it for the request being answered."""
    noted = _noted.get()
    if noted is None:
        return SeriesColumns({k: _as_list(v) for k, v in value.items()})
    columns = SeriesColumns(value)
    noted.append(columns)
    return columns


def _as_list(column: object) -> object:
    return column.tolist() if isinstance(column, np.ndarray) else column


@contextmanager
def noting() -> Iterator[None]:
    """Note the `SeriesData` values produced inside (one request's execution)."""
    noted: list[SeriesColumns] = []
    token = _noted.set(noted)
    try:
        yield
    finally:
        _noted.reset(token)
        # emptied, not only unset: a timer scheduled during the request keeps a copy
        # of its context (and this list) until the timer is due
        noted.clear()


_lanes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


@asynccontextmanager
async def sliced(points: int) -> AsyncIterator[Slicer]:
    """A turn in the lane for `points` points of encoding; none needed for one slice."""
    if points <= SLICE_POINTS:
        yield Slicer()
        return
    loop = asyncio.get_running_loop()
    lane = _lanes.get(loop)
    if lane is None:
        lane = _lanes[loop] = asyncio.Lock()
    async with lane:
        yield Slicer()


class Slicer:
    """Counts points encoded; lets the loop run other work after each slice."""

    def __init__(self) -> None:
        self._done = 0

    async def encoded(self, points: int) -> None:
        self._done += points
        if self._done >= SLICE_POINTS:
            self._done = 0
            await asyncio.sleep(0)


def points_of(columns: Mapping[str, Any]) -> int:
    column = columns.get("t")
    return 0 if column is None else len(column)


async def encode_noted() -> None:
    """Encode the noted columns ahead, a slice at a time, when they are big."""
    waiting = [c for c in _noted.get() or [] if c.encoded is None]
    total = sum(points_of(c) for c in waiting)
    if total <= SLICE_POINTS:
        return  # the response encode writes them; that is no stall
    async with sliced(total) as slicer:
        for columns in waiting:
            columns.encoded = orjson.dumps(dict(columns), option=orjson.OPT_SERIALIZE_NUMPY)
            await slicer.encoded(points_of(columns))


def _default(value: object) -> object:
    if isinstance(value, SeriesColumns):
        return orjson.Fragment(value.encoded) if value.encoded is not None else dict(value)
    # other subclasses of built-in types, written as orjson would without the option
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, list):
        return list(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(data: object) -> bytes:
    """JSON of a response, with the columns encoded ahead copied in as they are."""
    options = orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_SERIALIZE_NUMPY
    return orjson.dumps(data, default=_default, option=options)
