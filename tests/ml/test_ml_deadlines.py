"""A request's deadline stops its ML work, and one tenant's jobs cannot hold another's.

Before, `detectAnomalies` on 100k points with `window_size: 512, max_train: 20000`
got its 504 at 30 s, and the process went on at ~170% CPU for ~100 s more, in a
thread pool every tenant's ML shared. Now the job runs in a worker process
that is terminated when the request gives up, and each tenant has its own
slots.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from prometheus_client import CollectorRegistry

from analytics_gateway.app import Gateway, create_app
from analytics_gateway.ingest import now_ms
from tests.conftest import GraphQLClient, asgi_transport, make_settings, new_key, started

HEAVY = """query {
  detectAnomalies(metrics: ["load"], window: "2d", detector: "timeseries",
                  parameters: {window_size: 512, max_train: 20000}) { points count }
}"""
LIGHT = """query {
  detectAnomalies(metrics: ["load"], window: "2h") { points }
}"""
DEADLINE_S = 120.0


async def _ingest(gql: GraphQLClient, points: int, step_ms: int) -> None:
    end = now_ms() - 60_000
    rng = np.random.default_rng(3)
    values = rng.normal(50, 5, points)
    lines = [f"load value={v:.3f} {end - (points - i) * step_ms}" for i, v in enumerate(values)]
    headers = {"Authorization": f"Bearer {gql.key}"}
    for start in range(0, points, 50_000):  # the batch limit
        body = "\n".join(lines[start : start + 50_000])
        response = await gql.http.post("/write?precision=ms", content=body, headers=headers)
        assert response.status_code == 204, response.text


async def _until(condition: Any, what: str) -> None:
    loop = asyncio.get_running_loop()
    give_up = loop.time() + DEADLINE_S
    while not condition():
        assert loop.time() < give_up, f"not within {DEADLINE_S}s: {what}"
        await asyncio.sleep(0.05)


async def test_a_timed_out_detection_is_stopped_and_another_tenant_is_served(
    tmp_path: Path,
) -> None:
    settings = make_settings(
        tmp_path / "data",
        request_timeout_seconds=3.0,
        backend_timeout_seconds=2.0,
        quotas="point_burst=200000",  # the history is seeded in one go
    )
    heavy_key = await new_key(settings, "heavy")
    light_key = await new_key(settings, "light")
    async with started(create_app(settings, registry=CollectorRegistry())) as app:
        gateway: Gateway = app.state.gateway
        workers = gateway.services.ml.workers
        async with httpx.AsyncClient(
            transport=asgi_transport(app), base_url="http://gateway", timeout=DEADLINE_S
        ) as http:
            heavy = GraphQLClient(http, heavy_key)
            light = GraphQLClient(http, light_key)
            await _ingest(heavy, 100_000, 1_000)
            await _ingest(light, 200, 30_000)

            timed_out = await heavy.post(HEAVY)
            assert timed_out.status_code == 504, timed_out.text
            assert timed_out.json()["errors"][0]["extensions"]["code"] == "REQUEST_TIMEOUT"
            # the work stopped with the request: its worker was terminated
            await _until(lambda: workers.stopped_jobs == 1, "the heavy job was stopped")

            served = await light.execute(LIGHT)
            assert "errors" not in served, served
            assert served["data"]["detectAnomalies"][0]["points"] > 0


async def test_one_tenants_jobs_wait_for_its_own_slots_only(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", ml_workers=2, quotas="ml_jobs=1")
    async with started(create_app(settings, registry=CollectorRegistry())) as app:
        gateway: Gateway = app.state.gateway
        workers = gateway.services.ml.workers
        release = asyncio.Event()

        async def holds_a_slot(tenant: str) -> str:
            return await workers.run(tenant, _sleep_then, 600.0, tenant)

        busy = asyncio.create_task(holds_a_slot("busy"))
        queued = asyncio.create_task(holds_a_slot("busy"))  # the same tenant: it waits
        try:
            other = await asyncio.wait_for(workers.run("other", _sleep_then, 0.0, "ok"), 60)
            assert other == "ok"  # served while "busy" holds its slot and queues a second job
            assert not busy.done()
            assert not queued.done()
        finally:
            release.set()
            for task in (busy, queued):
                task.cancel()
            await asyncio.gather(busy, queued, return_exceptions=True)
        await _until(lambda: workers.stopped_jobs >= 1, "the cancelled job was stopped")


def _sleep_then(seconds: float, answer: str) -> str:
    """Runs in a worker process."""
    import time

    time.sleep(seconds)
    return answer
