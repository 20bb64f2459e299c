"""The client package (client/src) on the import path, and clients of a live gateway.

Each test gets the gateway of `tests/conftest.py` (`app` served by uvicorn on a
free loopback port: `base`) whose channels may reach loopback receivers, and
clients of it over real HTTP and WebSocket connections.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

CLIENT_SRC = Path(__file__).resolve().parents[2] / "client" / "src"
if str(CLIENT_SRC) not in sys.path:
    sys.path.insert(0, str(CLIENT_SRC))

from analytics_gateway_client import AnalyticsClient  # noqa: E402

from analytics_gateway.config import Settings  # noqa: E402
from tests.conftest import MakeKey, make_settings  # noqa: E402

LOOPBACK = "127.0.0.1/32"
ALL_SCOPES = "ingest,read,write,admin"

MakeClient = Callable[..., Awaitable[AnalyticsClient]]
"""`make_client(tenant, scopes=ALL_SCOPES)`: a new client (the test closes it)."""


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The suite's settings, with channels allowed to reach loopback receivers."""
    return make_settings(tmp_path / "data", egress_allow=LOOPBACK)


@pytest.fixture
def url(base: str) -> str:
    return f"http://{base}"


@pytest.fixture
async def acme(url: str, make_key: MakeKey) -> AsyncIterator[AnalyticsClient]:
    """A client of tenant `acme` with every scope."""
    async with AnalyticsClient(url, api_key=await make_key("acme", ALL_SCOPES)) as client:
        yield client


@pytest.fixture
def make_client(url: str, make_key: MakeKey) -> MakeClient:

    async def make(tenant: str, scopes: str = ALL_SCOPES) -> AnalyticsClient:
        return AnalyticsClient(url, api_key=await make_key(tenant, scopes))

    return make
