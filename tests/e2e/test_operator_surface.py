"""What the public sees of the gateway's operation, and what only operators see.

Before: `/metrics` answered anyone and labelled series with GraphQL operation
names (another tenant's `query MegacorpAcquisitionDueDiligence` showed up, and
300 uniquely named requests added 600 series); `/readyz` listed every backend
to anyone; a store outage told clients the store's host, port and driver
message. Now `/metrics` and the detailed readiness are for the operator
listener (`ANALYTICS_ADMIN_PORT`) or, without one, loopback clients; no label
takes a value a client chose; clients get the store's role and a correlation
id, the log gets the rest.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette

from analytics_gateway.app import create_app
from analytics_gateway.config import Settings
from tests.conftest import make_settings, new_key, started, until_ready, with_state
from tests.servers import free_port

PUBLIC_CLIENT = ("203.0.113.9", 40000)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """301 requests in a row from one tenant here: above the default burst, not under test."""
    return make_settings(tmp_path / "data", quotas="request_burst=1000")


@pytest.fixture
async def served(settings: Settings) -> AsyncIterator[Starlette]:
    async with started(create_app(settings, registry=CollectorRegistry())) as app:
        yield app


def _client(app: Starlette, client: tuple[str, int], base: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=with_state(app), client=client)
    return httpx.AsyncClient(transport=transport, base_url=base)


def _series(text: str) -> set[str]:
    return {line.split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")}


async def test_the_public_sees_readiness_and_not_the_metrics(
    served: Starlette, settings: Settings
) -> None:
    key = await new_key(settings)
    async with (
        _client(served, PUBLIC_CLIENT, "http://gateway") as public,
        _client(served, ("127.0.0.1", 40001), "http://gateway") as local,
    ):
        ready = await until_ready(local)
        assert set(ready.json()["checks"]) >= {"metrics", "events", "config"}
        answer = await public.get("/readyz")
        assert answer.status_code == 200
        assert answer.json() == {"status": "ready"}
        assert (await public.get("/metrics")).status_code == 404
        headers = {"Authorization": f"Bearer {key}"}

        async def burst(first: int, count: int) -> None:
            for i in range(first, first + count):
                body = {"query": f"query MegacorpAcquisitionDueDiligence{i} {{ viewer }}"}
                answer = await public.post("/graphql", json=body, headers=headers)
                assert answer.status_code == 200
                await public.get(f"/no/such/page/{i}")
                await public.get(f"/analytics/metrics/tenant-{i}")

        await burst(0, 1)
        await local.get("/metrics")  # the scrape's own series exist from the first one on
        before = _series((await local.get("/metrics")).text)
        await burst(1, 300)
        text = (await local.get("/metrics")).text
        assert "Megacorp" not in text
        assert "/no/such/page" not in text
        assert "tenant-" not in text
        assert _series(text) == before  # 300 unique names and paths add no series
        assert 'gateway_graphql_requests_total{operation_type="query"} 301.0' in text
        assert 'route="other"' in text
        assert 'route="/analytics/metrics/{tenant_id}"' in text


async def test_with_an_operator_listener_only_it_serves_the_operator_routes(
    tmp_path: Path,
) -> None:
    admin_port = free_port()
    settings = make_settings(tmp_path / "data", admin_port=admin_port)
    async with started(create_app(settings, registry=CollectorRegistry())) as app:
        loopback = ("127.0.0.1", 40002)
        async with (
            _client(app, loopback, "http://gateway:8000") as main,
            _client(app, loopback, f"http://gateway:{admin_port}") as operator,
        ):
            assert (await main.get("/metrics")).status_code == 404  # even from loopback
            await until_ready(operator)
            assert "checks" not in (await main.get("/readyz")).json()
            assert "checks" in (await operator.get("/readyz")).json()
            assert "gateway_http_requests_total" in (await operator.get("/metrics")).text


def test_production_needs_the_operator_listener_and_hides_the_explorer(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="ANALYTICS_ADMIN_PORT"):
        Settings.from_env({"ANALYTICS_ENV": "production"}, data_dir=tmp_path)
    production = Settings.from_env(
        {"ANALYTICS_ENV": "production", "ANALYTICS_ADMIN_PORT": "9100"}, data_dir=tmp_path
    )
    assert (production.graphiql, production.introspection) == (False, False)
    explicit = Settings.from_env(
        {"ANALYTICS_ENV": "production", "ANALYTICS_ADMIN_PORT": "9100", "ANALYTICS_GRAPHIQL": "1"},
        data_dir=tmp_path,
    )
    assert explicit.graphiql is True  # what an operator asks for explicitly


async def test_a_store_outage_names_the_store_never_its_address(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dead = free_port()  # nothing listens there
    settings = make_settings(
        tmp_path / "data",
        metrics_url=f"influxdb://127.0.0.1:{dead}/analytics",
        backend_timeout_seconds=2.0,
    )
    key = await new_key(settings)
    caplog.set_level(logging.WARNING, logger="analytics_gateway.errors")
    app = create_app(settings, registry=CollectorRegistry())
    async with started(app), _client(app, PUBLIC_CLIENT, "http://gateway") as public:
        headers = {"Authorization": f"Bearer {key}"}
        body = (
            await public.post("/graphql", json={"query": "{ metricNames }"}, headers=headers)
        ).json()
        [error] = body["errors"]
        rest = await public.get("/analytics/metrics/aggregated?name=cpu&last=1h", headers=headers)
    assert error["extensions"]["code"] == "BACKEND_UNAVAILABLE"
    assert error["message"] == "the metrics store is unavailable; try again later"
    assert re.fullmatch(r"[0-9a-f]{32}", error["extensions"]["correlationId"])
    assert str(dead) not in str(body)
    assert "127.0.0.1" not in str(body)
    assert rest.status_code == 503
    assert str(dead) not in rest.text
    assert "Cannot connect" not in rest.text
    # the operator's log has what the client does not
    assert any(str(dead) in record.getMessage() for record in caplog.records)
