"""Creates of one key run one at a time; other keys do not wait; nothing is left behind."""

from __future__ import annotations

import asyncio

from analytics_gateway.keyed_locks import KeyedLocks


async def test_one_key_at_a_time_other_keys_free_and_nothing_left_behind() -> None:
    locks = KeyedLocks()
    inside: dict[str, int] = {"a": 0, "b": 0}
    most: dict[str, int] = {"a": 0, "b": 0}
    b_done = asyncio.Event()

    async def work(key: str) -> None:
        async with locks.hold(key):
            inside[key] += 1
            most[key] = max(most[key], inside[key])
            if key == "a":
                await asyncio.wait_for(b_done.wait(), 30)  # "b" finishes while "a" is held
            await asyncio.sleep(0)
            inside[key] -= 1
        if key == "b":
            b_done.set()

    await asyncio.gather(*(work("a") for _ in range(3)), *(work("b") for _ in range(3)))
    assert most == {"a": 1, "b": 1}
    assert len(locks) == 0
