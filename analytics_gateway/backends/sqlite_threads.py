"""SQLite connections kept one per thread, which `close` closes only once idle.

Work on a pool thread outlives the task that awaited it (a cancelled
`asyncio.to_thread` leaves its thread running), so a store closed at shutdown can
meet a statement still running on one of its connections. Closing a connection
under a running statement is a use-after-free in CPython's `sqlite3` module: the
process dies of a segmentation fault. Each connection therefore has a lock held
for the length of every use, and `close` takes it before closing; a use after
`close` raises `sqlite3.ProgrammingError`, an `sqlite3.Error` like any other.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class _Slot:
    conn: sqlite3.Connection
    lock: threading.Lock = field(default_factory=threading.Lock)
    closed: bool = False


class ThreadConnections:
    """This thread's connection, opened on first use, closed by `close` when idle."""

    def __init__(self, connect: Callable[[], sqlite3.Connection]) -> None:
        self._connect = connect
        self._local = threading.local()
        self._slots: list[_Slot] = []
        self._lock = threading.Lock()
        self._closed = False

    @contextmanager
    def use(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection, which no `close` touches until the block ends."""
        slot: _Slot | None = getattr(self._local, "slot", None)
        if slot is None:
            with self._lock:
                if self._closed:
                    raise sqlite3.ProgrammingError("the store is closed")
                slot = _Slot(self._connect())
                self._slots.append(slot)
            self._local.slot = slot
        with slot.lock:
            if slot.closed:
                raise sqlite3.ProgrammingError("the store is closed")
            yield slot.conn

    def close(self) -> None:
        """Close every connection, each once the statement running on it (if any) ends
        (blocking: call it from a thread)."""
        with self._lock:
            self._closed = True
            slots, self._slots = self._slots, []
        for slot in slots:
            with slot.lock:
                slot.closed = True
                slot.conn.close()
