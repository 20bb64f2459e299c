"""Charges of one request running side by side (aliased behaviour reads) add up."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from analytics_gateway.backends.buckets import MemoryBuckets
from analytics_gateway.backends.sqlite_config import SQLiteConfigStore
from analytics_gateway.errors import QueryTooComplex, RateLimited
from analytics_gateway.query_cost import (
    HEAVY_READ_POINTS,
    QueryCost,
    charge_events,
    costing,
    events_read,
)
from analytics_gateway.quotas import Quotas, TenantQuotas


class AnsweringLater(MemoryBuckets):
    """Memory buckets that answer after a turn of the loop, as Redis buckets do."""

    async def take(self, key: str, rate: float, burst: float, amount: float) -> float:
        await asyncio.sleep(0)
        return await super().take(key, rate, burst, amount)


async def test_concurrent_charges_see_each_other(tmp_path: Path) -> None:
    config = SQLiteConfigStore(str(tmp_path / "config.sqlite3"))
    try:
        quotas = Quotas(TenantQuotas(query_points=100), config, AnsweringLater())
        cost = QueryCost("acme", quotas)

        async def read() -> int:
            return 30

        outcomes = await asyncio.gather(
            *(charge_events("acme", read, cost) for _ in range(4)), return_exceptions=True
        )
        refused = [o for o in outcomes if isinstance(o, BaseException)]
        assert len(refused) == 1
        assert isinstance(refused[0], QueryTooComplex)
        assert cost.points == 90
    finally:
        await config.close()


async def test_a_refused_charge_is_not_counted(tmp_path: Path) -> None:
    config = SQLiteConfigStore(str(tmp_path / "config.sqlite3"))
    try:
        rates = TenantQuotas(query_points_per_second=0.01, query_point_burst=50)
        quotas = Quotas(rates, config, AnsweringLater())
        cost = QueryCost("acme", quotas)
        with costing(cost):
            await charge_events("acme", lambda: asyncio.sleep(0, 40))
            with pytest.raises(RateLimited):
                await charge_events("acme", lambda: asyncio.sleep(0, 40))
            await charge_events("other", lambda: asyncio.sleep(0, 10**9))  # not this request's
        assert cost.points == 40
    finally:
        await config.close()


async def test_heavy_reads_of_one_tenant_take_turns(tmp_path: Path) -> None:
    """A tenant's heavy reads run one at a time (`heavy_reads`=1); its light reads and
    another tenant's heavy read do not wait for them."""
    config = SQLiteConfigStore(str(tmp_path / "config.sqlite3"))
    try:
        quotas = Quotas(TenantQuotas(), config)
        acme, other = QueryCost("acme", quotas), QueryCost("other", quotas)
        first_running = asyncio.Event()
        release = asyncio.Event()
        order: list[str] = []

        async def read(cost: QueryCost, points: int, name: str, hold: bool = False) -> None:
            async with cost.reading(points):
                order.append(name)
                if hold:
                    first_running.set()
                    await release.wait()

        first = asyncio.create_task(read(acme, HEAVY_READ_POINTS, "first", hold=True))
        await first_running.wait()
        second = asyncio.create_task(read(acme, HEAVY_READ_POINTS, "second"))
        await asyncio.sleep(0)
        assert quotas.heavy_reads_of("acme") == 2
        await asyncio.wait_for(read(acme, HEAVY_READ_POINTS - 1, "light"), 10)
        await asyncio.wait_for(read(other, 10 * HEAVY_READ_POINTS, "other"), 10)
        assert not second.done()
        release.set()
        await asyncio.wait_for(asyncio.gather(first, second), 10)
        assert order == ["first", "light", "other", "second"]
        assert quotas.heavy_reads_of("acme") == 0
    finally:
        await config.close()


async def test_a_heavy_behaviour_read_waits_for_the_tenants_heavy_read(tmp_path: Path) -> None:
    """Behaviour reads (`events_read`) take the same turns, by the events they count."""
    config = SQLiteConfigStore(str(tmp_path / "config.sqlite3"))
    try:
        quotas = Quotas(TenantQuotas(), config)
        cost = QueryCost("acme", quotas)
        ran: list[int] = []

        async def behaviour(events: int) -> None:
            with costing(cost):
                async with events_read("acme", lambda: asyncio.sleep(0, events)):
                    ran.append(events)

        async with quotas.reading_heavy("acme"):
            heavy = asyncio.create_task(behaviour(HEAVY_READ_POINTS))
            await asyncio.wait_for(behaviour(HEAVY_READ_POINTS - 1), 10)
            async with asyncio.timeout(10):
                while quotas.heavy_reads_of("acme") < 2:  # the holder, and the heavy read
                    assert not heavy.done()
                    await asyncio.sleep(0)
            assert ran == [HEAVY_READ_POINTS - 1]
        await asyncio.wait_for(heavy, 10)
        assert ran == [HEAVY_READ_POINTS - 1, HEAVY_READ_POINTS]
        assert cost.points == 2 * HEAVY_READ_POINTS - 1
    finally:
        await config.close()
