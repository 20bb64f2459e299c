"""Live fan-out through a real redis-server across gateway processes."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from analytics_gateway.auth import create_key, parse_scopes
from analytics_gateway.backends.sqlite_config import SQLiteConfigStore
from tests.graphql_ws import GraphQLWS
from tests.servers import GatewayProcess, RedisServer

SUBSCRIBE = """subscription($labels: JSON) {
  metricPoints(name: "plays", labels: $labels) { name labels value timestamp }
}"""


@pytest.fixture
def shared_config(tmp_path: Path) -> Path:
    return tmp_path / "shared" / "config.sqlite3"


@pytest.fixture
def pair(
    tmp_path: Path, redis: RedisServer, shared_config: Path
) -> Iterator[tuple[GatewayProcess, GatewayProcess]]:
    env = {
        "ANALYTICS_BROKER_URL": redis.url,
        "ANALYTICS_CONFIG_URL": f"sqlite:///{shared_config}",
        "ANALYTICS_JSON_LOGS": "false",
    }
    a = GatewayProcess(tmp_path / "a", env)
    b = GatewayProcess(tmp_path / "b", env)
    a.start()
    b.start()
    try:
        yield a, b
    finally:
        a.stop()
        b.stop()


async def _key(config: Path) -> str:
    _, key = await create_key(SQLiteConfigStore(config), "acme", parse_scopes("ingest,read,write"))
    return key


async def _ingest(url: str, key: str, value: float, labels: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.post(
            url + "/analytics/metrics",
            json=[{"name": "plays", "value": value, "labels": labels}],
            headers={"Authorization": f"Bearer {key}"},
        )


async def _subscribe(gateway: GatewayProcess, key: str, labels: dict[str, str]) -> GraphQLWS:
    ws = await GraphQLWS.open(
        f"ws://127.0.0.1:{gateway.port}/graphql", {"Authorization": f"Bearer {key}"}
    )
    await ws.ack()
    await ws.subscribe(SUBSCRIBE, {"labels": labels})
    await asyncio.sleep(0.3)  # let the subscription reach Redis
    return ws


async def _until_received(ws: GraphQLWS, publish: Any, deadline_s: float = 15.0) -> dict[str, Any]:
    """Publish repeatedly until the subscriber sees a point (a reconnect takes a moment)."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        await publish()
        try:
            return await ws.next_data(timeout=0.5)
        except TimeoutError:
            continue
    raise AssertionError(f"no point arrived within {deadline_s}s")


async def _warm_up(ws: GraphQLWS, url: str, key: str, labels: dict[str, str]) -> None:
    """Publish until the subscription is live across processes, then drain the extras."""

    async def publish() -> None:
        await _ingest(url, key, -1.0, {**labels, "warmup": "1"})

    await _until_received(ws, publish)
    with contextlib.suppress(TimeoutError):
        while True:
            await ws.next_data(timeout=0.5)


async def test_point_ingested_in_a_reaches_subscriber_on_b(
    pair: tuple[GatewayProcess, GatewayProcess], shared_config: Path
) -> None:
    a, b = pair
    key = await _key(shared_config)
    ws = await _subscribe(b, key, {"country": "DE"})
    try:
        await _warm_up(ws, a.url, key, {"country": "DE"})
        response = await _ingest(a.url, key, 7.0, {"country": "FR"})  # filtered out by labels
        assert response.status_code == 200, response.text
        response = await _ingest(a.url, key, 42.0, {"country": "DE"})
        assert response.status_code == 200, response.text
        message = await ws.next_data()
        point = message["payload"]["data"]["metricPoints"]
        assert point["value"] == 42.0
        assert point["labels"] == {"country": "DE"}
        with pytest.raises(TimeoutError):
            await ws.next_data(timeout=0.5)
    finally:
        await ws.close()


async def test_subscriptions_carry_on_after_redis_restart(
    pair: tuple[GatewayProcess, GatewayProcess], redis: RedisServer, shared_config: Path
) -> None:
    a, b = pair
    key = await _key(shared_config)
    ws = await _subscribe(b, key, {})
    try:
        await _warm_up(ws, a.url, key, {})
        await _ingest(a.url, key, 1.0, {})
        assert (await ws.next_data())["payload"]["data"]["metricPoints"]["value"] == 1.0

        redis.stop()
        # the write is acknowledged and stored even though live fan-out is down
        response = await _ingest(a.url, key, 2.0, {})
        assert response.status_code == 200, response.text
        async with httpx.AsyncClient() as http:
            stored = await http.get(
                f"{a.url}/analytics/metrics/acme",
                params={"name": "plays", "last": "1h"},
                headers={"Authorization": f"Bearer {key}"},
            )
        [plain] = [s for s in stored.json()["series"] if s["labels"] == {}]
        assert plain["data"]["v"] == [1.0, 2.0]
        redis.start()

        async def publish() -> None:
            await _ingest(a.url, key, 3.0, {})

        message = await _until_received(ws, publish)
        assert message["payload"]["data"]["metricPoints"]["value"] == 3.0
    finally:
        await ws.close()
