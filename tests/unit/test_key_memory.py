"""What `KeyMemory` lets through while the store is down, and for how long.

The real-store behaviour (a frozen redis-server) is in
tests/faults/test_config_store_blip.py; here a store that fails on demand
moves time by hand.
"""

from __future__ import annotations

import asyncio

import pytest

from analytics_gateway.domain import ApiKeyRecord, Scope
from analytics_gateway.errors import BackendUnavailable
from analytics_gateway.key_memory import KeyMemory

RECORD = ApiKeyRecord("k1", "acme", frozenset({Scope.READ}), 0)


class Store:
    def __init__(self) -> None:
        self.down = False
        self.records = {"h1": RECORD}
        self.asked = 0
        self.answered = asyncio.Event()

    async def key_by_hash(self, secret_hash: str) -> ApiKeyRecord | None:
        self.asked += 1
        if self.down:
            raise BackendUnavailable("store down", backend="config")
        self.answered.set()
        return self.records.get(secret_hash)


async def test_a_verified_key_passes_for_a_while_then_not() -> None:
    now = [0.0]
    store = Store()
    memory = KeyMemory(store, remember_seconds=60, probe_seconds=3600, clock=lambda: now[0])
    try:
        assert await memory.key_by_hash("h1") == RECORD
        store.down = True
        now[0] = 59.0
        assert await memory.key_by_hash("h1") == RECORD
        asked = store.asked
        assert await memory.key_by_hash("h1") == RECORD
        assert store.asked == asked  # failing: requests do not wait on the store
        with pytest.raises(BackendUnavailable, match="not verified lately"):
            await memory.key_by_hash("h2")
        now[0] = 61.0
        with pytest.raises(BackendUnavailable, match="not verified lately"):
            await memory.key_by_hash("h1")
    finally:
        await memory.close()


async def test_once_the_store_answers_its_word_counts_again() -> None:
    store = Store()
    memory = KeyMemory(store, probe_seconds=0.01)
    try:
        assert await memory.key_by_hash("h1") == RECORD
        store.down = True
        assert await memory.key_by_hash("h1") == RECORD
        assert memory.store_failing
        store.records = {}  # revoked meanwhile (another replica, or a restore)
        store.answered.clear()
        store.down = False
        await asyncio.wait_for(memory.until_store_answers(), 30)
        assert store.answered.is_set()
        assert not memory.store_failing
        assert await memory.key_by_hash("h1") is None
        store.down = True
        with pytest.raises(BackendUnavailable):  # and it is forgotten
            await memory.key_by_hash("h1")
    finally:
        await memory.close()
