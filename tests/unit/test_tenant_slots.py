"""Tenant slots: N at once per tenant, the rest wait in line, a line too long is refused."""

from __future__ import annotations

import asyncio

import pytest

from analytics_gateway.errors import RateLimited
from analytics_gateway.tenant_slots import TenantSlots


async def _two(tenant: str) -> int:
    return 2


async def test_a_tenant_holds_at_most_its_slots_and_others_are_not_held() -> None:
    slots = TenantSlots(_two, "requests", max_waiting=1)
    release = asyncio.Event()
    running: list[str] = []

    async def hold(tenant: str, name: str) -> None:
        async with slots.slot(tenant):
            running.append(name)
            await release.wait()

    first = [asyncio.create_task(hold("a", f"a{i}")) for i in range(4)]
    for _ in range(10):  # each task takes its place in line
        await asyncio.sleep(0)
    assert slots.in_use("a") == 4
    assert running == ["a0", "a1"]  # two run, two wait in line
    with pytest.raises(RateLimited) as refused:  # 2 running + 2 waiting is the most
        async with slots.slot("a"):
            pass
    assert refused.value.extensions["retryAfter"] == 1

    async with slots.slot("b"):  # the neighbour does not wait
        assert slots.in_use("b") == 1
    release.set()
    await asyncio.gather(*first)
    assert running == ["a0", "a1", "a2", "a3"]  # first come, first served
    assert slots.in_use("a") == 0


async def test_without_a_line_limit_every_caller_waits_its_turn() -> None:
    slots = TenantSlots(_two, "ML jobs")
    order: list[int] = []

    async def job(i: int) -> None:
        async with slots.slot("a"):
            order.append(i)
            await asyncio.sleep(0)

    await asyncio.gather(*(job(i) for i in range(50)))
    assert order == list(range(50))
