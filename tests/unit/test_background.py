"""Background tasks stop when asked, even through clients that swallow a cancel."""

from __future__ import annotations

import asyncio
import contextlib

from analytics_gateway.background import BackgroundTask, on_wake_or_tick, stop_task
from analytics_gateway.errors import BackendUnavailable


async def test_a_cancel_swallowed_once_is_asked_again() -> None:
    swallowed = 0

    async def stubborn_once() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if swallowed:
                    raise
                swallowed += 1  # as a client that turns a cancel into its own error

    task = BackgroundTask(stubborn_once, "stubborn")
    task.start()
    await asyncio.sleep(0)
    await asyncio.wait_for(task.stop(), 30)
    assert swallowed == 1


async def test_a_task_that_never_stops_is_left_after_the_grace() -> None:
    async def never() -> None:
        while True:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(3600)

    task = asyncio.create_task(never())
    await asyncio.sleep(0)
    await asyncio.wait_for(stop_task(task, grace_seconds=1.0), 30)  # returns, does not hang
    assert not task.done()
    task.get_coro().close()  # the test's own clean-up


async def test_a_tick_loop_whose_cancel_became_a_store_error_stops() -> None:
    """A store client caught the cancel and raised its own error: before, the loop
    logged it as a store failure and went on, and the shutdown waited forever."""

    async def work() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            raise BackendUnavailable("connection closed", backend="redis") from None

    loop = asyncio.create_task(on_wake_or_tick(asyncio.Event(), 0.01, work, "round failed"))
    await asyncio.sleep(0.05)
    loop.cancel()
    done, _ = await asyncio.wait([loop], timeout=30)
    assert done
    assert loop.cancelled()


async def test_a_tick_loop_whose_cancel_was_swallowed_stops_at_its_next_turn() -> None:
    """A cancel lost on the way (on Python 3.11 `wait_for` can lose one that lands as
    its inner wait ends) left the alert scheduler running and the shutdown waiting
    for it: the loop now checks for a pending cancel at every turn."""

    async def work() -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(3600)

    loop = asyncio.create_task(on_wake_or_tick(asyncio.Event(), 0.01, work, "round failed"))
    await asyncio.sleep(0.05)
    loop.cancel()
    done, _ = await asyncio.wait([loop], timeout=30)
    assert done
    assert loop.cancelled()
