"""Charges of one request running side by side (aliased behaviour reads) add up."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from analytics_gateway.backends.buckets import MemoryBuckets
from analytics_gateway.backends.sqlite_config import SQLiteConfigStore
from analytics_gateway.errors import QueryTooComplex, RateLimited
from analytics_gateway.query_cost import QueryCost, charge_events, costing
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
