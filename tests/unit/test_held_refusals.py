"""An HTTP refusal for a tenant's rate is answered once the tenant's wait is over (at
most `HOLD_REFUSAL_SECONDS`): a client that sends its next request when answered,
ignoring Retry-After, then sends one per wait on each connection. Past
`MAX_HELD_REFUSALS` held for a tenant, answers go at once."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from analytics_gateway import quotas as quotas_module
from analytics_gateway.backends.sqlite_config import SQLiteConfigStore
from analytics_gateway.errors import GatewayError, RateLimited, Unauthenticated
from analytics_gateway.quotas import Quotas, TenantQuotas

DEADLINE = 30.0


async def refusal(quotas: Quotas, tenant: str) -> RateLimited:
    """The tenant's first refusal for its request rate (burst 1, then one per 100 s)."""
    await quotas.admit_request(tenant)
    with pytest.raises(RateLimited) as refused:
        await quotas.admit_request(tenant)
    return refused.value


async def test_a_refusal_is_held_for_the_wait_then_says_what_is_left(tmp_path: Path) -> None:
    config = SQLiteConfigStore(tmp_path / "config.sqlite3")
    try:
        quotas = Quotas(TenantQuotas(requests_per_second=0.01, request_burst=1), config)
        refused = await refusal(quotas, "acme")
        assert refused.extensions["retryAfter"] == 100
        started = time.monotonic()
        answer = await asyncio.wait_for(quotas.hold_refusal(refused), DEADLINE)
        assert time.monotonic() - started >= quotas_module.HOLD_REFUSAL_SECONDS
        assert isinstance(answer, RateLimited)
        assert answer.extensions["retryAfter"] in (98, 99)  # 100 s less the second held
        assert f"retry in {answer.extensions['retryAfter']} s" in answer.message
        assert quotas.held_refusals("acme") == 0

        # a wait shorter than the hold: held for the wait, then Retry-After says 1
        short = Quotas(TenantQuotas(requests_per_second=4, request_burst=1), config)
        refused = await refusal(short, "acme")
        started = time.monotonic()
        answer = await asyncio.wait_for(short.hold_refusal(refused), DEADLINE)
        assert time.monotonic() - started >= 0.2  # what was left of a quarter second
        assert answer.extensions["retryAfter"] == 1
    finally:
        await config.close()


async def test_past_the_cap_and_for_other_errors_the_answer_goes_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(quotas_module, "MAX_HELD_REFUSALS", 2)
    config = SQLiteConfigStore(tmp_path / "config.sqlite3")
    try:
        quotas = Quotas(TenantQuotas(requests_per_second=0.01, request_burst=1), config)
        refused, neighbours = await refusal(quotas, "acme"), await refusal(quotas, "other")
        held = [asyncio.create_task(quotas.hold_refusal(refused)) for _ in range(2)]
        await asyncio.sleep(0)
        assert quotas.held_refusals("acme") == 2
        # the third of acme's, at once and as it was; the neighbour's is held (its own cap)
        assert await asyncio.wait_for(quotas.hold_refusal(refused), DEADLINE) is refused
        neighbour = asyncio.create_task(quotas.hold_refusal(neighbours))
        await asyncio.sleep(0)
        assert quotas.held_refusals("other") == 1
        assert not any(task.done() for task in held)
        unauthenticated: GatewayError = Unauthenticated("no key")
        assert await quotas.hold_refusal(unauthenticated) is unauthenticated
        slots = RateLimited("too many requests waiting", retryAfter=1)  # not a rate's
        assert await quotas.hold_refusal(slots) is slots
        await asyncio.wait_for(asyncio.gather(*held, neighbour), DEADLINE)
        assert quotas.held_refusals("acme") == quotas.held_refusals("other") == 0
    finally:
        await config.close()
