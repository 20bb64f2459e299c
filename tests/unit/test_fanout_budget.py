"""The fan-out budget: live subscriptions take at most their share of the event loop."""

from __future__ import annotations

import asyncio

import pytest

from analytics_gateway.subscriptions.budget import FanoutBudget


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_a_consumer_over_its_share_waits_for_the_refill() -> None:
    clock = FakeTime()
    budget = FanoutBudget(0.5, burst_seconds=0.25, clock=clock)
    reserved = await budget.acquire()  # a full bucket: no wait
    assert budget.waited_seconds == 0
    budget.charge(1.25, reserved)  # one message took 1.25 s of loop: 1 s in debt
    sleeping = asyncio.create_task(budget.acquire())
    await asyncio.sleep(0)
    assert budget.waited_seconds == pytest.approx(2.001)  # debt / share
    clock.now += 2.001
    await asyncio.wait_for(sleeping, 10)


async def test_the_bucket_never_holds_more_than_its_burst() -> None:
    clock = FakeTime()
    budget = FanoutBudget(0.5, burst_seconds=0.25, clock=clock)
    clock.now += 3600  # an idle hour does not bank an hour of fan-out
    budget.charge(0.3)
    waiting = asyncio.create_task(budget.acquire())
    await asyncio.sleep(0)
    assert budget.waited_seconds == pytest.approx(0.05 / 0.5 + 0.001)
    clock.now += 1
    await asyncio.wait_for(waiting, 10)


def test_the_share_is_a_fraction_of_the_loop() -> None:
    for share in (0, -1, 1.5):
        with pytest.raises(ValueError, match="share"):
            FanoutBudget(share)


async def test_consumers_woken_together_do_not_all_pass_one_refill() -> None:
    """Each consumer let through reserves a typical message's cost, so a refill worth
    ten messages lets about ten through, however many were waiting."""
    clock = FakeTime()
    budget = FanoutBudget(0.5, burst_seconds=0.001, clock=clock)
    for _ in range(50):  # messages have cost 100 us each
        clock.now += 1
        budget.charge(0.0001, await budget.acquire())
    clock.now += 1  # refilled to the burst: 1 ms, ten messages
    waiters = [asyncio.create_task(budget.acquire()) for _ in range(100)]
    await asyncio.sleep(0)
    passed = sum(task.done() for task in waiters)
    assert 9 <= passed <= 11
    for task in waiters:
        task.cancel()
    await asyncio.gather(*waiters, return_exceptions=True)
