"""The first ML job of a process starts the worker pool (a forkserver that imports
the ML stack, then its workers): seconds during which the gateway must go on
answering. Before, the pool was started on the event loop and `/healthz` waited
6.7 s behind it in the isolation benchmark."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import httpx

from analytics_gateway.auth import create_key, parse_scopes
from analytics_gateway.backends.factory import build_config_store
from analytics_gateway.config import Settings
from analytics_gateway.ingest import now_ms
from tests.servers import GatewayProcess

DETECT = '{ detectAnomalies(metrics: ["load"], window: "2h") { points } }'
# Far above a busy machine's hiccups, far below what starting the pool takes.
LOOP_STALL_S = 1.0


def _wait_ready(process: GatewayProcess) -> None:
    deadline = time.monotonic() + 120  # the ML warm-up of a new process, on a busy machine
    while httpx.get(process.url + "/readyz", timeout=5).status_code != 200:
        assert time.monotonic() < deadline, "the gateway never became ready"
        time.sleep(0.2)


async def _key(data_dir: Path) -> str:
    config = build_config_store(Settings.from_env({}, data_dir=data_dir))
    _, key = await create_key(config, "acme", parse_scopes("ingest,read"))
    await config.close()
    return key


def test_starting_the_ml_pool_does_not_hold_the_event_loop(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    key = asyncio.run(_key(data_dir))
    process = GatewayProcess(data_dir, {"ANALYTICS_JSON_LOGS": "false"})
    process.start()
    try:
        _wait_ready(process)
        headers = {"Authorization": f"Bearer {key}"}
        end = now_ms() - 60_000
        body = "\n".join(f"load value={50 + i % 7} {end - i * 30_000}" for i in range(200))
        written = httpx.post(
            process.url + "/write?precision=ms", content=body, headers=headers, timeout=30
        )
        assert written.status_code == 204, written.text

        answer: dict[str, object] = {}

        def detect() -> None:
            started = time.monotonic()
            response = httpx.post(
                process.url + "/graphql", json={"query": DETECT}, headers=headers, timeout=120
            )
            answer.update(body=response.json(), seconds=time.monotonic() - started)

        detection = threading.Thread(target=detect)
        detection.start()
        worst = 0.0
        while detection.is_alive():
            sent = time.monotonic()
            assert httpx.get(process.url + "/healthz", timeout=60).status_code == 200
            worst = max(worst, time.monotonic() - sent)
            time.sleep(0.02)
        detection.join()
        assert "errors" not in answer["body"], answer  # type: ignore[operator]
        assert worst < LOOP_STALL_S, (
            f"/healthz waited {worst:.2f} s while the first detection "
            f"({answer['seconds']:.2f} s) started the ML pool"
        )
    finally:
        process.stop()
