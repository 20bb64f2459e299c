"""A loader's batch function that does not keep the loader alive.

`DataLoader(load_fn=self._load)` stores a bound method on the loader: a
reference cycle. Every request's loaders, with every answer they memoise
(a raw read's series among them), then outlive the request until a garbage
collection finds them, and each young-generation collection walks and frees
them with every tenant's requests waiting. Through a weak reference the
loader and its answers are freed as soon as the request lets go of them.
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

K = TypeVar("K")
R = TypeVar("R")


class WeakLoad(Generic[K, R]):
    """Calls `method` (a loader's bound `_load`) while its loader lives."""

    __slots__ = ("_method",)

    def __init__(self, method: Callable[[Sequence[K]], Awaitable[R]]) -> None:
        self._method = weakref.WeakMethod(method)

    async def __call__(self, keys: Sequence[K]) -> R:
        method = self._method()
        if method is None:  # the loader's request is gone; nothing awaits the answer
            raise RuntimeError("the loader of this batch no longer exists")
        return await method(keys)
