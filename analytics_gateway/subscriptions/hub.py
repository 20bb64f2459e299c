"""The per-process fan-out hub (decision 3).

One broker subscription per channel per process, reference-counted; each
client gets a bounded queue and, when slow, loses its oldest messages (counted)
instead of stalling the others. Payloads are decoded once per process.
Queues carry `(message_id, message)` so a subscriber can resume by id.

Listeners on a metric channel may give the labels they want: the hub then
indexes them by label pair and hands a message only to listeners with a
series it selects. A message costs work in proportion to the listeners it
concerns, however many wait for label sets it does not carry. Queues of
live subscriptions are paced by a `FanoutBudget` (see `budget`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import orjson

from analytics_gateway.backends.base import Broker
from analytics_gateway.background import BackgroundTask
from analytics_gateway.subscriptions.budget import FanoutBudget

log = logging.getLogger(__name__)

Pairs = tuple[tuple[str, str], ...]


class ClientQueue:
    """A bounded drop-oldest queue of decoded messages for one subscriber.

    With a budget, `get` charges the time the consumer spent since its last
    message and waits for the budget before handing out the next one.
    """

    def __init__(
        self, size: int, on_drop: Callable[[int], None], budget: FanoutBudget | None = None
    ) -> None:
        self._items: deque[Any] = deque()
        self._size = size
        self._ready = asyncio.Event()
        self._on_drop = on_drop
        self._budget = budget
        self._taken_at: float | None = None
        self._reserved = 0.0
        self.dropped = 0

    def put(self, item: Any) -> None:
        if len(self._items) >= self._size:
            self._items.popleft()
            self.dropped += 1
            self._on_drop(1)
        self._items.append(item)
        self._ready.set()

    async def get(self) -> Any:
        budget = self._budget
        if budget is not None and self._taken_at is not None:
            budget.charge(time.perf_counter() - self._taken_at, self._reserved)
            self._taken_at = None
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        if budget is not None:
            self._reserved = await budget.acquire()  # meanwhile the queue may drop its oldest
            self._taken_at = time.perf_counter()
        return self._items.popleft()

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Any]:
        while True:
            yield await self.get()


def _selected(
    message: Any, index: Mapping[tuple[str, str], list[tuple[Pairs, ClientQueue]]]
) -> set[ClientQueue]:
    """Listeners whose labels some series of the metric message carries."""
    hit: set[ClientQueue] = set()
    if not isinstance(message, dict):
        return hit
    for series in message.get("series", ()):
        labels = series.get("labels") or {}
        for pair in labels.items():
            for wanted, queue in index.get(pair, ()):
                if queue not in hit and all(labels.get(k) == v for k, v in wanted):
                    hit.add(queue)
    return hit


class Hub:
    def __init__(
        self,
        broker: Broker,
        *,
        queue_size: int = 1000,
        on_drop: Callable[[int], None] = lambda n: None,
        on_deliver: Callable[[int], None] = lambda n: None,
        budget: FanoutBudget | None = None,
    ) -> None:
        self._broker = broker
        self._queue_size = queue_size
        self._on_drop = on_drop
        self._on_deliver = on_deliver
        self.budget = budget
        self._subscribers: dict[str, set[ClientQueue]] = {}
        self._everything: dict[str, set[ClientQueue]] = {}  # listeners without labels
        # by channel: (first label pair of a listener's labels) -> (labels, queue)
        self._by_label: dict[str, dict[tuple[str, str], list[tuple[Pairs, ClientQueue]]]] = {}
        self._task = BackgroundTask(self._pump, "hub-pump")
        self._lock = asyncio.Lock()

    @property
    def active(self) -> int:
        return sum(len(s) for s in self._subscribers.values())

    async def start(self) -> None:
        self._task.start()

    async def stop(self) -> None:
        await self._task.stop()

    async def _pump(self) -> None:
        async for channel, message_id, payload in self._broker.messages():
            if not self._subscribers.get(channel):
                continue
            try:
                item = (message_id, orjson.loads(payload))
            except orjson.JSONDecodeError:
                log.warning("dropping undecodable message on %s", channel)
                continue
            everything = self._everything.get(channel, ())
            for queue in everything:
                queue.put(item)
            delivered = len(everything)
            index = self._by_label.get(channel)
            if index:
                selected = _selected(item[1], index)
                for queue in selected:
                    queue.put(item)
                delivered += len(selected)
            self._on_deliver(delivered)

    async def history(self, channel: str, since: str) -> list[tuple[str, Any]]:
        """Decoded messages of `channel` from id `since` on (see `Broker.history`)."""
        return [
            (message_id, orjson.loads(payload))
            for message_id, payload in await self._broker.history(channel, since)
        ]

    @contextlib.asynccontextmanager
    async def listen(
        self,
        channel: str,
        *,
        labels: Mapping[str, str] | None = None,
        paced: bool = False,
    ) -> AsyncIterator[ClientQueue]:
        """Register a client queue on `channel` for the duration of the block.

        `labels`: on a metric channel, only messages with a series carrying all
        of them. `paced`: the queue is a live subscription's, held to the budget.
        """
        queue = ClientQueue(self._queue_size, self._on_drop, self.budget if paced else None)
        wanted: Pairs = tuple(sorted((labels or {}).items()))
        async with self._lock:
            members = self._subscribers.setdefault(channel, set())
            if not members:
                await self._broker.subscribe(channel)
            members.add(queue)
            if wanted:
                index = self._by_label.setdefault(channel, {})
                index.setdefault(wanted[0], []).append((wanted, queue))
            else:
                self._everything.setdefault(channel, set()).add(queue)
        try:
            yield queue
        finally:
            async with self._lock:
                self._forget(channel, queue, wanted)
                members = self._subscribers.get(channel, set())
                members.discard(queue)
                if not members:
                    self._subscribers.pop(channel, None)
                    await self._broker.unsubscribe(channel)

    def _forget(self, channel: str, queue: ClientQueue, wanted: Pairs) -> None:
        if not wanted:
            everything = self._everything.get(channel)
            if everything is not None:
                everything.discard(queue)
                if not everything:
                    del self._everything[channel]
            return
        index = self._by_label.get(channel, {})
        listeners = [entry for entry in index.get(wanted[0], []) if entry[1] is not queue]
        if listeners:
            index[wanted[0]] = listeners
        else:
            index.pop(wanted[0], None)
            if not index:
                self._by_label.pop(channel, None)
