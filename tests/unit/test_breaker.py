"""The circuit breaker's states, with time moved by hand."""

from __future__ import annotations

import asyncio

import pytest

from analytics_gateway.backends.breaker import CircuitBreaker
from analytics_gateway.errors import BackendUnavailable


async def outcome(breaker: CircuitBreaker, fails: bool) -> str:
    try:
        async with breaker.call():
            if fails:
                raise BackendUnavailable("timed out", backend="influxdb")
    except BackendUnavailable as exc:
        return "refused" if "not asked again" in exc.message else "failed"
    return "ok"


async def test_opens_after_failures_in_a_row_and_backs_off_on_failed_trials() -> None:
    now = [0.0]
    breaker = CircuitBreaker("influxdb", failures_to_open=3, clock=lambda: now[0])
    assert [await outcome(breaker, True) for _ in range(2)] == ["failed", "failed"]
    assert await outcome(breaker, False) == "ok"  # a success resets the count
    assert [await outcome(breaker, True) for _ in range(3)] == ["failed"] * 3
    assert breaker.is_open
    assert await outcome(breaker, False) == "refused"
    now[0] = 1.0
    assert await outcome(breaker, True) == "failed"  # the trial, failed: 2 s now
    now[0] = 2.5
    assert await outcome(breaker, False) == "refused"
    now[0] = 3.0
    assert await outcome(breaker, False) == "ok"
    assert not breaker.is_open


async def test_one_trial_at_a_time_and_a_cancelled_trial_gives_no_verdict() -> None:
    now = [0.0]
    breaker = CircuitBreaker("influxdb", failures_to_open=1, clock=lambda: now[0])
    assert await outcome(breaker, True) == "failed"
    now[0] = 5.0
    entered = asyncio.Event()

    async def slow_trial() -> None:
        async with breaker.call():
            entered.set()
            await asyncio.sleep(3600)

    trial = asyncio.create_task(slow_trial())
    await entered.wait()
    assert await outcome(breaker, False) == "refused"  # the trial is out
    trial.cancel()
    with pytest.raises(asyncio.CancelledError):
        await trial
    assert breaker.is_open
    assert await outcome(breaker, False) == "ok"  # a new trial may go
