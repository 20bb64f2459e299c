"""The Prometheus source against a real Prometheus scraping a real gateway.

One gateway process (uvicorn) is scraped by Debian's `prometheus` three
times over: as job `acme-gw` with `tenant="acme"`, as `other-gw` with
`tenant="other"`, and as `untenanted` with no tenant label. The gateways
under test run in-process with `prometheus_url` set and read it back: each
tenant must see its own job only, and nobody the untenanted one.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette

from analytics_gateway.app import create_app
from analytics_gateway.auth import create_key, parse_scopes
from analytics_gateway.backends.factory import build_config_store
from analytics_gateway.backends.prometheus_source import PrometheusSource
from analytics_gateway.config import Settings
from tests.conftest import GraphQLClient, asgi_transport, backend_calls, make_settings, started
from tests.fixtures.prometheus import PrometheusServer, ScrapeTarget, prometheus_server
from tests.servers import GatewayProcess

pytestmark = pytest.mark.integration

SAMPLES = 6  # scrapes of every job before the tests start (1 s apart)


@pytest.fixture(scope="module")
def scraped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    workdir = tmp_path_factory.mktemp("prometheus-source")
    target = GatewayProcess(workdir / "gateway", {"ANALYTICS_JSON_LOGS": "false"})
    target.start()
    address = f"127.0.0.1:{target.port}"
    jobs = [
        ScrapeTarget("acme-gw", address, {"tenant": "acme"}),
        ScrapeTarget("other-gw", address, {"tenant": "other"}),
        ScrapeTarget("untenanted", address),
    ]
    try:
        with prometheus_server(workdir / "prometheus", jobs) as server:
            server.wait_for(f"count_over_time(up[1m]) >= {SAMPLES}", count=len(jobs))
            yield server
    finally:
        target.stop()


@contextlib.asynccontextmanager
async def gateway_for(
    settings: Settings, tenants: tuple[str, ...] = ("acme", "other", "nobody")
) -> AsyncIterator[tuple[Starlette, dict[str, GraphQLClient]]]:
    """An in-process gateway and a read/write client per tenant."""
    keys = {}
    for tenant in tenants:
        _, keys[tenant] = await create_key(
            build_config_store(settings), tenant, parse_scopes("ingest,read,write")
        )
    async with started(create_app(settings, registry=CollectorRegistry())) as app:
        transport = asgi_transport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            yield app, {tenant: GraphQLClient(http, key) for tenant, key in keys.items()}


def settings_for(tmp_path: Path, prometheus_url: str = "", **overrides: Any) -> Settings:
    data = tmp_path / "data"
    # the store stays DuckDB whatever the run's backends: these tests count its calls
    return make_settings(
        data,
        metrics_url=f"duckdb:///{data / 'metrics.duckdb'}",
        prometheus_url=prometheus_url,
        **overrides,
    )


def source_of(app: Starlette) -> PrometheusSource:
    source = app.state.gateway.services.backends.prometheus
    assert isinstance(source, PrometheusSource)
    return source


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat()


def window(seconds: int, align_ms: int = 2_000) -> tuple[int, int]:
    """A past window [from, to) aligned to `align_ms`, ending 1 to 3 s ago.

    The fixture waited for SAMPLES scrapes, so it holds at least three of them.
    """
    end = (int(time.time() * 1000) - 1_000) // align_ms * align_ms
    return end - seconds * 1000, end


def data_of(body: dict[str, Any], field: str) -> Any:
    assert "errors" not in body, body
    return body["data"][field]


def error_codes(body: dict[str, Any]) -> dict[str, str]:
    return {e["path"][0]: e["extensions"]["code"] for e in body.get("errors", [])}


METRICS = """query($q: MetricQuery!) {
  metrics(query: $q) { name labels data }
}"""
PROMQL = """query($query: String!, $last: String, $step: String!) {
  promql(query: $query, last: $last, step: $step) { name labels data }
}"""


async def test_raw_series_are_the_samples_of_the_callers_job_only(
    tmp_path: Path, scraped: PrometheusServer
) -> None:
    start, end = window(20)
    q = {"name": "up", "from": iso(start), "to": iso(end), "source": "PROMETHEUS"}
    async with gateway_for(settings_for(tmp_path, scraped.url)) as (_, clients):
        acme = data_of(await clients["acme"].execute(METRICS, {"q": q}), "metrics")
        other = data_of(await clients["other"].execute(METRICS, {"q": q}), "metrics")
        nobody = data_of(await clients["nobody"].execute(METRICS, {"q": q}), "metrics")
    assert [s["labels"]["job"] for s in acme] == ["acme-gw"]
    assert [s["labels"]["job"] for s in other] == ["other-gw"]
    assert nobody == []
    series = acme[0]
    assert series["name"] == "up"
    assert set(series["labels"]) == {"job", "instance"}  # no tenant label, no __name__
    # exactly the samples Prometheus holds for that window
    direct = scraped.query(f'up{{tenant="acme"}}[{end - start}ms] @ {(end - 1) / 1000:.3f}')
    expected = [
        (round(float(t) * 1000), float(v))
        for t, v in direct[0]["values"]
        if round(float(t) * 1000) >= start
    ]
    assert list(zip(series["data"]["t"], series["data"]["v"], strict=True)) == expected
    assert len(expected) >= 3
    assert all(start <= t < end for t in series["data"]["t"])


async def test_buckets_and_groups_are_computed_by_prometheus(
    tmp_path: Path, scraped: PrometheusServer
) -> None:
    start, end = window(20)
    base = {"name": "up", "from": iso(start), "to": iso(end), "source": "PROMETHEUS"}
    async with gateway_for(settings_for(tmp_path, scraped.url)) as (_, clients):
        raw = data_of(await clients["acme"].execute(METRICS, {"q": base}), "metrics")
        counts = data_of(
            await clients["acme"].execute(
                METRICS, {"q": {**base, "step": "2s", "aggregation": "COUNT"}}
            ),
            "metrics",
        )
        grouped = data_of(
            await clients["other"].execute(
                METRICS, {"q": {**base, "step": "2s", "aggregation": "AVG", "groupBy": ["job"]}}
            ),
            "metrics",
        )
        merged = data_of(
            await clients["acme"].execute(
                METRICS, {"q": {**base, "aggregation": "SUM", "groupBy": []}}
            ),
            "metrics",
        )
        refused = await clients["acme"].execute(
            METRICS, {"q": {**base, "aggregation": "P95", "groupBy": ["job"]}}
        )
    points = len(raw[0]["data"]["t"])
    [count] = counts
    # a bucket per 2 s from the first scraped one on, reported at its start
    first = count["data"]["t"][0]
    assert first >= start
    assert count["data"]["t"] == list(range(first, end, 2_000))
    # 2.x windows are closed: a sample on a bucket edge may count in two buckets
    assert points <= sum(count["data"]["v"]) <= points + len(count["data"]["t"])
    assert [g["labels"] for g in grouped] == [{"job": "other-gw"}]
    assert set(grouped[0]["data"]["v"]) == {1.0}
    assert [m["labels"] for m in merged] == [{}]
    assert merged[0]["data"]["t"] == [start]
    assert points <= merged[0]["data"]["v"][0] <= points + 1
    assert error_codes(refused) == {"metrics": "BAD_USER_INPUT"}


async def test_promql_sees_only_the_callers_series(
    tmp_path: Path, scraped: PrometheusServer
) -> None:
    assert len(scraped.query("up")) == 3  # there is other tenants' data to leak
    variables = {"query": "count(up)", "last": "10s", "step": "1s"}
    async with gateway_for(settings_for(tmp_path, scraped.url)) as (_, clients):
        acme = clients["acme"]
        counted = data_of(await acme.execute(PROMQL, variables), "promql")
        by_job = data_of(
            await clients["other"].execute(PROMQL, {**variables, "query": "sum by (job) (up)"}),
            "promql",
        )
        everything = data_of(
            await acme.execute(PROMQL, {**variables, "query": '{__name__=~"up|scrape_.+"}'}),
            "promql",
        )
        relabelled = data_of(
            await acme.execute(
                PROMQL, {**variables, "query": 'label_replace(up, "tenant", "other", "", "")'}
            ),
            "promql",
        )
        nobody = data_of(await clients["nobody"].execute(PROMQL, variables), "promql")
        too_fine = await acme.execute(PROMQL, {**variables, "last": "1h", "step": "100ms"})
    assert error_codes(too_fine) == {"promql": "QUERY_TOO_COMPLEX"}
    assert [(s["name"], s["labels"]) for s in counted] == [("count(up)", {})]
    assert set(counted[0]["data"]["v"]) == {1.0}
    assert len(counted[0]["data"]["t"]) >= 3
    assert [s["labels"] for s in by_job] == [{"job": "other-gw"}]
    assert {s["labels"]["job"] for s in everything} == {"acme-gw"}
    assert {s["name"] for s in everything} >= {"up", "scrape_duration_seconds"}
    assert [s["labels"]["job"] for s in relabelled] == ["acme-gw"]
    assert "tenant" not in relabelled[0]["labels"]
    assert nobody == []


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ('up{tenant="other"}', "tenant"),
        ('up{tenant=~".+"}', "tenant"),
        ('up or {__name__="up",tenant!="acme"}', "tenant"),
        ('max_over_time(up{tenant="other"}[1m:1s])', "tenant"),
        ('{job="acme-gw" or tenant="other"}', "or"),
        ("up[1m]", "range vector"),  # refused by Prometheus itself (bad_data)
        ('up + on() {__name__=~"scrape_.+"}', "duplicate series"),  # (execution)
        ("rate(up)", "expected type matrix"),
    ],
)
async def test_promql_that_cannot_be_scoped_is_bad_user_input(
    tmp_path: Path, scraped: PrometheusServer, query: str, message: str
) -> None:
    async with gateway_for(settings_for(tmp_path, scraped.url), ("acme",)) as (_, clients):
        body = await clients["acme"].execute(PROMQL, {"query": query, "last": "5s", "step": "1s"})
    assert body["data"] is None or body["data"]["promql"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert message in error["message"]


async def test_names_and_label_values_are_scoped(tmp_path: Path, scraped: PrometheusServer) -> None:
    query = """{
      metricNames(source: PROMETHEUS)
      labelValues(metric: "up", label: "job", source: PROMETHEUS)
      tenants: labelValues(metric: "up", label: "tenant", source: PROMETHEUS)
    }"""
    async with gateway_for(settings_for(tmp_path, scraped.url)) as (_, clients):
        acme = (await clients["acme"].execute(query))["data"]
        nobody = (await clients["nobody"].execute(query))["data"]
    assert {"up", "scrape_duration_seconds", "gateway_http_requests_total"} <= set(
        acme["metricNames"]
    )
    assert acme["labelValues"] == ["acme-gw"]
    assert acme["tenants"] == []
    assert nobody == {"metricNames": [], "labelValues": [], "tenants": []}


MIXED = """query($from: DateTime!, $to: DateTime!) {
  s1: metrics(query: {name: "cpu", from: $from, to: $to}) { name data }
  p1: metrics(query: {name: "up", from: $from, to: $to, source: PROMETHEUS}) { name labels }
  s2: metrics(query: {name: "cpu", from: $from, to: $to, aggregation: SUM}) { name data }
  p2: metrics(query: {name: "scrape_duration_seconds", from: $from, to: $to,
                      source: PROMETHEUS}) { name labels }
  p3: metrics(query: {name: "up", from: $from, to: $to, step: "2s", aggregation: MAX,
                      source: PROMETHEUS}) { name data }
}"""


async def test_a_batch_is_one_store_call_and_concurrent_prometheus_calls(
    tmp_path: Path, scraped: PrometheusServer
) -> None:
    start, end = window(20)
    points = [{"name": "cpu", "value": v, "timestamp": start + 1000 * v} for v in (1, 2, 3)]
    async with gateway_for(settings_for(tmp_path, scraped.url), ("acme",)) as (app, clients):
        acme = clients["acme"]
        response = await acme.http.post(
            "/analytics/metrics", json=points, headers={"Authorization": f"Bearer {acme.key}"}
        )
        assert response.status_code < 300, response.text
        registry = app.state.gateway.metrics.registry
        source = source_of(app)
        store_calls = backend_calls(registry, "duckdb", "query_points")
        source_calls = backend_calls(registry, "prometheus")
        source.max_in_flight = 0
        body = await acme.execute(MIXED, {"from": iso(start), "to": iso(end)})
        assert "errors" not in body, body
        assert backend_calls(registry, "duckdb", "query_points") - store_calls == 1
        assert backend_calls(registry, "prometheus") - source_calls == 3
        assert source.max_in_flight == 3  # all three in flight at once
    data = body["data"]
    assert data["s1"] == [
        {"name": "cpu", "data": {"t": [p["timestamp"] for p in points], "v": [1, 2, 3]}}
    ]
    assert data["s2"] == [{"name": "cpu", "data": {"t": [start], "v": [6.0]}}]
    assert [(s["name"], s["labels"]["job"]) for s in data["p1"]] == [("up", "acme-gw")]
    assert [(s["name"], s["labels"]["job"]) for s in data["p2"]] == [
        ("scrape_duration_seconds", "acme-gw")
    ]
    assert data["p3"][0]["name"] == "up"
    assert set(data["p3"][0]["data"]["v"]) == {1.0}


BOTH = """query($from: DateTime!, $to: DateTime!) {
  stored: metrics(query: {name: "cpu", from: $from, to: $to}) { data }
  remote: metrics(query: {name: "up", from: $from, to: $to, source: PROMETHEUS}) { data }
  names: metricNames(source: PROMETHEUS)
  promql(query: "up", last: "1m", step: "10s") { name }
}"""


async def assert_only_prometheus_fields_fail(gql: GraphQLClient, code: str) -> dict[str, Any]:
    start, end = window(60)
    body = await gql.execute(BOTH, {"from": iso(start), "to": iso(end)})
    assert error_codes(body) == {"remote": code, "names": code, "promql": code}
    assert body["data"]["stored"] == []  # answered, though nothing is stored
    assert body["data"]["remote"] is None
    return body


async def test_prometheus_down_fails_only_its_fields(
    tmp_path: Path, prometheus: PrometheusServer
) -> None:
    # long enough that the embedded store's own read never hits it on a busy machine
    settings = settings_for(tmp_path, prometheus.url, backend_timeout_seconds=1.5)
    async with gateway_for(settings, ("acme",)) as (_, clients):
        http = clients["acme"].http
        ready = (await http.get("/readyz")).json()
        assert ready["checks"]["prometheus"] is True
        prometheus.pause()  # frozen: every call must give up after the timeout
        began = time.monotonic()
        body = await assert_only_prometheus_fields_fail(clients["acme"], "BACKEND_UNAVAILABLE")
        assert time.monotonic() - began < 5  # one timeout, not one per field
        assert "timed out" in body["errors"][0]["message"]
        prometheus.stop()  # gone: connection refused
        await assert_only_prometheus_fields_fail(clients["acme"], "BACKEND_UNAVAILABLE")
        response = await http.get("/readyz")
        assert response.status_code == 503
        assert response.json()["checks"]["prometheus"] is False


async def test_without_prometheus_the_source_is_not_configured(tmp_path: Path) -> None:
    async with gateway_for(settings_for(tmp_path), ("acme",)) as (_, clients):
        body = await assert_only_prometheus_fields_fail(clients["acme"], "BAD_USER_INPUT")
        assert all("not configured" in e["message"] for e in body["errors"])
        ready = (await clients["acme"].http.get("/readyz")).json()
    assert "prometheus" not in ready["checks"]
