"""Each config store in turn, with the URL that reaches its raw data."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from analytics_gateway.backends.base import ConfigStore
from analytics_gateway.backends.factory import build_config_store
from tests.conftest import make_settings
from tests.servers import RedisServer


@dataclass
class Store:
    config: ConfigStore
    url: str


@pytest.fixture(params=["sqlite", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        settings = make_settings(tmp_path / "data", config_url="")
    else:
        server: RedisServer = request.getfixturevalue("redis")
        settings = make_settings(tmp_path / "data", config_url=server.url)
    config = build_config_store(settings)
    yield Store(config, settings.resolved_config_url)
    await config.close()
