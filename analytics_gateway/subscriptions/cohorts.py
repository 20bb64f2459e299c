"""Subscription cohorts (decision 3): execute once, send the same frame to many.

Subscribers with the same (tenant, scopes, document, variables, operation
name) would compute identical results, so they share ONE execution of the
subscription and ONE serialisation per event. Each member only splices its
operation id into the frame and sends it from its own bounded drop-oldest
queue, so a slow client never stalls its cohort. Sending is fan-out work too
(a WebSocket frame, compressed per connection): it is paced by the same
`FanoutBudget` as executing, so that many subscribers of a busy metric shed
frames instead of starving ingest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from typing import Any

import orjson
from strawberry.types.execution import ExecutionResult, PreExecutionError
from strawberry.utils.aio import aclosing

from analytics_gateway.subscriptions.budget import FanoutBudget

log = logging.getLogger(__name__)

# A send that had to wait for a slow client is charged at most this: waiting for a
# socket is not loop time, and one slow client must not spend everyone's budget.
MAX_SEND_CHARGE_SECONDS = 0.002

StreamFactory = Callable[[], Awaitable[Any]]
Send = Callable[[str], Awaitable[None]]


def next_payload(result: ExecutionResult) -> bytes:
    payload: dict[str, Any] = {"data": result.data}
    if result.errors:
        payload["errors"] = [error.formatted for error in result.errors]
    if result.extensions:
        payload["extensions"] = result.extensions
    return orjson.dumps(payload)


class Member:
    """One subscriber's operation inside a cohort."""

    def __init__(
        self,
        op_id: str,
        queue_size: int,
        on_drop: Callable[[int], None],
        budget: FanoutBudget | None = None,
    ) -> None:
        self._budget = budget
        self._prefix = '{"id":' + orjson.dumps(op_id).decode() + ',"type":"next","payload":'
        self._frames: deque[str] = deque()
        self._size = queue_size
        self._ready = asyncio.Event()
        self._on_drop = on_drop
        self._final: tuple[str, bytes] | None = None

    def push(self, payload: str) -> None:
        """Queue a `next` frame around the cohort's already serialised payload."""
        if len(self._frames) >= self._size:
            self._frames.popleft()
            self._on_drop(1)
        self._frames.append(self._prefix + payload + "}")
        self._ready.set()

    def finish(self, kind: str = "complete", payload: bytes = b"") -> None:
        """End the stream: `complete`, or `error` with a JSON list of errors."""
        self._final = (kind, payload)
        self._ready.set()

    async def frames(self) -> AsyncIterator[str]:
        """The frames to send; the time the consumer takes over each is charged to the
        budget, and while the budget is empty the queue waits (dropping its oldest)."""
        budget = self._budget
        while True:
            while self._frames:
                if budget is None:
                    yield self._frames.popleft()
                    continue
                reserved = await budget.acquire()
                started = time.perf_counter()
                yield self._frames.popleft()
                spent = min(time.perf_counter() - started, MAX_SEND_CHARGE_SECONDS)
                budget.charge(spent, reserved)
            if self._final is not None:
                return
            self._ready.clear()
            await self._ready.wait()

    @property
    def final(self) -> tuple[str, bytes] | None:
        return self._final


class Cohort:
    def __init__(self, stream: StreamFactory, on_empty: Callable[[], None]) -> None:
        self._stream = stream
        self._members: set[Member] = set()
        self._on_empty = on_empty
        self._task: asyncio.Task[None] | None = None

    def join(self, member: Member) -> None:
        self._members.add(member)
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="subscription-cohort")

    async def leave(self, member: Member) -> None:
        self._members.discard(member)
        if not self._members:
            self._on_empty()
            if self._task is not None and not self._task.done():
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self._task

    async def _run(self) -> None:
        try:
            source = await self._stream()
            async with aclosing(source):
                first = True
                async for result in source:
                    if first and isinstance(result, PreExecutionError):
                        errors = orjson.dumps([e.formatted for e in result.errors or []])
                        self._finish("error", errors)
                        return
                    first = False
                    if not isinstance(result, ExecutionResult):
                        message = "Incremental delivery is not supported over graphql-transport-ws"
                        self._finish("error", orjson.dumps([{"message": message}]))
                        return
                    payload = next_payload(result).decode()
                    for member in self._members:
                        member.push(payload)
            self._finish("complete")
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("subscription cohort failed")
            self._finish("error", orjson.dumps([{"message": "Internal server error"}]))

    def _finish(self, kind: str, payload: bytes = b"") -> None:
        for member in self._members:
            member.finish(kind, payload)


class CohortRegistry:
    """The cohorts of one process, by key."""

    def __init__(
        self,
        queue_size: int = 1000,
        on_drop: Callable[[int], None] = lambda n: None,
        on_active_change: Callable[[int], None] = lambda n: None,
        budget: FanoutBudget | None = None,
    ) -> None:
        self._budget = budget
        self._cohorts: dict[Hashable, Cohort] = {}
        self._queue_size = queue_size
        self._on_drop = on_drop
        self._on_active_change = on_active_change

    def __len__(self) -> int:
        return len(self._cohorts)

    @contextlib.asynccontextmanager
    async def membership(
        self, key: Hashable, op_id: str, stream: StreamFactory
    ) -> AsyncIterator[Member]:
        cohort = self._cohorts.get(key)
        if cohort is None:

            def forget() -> None:
                if self._cohorts.get(key) is cohort:
                    del self._cohorts[key]

            cohort = Cohort(stream, on_empty=forget)
            self._cohorts[key] = cohort
        member = Member(op_id, self._queue_size, self._on_drop, self._budget)
        cohort.join(member)
        self._on_active_change(1)
        try:
            yield member
        finally:
            self._on_active_change(-1)
            await cohort.leave(member)
