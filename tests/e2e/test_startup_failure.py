"""A gateway whose last service fails to start leaves nothing behind: no task, socket or server.

The gateway runs on Redis (config, cache, broker, ingest buffer) so that start-up
opens real connections, and in demo mode, whose seeding is the last step of
start-up; the seeding is made to fail. Every service started before it must be
stopped again: Redis sees no client of ours, the process holds no more sockets
than before, no asyncio task is left, and uvicorn exits without listening.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from pathlib import Path

import pytest
import redis.asyncio as aioredis
import uvicorn
from prometheus_client import CollectorRegistry

from analytics_gateway.app import create_app
from analytics_gateway.config import Settings
from analytics_gateway.demo import Demo
from tests.conftest import make_settings
from tests.servers import RedisServer, free_port


class SeedingFailed(RuntimeError):
    pass


async def _fail(self: Demo) -> None:
    raise SeedingFailed("the demo data could not be seeded")


@pytest.fixture
def failing_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Demo, "seed", _fail)


def _settings(tmp_path: Path, redis: RedisServer) -> Settings:
    base = redis.url.rsplit("/", 1)[0]
    return make_settings(
        tmp_path / "data",
        demo=True,
        config_url=f"{base}/0",
        cache_url=f"{base}/1",
        broker_url=f"{base}/2",
        ingest_buffer_url=f"{base}/3",
    )


def _sockets() -> int:
    """Sockets this process holds open."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                count += 1
    return count


async def _redis_clients(redis: RedisServer) -> int:
    """Clients connected to the server, not counting the one asking."""
    probe = aioredis.Redis.from_url(redis.url)
    try:
        clients = await probe.client_list()
    finally:
        await probe.aclose()
    return len(clients) - 1


def _other_tasks() -> set[asyncio.Task[object]]:
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}


@pytest.mark.usefixtures("failing_demo")
async def test_a_failed_start_stops_everything_that_had_started(
    tmp_path: Path, redis: RedisServer
) -> None:
    settings = _settings(tmp_path, redis)
    sockets, tasks = _sockets(), _other_tasks()
    app = create_app(settings, registry=CollectorRegistry())

    with pytest.raises(SeedingFailed):
        async with app.router.lifespan_context(app):
            pytest.fail("the lifespan must not start")

    assert await _redis_clients(redis) == 0
    assert _sockets() == sockets
    assert _other_tasks() - tasks == set()
    with pytest.raises(RuntimeError, match="not started"):
        _ = app.state.gateway.services


@pytest.mark.usefixtures("failing_demo")
async def test_uvicorn_exits_without_listening(tmp_path: Path, redis: RedisServer) -> None:
    port = free_port()
    config = uvicorn.Config(
        create_app(_settings(tmp_path, redis), registry=CollectorRegistry()),
        host="127.0.0.1",
        port=port,
        log_config=None,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    # uvicorn's "startup failed" exit, raised in this task (not a task of its own, whose
    # SystemExit would stop the event loop instead)
    with pytest.raises(SystemExit) as exited:
        async with asyncio.timeout(120):
            await server.serve()

    assert exited.value.code == 3
    assert not server.started
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), 5):
        pass
    assert await _redis_clients(redis) == 0
