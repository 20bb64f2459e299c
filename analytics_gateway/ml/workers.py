"""Heavy ML work in worker processes that a deadline can stop, shared fairly by tenants.

Fits, walk-forward detection and forecasts are CPU work from seconds to
minutes. In threads they could not be stopped: a request that timed out at
30 s left its detection running for 100 s more, in a pool every tenant
shared. Here each job runs in a process of a `pebble.ProcessPool`: when the
request waiting for it is cancelled (its deadline, the client gone), the job
is cancelled too and pebble terminates the process running it and starts a
fresh one; a job past `max_seconds` is stopped the same way. Each tenant may
run as many jobs at once as its `ml_jobs` quota allows and waits for a slot beyond that, so one
tenant's trainings cannot hold every worker while another's detection waits.

Workers are forked from a `forkserver` that has imported the ML stack and
compiled its numba kernels once (`ml.preload`): a new worker costs a fork,
not seconds of imports and compilation.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import multiprocessing
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pebble

from analytics_gateway.errors import BackendUnavailable, QueryTooComplex
from analytics_gateway.tenant_slots import TenantSlots

log = logging.getLogger(__name__)

T = TypeVar("T")

_CONTEXT = multiprocessing.get_context("forkserver")
PRELOAD = ["analytics_gateway.ml.preload"]


JobsAllowed = Callable[[str], Awaitable[int]]
"""tenant -> how many of its jobs may run at once (its `ml_jobs` quota)."""


async def _one_job(tenant: str) -> int:
    return 1


def _nothing() -> None:
    """The job `prestart` runs: proof that a worker is up."""


class MlWorkers:
    def __init__(
        self, processes: int, max_seconds: float, jobs_allowed: JobsAllowed = _one_job
    ) -> None:
        self._processes = processes
        self._max_seconds = max_seconds
        self._pool: pebble.ProcessPool | None = None
        self._pool_lock = threading.Lock()
        self._stopped = False  # no pool is made after `stop` (a late prestart thread)
        self._slots = TenantSlots(jobs_allowed, "ML jobs")
        self.stopped_jobs = 0

    def _schedule(self, function: Callable[..., T], args: Any, kwargs: Any) -> Any:
        """Hand a job to the pool, made on first use: a gateway that runs no ML forks
        nothing. Called in a thread: the first call starts the forkserver and waits for
        its workers, seconds during which the event loop must go on serving."""
        with self._pool_lock:
            if self._stopped:
                raise BackendUnavailable("the ML workers are stopped", backend="ml")
            if self._pool is None:
                _CONTEXT.set_forkserver_preload(PRELOAD)  # used when the forkserver starts
                self._pool = pebble.ProcessPool(max_workers=self._processes, context=_CONTEXT)
            return self._pool.schedule(
                function, args=args, kwargs=kwargs, timeout=self._max_seconds
            )

    async def run(self, tenant: str, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`function(*args, **kwargs)` in a worker; cancelling the caller stops the job."""
        async with self._slots.slot(tenant):
            scheduling = asyncio.ensure_future(
                asyncio.to_thread(self._schedule, function, args, kwargs)
            )
            try:
                future = await asyncio.shield(scheduling)
            except asyncio.CancelledError:
                scheduling.add_done_callback(self._cancel_scheduled)  # once in the pool
                raise
            try:
                return await asyncio.wrap_future(future)
            except asyncio.CancelledError:
                cancel: Callable[[], bool] = future.cancel  # pebble's is not annotated
                if cancel():  # pebble terminates the process running it
                    self.stopped_jobs += 1
                raise
            except concurrent.futures.TimeoutError:
                self.stopped_jobs += 1
                raise QueryTooComplex(
                    f"the computation did not finish within {self._max_seconds:g} s and was "
                    "stopped; use fewer points (a shorter range or a coarser step)"
                ) from None
            except pebble.ProcessExpired as exc:
                raise BackendUnavailable(
                    f"an ML worker died ({exc}); the job was not finished", backend="ml"
                ) from exc

    def _cancel_scheduled(self, scheduling: asyncio.Future[Any]) -> None:
        """A job whose caller gave up while it was being scheduled is stopped too."""
        scheduled = not scheduling.cancelled() and scheduling.exception() is None
        if scheduled and scheduling.result().cancel():
            self.stopped_jobs += 1

    def _take_pool(self) -> pebble.ProcessPool | None:
        with self._pool_lock:  # waits for a pool being started: in a thread
            pool, self._pool = self._pool, None
            self._stopped = True
        return pool

    def prestart(self) -> None:
        """Start the pool and wait until a worker has run a job (in a thread: seconds)."""
        self._schedule(_nothing, (), {}).result(timeout=self._max_seconds)

    async def stop(self) -> None:
        pool = await asyncio.to_thread(self._take_pool)
        if pool is not None:
            stop: Callable[[], None] = pool.stop  # not annotated in pebble
            stop()
            await asyncio.to_thread(pool.join, 10)
