"""The config store (Redis) stops answering for a while: keys verified lately still work.

Real redis-server holding the keys, the quotas and the rate-limit buckets; it
is frozen (SIGSTOP) and thawed while the gateway serves, as a blip or a
failover looks from outside.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from prometheus_client import CollectorRegistry

from analytics_gateway.app import create_app
from analytics_gateway.backends.factory import build_config_store
from analytics_gateway.config import Settings
from analytics_gateway.key_memory import KeyMemory
from tests.conftest import asgi_transport, make_settings, new_key, started
from tests.servers import RedisServer

DEADLINE_S = 30.0


def key_id(key: str) -> str:
    return key.split("_")[1]  # agk_<id>_<secret>


@asynccontextmanager
async def client(settings: Settings) -> AsyncIterator[tuple[KeyMemory, httpx.AsyncClient]]:
    app = create_app(settings, registry=CollectorRegistry())
    async with (
        started(app),
        httpx.AsyncClient(transport=asgi_transport(app), base_url="http://gateway") as http,
    ):
        yield app.state.gateway.services.keys, http


async def viewer(http: httpx.AsyncClient, key: str) -> httpx.Response:
    return await http.post(
        "/graphql", json={"query": "{ viewer }"}, headers={"Authorization": f"Bearer {key}"}
    )


async def write(http: httpx.AsyncClient, key: str) -> httpx.Response:
    line = f"blip value=1 {int(time.time() * 1000)}"
    return await http.post(
        "/write?precision=ms", content=line, headers={"Authorization": f"Bearer {key}"}
    )


async def test_keys_verified_lately_pass_while_redis_is_frozen_and_revocations_hold(
    tmp_path: Path, redis: RedisServer
) -> None:
    settings = make_settings(
        tmp_path / "data", config_url=redis.url, cache_url=redis.url, backend_timeout_seconds=1.0
    )
    used, unused, revoked = [await new_key(settings, "acme") for _ in range(3)]
    store = build_config_store(settings)
    try:
        async with client(settings) as (keys, http):
            for key in (used, revoked):
                assert (await viewer(http, key)).json()["data"]["viewer"]
            assert await store.revoke_key(key_id(revoked))
            refused = (await viewer(http, revoked)).json()
            assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

            redis.pause()
            try:
                for _ in range(5):  # the first one finds the store gone; then no waiting
                    started_at = time.perf_counter()
                    answer = await viewer(http, used)
                    took = time.perf_counter() - started_at
                    assert answer.status_code == 200, answer.text
                    assert answer.json()["data"]["viewer"]
                    assert (await write(http, used)).status_code == 204
                assert took < 1.0  # the last one: from memory, not the store's timeout
                assert keys.store_failing
                for key in (unused, revoked):  # never verified, or forgotten when revoked
                    response = await viewer(http, key)
                    assert response.status_code == 503, response.text
                    assert response.json()["errors"][0]["extensions"]["code"] == (
                        "BACKEND_UNAVAILABLE"
                    )
            finally:
                redis.resume()

            # back: the store's word counts again, within the quiet second after a failure
            assert await store.revoke_key(key_id(used))
            deadline = time.monotonic() + DEADLINE_S
            while (await viewer(http, used)).status_code == 200:
                assert time.monotonic() < deadline, "a revoked key still passes"
                await asyncio.sleep(0.05)  # poll, well within the rate limit
            body = (await viewer(http, used)).json()
            assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
            assert (await viewer(http, unused)).json()["data"]["viewer"]
    finally:
        await store.close()
